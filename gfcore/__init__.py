"""gfp core: plugin hooks, registries, data, the shared training loop, metrics and run artifacts.

No method-specific code lives here; methods, generators, attacks and baselines are plugins.
"""

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hookimpl def gfp_register_extractors(register): ...``
hookimpl = pluggy.HookimplMarker("gfp")

__all__ = ["__version__", "hookimpl"]
