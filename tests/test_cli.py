"""One command-line convention for every command (CONTRIBUTING.md, "Command-line conventions").

Commands are found by walking the Click tree of ``gfp.app.get_cli()``, never from a hard-coded list, so a
new command (built-in or plugin) is checked without touching this file: `--help` exits 0, an unknown
option exits 2, a failure of the work exits 1 with one line and no traceback, `--json` prints one JSON
document, and the shared options are the ones from ``gfp.common``.
"""

import importlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from gfcore.errors import GfpError
from gfp import common
from gfp.app import BUILTIN_COMMANDS, get_cli, iter_commands

TREE = list(iter_commands(get_cli()))
ALL = [()] + [path for path, _ in TREE]
GROUPS = [()] + [path for path, cmd in TREE if isinstance(cmd, click.Group)]
LEAVES = {path: cmd for path, cmd in TREE if not isinstance(cmd, click.Group)}


def name(path) -> str:
    return " ".join(("gfp", *path))


def invoke(*args):
    """In-process, with exceptions caught the way a user's process would end (exit status 1), so an
    uncaught exception shows up as ``result.exception`` instead of passing for a clean failure."""
    return CliRunner().invoke(get_cli(), [str(a) for a in args], catch_exceptions=True)


def option(cmd: click.Command, opt: str) -> click.Option | None:
    return next((p for p in cmd.params if isinstance(p, click.Option) and opt in p.opts), None)


def assert_one_line_error(result, code: int = 1) -> str:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# --- the tree --------------------------------------------------------------------------------------------


def test_the_tree_holds_every_builtin_command_and_the_plugin_ones():
    top = {path[0] for path in ALL if path}
    assert set(BUILTIN_COMMANDS) <= top
    assert ("data", "photos") in LEAVES  # added by the gfp_photos plugin through gfp_register_commands


@pytest.mark.parametrize("command", sorted(BUILTIN_COMMANDS))
def test_every_builtin_command_module_is_installed(command):
    """A built-in whose module is missing is a packaging bug; `gfp --help` no longer hides it."""
    module, attr = BUILTIN_COMMANDS[command].split(":")
    assert isinstance(getattr(importlib.import_module(module), attr), click.Command)


def test_a_missing_builtin_module_is_one_line_never_hidden(monkeypatch):
    monkeypatch.setitem(BUILTIN_COMMANDS, "ghost", "gfp.commands.ghost:ghost")
    listing = invoke("--help")
    assert listing.exit_code == 0 and "train" in listing.stdout  # the rest is still listed
    assert listing.stderr.strip() == (
        "Error: built-in command 'ghost' is missing from this installation (no module gfp.commands.ghost); "
        "reinstall gfp"
    )
    line = assert_one_line_error(invoke("ghost"))
    assert "'ghost' is missing from this installation" in line


