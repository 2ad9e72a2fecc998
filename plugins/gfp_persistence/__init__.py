"""Where fingerprints live (Yu et al. 2019): the attribution network restricted to one frequency band or
pooled over the image, registered as the ``predown``, ``residual``, ``postpool``, ``featpool`` and
``tilepool`` extractors, and the ``gfp persistence`` command that trains them over every resolution a
dataset allows."""

from gfcore import hookimpl


@hookimpl
def gfp_register_extractors(register):
    from .method import (
        FeaturePoolAttributor,
        PostPoolAttributor,
        PreDownAttributor,
        ResidualAttributor,
        TilePoolAttributor,
    )

    register(PreDownAttributor)
    register(ResidualAttributor)
    register(PostPoolAttributor)
    register(FeaturePoolAttributor)
    register(TilePoolAttributor)


@hookimpl
def gfp_register_commands(cli):
    from .commands import persistence

    cli.add_command(persistence)
