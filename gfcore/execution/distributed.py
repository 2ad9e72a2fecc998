"""Many processes, one job: the torch.distributed bits every loop shares, in one place.

``torchrun --nproc_per_node N -m gfp train ...`` starts N copies of a command with ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and a rendezvous address in the environment. :func:`init_from_env` joins them into one
process group (NCCL on CUDA, gloo on CPU); without those variables (a plain ``gfp train``) every function
here is the single-process identity, so one code path serves one CPU, one GPU and many nodes.

What the loops use:

* :func:`is_main` -- rank 0 alone writes files, prints results and shows progress;
* :func:`shard` -- this rank's contiguous block of ``n`` items (contiguous: memory-mapped reads stay
  sequential, and gathering the blocks in rank order restores the original order);
* :func:`average_gradients` -- one flat all-reduce of every gradient, called between ``backward`` and the
  optimiser step (``gfcore.training.loop.step_if_finite`` and the GAN base loop). This is what
  ``DistributedDataParallel`` does in its reducer, done explicitly because the training hooks
  (``make_optimizers``/``train_step``) let a method own several networks stepped separately (visNet's
  critic, a GAN's G and D), which one DDP wrapper per model cannot follow without unused-parameter
  tracking. A side effect the loops rely on: a non-finite gradient on one rank is non-finite on all after
  the sum, so every rank skips the same updates and the replicas never drift apart;
* :func:`broadcast_module` -- rank 0's weights to every rank (after building or resuming);
* :func:`all_sum` -- a sum of numbers over ranks (correct counts, losses);
* :func:`gather_rows` / :func:`gather_json` -- every rank's block, concatenated in rank order, without pickle.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

from gfcore.errors import GfpError


def world_size() -> int:
    """How many processes share the job (1 without torchrun)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def rank() -> int:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return 0


def is_main() -> bool:
    """True on the process that writes files and prints results (rank 0, or the only process)."""
    return rank() == 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device):
    """Join the process group torchrun describes in the environment, once; returns the device this rank
    computes on (``cuda:LOCAL_RANK`` on CUDA). Without torchrun: ``device`` unchanged."""
    import torch
    import torch.distributed as dist

    if not launched_by_torchrun():
        return device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        if local >= torch.cuda.device_count():
            raise GfpError(
                f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA device(s) on this node; "
                "set --nproc_per_node to at most the number of GPUs"
            )
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    elif device.type != "cpu":
        raise GfpError(f"distributed runs need CPU or CUDA devices, not {device.type}")
    if not dist.is_initialized():
        import atexit

        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        # A failed command lands here without finish(): destroy the group while the interpreter is whole
        # (not in its finalisation, where gloo's threads may still hold tensors), but without a barrier,
        # which would wait for ranks that torchrun is about to stop.
        atexit.register(lambda: dist.is_initialized() and dist.destroy_process_group())
    return device


def finish() -> bool:
    """Leave the process group together after a command succeeded: a barrier, so that no rank tears its
    connections down while another still talks to it, then ``destroy_process_group``. True when a group
    was left; a no-op alone (and it imports nothing: ``gfp --help`` never loads torch)."""
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is None or not (dist.is_available() and dist.is_initialized()):
        return False
    if dist.get_world_size() > 1:
        dist.barrier()
    dist.destroy_process_group()
    return True


def exit_without_finalisation(code: int = 0) -> None:
    """End a torchrun rank whose work is done and written, skipping the interpreter's finalisation.

    Seen in two CI runs (torch 2.14, gloo, two ranks on CPU; 27 local launches never showed it): a rank
    that had run every line of Python, left the group and written its files aborted during finalisation
    with "terminate called without an active exception" (faulthandler: no Python frame), and torchrun
    then failed the whole job. Nothing is left to run at that point, so the rank flushes what it printed
    and leaves with ``os._exit``."""
    import logging
    import os
    import sys

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _comm_device():
    """Where collective tensors must live: CUDA for NCCL, CPU for gloo."""
    import torch
    import torch.distributed as dist

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def barrier() -> None:
    import torch.distributed as dist

    if world_size() > 1:
        dist.barrier()


