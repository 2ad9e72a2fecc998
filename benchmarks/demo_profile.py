"""Where the quick demo's time goes: every stage of `gfp demo`'s bench on the demo's datasets, timed one
after the other in one process (the learned network's recipe given by --learned).

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/demo_profile.py DATASETS_DIR OUT [--learned SPEC] [--skip-learned]

DATASETS_DIR holds `existence/` and `uniqueness/` as `gfp demo` writes them (gfp-demo/datasets). Prints one
line per stage (seconds) and the total; the demo itself adds sampling the generators and writing the tables.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gfcore.studies.bench.orchestrate as orchestrate
from gfcore.data.dataset import load_dataset
from gfcore.studies.bench import run_bench
from gfcore.studies.bench.orchestrate import bench_audit, pixel_reference
from gfcore.studies.bench.separability import DEFAULT_FD_DIM, DEFAULT_MAX_FD_IMAGES
from gfcore.terminal.progress import NullReporter
from gfp_demo.tasks import DemoSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--learned", default=None, help="learned spec (default: the demo's)")
    parser.add_argument("--skip-learned", action="store_true")
    parser.add_argument("--tasks", default="existence,uniqueness")
    args = parser.parse_args()
    settings = DemoSettings()
    learned = args.learned or f"{settings.learned},epochs={settings.epochs}"
    specs = ([] if args.skip_learned else [learned]) + settings.baselines
    reporter = NullReporter()
    total = 0.0
    orchestrate.pixel_reference = lambda *a: {"fd_ratio": None}  # once per task, timed on its own below
    for task in args.tasks.split(","):
        dataset = load_dataset(args.datasets / task)
        for spec in specs:
            t0 = time.perf_counter()
            results = run_bench(
                dataset, args.out / task / spec.split(":")[0], [spec], audit=False, reporter=reporter
            )
            seconds = time.perf_counter() - t0
            row = results.methods[0]
            total += seconds
            print(
                f"{task:10s} {spec:55s} {seconds:7.1f} s (train {row.train_seconds:.1f} s) "
                f"test acc {row.accuracy:.4f}",
                flush=True,
            )
        t0 = time.perf_counter()
        pixel_reference(dataset, 0, DEFAULT_MAX_FD_IMAGES, DEFAULT_FD_DIM, reporter)
        t1 = time.perf_counter()
        bench_audit(dataset, 0, "cpu", reporter)
        t2 = time.perf_counter()
        total += t2 - t0
        print(f"{task:10s} {'raw-pixel FD reference':55s} {t1 - t0:7.1f} s", flush=True)
        print(f"{task:10s} {'shortcut audit':55s} {t2 - t1:7.1f} s", flush=True)
    print(f"total {total:.1f} s")


if __name__ == "__main__":
    main()
