"""A phylogenetics toolkit: align, build trees, bootstrap, draw."""
