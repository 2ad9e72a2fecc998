"""Does bf16 keep accuracy? Trains the learned network twice on the same synthetic task and seed, in fp32 and
in bf16 (``--precision``), and evaluates each on the test split in both precisions: four accuracies side by
side, plus the share of test images whose prediction changes between fp32 and bf16 inference.

The synthetic sources differ by faint fixed patterns (``gfcore.data.synthetic``, amplitude ``--amplitude`` grey
levels), the kind of low-amplitude signal bf16's 8-bit mantissa can blur.

    python benchmarks/precision.py [--device auto] [--epochs 3] [--per-source 1000] [--amplitude 4]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.execution.accel import configure
from gfcore.execution.device import resolve_device
from gfcore.inference.evaluation import predict_split
from gfcore.runs.attributor import load_run
from gfcore.runs.training import train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--per-source", type=int, default=1000)
    parser.add_argument("--amplitude", type=float, default=4.0)
    parser.add_argument("--width", type=float, default=0.25)
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_fingerprint_folders(tmp / "src", 4, args.per_source, 32, amplitude=args.amplitude)
        prepare_dataset(tmp / "src", tmp / "ds", resolution=32)
        data = load_dataset(tmp / "ds")
        test = data.split("test")
        preds = {}
        for train_precision in ("fp32", "bf16"):
            run = tmp / train_precision
            train_run(
                data,
                run,
                f"learned:width={args.width}",
                device=device,
                overrides={"epochs": args.epochs},
                precision=train_precision,
            )
            attributor, _ = load_run(run, device)
            for infer_precision in ("fp32", "bf16"):
                configure(attributor, infer_precision)
                logits, _ = predict_split(attributor, test)
                preds[train_precision, infer_precision] = logits.argmax(1)
    print(
        f"device {device}, 4 sources, amplitude {args.amplitude}, learned width {args.width}, "
        f"{args.epochs} epochs, {len(test)} test images"
    )
    for (trained, inferred), p in preds.items():
        print(
            f"trained {trained}, inference {inferred}: test accuracy {100 * (p == test.labels).mean():6.2f}%"
        )
    for trained in ("fp32", "bf16"):
        changed = (preds[trained, "fp32"] != preds[trained, "bf16"]).mean()
        print(f"trained {trained}: predictions changed by bf16 inference: {100 * changed:.2f}%")


if __name__ == "__main__":
    main()
