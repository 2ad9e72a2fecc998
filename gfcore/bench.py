"""``gfp bench``: several methods trained (or reused) and evaluated side by side on one prepared dataset.

Each method spec (``learned:width=0.25``, ``knn:k=5``) gets a run folder ``<runs>/<slug>``. A run already
there is reused when it was trained on the same dataset (hash), with the same method, configuration and
seed, and finished; an unfinished one with the same identity is resumed; one that differs is an error for
that method (never overwritten). Every method is then evaluated on the same test split, timed, and -- when
it has image fingerprints -- scored with the FD ratio of those fingerprints (paper §7).

One method failing does not lose the others: its row carries the error and the bench goes on.

Results (``results.json``, schema version 1)::

    {"version": 1, "dataset": {path, hash, classes, resolution, counts}, "split": "test",
     "methods": [{spec, method, slug, run, reused, n, accuracy, macro_f1, per_class_accuracy,
                  confusion_matrix, fd_ratio, fd, train_seconds, images_per_second, error}],
     "created": ISO time, "seed": S, "versions": {...}}
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_json, write_text
from .config import build_config, config_from_dict, config_to_dict, parse_spec
from .dataset import PreparedDataset
from .errors import GfpError
from .evaluation import evaluate_split
from .interfaces import Attributor, Split
from .plugins import get_registries
from .progress import NullReporter, Reporter

RESULTS_VERSION = 1
SPLIT = "test"
#: the FD ratio is computed on at most this many test images (a deterministic, class-stratified subsample)
DEFAULT_MAX_FD_IMAGES = 4000
FINGERPRINT_CHUNK = 256

Overrides = Callable[[str], Mapping[str, Any] | None] | Mapping[str, Mapping[str, Any]] | None


# -- method lists and run folder names ------------------------------------------------------------
_METHOD_START = re.compile(r"^\s*[A-Za-z][A-Za-z0-9_.-]*\s*(:|$)")


def split_method_list(text: str) -> list[str]:
    """``"knn:k=5,max_k=9,learned;dct"`` -> ``["knn:k=5,max_k=9", "learned", "dct"]``.

    Parameters use commas too, so a comma (or semicolon) starts a new method only when what follows it up
    to the next separator is a method name, alone or followed by ``:params`` -- not ``key=value`` and not
    a bare value. A separator inside a method keeps its character, so ``prnu:sigma_grid=1;3`` stays whole
    (the config parser reads ``;`` as a tuple separator).
    """
    specs: list[str] = []
    for separator, segment in _segments(text):
        if not segment.strip():
            continue
        if not specs or _METHOD_START.match(segment):
            specs.append(segment.strip())
        else:
            specs[-1] += separator + segment.strip()
    return specs


def _segments(text: str) -> list[tuple[str, str]]:
    """(the separator before it, segment) for each piece of ``text`` split on ``,`` and ``;``."""
    pieces = re.split(r"([,;])", text)
    out = [("", pieces[0])]
    for i in range(1, len(pieces), 2):
        out.append((pieces[i], pieces[i + 1]))
    return out


def canonical_spec(spec: str) -> str:
    """A spec with its parameters sorted: ``knn:max_k=9,k=5`` and ``knn: k=5, max_k=9`` read the same."""
    name, params = parse_spec(spec)
    if not params:
        return name
    return name + ":" + ",".join(f"{k}={params[k]}" for k in sorted(params))


def spec_slug(spec: str) -> str:
    """A file-name-safe name for a spec's run folder and plot: ``knn:k=5,max_k=9`` -> ``knn-k=5-max_k=9``."""
    slug = re.sub(r"[^A-Za-z0-9_.=-]+", "-", canonical_spec(spec)).strip("-.")
    if len(slug) > 96:  # keep paths short; the digest keeps long specs apart
        slug = slug[:80].rstrip("-.") + "-" + hashlib.sha1(slug.encode()).hexdigest()[:10]
    return slug or "method"


