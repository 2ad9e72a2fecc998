"""visNet (Yu et al. 2019, the paper's visNet): an auto-encoder whose residual is the image fingerprint and
free image-sized model fingerprints, registered as the ``visnet`` extractor."""

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .method import VisNetAttributor

    register(VisNetAttributor)
