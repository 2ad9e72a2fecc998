"""gfp: attribute images to the generator that made them.

The command line is ``gfp`` (:mod:`gfp.app`). From Python::

    import gfp
    model = gfp.load("path/to/run")            # a run folder from `gfp train`
    result = model.predict("image.jpg")         # or a PIL image, an array, a tensor, a list of them
    result.source, result.probabilities, result.unknown, result.view["tiles"]
    images = gfp.sample("progan_seed0", n=8)  # images of a shipped generator (gfp.generators())
    app = gfp.create_app(model)                 # the ASGI app of `gfp serve`, to mount in a service

Names load on first use, so ``gfp --help`` stays fast.
"""

from __future__ import annotations

import importlib

#: public name -> the module that defines it
_API = {
    "load": "gfcore.inference.model",
    "Model": "gfcore.inference.model",
    "Prediction": "gfcore.inference.model",
    "generators": "gfcore.runs.shipped_gans",
    "sample": "gfcore.runs.shipped_gans",
    "shipped_runs": "gfcore.runs.attributor",
    "create_app": "gfcore.service.app",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'gfp' has no attribute {name!r}")
    value = getattr(importlib.import_module(_API[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
