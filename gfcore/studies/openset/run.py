"""Running a leave-one-source-out evaluation (``gfp openset``): one run per held-out source trained,
reused or resumed, calibrated and scored (:mod:`.scores`), then ``results.json`` and ``results.md``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gfcore.config import parse_spec
from gfcore.data.dataset import PreparedDataset
from gfcore.errors import GfpError
from gfcore.inference.openset import calibrate_run
from gfcore.runs.attributor import build_attributor, read_run_json
from gfcore.runs.training import existing_run_state, train_run
from gfcore.runs.warmstart import init_record
from gfcore.storage.atomic import write_json, write_text
from gfcore.storage.jsonio import read_document
from gfcore.storage.outfolder import check_study_folder
from gfcore.studies.openset.held_out import held_out_units, slug, without_source
from gfcore.studies.openset.report import HEADLINE, headline, markdown
from gfcore.studies.openset.scores import evaluate_held_out
from gfcore.terminal.progress import NullReporter

FORMAT, VERSION = "gfp-openset", 1
#: what an interrupted evaluation leaves in its folder
LEFTOVERS = ("datasets", "runs")


def check_out(out: Path) -> None:
    """A new or empty folder, one holding only an interrupted evaluation's datasets and runs, or an earlier
    ``gfp openset``'s results: never a folder of other things."""
    check_study_folder(
        out, "gfp openset", lambda path: read_document(path, FORMAT, f"{out}: no results.json"), LEFTOVERS
    )


def run_loso(
    data: PreparedDataset,
    out: Path,
    spec: str,
    *,
    seed: int,
    device,
    overrides: dict,
    false_unknown_rate: float,
    score: str,
    groups: dict[str, list[str]] | None = None,
    keep: list[str] = (),
    init_from: str | Path | None = None,
    reporter=None,
) -> dict:
    """Leave each source of ``data`` out in turn, or each group of sources (a family, left out together;
    ``keep``: sources never left out); see :mod:`gfcore.studies.openset`. Every run starts from the weights
    of the run ``init_from`` when given, which must not know a source that is left out. Writes and returns
    the results document."""
    reporter = reporter or NullReporter()
    out = Path(out)
    check_out(out)
    if len(data.classes) < 3:
        raise GfpError(f"{data.path} has {len(data.classes)} sources; leaving one out needs at least 3")
    units = held_out_units(data.classes, groups, list(keep))
    start = _unseen_start(init_from, [data.classes[i] for _, held_out in units for i in held_out])
    name, _ = parse_spec(spec)
    _, method, config = build_attributor(spec, data.classes[:-1], data.resolution, device, overrides)
    job = _Job(
        out,
        spec,
        method,
        config,
        seed,
        device,
        overrides,
        false_unknown_rate,
        score,
        list(keep),
        reporter,
        init_from,
        start,
    )
    rows = [_row_or_failure(job, data, source, held_out) for source, held_out in units]
    settings = {
        "method": name,
        "spec": spec,
        "overrides": overrides,
        "seed": seed,
        "score": score,
        "groups": groups or {},
        "keep": list(keep),
        "init_from": start,
    }
    results = results_document(data, settings, false_unknown_rate, rows)
    write_json(out / "results.json", results)
    write_text(out / "results.md", markdown(results))
    return results


def _unseen_start(init_from, held_out_names: list[str]) -> dict | None:
    """The :func:`~gfcore.runs.warmstart.init_record` of ``init_from`` (None for a random start), refused
    when that run, or a run its weights started from in turn, knows a source that will be left out: those
    weights have seen what must be unseen."""
    if init_from is None:
        return None
    record = init_record(init_from)
    known = _classes_seen(record)
    seen = [c for c in held_out_names if c in known]
    if seen:
        raise GfpError(
            f"--init-from {init_from} (or a run it started from) was trained on {', '.join(seen)}, which "
            "would be left out: a held-out source must be unseen by the starting weights too"
        )
    return record


def _classes_seen(record: dict) -> set[str]:
    """Every class the weights of the run ``record`` describes were trained on, through its chain of warm
    starts (each run.json records the run it started from, with that run's classes)."""
    seen: set[str] = set()
    visited: set[str] = set()
    while record and record["path"] not in visited:
        visited.add(record["path"])
        seen.update(record["classes"])
        try:
            record = read_run_json(record["path"]).get("init_from")
        except GfpError:  # an ancestor that is gone: its classes, recorded above, are all there is
            break
    return seen


@dataclass(frozen=True)
class _Job:
    """What every held-out run of one evaluation shares."""

    out: Path
    spec: str
    method: str
    config: object
    seed: int
    device: object
    overrides: dict
    false_unknown_rate: float
    score: str
    keep: list
    reporter: object
    init_from: Path | None
    start: dict | None


def _row_or_failure(job: _Job, data: PreparedDataset, source: str, held_out: list[int]) -> dict:
    """The held-out row, or -- when its run fails in one line -- a row with the ``error``: one source
    failing does not lose the others, and results.json records what the study has."""
    try:
        return _held_out_row(job, data, source, held_out)
    except GfpError as exc:
        job.reporter.warn(f"without {source}: failed: {exc}")
        members = [data.classes[i] for i in held_out]
        return {
            "held_out": source,
            "sources": members,
            "run": str(job.out / "runs" / slug(source)),
            "error": str(exc),
        }


def _held_out_row(job: _Job, data: PreparedDataset, source: str, held_out: list[int]) -> dict:
    """Train (or reuse, or resume) and calibrate the run without ``held_out``, and score it."""
    test = data.split("test")
    known_data = without_source(data, held_out, job.out / "datasets" / slug(source))
    run_dir = job.out / "runs" / slug(source)
    state = existing_run_state(
        run_dir, known_data, method=job.method, config=job.config, seed=job.seed, init_from=job.start
    )
    job.reporter.log(
        f"without {source}: "
        + {"new": "training", "complete": "reusing", "unfinished": "resuming"}[state]
        + f" {run_dir}"
    )
    if state != "complete":
        train_run(
            known_data,
            run_dir,
            job.spec,
            seed=job.seed,
            device=job.device,
            resume=state == "unfinished",
            overrides=job.overrides,
            reporter=job.reporter,
            false_unknown_rate=job.false_unknown_rate,
            init_from=job.init_from,
        )
    calibrate_run(run_dir, known_data, job.device, job.false_unknown_rate, job.score, job.reporter)
    unknown_images = np.asarray(test.images[np.flatnonzero(np.isin(test.labels, held_out))])
    row = evaluate_held_out(run_dir, known_data, unknown_images, job.device, job.reporter, job.keep)
    members = [data.classes[i] for i in held_out]
    return {"held_out": source, "sources": members, "run": str(run_dir), "reused": state == "complete", **row}


def results_document(data: PreparedDataset, settings: dict, false_unknown_rate: float, rows: list) -> dict:
    """results.json: the dataset, how it was run, one row per held-out source and the mean per score of
    those that did not fail (:data:`~.report.HEADLINE`; ``None`` when all failed); ``failed``: the held-out sources whose run failed."""
    done = [r for r in rows if "error" not in r]
    return {
        "format": FORMAT,
        "version": VERSION,
        "dataset": {"path": str(data.path), "hash": data.hash, "classes": data.classes},
        **settings,
        "false_unknown_rate": false_unknown_rate,
        "held_out": rows,
        "failed": [r["held_out"] for r in rows if "error" in r],
        "mean": {
            s: {k: float(np.mean([headline(r["scores"][s])[k] for r in done])) for k in HEADLINE}
            for s in done[0]["scores"]
        }
        if done
        else None,
    }
