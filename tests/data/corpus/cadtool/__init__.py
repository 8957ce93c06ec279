"""A CAD toolkit: meshes in, printable parts out."""
