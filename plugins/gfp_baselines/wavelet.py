"""Orthonormal Daubechies wavelets: the filters, and a 2-D transform built from conv2d filter banks.

The filters come from Daubechies' construction (spectral factorisation), computed once in float64 rather
than typed in, so any order works: ``daubechies_lowpass(4)`` is db4, the 8 taps PyWavelets calls
``Wavelet("db4").dec_lo``. Two boundary modes:

* ``periodization``: periodic extension, which makes the transform an orthogonal change of basis at any
  image size that halves evenly: white noise of standard deviation s in the pixels has standard deviation
  s in every sub-band, and the inverse is the exact transpose (MATLAB's Rice wavelet toolbox ``mdwt``,
  which Goljan's camera-fingerprint toolbox calls, extends periodically as well);
* ``symmetric``: half-sample symmetric extension by ``L - 1`` samples, ``floor((N + L - 1) / 2)``
  coefficients per band, and a reconstruction cut back to the input size -- PyWavelets' default mode,
  so ``wavedec2``/``waverec2`` here give PyWavelets' coefficients (the reference implementation
  polimi-ispl/prnu-python calls PyWavelets with its default). Any size works; it is redundant, not
  orthogonal, at the borders.
"""

from __future__ import annotations

from functools import cache
from math import comb

import numpy as np
import torch
import torch.nn.functional as F


@cache
def daubechies_lowpass(order: int) -> tuple[float, ...]:
    """The ``2*order`` scaling-filter taps of db``order`` (minimum phase, summing to sqrt(2)).

    |H(w)|^2 = cos^(2p)(w/2) P(sin^2(w/2)) with P(y) = sum_k C(p-1+k, k) y^k. Writing y = (2 - z - 1/z) / 4
    turns P into a polynomial in z whose roots come in pairs (r, 1/r); the roots inside the unit circle and
    p zeros at z = -1 give H.
    """
    if order < 1:
        raise ValueError("a Daubechies wavelet has order >= 1")
    p = order
    # P as a polynomial in z (times z^(p-1)): sum_k C(p-1+k,k) ((2 - z - 1/z)/4)^k
    poly = np.zeros(2 * p - 1)
    base = np.array([-0.25, 0.5, -0.25])  # (2 - z - 1/z) / 4, times z, coefficients of z^2, z, 1
    for k in range(p):
        term = np.array([1.0])
        for _ in range(k):
            term = np.convolve(term, base)
        pad = (len(poly) - len(term)) // 2
        poly[pad : pad + len(term)] += comb(p - 1 + k, k) * term
    roots = np.roots(poly) if len(poly) > 1 else np.array([])
    inside = roots[np.abs(roots) < 1]
    h = np.real(np.poly(inside)) if len(inside) else np.array([1.0])
    for _ in range(p):
        h = np.convolve(h, [1.0, 1.0])
    h = h * (np.sqrt(2.0) / h.sum())
    return tuple(float(v) for v in h[::-1])  # reversed: the order of PyWavelets' dec_lo


def filter_bank(order: int, device: torch.device, dtype=torch.float32) -> torch.Tensor:
    """``[2, L]``: the low-pass ``h`` and the high-pass ``g[n] = (-1)^n h[L-1-n]`` (quadrature mirror)."""
    h = torch.tensor(daubechies_lowpass(order), dtype=torch.float64)
    signs = torch.tensor([(-1.0) ** n for n in range(len(h))], dtype=torch.float64)
    g = signs * h.flip(0)
    return torch.stack([h, g]).to(device=device, dtype=dtype)


MODES = ("periodization", "symmetric")


def _symmetric_index(k: torch.Tensor, n: int) -> torch.Tensor:
    """Indices ``k`` (any integers) folded into ``0..n-1`` by half-sample symmetric extension."""
    k = k % (2 * n)
    return torch.where(k < n, k, 2 * n - 1 - k)


