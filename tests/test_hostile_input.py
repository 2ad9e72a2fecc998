"""Property-based: random attack and method specs, and random edits of run.json and manifest.json, fed to
the commands. Whatever the input, a command either works or fails cleanly -- exit 1 with one `Error:` line
(2 for Click's usage errors), never a traceback, never a hang (each example runs under an alarm) -- and
nothing of the user's is lost: the images, run and dataset it reads are unchanged.

Examples are few and tiny (a 2-source 16x16 dataset, a 1-epoch network), and derandomized so that a
failure reproduces; the whole module takes well under a minute. To hunt for new failures, set
GFP_HYPOTHESIS_EXAMPLES=500 (random, not derandomized) and add --hypothesis-show-statistics."""

import json
import os
import shutil
import signal
import string
from contextlib import contextmanager

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.runs.training import train_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")

HUNT = os.environ.get("GFP_HYPOTHESIS_EXAMPLES")
SETTINGS = settings(
    max_examples=int(HUNT or 25),
    deadline=20_000,  # ms per example, far above the ~0.1 s they take: a hang is the alarm's to catch
    derandomize=not HUNT,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPEC = "learned:width=0.125,batch_size=8"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    write_fingerprint_folders(root / "src", num_sources=2, per_source=8, size=16, seed=6)
    prepare_dataset(root / "src", root / "ds", resolution=16)
    train_run(load_dataset(root / "ds"), root / "run", SPEC, overrides={"epochs": 1})
    (root / "imgs").mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (40 * i, 90, 200)).save(root / "imgs" / f"{i}.png")
    return root


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def alarm(seconds=60):
    def expired(signum, frame):
        raise TimeoutError(f"a command still ran after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_clean(*args):
    """Invoke the CLI in-process and check the contract; returns the click Result."""
    from gfp.app import get_cli

    with alarm():
        result = CliRunner().invoke(get_cli(), [str(a) for a in args])
    shown = f"gfp {' '.join(map(str, args))}\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{shown}\nraised {type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output, shown
    assert result.exit_code in (0, 1, 2), shown
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if result.exit_code == 1:
        errors = [line for line in lines if not line.lower().startswith("warning: ")]
        assert len(errors) == 1 and errors[0].startswith("Error: "), shown
    elif result.exit_code == 2:
        assert lines and lines[-1].startswith("Error: "), shown
    event(f"exit {result.exit_code}")  # `pytest --hypothesis-show-statistics`: how often each outcome
    return result


# ------------------------------------------------------------------ strategies

ATTACKS = ["noise", "blur", "crop", "jpeg", "relight", "combo"]
ATTACK_KEYS = {
    "noise": ["std", "std_min", "std_max"],
    "blur": ["kernel", "kernels", "sigma", "sigma_min", "sigma_max"],
    "crop": ["fraction", "fraction_min", "fraction_max"],
    "jpeg": ["quality", "quality_min", "quality_max"],
    "relight": ["angle", "angle_max", "gain_min", "gain_max", "colour", "relief", "curvature"],
    "combo": ["p"],
}
METHOD_KEYS = [
    "width",
    "lr",
    "batch_size",
    "beta1",
    "eps",
    "flip",
    "patience",
    "lr_schedule",
    "warmup_epochs",
]

numbers = st.one_of(
    st.integers(min_value=0, max_value=1100),  # mostly in range: the attack then runs
    st.floats(min_value=0, max_value=200),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 3, 1001, 1003, 20000001, 1e30, 1e-30, 0.5, 16, 17]),
).map(str)
words = st.text(alphabet=string.ascii_letters + string.digits + ";/.-_ ", max_size=12)
values = st.one_of(numbers, words, st.sampled_from(["none", "true", "1;3;5", "3;20000001", "nan", "inf"]))


def spec_of(name, keys):
    known = st.sampled_from(keys)
    # mostly known keys with numbers: specs the command accepts, or refuses only for their values
    pairs = st.lists(
        st.tuples(st.one_of(known, known, known, words), st.one_of(numbers, numbers, values)), max_size=3
    )
    return pairs.map(lambda kv: name + ("" if not kv else ":" + ",".join(f"{k}={v}" for k, v in kv)))


