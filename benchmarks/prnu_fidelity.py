"""How closely the `prnu` residual follows the reference implementation polimi-ispl/prnu-python, per choice
of the settings that differ between them (docs/baselines.md shows the table this prints).

The reference pipeline is the PyWavelets/SciPy re-statement in tests/test_prnu_reference.py (PyWavelets is
in the dev extra). Correlation of each residual with the reference's on photo crops cut by
gfp_photos.sample_patches (the train regions), with a border excluded; median and minimum over the crops.

    python benchmarks/prnu_fidelity.py [--count 100] [--resolution 128] [--border 16] [--sigma 3]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_prnu_reference import correlation, reference_residual  # noqa: E402

from gfp_baselines.denoise import noise_residual  # noqa: E402
from gfp_photos.patches import sample_patches  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--border", type=int, default=16)
    parser.add_argument("--sigma", type=float, default=3.0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", UserWarning)  # PyWavelets: "level too high" at 4 levels, as the reference
    crops = sample_patches(args.count, args.resolution, seed=0, split="train")
    reference = [reference_residual(img.transpose(1, 2, 0), args.sigma) for img in crops]
    x = torch.from_numpy(crops)
    print("| boundary | zero_mean | median correlation | minimum |")
    print("|---|---|---:|---:|")
    for boundary in ("symmetric", "periodization"):
        for zero_mean in ("total", "rows_columns"):
            ours = noise_residual(x, args.sigma, boundary=boundary, zero_mean=zero_mean).numpy()
            c = [correlation(o, r, args.border) for o, r in zip(ours, reference)]
            print(f"| {boundary} | {zero_mean} | {np.median(c):.4f} | {np.min(c):.4f} |")


if __name__ == "__main__":
    main()
