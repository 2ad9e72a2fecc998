"""The root Click group. Built-in commands load lazily from ``gfp.commands.*``; plugins add theirs through
the ``gfp_register_commands`` hook."""

from __future__ import annotations

import importlib
import importlib.util

import click

from gfcore import __version__
from gfcore.errors import GfpError

# command name -> "module:attribute", imported only when the command runs (or its --help is asked for)
BUILTIN_COMMANDS = {
    "plugins": "gfp.commands.plugins:plugins",
    "prepare": "gfp.commands.prepare:prepare",
    "train": "gfp.commands.train:train",
    "evaluate": "gfp.commands.evaluate:evaluate",
    "attribute": "gfp.commands.attribute:attribute",
    "fingerprints": "gfp.commands.fingerprints:fingerprints",
    "gan": "gfp.commands.gan:gan",
    "bench": "gfp.commands.bench:bench",
}


class GfpGroup(click.Group):
    """Lazy built-in commands, and :class:`GfpError` shown as one line with exit status 1."""

    def list_commands(self, ctx):
        names = set(super().list_commands(ctx))
        names.update(n for n, target in BUILTIN_COMMANDS.items() if _module_exists(target))
        return sorted(names)

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in BUILTIN_COMMANDS and _module_exists(BUILTIN_COMMANDS[name]):
            module, attr = BUILTIN_COMMANDS[name].split(":")
            cmd = getattr(importlib.import_module(module), attr)
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GfpError as exc:
            raise click.ClickException(str(exc)) from None


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.split(":")[0]) is not None


@click.group(cls=GfpGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gfp")
def cli():
    """Attribute images to the generator that made them, with learned GAN fingerprints."""


def _add_plugin_commands() -> None:
    from gfcore.plugins import get_plugin_manager

    get_plugin_manager().hook.gfp_register_commands(cli=cli)


_plugin_commands_added = False


def main(argv=None):
    global _plugin_commands_added
    if not _plugin_commands_added:
        try:
            _add_plugin_commands()
        except GfpError as exc:
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(1) from None
        _plugin_commands_added = True
    cli.main(args=argv, prog_name="gfp")


def get_cli():
    """The root group with plugin commands added (for tests: ``CliRunner().invoke(get_cli(), [...])``)."""
    global _plugin_commands_added
    if not _plugin_commands_added:
        _add_plugin_commands()
        _plugin_commands_added = True
    return cli
