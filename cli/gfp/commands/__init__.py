"""Built-in commands, one module each, loaded lazily by ``gfp.app``."""
