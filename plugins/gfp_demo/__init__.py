"""``gfp demo``: the paper's main experiments in miniature (existence, uniqueness, superiority) on the
bundled photographs (``gfp_photos``) and the shipped generators (``gfp_gans``).

An experiment, not part of the core: it registers its command through ``gfp_register_commands`` like any
third-party plugin, and runs on ``gfcore.studies.bench``. Nothing heavy is imported here, so that ``gfp --help``
stays fast.
"""

from gfcore import hookimpl


@hookimpl
def gfp_register_commands(cli):
    from .commands import demo

    cli.add_command(demo)
