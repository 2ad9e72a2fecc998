"""The interfaces plugins implement: the written contract of every kind. Images cross every interface as
uint8 tensors ``[N, 3, H, W]`` (RGB, the way prepared datasets store them); each method converts to what it
needs on its own device.

* :class:`Attributor` -- anything that says which source made an image: fingerprint extractors (the
  learned network) and baselines alike. ``train``, ``evaluate``, ``attribute`` and ``bench`` work on any.
* :class:`GanSource` -- a generator family that trains on real images and samples new ones.
* :class:`Attack` -- a perturbation of images.

What every registered class has (checked when it is registered, see :func:`contract_problem`):

* ``name`` (str, unique per kind; ``register(cls, name=...)`` may give another), ``description`` (one
  line for ``gfp plugins``; optional);
* ``Config``: a dataclass of hyper-parameters whose fields all have defaults. The defaults are the
  method's defaults; the field types say how ``name:key=value`` strings from the command line are parsed
  (int, float, bool, str, ``X | None``, ``tuple[X, ...]``). It may have no fields.
* ``conformance_overrides`` (optional): ``Config`` values that make :mod:`gfcore.testing`'s conformance
  checks fast (tiny widths, one epoch). They change nothing else.

:mod:`gfcore.testing` checks a class against this contract; run it over your plugin's classes.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from gfcore.contexts import FitContext, Split  # noqa: F401 (part of the contract, defined apart)

if TYPE_CHECKING:  # neither is imported at run time: `gfp --help` loads this module through the plugins
    import numpy as np
    import torch


#: The roles a method can declare (``Attributor.roles``): ``reference``: the method ``gfp train`` uses when
#: none is named, and the one the bench tests every other method against; ``pixel-knn``: a nearest-neighbour
#: classifier on raw pixels, the shortcut audit's pixel cue; ``persistence``: a variant of a network that
#: sees one frequency band or small patches of the image at a resolution R, which the persistence study
#: sweeps (such a class names that Config field in ``sweep_parameter`` and declares ``persistence_panel``:
#: ``(panel title, x-axis label, curve label)`` of the study's figure). Every method may hold several roles.
ROLES = ("reference", "pixel-knn", "persistence")


class Attributor(ABC):
    """Attributes images to one of ``classes``: baselines (``gfp_register_baselines``) and fingerprint
    extractors (``gfp_register_extractors``).

    Required: :meth:`fit`, :meth:`logits`, :meth:`state_dict`, :meth:`load_state_dict`. The constructor
    takes ``(classes, resolution, config, device)``; override it to check ``config`` (raise
    :class:`gfcore.errors.GfpError` with one line) but call ``super().__init__`` first. An instance built
    with the same arguments and given :meth:`state_dict`'s tensors must predict exactly as the fitted one.

    Optional: ``has_fingerprints = True`` with :meth:`image_fingerprints` and :meth:`model_fingerprints`
    (required for extractors: ``gfp fingerprints`` uses them).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]  # a dataclass of hyper-parameters
    #: True when image_fingerprints / model_fingerprints are implemented
    has_fingerprints: ClassVar[bool] = False
    #: Config values that make the conformance checks fast (see gfcore.testing)
    conformance_overrides: ClassVar[dict[str, Any]] = {}
    #: What the method stands for in gfp's own studies, by the names in :data:`ROLES`
    #: (``Registries.with_role``, ``Registries.all_with_role``).
    roles: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, classes: list[str], resolution: int, config: Any, device: torch.device | None = None):
        import torch

        self.classes = list(classes)
        self.resolution = resolution
        self.config = config
        self.device = device or torch.device("cpu")

    @classmethod
    def resolution_problem(cls, resolution: int) -> str | None:
        """Why the method cannot train at ``resolution`` (one line, for ``gfp prepare``), or None."""
        return None

    @abstractmethod
    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        """Learn from ``train`` (uint8 images, often memory-mapped: read them in chunks); may use ``val``
        for model selection. Append metrics to ``ctx.history``; neural methods call
        ``ctx.checkpoint`` each epoch and resume from ``ctx.resume``."""

    @abstractmethod
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> float ``[N, len(classes)]`` scores (higher = more likely), on CPU."""

    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """Everything needed to predict again, as named tensors (saved as safetensors; never pickled)."""

    @abstractmethod
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict`'s output (as read back from safetensors)."""

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> float ``[N, ...]`` the fingerprint of each image, on CPU."""
        raise NotImplementedError(f"method {self.name!r} has no image fingerprints")

    def model_fingerprints(self) -> torch.Tensor:
        """float ``[L, ...]`` the fingerprint of each source, in class order, on CPU."""
        raise NotImplementedError(f"method {self.name!r} has no model fingerprints")

    @classmethod
    def shipped_runs(cls) -> dict[str, Path]:
        """Trained runs this method ships, by name (unique across methods): each a run folder holding
        ``run.json`` and ``weights.safetensors`` as ``gfp train`` writes them, usable as ``shipped:NAME``
        wherever a run is taken (``gfp attribute shipped:NAME``, ``gfp.load("shipped:NAME")``). Include the
        folders as package data. Default: none."""
        return {}


class GanSource(ABC):
    """A generator family (``gfp_register_gan_sources``), trained and sampled by ``gfp gan``.

    Required: ``Config`` with ``resolution: int`` (image side) and ``iters: int`` (training length, the
    field ``gfp gan train --iters`` and ``--resume`` change) among its fields; :meth:`train`,
    :meth:`sample`, :meth:`state_dict`, :meth:`load_state_dict`. The constructor takes
    ``(config, device)``.

    Optional: :meth:`generator_state_dict` (what sampling needs, when that is less than the state),
    :meth:`shipped_generators` (pretrained weights the family ships) and ``sampling_fields``.

    A GAN run (:mod:`gfcore.runs.gan`) writes ``generator.safetensors`` from :meth:`generator_state_dict`
    at each checkpoint and when :meth:`train` returns; ``gfp gan sample`` rebuilds the family from the
    run's config and calls :meth:`load_state_dict` on that file, then :meth:`sample`.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    conformance_overrides: ClassVar[dict[str, Any]] = {}
    #: Config fields that say how trained weights are sampled, not what they learned (a diffusion model's
    #: sampler and step count): ``load_gan(run, sampling={...})`` and ``gfp gan sample RUN --param k=v``
    #: may change them, so the same weights sampled another way are a source of their own. Default: none.
    sampling_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, device: torch.device | None = None):
        import torch

        self.config = config
        self.device = device or torch.device("cpu")

    @abstractmethod
    def train(self, real: np.ndarray, ctx: FitContext, preview: Callable[[int], None] | None = None) -> None:
        """Train for ``config.iters`` iterations on uint8 real images ``[N, 3, R, R]``, seeded by
        ``ctx.seed``. Call ``ctx.checkpoint(step, tensors, meta)`` every few iterations and at the last one
        with what resuming needs; when ``ctx.resume`` is given, continue from it. ``preview(step)`` (may be
        ``None``) asks the caller to write a grid of samples."""

    @abstractmethod
    def sample(self, n: int, seed: int) -> torch.Tensor:
        """``n`` images as uint8 ``[n, 3, R, R]`` on CPU, identical for the same state and seed."""

    @abstractmethod
    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator (and what else the family keeps, e.g. its critic) as named tensors."""

    @abstractmethod
    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore from :meth:`state_dict`'s or :meth:`generator_state_dict`'s output."""

    def generator_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what :meth:`sample` needs (the file that ships); :meth:`load_state_dict` must accept it.
        The default is the whole :meth:`state_dict`."""
        return self.state_dict()

    @classmethod
    def shipped_generators(cls) -> dict[str, Path]:
        """Pretrained generators this family ships, by name (unique across families): each a GAN-run
        folder holding ``run.json`` and ``generator.safetensors`` as :func:`gfcore.runs.gan.train_gan`
        writes them, usable as ``gfp gan sample NAME``. Include the folders as package data. Default:
        none."""
        return {}


class RealSource(ABC):
    """Real images a plugin ships (``gfp_register_real_sources``): the real class of the demo, and of any
    experiment that needs one offline. The constructor takes ``(config)``; ``Config`` may be empty."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    conformance_overrides: ClassVar[dict[str, Any]] = {}

    def __init__(self, config: Any):
        self.config = config

    @abstractmethod
    def sample(self, n: int, resolution: int, seed: int = 0, split: str = "train") -> np.ndarray:
        """``n`` real images as uint8 ``[n, 3, resolution, resolution]``, the same for the same arguments.
        ``split`` is ``"train"``, ``"val"`` or ``"test"``: images of different splits share no pixels of
        the underlying photographs, so a test image is never a crop of a training one."""


