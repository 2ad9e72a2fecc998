import click

from gfp.common import emit_json, json_option, stdout_console


@click.command()
@json_option
def plugins(as_json):
    """List installed plugins, every registered name by kind, plugin commands, and skipped plugins."""
    from gfcore.plugins import get_registries, plugin_names, plugin_problems
    from gfp.app import plugin_commands

    registries = get_registries()
    data = {
        "plugins": [{"name": n, "origin": o} for n, o in plugin_names()],
        **{
            kind: [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in reg.entries()]
            for kind, reg in registries.by_kind().items()
        },
        "commands": [{"name": n, "plugin": p} for n, p in sorted(plugin_commands.items())],
        "problems": plugin_problems(),  # plugins (or their commands) that were skipped, one line each
    }
    if as_json:
        emit_json(data)
        return
    from rich.markup import escape
    from rich.table import Table

    console = stdout_console()
    table = Table(title="plugins")
    table.add_column("plugin")
    table.add_column("origin")
    for p in data["plugins"]:
        table.add_row(escape(p["name"]), escape(p["origin"]))
    console.print(table)
    for kind in [*registries.by_kind(), "commands"]:
        table = Table(title=kind.replace("_", " "))
        for col in ("name", "plugin", "description") if kind != "commands" else ("name", "plugin"):
            table.add_column(col)
        for e in data[kind]:
            table.add_row(*(escape(e[col]) for col in ("name", "plugin", "description") if col in e))
        if not data[kind]:
            table.add_row("(none)", *[""] * (len(table.columns) - 1))
        console.print(table)
    for line in data["problems"]:
        console.print(f"skipped: {escape(line)}", highlight=False)