@contextmanager
def main_writes_first():
    """Rank 0 runs the block (a write), the others skip it; everyone leaves together, so no rank reads a
    file before rank 0 has written it."""
    try:
        yield is_main()
    finally:
        barrier()


def shard(n: int) -> range:
    """This rank's contiguous block of ``range(n)``; blocks differ in length by at most one."""
    size, r = world_size(), rank()
    return range(n * r // size, n * (r + 1) // size)


def per_rank_batch(global_batch: int, what: str = "batch_size", available: int | None = None) -> int:
    """``global_batch`` split evenly over the ranks (a :class:`GfpError` when it does not divide, or when
    ``available`` items cannot fill one global batch: some rank would get none)."""
    size = world_size()
    if global_batch % size:
        raise GfpError(
            f"{what} {global_batch} does not divide over {size} processes; use a multiple of {size}"
        )
    if size > 1 and available is not None and available < global_batch:
        raise GfpError(
            f"{available} training images cannot fill one {what} of {global_batch} over {size} processes"
        )
    return global_batch // size


def average_gradients(params) -> None:
    """Replace every gradient by its mean over the ranks, in one flat all-reduce (a no-op alone)."""
    if world_size() == 1:
        return
    import torch
    import torch.distributed as dist

    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads]).to(_comm_device())
    dist.all_reduce(flat)
    flat.div_(world_size())
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def broadcast_module(module) -> None:
    """Rank 0's parameters and buffers to every rank (equal seeds already agree; this makes it certain)."""
    if world_size() == 1:
        return
    import torch.distributed as dist

    comm = _comm_device()
    for t in list(module.parameters()) + list(module.buffers()):
        buf = t.detach().to(comm)
        dist.broadcast(buf, src=0)
        t.data.copy_(buf)


def all_sum(*values: float) -> list[float]:
    """Each value summed over the ranks (float64)."""
    if world_size() == 1:
        return [float(v) for v in values]
    import torch
    import torch.distributed as dist

    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return t.cpu().tolist()


def gather_rows(t):
    """Every rank's tensor (same trailing shape and dtype, any number of rows), concatenated in rank order,
    on every rank (CPU). Alone: ``t`` itself."""
    if world_size() == 1:
        return t
    import torch
    import torch.distributed as dist

    comm = _comm_device()
    counts = torch.zeros(world_size(), dtype=torch.long, device=comm)
    counts[rank()] = len(t)
    dist.all_reduce(counts)
    most = int(counts.max())
    padded = torch.zeros((most, *t.shape[1:]), dtype=t.dtype, device=comm)
    padded[: len(t)] = t.to(comm)
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded)
    return torch.cat([p[: int(c)] for p, c in zip(parts, counts)]).cpu()


def gather_json(obj) -> list:
    """Every rank's JSON-able ``obj``, as a list in rank order, on every rank. JSON, never pickle: what
    crosses between processes is data, whatever a rank was fed."""
    if world_size() == 1:
        return [obj]
    import torch

    data = torch.frombuffer(bytearray(json.dumps(obj).encode()), dtype=torch.uint8)
    parts, out = gather_rows(data), []
    lengths = gather_rows(torch.tensor([len(data)]))
    offset = 0
    for n in lengths.tolist():
        out.append(json.loads(bytes(parts[offset : offset + n].numpy()).decode()))
        offset += n
    return out


def resolve_and_join(device_name: str):
    """``--device`` resolved (:func:`gfcore.execution.device.resolve_device`), then the torchrun process group joined
    when there is one: the device this process computes on. What every command that computes calls."""
    from gfcore.execution.device import resolve_device

    return init_from_env(resolve_device(device_name))


def progress_for_rank(enabled: bool):
    """The progress reporter of a command: rank 0's shows bars and logs; the other ranks stay silent (they
    run the same steps, so their lines would only repeat rank 0's)."""
    from contextlib import nullcontext

    from gfcore.terminal.progress import NullReporter, progress_reporter

    return progress_reporter(enabled) if is_main() else nullcontext(NullReporter())
