"""Running a bench: every method trained (or reused) ``repeats`` times, evaluated on the test split, timed
and -- when it has image fingerprints -- scored with the FD ratio (:mod:`.one`); paired tests against the
learned network (:mod:`.repeats`); the raw pixels' FD ratio as a reference; the shortcut audit
(:mod:`gfcore.studies.audit`) on the same split; then results.json, results.md and the confusion PNGs.

One method failing does not lose the others: its row carries the error and the bench goes on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.runs.folder import package_versions
from gfcore.storage.atomic import write_text
from gfcore.studies.bench.curves import write_severity
from gfcore.studies.bench.one import _one_line, bench_one
from gfcore.studies.bench.plan import Overrides, plan_methods, with_starts
from gfcore.studies.bench.render import results_markdown, to_json
from gfcore.studies.bench.repeats import choose_reference, paired_tests
from gfcore.studies.bench.robustness import DEFAULT_IMMUNIZE_EPOCHS, check_attack_names, run_robustness
from gfcore.studies.bench.rows import BenchResults
from gfcore.studies.bench.separability import DEFAULT_FD_DIM, DEFAULT_MAX_FD_IMAGES, pixel_separability
from gfcore.terminal.formatting import fmt_num, fmt_pct
from gfcore.terminal.progress import NullReporter, Reporter

SPLIT = "test"


def check_out_dir(out_dir: Path, runs_root: Path) -> None:
    """A bench writes into a new or empty folder, or over an earlier bench's results -- never into a
    folder of other things (its results.md and PNGs would overwrite files gfp did not create)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GfpError(f"{out_dir} exists and is not a folder")
    entries = {p.name for p in out_dir.iterdir()} if out_dir.is_dir() else set()
    if not entries or (entries == {runs_root.name} and runs_root.resolve().parent == out_dir.resolve()):
        return  # new, or only the runs of an interrupted bench
    if (out_dir / "results.json").is_file():
        BenchResults.read(out_dir / "results.json")  # one line if it is not a bench's
        return
    raise GfpError(
        f"{out_dir} is not empty and holds no gfp bench results; gfp does not write into folders it did "
        "not create: choose another --out"
    )


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
    audit: bool = True,
    attacks: list[str] | None = None,
    immunize_epochs: int = DEFAULT_IMMUNIZE_EPOCHS,
    curves: bool = True,
    repeats: int = 1,
    fd_dim: int = DEFAULT_FD_DIM,
    init_from: Mapping[str, str | Path] | None = None,
) -> BenchResults:
    """Train (or reuse) every method in ``specs`` and compare them on the dataset's test split.

    Runs live in ``runs_dir/<slug>`` (default ``out_dir/runs/<slug>``). ``overrides_for`` gives default
    parameters per method name (a mapping, or a function of the name), e.g. ``{"learned": {"epochs": 3}}``;
    parameters written in a spec win over them. Specs are all checked before anything trains (an unknown
    name raises :class:`GfpError`); afterwards a failing method only sets ``error`` in its row.

    ``attacks`` (names) adds the robustness section (:mod:`.robustness`): Atk / Dfs per method and attack,
    each trainable method immunized for ``immunize_epochs`` epochs, and severity curves unless ``curves``
    is false. With
    ``audit`` the shortcut cues of :func:`gfcore.studies.audit.pixel_audit` are measured on the same splits.

    ``repeats`` trains every method that many times (seeds ``seed``, ``seed + 1``, ...; see
    :mod:`.repeats` for the intervals and the paired tests against the learned network). FD ratios are
    measured after a PCA to ``fd_dim`` dimensions fitted on training features, next to the raw pixels'.

    ``init_from`` (spec -> run folder) starts a method's training from another run's weights (``gfp train
    --init-from``); repeat ``i`` starts from the same repeat of that run's bench (the demo starts the seed
    task's network from the five-source task's).
    """
    import torch

    reporter = reporter or NullReporter()
    device = device or torch.device("cpu")
    runs_root = Path(runs_dir) if runs_dir is not None else Path(out_dir) / "runs"
    plans = with_starts(plan_methods(list(specs), runs_root, overrides_for), init_from)
    attacks = check_attack_names(list(attacks or []))
    check_out_dir(Path(out_dir), runs_root)
    test = dataset.split(SPLIT)
    reporter.log(
        f"bench: {len(plans)} method(s) on {dataset.path} ({len(dataset.classes)} classes, "
        f"{len(test)} {SPLIT} images); runs in {runs_root}"
    )
    rows = [
        bench_one(
            plan,
            dataset,
            test,
            seed=seed,
            device=device,
            reporter=reporter,
            max_fd_images=max_fd_images,
            repeats=repeats,
            fd_dim=fd_dim,
            position=f"[{i}/{len(plans)}] ",
        )
        for i, plan in enumerate(plans, 1)
    ]
    reference = choose_reference(plans)
    paired_tests(rows, reference)
    fd_reference = pixel_reference(dataset, seed, max_fd_images, fd_dim, reporter)
    audit_rows = (
        bench_audit(dataset, seed, device, reporter, knn=knn_audit_row(rows, dataset)) if audit else []
    )
    results = BenchResults(
        dataset={
            "path": str(Path(dataset.path).resolve()),
            "hash": dataset.hash,
            "classes": dataset.classes,
            "resolution": dataset.resolution,
            "counts": dataset.manifest.get("counts", {}),
        },
        split=SPLIT,
        seed=seed,
        device=str(device),
        runs=str(runs_root.resolve()),
        max_fd_images=max_fd_images,
        repeats=repeats,
        reference=reference,
        fd_dim=fd_dim,
        fd_reference=fd_reference,
        methods=rows,
        audit=audit_rows,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=package_versions(),
    )
    if attacks:  # robustness: a block of its own after the clean comparison (repeat 0's runs)
        run_robustness(
            results,
            dataset,
            attacks,
            runs_root=runs_root,
            seed=seed,
            device=device,
            reporter=reporter,
            immunize_epochs=immunize_epochs,
            curves=curves,
        )
    if results.failed:
        failed = ", ".join(r.spec for r in results.failed)
        reporter.log(f"bench: {len(results.failed)} of {len(rows)} method(s) failed: {failed}")
    return results