# -- planning: every spec checked before anything trains ---------------------------------------------
class _Plan:
    """One method of the bench: its spec, class, parsed config, overrides and run folder."""

    def __init__(self, spec: str, method: str, cls: type, config: Any, overrides: dict, run_dir: Path):
        self.spec, self.method, self.cls, self.config = spec, method, cls, config
        self.overrides, self.run_dir = overrides, run_dir

    @property
    def slug(self) -> str:
        return self.run_dir.name


def _overrides_lookup(overrides_for: Overrides) -> Callable[[str], Mapping[str, Any] | None]:
    if overrides_for is None:
        return lambda name: None
    if isinstance(overrides_for, Mapping):
        return overrides_for.get
    return overrides_for


def plan_methods(specs: list[str], runs_root: Path, overrides_for: Overrides = None) -> list[_Plan]:
    """Parse and check every spec (names, parameters, duplicates); raises :class:`GfpError` on the first
    problem, so a typo costs nothing. Explicit spec parameters win over ``overrides_for`` defaults."""
    if not specs:
        raise GfpError("no methods to benchmark")
    registries = get_registries()
    lookup = _overrides_lookup(overrides_for)
    plans: list[_Plan] = []
    by_slug: dict[str, str] = {}
    for spec in specs:
        name, params = parse_spec(spec)
        cls = registries.attributor(name)  # unknown name: one line listing the valid ones
        extra = {k: v for k, v in dict(lookup(name) or {}).items() if v is not None and k not in params}
        config = build_config(cls.Config, {**params, **extra}, owner=f"method {name!r}")
        slug = spec_slug(spec)
        if slug in by_slug:
            raise GfpError(f"methods {by_slug[slug]!r} and {spec!r} are the same method; list it once")
        by_slug[slug] = spec
        plans.append(_Plan(spec, name, cls, config, extra, runs_root / slug))
    return plans


# -- reusing, resuming or training a run ----------------------------------------------------------
def _normalised(config_dict: dict) -> Any:
    return json.loads(json.dumps(config_dict))  # tuples -> lists, as run.json stores them


def _run_state(plan: _Plan, dataset: PreparedDataset, seed: int) -> str:
    """``"new"``, ``"reuse"`` (complete and identical) or ``"resume"`` (identical but unfinished)."""
    from .runs import RUN_JSON, read_run_json

    if not (plan.run_dir / RUN_JSON).exists():
        return "new"
    info = read_run_json(plan.run_dir)
    differences = []
    if info.get("dataset", {}).get("hash") != dataset.hash:
        differences.append("another dataset")
    if info.get("method") != plan.method:
        differences.append(f"method {info.get('method')!r}")
    elif _normalised(
        config_to_dict(config_from_dict(plan.cls.Config, info.get("config", {})))
    ) != _normalised(config_to_dict(plan.config)):
        differences.append("other parameters")
    if info.get("seed") != seed:
        differences.append(f"seed {info.get('seed')}")
    if differences:
        raise GfpError(
            f"{plan.run_dir} holds a run with {', '.join(differences)} (spec {info.get('spec')!r}); "
            "delete it or bench into another --runs folder"
        )
    return "reuse" if info.get("status") == "complete" else "resume"


def _obtain_run(plan: _Plan, dataset: PreparedDataset, seed: int, device, reporter: Reporter) -> bool:
    """Make sure ``plan.run_dir`` holds a complete run; returns True when an existing one was reused."""
    from .runs import train_run

    state = _run_state(plan, dataset, seed)
    if state == "reuse":
        reporter.log(f"{plan.spec}: reusing the finished run in {plan.run_dir}")
        return True
    if state == "resume":
        reporter.log(f"{plan.spec}: resuming the unfinished run in {plan.run_dir}")
    else:
        reporter.log(f"{plan.spec}: training into {plan.run_dir}")
    train_run(
        dataset,
        plan.run_dir,
        plan.spec,
        seed=seed,
        device=device,
        resume=state == "resume",
        overrides=plan.overrides,
        reporter=reporter,
    )
    return False


