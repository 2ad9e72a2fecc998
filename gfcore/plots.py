"""Plots for people, drawn with Pillow alone (matplotlib is not a dependency).

:func:`confusion_image` draws a confusion matrix as a heat map: rows are true sources, columns predicted
ones; each cell shows its count and its share of the row, and is shaded by that share (so the diagonal
reads as per-class accuracy whatever the class sizes). Column labels are turned upright when they are
wider than a cell.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .atomic import write_bytes

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
EMPTY_ROW = (225, 225, 225)
# a light-to-dark blue ramp (as in the usual "Blues" colour map): light cells take dark text
RAMP = np.array([(247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)], float)
MAX_LABEL_CHARS = 28
PAD = 8
FOOTER = "cells: count and share of the true class; shading: share of the row"


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # a scalable font when Pillow has FreeType
    except (TypeError, ImportError, OSError):
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _shade(fraction: float) -> tuple[int, int, int]:
    """Colour of a cell holding ``fraction`` (0..1) of its row."""
    position = float(np.clip(fraction, 0, 1)) * (len(RAMP) - 1)
    low = int(np.floor(position))
    high = min(low + 1, len(RAMP) - 1)
    t = position - low
    return tuple(int(round(v)) for v in RAMP[low] * (1 - t) + RAMP[high] * t)


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 3] + "..."


def _draw_centered(draw, box, lines: list[str], fonts, fill) -> None:
    x0, y0, x1, y1 = box
    sizes = [_text_size(draw, line, font) for line, font in zip(lines, fonts)]
    gap = 2
    total = sum(h for _, h in sizes) + gap * (len(lines) - 1)
    y = y0 + (y1 - y0 - total) / 2
    for line, font, (w, h) in zip(lines, fonts, sizes):
        left, top, _, _ = draw.textbbox((0, 0), line, font=font)
        draw.text((x0 + (x1 - x0 - w) / 2 - left, y - top), line, font=font, fill=fill)
        y += h + gap


def _upright_label(text: str, font, height: int) -> Image.Image:
    """``text`` written bottom-to-top on a transparent strip (for narrow columns)."""
    probe = ImageDraw.Draw(Image.new("L", (1, 1)))
    w, h = _text_size(probe, text, font)
    strip = Image.new("RGBA", (w + 2, h + 4), BACKGROUND + (0,))
    left, top, _, _ = probe.textbbox((0, 0), text, font=font)
    ImageDraw.Draw(strip).text((1 - left, 2 - top), text, font=font, fill=INK + (255,))
    return strip.rotate(90, expand=True)


def confusion_image(
    matrix: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str], title: str | None = None
) -> Image.Image:
    """The confusion matrix ``[L, L]`` (rows true, columns predicted) as an RGB heat map."""
    cm = np.asarray(matrix, dtype=np.int64)
    n = len(classes)
    if cm.shape != (n, n):
        raise ValueError(f"confusion matrix of shape {cm.shape} for {n} classes")
    labels = [_short(str(c)) for c in classes]
    font, small, bold = _font(14), _font(12), _font(16)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))

    totals = cm.sum(axis=1)
    cell = max(64, max((_text_size(probe, f"{v:,}", font)[0] for v in cm.ravel()), default=0) + 2 * PAD)
    row_label_w = max(_text_size(probe, lab, font)[0] for lab in labels) + 2 * PAD
    upright = max(_text_size(probe, lab, font)[0] for lab in labels) > cell - 2 * PAD
    col_label_h = (
        max(_text_size(probe, lab, font)[0] for lab in labels) + 2 * PAD
        if upright
        else _text_size(probe, "Ag", font)[1] + 2 * PAD
    )
    axis_h = _text_size(probe, "predicted", small)[1] + PAD
    title_h = _text_size(probe, title, bold)[1] + 2 * PAD if title else 0
    true_w = _text_size(probe, "true", small)[0] + 2 * PAD

    grid_x = PAD + true_w + row_label_w
    grid_y = title_h + axis_h + col_label_h
    width = max(
        grid_x + n * cell + PAD,
        _text_size(probe, FOOTER, small)[0] + 2 * PAD,
        (_text_size(probe, title, bold)[0] + 2 * PAD) if title else 0,
    )
    footer_h = _text_size(probe, "Ag", small)[1] + 2 * PAD
    height = grid_y + n * cell + footer_h
    image = Image.new("RGB", (int(width), int(height)), BACKGROUND)
    draw = ImageDraw.Draw(image)

    if title:
        draw.text((PAD, PAD), title, font=bold, fill=INK)
    _draw_centered(draw, (grid_x, title_h, grid_x + n * cell, title_h + axis_h), ["predicted"], [small], INK)
    _draw_centered(draw, (PAD, grid_y, PAD + true_w, grid_y + n * cell), ["true"], [small], INK)
    for j, lab in enumerate(labels):
        x0 = grid_x + j * cell
        if upright:
            strip = _upright_label(lab, font, col_label_h)
            image.paste(strip, (x0 + (cell - strip.width) // 2, grid_y - PAD - strip.height), strip)
        else:
            _draw_centered(draw, (x0, grid_y - col_label_h, x0 + cell, grid_y), [lab], [font], INK)
    for i, lab in enumerate(labels):
        y0 = grid_y + i * cell
        w, _ = _text_size(draw, lab, font)
        _draw_centered(draw, (grid_x - PAD - w, y0, grid_x - PAD, y0 + cell), [lab], [font], INK)
        for j in range(n):
            x0 = grid_x + j * cell
            fraction = cm[i, j] / totals[i] if totals[i] else 0.0
            fill = _shade(fraction) if totals[i] else EMPTY_ROW
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=fill, outline=BACKGROUND)
            ink = BACKGROUND if fraction > 0.5 else INK
            lines = [f"{cm[i, j]:,}"] + ([f"{100 * fraction:.0f}%"] if totals[i] else [])
            _draw_centered(draw, (x0, y0, x0 + cell, y0 + cell), lines, [font, small][: len(lines)], ink)
    # the diagonal outlined, so correct attributions stand out on any shade
    for k in range(n):
        x0, y0 = grid_x + k * cell, grid_y + k * cell
        draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), outline=(230, 85, 13), width=2)
    draw.text((PAD, grid_y + n * cell + PAD), FOOTER, font=small, fill=(90, 90, 90))
    return image


def save_confusion_png(path: str | Path, matrix, classes: Sequence[str], title: str | None = None) -> None:
    """Write :func:`confusion_image` as a PNG, atomically."""
    buffer = io.BytesIO()
    confusion_image(matrix, classes, title).save(buffer, format="PNG")
    write_bytes(path, buffer.getvalue())
