import click

from gfp.common import emit_json, json_option, stdout_console

#: registry kind -> what one of its items is called
KIND_NAMES = {
    "extractors": "extractor",
    "baselines": "baseline",
    "gan_sources": "GAN family",
    "attacks": "attack",
    "real_sources": "real source",
}


@click.command()
@click.argument("names", metavar="[NAME]...", nargs=-1)
@click.option(
    "--params",
    "all_params",
    is_flag=True,
    help="Show the parameters of every registered method, baseline, attack and GAN family.",
)
@json_option
def plugins(names, all_params, as_json):
    """List installed plugins, every registered name by kind, plugin commands, and skipped plugins.

    With NAME (a method, baseline, attack or GAN family; several allowed), or with --params for all of
    them: each one's parameters, their types, ranges, defaults and what they do. Set them as
    NAME:key=value,... (`gfp train --method learned:width=0.25,epochs=3`)."""
    from gfcore.plugins import get_registries

    registries = get_registries()
    if names or all_params:
        show_parameters(registries, names, as_json)
        return
    from gfcore.plugins import plugin_names, plugin_problems
    from gfp.app import plugin_commands

    data = {
        "plugins": [{"name": n, "origin": o} for n, o in plugin_names()],
        **{
            kind: [{"name": e.name, "plugin": e.plugin, "description": e.description} for e in reg.entries()]
            for kind, reg in registries.by_kind().items()
        },
        "commands": [{"name": n, "plugin": p} for n, p in sorted(plugin_commands.items())],
        "shipped_runs": shipped_run_rows(),
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
    table = Table(title="shipped runs (gfp attribute shipped:NAME ...)")
    for col in ("name", "method", "classes", "test accuracy"):
        table.add_column(col)
    for r in data["shipped_runs"]:
        accuracy = "-" if r["test_accuracy"] is None else f"{100 * r['test_accuracy']:.2f}%"
        table.add_row(escape(r["name"]), escape(r["method"]), escape(", ".join(r["classes"])), accuracy)
    if not data["shipped_runs"]:
        table.add_row("(none)", "", "", "")
    console.print(table)
    for line in data["problems"]:
        console.print(f"skipped: {escape(line)}", highlight=False)


def shipped_run_rows() -> list[dict]:
    """What ``gfp plugins`` lists of each shipped run: its name, method, classes and test accuracy."""
    from gfcore.errors import GfpError
    from gfcore.runs.attributor import SHIPPED_PREFIX, read_run_json, shipped_runs

    rows = []
    for name, (method, folder) in sorted(shipped_runs().items()):
        try:
            info = read_run_json(folder)
        except GfpError:  # a damaged shipped run is not listed; loading it says what is wrong
            continue
        shipped = info.get("shipped") if isinstance(info.get("shipped"), dict) else {}
        rows.append(
            {
                "name": SHIPPED_PREFIX + name,
                "method": method,
                "classes": list(info["classes"]),
                "test_accuracy": shipped.get("test_accuracy"),
                "reproduce": shipped.get("reproduce"),
            }
        )
    return rows


def show_parameters(registries, names, as_json) -> None:
    """The parameters of ``names`` (every registered item when empty), as tables or one JSON document
    ``{"items": [{"name", "kind", "plugin", "description", "parameters": [...]}, ...]}``; the fields of each
    parameter are :func:`gfcore.config.describe_config`'s."""
    from gfcore.config import describe_config
    from gfcore.errors import GfpError

    entries = [(kind, e) for kind, reg in registries.by_kind().items() for e in reg.entries()]
    if names:
        unknown = [n for n in names if not any(e.name == n for _, e in entries)]
        if unknown:
            valid = ", ".join(sorted({e.name for _, e in entries})) or "(none registered)"
            raise GfpError(
                f"no method, baseline, attack or GAN family named {', '.join(map(repr, unknown))}; "
                f"valid names: {valid}"
            )
        entries = [(kind, e) for n in dict.fromkeys(names) for kind, e in entries if e.name == n]
    items = [
        {
            "name": e.name,
            "kind": KIND_NAMES.get(kind, kind),
            "plugin": e.plugin,
            "description": e.description,
            "parameters": describe_config(e.item.Config),
        }
        for kind, e in entries
    ]
    if as_json:
        emit_json({"items": items})
        return
    from rich.table import Table

    console = stdout_console()  # markup off: names and comments are printed as they are
    for item in items:
        table = Table(
            title=f"{item['name']} ({item['kind']}, plugin {item['plugin']})",
            caption=item["description"] or None,
        )
        for col in ("parameter", "type", "range", "default", "help"):
            table.add_column(col, overflow="fold")
        for p in item["parameters"]:
            limits = p["range"] or (f"one of {', '.join(p['choices'])}" if p["choices"] else "")
            table.add_row(p["name"], p["type"], limits, spec_text(p["default"]), p["help"] or "")
        if not item["parameters"]:
            table.add_row("(none)", "", "", "", "")
        console.print(table)
    console.print(
        "Set parameters as NAME:key=value,... (a list as 1;3;5, an optional value as none).", highlight=False
    )


def spec_text(value) -> str:
    """A default as it is written in a NAME:key=value spec: none, true/false, 1;3;5."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple)):
        return ";".join(spec_text(v) for v in value)
    return str(value)
