"""The demo's experiments: the paper's main experiments in miniature, on the bundled photographs and the
shipped generators.

* existence  -- {real, ProGAN, SNGAN, CramerGAN, MMDGAN}: do GANs leave fingerprints at all?
* uniqueness -- {real, ProGAN seed 0..3}: do GANs that differ only in their training seed leave
  different fingerprints?
* training data -- {real, ProGAN trained on patch windows 0, 2000 and 20000}: do GANs that differ only in
  their training data (the same recipe and seed; windows 0 and 2000 share 18,000 of 20,000 patches,
  0 and 20000 none) leave different fingerprints?
* modern     -- {real, DCGAN, StyleGAN2, DDPM with its ancestral sampler, the same DDPM with DDIM}
  (`gfp demo --modern`): generators of today, and one diffusion model's weights sampled two ways.
* superiority -- every method (the learned network and the baselines) on every task.

Real images are patches cropped from disjoint regions of the photographs per split; generated images of
each split come from other latent seeds of the same generator (so no split shares an image with another).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from gfcore import (
    SPLITS,
    Reporter,
    fmt_num,
    fmt_pct,
    get_registries,
    load_shipped_gan,
    parse_spec,
    write_dataset,
    write_json,
    write_text,
)
from gfcore.studies import (
    PIXELS,
    BenchResults,
    RobustnessRow,
    TextTable,
    confusion_table,
    fmt_interval,
    fmt_p,
    paired_note,
    to_markdown,
)

#: the registered real source (gfcore.RealSource) of every task's real class; the others are shipped generators
REAL_SOURCE = "photos"
EXISTENCE = {
    "real": REAL_SOURCE,
    "ProGAN": "progan_seed0",
    "SNGAN": "sngan",
    "CramerGAN": "cramergan",
    "MMDGAN": "mmdgan",
}
UNIQUENESS = {
    "real": REAL_SOURCE,
    "ProGAN_seed0": "progan_seed0",
    "ProGAN_seed1": "progan_seed1",
    "ProGAN_seed2": "progan_seed2",
    "ProGAN_seed3": "progan_seed3",
}
TRAINING_DATA = {
    "real": REAL_SOURCE,
    "ProGAN_window0": "progan_window0",
    "ProGAN_window2000": "progan_window2000",
    "ProGAN_window20000": "progan_window20000",
}
#: a shipped generator's name, with ``:key=value,...`` for its sampling parameters (the same weights
#: sampled another way are a source of their own); strided samplers keep a CPU demo in minutes
MODERN = {
    "real": REAL_SOURCE,
    "DCGAN": "dcgan",
    "StyleGAN2": "stylegan",
    "DDPM": "ddpm:sampler=ddpm,sample_steps=20",
    "DDIM": "ddpm:sampler=ddim,sample_steps=10",
}
TASKS = {
    "existence": EXISTENCE,
    "uniqueness": UNIQUENESS,
    "training_data": TRAINING_DATA,
    "modern": MODERN,
}
#: the tasks of the quick demo; ``--modern`` (and ``--all``) add ``modern``
QUICK_TASKS = ("existence", "uniqueness", "training_data")
LATENT_SEEDS = {"train": 101, "val": 202, "test": 303}  # disjoint latent draws per split
ROBUSTNESS_TASK = "existence"
#: task -> the task whose learned run it starts from (DemoSettings.warm_start)
WARM_START_FROM = {"uniqueness": "existence", "training_data": "existence", "modern": "existence"}
ROBUSTNESS_ATTACKS = ("noise", "blur", "crop", "jpeg", "relight", "combo")


@dataclass
class DemoSettings:
    resolution: int = 32  # the shipped generators' resolution
    train_per_source: int = 3000
    val_per_source: int = 200
    test_per_source: int = 500
    # width 0.125 trains 2.4x faster than 0.25 on a CPU and reached the same validation accuracy for the
    # same number of images seen. The paper's optimiser (Adam, beta1 0, constant rate) at lr 0.01 instead
    # of 1e-3 reached 99.8% existence validation accuracy after 6 epochs, where 1e-3 had 96.4% after 20
    # (a sweep over lr on validation only: benchmarks/README.md, "The quick demo"); patience stops a task
    # whose validation accuracy has stopped rising. On the current generators (ProGAN seeds with EMA 0.999
    # at 6,400 iterations) the constant rate left validation accuracy still rising at 7 epochs (five-source
    # 93.4%, seeds 94.8%) and at 96.7% and 96.5% after 11; a cosine decay over 11 epochs reached 98.6% and
    # 98.2% (over 9: 96.4% and 96.7%; benchmarks/README.md, "The quick demo"), hence cosine and 11 epochs.
    learned: str = "learned:width=0.125,patience=3,lr=0.01,lr_schedule=cosine"
    epochs: int = 11
    # Epochs of the learned network on the tasks that need more than ``epochs``. The modern task's
    # validation accuracy was still rising after 11: from the same existence weights, 95.0% after 11 and
    # 96.2% after 20 (docs/results/demo.md), hence 20. `gfp demo --epochs N` sets every task's.
    task_epochs: dict[str, int] = field(default_factory=lambda: {"modern": 20})
    # The seed task's learned network starts from the five-source task's weights (gfp train --init-from;
    # the class head starts afresh). Both tasks hold the real class and ProGAN seed 0, and only training
    # images reach either network. On the seed task's validation split this reached 96.3% after 5 epochs
    # where a random start had 89.7% (92.3% after 6, 95.3% after 9); benchmarks/README.md, "The quick demo".
    # The modern task starts from it too: from a random start its validation accuracy was 89.0% after
    # the 11 epochs and still rising, from the five-source weights 95.8% (benchmarks/README.md, "The
    # quick demo").
    warm_start: bool = True
    baselines: list[str] = field(default_factory=lambda: ["knn", "eigenface", "prnu", "dct"])
    tasks: list[str] = field(default_factory=lambda: list(QUICK_TASKS))
    seed: int = 0
    repeats: int = 1  # `gfp demo --repeats K`: every method trained K times (seeds seed .. seed+K-1)
    # `gfp demo --all`: the robustness table (paper §6) on the five-source task
    robustness: bool = False
    attacks: list[str] = field(default_factory=lambda: list(ROBUSTNESS_ATTACKS))
    # fine-tuning epochs per attack ("" for the attacks not named). Against the combination, validation
    # accuracy under attack rose from 69% after 8 epochs to 87% at 30, and patience stopped it at 33
    # (docs/results/robustness.md), hence 40 with patience; 16 took every single attack above 90%
    immunize_epochs: dict[str, int] = field(default_factory=lambda: {"": 16, "combo": 40})
    # `gfp demo --all`: the standard degradation table (gfp bench --degradations) on the five-source task:
    # every method as trained under fixed downsampling, JPEG, blur and their chain
    degradations: bool = False
    # `gfp demo --all` also trains visNet on the five-source task and draws its figures (figures.py). On
    # the previous generators' task it reached 88.5% test accuracy after 8 epochs and 92.5% after 14 (best
    # validation at 13; README, "Seeing fingerprints"), so 14
    visnet: str = "visnet:width=0.125,lr=0.01,epochs=14"
    visnet_tsne_per_source: int = 200
    # ... and the open-set protocol (openset_step.py): one run per held-out source or family of the seed,
    # modern and training-data tasks, ten in all; 6 epochs each keep it near the other steps' time
    openset_epochs: int = 6
    # ... and the persistence study (gfp_persistence): 8 epochs at width 0.0625 and lr 0.01 took 19 minutes
    # of one thread. At the paper's lr (1e-3) the whole-image network reached only 48.8% on the current
    # five-source task in that budget, at 0.01 92.2% (README, "Where fingerprints live")
    persistence_epochs: int = 8
    persistence_width: float = 0.0625
    persistence_lr: float = 0.01

    # Real training patches per task, as a multiple of train_per_source (1 where a task is not named):
    # the photographs' patches cost nothing to draw, and the real class's test regions are further from
    # its training ones than a generator's test draws are from its training draws. On the modern task,
    # validation accuracy with 1x / 2x / 4x the real training patches (the generators keeping 3,000):
    # 95.5 / 96.0 / 96.2% (docs/results/demo.md), hence 4x.
    real_train_factor: dict[str, int] = field(default_factory=lambda: {"modern": 4})

    def learned_spec(self, task: str) -> str:
        """The learned network's spec on ``task``: ``learned`` with its epochs on that task."""
        epochs = self.task_epochs.get(task, self.epochs)
        joiner = "," if ":" in self.learned else ":"
        return f"{self.learned}{joiner}epochs={epochs}"

    def counts(self) -> dict[str, int]:
        return {"train": self.train_per_source, "val": self.val_per_source, "test": self.test_per_source}

    def count(self, task: str, split: str, source: str) -> int:
        """Images of ``source`` in ``split`` of ``task``."""
        if split == "train" and source == REAL_SOURCE:
            return self.real_train_factor.get(task, 1) * self.train_per_source
        return self.counts()[split]


