"""Baselines the paper compares against (kNN, Eigenface, PRNU) and later ones (DCT spectra, a CNN), each an
Attributor so that ``gfp train / evaluate / attribute`` work on them unchanged."""

from gfcore import hookimpl


@hookimpl
def gfp_register_baselines(register):
    from .cnn import CnnAttributor
    from .dct import DctAttributor
    from .eigenface import EigenfaceAttributor
    from .knn import KnnAttributor
    from .prnu import PrnuAttributor

    for cls in (KnnAttributor, EigenfaceAttributor, PrnuAttributor, DctAttributor, CnnAttributor):
        register(cls)
