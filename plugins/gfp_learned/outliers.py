"""Outlier exposure with made-up generators, in the spirit of POSE (Yang et al., CVPR 2023): during training,
each batch also passes through a freshly drawn random upsampling stage -- what the last layers of a generator
do to an image -- and the network is taught to be unsure about the result (cross-entropy towards the uniform
distribution over the known sources; Hendrycks et al. 2019). An image carrying the trace of a generator it
was never trained on should then score low on the open-set score, instead of being attributed to the
nearest known source or, worst, to ``real``.

A trace is drawn per batch from the training generator, so a resumed run draws what an uninterrupted one
would, and is one of two kinds (``TRACE_KINDS``; ``both`` draws either with equal odds):

* ``upsampling``: the image at half resolution, upsampled again by one of three operations generators use
  (a transposed 4x4 convolution, or nearest or bilinear resizing followed by a 3x3 convolution) whose
  kernels are random perturbations of a plain interpolation;
* ``networks``: the image plus the output of a freshly drawn, randomly initialised shallow network (two 3x3
  convolutions with a leaky ReLU between them) scaled to a few grey levels -- a faint, content-dependent
  pattern at full resolution, the form a GAN fingerprint takes, rather than a resampling.

Either is quantised to 8 bits like every image the network sees.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: how far the random kernels stray from a plain interpolation (in kernel-weight units)
KERNEL_NOISE = 0.1
TRACE_KINDS = ("upsampling", "networks", "both")
#: channels of the random shallow network's hidden layer
NETWORK_CHANNELS = 16
#: the range of the random network's pattern, in grey levels of an 8-bit image (RMS, drawn log-uniformly)
NETWORK_LEVELS = (1.0, 6.0)
_BILINEAR_4 = torch.tensor([0.25, 0.75, 0.75, 0.25])


def _identity_kernels(size: int) -> torch.Tensor:
    """``[3, 3, size, size]``: each channel to itself through a centred delta (3x3) or a bilinear 4x4."""
    if size == 4:
        one = torch.outer(_BILINEAR_4, _BILINEAR_4)
    else:
        one = torch.zeros(size, size)
        one[size // 2, size // 2] = 1.0
    return torch.eye(3)[:, :, None, None] * one


def _random_kernels(size: int, generator: torch.Generator) -> torch.Tensor:
    noise = torch.randn(3, 3, size, size, generator=generator) * KERNEL_NOISE
    return _identity_kernels(size) + noise


def generator_traces(x: torch.Tensor, generator: torch.Generator, kind: str = "upsampling") -> torch.Tensor:
    """``x`` (``[N, 3, R, R]`` in [-1, 1], R even) with one freshly drawn trace of ``kind`` (one of
    :data:`TRACE_KINDS`); same shape and range, on 8-bit levels."""
    if kind == "both":
        kind = TRACE_KINDS[int(torch.randint(2, (1,), generator=generator))]
    traced = _network_trace(x, generator) if kind == "networks" else _upsampling_trace(x, generator)
    return torch.round((traced.clamp(-1, 1) + 1) * 127.5) / 127.5 - 1


def _network_trace(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    hidden = torch.randn(NETWORK_CHANNELS, 3, 3, 3, generator=generator).to(x) / 27**0.5
    out = torch.randn(3, NETWORK_CHANNELS, 3, 3, generator=generator).to(x) / (9 * NETWORK_CHANNELS) ** 0.5
    pattern = F.conv2d(F.leaky_relu(F.conv2d(x, hidden, padding=1), 0.2), out, padding=1)
    pattern = pattern - pattern.mean(dim=(2, 3), keepdim=True)  # a texture, not a colour shift
    low, high = (torch.log(torch.tensor(v)) for v in NETWORK_LEVELS)
    levels = torch.exp(low + (high - low) * torch.rand((), generator=generator))
    rms = pattern.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt().clamp_min(1e-8)
    return x + pattern / rms * (levels.to(x) / 127.5)


def _upsampling_trace(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    low = F.avg_pool2d(x, 2)
    kind = int(torch.randint(3, (1,), generator=generator))
    if kind == 0:  # transposed convolution: the checkerboard-prone upsampling of DCGAN-style generators
        up = F.conv_transpose2d(low, _random_kernels(4, generator).to(x), stride=2, padding=1)
    else:  # resize, then convolve (ProGAN and StyleGAN upsample by resizing)
        up = F.interpolate(
            low, scale_factor=2, mode="nearest" if kind == 1 else "bilinear", align_corners=None
        )
        up = F.conv2d(up, _random_kernels(3, generator).to(x), padding=1)
    return up


def uniform_cross_entropy(logits: torch.Tensor, excluded: int | None = None) -> torch.Tensor:
    """The cross-entropy of the softmax against the uniform distribution over the classes (mean over rows):
    lowest when every known source is equally likely. With ``excluded`` (a class index), the uniform
    distribution over the other classes: lowest when that class is impossible and the rest equally likely."""
    log_p = F.log_softmax(logits.float(), dim=1)
    if excluded is not None:
        log_p = torch.cat([log_p[:, :excluded], log_p[:, excluded + 1 :]], dim=1)
    return -log_p.mean(dim=1).mean()