def source_images(source: str, split: str, n: int, settings: DemoSettings, device, cache: dict) -> np.ndarray:
    """uint8 [n, 3, R, R] from the bundled photos or a shipped generator (memoised across tasks)."""
    key = (source, split, n)
    if key not in cache:
        if source == REAL_SOURCE:
            cls = get_registries().real_sources.get(source)
            real = cls(cls.Config())
            cache[key] = real.sample(n, settings.resolution, seed=settings.seed, split=split)
        else:
            name, sampling = parse_spec(source)
            generator = load_shipped_gan(name, device, sampling or None)
            cache[key] = generator.sample(n, seed=LATENT_SEEDS[split] + 1000 * settings.seed).numpy()
    return cache[key]


def build_task_dataset(task: str, out: Path, settings: DemoSettings, device, reporter: Reporter, cache: dict):
    sources = TASKS[task]
    splits = {}
    job = reporter.task(f"{task}: sampling sources", total=len(sources) * len(SPLITS))
    for split in settings.counts():
        images, labels = [], []
        for label, source in enumerate(sources.values()):
            n = settings.count(task, split, source)
            images.append(source_images(source, split, n, settings, device, cache))
            labels.append(np.full(n, label, dtype=np.int64))
            job.advance()
        splits[split] = (np.concatenate(images), np.concatenate(labels))
    job.done()
    provenance = {
        "task": task,
        "sources": sources,
        "latent_seeds": LATENT_SEEDS,
        "settings": asdict(settings),
    }
    return write_dataset(out, list(sources), splits, provenance)


