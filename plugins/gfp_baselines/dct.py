"""DCT spectra + a linear classifier (Frank et al. 2020, "Leveraging Frequency Analysis for Deep Fake Image
Recognition").

Each image becomes the log-magnitude of its orthonormal 2-D DCT-II (``D X D^T`` with the DCT matrix ``D``),
per channel or of the grey image; every coefficient is standardised with the training set's mean and
standard deviation; multinomial logistic regression (``_linear.py``) is trained on that, with ``C`` chosen
on validation. Upsampling artefacts of generators show up as peaks at fixed frequencies, which a linear
model on the log spectrum picks up whatever the image content and the artefact's phase.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gfcore import Attributor, FitContext, GfpError, Split, bounded, one_of

from ._data import check_split, iter_chunks, labels_tensor, map_chunks
from ._linear import LinearClassifier, select_logistic
from .denoise import GREY_WEIGHTS

LOG_EPS = 1e-12  # log(|c| + eps): finite where a coefficient is exactly zero


def dct_matrix(n: int, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """The orthonormal DCT-II matrix: ``D[k, i] = a_k cos(pi (2i + 1) k / 2n)``, a_0 = sqrt(1/n), else sqrt(2/n)."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    i = torch.arange(n, dtype=torch.float64)[None, :]
    d = torch.cos(math.pi * (2 * i + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    d[0] /= math.sqrt(2.0)
    return d.to(device=device, dtype=dtype)


def dct2(x: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """2-D DCT-II of ``[..., n, n]`` images with the matrix from :func:`dct_matrix`."""
    return d @ x @ d.t()


class DctAttributor(Attributor):
    name = "dct"
    description = "log-magnitude DCT spectra + logistic regression, C chosen on validation (Frank 2020)"
    conformance_overrides = {"c_grid": (1.0,), "max_iter": 20}  # tiny settings for gfcore.testing

    @dataclass
    class Config:
        channels: str = one_of(
            "grey", ("grey", "rgb")
        )  # "grey" (one spectrum) or "rgb" (one per channel, 3x the features)
        # inverse regularisation strengths
        c_grid: tuple[float, ...] = bounded((1e-3, 1e-2, 1e-1, 1.0, 10.0), min=0, max=1e6, min_open=True)
        # L-BFGS iterations per classifier (it converges in hundreds; the bound keeps a typo from running for days)
        max_iter: int = bounded(200, min=1, max=100_000)

    def __init__(self, classes, resolution, config, device=None):
        super().__init__(classes, resolution, config, device)
        if config.channels not in ("grey", "rgb"):
            raise GfpError(f"dct: channels must be 'grey' or 'rgb', not {config.channels!r}")
        self.basis = dct_matrix(resolution, self.device)
        self.mean: torch.Tensor | None = None  # [D] per-coefficient standardisation
        self.std: torch.Tensor | None = None
        self.classifier: LinearClassifier | None = None

    @property
    def feature_dim(self) -> int:
        return (1 if self.config.channels == "grey" else 3) * self.resolution**2

    def spectra(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [n, 3, H, W] -> log-magnitude DCT spectra, flattened ``[n, D]`` on the device (unstandardised)."""
        x = images.to(self.device).float()
        if self.config.channels == "grey":
            x = torch.einsum("bchw,c->bhw", x, torch.tensor(GREY_WEIGHTS, device=self.device))[:, None]
        return dct2(x, self.basis).abs().add_(LOG_EPS).log_().reshape(len(images), -1)

    def _features(self, images: torch.Tensor) -> torch.Tensor:
        return (self.spectra(images) - self.mean) / self.std

    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        c = self.config
        check_split(train, self.resolution, "training")
        if len(train) < 2:
            raise GfpError("dct needs at least two training images")
        task = ctx.progress.task("dct: spectra", total=len(train) + len(val))
        # 1) standardisation statistics over the training set: per-chunk sums on the device, accumulated in
        #    float64 on the CPU (float64 is not available on every device)
        total = torch.zeros(self.feature_dim, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        for _, part in iter_chunks(train.images):
            s = self.spectra(part)
            total += s.sum(0).cpu().double()
            total_sq += s.pow(2).sum(0).cpu().double()
        n = len(train)
        mean = total / n
        self.mean = mean.float().to(self.device)
        self.std = (total_sq / n - mean.pow(2)).clamp_min(0).sqrt().clamp_min(1e-6).float().to(self.device)
        # 2) standardised features of both splits, then the classifier
        train_x = map_chunks(train.images, self._features)
        task.advance(len(train))
        val_x = (
            map_chunks(val.images, self._features)
            if len(val)
            else torch.empty(0, train_x.shape[1], device=self.device)
        )
        task.advance(len(val))
        task.update(description="dct: classifier", status="")
        self.classifier, chosen_c, scores = select_logistic(
            train_x,
            labels_tensor(train, self.device),
            val_x,
            labels_tensor(val, self.device),
            len(self.classes),
            c.c_grid,
            max_iter=c.max_iter,
        )
        acc = scores.get(chosen_c, float("nan"))
        ctx.history.append(
            {
                "epoch": 1,
                "val_accuracy": acc,
                "chosen_C": chosen_c,
                "val_accuracy_by_C": {str(k): v for k, v in scores.items()},
            }
        )
        ctx.progress.log(f"dct: chose C={chosen_c:g} (val accuracy {acc:.3f})")
        task.done()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        if self.classifier is None:
            raise RuntimeError("dct: fit() or load_state_dict() first")
        if len(images) == 0:
            return torch.empty(0, len(self.classes))
        return map_chunks(images, lambda part: self.classifier.scores(self._features(part)).cpu())

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {
            "mean": self.mean,
            "std": self.std,
            "weight": self.classifier.weight,
            "bias": self.classifier.bias,
        }

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        dim = self.feature_dim
        if tensors["mean"].shape != (dim,) or tensors["weight"].shape != (len(self.classes), dim):
            raise ValueError("dct weights do not fit this resolution, channel setting or class count")
        self.mean = tensors["mean"].float().to(self.device)
        self.std = tensors["std"].float().to(self.device)
        self.classifier = LinearClassifier(
            tensors["weight"].float().to(self.device), tensors["bias"].float().to(self.device)
        )
