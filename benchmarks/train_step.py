"""How fast does one training step of the learned network run on this CPU, by batch size and memory format?

Steps the demo's network (``learned:width=0.125`` at 32x32 by default; Adam as the paper's) on random
batches already in memory, side by side in one process, and prints images/s for each batch size with
channels-last (what `gfp train` uses), contiguous, and contiguous without oneDNN, each as a ratio to the
first row. It answers whether a batch size or a memory format would make `gfp demo` faster on a given
CPU, and tells two machines apart (`lscpu` says which vector units oneDNN may use).

    python benchmarks/train_step.py [--width 0.125] [--resolution 32] [--batches 32 64 128 256]
        [--images 2400] [--rounds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def step_rate(width: float, resolution: int, batch: int, images: int, layout: str) -> float:
    from gfcore import AttributionNet

    torch.backends.mkldnn.enabled = layout != "contiguous, no oneDNN"
    torch.manual_seed(0)
    net = AttributionNet(resolution, 5, width)
    x = torch.randn(batch, 3, resolution, resolution)
    if layout == "channels-last":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 5, (batch,))
    opt = torch.optim.Adam(net.parameters(), 0.01, betas=(0.0, 0.99))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(3):  # warm-up: oneDNN picks and compiles its kernels on first use
        step()
    steps = max(5, images // batch)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    rate = steps * batch / (time.perf_counter() - start)
    torch.backends.mkldnn.enabled = True
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=float, default=0.125)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--images", type=int, default=2400, help="images per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    args = parser.parse_args()
    layouts = ("channels-last", "contiguous", "contiguous, no oneDNN")
    configs = [(b, layout) for layout in layouts for b in args.batches]
    rates: dict[tuple, list[float]] = {c: [] for c in configs}
    for _ in range(args.rounds):  # alternating, so that load from other processes hits all alike
        for batch, layout in configs:
            rates[(batch, layout)].append(step_rate(args.width, args.resolution, batch, args.images, layout))
    print(
        f"learned width {args.width}, {args.resolution}x{args.resolution}, torch threads "
        f"{torch.get_num_threads()}, CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    reference = float(np.median(rates[configs[0]]))
    for (batch, layout), values in rates.items():
        median = float(np.median(values))
        print(f"batch {batch:4d}, {layout:22s} {median:8.0f} images/s   ratio {median / reference:.2f}")


if __name__ == "__main__":
    main()