def run_demo(out: Path, settings: DemoSettings, device, reporter: Reporter) -> dict:
    from gfcore.studies import run_bench, write_results

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    learned_specs = {task: settings.learned_spec(task) for task in settings.tasks}
    cache: dict = {}
    tasks: dict[str, BenchResults] = {}
    datasets = {}
    for task in settings.tasks:
        reporter.log(f"== {task}: {', '.join(TASKS[task])}")
        dataset = build_task_dataset(task, out / "datasets" / task, settings, device, reporter, cache)
        datasets[task] = dataset
        robust = settings.robustness and task == ROBUSTNESS_TASK
        results = run_bench(
            dataset,
            out / "bench" / task,
            [learned_specs[task], *settings.baselines],
            seed=settings.seed,
            device=device,
            reporter=reporter,
            attacks=settings.attacks if robust else None,
            immunize_epochs=settings.immunize_epochs,
            repeats=settings.repeats,
            init_from=_warm_start(settings, learned_specs, task, tasks),
            degradations=settings.degradations and task == ROBUSTNESS_TASK,
        )
        write_results(results, out / "bench" / task)  # results.json/.md + a confusion PNG per method
        tasks[task] = results
    tables = {
        "format": "gfp-demo-tables",
        "version": 1,
        "settings": asdict(settings),
        "learned_spec": settings.learned_spec(""),  # the spec of every task not in task_epochs
        "learned_specs": learned_specs,
        "tasks": {task: _headline(res, learned_specs[task]) for task, res in tasks.items()},
        "superiority": _superiority(tasks, learned_specs, settings.learned_spec("")),
        "robustness": _robustness(tasks.get(ROBUSTNESS_TASK)) if settings.robustness else None,
        "degradations": _degradations(tasks.get(ROBUSTNESS_TASK)) if settings.degradations else None,
    }
    if settings.robustness:  # `--all`: the figures too (visNet's, and any step added to FIGURE_STEPS)
        from .figures import run_figure_steps

        run_figure_steps(tables, out, datasets, settings, device, reporter)
    tables["seconds"] = round(time.perf_counter() - started, 1)
    write_json(out / "tables.json", tables)
    write_text(out / "tables.md", tables_markdown(tables))
    return tables


def _warm_start(settings: DemoSettings, learned_specs: dict, task: str, done: dict) -> dict | None:
    """A task of WARM_START_FROM starts its learned network from the five-source task's finished run (its
    repeat ``i`` from repeat ``i``), when that one trained; every other task and method starts at random."""
    source_task = WARM_START_FROM.get(task)
    source = done.get(source_task)
    if not settings.warm_start or source is None or source.row(learned_specs[source_task]).error:
        return None
    return {learned_specs[task]: Path(source.row(learned_specs[source_task]).run)}


