"""Tables of results, built once and rendered per format: Markdown (results.md, the demo's tables.md),
rich (the terminal) and JSON. ``gfp bench``, ``gfp evaluate`` and the demo all go through here, so a
number reads the same in every output. Cells are plain text: a class named ``[red]`` prints as written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gfcore.storage.jsonio import json_safe
from gfcore.studies.audit.result import AuditRow, far_threshold, verdict
from gfcore.studies.bench.notes import PIXELS, fmt_interval, fmt_p, notes
from gfcore.studies.bench.rows import BenchResults, BenchRow
from gfcore.terminal.formatting import fmt_num, fmt_pct


@dataclass
class TextTable:
    """A table of display strings. Number columns are right-aligned and never wrap; text columns (by
    default only the first) are left-aligned and fold when long."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    title: str = ""
    text_columns: frozenset[str] | None = None  # None: the first column only

    def is_text(self, column: str) -> bool:
        return column == self.columns[0] if self.text_columns is None else column in self.text_columns


# -- renderers ------------------------------------------------------------------------------------
def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(table: TextTable) -> str:
    """A Markdown (GitHub) table; the title is not part of it."""
    align = ["---" if table.is_text(c) else "---:" for c in table.columns]
    lines = ["| " + " | ".join(_md_cell(c) for c in table.columns) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


NAME_WIDTH = 28  # the most characters per line of a table's first column (method, cue, source)


def to_rich(table: TextTable):
    """A :class:`rich.table.Table` whose cells are literal text (never console markup)."""
    from rich.table import Table
    from rich.text import Text

    out = Table(title=Text(table.title) if table.title else None)
    for i, column in enumerate(table.columns):
        if i == 0:
            # the rows' names get a set width (longer ones fold onto more lines): a table wider than the
            # console is fitted by shrinking the columns without one, and rich would squeeze them first
            longest = max([len(column), *(len(str(row[i])) for row in table.rows)])
            out.add_column(Text(column), overflow="fold", width=min(longest, NAME_WIDTH))
        elif table.is_text(column):
            out.add_column(Text(column), overflow="fold")
        else:
            out.add_column(Text(column), justify="right", no_wrap=True)
    for row in table.rows:
        out.add_row(*(Text(str(cell)) for cell in row))
    return out


def to_json(document) -> str:
    """Strict JSON (NaN and infinities as null), as ``--json`` prints and results.json holds."""
    return json.dumps(json_safe(document), indent=2, allow_nan=False)


# -- the tables of a bench ------------------------------------------------------------------------
COLUMNS = ("method", "accuracy", "95% interval", "McNemar p", "macro-F1", "FD ratio", "train s", "images/s")


def p_cell(row: BenchRow, reference: str | None) -> str:
    """The McNemar p-value against the reference, ``reference`` in the reference's own row."""
    if row.spec == reference and not row.error:
        return "reference"
    return fmt_p((row.paired or {}).get("p_value"))


def row_cells(row: BenchRow, reference: str | None = None) -> list[str]:
    """The display strings of one method, in :data:`COLUMNS` order."""
    return [
        row.spec,
        fmt_pct(row.accuracy),
        fmt_interval(row.accuracy_ci95),
        p_cell(row, reference),
        fmt_num(row.macro_f1, 4),
        fmt_num(row.fd_ratio, 3),
        fmt_num(row.train_seconds, 1),
        fmt_num(row.images_per_second, 1),
    ]


def audit_status(row: AuditRow) -> str:
    """The status cell of an audit row in a bench table: chance, and whether the cue is a shortcut."""
    if row.error:
        return f"audit failed: {row.error}"
    return f"audit, chance {fmt_pct(row.chance)}" + (": SHORTCUT" if row.far_above_chance else "")


def summary_table(results: BenchResults, *, detailed_status: bool = True) -> TextTable:
    """One row per method; the last column says trained / reused / failed (with the reason if detailed).
    Under the methods, one ``audit: <cue>`` row per shortcut cue measured on the same split."""
    table = TextTable(
        [*COLUMNS, "status"],
        title=f"gfp bench: {results.split} split of {results.dataset['path']}",
        text_columns=frozenset({"method", "status"}),
    )
    for row in results.methods:
        status = f"failed: {row.error}" if row.error and detailed_status else row.status
        table.rows.append([*row_cells(row, results.reference), status])
    if results.fd_reference is not None:
        ratio = fmt_num(results.fd_reference.get("fd_ratio"), 3)
        table.rows.append([PIXELS, "-", "-", "-", "-", ratio, "-", "-", "FD reference"])
    for row in results.audit:
        interval = [row.accuracy - row.ci95, row.accuracy + row.ci95] if row.ci95 is not None else None
        cells = [row.label, fmt_pct(row.accuracy), fmt_interval(interval), "-", "-", "-", "-", "-"]
        table.rows.append([*cells, audit_status(row)])
    return table


AUDIT_COLUMNS = ("cue", "accuracy", "+-95%", "chance", "shortcut at", "n", "verdict")


def audit_table(rows: list[AuditRow], title: str = "shortcut audit") -> TextTable:
    """Each cue's held-out accuracy next to chance and the far-above-chance threshold (gfp audit)."""
    table = TextTable(
        list(AUDIT_COLUMNS), title=title, text_columns=frozenset({"cue", "verdict", "classifier"})
    )
    for row in rows:
        far = fmt_pct(far_threshold(row.chance)) if row.chance is not None else "-"
        table.rows.append(
            [
                row.cue,
                fmt_pct(row.accuracy),
                fmt_pct(row.ci95),
                fmt_pct(row.chance),
                far,
                str(row.n),
                verdict(row),
            ]
        )
    return table


def per_class_table(results: BenchResults) -> TextTable:
    """Per-class test accuracy (recall): one row per method, one column per class."""
    table = TextTable(["method", *results.classes], title="per-class accuracy")
    for row in results.methods:
        accuracies = row.per_class_accuracy or {}
        table.rows.append([row.spec, *(fmt_pct(accuracies.get(c)) for c in results.classes)])
    return table


def confusion_table(classes: list[str], matrix, per_class: dict, title: str = "") -> TextTable:
    """A confusion matrix (rows: true source, columns: predicted) with each class's accuracy."""
    table = TextTable(["true \\ predicted", *classes, "accuracy"], title=title)
    for c, counts in zip(classes, matrix or []):
        table.rows.append([c, *map(str, counts), fmt_pct((per_class or {}).get(c))])
    return table


# -- robustness (``--attacks``): a section of its own -------------------------------------------------
def robustness_table(results: BenchResults) -> TextTable:
    """The paper's immunisation table: per method, clean accuracy, then per attack "Atk" (the original run
    on attacked test images) and "Dfs" (the run immunized against that attack; "-" when the method cannot
    be fine-tuned)."""
    attacks = list(dict.fromkeys(r.attack for r in results.robustness))
    table = TextTable(
        ["method", "clean", *(f"{a} {col}" for a in attacks for col in ("Atk", "Dfs"))],
        title="robustness: accuracy under attack (Atk: original, Dfs: immunized)",
    )
    for spec in dict.fromkeys(r.spec for r in results.robustness):
        cells = {r.attack: r for r in results.robustness if r.spec == spec}
        clean = next((r.clean for r in cells.values() if r.clean is not None), None)
        row = [spec, fmt_pct(clean)]
        for a in attacks:
            r = cells.get(a)
            row += [fmt_pct(r.atk if r else None), fmt_pct(r.dfs if r else None)]
        table.rows.append(row)
    return table


def scale_notes(results: BenchResults) -> list[str]:
    """One line per attack: how its strength relates to the image size, as the bench recorded it."""
    recorded = {}
    for r in results.robustness:
        recorded.setdefault(r.attack, r.scale)
    return [
        f"{attack}: {scale or 'not recorded (results from before gfp recorded it: absolute pixels)'}"
        for attack, scale in recorded.items()
    ]


def immunize_note(results: BenchResults) -> str | None:
    """How long each Dfs run was fine-tuned, as the bench recorded it (None before it was recorded)."""
    epochs = {r.attack: r.immunize_epochs for r in results.robustness if r.immunize_epochs is not None}
    if not epochs:
        return None
    said = {a: f"{n} epoch{'s' * (n != 1)}" for a, n in epochs.items()}
    if len(set(said.values())) == 1:
        return f"Dfs: fine-tuned {next(iter(said.values()))} against each attack."
    return "Dfs: fine-tuned " + ", ".join(f"{n} against {a}" for a, n in said.items()) + "."


def curves_table(results: BenchResults) -> TextTable:
    """Every severity curve as rows: method, attack, then accuracy at each swept value."""
    table = TextTable(
        ["method", "attack", "accuracy at parameter = value"],
        title="accuracy versus severity",
        text_columns=frozenset({"method", "attack", "accuracy at parameter = value"}),
    )
    for c in results.curves:
        points = ", ".join(f"{c.parameter}={v:g}: {fmt_pct(a)}" for v, a in zip(c.values, c.accuracy))
        label = c.spec if c.run is None else f"{c.spec} (immunized)"
        table.rows.append([label, c.attack, points])
    return table


def robustness_markdown(results: BenchResults) -> list[str]:
    if not results.robustness and not results.curves:
        return []
    lines = ["## Robustness", ""]
    if results.robustness:
        lines += [
            "Accuracy on the attacked test split (each attack at the paper's ranges, seeded). Atk: the "
            "method's run; Dfs: that run fine-tuned on attacked training images (`gfp immunize`).",
            "",
            to_markdown(robustness_table(results)),
        ]
        errors = [r for r in results.robustness if r.error]
        lines += [f"- {_md_cell(r.spec)} under {r.attack}: {_md_cell(r.error)}" for r in errors]
        lines += ["", "Attack strength and the image size:", ""]
        lines += [f"- {_md_cell(note)}" for note in scale_notes(results)]
        if epochs := immunize_note(results):
            lines += ["", epochs]
    if results.curves:
        lines += [
            "",
            "Accuracy versus severity ([severity.png](severity.png), data in severity.json):",
            "",
            to_markdown(curves_table(results)),
        ]
    return lines


def results_markdown(results: BenchResults) -> str:
    """results.md: the comparison, per-class accuracy, notes and links to the confusion PNGs."""
    ds = results.dataset
    test_counts = ds.get("counts", {}).get(results.split, {})
    lines = [
        f"# gfp bench: {len(results.methods)} method(s) on `{ds['path']}`",
        "",
        f"Classes: {', '.join(ds['classes'])}; {ds.get('resolution')}x{ds.get('resolution')} images; "
        f"{sum(test_counts.values())} {results.split} images; seed {results.seed}"
        + (
            f", {results.repeats} repeats (seeds {results.seed} to {results.seed + results.repeats - 1})"
            if results.repeats > 1
            else ""
        )
        + f"; created {results.created}.",
        "",
        "Accuracy (mean over the repeats) with its 95% interval and macro-F1 on the test split; McNemar p "
        "against the reference method on the same images; FD ratio (paper §7) of the image fingerprints, for "
        "methods that have them (higher = sources more separable); train time from the run; attribution "
        "speed measured while evaluating. How each is computed: see the notes.",
        "",
        to_markdown(summary_table(results)),
        "## Per-class accuracy",
        "",
        to_markdown(per_class_table(results)),
    ]
    remarks = notes(results)
    if remarks:
        lines += ["## Notes", "", *(f"- {_md_cell(r)}." for r in remarks), ""]
    plotted = [row for row in results.methods if row.confusion_matrix is not None]
    if plotted:
        lines += ["## Confusion matrices", ""]
        lines += [f"- `{r.spec}`: [confusion_{r.slug}.png](confusion_{r.slug}.png)" for r in plotted]
        lines.append("")
    lines += robustness_markdown(results)
    return "\n".join(lines)


def print_results(results: BenchResults, console) -> None:
    """The comparison on a rich console: the same strings as results.md."""
    console.print(to_rich(summary_table(results, detailed_status=False)))
    console.print(to_rich(per_class_table(results)))
    for remark in notes(results):
        console.print(remark, highlight=False, markup=False)
    if results.robustness:
        console.print(to_rich(robustness_table(results)))
        for note in scale_notes(results):
            console.print(f"attack strength, {note}", highlight=False, markup=False)
    if results.curves:
        console.print(to_rich(curves_table(results)))
