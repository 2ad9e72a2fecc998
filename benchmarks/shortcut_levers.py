"""How shortcut cues fade as GANs train: train (or extend) GAN runs, sample them, and measure on {real,
generators} and on the generators alone two shortcut cues.

* ``audit``: a standardised logistic regression on eight global statistics per image (mean and standard
  deviation of each RGB channel, mean absolute horizontal and vertical neighbour difference);
* ``knn``: raw-pixel k-nearest neighbours, k picked on a validation split from (1, 3, 5, 9, 15).

Images are split the way `gfp demo` splits them: real patches from the photographs' disjoint train / val /
test regions, generated images from disjoint latent seeds (101 / 202 / 303). Accuracies are on the test
part (``--test`` images per source; with 500 per source and 3 classes the standard error is about 1.2
points).

    python benchmarks/shortcut_levers.py train --runs gan-runs --family progan --seeds 0 1 \\
        --iters 1600 4000 8000 --tag progan            # trains one job at a time, resumes, measures
    python benchmarks/shortcut_levers.py train --runs gan-runs-scenes --tag progan_scenes \\
        --params lr_g=0.004,lr_d=0.004 --real-scales 4 8 --iters 1600 --parallel   # another real set
    python benchmarks/shortcut_levers.py train --runs gan-runs-photos --tag progan_photos \\
        --params lr_g=0.004,lr_d=0.004 --real-photos MORE_PHOTOS --iters 1600 --parallel  # more photographs
    python benchmarks/shortcut_levers.py shipped progan_seed0 progan_seed1   # the shipped reference
    python benchmarks/shortcut_levers.py shipped RUN_DIR RUN_DIR ...          # or GAN run folders
    python benchmarks/shortcut_levers.py shipped dcgan ddpm:sampler=ddim,sample_steps=10   # sampled another way
    python benchmarks/shortcut_levers.py plot --results gan-runs/results.json \\
        --out docs/figures/shortcut_curve_progan.png
    python benchmarks/shortcut_levers.py levers --results gan-runs/results.json \\
        --out docs/figures/shortcut_levers.png     # every tag (lever) on one figure, numbers beside it

Every GAN run is trained by ``gfp gan train`` (``--resume --iters M`` to extend), one torch thread, one
job at a time; results are appended to ``RUNS/results.json`` after every measurement, so the script can be
stopped and restarted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

LATENT_SEEDS = {"train": 101, "val": 202, "test": 303}
K_CHOICES = (1, 3, 5, 9, 15)


# --- the two shortcut measures --------------------------------------------------------------------------


def global_statistics(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 3, H, W] -> [N, 8]: per-channel mean and std, mean |horizontal| and |vertical| difference."""
    x = images.astype(np.float32) / 255.0
    dh = np.abs(np.diff(x, axis=3)).mean(axis=(1, 2, 3))
    dv = np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))
    return np.column_stack([x.mean(axis=(2, 3)), x.std(axis=(2, 3)), dh, dv])


def audit_accuracy(train: tuple, test: tuple) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    model.fit(global_statistics(train[0]), train[1])
    return float((model.predict(global_statistics(test[0])) == test[1]).mean())


def knn_accuracy(train: tuple, val: tuple, test: tuple) -> tuple[float, int]:
    from sklearn.neighbors import KNeighborsClassifier

    flat = lambda x: x.reshape(len(x), -1).astype(np.float32)  # noqa: E731
    scores = {}
    for k in K_CHOICES:
        scores[k] = KNeighborsClassifier(k).fit(flat(train[0]), train[1]).score(flat(val[0]), val[1])
    best = max(K_CHOICES, key=lambda k: (scores[k], -k))
    model = KNeighborsClassifier(best).fit(
        flat(np.concatenate([train[0], val[0]])), np.concatenate([train[1], val[1]])
    )
    return float(model.score(flat(test[0]), test[1])), best


def measure(sources: dict[str, dict[str, np.ndarray]]) -> dict[str, float]:
    """``sources[name][split]`` -> accuracies of both cues with ``chance`` = 1 / number of sources."""
    names = list(sources)
    parts = {}
    for split in ("train", "val", "test"):
        images = np.concatenate([sources[n][split] for n in names])
        labels = np.concatenate([np.full(len(sources[n][split]), i) for i, n in enumerate(names)])
        parts[split] = (images, labels)
    knn, k = knn_accuracy(parts["train"], parts["val"], parts["test"])
    return {
        "audit": audit_accuracy(parts["train"], parts["test"]),
        "knn": knn,
        "knn_k": k,
        "chance": 1 / len(names),
    }