def _headline(results: BenchResults, learned_spec: str) -> dict:
    row = results.row(learned_spec)
    return {
        "method": learned_spec,
        "classes": results.classes,
        "accuracy": row.accuracy,
        "accuracy_ci95": row.accuracy_ci95,
        "ci_method": row.ci_method,
        "repeats": len(row.repeats),
        "macro_f1": row.macro_f1,
        "per_class_accuracy": row.per_class_accuracy,
        "confusion_matrix": row.confusion_matrix,
        "counts": results.dataset.get("counts", {}),
        "init_from": row.init_from,
        "error": row.error,
    }


def _superiority(tasks: dict[str, BenchResults], learned_specs: dict, learned_label: str) -> list[dict]:
    """One row per method across the tasks; the learned network's row joins its per-task specs (they
    differ in epochs only) under ``learned_label``."""
    rows: dict[str, dict] = {}
    for task, results in tasks.items():
        for m in results.methods:
            label = learned_label if m.spec == learned_specs[task] else m.spec
            row = rows.setdefault(label, {"method": label})
            row[f"{task}_accuracy"] = m.accuracy
            row[f"{task}_ci95"] = m.accuracy_ci95
            row[f"{task}_p_value"] = (m.paired or {}).get("p_value")
            row[f"{task}_verdict"] = (
                "reference" if m.spec == results.reference else (m.paired or {}).get("verdict")
            )
            row[f"{task}_paired_note"] = paired_note(m) if m.paired else None
            row[f"{task}_fd_ratio"] = m.fd_ratio
            row[f"{task}_error"] = m.error
        if results.fd_reference is not None:  # the raw pixels' FD ratio, at the same dimension
            row = rows.setdefault(PIXELS, {"method": PIXELS, "reference": True})
            row[f"{task}_fd_ratio"] = results.fd_reference.get("fd_ratio")
        for (
            a
        ) in results.audit:  # what a trivial cue alone reaches on the same test split (gfcore.studies.audit)
            row = rows.setdefault(a.label, {"method": a.label, "audit": True})
            row[f"{task}_accuracy"] = a.accuracy
            row[f"{task}_fd_ratio"] = None
            row[f"{task}_chance"] = a.chance
            row[f"{task}_shortcut"] = a.far_above_chance
            row[f"{task}_error"] = a.error
    return list(rows.values())


def _robustness(results: BenchResults | None) -> dict | None:
    """The robustness rows and curves of the five-source task (as results.json holds them)."""
    if results is None:
        return None
    doc = results.to_dict()
    return {
        "task": ROBUSTNESS_TASK,
        "rows": doc.get("robustness", []),
        "curves": doc.get("curves", []),
        "figure": f"bench/{ROBUSTNESS_TASK}/severity.png",
    }


def _degradations(results: BenchResults | None) -> dict | None:
    """The standard degradation rows of the five-source task (as results.json holds them)."""
    if results is None:
        return None
    return {"task": ROBUSTNESS_TASK, "rows": results.to_dict().get("degradations", [])}


SUPERIORITY = ("accuracy", "95% interval", "McNemar p", "FD ratio")


def superiority_table(tables: dict) -> TextTable:
    """Every method on every task: test accuracy with its interval, the paired test against the learned
    network and the FD ratio; under them the raw pixels' FD ratio and the shortcut audit's rows."""
    tasks = list(tables["tasks"])
    table = TextTable(["method", *(f"{task} {what}" for task in tasks for what in SUPERIORITY)])
    for r in tables["superiority"]:
        cells = [r["method"]]
        for task in tasks:
            verdict = r.get(f"{task}_verdict")
            p = "reference" if verdict == "reference" else fmt_p(r.get(f"{task}_p_value"))
            cells += [
                fmt_pct(r.get(f"{task}_accuracy")),
                fmt_interval(r.get(f"{task}_ci95")),
                p,
                fmt_num(r.get(f"{task}_fd_ratio"), 2),
            ]
        table.rows.append(cells)
    return table


