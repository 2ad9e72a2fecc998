"""The base of every neural method: :class:`NeuralConfig`, the training fields its ``Config`` inherits, and
:class:`NeuralAttributor`, the network, optimisers, training step, augmentation points and batched
inference that :func:`gfcore.training.loop.train_network` drives.

Augmentation point: each uint8 training batch, on the device, goes through the method's own
``augment`` (the cnn baseline's blur + JPEG) and then, when set, the method's ``attack`` (``gfp
immunize``), before the conversion to [-1, 1] and the flip.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gfcore.config import bounded, non_negative
from gfcore.execution.accel import autocast
from gfcore.interfaces import Attributor, FitContext, Split
from gfcore.training.loop import LR_SCHEDULES, step_if_finite, train_network, uint8_to_unit_range


@dataclass
class NeuralConfig:
    """Training fields every neural method's ``Config`` inherits (defaults: the paper's classifier).
    The ranges are checked before anything is written (:func:`gfcore.config.check_config`); a subclass
    that re-declares a field to change its default keeps the range."""

    # The upper bounds are far beyond real use (the paper: tens of epochs, batches of 32-256, Adam at 1e-3);
    # they refuse a typo before minutes of work or an allocation that cannot succeed.

    epochs: int = bounded(10, min=1, max=100_000)
    batch_size: int = bounded(32, min=1, max=65_536)
    lr: float = bounded(
        1e-3, min=0, max=1e6, min_open=True
    )  # Adam's rate; at most 1e6, which diverges but in finite numbers
    beta1: float = bounded(0.0, min=0, max=1, max_open=True)  # Adam beta1 = 0 as in ProGAN and the paper
    beta2: float = bounded(0.99, min=0, max=1, max_open=True)
    eps: float = bounded(1e-8, min=0, max=1, min_open=True)
    flip: bool = True  # random horizontal flip with p = 0.5, the paper's only augmentation
    eval_batch_size: int = bounded(256, min=1, max=65_536)
    # Early stopping, off when 0: stop after `patience` epochs without a better validation accuracy, or
    # as soon as validation accuracy is perfect (the kept best weights can then no longer change).
    patience: int = bounded(0, min=0, max=100_000)
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
