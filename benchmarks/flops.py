"""How close does the learned network's forward pass run to this machine's matrix-multiply rate?

Counts the forward FLOPs per image of the learned attribution network (``torch.utils.flop_counter``: a
multiply-add is 2 FLOPs; convolutions and linear layers, which are nearly all of it), measures the
network's inference rate on in-memory batches (``attributor.logits``, as `gfp attribute` calls it), and
measures a large float32 matrix multiply on the same device in the same rounds. It prints both rates in
GFLOP/s and their ratio (medians of the rounds); the ratio is the share of the machine's dense-math speed
the network reaches.

    python benchmarks/flops.py [--resolution 32] [--width 0.25] [--batch-size 256] [--rounds 3]
        [--device auto] [--precision fp32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from attribute_path import build_attributor, sync  # a sibling script: run from benchmarks/
from torch.utils.flop_counter import FlopCounterMode


def forward_flops_per_image(attributor) -> float:
    x = torch.zeros(1, 3, attributor.resolution, attributor.resolution, device=attributor.device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        attributor.network(x)
    return float(counter.get_total_flops())


def matmul_rate(device, dtype, n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of an n x n x n matrix multiply (2 n^3 FLOPs)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def network_rate(attributor, batch_size: int, batches: int) -> float:
    images = torch.randint(
        0, 256, (batch_size, 3, attributor.resolution, attributor.resolution), dtype=torch.uint8
    )
    attributor.logits(images)  # warm-up
    sync(attributor.device)
    start = time.perf_counter()
    for _ in range(batches):
        attributor.logits(images)
    sync(attributor.device)
    return batch_size * batches / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    args = parser.parse_args()
    from gfcore.execution.device import resolve_device

    device = resolve_device(args.device)
    attributor = build_attributor(args.resolution, args.width, device, args.precision)
    attributor.config.eval_batch_size = args.batch_size
    flops = forward_flops_per_image(attributor)
    dtype = torch.bfloat16 if args.precision == "bf16" else torch.float32
    net_rates, mm_rates = [], []
    for _ in range(args.rounds):  # alternate, so load from other processes hits both alike
        net_rates.append(network_rate(attributor, args.batch_size, args.batches) * flops / 1e9)
        mm_rates.append(matmul_rate(device, dtype))
    net, mm = float(np.median(net_rates)), float(np.median(mm_rates))
    print(
        f"device {device}, learned width {args.width}, {args.resolution}x{args.resolution}, batch "
        f"{args.batch_size}, precision {args.precision}, torch threads {torch.get_num_threads()}"
    )
    print(f"forward FLOPs per image:          {flops / 1e6:9.2f} MFLOP")
    print(f"network forward (logits):         {net:9.2f} GFLOP/s  ({net * 1e9 / flops:.0f} images/s)")
    print(f"matrix multiply 2048^3:           {mm:9.2f} GFLOP/s")
    print(
        f"ratio network / matmul:           {net / mm:9.3f}   "
        f"(per round: {', '.join(f'{a / b:.3f}' for a, b in zip(net_rates, mm_rates))})"
    )


if __name__ == "__main__":
    main()