# --- --help, usage errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL, ids=name)
def test_help_exits_0(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Usage: ") and not result.stderr


@pytest.mark.parametrize("path", ALL, ids=name)
def test_an_unknown_option_is_a_usage_error(path):
    result = invoke(*path, "--no-such-option")
    assert result.exit_code == 2, result.output
    assert "No such option" in result.stderr and "--no-such-option" in result.stderr and not result.stdout


@pytest.mark.parametrize("path", GROUPS, ids=name)
def test_an_unknown_command_is_a_usage_error(path):
    result = invoke(*path, "no-such-command")
    assert result.exit_code == 2, result.output
    assert "No such command 'no-such-command'" in result.stderr


def test_help_imports_no_torch():
    """`gfp --help` and every command's `--help` stay fast: loading the command tree and printing help
    imports no torch (commands import it when they run)."""
    code = textwrap.dedent(
        """
        import json, sys
        from gfp.app import get_cli, iter_commands, main
        paths = [[]] + [list(path) for path, _ in iter_commands(get_cli())]
        after = {}
        for path in paths:
            try:
                main(path + ["--help"])
            except SystemExit:
                pass
            after[" ".join(path)] = "torch" in sys.modules
        print(json.dumps(after), file=sys.stderr)
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    after = json.loads(result.stderr.strip().splitlines()[-1])
    assert len(after) == len(ALL) and not any(after.values()), after


# --- what --help says: defaults, metavars ------------------------------------------------------------------


def help_context(path) -> click.Context:
    """The context `gfp PATH --help` renders in: the root group's settings (show_default) inherited."""
    cli = get_cli()
    ctx = cli.make_context("gfp", [], resilient_parsing=True)
    for step in path:
        command = ctx.command.get_command(ctx, step)
        ctx = command.make_context(step, [], parent=ctx, resilient_parsing=True)
    return ctx


def options_of(path):
    ctx = help_context(path)
    return ctx, [p for p in ctx.command.get_params(ctx) if isinstance(p, click.Option)]


@pytest.mark.parametrize("path", ALL, ids=name)
def test_every_option_shows_its_default_or_why_it_has_none(path):
    """`[default: ...]` on every option that takes a value, or `[required]`. A default of None is said in
    words (`show_default="the method's; see ..."`), never left blank. On/off flags without a --no- form
    (--json, --resume, --help) are exempt: they are off unless given. The help text itself does not repeat
    the default (one place for it: the bracket Click renders)."""
    ctx, options = options_of(path)
    for opt in options:
        where = f"{name(path)} {opt.opts[0]}"
        assert "(default" not in (opt.help or "").lower() and "default:" not in (opt.help or "").lower(), (
            where
        )
        if opt.is_flag and not opt.secondary_opts:
            continue
        extra = opt.get_help_extra(ctx)
        assert "default" in extra or extra.get("required"), f"{where}: no [default: ...] and not required"
        if not opt.required and opt.default in (None, ()):
            assert isinstance(opt.show_default, str) and opt.show_default, f"{where}: say what None means"
        if isinstance(opt.show_default, str) and (
            "method's" in opt.show_default or "family's" in opt.show_default
        ):
            assert "gfp plugins" in opt.show_default, f"{where}: point to `gfp plugins`, where the values are"


def test_an_option_left_to_the_method_says_so_in_help():
    result = invoke("train", "--help")
    assert result.exit_code == 0
    flat = " ".join(result.stdout.split("Options:", 1)[1].split())
    for opt in ("--epochs N", "--batch-size N", "--lr RATE"):
        after = flat.split(opt, 1)[1]
        assert after.split("--", 1)[0].count("[default: (the method's; see `gfp plugins NAME`)"), opt


#: Click's automatic metavars, which say nothing about what a spec, folder or file option expects
AUTOMATIC_METAVARS = re.compile(r"\b(TEXT|PATH|DIRECTORY|FILENAME|INTEGER|FLOAT|RANGE|BOOLEAN)\b")


@pytest.mark.parametrize("path", ALL, ids=name)
def test_metavars_are_upper_case_nouns(path):
    """One metavar style (CONTRIBUTING.md): an upper-case noun for what is expected (SPEC, FOLDER, FILE, RUN,
    N, SEED, ...), or Click's [a|b|c] list for a choice; never Click's TEXT, PATH, DIRECTORY, INTEGER RANGE."""
    ctx = help_context(path)
    for param in ctx.command.get_params(ctx):
        if isinstance(param, click.Option) and param.is_flag:
            continue
        metavar = param.make_metavar(ctx)
        where = f"{name(path)} {param.opts[0] if isinstance(param, click.Option) else param.name}: {metavar}"
        assert not AUTOMATIC_METAVARS.search(metavar), where
        if isinstance(param.type, click.Choice):
            assert metavar.startswith("[") and "|" in metavar, where
        else:
            assert metavar == metavar.upper(), where


@pytest.mark.parametrize("path", ALL, ids=name)
def test_rendered_help_has_no_escaped_percent_or_automatic_metavars(path):
    """Click prints help strings as they are: `%%` reaches the user as `%%` (evaluate --help once said
    "the 10%% of each generated source")."""
    text = invoke(*path, "--help").stdout
    assert "%%" not in text
    assert not AUTOMATIC_METAVARS.search(text), AUTOMATIC_METAVARS.search(text)


def test_demo_option_defaults_are_the_demo_settings():
    """`gfp demo --help` shows the demo's sizes; they must be the ones gfp_demo.tasks.DemoSettings uses."""
    from gfp_demo.tasks import DemoSettings

    demo = LEAVES[("demo",)]
    for field in ("train_per_source", "val_per_source", "test_per_source", "epochs"):
        assert option(demo, "--" + field.replace("_", "-")).default == getattr(DemoSettings, field), field


# --- gfp plugins NAME: the parameters ----------------------------------------------------------------------


def test_plugins_name_shows_each_parameter_with_type_range_default_and_help():
    result = invoke("plugins", "jpeg", "prnu")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "jpeg (attack, plugin attacks)" in out and "prnu (baseline, plugin baselines)" in out
    row = next(line for line in out.splitlines() if " quality_min " in line)
    assert "int" in row and "in [1, 95]" in row and "10" in row
    row = next(line for line in out.splitlines() if " boundary " in line)
    assert "one of symmetric, periodization" in row and "symmetric" in row and "wavelet extension" in row
    assert out.index("jpeg (attack") < out.index("prnu (baseline")  # in the order asked for


def test_plugins_name_json_is_describe_config():
    from gfcore.config import describe_config
    from gfcore.plugins import get_registries

    result = invoke("plugins", "learned", "--json")
    assert result.exit_code == 0, result.output
    [item] = json.loads(result.stdout)["items"]
    assert {k: item[k] for k in ("name", "kind", "plugin")} == {
        "name": "learned",
        "kind": "extractor",
        "plugin": "learned",
    }
    assert item["parameters"] == describe_config(get_registries().extractors.get("learned").Config)
    epochs = next(p for p in item["parameters"] if p["name"] == "epochs")
    assert (
        epochs["type"] == "int" and epochs["range"] == "in [1, 100000]" and isinstance(epochs["default"], int)
    )


def test_plugins_params_covers_every_registered_name():
    from gfcore.plugins import get_registries

    doc = json.loads(invoke("plugins", "--params", "--json").stdout)
    names = {(item["kind"], item["name"]) for item in doc["items"]}
    registries = get_registries().by_kind()
    assert len(names) == sum(len(reg) for reg in registries.values())
    assert {n for _, n in names} == {n for reg in registries.values() for n in reg.names()}
    assert invoke("plugins", "--params").stdout.count("(GAN family, plugin") == len(registries["gan_sources"])


def test_plugins_unknown_name_is_one_line_listing_the_valid_ones():
    line = assert_one_line_error(invoke("plugins", "learned", "nope"))
    assert "'nope'" in line and "valid names:" in line and "learned" in line and "jpeg" in line


def test_plugins_listing_is_unchanged_by_the_parameter_views():
    doc = json.loads(invoke("plugins", "--json").stdout)
    assert set(doc) == {
        "plugins",
        "extractors",
        "baselines",
        "gan_sources",
        "attacks",
        "real_sources",
        "commands",
        "shipped_runs",
        "problems",
    }
    assert set(doc["baselines"][0]) == {"name", "plugin", "description"}


# --- shared options, validated by Click types ----------------------------------------------------------


def reference_options() -> dict[str, click.Option]:
    """The shared options as ``gfp.common`` defines them."""

    @common.json_option
    @common.device_option
    @common.seed_option
    @common.progress_option
    @common.out_option("out")
    @common.count_option("n")
    def reference(**kwargs):
        pass

    return {p.opts[0]: p for p in click.command(reference).params}


@pytest.mark.parametrize("path", sorted(LEAVES), ids=name)
def test_every_command_prints_json_on_request(path):
    """Every command produces a result, so every command takes --json (one JSON document on stdout)."""
    json_flag = option(LEAVES[path], "--json")
    assert json_flag is not None and json_flag.is_flag and json_flag.name == "as_json", name(path)


@pytest.mark.parametrize("path", sorted(LEAVES), ids=name)
def test_shared_options_are_the_shared_ones(path):
    cmd = LEAVES[path]
    for opt, ref in reference_options().items():
        mine = option(cmd, opt)
        if mine is None:
            continue
        assert mine.name == ref.name and mine.is_flag == ref.is_flag, f"{name(path)} {opt}"
        assert mine.secondary_opts == ref.secondary_opts, f"{name(path)} {opt}"
        assert type(mine.type) is type(ref.type), f"{name(path)} {opt}: {mine.type!r}, not {ref.type!r}"
        if opt == "--out":
            assert mine.type.file_okay is False, f"{name(path)}: --out is a folder"
        elif opt != "--json":
            assert mine.type.to_info_dict() == ref.type.to_info_dict(), f"{name(path)} {opt}"
            if opt != "-n":
                assert mine.default == ref.default, f"{name(path)} {opt}"


BAD_VALUES = {"--seed": "-5", "--device": "tpu", "-n": "0"}


@pytest.mark.parametrize(
    "path, opt",
    [(path, opt) for path, cmd in sorted(LEAVES.items()) for opt in BAD_VALUES if option(cmd, opt)],
    ids=lambda v: name(v) if isinstance(v, tuple) else v,
)
def test_bad_option_values_are_usage_errors_before_any_work(path, opt, tmp_path):
    result = invoke(*path, opt, BAD_VALUES[opt])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{opt}'" in result.stderr and BAD_VALUES[opt] in result.stderr
    assert not list(tmp_path.iterdir())


FLOAT_OPTIONS = [
    (path, p.opts[0])
    for path, cmd in sorted(LEAVES.items())
    for p in cmd.params
    if isinstance(p, click.Option) and isinstance(p.type, click.types.FloatParamType)
]


@pytest.mark.parametrize("path, opt", FLOAT_OPTIONS, ids=lambda v: name(v) if isinstance(v, tuple) else v)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_float_options_refuse_nan_and_infinity(path, opt, value):
    """`--lr inf` once trained to NaN weights with exit 0: a float option takes finite numbers only."""
    result = invoke(*path, opt, value)
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '{opt}'" in result.stderr and "not a finite number" in result.stderr


def test_there_is_a_float_option_to_check():
    assert (("train",), "--lr") in FLOAT_OPTIONS


@pytest.mark.parametrize("path", sorted(LEAVES), ids=name)
def test_every_number_option_has_an_upper_bound(path):
    """`gfp bench --repeats 10^20` once started a study that would never end: every integer or real option
    has a maximum, so an absurd value is a usage error before any work (and --help shows the range)."""
    unbounded = [
        p.opts[0]
        for p in LEAVES[path].params
        if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType))
        and getattr(p.type, "max", None) is None
    ]
    assert not unbounded, f"{name(path)}: {unbounded} take numbers without an upper bound"


