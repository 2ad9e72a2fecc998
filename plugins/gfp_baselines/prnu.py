"""PRNU-style attribution (Marra et al. 2019, "Do GANs leave artificial fingerprints?").

Every image's noise residual comes from :mod:`.denoise` (Binghamton wavelet denoiser, grey, zero-mean rows
and columns, Wiener filtering in the DFT domain). A source's fingerprint is the plain average of its
training images' residuals, as Marra et al. did for GANs (not the intensity-weighted camera-PRNU estimate
of Chen et al. 2008: GAN images have no sensor gain to weight by). An image is attributed to the source
whose fingerprint has the highest normalised cross-correlation (NCC) with its residual; the logits are the
NCC values themselves (in [-1, 1], so a softmax over them is nearly flat -- compare them by ranking).

The denoiser's ``sigma`` is chosen on validation from ``sigma_grid`` (one pass over train and val per
value; pass ``sigma_grid=`` empty to use ``sigma`` as given).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gfcore import Attributor, FitContext, GfpError, Split, bounded, one_of

from ._data import accuracy, check_split, iter_chunks, labels_tensor, map_chunks
from .denoise import BOUNDARIES, ZERO_MEANS, noise_residual


def normalise(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``[N, D]`` made zero-mean and unit-norm, so a dot product is their NCC."""
    x = x - x.mean(1, keepdim=True)
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


class PrnuAttributor(Attributor):
    name = "prnu"
    description = (
        "noise-residual fingerprints (wavelet denoiser) matched by normalised correlation (Marra 2019)"
    )
    conformance_overrides = {"sigma_grid": (), "levels": 2}  # tiny settings for gfcore.testing
    has_fingerprints = True

    @dataclass
    class Config:
        # denoiser noise std on the 0-255 scale, used when sigma_grid is empty
        sigma: float = bounded(3.0, min=0, max=1000, min_open=True)
        sigma_grid: tuple[float, ...] = bounded(
            (1.0, 3.0, 5.0), min=0, max=1000, min_open=True
        )  # chosen on validation
        # wavelet decomposition levels (the resolution must divide by 2^levels; 12 levels need 4096 pixels)
        levels: int = bounded(4, min=1, max=12)
        # Daubechies order: 4 = db4 (Marra/Frank), 8 = db8 (Lukáš et al.); PyWavelets has db1 to db38
        wavelet_order: int = bounded(4, min=1, max=38)
        wiener_dft: bool = True  # step 5 of the residual pipeline
        # wavelet extension: "symmetric" (the Python reference) or "periodization"
        boundary: str = one_of("symmetric", BOUNDARIES)
        # "total" (ZeroMeanTotal, per 2x2 sub-image) or "rows_columns"
        zero_mean: str = one_of("total", ZERO_MEANS)

    def __init__(self, classes, resolution, config, device=None):
        super().__init__(classes, resolution, config, device)
        if config.boundary == "periodization" and resolution % 2**config.levels:
            raise GfpError(
                f"prnu: resolution {resolution} is not divisible by 2^levels = {2**config.levels}; "
                "pass prnu:levels=N with a smaller N"
            )
        self.sigma = float(config.sigma)
        self.fingerprints: torch.Tensor | None = None  # [L, H*W] average residual per source

    def _residuals(self, images: torch.Tensor, sigma: float) -> torch.Tensor:
        """uint8 [n, 3, H, W] -> flattened residuals [n, H*W] on the device."""
        c = self.config
        r = noise_residual(
            images.to(self.device),
            sigma,
            levels=c.levels,
            order=c.wavelet_order,
            wiener=c.wiener_dft,
            boundary=c.boundary,
            zero_mean=c.zero_mean,
        )
        return r.reshape(len(images), -1)

    def _average_residuals(self, split: Split, sigma: float, task) -> torch.Tensor:
        """``[L, H*W]``: the mean residual of each class, accumulated chunk by chunk."""
        num = len(self.classes)
        sums = torch.zeros(num, self.resolution**2, device=self.device)
        counts = torch.zeros(num, device=self.device)
        labels = labels_tensor(split, self.device)
        for start, part in iter_chunks(split.images):
            y = labels[start : start + len(part)]
            sums.index_add_(0, y, self._residuals(part, sigma))
            counts.index_add_(0, y, torch.ones_like(y, dtype=counts.dtype))
            task.advance(len(part))
        missing = [self.classes[i] for i in torch.nonzero(counts == 0).flatten().tolist()]
        if missing:
            raise GfpError(f"prnu: no training images of {', '.join(missing)}")
        return sums / counts[:, None]

    def _ncc(self, residuals: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        return normalise(residuals) @ normalise(fingerprints).t()

    def fit(self, train: Split, val: Split, ctx: FitContext) -> None:
        c = self.config
        check_split(train, self.resolution, "training")
        grid = sorted(set(c.sigma_grid)) if len(val) and c.sigma_grid else [float(c.sigma)]
        task = ctx.progress.task("prnu: residuals", total=len(grid) * (len(train) + len(val)))
        by_sigma, best = {}, None
        val_labels = labels_tensor(val, self.device)
        for sigma in grid:
            task.update(status=f"sigma {sigma:g}")
            fingerprints = self._average_residuals(train, sigma, task)
            if len(val):
                scores = map_chunks(
                    val.images, lambda part, s=sigma, f=fingerprints: self._ncc(self._residuals(part, s), f)
                )
                task.advance(len(val))
                acc = accuracy(scores, val_labels)
            else:
                acc = float("nan")
            by_sigma[str(sigma)] = acc
            if best is None or acc > best[0]:  # ties go to the smaller sigma
                best = (acc, sigma, fingerprints)
        acc, self.sigma, self.fingerprints = best
        ctx.history.append(
            {"epoch": 1, "val_accuracy": acc, "chosen_sigma": self.sigma, "val_accuracy_by_sigma": by_sigma}
        )
        ctx.progress.log(f"prnu: chose sigma={self.sigma:g} (val accuracy {acc:.3f})")
        task.done()

    def _require_fit(self) -> None:
        if self.fingerprints is None:
            raise RuntimeError("prnu: fit() or load_state_dict() first")

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        self._require_fit()
        if len(images) == 0:
            return torch.empty(0, len(self.classes))
        return map_chunks(
            images, lambda part: self._ncc(self._residuals(part, self.sigma), self.fingerprints).cpu()
        )

    def image_fingerprints(self, images: torch.Tensor) -> torch.Tensor:
        """The noise residuals ``[N, H*W]`` (grey, after zero-meaning and Wiener-DFT filtering), on CPU."""
        self._require_fit()
        if len(images) == 0:
            return torch.empty(0, self.resolution**2)
        return map_chunks(images, lambda part: self._residuals(part, self.sigma).cpu())

    def model_fingerprints(self) -> torch.Tensor:
        """Each source's average residual ``[L, H*W]``, on CPU."""
        self._require_fit()
        return self.fingerprints.cpu()

    def state_dict(self) -> dict[str, torch.Tensor]:
        self._require_fit()
        return {"fingerprints": self.fingerprints, "sigma": torch.tensor(self.sigma, dtype=torch.float64)}

    def load_state_dict(self, tensors: dict[str, torch.Tensor]) -> None:
        fingerprints = tensors["fingerprints"]
        if fingerprints.shape != (len(self.classes), self.resolution**2):
            raise ValueError(
                f"fingerprints {tuple(fingerprints.shape)} do not fit {len(self.classes)} classes "
                f"at {self.resolution}x{self.resolution}"
            )
        self.fingerprints = fingerprints.float().to(self.device)
        self.sigma = float(tensors["sigma"])
