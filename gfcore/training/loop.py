"""The training loop shared by every neural method (:class:`~gfcore.training.neural.NeuralAttributor`). A
method supplies the network (and, if it wants, the loss and optimiser); the loop supplies batching from
memory-mapped arrays, augmentation, the learning-rate schedule, validation each epoch, checkpoints through
``ctx.checkpoint``, resuming from ``ctx.resume`` and early stopping.

Reproducibility: the shuffle order, the flips and the augmentation of epoch ``e`` come from generators
seeded with ``(seed, e)``, so a resumed run sees exactly the batches an uninterrupted one would.

Under torchrun (:mod:`gfcore.execution.distributed`) ``batch_size`` is the global batch: every rank draws the
same shuffle and flips and takes its slice of each batch; gradients are averaged before each step, so N
processes step as one would (up to float summation order); augmentation draws a stream per rank.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np
import torch

from gfcore.errors import GfpError
from gfcore.execution import distributed as dist
from gfcore.execution.accel import autocast, to_device
from gfcore.inference.attacks import attack_generator
from gfcore.inference.evaluation import split_accuracy  # train_network's validation (tests patch it here)
from gfcore.interfaces import FitContext, Split
from gfcore.runs.schema import check_checkpoint_meta, describe_weight_mismatch
from gfcore.training.optim_state import optimizer_from_tensors, optimizer_to_tensors

if TYPE_CHECKING:
    from gfcore.training.neural import NeuralAttributor, NeuralConfig

LR_SCHEDULES = ("constant", "cosine", "step")


def lr_factor(cfg: NeuralConfig, step: int, steps_per_epoch: int) -> float:
    """The multiplier of the configured rate at global step ``step`` (0-based) of ``cfg.epochs`` epochs."""
    total = cfg.epochs * steps_per_epoch
    warmup = min(total, round(cfg.warmup_epochs * steps_per_epoch))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)  # 0 at the end of warm-up, -> 1 at the last step
    if cfg.lr_schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    if cfg.lr_schedule == "step":
        return 0.1 ** ((progress >= 0.5) + (progress >= 0.75))
    return 1.0


def scheduled(cfg: NeuralConfig) -> bool:
    return cfg.lr_schedule != "constant" or cfg.warmup_epochs > 0


def uint8_to_unit_range(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [N,3,H,W] -> float32 in [-1, 1] on ``device`` (the paper's x*2/255 - 1), channels-last."""
    x = images.to(device, non_blocking=True).float().mul_(2.0 / 255.0).sub_(1.0)
    return x.contiguous(memory_format=torch.channels_last)


