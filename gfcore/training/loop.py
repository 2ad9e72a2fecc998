"""The training loop shared by every neural method. A method supplies the network (and, if it wants, the
loss and optimiser); the loop supplies batching from memory-mapped arrays, augmentation, validation each
epoch, checkpoints through ``ctx.checkpoint`` and resuming from ``ctx.resume``.

Reproducibility: the shuffle order, the flips and the augmentation of epoch ``e`` come from generators
seeded with ``(seed, e)``, so a resumed run sees exactly the batches an uninterrupted one would.

Under torchrun (:mod:`gfcore.execution.distributed`) ``batch_size`` is the global batch: every rank draws the same
shuffle and flips and takes its slice of each batch; gradients are averaged before each step, so N
processes step as one would (up to float summation order); augmentation draws a stream per rank.

Augmentation point: each uint8 training batch, on the device, goes through the method's own
``augment`` (the cnn baseline's blur + JPEG) and then, when set, the method's ``attack`` (``gfp
immunize``), before the conversion to [-1, 1] and the flip.
"""

from __future__ import annotations

import math
import time
from abc import abstractmethod
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gfcore.config import bounded, non_negative, positive
from gfcore.errors import GfpError
from gfcore.execution import distributed as dist
from gfcore.execution.accel import autocast, to_device
from gfcore.inference.attacks import attack_generator
from gfcore.inference.evaluation import split_accuracy  # train_network's validation (tests patch it here)
from gfcore.interfaces import Attributor, FitContext, Split
from gfcore.runs.schema import check_checkpoint_meta, describe_weight_mismatch
from gfcore.training.optim_state import optimizer_from_tensors, optimizer_to_tensors


@dataclass
class NeuralConfig:
    """Training fields every neural method's ``Config`` inherits (defaults: the paper's classifier).
    The ranges are checked before anything is written (:func:`gfcore.config.check_config`); a subclass
    that re-declares a field to change its default keeps the range."""

    epochs: int = bounded(10, min=1)
    batch_size: int = bounded(32, min=1)
    lr: float = positive(1e-3)
    beta1: float = bounded(0.0, min=0, max=1, max_open=True)  # Adam beta1 = 0 as in ProGAN and the paper
    beta2: float = bounded(0.99, min=0, max=1, max_open=True)
    eps: float = positive(1e-8)
    flip: bool = True  # random horizontal flip with p = 0.5, the paper's only augmentation
    eval_batch_size: int = bounded(256, min=1)
    # Early stopping, off when 0: stop after `patience` epochs without a better validation accuracy, or
    # as soon as validation accuracy is perfect (the kept best weights can then no longer change).
    patience: int = non_negative(0)
    # Learning-rate schedule (off by default: the paper trains at a constant rate). The rate at each global
    # step is a pure function of that step, so a resumed run continues the schedule exactly.
    #   lr_schedule: constant | cosine (to 0 at the last step of `epochs`) | step (x0.1 at 50% and 75%)
    #   warmup_epochs: a linear warm-up from lr/steps to lr over this many epochs (fractions allowed)
    lr_schedule: str = "constant"
    warmup_epochs: float = non_negative(0.0)

    def validate(self) -> None:
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule={self.lr_schedule!r}: expected one of {', '.join(LR_SCHEDULES)}")
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} is longer than epochs={self.epochs}")


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


def _epoch_generators(seed: int, epoch: int) -> tuple[np.random.Generator, torch.Generator]:
    rng = np.random.default_rng([seed, epoch])
    gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
    return rng, gen


