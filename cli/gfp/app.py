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
    "demo": "gfp.commands.demo:demo",
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


#: command name -> plugin that added it (built-in commands are not here)
plugin_commands: dict[str, str] = {}


def _add_plugin_commands() -> None:
    """Each plugin's ``gfp_register_commands``, one plugin at a time, so that a plugin that raises, or adds
    a command named like a built-in or another plugin's command, loses only that: one line on stderr
    (see :func:`gfcore.plugins.plugin_problems`), and the rest of gfp works."""
    from gfcore.plugins import hint, one_line, plugin_hook_callers, report_problem

    for plugin, call in plugin_hook_callers("gfp_register_commands"):
        before = dict(cli.commands)
        try:
            call(cli=cli)
        except Exception as exc:
            cli.commands.clear()
            cli.commands.update(before)
            report_problem(
                f"plugin {plugin!r} failed in gfp_register_commands and adds no commands: "
                f"{one_line(exc)}{hint(plugin)}"
            )
            continue
        added = dict(cli.commands)
        cli.commands.clear()
        cli.commands.update(before)  # a plugin can neither replace nor remove a command
        for name, cmd in added.items():
            if before.get(name) is cmd:
                continue
            if name in BUILTIN_COMMANDS or name in before:
                owner = "gfp's built-in one" if name in BUILTIN_COMMANDS else f"plugin {plugin_commands[name]!r}'s"
                report_problem(
                    f"plugin {plugin!r} adds a command {name!r}, but that name is {owner}; "
                    f"the plugin's command is refused{hint(plugin)}"
                )
                continue
            cli.commands[name] = cmd
            plugin_commands[name] = plugin


_plugin_commands_added = False


def main(argv=None):
    global _plugin_commands_added
    if not _plugin_commands_added:
        from gfcore.plugins import watch_problems

        _add_plugin_commands()
        _plugin_commands_added = True
        # Plugins skipped so far, and those the registries skip later (built when a command needs them).
        watch_problems(lambda line: click.echo(f"Warning: {line}", err=True))
    cli.main(args=argv, prog_name="gfp")


def get_cli():
    """The root group with plugin commands added (for tests: ``CliRunner().invoke(get_cli(), [...])``)."""
    global _plugin_commands_added
    if not _plugin_commands_added:
        _add_plugin_commands()
        _plugin_commands_added = True
    return cli
