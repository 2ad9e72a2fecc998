"""Relighting: the image is re-shaded under a random low-order spherical-harmonics light, keeping its
content (the paper's robustness study). A stand-in for SfSNet, whose weights cannot be fetched here.

What it does, per image:

1. Normals. The surface is a gently convex cap (normal ``(curvature * u, curvature * v, 1)`` at image
   coordinates ``u, v`` in [-1, 1]: the coarse shape of a face or an object in the middle of the frame)
   carrying a relief whose height is the smoothed luminance (bright = raised, the usual shape-from-shading
   prior), so the normals tilt along the gradients of the smoothed luminance.
2. Light. A directional light whose direction is up to ``angle_max`` degrees from the camera axis, at a
   random azimuth, plus an ambient term. Its irradiance is the second-order spherical-harmonics
   approximation of the clamped cosine (Ramamoorthi & Hanrahan 2001): with ``c = n . d``,
   ``E = 1/4 + c/2 + 5/32 (3c^2 - 1)``, the same 9-coefficient light model SfSNet renders with.
3. Re-rendering. The input is taken to be lit by the same ambient and a frontal light; its albedo is the
   image divided by that shading, and the output is the albedo times the new shading (normalised to keep
   the mean: the direction moves light around the image), times a global gain (brighter or darker, the
   light's intensity) and a light colour (per-channel gains around 1), clipped to 0-255.

How it differs from SfSNet: SfSNet is a network trained on faces that estimates per-pixel normals, albedo
and a 27-coefficient light from the image and re-renders it with the light of another image. Here the
normals come from a hand-made prior (a convex cap plus the luminance relief), the albedo is the image over
an assumed frontal shading, and the light is random rather than taken from another photograph. It changes
the illumination (direction, intensity, colour) and keeps the content and its edges, but it cannot remove
real cast shadows or speculars, and it is not specific to faces, so it also applies to the LSUN-like and
patch data of this project.

Its strength does not depend on the image size: the light is a direction, the gains are ratios, and the
smoothing and slope of the relief are set per image (from its side), not in pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gfcore import Attack, bounded

from .blur import gaussian_blur
from .draws import check_range, to_float, to_uint8, uniform

LUMA = (0.299, 0.587, 0.114)


def sh_irradiance(cos: torch.Tensor) -> torch.Tensor:
    """Second-order SH irradiance of a unit directional light at cosine ``cos`` (1.0625 facing it)."""
    return 0.25 + 0.5 * cos + (5.0 / 32.0) * (3.0 * cos * cos - 1.0)


def relief_normals(luminance: torch.Tensor, relief: float, curvature: float) -> torch.Tensor:
    """[N,1,H,W] luminance in [0, 1] -> unit normals [N,3,H,W] of a convex cap carrying the relief."""
    n, _, h, w = luminance.shape
    smooth = gaussian_blur(luminance, 2 * max(1, round(h / 32)) + 1 + 2)
    gy, gx = torch.gradient(smooth, dim=(2, 3))
    v = torch.linspace(-1, 1, h, device=luminance.device).view(1, 1, h, 1)
    u = torch.linspace(-1, 1, w, device=luminance.device).view(1, 1, 1, w)
    scale = relief * max(h, w) / 32  # the relief's slope is per image, not per pixel
    nx = curvature * u - scale * gx
    ny = curvature * v - scale * gy
    normals = torch.cat([nx.expand(n, 1, h, w), ny.expand(n, 1, h, w), torch.ones_like(luminance)], 1)
    return F.normalize(normals, dim=1)


class Relight(Attack):
    name = "relight"
    description = (
        "Re-shading under a random SH light on relief normals, with gain and colour (SfSNet stand-in)."
    )

    # Upper bounds: a gain of 100 turns every pixel above 2.55 white, and a relief or curvature of 1000
    # already makes the normals those of a cone or a cliff; past them float32 overflows (1e30 squared) and
    # the shading is NaN.
    @dataclass
    class Config:
        angle: float | None = bounded(None, min=0, max=90)  # fixed light angle from the camera axis (deg)
        angle_max: float = bounded(60.0, min=0, max=90)
        ambient_min: float = bounded(0.3, min=0, max=1)
        ambient_max: float = bounded(0.7, min=0, max=1)
        gain_min: float = bounded(0.7, min=0, max=100, min_open=True)
        gain_max: float = bounded(1.3, min=0, max=100, min_open=True)
        colour: float = bounded(0.1, min=0, max=1, max_open=True)  # per-channel gains in [1-c, 1+c]
        relief: float = bounded(2.0, min=0, max=1000)  # slope of the luminance relief
        curvature: float = bounded(0.5, min=0, max=1000)

        def validate(self):
            check_range(self.ambient_min, self.ambient_max, "ambient")
            check_range(self.gain_min, self.gain_max, "gain")

    def scale_note(self) -> str:
        return "independent of the image size"

    def apply(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        n, device = len(images), images.device
        angle = uniform(generator, n, 0.0, c.angle_max, c.angle) * (math.pi / 180)
        azimuth = uniform(generator, n, 0.0, 2 * math.pi, None)
        ambient = uniform(generator, n, c.ambient_min, c.ambient_max, None)
        gain = uniform(generator, n, c.gain_min, c.gain_max, None)
        tint = uniform(generator, 3 * n, 1 - c.colour, 1 + c.colour, None).view(n, 3)
        direction = torch.stack(
            [angle.sin() * azimuth.cos(), angle.sin() * azimuth.sin(), angle.cos()], 1
        )  # unit vectors, float64 on the CPU
        x = to_float(images)
        luma = (x * torch.tensor(LUMA, device=device).view(1, 3, 1, 1)).sum(1, keepdim=True) / 255
        normals = relief_normals(luma, c.relief, c.curvature)

        def shading(d: torch.Tensor) -> torch.Tensor:
            cos = (normals * d.float().to(device).view(n, 3, 1, 1)).sum(1, keepdim=True)
            a = ambient.float().to(device).view(n, 1, 1, 1)
            return a + (1 - a) * sh_irradiance(cos) / sh_irradiance(torch.ones(()))

        frontal = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64).expand(n, 3)
        ratio = shading(direction) / shading(frontal).clamp_min(1e-3)
        ratio = ratio / ratio.mean(
            (2, 3), keepdim=True
        )  # the direction moves light around; gain sets how much
        scale = (gain.view(n, 1) * tint).float().to(device).view(n, 3, 1, 1)
        return to_uint8(x * ratio * scale)
