"""The ``gfp`` command line. Commands import torch lazily so ``gfp --help`` stays fast."""
