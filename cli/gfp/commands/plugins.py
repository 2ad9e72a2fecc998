import click

from gfp.common import emit_json, json_option, stdout_console


@click.command()
@json_option
def plugins(as_json):
    """List installed plugins and every registered name, by kind."""
    from gfcore.plugins import get_registries, plugin_names

    registries = get_registries()
    data = {
        "plugins": [{"name": n, "origin": o} for n, o in plugin_names()],
        **{kind: [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in reg.entries()]
           for kind, reg in registries.by_kind().items()},
    }
    if as_json:
        emit_json(data)
        return
    from rich.table import Table

    console = stdout_console()
    table = Table(title="plugins")
    table.add_column("plugin")
    table.add_column("origin")
    for p in data["plugins"]:
        table.add_row(p["name"], p["origin"])
    console.print(table)
    for kind in registries.by_kind():
        table = Table(title=kind.replace("_", " "))
        for col in ("name", "plugin", "description"):
            table.add_column(col)
        for e in data[kind]:
            table.add_row(e["name"], e["plugin"], e["description"])
        if not data[kind]:
            table.add_row("(none)", "", "")
        console.print(table)
