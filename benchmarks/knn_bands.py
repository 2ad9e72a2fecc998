"""Where raw-pixel kNN finds its cue: 1-nearest-neighbour accuracy (Euclidean, test split against train
split) on the whole image, on its low band (average-pooled to r x r) and on its high band (the image minus
that low band, upsampled back), for r = 16, 8, 4; then where in the image: the interior without a border of
b pixels, and the border frame alone, for b = 2 and 4.

    python benchmarks/knn_bands.py gfp-demo/datasets/uniqueness

A cue in the low band is layout and colour (what a GAN's sample distribution gets wrong); a cue in the
high band is fine pixel structure -- for GAN images, their artifacts, i.e. a strong fingerprint. Raw-pixel
kNN compares pixels at the same positions, so artifacts fixed in place (a generator's border, from its
padded convolutions) are what it finds most easily: the interior and border rows say how much of the cue
sits at the edges.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from gfcore.data.dataset import load_dataset


def one_nn_accuracy(train: torch.Tensor, train_labels, test: torch.Tensor, test_labels) -> float:
    nearest = torch.cdist(test.flatten(1), train.flatten(1)).argmin(1).numpy()
    return float((train_labels[nearest] == test_labels).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    args = parser.parse_args()
    ds = load_dataset(args.dataset)
    train, test = ds.split("train"), ds.split("test")
    xtr = torch.from_numpy(np.array(train.images)).float() / 255
    xte = torch.from_numpy(np.array(test.images)).float() / 255
    ytr, yte = np.asarray(train.labels), np.asarray(test.labels)
    size = ds.resolution

    def low(x, r):
        return F.avg_pool2d(x, size // r)

    def high(x, r):
        return x - F.interpolate(low(x, r), size=size, mode="nearest")

    print(f"{args.dataset}: {len(xtr)} train, {len(xte)} test images, {len(ds.classes)} classes")
    rows = [(f"whole image {size}x{size}", xtr, xte)]
    for r in (16, 8, 4):
        if r < size and size % r == 0:
            rows += [(f"low band {r}x{r}", low(xtr, r), low(xte, r))]
            rows += [(f"high band (image - low {r}x{r})", high(xtr, r), high(xte, r))]
    for b in (2, 4):
        frame = torch.ones(size, size, dtype=torch.bool)
        frame[b:-b, b:-b] = False
        rows += [(f"interior (without {b}-pixel border)", xtr[..., b:-b, b:-b], xte[..., b:-b, b:-b])]
        rows += [(f"border frame ({b} pixels) alone", xtr[..., frame], xte[..., frame])]
        rows += [
            (
                f"high band (low 16x16), interior b={b}",
                high(xtr, 16)[..., b:-b, b:-b],
                high(xte, 16)[..., b:-b, b:-b],
            )
        ]
    for label, a, b in rows:
        print(f"{label:40s} 1-NN accuracy {one_nn_accuracy(a, ytr, b, yte):.4f}")


if __name__ == "__main__":
    main()
