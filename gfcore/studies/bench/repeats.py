"""Repeated runs of a method (``gfp bench --repeats K``) and how sure their comparison is.

Repeat ``i`` trains with seed ``S + i`` (initialisation, batch order, augmentation, the FD halves). A
prepared dataset has fixed splits, so every repeat trains on the same training images and is tested on
the same test images: what varies is everything the seed drives. Repeat 0 lives in the method's usual run
folder ``<runs>/<slug>`` (a bench with K = 1 reuses it, and vice versa), repeat ``i >= 1`` in
``<runs>/<slug>--seed<S+i>``.

* The interval of a method's accuracy (:func:`accuracy_interval`): with K >= 2, the t-interval of the
  mean over the repeats (training-seed spread); with K = 1 there is no such spread to measure, and the
  interval is the Wilson interval of the one run's accuracy over its test images (:mod:`gfcore.studies.stats`).
* The paired test (:func:`paired_tests`): every method against the reference (the method with the
  ``reference`` role, :data:`gfcore.interfaces.ROLES`) on the same test images, exact McNemar *per
  repeat* (repeat i of both, same seed). The repeats share their test images, so pooling their
  discordant pairs would count one image K times as if it were K independent ones and give p-values
  that are too small. The reported ``p_value`` is the largest of the K per-repeat p-values, and a
  winner is named only when every repeat's discordant pairs lean the same way: the claim "better in
  every repeat" then holds at level 0.05 without a correction (an intersection-union test).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gfcore.studies.bench.plan import MethodPlan
from gfcore.studies.bench.rows import BenchRow
from gfcore.studies.stats import discordant, mcnemar_exact, t_interval, wilson_interval

ALPHA = 0.05


def repeat_seeds(seed: int, repeats: int) -> list[int]:
    return [seed + i for i in range(repeats)]


def repeat_run_dir(plan: MethodPlan, index: int, seed: int) -> Path:
    """Repeat 0 in the method's run folder, the others beside it (``<slug>--seed<S>``)."""
    return plan.run_dir if index == 0 else plan.run_dir.with_name(f"{plan.slug}--seed{seed}")


def repeat_init_from(plan: MethodPlan, index: int, seed: int) -> Path | None:
    """The run repeat ``index`` starts from: the same repeat of the bench run ``plan.init_from`` names
    (laid out as :func:`repeat_run_dir` lays out this one)."""
    if plan.init_from is None or index == 0:
        return plan.init_from
    return plan.init_from.with_name(f"{plan.init_from.name}--seed{seed}")


def choose_reference(plans: list[MethodPlan]) -> str | None:
    """The method every other one is tested against: the first whose method holds the ``reference`` role,
    else the first listed."""
    for plan in plans:
        if "reference" in plan.cls.roles:
            return plan.spec
    return plans[0].spec if plans else None


def encode_correct(correct: np.ndarray) -> str:
    """Per-image correctness as a compact string of 0/1 (kept in results.json, so tests can be redone)."""
    return "".join("1" if c else "0" for c in np.asarray(correct, dtype=bool))


def decode_correct(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def accuracy_interval(accuracies: list[float], n: int) -> tuple[list[float], str]:
    """The 95% interval of the mean accuracy and how it was computed (see the module docstring)."""
    if len(accuracies) >= 2:  # clipped to [0, 1]: with few repeats t * s / sqrt(K) can pass 100%
        low, high = t_interval(accuracies)
        return [max(low, 0.0), min(high, 1.0)], f"t-interval over {len(accuracies)} repeats (training seeds)"
    low, high = wilson_interval(round(accuracies[0] * n), n)
    return [low, high], f"Wilson interval over {n} test images (one run)"


def _mean(values):
    return float(np.mean(values)) if values and all(v is not None for v in values) else None


def aggregate(row: BenchRow, entries: list[dict], reports: list[dict]) -> None:
    """Fill ``row`` from its successful repeats: means, the summed confusion matrix, the interval."""
    row.repeats = entries
    row.n = reports[0]["n"]
    row.reused = all(e["reused"] for e in entries)
    row.accuracy = _mean([r["accuracy"] for r in reports])
    row.accuracy_ci95, row.ci_method = accuracy_interval([r["accuracy"] for r in reports], row.n)
    row.macro_f1 = _mean([r["macro_f1"] for r in reports])
    row.per_class_accuracy = {
        c: _mean([r["per_class_accuracy"][c] for r in reports]) for c in reports[0]["per_class_accuracy"]
    }
    row.confusion_matrix = np.sum([r["confusion_matrix"] for r in reports], axis=0).tolist()
    row.train_seconds = _mean([e["train_seconds"] for e in entries])
    row.images_per_second = _mean([e["images_per_second"] for e in entries])
    ratios = [e["fd_ratio"] for e in entries]
    row.fd_ratio = _mean(ratios)
    row.fd_ratio_ci95 = list(t_interval(ratios)) if len(ratios) >= 2 and row.fd_ratio is not None else None


def paired_tests(rows: list[BenchRow], reference: str | None) -> None:
    """Set ``paired`` of every row but the reference's: exact McNemar per repeat against it."""
    ref = next((r for r in rows if r.spec == reference), None)
    if ref is None or ref.error or not ref.repeats:
        return
    for row in rows:
        if row is ref or row.error or len(row.repeats) != len(ref.repeats):
            continue
        ref_only, this_only, p_values = [], [], []
        for mine, theirs in zip(row.repeats, ref.repeats):
            b, c = discordant(decode_correct(theirs["correct"]), decode_correct(mine["correct"]))
            ref_only.append(b)
            this_only.append(c)
            p_values.append(mcnemar_exact(b, c))
        p_value = max(p_values)
        if p_value < ALPHA and all(b > c for b, c in zip(ref_only, this_only)):
            verdict = "reference better"
        elif p_value < ALPHA and all(c > b for b, c in zip(ref_only, this_only)):
            verdict = "this better"
        else:
            verdict = "no significant difference"
        row.paired = {
            "reference": reference,
            "test": "exact McNemar per repeat (same seed, same test images); p_value = the largest",
            "reference_only": ref_only,
            "this_only": this_only,
            "p_values": p_values,
            "p_value": p_value,
            "verdict": verdict,
        }
