"""PRNU-style noise residuals: the Binghamton wavelet denoiser and the clean-up steps of Lukáš et al. 2006.

The residual of an image is the image minus its denoised version, computed as in Goljan's camera-fingerprint
toolbox (which Marra et al. 2019 used on GAN images) and its Python port polimi-ispl/prnu-python, whose
choices are the defaults here (docs/baselines.md compares the two line by line):

1. per colour channel, a ``levels``-level orthonormal Daubechies decomposition (db4 by default), with
   PyWavelets' default ``symmetric`` boundary extension as the Python reference (``boundary=periodization``:
   periodic, as MATLAB's ``mdwt`` in the original toolbox);
2. in every detail sub-band, the local signal variance is estimated as the *minimum* over square windows
   3, 5, 7, 9 of ``max(0, mean(c^2) - sigma^2)`` (Mihcak et al. 1999); the noise part of each coefficient
   is ``c * sigma^2 / (var + sigma^2)`` -- the coefficient minus its Wiener estimate. The coarsest
   approximation band is all content, so the residual gets zero there. Reconstructing gives the residual;
3. the channel residuals are combined to grey with MATLAB's ``rgb2gray`` weights (0.2989 R + 0.5870 G +
   0.1140 B, to eight digits, as the toolbox and the reference);
4. ``ZeroMeanTotal`` (``zero_mean=total``): each of the four 2x2 polyphase sub-images (the colour-filter
   array's sites) separately is made zero-mean, then every row and every column of it is too; this removes
   linear patterns shared by all sources, e.g. from demosaicing or readout. ``zero_mean=rows_columns``
   does it once on the whole image instead;
5. Wiener filtering in the Fourier domain: the DFT magnitude is filtered with the same local-variance
   rule, with the residual's own variance as the noise level, which suppresses spectral peaks that stand
   far above the flat noise floor.

``sigma`` is on the 0-255 pixel scale (the toolbox default is 3). Windows average with zero padding at the
borders, as MATLAB's ``filter2`` does in the toolbox.
"""

from __future__ import annotations

import torch

from .wavelet import filter_bank, wavedec2, waverec2

WINDOWS = (3, 5, 7, 9)
GREY_WEIGHTS = (0.29893602, 0.58704307, 0.11402090)  # MATLAB's rgb2gray, as the toolbox and the reference
BOUNDARIES = ("symmetric", "periodization")
ZERO_MEANS = ("total", "rows_columns")


def box_matrix(n: int, window: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[n, n]``: ``B @ x`` is the zero-padded moving average of ``window`` samples along ``x``'s rows (so
    ``B @ X @ B.T`` is a centred ``window x window`` mean with zeros beyond the border, as ``filter2``)."""
    i = torch.arange(n, device=device)
    return ((i[:, None] - i[None, :]).abs() <= window // 2).to(dtype) / window


def local_variance(coefficients: torch.Tensor, noise_var: float | torch.Tensor) -> torch.Tensor:
    """Minimum over windows 3..9 of ``max(0, local mean of c^2 - noise_var)``, for ``[B, C, h, w]`` input.

    The window means are two small matrix products per window (the box filter is separable), several
    times faster on a CPU than ``avg_pool2d`` at these band sizes and equal to it up to float rounding."""
    squared = coefficients.pow(2)
    h, w = squared.shape[-2:]
    estimate = None
    for window in WINDOWS:
        rows = box_matrix(h, window, squared.dtype, squared.device)
        cols = box_matrix(w, window, squared.dtype, squared.device)
        var = (rows @ squared @ cols.T - noise_var).clamp_min(0)
        estimate = var if estimate is None else torch.minimum(estimate, var)
    return estimate


def wiener_noise(coefficients: torch.Tensor, noise_var: float | torch.Tensor) -> torch.Tensor:
    """The noise part ``c * s^2 / (var + s^2)`` of coefficients ``[B, C, h, w]``."""
    var = local_variance(coefficients, noise_var)
    return coefficients * noise_var / (var + noise_var)


def wavelet_noise(
    images: torch.Tensor, sigma: float, levels: int = 4, order: int = 4, boundary: str = "symmetric"
) -> torch.Tensor:
    """Steps 1-2: float images ``[B, C, H, W]`` on the 0-255 scale -> their noise residual, same shape."""
    bank = filter_bank(order, images.device, images.dtype)
    approx, details = wavedec2(images, bank, levels, boundary)
    noise_var = float(sigma) ** 2
    noise_details = [tuple(wiener_noise(band, noise_var) for band in level) for level in details]
    return waverec2(torch.zeros_like(approx), noise_details, bank, boundary)


def to_grey(x: torch.Tensor) -> torch.Tensor:
    """``[B, 3, H, W]`` -> ``[B, H, W]``."""
    w = torch.tensor(GREY_WEIGHTS, device=x.device, dtype=x.dtype)
    return torch.einsum("bchw,c->bhw", x, w)


def zero_mean_rows_columns(x: torch.Tensor) -> torch.Tensor:
    """Step 4 on ``[B, H, W]``: subtract each column's mean, then each row's."""
    x = x - x.mean(dim=-2, keepdim=True)
    return x - x.mean(dim=-1, keepdim=True)


def zero_mean_total(x: torch.Tensor) -> torch.Tensor:
    """Step 4 as the toolbox's ``ZeroMeanTotal`` on ``[B, H, W]``: each 2x2 polyphase sub-image separately
    loses its mean, then its row means and its column means (the order does not matter after the mean)."""
    out = x.clone()
    for dy in (0, 1):
        for dx in (0, 1):
            sub = x[..., dy::2, dx::2]
            sub = sub - sub.mean(dim=(-2, -1), keepdim=True)
            out[..., dy::2, dx::2] = sub - sub.mean(dim=-1, keepdim=True) - sub.mean(dim=-2, keepdim=True)
    return out


def wiener_dft(x: torch.Tensor) -> torch.Tensor:
    """Step 5 on ``[B, H, W]`` residuals, each with its own variance as the noise level."""
    h, w = x.shape[-2:]
    spectrum = torch.fft.fft2(x)
    magnitude = spectrum.abs() / (h * w) ** 0.5  # scaled so white noise of variance v has E|.|^2 = v
    noise_var = x.var(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
    filtered = wiener_noise(magnitude[:, None], noise_var[:, None])[:, 0]
    gain = torch.where(magnitude > 0, filtered / magnitude.clamp_min(1e-30), torch.zeros_like(magnitude))
    return torch.fft.ifft2(spectrum * gain).real


def noise_residual(
    images: torch.Tensor,
    sigma: float = 3.0,
    *,
    levels: int = 4,
    order: int = 4,
    wiener: bool = True,
    boundary: str = "symmetric",
    zero_mean: str = "total",
) -> torch.Tensor:
    """uint8 (or float 0-255) ``[B, 3, H, W]`` -> grey noise residuals ``[B, H, W]`` (float32, same device)."""
    if zero_mean not in ZERO_MEANS:
        raise ValueError(f"unknown zero_mean {zero_mean!r}; use one of {', '.join(ZERO_MEANS)}")
    x = images.float()
    grey = to_grey(wavelet_noise(x, sigma, levels, order, boundary))
    grey = zero_mean_total(grey) if zero_mean == "total" else zero_mean_rows_columns(grey)
    return wiener_dft(grey) if wiener else grey