def _analyse_last_dim(x: torch.Tensor, bank: torch.Tensor, mode: str = "periodization"):
    """Analysis along the last axis: ``(a, d)``. Periodic: ``a[k] = sum_n h[n] x[(2k + n) mod N]``;
    symmetric: ``a[k] = sum_j h[j] x[2k + 1 - j]`` with x extended symmetrically (PyWavelets' convention)."""
    if mode == "symmetric":
        return _analyse_symmetric(x, bank)
    *lead, n = x.shape
    taps = bank.shape[1]
    wrap = torch.arange(n + taps - 2, device=x.device) % n  # periodic extension, even when taps > n
    rows = x.reshape(-1, 1, 1, n)[..., wrap]
    out = F.conv2d(rows, bank[:, None, None, :], stride=(1, 2))  # [B, 2, 1, n/2]
    return out[:, 0, 0].reshape(*lead, n // 2), out[:, 1, 0].reshape(*lead, n // 2)


def _analyse_symmetric(x: torch.Tensor, bank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    *lead, n = x.shape
    taps = bank.shape[1]
    out_len = (n + taps - 1) // 2
    # a[k] = sum_j h[L-1-j] x_ext[2k + 2 - L + j]: a cross-correlation with the reversed filters
    ext = _symmetric_index(torch.arange(2 - taps, 2 * out_len, device=x.device), n)
    rows = x.reshape(-1, 1, 1, n)[..., ext]
    out = F.conv2d(rows, bank.flip(-1)[:, None, None, :], stride=(1, 2))  # [B, 2, 1, out_len]
    return out[:, 0, 0].reshape(*lead, out_len), out[:, 1, 0].reshape(*lead, out_len)


def _synthesise_last_dim(a: torch.Tensor, d: torch.Tensor, bank: torch.Tensor, mode: str = "periodization"):
    """The inverse of :func:`_analyse_last_dim` (periodic: its transpose; symmetric: PyWavelets' ``idwt``,
    ``2 * len(a) - L + 2`` samples)."""
    if mode == "symmetric":
        *lead, half = a.shape
        taps = bank.shape[1]
        both = torch.stack([a.reshape(-1, half), d.reshape(-1, half)], 1)[:, :, None, :]
        # the full convolution of the upsampled bands with the reconstruction filters (the reversed analysis
        # filters), of which PyWavelets keeps samples L-2 .. 2*half-1
        full = F.conv_transpose2d(both, bank.flip(-1)[:, None, None, :], stride=(1, 2))[:, 0, 0]
        return full[:, taps - 2 : 2 * half].reshape(*lead, 2 * half - taps + 2)
    *lead, half = a.shape
    n = 2 * half
    both = torch.stack([a.reshape(-1, half), d.reshape(-1, half)], 1)[:, :, None, :]  # [B, 2, 1, n/2]
    spread = F.conv_transpose2d(both, bank[:, None, None, :], stride=(1, 2))[:, 0, 0]  # [B, n + L - 2]
    folded = torch.zeros(spread.shape[0], n, device=a.device, dtype=a.dtype)
    folded.index_add_(1, torch.arange(spread.shape[1], device=a.device) % n, spread)
    return folded.reshape(*lead, n)


# -- the fast path: each 1-D step as one cached matrix --------------------------------------------------------
#
# Every analysis and synthesis step above is linear in its input, so for a given length, filter bank and
# boundary mode it is a small matrix. The matrix is built by passing the identity through the conv2d
# definitions above (in float64), which keeps them the single definition, and then one batched matrix
# multiply per axis does a whole level: 5-10x faster on a CPU than the conv2d calls for the demo's 32x32
# images, where the rows are short and the convolutions tiny.

_MATRICES: dict[tuple, torch.Tensor] = {}


def _cache_key(kind: str, n: int, bank: torch.Tensor, mode: str) -> tuple:
    return (kind, n, mode, bank.dtype, str(bank.device), tuple(bank.flatten().tolist()))


def analysis_matrix(n: int, bank: torch.Tensor, mode: str) -> torch.Tensor:
    """``[n, 2 * m]``: ``x @ M`` is ``cat(a, d)`` of :func:`_analyse_last_dim` for rows of length ``n``."""
    key = _cache_key("analyse", n, bank, mode)
    if key not in _MATRICES:
        eye = torch.eye(n, dtype=torch.float64, device=bank.device)
        a, d = _analyse_last_dim(eye, bank.to(torch.float64), mode)
        _MATRICES[key] = torch.cat([a, d], dim=1).to(bank.dtype)
    return _MATRICES[key]


def synthesis_matrix(half: int, bank: torch.Tensor, mode: str) -> torch.Tensor:
    """``[2 * half, n]``: ``cat(a, d) @ S`` is :func:`_synthesise_last_dim` of bands of length ``half``."""
    key = _cache_key("synthesise", half, bank, mode)
    if key not in _MATRICES:
        eye = torch.eye(2 * half, dtype=torch.float64, device=bank.device)
        _MATRICES[key] = _synthesise_last_dim(eye[:, :half], eye[:, half:], bank.to(torch.float64), mode).to(
            bank.dtype
        )
    return _MATRICES[key]


def dwt2(
    x: torch.Tensor, bank: torch.Tensor, mode: str = "periodization"
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One level on ``[..., H, W]``: ``(LL, (LH, HL, HH))``, each ``[..., H/2, W/2]`` when periodic.

    LH is low-pass along rows' width and high-pass along the height (horizontal edges), HL the reverse.
    """
    bank = bank.to(x.dtype)
    along_w = x @ analysis_matrix(x.shape[-1], bank, mode)  # [..., H, 2m]: low | high along W
    both = analysis_matrix(x.shape[-2], bank, mode).transpose(0, 1) @ along_w  # [..., 2m', 2m] along H too
    m_h, m_w = both.shape[-2] // 2, both.shape[-1] // 2
    ll, lh = both[..., :m_h, :m_w], both[..., m_h:, :m_w]
    hl, hh = both[..., :m_h, m_w:], both[..., m_h:, m_w:]
    return ll, (lh, hl, hh)


def idwt2(
    ll: torch.Tensor,
    details: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    bank: torch.Tensor,
    mode: str = "periodization",
) -> torch.Tensor:
    lh, hl, hh = details
    bank = bank.to(ll.dtype)
    both = torch.cat([torch.cat([ll, hl], -1), torch.cat([lh, hh], -1)], -2)  # the layout dwt2 splits
    along_h = synthesis_matrix(both.shape[-2] // 2, bank, mode).transpose(0, 1) @ both
    return along_h @ synthesis_matrix(both.shape[-1] // 2, bank, mode)


def wavedec2(x: torch.Tensor, bank: torch.Tensor, levels: int, mode: str = "periodization"):
    """``levels`` levels: ``(LL_levels, [details_1, ..., details_levels])`` (finest first)."""
    if mode not in MODES:
        raise ValueError(f"unknown wavelet boundary mode {mode!r}; use one of {', '.join(MODES)}")
    if mode == "periodization" and (x.shape[-2] % 2**levels or x.shape[-1] % 2**levels):
        raise ValueError(
            f"a {levels}-level transform needs sides divisible by {2**levels}, got {tuple(x.shape[-2:])}"
        )
    details = []
    for _ in range(levels):
        x, d = dwt2(x, bank, mode)
        details.append(d)
    return x, details


def waverec2(ll: torch.Tensor, details, bank: torch.Tensor, mode: str = "periodization") -> torch.Tensor:
    for d in reversed(details):
        h, w = d[0].shape[-2:]
        ll = idwt2(ll[..., :h, :w], d, bank, mode)  # symmetric: a band one longer than its details is cut
    return ll
