"""Execution settings of a neural method that change speed, not the model: bf16 autocast and torch.compile.

* ``precision``: ``fp32`` (default everywhere) or ``bf16`` (``torch.autocast`` around forward passes and
  training steps; bf16 needs no loss scaling). bf16 is opt-in, not the CUDA default: it keeps 8 bits of
  mantissa, and the [-1, 1] input's pixel step 2/255 is about one bf16 unit near +-1, so the lowest bit
  of a pixel -- where GAN fingerprints live -- can be lost at the first convolution. Measure accuracy
  with it before use (benchmarks/gpu_check.sh prints fp32 and bf16 accuracy side by side).
* ``compile``: run the network through ``torch.compile`` (the weights stay those of ``network``: the
  compiled module shares them, so checkpoints keep their names).

The CPU path with the defaults is exactly the uncompiled fp32 one: nothing here runs.
"""

from __future__ import annotations

from contextlib import nullcontext

PRECISIONS = ("fp32", "bf16")


def autocast(device, precision: str):
    """A context running forward passes in ``precision`` on ``device`` (fp32: nothing)."""
    if precision == "fp32":
        return nullcontext()
    import torch

    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_device(batch, device):
    """A CPU batch on ``device``; for CUDA through page-locked memory, so the copy runs without blocking
    (it overlaps the work already queued)."""
    if device.type == "cuda":
        batch = batch.pin_memory()
    return batch.to(device, non_blocking=True)


def configure(attributor, precision: str = "fp32", compile: bool = False) -> None:
    """Set the execution settings on an attributor that has them (:meth:`configure_execution`, which the
    neural attributors of the training loop implement); other methods are left as they are."""
    settle = getattr(attributor, "configure_execution", None)
    if settle is not None:
        settle(precision, compile)
