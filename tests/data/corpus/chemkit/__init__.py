"""A chemistry toolkit around Open Babel and friends."""