class NeuralAttributor(Attributor):
    """Base class for methods trained by gradient descent. Subclasses implement :meth:`build_network`."""

    def __init__(self, classes, resolution, config, device=None):
        super().__init__(classes, resolution, config, device)
        # channels-last: oneDNN (CPU) and cuDNN (GPU) convolutions run faster on it (benchmarks/data_path.py)
        self.network = self.build_network().to(self.device, memory_format=torch.channels_last)

    @abstractmethod
    def build_network(self) -> nn.Module:
        """A module mapping float images in [-1, 1] ``[N,3,R,R]`` to logits ``[N, L]``."""

    def class_head(self) -> tuple[str, ...]:
        """State-dict names (or module prefixes) of the tensors that depend on the classes: what
        ``gfp train --init-from`` starts afresh when the run it starts from has other classes. None by
        default (such a method can start only from a run with the same classes)."""
        return ()

    #: execution settings (gfcore.execution.accel.configure): autocast precision, and the torch.compile'd network
    precision = "fp32"
    compiled = None

    def configure_execution(self, precision: str = "fp32", compile: bool = False) -> None:
        """bf16 autocast and torch.compile (:mod:`gfcore.execution.accel`); the compiled module shares the
        network's weights, so checkpoints keep their names."""
        self.precision = precision
        if compile:
            self.compiled = torch.compile(self.network)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network on a float batch: the compiled one when ``--compile`` asked for it."""
        return (self.compiled or self.network)(x)

    def make_optimizer(self, params) -> torch.optim.Optimizer:
        c = self.config
        return torch.optim.Adam(params, lr=c.lr, betas=(c.beta1, c.beta2), eps=c.eps)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, labels)

    # -- the training step: override both for a method with several networks (visNet's critic) ----------
    def make_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The optimisers the loop checkpoints and resumes, by name (the name prefixes their tensors).
        Default: one, ``"optim"``, from :meth:`make_optimizer` over the whole network."""
        return {"optim": self.make_optimizer(self.network.parameters())}

    def train_step(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        optimizers: dict[str, torch.optim.Optimizer],
        generator: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """One update on a float batch in [-1, 1] (augmented and flipped): ``(loss, logits, skipped)``, with
        ``skipped`` the number of updates left out for non-finite gradients. Random draws come from
        ``generator`` (seeded per epoch, so a resumed run draws what an uninterrupted one would)."""
        logits = self.forward(x)
        loss = self.loss(logits, y)
        return loss, logits, 0 if step_if_finite(optimizers["optim"], loss, self.network.parameters()) else 1

    # -- inference -------------------------------------------------------------------------------
    def _batched(self, images: torch.Tensor, fn) -> torch.Tensor:
        self.network.eval()
        outs = []
        with torch.no_grad(), autocast(self.device, self.precision):
            for start in range(0, len(images), self.config.eval_batch_size):
                x = uint8_to_unit_range(images[start : start + self.config.eval_batch_size], self.device)
                outs.append(fn(x).float().cpu())
        return torch.cat(outs) if outs else torch.empty(0)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self._batched(images, self.forward)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return dict(self.network.state_dict())

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        self.network.load_state_dict(tensors)

    # -- augmentation: the loop calls both on every training batch (uint8, on the device) -----------------
    #: An attack set by `gfp immunize`: it perturbs every training batch *and* the validation images, so
    #: the kept best weights are the ones that attribute attacked images best.
    attack = None

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A method's own training augmentation of a uint8 batch on the device (validation stays clean);
        every random draw from ``generator``. Default: none (the paper's only augmentation is the flip)."""
        return images

    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        train_network(self, train, val, ctx)


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


def _meta_key(name: str) -> str:
    return "optimizer" if name == "optim" else f"optimizer.{name}"


def train_network(method: NeuralAttributor, train: Split, val: Split, ctx: FitContext) -> None:
    """Epochs of minibatch training with validation and a checkpoint after each epoch."""
    cfg, net, device = method.config, method.network, method.device
    opts = method.make_optimizers()
    start_epoch, best_val, best_epoch = 0, -1.0, 0
    if ctx.resume is not None:  # 1) pick up where the last checkpoint left off
        tensors, meta = ctx.resume
        check_checkpoint_meta(meta)
        model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        # the config is the truth for hyper-parameters (a resume may change --lr); the checkpoint for state
        settings = {
            name: [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
            for name, opt in opts.items()
        }
        try:
            net.load_state_dict(model)
            for name, opt in opts.items():
                optimizer_from_tensors(opt, tensors, meta[_meta_key(name)], name)
                for group, setting in zip(opt.param_groups, settings[name], strict=True):
                    group.update(setting)
        except (RuntimeError, KeyError, ValueError, TypeError, IndexError) as exc:
            why = describe_weight_mismatch(net.state_dict(), model, len(method.classes))
            raise GfpError(
                f"last.safetensors does not fit this run ({why or str(exc).splitlines()[0]})"
            ) from None
        start_epoch, best_val = meta["epoch"], meta["best_val_accuracy"]
        best_val = -1.0 if best_val is None or np.isnan(best_val) else float(best_val)
        best_epoch = int(meta.get("best_epoch", start_epoch))
        ctx.history[:] = meta["history"]

    dist.broadcast_module(net)  # equal seeds build equal weights; this makes every rank certain of it
    n, bs = len(train), cfg.batch_size
    local = dist.per_rank_batch(bs, available=n)
    mine = slice(dist.rank() * local, (dist.rank() + 1) * local)  # this rank's part of each global batch
    steps_per_epoch = max(1, n // bs)  # drop the ragged last batch, as the paper's infinite stream does
    base_lrs = {name: [g["lr"] for g in opt.param_groups] for name, opt in opts.items()}
    task = ctx.progress.task("training", total=(cfg.epochs - start_epoch) * steps_per_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        rng, flip_gen = _epoch_generators(ctx.seed, epoch)
        # streams of their own (flips stay as they were), one per rank (rank 0's is the single process's)
        per_rank = (dist.rank(),) if dist.rank() else ()
        aug_gen = attack_generator(ctx.seed, epoch, 1, *per_rank)
        step_gen = attack_generator(ctx.seed, epoch, 2, *per_rank)  # draws inside train_step (visNet)
        order = rng.permutation(n)
        net.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)  # a non-finite loss in any step makes it non-finite
        correct = torch.zeros((), device=device, dtype=torch.long)
        skipped = 0
        for step in range(steps_per_epoch):
            # 2) a batch: sorted indices make memory-mapped reads sequential-ish
            idx = np.sort(order[step * bs : (step + 1) * bs])
            # every rank draws the whole batch's flips (the same stream) and keeps its slice
            flips = torch.rand(len(idx), generator=flip_gen)[mine] < 0.5 if cfg.flip else None
            idx = idx[mine]
            batch = to_device(torch.from_numpy(train.images[idx]), device)
            batch = method.augment(batch, aug_gen)
            if method.attack is not None:  # immunisation: the attack on the fly, on the device
                batch = method.attack.apply(batch, aug_gen)
            x = uint8_to_unit_range(batch, device)
            y = torch.from_numpy(train.labels[idx]).to(device)
            if flips is not None:
                mask = flips.to(device, non_blocking=True)
                x = torch.where(mask[:, None, None, None], x.flip(3), x)
            if scheduled(cfg):  # the rate of this global step (a resumed run computes the same)
                factor = lr_factor(cfg, epoch * steps_per_epoch + step, steps_per_epoch)
                for name, opt in opts.items():
                    for group, base in zip(opt.param_groups, base_lrs[name], strict=True):
                        group["lr"] = base * factor
            # 3) forward, backward; updates with non-finite gradients are skipped, as in the paper's code
            with autocast(device, method.precision):
                loss, logits, step_skipped = method.train_step(x, y, opts, step_gen)
            skipped += step_skipped
            loss_sum += loss.detach()
            correct += (logits.detach().argmax(1) == y).sum()
            task.advance()
            if step % 20 == 0:
                task.update(status=f"epoch {epoch + 1}/{cfg.epochs} loss {loss.item():.3f}")
        train_seconds = time.perf_counter() - t0
        epoch_loss, epoch_correct = dist.all_sum(float(loss_sum), int(correct))
        # 4) a diverged epoch is not checkpointed: the last good checkpoint stays what --resume continues.
        # Diverged: a non-finite loss, non-finite weights, or finite weights so large that the last batch
        # no longer gives finite logits (the epoch's last update is seen by no loss of this epoch).
        net.eval()
        with torch.no_grad():
            probe_finite = bool(torch.isfinite(net(x)).all())
        finite = probe_finite and all(bool(torch.isfinite(p).all()) for p in net.parameters())
        (unfinished,) = dist.all_sum(0 if finite and np.isfinite(epoch_loss) else 1)
        if unfinished:  # all ranks stop together
            task.done()
            kept = f"kept the checkpoint of epoch {epoch}" if epoch else "no checkpoint was written"
            raise GfpError(
                f"training diverged in epoch {epoch + 1} (non-finite loss); {kept}; try a smaller --lr"
            )
        # 5) validate, record, checkpoint
        val_acc = split_accuracy(method, val, attack=method.attack, seed=ctx.seed)
        record = {
            "epoch": epoch + 1,
            "train_loss": epoch_loss / steps_per_epoch / dist.world_size(),
            "train_accuracy": int(epoch_correct) / (steps_per_epoch * bs),
            "val_accuracy": val_acc,
            "skipped_steps": skipped,
            "seconds": round(train_seconds, 3),
            "images_per_second": round(steps_per_epoch * bs / max(train_seconds, 1e-9), 1),
        }
        ctx.history.append(record)
        is_best = (
            not np.isnan(val_acc) and val_acc > best_val or (np.isnan(val_acc) and epoch == cfg.epochs - 1)
        )
        if is_best and not np.isnan(val_acc):
            best_val, best_epoch = val_acc, epoch + 1
        tensors = {f"model.{k}": v for k, v in net.state_dict().items()}
        meta = {
            "epoch": epoch + 1,
            "best_val_accuracy": best_val,
            "best_epoch": best_epoch,
            "history": ctx.history,
        }
        for name, opt in opts.items():
            opt_tensors, meta[_meta_key(name)] = optimizer_to_tensors(opt, name)
            tensors |= opt_tensors
        ctx.checkpoint(epoch + 1, tensors, meta, record, is_best)
        task.update(status=f"epoch {epoch + 1}: val acc {val_acc:.3f}")
        ctx.progress.log(
            f"epoch {epoch + 1}/{cfg.epochs}: loss {record['train_loss']:.4f} "
            f"train acc {record['train_accuracy']:.3f} val acc {val_acc:.3f}"
        )
        if cfg.patience and epoch + 1 < cfg.epochs:
            if epoch + 1 - best_epoch >= cfg.patience:
                ctx.progress.log(f"early stop: no better validation accuracy for {cfg.patience} epoch(s)")
                break
            if best_val >= 1.0:
                ctx.progress.log("early stop: validation accuracy is 100%, the best weights are final")
                break
    task.done()