def test_an_absurd_count_is_a_usage_error_naming_option_bound_and_value(tmp_path):
    result = invoke("bench", tmp_path, "--out", tmp_path / "b", "--repeats", str(10**20))
    assert result.exit_code == 2, result.output
    assert f"Invalid value for '--repeats': {10**20} is not in the range 1<=x<=1000" in result.stderr
    assert not (tmp_path / "b").exists()


# --- a failure of the work: exit 1, one line, no traceback ---------------------------------------------


def broken_plugin(monkeypatch):
    def failing_registries(*args, **kwargs):
        raise GfpError("plugin 'broken' raised in gfp_register_baselines: boom")

    monkeypatch.setattr("gfcore.plugins.get_registries", failing_registries)


def unreadable_licences(monkeypatch):
    def failing_licences():
        raise GfpError("sources.json: unreadable")

    monkeypatch.setattr("gfp_photos.patches.licences", failing_licences)


# command -> (arguments that make the work fail, a phrase of the one-line error, what to break first, for
# the commands that no user input makes fail); "{tmp}" in an argument is the test's temporary folder
FAILURES = {
    ("prepare",): (["{tmp}/missing", "--out", "{tmp}/ds"], "not a folder", None),
    ("train",): (["{tmp}/missing", "--out", "{tmp}/run"], "not a prepared dataset", None),
    ("evaluate",): (["{tmp}/missing", "{tmp}/missing"], "missing", None),
    ("attribute",): (["{tmp}/missing", "{tmp}/a.png"], "not a gfp run", None),
    ("serve",): (["{tmp}/missing", "--port", "0"], "not a gfp run", None),
    ("fingerprints",): (["{tmp}/missing", "--out", "{tmp}/fp"], "not a gfp run", None),
    ("visualize",): (["{tmp}/missing", "--out", "{tmp}/vis"], "not a gfp run", None),
    ("bench",): (["{tmp}/missing", "--out", "{tmp}/bench"], "not a prepared dataset", None),
    ("audit",): (["{tmp}/old-demo"], "found 1 source folder", None),
    ("demo",): (["--out", "{tmp}/old-demo"], "already holds a demo", None),
    ("gan", "train"): (["stylegan9", "--real", "{tmp}", "--out", "{tmp}/g"], "stylegan9", None),
    ("gan", "sample"): (["{tmp}/missing", "-n", "2", "--out", "{tmp}/s"], "not a shipped generator", None),
    ("data", "photos"): (
        ["--out", "{tmp}/p", "-n", "3", "--split", "test", "--resolution", "200"],
        "larger than",
        None,
    ),
    ("plugins",): ([], "plugin 'broken'", broken_plugin),
    ("gan", "list"): ([], "plugin 'broken'", broken_plugin),
    ("data", "licences"): ([], "sources.json", unreadable_licences),
    ("attack",): (["jpeg:quality=500", "{tmp}", "--out", "{tmp}/../atk"], "quality=500", None),
    ("persistence",): (["{tmp}/missing", "--out", "{tmp}/study"], "not a prepared dataset", None),
    ("immunize",): (
        ["{tmp}/missing", "{tmp}/missing", "--attack", "blur", "--out", "{tmp}/r2"],
        "missing",
        None,
    ),
    ("calibrate",): (["{tmp}/missing", "{tmp}/missing"], "not a prepared dataset", None),
    ("openset",): (["{tmp}/missing", "--out", "{tmp}/os"], "not a prepared dataset", None),
}


