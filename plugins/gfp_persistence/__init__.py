"""Where fingerprints live (Yu et al. 2019, paper-notes §2): the attribution network restricted to one
frequency band or to small patches, registered as the ``predown``, ``residual`` and ``postpool`` extractors.
``persistence_study`` (:mod:`.study`) trains them over every resolution a dataset allows (``gfp
persistence``)."""

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .method import PostPoolAttributor, PreDownAttributor, ResidualAttributor

    register(PreDownAttributor)
    register(ResidualAttributor)
    register(PostPoolAttributor)
