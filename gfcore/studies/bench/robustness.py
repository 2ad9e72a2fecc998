"""Robustness in a bench (``gfp bench --attacks``; the paper's section on robustness): each method's
accuracy on the attacked test split ("Atk"), the same for its run immunized against each attack ("Dfs",
methods that train by gradient descent), and accuracy-versus-severity curves for the attacks that declare
a severity (``Attack.severity`` and ``Attack.severity_values``).

Immunized runs live beside the method's run, ``<runs>/<slug>--immunized-<attack>``, and are reused,
resumed or trained like the bench's own runs. Every attacked evaluation draws from the bench seed, so it
gives what ``gfp evaluate RUN DATASET --attack NAME --seed S`` gives."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from gfcore.errors import GfpError, NothingToDo
from gfcore.inference.attacks import build_attack, same_attack
from gfcore.studies.bench.rows import BenchResults, RobustnessRow, SeverityCurve
from gfcore.terminal.progress import Reporter


class _Sweeps(Mapping):
    """attack -> (its severity field, the values swept, from mild to severe), as the registered attacks
    declare them; read from the registry on every look-up, so a plugin registered later counts."""

    def _table(self) -> dict[str, tuple[str, list[float]]]:
        from gfcore.plugins import get_registries

        attacks = get_registries().attacks
        classes = {name: attacks.get(name) for name in attacks.names()}
        return {
            n: (c.severity, list(c.severity_values)) for n, c in classes.items() if c.severity is not None
        }

    def __getitem__(self, attack: str) -> tuple[str, list[float]]:
        return self._table()[attack]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


SWEEPS: Mapping[str, tuple[str, list[float]]] = _Sweeps()
DEFAULT_IMMUNIZE_EPOCHS = 5
#: fine-tuning epochs of an immunized run: one count for every attack, or attack -> count with the key
#: "" for the attacks not named (``gfp bench --immunize-epochs 8 --immunize-epochs combo=40``)
ImmunizeEpochs = int | Mapping[str, int]


def epochs_for(immunize_epochs: ImmunizeEpochs, attack: str) -> int:
    """The fine-tuning epochs of the run immunized against ``attack``."""
    if isinstance(immunize_epochs, int):
        return immunize_epochs
    return immunize_epochs.get(attack, immunize_epochs.get("", DEFAULT_IMMUNIZE_EPOCHS))


def check_attack_names(attacks: list[str]) -> list[str]:
    """Plain registered names (``--attacks noise,blur``): checked before anything trains."""
    for name in attacks:
        if ":" in name or "=" in name:
            raise GfpError(
                f"--attacks takes attack names ({name!r} has parameters); the paper's ranges are used"
            )
        build_attack(name)  # an unknown name: one line listing the valid ones
    return attacks


def immunized_dir(runs_root: Path, slug: str, attack: str) -> Path:
    return Path(runs_root) / f"{slug}--immunized-{attack}"


def obtain_immunized(parent: Path, dataset, attack: str, out: Path, epochs: int, seed: int, device, reporter):
    """The run of ``parent`` immunized against ``attack`` in ``out``: reused when finished, resumed when
    not, trained when absent; another run there is an error (never overwritten)."""
    from gfcore.runs.attributor import read_run_json, run_dir_of
    from gfcore.studies.immunize import immunize_run

    if run_dir_of(out).state() == "new":
        immunize_run(parent, dataset, attack, out, epochs=epochs, seed=seed, device=device, reporter=reporter)
        return
    info = read_run_json(out)
    same = (
        same_attack(info.get("attack"), attack)  # the spec, and what it means today (blur's scaling)
        and info.get("parent", {}).get("path") == str(Path(parent).resolve())
        and info["dataset"]["hash"] == dataset.hash
    )
    if not same:
        raise GfpError(
            f"{out} holds another run (not {parent} immunized against {attack} as defined now); delete it"
        )
    try:
        immunize_run(parent, dataset, None, out, epochs=epochs, device=device, resume=True, reporter=reporter)
    except NothingToDo:
        reporter.log(f"reusing {out}")


def _accuracy(attributor, test, spec: str | None, seed: int) -> float:
    from gfcore.training.loop import split_accuracy

    return split_accuracy(attributor, test, attack=build_attack(spec) if spec else None, seed=seed)


def _curves(attributor, test, spec: str, attacks, seed, reporter, run=None) -> list[SeverityCurve]:
    curves = []
    for attack in (a for a in attacks if a in SWEEPS):
        parameter, values = SWEEPS[attack]
        accuracy = [_accuracy(attributor, test, f"{attack}:{parameter}={v}", seed) for v in values]
        curves.append(SeverityCurve(spec, attack, parameter, values, accuracy, run))
        reporter.log(
            f"{spec}{' immunized' if run else ''} vs {attack} {parameter}: "
            + ", ".join(f"{v:g}: {100 * a:.1f}%" for v, a in zip(values, accuracy))
        )
    return curves


def run_robustness(
    results: BenchResults,
    dataset,
    attacks: list[str],
    *,
    runs_root: Path,
    seed: int,
    device,
    reporter: Reporter,
    immunize_epochs: ImmunizeEpochs = DEFAULT_IMMUNIZE_EPOCHS,
    curves: bool = True,
) -> None:
    """Fill ``results.robustness`` and ``results.curves`` for every method that ran without error."""
    from gfcore.runs.attributor import load_run
    from gfcore.training.neural import NeuralAttributor

    test = dataset.split("test")
    for row in (r for r in results.methods if not r.error):
        attributor, _ = load_run(row.run, device)
        trainable = isinstance(attributor, NeuralAttributor)
        clean = row.repeats[0]["accuracy"] if row.repeats else row.accuracy  # the attacked run's (seed S)
        for attack in attacks:
            # recorded as text in every new row, so None keeps meaning "a file from before it was recorded"
            scale = build_attack(attack).scale_note() or "not stated by the attack"
            cell = RobustnessRow(row.spec, attack, clean=clean, scale=scale)
            try:
                cell.atk = _accuracy(attributor, test, attack, seed)
                if trainable:
                    out = immunized_dir(runs_root, row.slug, attack)
                    cell.immunize_epochs = epochs_for(immunize_epochs, attack)
                    reporter.log(f"{row.spec}: immunizing against {attack} into {out}")
                    obtain_immunized(
                        Path(row.run), dataset, attack, out, cell.immunize_epochs, seed, device, reporter
                    )
                    immune, _ = load_run(out, device)
                    cell.immunized_run, cell.dfs = str(out), _accuracy(immune, test, attack, seed)
                    if curves and attack in SWEEPS:
                        results.curves += _curves(immune, test, row.spec, [attack], seed, reporter, str(out))
            except Exception as exc:  # one cell's failure must not end the bench
                cell.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                reporter.warn(f"{row.spec} under {attack}: {cell.error}")
            results.robustness.append(cell)
            reporter.log(
                f"{row.spec} under {attack}: Atk {_pct(cell.atk)}, Dfs {_pct(cell.dfs) if trainable else '-'}"
            )
        if curves:
            results.curves += _curves(attributor, test, row.spec, attacks, seed, reporter)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"
