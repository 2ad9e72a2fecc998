"""Network building blocks that plugins import instead of each other."""
