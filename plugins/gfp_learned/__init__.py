"""The paper's attribution network (Yu et al. 2019), registered as the ``learned`` extractor."""

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .method import LearnedAttributor

    register(LearnedAttributor)