class Attack(ABC):
    """A perturbation of images (``gfp_register_attacks``). The constructor takes ``(config)``; ``Config``
    holds the parameter ranges (defaults: the paper's)."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Config: ClassVar[type]
    conformance_overrides: ClassVar[dict[str, Any]] = {}
    #: The Config field that sets the attack's strength, which robustness curves sweep (None: no sweep),
    #: the values they sweep it over, from mild to severe, and the curves' axis label (default: the field)
    severity: ClassVar[str | None] = None
    severity_values: ClassVar[tuple[float, ...]] = ()
    severity_label: ClassVar[str] = ""
    #: Fixed settings of the attack that form the standard degradation table (``gfp bench --degradations``):
    #: ``(label, parameters)`` pairs, parameters written as in a spec (``"quality=30"``); each is a level,
    #: evaluated as the spec ``name:parameters``. Default: none. Levels must be deterministic.
    degradation_levels: ClassVar[tuple[tuple[str, str], ...]] = ()

    def __init__(self, config: Any):
        self.config = config

    def scale_note(self) -> str | None:
        """How this attack's strength relates to the image size, in the words reports print beside it:
        ``"relative to 128 px"`` (pixel parameters given at that side, scaled to the image), ``"absolute
        pixels"`` (in the image's own pixels) or ``"independent of the image size"``. ``None``: not
        stated (reports then say nothing about it)."""
        return None

    @abstractmethod
    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> a new uint8 tensor of the same shape, on the same device; ``images``
        is left unchanged. Every random draw comes from ``generator`` (a CPU generator), so the same
        generator state gives the same output."""


