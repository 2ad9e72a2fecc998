"""Built-in gfp plugin (being written)."""
