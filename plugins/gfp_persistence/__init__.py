"""Where fingerprints live (Yu et al. 2019): the attribution network restricted to one frequency band or to
small patches, registered as the ``predown``, ``residual`` and ``postpool`` extractors, and the ``gfp
persistence`` command that trains them over every resolution a dataset allows."""

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .method import PostPoolAttributor, PreDownAttributor, ResidualAttributor

    register(PreDownAttributor)
    register(ResidualAttributor)
    register(PostPoolAttributor)


@hookimpl
def gfp_register_commands(cli):
    from .commands import persistence

    cli.add_command(persistence)