@pytest.mark.parametrize("path", sorted(LEAVES), ids=name)
def test_a_failure_is_one_line_and_exit_1(path, tmp_path, monkeypatch):
    assert path in FAILURES, f"add a representative failure of `{name(path)}` to FAILURES"
    args, phrase, breaks = FAILURES[path]
    (tmp_path / "old-demo" / "datasets").mkdir(parents=True)
    if breaks:
        breaks(monkeypatch)
    line = assert_one_line_error(invoke(*path, *(a.format(tmp=tmp_path) for a in args)))
    assert phrase in line


def test_a_failure_in_a_real_process_is_one_line_on_stderr(tmp_path):
    """The same contract from the console entry point, where a traceback would reach the terminal."""
    args = ["gan", "sample", str(tmp_path / "missing"), "-n", "1", "--out", str(tmp_path / "s")]
    result = subprocess.run([sys.executable, "-m", "gfp", *args], capture_output=True, text=True)
    assert result.returncode == 1 and not result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("Error: ")
    usage = subprocess.run(
        [sys.executable, "-m", "gfp", "gan", "sample", "--seed", "-1"], capture_output=True
    )
    assert usage.returncode == 2 and b"Traceback" not in usage.stderr


# --- --json output ---------------------------------------------------------------------------------------


def first_shipped_generator() -> str:
    return json.loads(invoke("gan", "list", "--json").stdout)["shipped"][0]["name"]


