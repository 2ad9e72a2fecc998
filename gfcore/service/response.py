"""The fingerprint response of an uploaded image, for methods whose fingerprints are images (visNet): what
``gfp visualize`` draws per image, as numbers and one small PNG the page can show without a plotting
library."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from gfcore.inference.responses import (
    hwc,
    is_image_shaped,
    response_maps,
    response_strengths,
    robust_scale,
    signed_display,
)

#: each R x R panel is drawn this many times larger (nearest neighbour: the pixels stay pixels)
ZOOM = 4
GAP = 4  # pixels of white between panels


def has_image_fingerprints(model) -> bool:
    """True for a method whose model fingerprints are images of the run's resolution (visNet)."""
    if not getattr(model.attributor, "has_fingerprints", False):
        return False
    return is_image_shaped(model.attributor.model_fingerprints().numpy(), model.resolution)


def fingerprint_responses(
    model, arrays: list[np.ndarray], policy: str, upsample_small: bool
) -> list[dict | None]:
    """Per image: ``{"strength": {source: float}, "panels": [...], "png": data URL}`` -- the image's
    fingerprint (the mean over its tiles) and its response to each model fingerprint, on one scale -- or
    None for every image when the method's fingerprints are not images."""
    if not arrays or not has_image_fingerprints(model):
        return [None] * len(arrays)
    fps = model.fingerprints(arrays, policy=policy, upsample_small=upsample_small)
    image_fps, model_fps = fps["image"].numpy(), fps["model"].numpy()
    if not is_image_shaped(image_fps, model.resolution):
        return [None] * len(arrays)
    strengths = response_strengths(image_fps, model_fps)
    return [
        {
            "strength": dict(zip(model.classes, strengths[k].tolist())),
            "panels": ["fingerprint", *(f"x {c}" for c in model.classes)],
            "png": _strip_png(image_fps[k], model_fps),
        }
        for k in range(len(arrays))
    ]


def _strip_png(image_fp: np.ndarray, model_fps: np.ndarray) -> str:
    maps = response_maps(image_fp[None], model_fps)[0]
    panels = [signed_display(image_fp, robust_scale(image_fp))]
    scale = robust_scale(maps)
    panels += [signed_display(m, scale) for m in maps]
    size = image_fp.shape[-1] * ZOOM
    strip = np.full((size, len(panels) * (size + GAP) - GAP, 3), 255, np.uint8)
    for j, panel in enumerate(panels):
        pixels = np.rint(hwc(panel) * 255).astype(np.uint8).repeat(ZOOM, 0).repeat(ZOOM, 1)
        strip[:, j * (size + GAP) : j * (size + GAP) + size] = pixels
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