# --- sources --------------------------------------------------------------------------------------------


def real_images(
    counts: dict[str, int], seed: int = 0, scales=(1.0, 8.0), photos=None
) -> dict[str, np.ndarray]:
    """Real patches per split; ``photos`` the photo files to cut from (None: the bundled set)."""
    from gfp_photos.patches import sample_patches

    return {split: sample_patches(n, 32, seed, split, tuple(scales), photos) for split, n in counts.items()}


def more_photos(folder: str | None) -> list[Path] | None:
    """The bundled photographs followed by the usable ones in ``folder`` (None: the bundled set alone)."""
    if not folder:
        return None
    from gfp_photos.patches import folder_photos, photo_paths

    # the val region is the smallest of a photo's three: a photo that holds a patch there holds one anywhere
    return photo_paths() + folder_photos([folder], 32, "val", warn=print)


def generated_images(run_dir: Path, counts: dict[str, int], raw: bool = False) -> dict[str, np.ndarray]:
    """Samples of the run's sampling generator (the EMA copy where the family keeps one), or with ``raw``
    of the trained generator itself, from the resumable checkpoint (the EMA lever at no training cost)."""
    from gfcore.runs.gan import LAST_FILE, load_gan
    from gfcore.storage.tensorio import load_tensors

    gan = load_gan(run_dir)
    if raw:
        tensors, _ = load_tensors(run_dir / LAST_FILE)
        gan.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        gan.G_ema = None
    return {split: gan.sample(n, seed=LATENT_SEEDS[split]).numpy() for split, n in counts.items()}


# --- training -------------------------------------------------------------------------------------------


def gfp(*args: str, wait: bool = True):
    """Run ``gfp ARGS`` on one torch thread; with ``wait=False`` return the running process instead."""
    exe = Path(sys.executable).with_name("gfp")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    process = subprocess.Popen([str(exe), *args, "--no-progress"], env=env)
    if wait and process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return process


def iterations_done(run_dir: Path) -> int:
    run = run_dir / "run.json"
    return json.loads(run.read_text())["iterations_done"] if run.is_file() else 0


def start_training(run_dir: Path, family: str, real: Path, seed: int, iters: int):
    """Start training (or extending) ``run_dir`` to ``iters`` iterations; None when it is there already."""
    done = iterations_done(run_dir)
    if done >= iters:
        return None
    if done == 0:
        return gfp("gan", "train", family, "--real", str(real), "--out", str(run_dir), "--seed", str(seed),
                   "--iters", str(iters), "--device", "cpu", wait=False)  # fmt: skip
    return gfp("gan", "train", family, "--real", str(real), "--out", str(run_dir), "--resume",
               "--iters", str(iters), "--device", "cpu", wait=False)  # fmt: skip


def finish(process) -> None:
    if process is not None and process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)


def train_seconds(run_dir: Path) -> float:
    return float(json.loads((run_dir / "run.json").read_text())["train_seconds"])


