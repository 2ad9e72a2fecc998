"""A trained run as a Python object: what ``gfp attribute`` does, for notebooks, pipelines and services.

    >>> model = load("path/to/run")                     # doctest: +SKIP
    >>> model.predict(Image.open("x.jpg")).source         # doctest: +SKIP
    'ProGAN'

Every answer goes through the same steps as the command line: the whole image cut into tiles of the run's
resolution at its own scale (:mod:`gfcore.data.tiling`), the tiles' logits averaged, the run's temperature
applied, and -- open set -- ``unknown`` below the run's threshold (:mod:`gfcore.inference.openset`).
Networks run in inference mode, in batches, on the run's device.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gfcore.data.inputs import as_rgb_images
from gfcore.data.tiling import attribution_inputs
from gfcore.errors import GfpError
from gfcore.inference.attribution import AttributionBatch, attribute_stream, mean_logits, softmax_decision
from gfcore.inference.openset import UNKNOWN, apply_to_batch, open_set_choice, run_calibration


@dataclass
class Prediction:
    """One image's answer."""

    source: str  # one of the run's classes, or "unknown" (open set)
    probabilities: dict[str, float]  # over the run's classes, calibrated by its temperature
    unknown: bool  # the open-set rule found it unlike every known source
    score: float | None  # the open-set score, when the rule was applied
    view: dict  # which pixels: policy, tiles, tile_size, scale, image_size, coverage
    logits: list[float]  # the mean of the tiles' logits, before calibration
    path: str | None = None  # the file, when the image was given as a path

    def as_dict(self) -> dict:
        return asdict(self)


class Model:
    """A trained attributor with its run.json: ``predict`` and ``fingerprints`` on images of any size."""

    def __init__(self, attributor, info: dict, where: str):
        self.attributor, self.info, self.where = attributor, info, where
        self.calibration = run_calibration(info, where)  # checked once: a damaged record fails here

    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    @property
    def resolution(self) -> int:
        return int(self.info["resolution"])

    @property
    def method(self) -> str:
        return self.info["method"]

    def __repr__(self) -> str:
        rule = "open set" if self.calibration["open_set"] else "closed set"
        return f"<gfp Model {self.method} {self.resolution}x{self.resolution}: {', '.join(self.classes)}; {rule}>"

    def predict(
        self,
        images: Any,
        *,
        open_set: bool | None = None,
        value_range=None,
        policy: str = "tiles",
        upsample_small: bool = False,
        batch_size: int = 64,
    ) -> Prediction | list[Prediction]:
        """The source of each image: a path, PIL image, uint8 array ``[H, W, C]``, tensor ``[C, H, W]``
        (uint8, or float with ``value_range``), a list of those, or a batch tensor ``[N, C, H, W]``; one
        :class:`Prediction` for one image, a list for a list. ``open_set``: None follows the run (open set
        when it stores a threshold). A bad image is one :class:`GfpError` line."""
        use_open_set = open_set_choice(self.calibration, open_set, self.where)
        arrays, names, single = as_rgb_images(images, value_range)
        answers = self.predict_arrays(
            arrays,
            names,
            open_set=use_open_set,
            policy=policy,
            upsample_small=upsample_small,
            batch_size=batch_size,
        )
        for answer in answers:
            if isinstance(answer, GfpError):
                raise answer
        return answers[0] if single else answers

    def predict_arrays(
        self,
        arrays: list[np.ndarray],
        names: list[str | None],
        *,
        open_set: bool | None = None,
        policy: str = "tiles",
        upsample_small: bool = False,
        batch_size: int = 64,
    ) -> list[Prediction | GfpError]:
        """:meth:`predict` for decoded uint8 ``[H, W, 3]`` arrays, where an image that cannot be attributed
        (smaller than the run's resolution, say) is its :class:`GfpError` in its place instead of failing
        the others: what a service answering many uploads at once needs."""
        import torch

        use_open_set = open_set_choice(self.calibration, open_set, self.where)
        answers: list = [None] * len(arrays)
        inputs, views, kept = [], [], []
        for k, rgb in enumerate(arrays):
            try:
                x, view = attribution_inputs(rgb, self.resolution, policy, upsample_small)
            except GfpError as exc:
                answers[k] = GfpError(f"{names[k] or f'image {k}'}: {exc}")
                continue
            inputs.append(x)
            views.append(view.as_dict())
            kept.append(k)
        batch = AttributionBatch()
        for start in range(0, len(kept), batch_size):
            chunk = slice(start, start + batch_size)
            counts = [len(x) for x in inputs[chunk]]
            logits = mean_logits(
                self.attributor, torch.from_numpy(np.concatenate(inputs[chunk])), counts, batch_size
            )
            results = softmax_decision(self.classes, [names[k] for k in kept[chunk]], logits)
            for result, view in zip(results, views[chunk]):
                result.view = view
            batch.results.extend(results)
        apply_to_batch(batch, self.info, use_open_set, self.where)
        for k, result in zip(kept, batch.results):
            answers[k] = self._prediction(result)
        return answers

    def predict_files(
        self, files: list[Path], *, open_set=None, policy="tiles", upsample_small=False, **stream
    ):
        """Files attributed as ``gfp attribute`` does (decoding in worker processes, torchrun-aware):
        ``(batch, applied)``; ``stream``: ``reporter``, ``batch_size``, ``workers``."""
        open_set_choice(self.calibration, open_set, self.where)  # refused before any work
        reporter = stream.pop("reporter", None)
        batch = attribute_stream(
            self.attributor, files, policy, reporter, upsample_small=upsample_small, **stream
        )
        return batch, apply_to_batch(batch, self.info, open_set, self.where)

    def fingerprints(self, images: Any, *, value_range=None, policy="tiles", upsample_small=False) -> dict:
        """``{"image": [N, D] tensor, "model": [L, D] tensor}``: each image's fingerprint (the mean over its
        tiles) and the run's model fingerprints, for methods that have them."""
        import torch

        if not getattr(self.attributor, "has_fingerprints", False):
            raise GfpError(f"method {self.method!r} has no fingerprints")
        arrays, names, _ = as_rgb_images(images, value_range)
        inputs, _ = self._inputs(arrays, policy, upsample_small, names)
        per_tile = self.attributor.image_fingerprints(torch.from_numpy(np.concatenate(inputs)))
        image = torch.stack([part.mean(0) for part in torch.split(per_tile, [len(x) for x in inputs])])
        return {"image": image, "model": self.attributor.model_fingerprints()}

    def _inputs(self, arrays, policy, upsample_small, names):
        inputs, views = [], []
        for k, rgb in enumerate(arrays):
            try:
                x, view = attribution_inputs(rgb, self.resolution, policy, upsample_small)
            except GfpError as exc:
                raise GfpError(f"{names[k] or f'image {k}'}: {exc}") from None
            inputs.append(x)
            views.append(view.as_dict())
        return inputs, views

    @staticmethod
    def _prediction(result) -> Prediction:
        return Prediction(
            source=result.predicted,
            probabilities=result.probabilities,
            unknown=result.predicted == UNKNOWN,
            score=result.score,
            view=result.view,
            logits=result.logits,
            path=result.path,
        )


def load(run: str | Path, device: Any = "auto") -> Model:
    """The run in folder ``run`` as a :class:`Model`, on ``device`` (``"auto"``: CUDA, then MPS, then CPU;
    or a ``torch.device``)."""
    from gfcore.execution.device import resolve_device
    from gfcore.runs.attributor import load_run

    if isinstance(device, str):
        device = resolve_device(device)
    attributor, info = load_run(run, device)
    return Model(attributor, info, str(run))