JSON_CASES = {
    "plugins": lambda tmp: ["plugins", "--json"],
    "gan list": lambda tmp: ["gan", "list", "--json"],
    "data licences": lambda tmp: ["data", "licences", "--json"],
    "gan sample": lambda tmp: ["gan", "sample", first_shipped_generator(), "-n", 4, "--out", tmp, "--json"],
    "data photos": lambda tmp: ["data", "photos", "-n", 4, "--resolution", 16, "--out", tmp, "--json"],
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_json_output_is_one_document(case, tmp_path):
    result = invoke(*JSON_CASES[case](tmp_path))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)  # the whole of stdout, nothing before or after
    assert isinstance(doc, dict) and doc
    if "count" in doc:
        assert doc["count"] == 4 and len(list(tmp_path.glob("*.png"))) == 4


def test_gan_sample_json_lists_the_files(tmp_path):
    doc = json.loads(invoke(*JSON_CASES["gan sample"](tmp_path)).stdout)
    assert doc["files"] == [f"{i:06d}.png" for i in range(4)] and doc["out"] == str(tmp_path)


def test_emit_json_is_strict(capsys):
    doc = {"accuracy": float("nan"), "ratio": float("inf"), "name": "[red]x", "n": [1, 2], "out": Path("a/b")}
    common.emit_json(doc)
    assert json.loads(capsys.readouterr().out) == {
        "accuracy": None,
        "ratio": None,
        "name": "[red]x",
        "n": [1, 2],
        "out": "a/b",
    }
    with pytest.raises(TypeError, match="object is not JSON serializable"):
        common.emit_json({"array": object()})
