"""JPEG's 8x8 blocks and the image size: the JPEG attack on a dataset's test images as they are, against
the same images upsampled to 128 px (bicubic), JPEG'd there and downsampled back (bicubic, antialiased),
at each quality; and that resampling round trip alone. Prints the PSNR against the clean images and a
run's accuracy on each.

    python benchmarks/jpeg_block_scale.py RUN DATASET [--size 128] [--seed 0]

Why: the paper's JPEG range is for 128x128 images, where a block is 1/16 of the side; on 32x32 images it
is 1/4. The block grid cannot be rescaled inside the codec, so the only "relative" JPEG is the round trip
through the reference size, and this says what that round trip measures (the JPEG, or the resampling).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from gfcore.data.dataset import load_dataset
from gfcore.inference.attacks import attack_generator, build_attack
from gfcore.runs.attributor import load_run

QUALITIES = (95, 75, 50, 30, 10)


def resampled(images: torch.Tensor, size: int, inner=None) -> torch.Tensor:
    """uint8 images -> upsampled to ``size`` (bicubic), through ``inner`` (uint8 -> uint8) there, and
    downsampled back (bicubic, antialiased: each output pixel averages the block it came from)."""
    side = images.shape[-1]
    up = F.interpolate(images.float(), size=(size, size), mode="bicubic", align_corners=False)
    up = up.round().clamp(0, 255).to(torch.uint8)
    if inner is not None:
        up = inner(up)
    down = F.interpolate(up.float(), size=(side, side), mode="bicubic", align_corners=False, antialias=True)
    return down.round().clamp(0, 255).to(torch.uint8)


def psnr(clean: torch.Tensor, other: torch.Tensor) -> float:
    """The mean over images of each image's PSNR (dB, 0-255 scale)."""
    mse = (clean.double() - other.double()).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(255.0**2 / mse)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run")
    parser.add_argument("dataset")
    parser.add_argument("--size", type=int, default=128, help="the side JPEG is applied at (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    test = load_dataset(args.dataset).split("test")
    attributor, _ = load_run(args.run, torch.device("cpu"))
    images = torch.from_numpy(np.array(test.images))
    labels = np.asarray(test.labels)

    def accuracy(x: torch.Tensor) -> float:
        with torch.no_grad():
            preds = torch.cat([attributor.logits(chunk).argmax(1) for chunk in x.split(512)])
        return float((preds.numpy() == labels).mean())

    side = images.shape[-1]
    print(f"{args.dataset}: {len(images)} test images of {side}x{side}; {args.run}")
    print(f"8x8 blocks per image: {(side // 8) ** 2} at {side} px, {(args.size // 8) ** 2} at {args.size} px")
    print(f"clean: accuracy {100 * accuracy(images):.2f}%")
    trip = resampled(images, args.size)
    print(
        f"resampling round trip alone: PSNR {psnr(images, trip):.2f} dB, accuracy {100 * accuracy(trip):.2f}%"
    )
    print("quality | direct PSNR | direct accuracy | via-128 PSNR | via-128 accuracy")
    for q in QUALITIES:
        jpeg = build_attack(f"jpeg:quality={q}")
        direct = jpeg.apply(images, attack_generator(args.seed))
        via = resampled(images, args.size, lambda x, j=jpeg: j.apply(x, attack_generator(args.seed)))
        print(
            f"{q} | {psnr(images, direct):.2f} dB | {100 * accuracy(direct):.2f}% | "
            f"{psnr(images, via):.2f} dB | {100 * accuracy(via):.2f}%"
        )


if __name__ == "__main__":
    main()
