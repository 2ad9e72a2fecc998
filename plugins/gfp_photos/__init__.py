"""Bundled real photographs (public domain / CC0 / CC-BY, see ``images/NOTICE.md``) and the
``gfp data photos`` / ``gfp data licences`` commands.

The photographs are registered as the real source ``photos`` (:class:`.source.BundledPhotos`), which
samples patches from disjoint regions per split. Nothing heavy is imported here, so that ``gfp --help``
stays fast.
"""

from gfcore import hookimpl


@hookimpl
def gfp_register_commands(cli):
    from .commands import add_data_commands

    add_data_commands(cli)


@hookimpl
def gfp_register_real_sources(register):
    from .source import BundledPhotos

    register(BundledPhotos)
