"""Running a bench: every method trained (or reused) ``repeats`` times, evaluated on the test split, timed
and -- when it has image fingerprints -- scored with the FD ratio (:mod:`.one`); paired tests against the
reference method (:mod:`.repeats`); the raw pixels' FD ratio as a reference; the shortcut audit
(:mod:`gfcore.studies.audit`) on the same split; then results.json, results.md and the confusion PNGs.

One method failing does not lose the others: its row carries the error and the bench goes on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.runs.folder import package_versions
from gfcore.storage.atomic import write_text
from gfcore.storage.outfolder import check_study_folder
from gfcore.studies.bench.curves import write_severity
from gfcore.studies.bench.degradations import degradation_levels, degradation_markdown, run_degradations
from gfcore.studies.bench.one import _one_line, bench_one
from gfcore.studies.bench.plan import MethodPlan, Overrides, plan_methods, with_starts
from gfcore.studies.bench.render import results_markdown, to_json
from gfcore.studies.bench.repeats import choose_reference, paired_tests
from gfcore.studies.bench.robustness import (
    DEFAULT_IMMUNIZE_EPOCHS,
    ImmunizeEpochs,
    check_attack_names,
    run_robustness,
)
from gfcore.studies.bench.rows import BenchResults
from gfcore.studies.bench.separability import DEFAULT_FD_DIM, DEFAULT_MAX_FD_IMAGES, pixel_separability
from gfcore.terminal.formatting import fmt_num, fmt_pct
from gfcore.terminal.progress import NullReporter, Reporter

SPLIT = "test"


@dataclass(frozen=True)
class BenchSettings:
    """How a bench runs, besides its dataset, folder and methods (the keywords of :func:`run_bench`)."""

    runs_root: Path  # each method's runs in runs_root/<slug>
    seed: int
    device: Any
    reporter: Reporter
    max_fd_images: int = DEFAULT_MAX_FD_IMAGES
    audit: bool = True  # the shortcut cues of gfcore.studies.audit.pixel_audit, on the same splits
    attacks: tuple[str, ...] = ()  # the robustness section (:mod:`.robustness`), after the clean comparison
    immunize_epochs: ImmunizeEpochs = DEFAULT_IMMUNIZE_EPOCHS  # fine-tuning per attack (robustness.py)
    curves: bool = True  # the accuracy-versus-severity curves of the robustness section
    repeats: int = 1  # runs per method, seeds seed, seed + 1, ... (:mod:`.repeats`)
    fd_dim: int = DEFAULT_FD_DIM  # the PCA dimension of every FD ratio, fitted on training features
    # the standard degradation table (:mod:`.degradations`): (label, attack spec) per level; () for none
    degradations: tuple[tuple[str, str], ...] = ()


def check_out_dir(out_dir: Path, runs_root: Path) -> None:
    """A bench writes into a new or empty folder, or over an earlier bench's results -- never into a
    folder of other things (its results.md and PNGs would overwrite files gfp did not create)."""
    runs_inside = runs_root.resolve().parent == out_dir.resolve()
    check_study_folder(
        out_dir, "gfp bench", BenchResults.read, leftovers={runs_root.name} if runs_inside else ()
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
    immunize_epochs: ImmunizeEpochs = DEFAULT_IMMUNIZE_EPOCHS,
    curves: bool = True,
    repeats: int = 1,
    fd_dim: int = DEFAULT_FD_DIM,
    init_from: Mapping[str, str | Path] | None = None,
    degradations: bool = False,
) -> BenchResults:
    """Train (or reuse) every method in ``specs`` and compare them on the dataset's test split.

    Runs live in ``runs_dir/<slug>`` (default ``out_dir/runs/<slug>``). ``overrides_for`` gives default
    parameters per method name (a mapping, or a function of the name), e.g. ``{"mymethod": {"epochs":
    3}}``; parameters written in a spec win over them. Specs and attack names are all checked before
    anything trains (an unknown name raises :class:`GfpError`); afterwards a failing method only sets
    ``error`` in its row. ``degradations``: add the standard degradation table (:mod:`.degradations`).
    The other keywords are :class:`BenchSettings`'.

    ``init_from`` (spec -> run folder) starts a method's training from another run's weights (``gfp train
    --init-from``); repeat ``i`` starts from the same repeat of that run's bench (the demo starts the seed
    task's network from the five-source task's).
    """
    import torch

    runs_root = Path(runs_dir) if runs_dir is not None else Path(out_dir) / "runs"
    plans = with_starts(plan_methods(list(specs), runs_root, overrides_for), init_from)
    settings = BenchSettings(
        runs_root=runs_root,
        seed=seed,
        device=device or torch.device("cpu"),
        reporter=reporter or NullReporter(),
        max_fd_images=max_fd_images,
        audit=audit,
        attacks=tuple(check_attack_names(list(attacks or []))),
        immunize_epochs=immunize_epochs,
        curves=curves,
        repeats=repeats,
        fd_dim=fd_dim,
        degradations=tuple(degradation_levels()) if degradations else (),
    )
    check_out_dir(Path(out_dir), runs_root)
    return bench_with(dataset, plans, settings)


def bench_with(dataset: PreparedDataset, plans: list[MethodPlan], settings: BenchSettings) -> BenchResults:
    """The bench of checked ``plans``: the methods, the paired tests, the FD reference, the audit, then
    the robustness section."""
    s, reporter = settings, settings.reporter
    test = dataset.split(SPLIT)
    reporter.log(
        f"bench: {len(plans)} method(s) on {dataset.path} ({len(dataset.classes)} classes, "
        f"{len(test)} {SPLIT} images); runs in {s.runs_root}"
    )
    rows = [
        bench_one(
            plan,
            dataset,
            test,
            seed=s.seed,
            device=s.device,
            reporter=reporter,
            max_fd_images=s.max_fd_images,
            repeats=s.repeats,
            fd_dim=s.fd_dim,
            position=f"[{i}/{len(plans)}] ",
        )
        for i, plan in enumerate(plans, 1)
    ]
    reference = choose_reference(plans)
    paired_tests(rows, reference)
    results = bench_results(dataset, s, rows, reference)
    results.fd_reference = pixel_reference(dataset, s.seed, s.max_fd_images, s.fd_dim, reporter)
    if s.audit:
        results.audit = bench_audit(dataset, s.seed, s.device, reporter, knn=knn_audit_row(rows, dataset))
    if s.attacks:  # robustness: a block of its own after the clean comparison (repeat 0's runs)
        run_robustness(
            results,
            dataset,
            list(s.attacks),
            runs_root=s.runs_root,
            seed=s.seed,
            device=s.device,
            reporter=reporter,
            immunize_epochs=s.immunize_epochs,
            curves=s.curves,
        )
    if s.degradations:  # the fixed levels, on the same runs as trained
        run_degradations(
            results, dataset, list(s.degradations), seed=s.seed, device=s.device, reporter=reporter
        )
    if results.failed:
        failed = ", ".join(r.spec for r in results.failed)
        reporter.log(f"bench: {len(results.failed)} of {len(rows)} method(s) failed: {failed}")
    return results


def bench_results(
    dataset: PreparedDataset, s: BenchSettings, rows: list, reference: str | None
) -> BenchResults:
    """The results document of the methods' ``rows`` (the FD reference, audit and robustness come later)."""
    return BenchResults(
        dataset={
            "path": str(Path(dataset.path).resolve()),
            "hash": dataset.hash,
            "classes": dataset.classes,
            "resolution": dataset.resolution,
            "counts": dataset.manifest.get("counts", {}),
        },
        split=SPLIT,
        seed=s.seed,
        device=str(s.device),
        runs=str(s.runs_root.resolve()),
        max_fd_images=s.max_fd_images,
        repeats=s.repeats,
        reference=reference,
        fd_dim=s.fd_dim,
        methods=rows,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        versions=package_versions(),
    )


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
    """The audit's raw-pixel kNN row taken from the bench's own row of the ``pixel-knn`` method with its
    default settings, which is the same computation on the same splits (its first repeat: kNN has no
    seed), so the demo and every bench that includes it search the neighbours once; None when there is
    none to take."""
    from gfcore.plugins import get_registries
    from gfcore.runs.attributor import read_run_json
    from gfcore.studies.audit.pixels import PIXEL_KNN, knn_row_from_correct
    from gfcore.studies.bench.repeats import decode_correct

    try:
        name = get_registries().with_role(PIXEL_KNN)
    except GfpError:
        return None
    row = next((r for r in rows if r.spec == name and not r.error and r.repeats), None)
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
    return knn_row_from_correct(correct, labels, len(dataset.classes), history[-1].get("chosen_k"), name)


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
    from gfcore.studies.figures import save_confusion_png

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
    write_text(written["markdown"], results_markdown(results) + degradation_markdown(results))
    return written