# -- fingerprint separability ---------------------------------------------------------------------
def fd_sample_indices(labels: np.ndarray, num_classes: int, max_images: int, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_images`` images, the same number from every class where possible
    (each class's share drawn at random with ``seed``), so the FD ratio of a huge split stays affordable."""
    labels = np.asarray(labels)
    if len(labels) <= max_images:
        return np.arange(len(labels))
    per_class = max(max_images // max(num_classes, 1), 4)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        chosen.append(rng.permutation(members)[:per_class])
    return np.sort(np.concatenate(chosen)) if chosen else np.arange(0)


def image_fingerprints_of(attributor: Attributor, split: Split, indices: np.ndarray, reporter: Reporter):
    """Image fingerprints ``[n, D]`` (flattened, on CPU) of ``split.images[indices]``, read in chunks."""
    import torch

    task = reporter.task("image fingerprints", total=len(indices))
    outs = []
    for start in range(0, len(indices), FINGERPRINT_CHUNK):
        chunk = indices[start : start + FINGERPRINT_CHUNK]
        images = torch.from_numpy(np.array(split.images[chunk]))  # copy: memmaps are read-only
        outs.append(attributor.image_fingerprints(images).detach().float().cpu().reshape(len(chunk), -1))
        task.advance(len(chunk))
    task.done()
    return torch.cat(outs) if outs else torch.zeros(0, 0)


def fingerprint_separability(
    attributor: Attributor, split: Split, seed: int, max_images: int, reporter: Reporter
) -> dict:
    """The FD ratio of ``attributor``'s image fingerprints on ``split`` and how it was measured."""
    from .fd import fd_ratio

    indices = fd_sample_indices(split.labels, len(attributor.classes), max_images, seed)
    features = image_fingerprints_of(attributor, split, indices, reporter)
    result = fd_ratio(features, split.labels[indices], len(attributor.classes), seed=seed)
    return {
        "fd_ratio": result["fd_ratio"],
        "images": int(len(indices)),
        "subsampled": bool(len(indices) < len(split)),
        "max_images": int(max_images),
        "feature_dims": int(features.shape[1]),
        "dims": result["dims"],
        "projected": result["projected"],
        "mean_inter_fd": result["mean_inter_fd"],
        "mean_intra_fd": result["mean_intra_fd"],
        "half_sizes": result["half_sizes"],
    }


# -- the bench ------------------------------------------------------------------------------------
def _empty_row(plan_or_spec, run_dir=None) -> dict:
    spec = plan_or_spec if isinstance(plan_or_spec, str) else plan_or_spec.spec
    return {
        "spec": spec,
        "method": None if isinstance(plan_or_spec, str) else plan_or_spec.method,
        "slug": spec_slug(spec),
        "run": str(run_dir) if run_dir else None,
        "reused": None,
        "n": None,
        "accuracy": None,
        "macro_f1": None,
        "per_class_accuracy": None,
        "confusion_matrix": None,
        "fd_ratio": None,
        "fd": None,
        "train_seconds": None,
        "images_per_second": None,
        "error": None,
    }


def bench_one(
    plan: _Plan,
    dataset: PreparedDataset,
    test: Split,
    *,
    seed: int,
    device,
    reporter: Reporter,
    max_fd_images: int,
    position: str = "",
) -> dict:
    """Train or reuse, evaluate and fingerprint one method; errors are recorded in the row, not raised."""
    from .runs import check_compatible, load_run

    row = _empty_row(plan, plan.run_dir)
    task = reporter.task(f"{position}{plan.spec}", total=3)
    step = "training"
    try:
        task.update(status="training")
        row["reused"] = _obtain_run(plan, dataset, seed, device, reporter)
        task.advance()

        step = "evaluating"
        task.update(status="evaluating")
        attributor, info = load_run(plan.run_dir, device)  # the best weights, as `gfp evaluate` uses
        check_compatible(info, dataset, plan.run_dir)
        row["train_seconds"] = info.get("train_seconds")
        report = evaluate_split(attributor, test, reporter)
        for key in (
            "n",
            "accuracy",
            "macro_f1",
            "per_class_accuracy",
            "confusion_matrix",
            "images_per_second",
        ):
            row[key] = report[key]
        task.advance()

        step = "fingerprints"
        if attributor.has_fingerprints:
            task.update(status="FD ratio")
            try:
                fd = fingerprint_separability(attributor, test, seed, max_fd_images, reporter)
            except GfpError as exc:  # e.g. too few test images per class: the accuracy still stands
                fd = {"fd_ratio": None, "note": str(exc)}
                reporter.warn(f"{plan.spec}: no FD ratio: {exc}")
            row["fd_ratio"], row["fd"] = fd.pop("fd_ratio"), fd
            if fd.get("subsampled"):
                reporter.log(
                    f"{plan.spec}: FD ratio on a class-stratified subsample of {fd['images']} of "
                    f"{len(test)} test images"
                )
        task.advance()
        task.update(status="done")
        fd_text = f", FD ratio {_num(row['fd_ratio'], 3)}" if attributor.has_fingerprints else ""
        reporter.log(
            f"{plan.spec}: accuracy {_pct(row['accuracy'])}, macro-F1 {_num(row['macro_f1'], 4)}"
            f"{fd_text}, {_num(row['images_per_second'], 1)} images/s"
        )
    except Exception as exc:  # one method's failure, whatever it is, must not end the bench
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not isinstance(exc, GfpError):
            message = f"{type(exc).__name__}: {message}"
        row["error"] = f"{step}: {message}"
        task.update(status="failed")
        reporter.warn(f"{plan.spec} failed while {step}: {message}")
    return row


def run_bench(
    dataset: PreparedDataset,
    out_dir: str | Path,
    specs: list[str],
    *,
    runs_dir: str | Path | None = None,
    seed: int = 0,
    device=None,
    reporter: Reporter | None = None,
    overrides_for: Overrides = None,
    max_fd_images: int = DEFAULT_MAX_FD_IMAGES,
) -> dict:
    """Train (or reuse) every method in ``specs`` and compare them on the dataset's test split.

    Runs live in ``runs_dir/<slug>`` (default ``out_dir/runs/<slug>``). ``overrides_for`` gives default
    parameters per method name (a mapping, or a function of the name), e.g. ``{"learned": {"epochs": 3}}``;
    parameters written in a spec win over them. Specs are all checked before anything trains (an unknown
    name raises :class:`GfpError`); afterwards a failing method only sets ``error`` in its row.
    """
    import torch

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    runs_root = Path(runs_dir) if runs_dir is not None else Path(out_dir) / "runs"
    plans = plan_methods(list(specs), runs_root, overrides_for)
    test = dataset.split(SPLIT)
    reporter.log(
        f"bench: {len(plans)} method(s) on {dataset.path} ({len(dataset.classes)} classes, "
        f"{len(test)} {SPLIT} images); runs in {runs_root}"
    )
    rows = []
    for i, plan in enumerate(plans, 1):
        rows.append(
            bench_one(
                plan,
                dataset,
                test,
                seed=seed,
                device=device,
                reporter=reporter,
                max_fd_images=max_fd_images,
                position=f"[{i}/{len(plans)}] ",
            )
        )
    failed = [r["spec"] for r in rows if r["error"]]
    if failed:
        reporter.log(f"bench: {len(failed)} of {len(rows)} method(s) failed: {', '.join(failed)}")
    return {
        "version": RESULTS_VERSION,
        "dataset": {
            "path": str(Path(dataset.path).resolve()),
            "hash": dataset.hash,
            "classes": dataset.classes,
            "resolution": dataset.resolution,
            "counts": dataset.manifest.get("counts", {}),
        },
        "split": SPLIT,
        "seed": seed,
        "device": str(device),
        "runs": str(runs_root.resolve()),
        "max_fd_images": max_fd_images,
        "methods": rows,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }


def _versions() -> dict:
    from .runs import package_versions

    return package_versions()


def failed_methods(results: dict) -> list[dict]:
    return [m for m in results["methods"] if m.get("error")]


# -- formatting shared by results.md, the CLI table and the demo ------------------------------------
def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value) -> str:
    return f"{100 * value:.2f}%" if _finite(value) else "-"


def _num(value, digits: int) -> str:
    return f"{value:.{digits}f}" if _finite(value) else "-"


COLUMNS = ("method", "accuracy", "macro-F1", "FD ratio", "train s", "images/s")


def format_row(method: dict) -> dict[str, str]:
    """The display strings of one results row (the same in results.md and the terminal table)."""
    return {
        "method": method["spec"],
        "accuracy": _pct(method.get("accuracy")),
        "macro-F1": _num(method.get("macro_f1"), 4),
        "FD ratio": _num(method.get("fd_ratio"), 3),
        "train s": _num(method.get("train_seconds"), 1),
        "images/s": _num(method.get("images_per_second"), 1),
    }


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|")


def markdown_table(results: dict) -> str:
    """The comparison as a Markdown table: one row per method (failed ones say so in the last column)."""
    lines = ["| " + " | ".join(COLUMNS) + " | status |", "|---|" + "---:|" * (len(COLUMNS) - 1) + "---|"]
    for method in results["methods"]:
        cells = format_row(method)
        status = (
            f"failed: {method['error']}"
            if method.get("error")
            else ("reused" if method.get("reused") else "trained")
        )
        lines.append("| " + " | ".join(_md_cell(cells[c]) for c in COLUMNS) + f" | {_md_cell(status)} |")
    return "\n".join(lines) + "\n"


def per_class_markdown_table(results: dict) -> str:
    """Per-class test accuracy (recall), one row per method, one column per class."""
    classes = results["dataset"]["classes"]
    lines = [
        "| method | " + " | ".join(_md_cell(c) for c in classes) + " |",
        "|---|" + "---:|" * len(classes),
    ]
    for method in results["methods"]:
        per_class = method.get("per_class_accuracy") or {}
        lines.append(
            f"| {_md_cell(method['spec'])} | " + " | ".join(_pct(per_class.get(c)) for c in classes) + " |"
        )
    return "\n".join(lines) + "\n"


def results_markdown(results: dict) -> str:
    ds = results["dataset"]
    test_counts = ds.get("counts", {}).get(results["split"], {})
    lines = [
        f"# gfp bench: {len(results['methods'])} method(s) on `{ds['path']}`",
        "",
        f"Classes: {', '.join(ds['classes'])}; {ds.get('resolution')}x{ds.get('resolution')} images; "
        f"{sum(test_counts.values())} {results['split']} images; seed {results.get('seed')}; "
        f"created {results['created']}.",
        "",
        "Accuracy and macro-F1 on the test split; FD ratio (paper §7) of the image fingerprints, for methods "
        "that have them (higher = sources more separable); train time from the run; attribution speed "
        "measured while evaluating.",
        "",
        markdown_table(results),
        "## Per-class accuracy",
        "",
        per_class_markdown_table(results),
    ]
    notes = []
    for method in results["methods"]:
        fd = method.get("fd") or {}
        if fd.get("subsampled"):
            notes.append(
                f"- `{method['spec']}`: FD ratio on a class-stratified subsample of {fd['images']} "
                f"{results['split']} images (seed {results.get('seed')})."
            )
        if fd.get("note"):
            notes.append(f"- `{method['spec']}`: no FD ratio ({fd['note']}).")
        if method.get("error"):
            notes.append(f"- `{method['spec']}` failed: {method['error']}")
    if notes:
        lines += ["## Notes", "", *notes, ""]
    plots = [m for m in results["methods"] if m.get("confusion_matrix") is not None]
    if plots:
        lines += ["## Confusion matrices", ""]
        lines += [f"- `{m['spec']}`: [confusion_{m['slug']}.png](confusion_{m['slug']}.png)" for m in plots]
        lines.append("")
    return "\n".join(lines)


def write_results(results: dict, out_dir: str | Path) -> dict[str, Path]:
    """``results.json``, ``results.md`` and ``confusion_<slug>.png`` per evaluated method, each atomically."""
    from .plots import save_confusion_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    classes = results["dataset"]["classes"]
    for method in results["methods"]:
        if method.get("confusion_matrix") is None:
            continue
        path = out_dir / f"confusion_{method['slug']}.png"
        title = f"{method['spec']}: accuracy {_pct(method.get('accuracy'))}"
        save_confusion_png(path, method["confusion_matrix"], classes, title=title)
        written[f"confusion:{method['spec']}"] = path
    write_json(written["json"], results)  # write_json writes NaN/inf as null
    write_text(written["markdown"], results_markdown(results))
    return written