def pixel_reference(dataset: PreparedDataset, seed: int, max_images: int, dim: int, reporter: Reporter):
    """The raw pixels' FD ratio (the reference row), or a note why there is none."""
    try:
        result = pixel_separability(
            dataset.split("train"),
            dataset.split(SPLIT),
            len(dataset.classes),
            seed,
            max_images,
            reporter,
            dim,
        )
    except GfpError as exc:
        reporter.warn(f"raw pixels: no FD ratio: {exc}")
        return {"fd_ratio": None, "note": str(exc)}
    reporter.log(f"raw pixels (reference): FD ratio {fmt_num(result['fd_ratio'], 3)}")
    return result


def knn_audit_row(rows: list, dataset: PreparedDataset):
    """The audit's raw-pixel kNN row taken from the bench's own plain ``knn`` row, which is the same
    baseline with the same settings on the same splits (its first repeat: kNN has no seed), so the demo
    and every bench that includes ``knn`` search the neighbours once; None when there is none to take."""
    from gfcore.runs.attributor import read_run_json
    from gfcore.studies.audit.pixels import knn_row_from_correct
    from gfcore.studies.bench.repeats import decode_correct

    row = next((r for r in rows if r.spec == "knn" and not r.error and r.repeats), None)
    if row is None or not row.repeats[0].get("correct") or not row.repeats[0].get("run"):
        return None
    labels = dataset.split(SPLIT).labels
    correct = decode_correct(row.repeats[0]["correct"])
    if len(correct) != len(labels):
        return None
    try:
        history = read_run_json(row.repeats[0]["run"]).get("history") or [{}]
    except (GfpError, OSError):
        return None
    return knn_row_from_correct(correct, labels, len(dataset.classes), history[-1].get("chosen_k"))


def bench_audit(dataset: PreparedDataset, seed: int, device, reporter: Reporter, knn=None) -> list:
    """The audit rows of a bench (train -> test, val for kNN's k); a failure is one row, not the bench's end.
    ``knn``: the raw-pixel kNN row when the bench measured it already (:func:`knn_audit_row`)."""
    from gfcore.studies.audit import AuditRow, pixel_audit, shortcut_warning

    try:
        splits = [dataset.split(name) for name in ("train", "val", "test")]
        rows = pixel_audit(
            dataset.classes, dataset.resolution, *splits, seed=seed, device=device, reporter=reporter, knn=knn
        )
    except Exception as exc:  # the methods' results stand without the audit
        reporter.warn(f"shortcut audit failed: {_one_line(exc)}")
        return [AuditRow(cue="all cues", classifier="-", error=_one_line(exc))]
    for row in rows:
        if row.far_above_chance:
            reporter.warn(shortcut_warning(row))
    return rows


def write_results(results: BenchResults, out_dir: str | Path) -> dict[str, Path]:
    """``results.json``, ``results.md`` and ``confusion_<slug>.png`` per evaluated method, each atomically."""
    from gfcore.studies.plots import save_confusion_png

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {"json": out_dir / "results.json", "markdown": out_dir / "results.md"}
    for row in results.methods:
        if row.confusion_matrix is None:
            continue
        path = out_dir / f"confusion_{row.slug}.png"
        title = f"{row.spec}: accuracy {fmt_pct(row.accuracy)}"
        save_confusion_png(path, row.confusion_matrix, results.classes, title=title)
        written[f"confusion:{row.spec}"] = path
    written.update(write_severity(results, out_dir))  # robustness curves, when the bench has them
    write_text(written["json"], to_json(results.to_dict()) + "\n")
    write_text(written["markdown"], results_markdown(results))
    return written
