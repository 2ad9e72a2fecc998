"""What gfp hands the methods it trains (:mod:`gfcore.interfaces`, which re-exports both): a split of a
prepared dataset, and the context of a fit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import torch

    from gfcore.terminal.progress import Reporter


@dataclass
class Split:
    """One split of a prepared dataset: uint8 images ``[N, 3, H, W]`` (usually memory-mapped) and labels."""

    images: np.ndarray
    labels: np.ndarray  # int64 [N], indices into the class order

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FitContext:
    """What gfp gives :meth:`Attributor.fit` and :meth:`GanSource.train`.

    * ``device``: where to compute (the instance was built for the same device).
    * ``progress``: a :class:`gfcore.terminal.progress.Reporter`: ``task(description, total)`` gives a bar with
      ``advance()``, ``update(completed=..., status=...)`` and ``done()``; ``log(line)`` and ``warn(line)``
      print to stderr. Never print to stdout: it holds the command's result.
    * ``seed``: seed every random draw from it, so the same seed gives the same model.
    * ``checkpoint(step, tensors, meta, metrics=None, is_best=False)``: persist resumable state, with
      ``tensors`` a dict of named tensors and ``meta`` JSON-able values; the run layer writes both
      atomically. Call it after each epoch (attributors) or every few iterations and at the last one (GAN
      sources); ``is_best`` marks the weights an attributor's run keeps as its result.
    * ``resume``: the ``(tensors, meta)`` of the last checkpoint when a run continues, else ``None``;
      continue from there so that a resumed run ends as an uninterrupted one would.
    * ``history``: append one JSON-able dict of metrics per epoch (or per logged step); it is saved in the
      run. When resuming, it already holds the earlier entries.
    """

    device: torch.device
    progress: Reporter
    seed: int = 0
    checkpoint: Callable[..., None] = lambda *args, **kwargs: None
    resume: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics per epoch, filled by fit()