attack_specs = st.one_of(
    st.sampled_from(ATTACKS).flatmap(lambda name: spec_of(name, ATTACK_KEYS[name])),
    st.text(alphabet=string.printable, max_size=20),  # not a spec at all
)
method_specs = st.one_of(spec_of("learned", METHOD_KEYS), st.text(alphabet=string.printable, max_size=20))

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False),
        st.text(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


DELETE = "<delete>"
extreme = st.sampled_from([0, -1, 1e9, 10**9, 1e30, -1e30, 10**30, 2**63, 0.5, "", "x", [], {}, True, None])
# each edit: (where, value); ``where`` picks one of the document's keys (at any depth up to 3) by index, or
# names a path; ``value`` replaces it (DELETE removes it)
edit_lists = st.lists(
    st.tuples(st.integers(0, 10**6), st.one_of(st.just(DELETE), extreme, json_values)), min_size=1, max_size=3
)


def key_paths(doc, prefix=(), depth=3):
    if not isinstance(doc, dict) or depth == 0:
        return []
    return [p for k, v in doc.items() for p in [(*prefix, k), *key_paths(v, (*prefix, k), depth - 1)]]


def edited(document: dict, edits) -> dict:
    doc = json.loads(json.dumps(document))
    for where, value in edits:
        paths = key_paths(doc) or [("format",)]
        path = where if isinstance(where, tuple) else paths[where % len(paths)]
        parent = doc
        for key in path[:-1]:
            parent = parent.setdefault(key, {}) if isinstance(parent, dict) else {}
        if isinstance(parent, dict):
            if value == DELETE:
                parent.pop(path[-1], None)
            else:
                parent[path[-1]] = value
    return doc


def nested(levels):
    return json.loads("[" * levels + "]" * levels)


# ------------------------------------------------------------------ properties


@SETTINGS
@given(spec=attack_specs)
def test_random_attack_specs_work_or_fail_in_one_line(world, tmp_path_factory, spec):
    out = tmp_path_factory.mktemp("attacked") / "out"
    before = snapshot(world / "imgs")
    result = run_clean("attack", spec, world / "imgs", "--out", out, "--no-progress")
    assert snapshot(world / "imgs") == before
    if result.exit_code == 0:
        assert sorted(p.name for p in out.glob("*.png")) == ["0.png", "1.png"]
    else:
        assert not out.exists() or not any(out.glob("*.png"))


@SETTINGS
@given(spec=method_specs)
def test_random_method_specs_never_break_a_run(world, spec):
    """--resume validates the spec against the run (only --epochs may grow): whatever it says, the run is
    untouched, and no network of the spec's size is ever built."""
    before = snapshot(world / "run")
    args = ("train", world / "ds", "--out", world / "run", "--resume", "--epochs", 1, "--method", spec)
    run_clean(*args, "--no-progress")
    assert snapshot(world / "run") == before


def check_edited(world, tmp_path_factory, document, edits):
    folder = world / ("run" if document == "run.json" else "ds")
    copy = tmp_path_factory.mktemp("edited") / folder.name
    shutil.copytree(folder, copy)
    (copy / document).write_text(json.dumps(edited(json.loads((folder / document).read_text()), edits)))
    before = snapshot(copy)
    run, ds = (copy, world / "ds") if document == "run.json" else (world / "run", copy)
    run_clean("evaluate", run, ds, "--no-progress")
    assert snapshot(copy) == before  # evaluate reads; it never rewrites what it was given
    shutil.rmtree(copy.parent)


@SETTINGS
@given(edits=edit_lists)
@example(edits=[(("config", "width"), 1e9)])  # once an allocator error after minutes
@example(edits=[(("config", "width"), "0.125")])
@example(edits=[(("config", "batch_size"), 10**30)])
@example(edits=[(("classes",), ["a"] * 3)])
@example(edits=[(("resolution",), 10**9)])
@example(edits=[(("extra",), nested(100))])  # deeper than any gfp file: refused, not a RecursionError
def test_random_edits_of_run_json_fail_in_one_line(world, tmp_path_factory, edits):
    check_edited(world, tmp_path_factory, "run.json", edits)


@SETTINGS
@given(edits=edit_lists)
@example(edits=[(("resolution",), 10**9)])
@example(edits=[(("counts", "test", "source_0"), 10**12)])
@example(edits=[(("classes",), [])])
@example(edits=[(("hash",), None)])
@example(edits=[(("extra",), nested(100))])
def test_random_edits_of_the_manifest_fail_in_one_line(world, tmp_path_factory, edits):
    check_edited(world, tmp_path_factory, "manifest.json", edits)