def step_if_finite(opt: torch.optim.Optimizer, loss: torch.Tensor, params) -> bool:
    """Backward ``loss`` and step ``opt``, unless a gradient is non-finite (the paper's code skips such
    updates); True when it stepped."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    params = list(params)
    dist.average_gradients(params)  # distributed: the mean over ranks, so all ranks take one decision
    grads = [p.grad for p in params if p.grad is not None]
    if grads and not torch.isfinite(torch.stack([g.detach().abs().sum() for g in grads]).sum()):
        return False
    opt.step()
    return True


def _epoch_generators(seed: int, epoch: int) -> tuple[np.random.Generator, torch.Generator]:
    rng = np.random.default_rng([seed, epoch])
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return rng, gen


def _meta_key(name: str) -> str:
    return "optimizer" if name == "optim" else f"optimizer.{name}"


def train_network(method: NeuralAttributor, train: Split, val: Split, ctx: FitContext) -> None:
    """Epochs of minibatch training with validation and a checkpoint after each epoch: set up (and resume),
    then per epoch train, check for divergence, validate, checkpoint and maybe stop early."""
    loop = _Loop(method, train, ctx)
    cfg = method.config
    loop.task = ctx.progress.task("training", total=(cfg.epochs - loop.start_epoch) * loop.steps_per_epoch)
    for epoch in range(loop.start_epoch, cfg.epochs):
        stats = loop.train_epoch(epoch)
        loop.stop_if_diverged(epoch, stats)
        val_acc = split_accuracy(method, val, attack=method.attack, seed=ctx.seed)
        loop.end_epoch(epoch, stats, val_acc)
        if loop.stops_early(epoch):
            break
    loop.task.done()


class _Loop:
    """The state of one training: the method, its optimisers, how a global batch is cut, the best epoch."""

    def __init__(self, method: NeuralAttributor, train: Split, ctx: FitContext):
        self.method, self.train, self.ctx, self.cfg = method, train, ctx, method.config
        self.opts = method.make_optimizers()
        self.start_epoch, self.best_val, self.best_epoch = 0, -1.0, 0
        if ctx.resume is not None:  # pick up where the last checkpoint left off
            self.resume(*ctx.resume)
        dist.broadcast_module(method.network)  # equal seeds build equal weights; this makes every rank sure
        n, self.bs = len(train), self.cfg.batch_size
        local = dist.per_rank_batch(self.bs, available=n)
        self.mine = slice(dist.rank() * local, (dist.rank() + 1) * local)  # this rank's part of a batch
        self.steps_per_epoch = max(1, n // self.bs)  # drop the ragged last batch, as the paper's stream does
        self.base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in self.opts.items()}

    def resume(self, tensors: dict, meta: dict) -> None:
        """The weights and optimiser state of ``last.safetensors``; the config stays the truth for
        hyper-parameters (a resume may change --lr)."""
        check_checkpoint_meta(meta)
        net = self.method.network
        model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        settings = {
            name: [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
            for name, opt in self.opts.items()
        }
        try:
            net.load_state_dict(model)
            for name, opt in self.opts.items():
                optimizer_from_tensors(opt, tensors, meta[_meta_key(name)], name)
                for group, setting in zip(opt.param_groups, settings[name], strict=True):
                    group.update(setting)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            why = describe_weight_mismatch(net.state_dict(), model, len(self.method.classes))
            raise GfpError(
                f"last.safetensors does not fit this run ({why or str(exc).splitlines()[0]})"
            ) from None
        self.start_epoch, best_val = meta["epoch"], meta["best_val_accuracy"]
        self.best_val = -1.0 if best_val is None or np.isnan(best_val) else float(best_val)
        self.best_epoch = int(meta.get("best_epoch", self.start_epoch))
        self.ctx.history[:] = meta["history"]

    def train_epoch(self, epoch: int) -> dict:
        """One epoch of steps: the loss and correct-count sums (over ranks), skipped updates, seconds, and
        the last batch (the divergence probe)."""
        seed, per_rank = self.ctx.seed, (dist.rank(),) if dist.rank() else ()
        rng, flip_gen = _epoch_generators(seed, epoch)
        # streams of their own (flips stay as they were), one per rank (rank 0's is the single process's)
        aug_gen = attack_generator(seed, epoch, 1, *per_rank)
        step_gen = attack_generator(seed, epoch, 2, *per_rank)  # draws inside train_step (visNet)
        order = rng.permutation(len(self.train))
        self.method.network.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=self.method.device)  # any non-finite step loss makes it non-finite
        correct = torch.zeros((), device=self.method.device, dtype=torch.long)
        skipped = 0
        for step in range(self.steps_per_epoch):
            x, y = self.batch(order[step * self.bs : (step + 1) * self.bs], flip_gen, aug_gen)
            self.set_lr(epoch * self.steps_per_epoch + step)
            # forward, backward; updates with non-finite gradients are skipped, as in the paper's code
            with autocast(self.method.device, self.method.precision):
                loss, logits, step_skipped = self.method.train_step(x, y, self.opts, step_gen)
            skipped += step_skipped
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(1) == y).sum()
            self.task.advance()
            if step % 20 == 0:
                self.task.update(status=f"epoch {epoch + 1}/{self.cfg.epochs} loss {loss.item():.3f}")
        seconds = time.perf_counter() - t0
        loss_total, correct_total = dist.all_sum(float(loss_sum), int(correct))
        return {"loss": loss_total, "correct": correct_total, "skipped": skipped, "seconds": seconds, "x": x}

    def batch(self, rows: np.ndarray, flip_gen: torch.Generator, aug_gen: torch.Generator):
        """This rank's part of a global batch, augmented, in [-1, 1] and flipped, with its labels."""
        method, device = self.method, self.method.device
        idx = np.sort(rows)  # sorted indices make memory-mapped reads sequential-ish
        # every rank draws the whole batch's flips (the same stream) and keeps its slice
        flips = torch.rand(len(idx), generator=flip_gen)[self.mine] < 0.5 if self.cfg.flip else None
        idx = idx[self.mine]
        images = to_device(torch.from_numpy(self.train.images[idx]), device)
        images = method.augment(images, aug_gen)
        if method.attack is not None:  # immunisation: the attack on the fly, on the device
            images = method.attack.apply(images, aug_gen)
        x = uint8_to_unit_range(images, device)
        y = torch.from_numpy(self.train.labels[idx]).to(device)
        if flips is not None:
            mask = flips.to(device, non_blocking=True)
            x = torch.where(mask[:, None, None, None], x.flip(3), x)
        return x, y

    def set_lr(self, global_step: int) -> None:
        """The rate of this global step, when a schedule is on (a resumed run computes the same)."""
        if scheduled(self.cfg):
            factor = lr_factor(self.cfg, global_step, self.steps_per_epoch)
            for name, opt in self.opts.items():
                for group, base in zip(opt.param_groups, self.base_lrs[name], strict=True):
                    group["lr"] = base * factor

    def stop_if_diverged(self, epoch: int, stats: dict) -> None:
        """A diverged epoch is not checkpointed: the last good checkpoint stays what --resume continues.
        Diverged: a non-finite loss, non-finite weights, or finite weights so large that the last batch no
        longer gives finite logits (the epoch's last update is seen by no loss of this epoch)."""
        net = self.method.network
        net.eval()
        with torch.no_grad():
            probe_finite = bool(torch.isfinite(net(stats["x"])).all())
        finite = probe_finite and all(bool(torch.isfinite(p).all()) for p in net.parameters())
        (unfinished,) = dist.all_sum(0 if finite and np.isfinite(stats["loss"]) else 1)
        if unfinished:  # all ranks stop together
            self.task.done()
            kept = f"kept the checkpoint of epoch {epoch}" if epoch else "no checkpoint was written"
            raise GfpError(
                f"training diverged in epoch {epoch + 1} (non-finite loss); {kept}; try a smaller --lr"
            )

    def end_epoch(self, epoch: int, stats: dict, val_acc: float) -> None:
        """Record the epoch in the history, keep the best validation accuracy, checkpoint, report."""
        steps, bs = self.steps_per_epoch, self.bs
        record = {
            "epoch": epoch + 1,
            "train_loss": stats["loss"] / steps / dist.world_size(),
            "train_accuracy": int(stats["correct"]) / (steps * bs),
            "val_accuracy": val_acc,
            "skipped_steps": stats["skipped"],
            "seconds": round(stats["seconds"], 3),
            "images_per_second": round(steps * bs / max(stats["seconds"], 1e-9), 1),
        }
        self.ctx.history.append(record)
        is_best = (
            not np.isnan(val_acc)
            and val_acc > self.best_val
            or (np.isnan(val_acc) and epoch == self.cfg.epochs - 1)
        )
        if is_best and not np.isnan(val_acc):
            self.best_val, self.best_epoch = val_acc, epoch + 1
        self.ctx.checkpoint(epoch + 1, *self.checkpoint_state(epoch), record, is_best)
        self.task.update(status=f"epoch {epoch + 1}: val acc {val_acc:.3f}")
        self.ctx.progress.log(
            f"epoch {epoch + 1}/{self.cfg.epochs}: loss {record['train_loss']:.4f} "
            f"train acc {record['train_accuracy']:.3f} val acc {val_acc:.3f}"
        )

    def checkpoint_state(self, epoch: int) -> tuple[dict, dict]:
        """The tensors and meta of ``last.safetensors`` after ``epoch``: weights, optimisers, history."""
        tensors = {f"model.{k}": v for k, v in self.method.network.state_dict().items()}
        meta = {
            "epoch": epoch + 1,
            "best_val_accuracy": self.best_val,
            "best_epoch": self.best_epoch,
            "history": self.ctx.history,
        }
        for name, opt in self.opts.items():
            opt_tensors, meta[_meta_key(name)] = optimizer_to_tensors(opt, name)
            tensors |= opt_tensors
        return tensors, meta

    def stops_early(self, epoch: int) -> bool:
        """Early stopping (``patience``): no better validation accuracy for that long, or a perfect one."""
        patience, log = self.cfg.patience, self.ctx.progress.log
        if not patience or epoch + 1 >= self.cfg.epochs:
            return False
        if epoch + 1 - self.best_epoch >= patience:
            log(f"early stop: no better validation accuracy for {patience} epoch(s)")
            return True
        if self.best_val >= 1.0:
            log("early stop: validation accuracy is 100%, the best weights are final")
            return True
        return False