def tables_markdown(tables: dict) -> str:
    lines = [
        "# gfp demo: the paper in miniature",
        "",
        f"Learned network: `{tables['learned_spec']}`; {tables['seconds']} s in all.",
        "",
        *_other_epochs(tables),
    ]
    for task, t in tables["tasks"].items():
        test_counts = t["counts"].get("test", {})
        lines += [
            f"## {task}: {', '.join(t['classes'])}",
            "",
            f"Test accuracy **{fmt_pct(t['accuracy'])}** (95% interval {fmt_interval(t.get('accuracy_ci95'))}: "
            f"{t.get('ci_method')}), macro-F1 {fmt_num(t['macro_f1'], 2)} "
            f"({sum(test_counts.values())} test images, {min(test_counts.values(), default=0)} per source)",
            "",
            to_markdown(confusion_table(t["classes"], t["confusion_matrix"], t["per_class_accuracy"])),
        ]
        if t.get("init_from"):
            lines += [
                f"The learned network started from the weights of `{t['init_from']}` (`gfp train "
                "--init-from`; its class head afresh), not from a random initialisation; the baselines "
                "train on this task alone.",
                "",
            ]
    lines += [
        "## superiority: every method on every task",
        "",
        to_markdown(superiority_table(tables)),
        *superiority_notes(tables),
    ]
    if any(r.get("audit") for r in tables["superiority"]):
        lines += [
            "Rows `audit: ...` are the shortcut audit (`gfp audit`): what one trivial cue alone reaches on the "
            "same test split (chance is one over the number of classes of the task; a cue at or above chance + "
            "0.5 * (1 - chance) is a shortcut).",
            "",
        ]
    if tables.get("robustness"):
        lines += robustness_lines(tables["robustness"])
    if tables.get("degradations"):
        lines += degradation_lines(tables["degradations"])
    if tables.get("figures"):
        from .figures import figures_lines

        lines += figures_lines(tables)
    return "\n".join(lines)


def _other_epochs(tables: dict) -> list[str]:
    """A line naming the tasks whose learned network trained another number of epochs, if any."""
    other = {
        task: spec for task, spec in tables.get("learned_specs", {}).items() if spec != tables["learned_spec"]
    }
    if not other:
        return []
    return ["On " + "; on ".join(f"{task}: `{spec}`" for task, spec in other.items()) + ".", ""]


def superiority_notes(tables: dict) -> list[str]:
    """How sure the superiority table is: the intervals, the paired tests and the FD ratios."""
    repeats = tables["settings"].get("repeats", 1)
    how = f"mean of {repeats} runs (seeds {tables['settings']['seed']} and up), t-interval over them"
    how = how if repeats > 1 else "one run, with the Wilson interval over its test images"
    lines = [
        f"Accuracy: {how}. McNemar p: exact McNemar test against the learned network on the same test "
        + ("images, per repeat, the largest p shown" if repeats > 1 else "images")
        + "; a method is better or worse only at p < 0.05. FD ratio: every method's features reduced to the "
        "same number of dimensions (32 by default) by a PCA fitted on training features (mean over the repeats); the raw pixels' row is the reference "
        "(the paper's Inception reference needs pretrained weights, not available offline).",
        "",
    ]
    for r in tables["superiority"]:
        lines += [
            f"- {task}: {r[f'{task}_paired_note']}"
            for task in tables["tasks"]
            if r.get(f"{task}_paired_note")
        ]
    return [*lines, ""]


def robustness_lines(robustness: dict) -> list[str]:
    """`gfp demo --all`: the immunisation table (Atk / Dfs per attack) of the five-source task."""
    from gfcore.studies import immunize_note, robustness_table, scale_notes

    holder = BenchResults(dataset={"classes": []}, split="test", seed=0, methods=[], created="", versions={})
    holder.robustness = [RobustnessRow.from_dict(r) for r in robustness["rows"]]
    strengths = [f"- {note}" for note in scale_notes(holder)]
    return [
        f"## robustness: {robustness['task']} task under the paper's attacks",
        "",
        "Atk: the trained method on attacked test images; Dfs: the learned network immunized against that "
        f"attack (`gfp immunize`). Severity curves: [{robustness['figure']}]({robustness['figure']}).",
        "",
        to_markdown(robustness_table(holder)),
        "Attack strength and the image size:",
        "",
        *strengths,
        "",
        *([note, ""] if (note := immunize_note(holder)) else []),
    ]


def degradation_lines(degradations: dict) -> list[str]:
    """`gfp demo --all`: the standard degradation table (`gfp bench --degradations`) of the five-source
    task, rendered as the bench's results.md renders it."""
    from gfcore.studies import DegradationRow, degradation_markdown

    holder = BenchResults(dataset={"classes": []}, split="test", seed=0, methods=[], created="", versions={})
    holder.degradations = [DegradationRow.from_dict(r) for r in degradations["rows"]]
    section = degradation_markdown(holder).strip().splitlines()
    # the bench's own heading is replaced by the demo's, which names the task
    return [f"## standard degradations: {degradations['task']} task", *section[1:], ""]