def write_json(path: Path, data) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def command_train(args) -> None:
    import torch

    torch.set_num_threads(1)
    runs = Path(args.runs)
    runs.mkdir(parents=True, exist_ok=True)
    low, high = args.real_scales
    default_scales = (low, high) == (1.0, 8.0)
    photos = more_photos(args.real_photos)
    real = runs / (
        "real32" + ("" if default_scales else f"_scales{low:g}-{high:g}") + ("_photos" if photos else "")
    )
    if not real.is_dir():
        more = ["--photos", args.real_photos, "--with-bundled"] if photos else []
        gfp("data", "photos", "--out", str(real), "-n", "20000", "--resolution", "32", "--seed", "0",
            "--split", "train", "--scales", f"{low:g}-{high:g}", *more)  # fmt: skip
    counts = {"train": args.train, "val": args.val, "test": args.test}
    results_path = runs / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else []
    reals = real_images(counts, scales=args.real_scales, photos=photos)
    spec = args.family + (":" + args.params if args.params else "")
    for iters in args.iters:
        if any((r["tag"], r["iters"]) == (args.tag, iters) for r in results):
            continue  # measured already
        fakes, raw, seconds = {}, {}, {}
        run_dirs = {seed: runs / f"{args.tag}_seed{seed}" for seed in args.seeds}
        if args.parallel:  # every seed at once, one process (one thread) each
            for process in [start_training(d, spec, real, s, iters) for s, d in run_dirs.items()]:
                finish(process)
        for seed, run_dir in run_dirs.items():
            finish(start_training(run_dir, spec, real, seed, iters))
            seconds[seed] = train_seconds(run_dir)
            fakes[f"seed{seed}"] = generated_images(run_dir, counts)
            if args.raw_g:
                raw[f"seed{seed}"] = generated_images(run_dir, counts, raw=True)
        row = {
            "tag": args.tag,
            "family": spec,
            "iters": iters,
            **({} if default_scales else {"real_scales": [low, high]}),
            **({"real_photos": len(photos)} if photos else {}),
            "train_seconds": {str(s): round(t, 1) for s, t in seconds.items()},
            "real_and_generators": measure({"real": reals, **fakes}),
            "generators_only": measure(fakes) if len(fakes) > 1 else None,
            "raw_g": {"real_and_generators": measure({"real": reals, **raw}), "generators_only": measure(raw)}
            if raw and len(raw) > 1
            else None,
            "measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        results = [r for r in results if (r["tag"], r["iters"]) != (args.tag, iters)] + [row]
        write_json(results_path, results)
        print(json.dumps(row), flush=True)


def command_shipped(args) -> None:
    """The same two measures on shipped generators (the reference point of the curve), or on any GAN run
    folders (a candidate set before it ships)."""
    import torch

    from gfcore.config import parse_spec
    from gfcore.runs.gan import load_gan
    from gfcore.runs.shipped_gans import load_shipped_gan

    torch.set_num_threads(1)
    counts = {"train": args.train, "val": args.val, "test": args.test}
    fakes = {}
    for name in args.names:
        # NAME:key=value,... samples the same weights another way (a diffusion model's sampler and steps)
        where, sampling = parse_spec(name)
        if Path(where).is_dir():
            gan = load_gan(Path(where), sampling=sampling or None)
        else:
            gan = load_shipped_gan(where, sampling=sampling or None)
        fakes[name] = {split: gan.sample(n, seed=LATENT_SEEDS[split]).numpy() for split, n in counts.items()}
    row = {"shipped": args.names, "real_and_generators": measure({"real": real_images(counts), **fakes})}
    row["generators_only"] = measure(fakes) if len(fakes) > 1 else None
    print(json.dumps(row))


def command_plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in json.loads(Path(args.results).read_text()) if r["tag"] == args.tag]
    rows.sort(key=lambda r: r["iters"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    for ax, key, title in zip(
        axes, ("real_and_generators", "generators_only"), ("{real, seeds}", "seeds only")
    ):
        its = [r["iters"] for r in rows if r[key]]
        for metric, style, colour in (("audit", "o", "C0"), ("knn", "s", "C1")):
            ax.plot(
                its, [100 * r[key][metric] for r in rows if r[key]], style + "-", color=colour, label=metric
            )
            raw = [(r["iters"], 100 * r["raw_g"][key][metric]) for r in rows if r.get("raw_g")]
            if raw:
                ax.plot(
                    *zip(*raw),
                    style + "--",
                    color=colour,
                    alpha=0.5,
                    mfc="none",
                    label=f"{metric}, G without EMA",
                )
        if its:
            ax.axhline(100 * rows[0][key]["chance"], color="grey", ls=":", label="chance")
        ax.set_xscale("log")
        ax.set_title(f"{rows[0]['family']} {title}" if rows else title, fontsize=9)
        ax.set_xlabel("training iterations")
    axes[0].set_ylabel("held-out accuracy (%)")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)


def command_levers(args) -> None:
    """Every lever (tag) of ``results.json`` on one figure: audit and kNN against iterations, on {real,
    seeds} and on the seeds alone, one colour per tag; the rows plotted go to ``OUT`` with ``.json``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = json.loads(Path(args.results).read_text())
    tags = args.tags or list(dict.fromkeys(r["tag"] for r in rows))
    rows = sorted((r for r in rows if r["tag"] in tags), key=lambda r: (tags.index(r["tag"]), r["iters"]))
    if not rows:
        raise SystemExit(f"no rows for tags {tags} in {args.results}")
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    panels = (("real_and_generators", "{real, seed 0, seed 1}"), ("generators_only", "seed 0 vs seed 1"))
    for row_axes, (key, title) in zip(axes, panels):
        for ax, metric, name in zip(row_axes, ("audit", "knn"), ("global-statistics audit", "raw-pixel kNN")):
            for i, tag in enumerate(tags):
                points = [(r["iters"], 100 * r[key][metric]) for r in rows if r["tag"] == tag and r[key]]
                if points:
                    family = next(r["family"] for r in rows if r["tag"] == tag)
                    params = family.partition(":")[2] or "the family's defaults"
                    scales = next(
                        (r["real_scales"] for r in rows if r["tag"] == tag and "real_scales" in r), None
                    )
                    if scales:  # another real set: its rows with real are not comparable with the others'
                        params += f"; real crops {scales[0]:g}-{scales[1]:g}x"
                    photos = next(
                        (r["real_photos"] for r in rows if r["tag"] == tag and "real_photos" in r), 0
                    )
                    if photos:
                        params += f"; {photos} real photographs"
                    ax.plot(*zip(*points), "o-", color=f"C{i % 10}", label=params)
            chance = next(r[key]["chance"] for r in rows if r[key])
            ax.axhline(100 * chance, color="grey", ls=":", label="chance")
            ax.set_title(f"{name}, {title}", fontsize=9)
            ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("training iterations")
    for ax in axes[:, 0]:
        ax.set_ylabel("held-out accuracy (%)")
    axes[0, 0].legend(fontsize=7, title=f"{rows[0]['family'].partition(':')[0]} parameters", title_fontsize=7)
    fig.tight_layout()
    out = Path(args.out)
    fig.savefig(out, dpi=120)
    write_json(out.with_suffix(".json"), rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train/extend runs to each --iters and measure both cues")
    train.add_argument("--runs", default="gan-runs")
    train.add_argument("--family", default="progan")
    train.add_argument("--params", default="", help="family parameters, e.g. width=0.125")
    train.add_argument("--tag", default="progan")
    train.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    train.add_argument("--iters", type=int, nargs="+", default=[1600, 4000, 8000])
    train.add_argument(
        "--real-scales",
        type=float,
        nargs=2,
        default=(1.0, 8.0),
        metavar=("MIN", "MAX"),
        help="the real set: crop sides as multiples of 32 (gfp data photos --scales; default 1 8)",
    )
    train.add_argument(
        "--real-photos",
        metavar="DIR",
        help="more photographs for the real set, beside the bundled ones (gfp data photos --photos DIR "
        "--with-bundled)",
    )
    train.add_argument("--parallel", action="store_true", help="train the seeds at the same time")
    train.add_argument("--raw-g", action="store_true", help="also measure the trained G without its EMA")
    train.add_argument("--train", type=int, default=1000, help="images per source to fit on")
    train.add_argument("--val", type=int, default=300, help="images per source to pick kNN's k on")
    train.add_argument("--test", type=int, default=500, help="images per source to score on")
    train.set_defaults(run=command_train)
    shipped = sub.add_parser(
        "shipped", help="measure shipped generators (names) or GAN run folders the same way"
    )
    shipped.add_argument("names", nargs="+")
    for name, default in (("--train", 1000), ("--val", 300), ("--test", 500)):
        shipped.add_argument(name, type=int, default=default)
    shipped.set_defaults(run=command_shipped)
    plot = sub.add_parser("plot", help="plot audit and kNN accuracy against iterations for one tag")
    plot.add_argument("--results", required=True)
    plot.add_argument("--tag", default="progan")
    plot.add_argument("--out", required=True)
    plot.set_defaults(run=command_plot)
    levers = sub.add_parser("levers", help="every tag's audit and kNN curves on one figure")
    levers.add_argument("--results", required=True)
    levers.add_argument("--tags", nargs="+", help="default: every tag, in the order measured")
    levers.add_argument("--out", required=True)
    levers.set_defaults(run=command_levers)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
