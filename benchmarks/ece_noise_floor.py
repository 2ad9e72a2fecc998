"""How small can the expected calibration error get on a given test split, from sampling noise alone?

Draws the labels of the split's images from the run's own calibrated probabilities -- a model calibrated
by construction, with this run's confidence distribution -- and reports the 15-bin ECE of those draws.
A measured ECE inside this range is as calibrated as the number of images can show.

    python benchmarks/ece_noise_floor.py RUN DATASET [--split test] [--draws 200]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from gfcore.data.dataset import load_dataset
from gfcore.inference.calibration import ECE_BINS, expected_calibration_error, softmax
from gfcore.inference.evaluation import predict_split
from gfcore.inference.openset import run_calibration
from gfcore.runs.attributor import load_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("dataset")
    parser.add_argument("--split", default="test")
    parser.add_argument("--draws", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(1)
    attributor, info = load_run(args.run)
    logits, _ = predict_split(attributor, load_dataset(args.dataset).split(args.split))
    probs = softmax(logits, run_calibration(info, args.run)["temperature"])
    rng = np.random.default_rng(0)
    cumulative = np.cumsum(probs, axis=1)
    eces = [
        expected_calibration_error(probs, (rng.random(len(probs))[:, None] > cumulative).sum(axis=1))
        for _ in range(args.draws)
    ]
    print(
        f"{ECE_BINS}-bin ECE of a calibrated model on {len(probs)} images ({args.draws} draws): "
        f"mean {100 * np.mean(eces):.2f}%, 95th percentile {100 * np.percentile(eces, 95):.2f}%"
    )


if __name__ == "__main__":
    main()