def config_fields(config_cls: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_cls)}


#: The fields every GanSource Config must have (both ints).
GAN_REQUIRED_FIELDS = ("resolution", "iters")


def contract_problem(item: Any, base: type, fingerprints: bool = False) -> str | None:
    """What is wrong with a class registered as ``base`` (``None`` when nothing is), completing the
    sentence "plugin P registered K NAME, which ...". Only what can be seen without running it."""
    if not (isinstance(item, type) and issubclass(item, base)):
        return f"is not a subclass of {base.__module__}.{base.__name__}"
    missing = sorted(getattr(item, "__abstractmethods__", ()))
    if missing:
        return f"does not implement {', '.join(missing)}"
    config = getattr(item, "Config", None)
    if not (isinstance(config, type) and dataclasses.is_dataclass(config)):
        return "has no Config dataclass"
    try:
        config()
    except TypeError as exc:
        return f"has a Config that cannot be built from its defaults ({exc})"
    if base is GanSource:
        fields = config_fields(config)
        absent = [k for k in GAN_REQUIRED_FIELDS if k not in fields]
        if absent:
            return f"has no {' and '.join(absent)} field in its Config (every GAN family needs resolution and iters)"
        odd = [k for k in item.sampling_fields if k not in fields or k in GAN_REQUIRED_FIELDS]
        if odd:
            return f"names {', '.join(map(repr, odd))} in sampling_fields, which must be Config fields other than resolution and iters"
    severity = getattr(item, "severity", None) if base is Attack else None
    if severity is not None and (severity not in config_fields(config) or not item.severity_values):
        return f"has severity {severity!r}, which is not a Config field with severity_values to sweep"
    levels = getattr(item, "degradation_levels", ()) if base is Attack else ()
    if not all(isinstance(p, tuple) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in levels):
        return "has degradation_levels that are not (label, parameters) pairs of strings"
    if fingerprints and not (
        item.has_fingerprints
        and item.image_fingerprints is not Attributor.image_fingerprints
        and item.model_fingerprints is not Attributor.model_fingerprints
    ):
        return "has no fingerprints (an extractor sets has_fingerprints and implements image_fingerprints and model_fingerprints)"
    return None
