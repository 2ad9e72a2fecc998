"""The root Click group. Built-in commands load lazily from ``gfp.commands.*``; plugins add theirs through
the ``gfp_register_commands`` hook."""

from __future__ import annotations

import errno
import importlib

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
    "audit": "gfp.commands.audit:audit",
    "attack": "gfp.commands.attack:attack",
    "immunize": "gfp.commands.immunize:immunize",
    "calibrate": "gfp.commands.calibrate:calibrate",
    "openset": "gfp.commands.openset:openset",
    "visualize": "gfp.commands.visualize:visualize",
    "serve": "gfp.commands.serve:serve",
}


DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}


class MissingBuiltinError(click.ClickException):
    """A built-in command's module is not installed: a packaging bug, never hidden (exit status 1)."""


class GfpGroup(click.Group):
    """Lazy built-in commands, and :class:`GfpError` shown as one line with exit status 1."""

    def list_commands(self, ctx):
        # Every built-in is listed whether or not its module can be found: a missing one is reported by
        # get_command (one line, exit 1) instead of silently disappearing from `gfp --help`.
        return sorted(set(super().list_commands(ctx)) | set(BUILTIN_COMMANDS))

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is None and name in BUILTIN_COMMANDS:
            cmd = _load_builtin(name)
        return cmd

    def format_commands(self, ctx, formatter):
        """Click's listing, except that a missing built-in prints one line on stderr and the rest is
        still listed (running that command fails with the same line and exit status 1)."""
        rows = []
        for name in self.list_commands(ctx):
            try:
                cmd = self.get_command(ctx, name)
            except MissingBuiltinError as exc:
                click.echo(f"Error: {exc.format_message()}", err=True)
                continue
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except GfpError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            # the machine's state, not a bug: a full disk, a quota, a read-only or failing disk wherever a
            # write escaped gfcore's own writers (which say the same in their words)
            if exc.errno not in DISK_ERRNOS:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from None


def _load_builtin(name: str) -> click.Command:
    module_name, attr = BUILTIN_COMMANDS[name].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # Only the command's own module (or its package) missing means a broken install; a missing
        # third-party import inside it is a different bug and keeps its traceback.
        parents = {module_name.rsplit(".", i)[0] for i in range(module_name.count(".") + 1)}
        if exc.name not in parents:
            raise
        raise MissingBuiltinError(
            f"built-in command '{name}' is missing from this installation (no module {module_name}); "
            "reinstall gfp"
        ) from None
    return getattr(module, attr)


def iter_commands(group: click.Group, ctx: click.Context | None = None, path: tuple[str, ...] = ()):
    """Every command under ``group``, depth first, as ``(("gan", "train"), command)``; sub-groups are
    yielded before their commands. Used by tests/test_cli.py and the CI wheel check to reach every
    command, built-in or plugin, without a hard-coded list."""
    ctx = ctx or click.Context(group, info_name="gfp")
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from iter_commands(
                command, click.Context(command, parent=ctx, info_name=name), path + (name,)
            )


# show_default: every command inherits it, so each option's default is in its --help line; an option whose
# default is None says in words where its value comes from (show_default="the method's; ...")
@click.group(cls=GfpGroup, context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="gfp")
def cli():
    """Attribute images to the generator that made them, with learned GAN fingerprints."""


#: command name -> plugin that added it (built-in commands are not here)
plugin_commands: dict[str, str] = {}


def _add_plugin_commands() -> None:
    """Each plugin's ``gfp_register_commands``, one plugin at a time, so that a plugin that raises, or adds
    a command named like a built-in or another plugin's command, loses only that: one line on stderr
    (see :func:`gfcore.plugins.plugin_problems`), and the rest of gfp works."""
    from gfcore.plugins import PLUGIN_FAILURES, hint, one_line, plugin_hook_callers, report_problem

    for plugin, call in plugin_hook_callers("gfp_register_commands"):
        before = dict(cli.commands)
        try:
            call(cli=cli)
        except PLUGIN_FAILURES as exc:
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
                owner = (
                    "gfp's built-in one"
                    if name in BUILTIN_COMMANDS
                    else f"plugin {plugin_commands[name]!r}'s"
                )
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
    try:
        cli.main(args=argv, prog_name="gfp")
    except SystemExit as exit_:
        if exit_.code in (0, None):  # torchrun: the ranks leave together (a failed rank does not wait)
            from gfcore.execution import distributed

            if distributed.finish():
                distributed.exit_without_finalisation(0)
        raise


def get_cli():
    """The root group with plugin commands added (for tests: ``CliRunner().invoke(get_cli(), [...])``)."""
    global _plugin_commands_added
    if not _plugin_commands_added:
        _add_plugin_commands()
        _plugin_commands_added = True
    return cli
