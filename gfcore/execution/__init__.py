"""Where and how tensors run.

* :mod:`~gfcore.execution.device`: the device choice (``auto``: CUDA, then MPS, then the CPU);
* :mod:`~gfcore.execution.accel`: settings that change speed, not the model (bf16 autocast, torch.compile);
* :mod:`~gfcore.execution.distributed`: torchrun processes (rank, shards, sums, gradient averaging).
"""
