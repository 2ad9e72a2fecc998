"""The interfaces plugins implement. Images cross every interface as uint8 tensors ``[N, 3, H, W]`` (RGB,
the way prepared datasets store them); each method converts to what it needs on its own device.

* :class:`Attributor` -- anything that says which source made an image: fingerprint extractors (the
  learned network) and baselines alike. ``train``, ``evaluate``, ``attribute`` and ``bench`` work on any.
* :class:`GanSource` -- a generator family that trains on real images and samples new ones.
* :class:`Attack` -- a perturbation of images.

Hyper-parameters are a dataclass ``Config`` on each class; its field defaults are the method's defaults
and its field types say how ``name:key=value`` strings from the command line are parsed.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    import torch

    from .progress import Reporter


@dataclass
class Split:
    """One split of a prepared dataset: uint8 images ``[N, 3, H, W]`` (usually memory-mapped) and labels."""

    images: np.ndarray
    labels: np.ndarray  # int64 [N], indices into the class order

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class FitContext:
    """What the caller of :meth:`Attributor.fit` / :meth:`GanSource.train` provides.

    ``checkpoint(step, tensors, meta, metrics, is_best)`` persists resumable state (the run layer writes it
    atomically); ``resume`` holds the ``(tensors, meta)`` of the last checkpoint when the run continues.
    """

    device: torch.device
    progress: Reporter
    seed: int = 0
    checkpoint: Callable[..., None] = lambda *args, **kwargs: None
    resume: tuple[dict[str, torch.Tensor], dict[str, Any]] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # metrics per epoch, filled by fit()


class Attributor(ABC):
    """Attributes images to one of ``classes``. Extractors also expose fingerprints."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]  # a dataclass of hyper-parameters
    #: True when image_fingerprints / model_fingerprints are implemented
    has_fingerprints: ClassVar[bool] = False

    def __init__(self, classes: list[str], resolution: int, config: Any, device: torch.device | None = None):
        import torch

        self.classes = list(classes)
        self.resolution = resolution
        self.config = config
        self.device = device or torch.device("cpu")

    @abstractmethod
    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        """Learn from ``train``; may use ``val`` for model selection. Records metrics in ``ctx.history``."""

    @abstractmethod
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> float ``[N, len(classes)]`` scores (higher = more likely), on CPU."""

    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to predict again, as named tensors (saved as safetensors; never pickled)."""

    @abstractmethod
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict`'s output."""

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> ``[N, ...]`` the fingerprint of each image."""
        raise NotImplementedError(f"method {self.name!r} has no image fingerprints")

    def model_fingerprints(self) -> torch.Tensor:
        """``[L, ...]`` the fingerprint of each source, in class order."""
        raise NotImplementedError(f"method {self.name!r} has no model fingerprints")


class GanSource(ABC):
    """A generator family. ``Config`` must have ``resolution`` (int) among its fields."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]

    def __init__(self, config: Any, device: torch.device | None = None):
        import torch

        self.config = config
        self.device = device or torch.device("cpu")

    @abstractmethod
    def train(self, real: np.ndarray, ctx: FitContext, preview: Callable[[int], None] | None = None) -> None:
        """Train on uint8 real images ``[N, 3, R, R]``; ``preview(step)`` asks the caller to write a grid."""

    @abstractmethod
    def sample(self, n: int, seed: int) -> torch.Tensor:
        """``n`` images as uint8 ``[n, 3, R, R]`` on CPU, identical for the same state and seed."""

    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator (and what resuming needs) as named tensors."""

    @abstractmethod
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None: ...


class Attack(ABC):
    """A perturbation. Deterministic for a given ``torch.Generator`` state."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]  # parameter ranges; defaults are the paper's

    def __init__(self, config: Any):
        self.config = config

    @abstractmethod
    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> perturbed uint8 images of the same shape."""


def config_fields(config_cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_cls)}
