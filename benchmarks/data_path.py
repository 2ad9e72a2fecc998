"""Does the data path keep up with the model?

Measures, side by side in one process, training images per second of the shared loop (`gfp train`:
memory-mapped uint8 arrays, per-batch gather, conversion, flip augmentation, per-epoch validation) against
the same network and optimiser stepping on batches already in memory as float tensors. A ratio near 1.0
means the data path costs nothing worth speaking of.

    python benchmarks/data_path.py [--resolution 32] [--width 0.25] [--per-source 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gfcore.data.dataset import load_dataset, prepare_dataset
from gfcore.data.synthetic import write_fingerprint_folders
from gfcore.execution.device import resolve_device
from gfcore.runs.training import train_run


def in_memory_rate(dataset, spec_width: float, batch_size: int, steps: int, device) -> float:
    from gfcore import AttributionNet

    torch.manual_seed(0)
    net = AttributionNet(dataset.resolution, len(dataset.classes), spec_width)
    net = net.to(device, memory_format=torch.channels_last)  # as the shared loop does
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.0, 0.99), eps=1e-8)
    train = dataset.split("train")
    x_all = torch.from_numpy(np.array(train.images)).to(device).float().mul_(2 / 255).sub_(1)
    x_all = x_all.contiguous(memory_format=torch.channels_last)
    y_all = torch.from_numpy(train.labels).to(device)
    batches = [
        (x_all[i : i + batch_size], y_all[i : i + batch_size])
        for i in range(0, len(x_all) - batch_size + 1, batch_size)
    ]
    net.train()
    start = time.perf_counter()
    for step in range(steps):
        x, y = batches[step % len(batches)]
        loss = torch.nn.functional.cross_entropy(net(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--per-source", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians are reported")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_fingerprint_folders(tmp / "src", 3, args.per_source, args.resolution)
        prepare_dataset(tmp / "src", tmp / "ds", resolution=args.resolution, split=(0.9, 0.05, 0.05))
        dataset = load_dataset(tmp / "ds")
        steps = len(dataset.split("train")) // args.batch_size
        # Warm-up of both (first-call allocations, thread pools, page cache) before anything is timed.
        train_run(
            dataset,
            tmp / "warmup",
            f"learned:width={args.width}",
            device=device,
            overrides={"epochs": 1, "batch_size": args.batch_size},
        )
        in_memory_rate(dataset, args.width, args.batch_size, 20, device)
        # Alternate the two, one epoch each per round, so load from other processes hits both alike.
        loop_rates, memory_rates = [], []
        for round_ in range(args.rounds):
            result = train_run(
                dataset,
                tmp / f"run{round_}",
                f"learned:width={args.width}",
                device=device,
                overrides={"epochs": 1, "batch_size": args.batch_size},
            )
            loop_rates.append(result.info["history"][-1]["images_per_second"])
            memory_rates.append(in_memory_rate(dataset, args.width, args.batch_size, steps, device))
        loop_rate, memory_rate = float(np.median(loop_rates)), float(np.median(memory_rates))

    print(
        f"device {device}, {args.resolution}x{args.resolution}, width {args.width}, batch {args.batch_size}"
    )
    print(f"gfp train (memory-mapped data path): {loop_rate:9.1f} images/s")
    print(f"in-memory tensors, same model:       {memory_rate:9.1f} images/s")
    print(
        f"ratio (gfp train / in-memory):       {loop_rate / memory_rate:9.3f}   "
        f"(per round: {', '.join(f'{a / b:.3f}' for a, b in zip(loop_rates, memory_rates))})"
    )


if __name__ == "__main__":
    main()
