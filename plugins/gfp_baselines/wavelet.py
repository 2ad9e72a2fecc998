"""Orthonormal Daubechies wavelets: the filters, and a periodic 2-D transform built from conv2d filter banks.

The filters come from Daubechies' construction (spectral factorisation), computed once in float64 rather
than typed in, so any order works: ``daubechies_lowpass(4)`` is db4, the 8 taps PyWavelets calls
``Wavelet("db4").dec_lo``. The transform uses periodic extension ("periodization"), which makes it an
orthogonal change of basis at any image size that halves evenly: white noise of standard deviation s in the
pixels has standard deviation s in every sub-band, and the inverse is the exact transpose.
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


def _analyse_last_dim(x: torch.Tensor, bank: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic analysis along the last axis: ``a[k] = sum_n h[n] x[(2k + n) mod N]`` (and ``g`` for ``d``)."""
    *lead, n = x.shape
    taps = bank.shape[1]
    wrap = torch.arange(n + taps - 2, device=x.device) % n  # periodic extension, even when taps > n
    rows = x.reshape(-1, 1, 1, n)[..., wrap]
    out = F.conv2d(rows, bank[:, None, None, :], stride=(1, 2))  # [B, 2, 1, n/2]
    return out[:, 0, 0].reshape(*lead, n // 2), out[:, 1, 0].reshape(*lead, n // 2)


def _synthesise_last_dim(a: torch.Tensor, d: torch.Tensor, bank: torch.Tensor) -> torch.Tensor:
    """The transpose (= inverse) of :func:`_analyse_last_dim`."""
    *lead, half = a.shape
    n = 2 * half
    both = torch.stack([a.reshape(-1, half), d.reshape(-1, half)], 1)[:, :, None, :]  # [B, 2, 1, n/2]
    spread = F.conv_transpose2d(both, bank[:, None, None, :], stride=(1, 2))[:, 0, 0]  # [B, n + L - 2]
    folded = torch.zeros(spread.shape[0], n, device=a.device, dtype=a.dtype)
    folded.index_add_(1, torch.arange(spread.shape[1], device=a.device) % n, spread)
    return folded.reshape(*lead, n)


def dwt2(
    x: torch.Tensor, bank: torch.Tensor
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One level on ``[..., H, W]``: ``(LL, (LH, HL, HH))``, each ``[..., H/2, W/2]``.

    LH is low-pass along rows' width and high-pass along the height (horizontal edges), HL the reverse.
    """
    lo_w, hi_w = _analyse_last_dim(x, bank)  # along W
    ll, lh = (t.transpose(-1, -2) for t in _analyse_last_dim(lo_w.transpose(-1, -2), bank))  # along H
    hl, hh = (t.transpose(-1, -2) for t in _analyse_last_dim(hi_w.transpose(-1, -2), bank))
    return ll, (lh, hl, hh)


def idwt2(
    ll: torch.Tensor, details: tuple[torch.Tensor, torch.Tensor, torch.Tensor], bank: torch.Tensor
) -> torch.Tensor:
    lh, hl, hh = details
    lo_w = _synthesise_last_dim(ll.transpose(-1, -2), lh.transpose(-1, -2), bank).transpose(-1, -2)
    hi_w = _synthesise_last_dim(hl.transpose(-1, -2), hh.transpose(-1, -2), bank).transpose(-1, -2)
    return _synthesise_last_dim(lo_w, hi_w, bank)


def wavedec2(x: torch.Tensor, bank: torch.Tensor, levels: int):
    """``levels`` levels: ``(LL_levels, [details_1, ..., details_levels])`` (finest first)."""
    size = x.shape[-1]
    if x.shape[-2] % 2**levels or size % 2**levels:
        raise ValueError(
            f"a {levels}-level transform needs sides divisible by {2**levels}, got {tuple(x.shape[-2:])}"
        )
    details = []
    for _ in range(levels):
        x, d = dwt2(x, bank)
        details.append(d)
    return x, details


def waverec2(ll: torch.Tensor, details, bank: torch.Tensor) -> torch.Tensor:
    for d in reversed(details):
        ll = idwt2(ll, d, bank)
    return ll
