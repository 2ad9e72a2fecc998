"""Bundled real photographs (public domain / CC0 / CC-BY, see ``images/NOTICE.md``) and the
``gfp data photos`` / ``gfp data licences`` commands.

The real patches themselves come from :func:`gfp_photos.patches.sample_patches`. Nothing heavy is
imported here, so that ``gfp --help`` stays fast.
"""

from gfcore import hookimpl


@hookimpl
def gfp_register_commands(cli):
    from .commands import add_data_commands

    add_data_commands(cli)
