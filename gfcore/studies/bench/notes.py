"""The plain-text notes under a bench's tables: how each interval, p-value and FD ratio was computed, the
paired test of each method against the reference, subsampled or missing FD ratios and failures."""

from __future__ import annotations

from gfcore.studies.bench.rows import BenchResults, BenchRow

PIXELS = "reference: raw pixels"


def fmt_interval(interval) -> str:
    """``[low, high]`` of an accuracy as ``94.10-96.30%``; ``-`` when there is none."""
    if not interval or any(v is None for v in interval):
        return "-"
    return f"{100 * interval[0]:.2f}-{100 * interval[1]:.2f}%"


def fmt_p(p) -> str:
    """A p-value: four decimals, or scientific notation below 0.0001 (``3.2e-07``)."""
    if p is None:
        return "-"
    return f"{p:.4f}" if p >= 1e-4 else f"{p:.1e}"


def paired_note(row: BenchRow) -> str:
    """One line on the paired test of ``row`` against the reference."""
    paired = row.paired
    ref, k = paired["reference"], len(paired["p_values"])
    counts = f"{ref} alone right on {sum(paired['reference_only'])} test images, {row.spec} alone on " + str(
        sum(paired["this_only"])
    )
    counts += f" (summed over {k} repeats)" if k > 1 else ""
    verdict = {
        "reference better": f"{ref} is better",
        "this better": f"{row.spec} is better",
    }.get(paired["verdict"], "no significant difference")
    largest = "largest per-repeat " if k > 1 else ""
    return f"{row.spec} vs {ref}: {counts}; exact McNemar {largest}p = {fmt_p(paired['p_value'])}: {verdict}"


def method_notes(results: BenchResults) -> list[str]:
    """How the intervals, p-values and FD ratios were computed."""
    rows = [r for r in results.methods if not r.error]
    out = []
    if rows and rows[0].ci_method:
        out.append(
            f"95% interval of the accuracy: {rows[0].ci_method}"
            + (
                "; what varies is the training seed (initialisation, batch order, augmentation), on the "
                "dataset's fixed splits"
                if results.repeats > 1
                else ""
            )
        )
    if results.reference and any(r.paired for r in rows):
        out.append(
            f"McNemar p: exact two-sided McNemar test of each method against {results.reference} on the same "
            "test images"
            + (", per repeat (same seed), the largest p reported" if results.repeats > 1 else "")
            + "; a method is called better only at p < 0.05"
        )
        out += [paired_note(r) for r in rows if r.paired]
    if results.fd_dim:
        dims = (results.fd_reference or {}).get("dims", results.fd_dim)
        out.append(
            f"FD ratio: features reduced to {dims} dimensions (--fd-dim {results.fd_dim}; fewer when a "
            "half-class has under 4 images a dimension) by a PCA fitted on training features, so every method is compared at one dimension; "
            f"'{PIXELS}' is the same ratio of the pixels (the paper's Inception reference needs pretrained "
            "weights, not available offline)"
        )
    return out


def notes(results: BenchResults) -> list[str]:
    """Plain-text remarks per method: how sure the numbers are, subsampled FD ratios, missing FD ratios,
    failures."""
    out = method_notes(results)
    out += [
        f"{r.spec}: its training started from the weights of {r.init_from} (gfp train --init-from), "
        "not from a random initialisation"
        for r in results.methods
        if r.init_from
    ]
    fd_ref = results.fd_reference or {}
    if fd_ref.get("note"):
        out.append(f"{PIXELS}: no FD ratio ({fd_ref['note']})")
    for row in results.methods:
        fd = row.fd or {}
        if fd.get("subsampled"):
            out.append(
                f"{row.spec}: FD ratio on a class-stratified subsample of {fd['images']} "
                f"{results.split} images (seed {results.seed})"
            )
        if fd.get("note"):
            out.append(f"{row.spec}: no FD ratio ({fd['note']})")
        if row.error:
            out.append(f"{row.spec} failed: {row.error}")
    if results.audit:
        out.append(
            "audit rows: what a trivial cue alone reaches on the same split (gfp audit; chance = the share of "
            "the most frequent class; SHORTCUT = accuracy >= chance + 0.5 * (1 - chance))"
        )
    return out
