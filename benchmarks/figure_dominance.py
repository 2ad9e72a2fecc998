"""The diagonal dominance of a response grid read off a picture, for example the paper's own figure.

`gfp visualize` reports the dominance of its response grid (mean diagonal response strength over mean
off-diagonal, gfcore.inference.responses) from the numbers. The paper gives only a picture: a grid of
response maps drawn the official way (as the paper's official code does: pixels where the image and model fingerprints
disagree in sign are zeroed, then [-5, 5] is mapped to [0, 255], so a zero response is flat grey). This
script reads such a picture and measures each cell's strength as the mean over its pixels of the
brightness above the background grey (summed over RGB), which is the same measure up to the display's
scale and its clipping at +5. It finds the grid as the largest block of background-grey rows and columns
inside ``--box`` (or the whole picture), cuts it into ``--cells`` x ``--cells`` equal cells, and leaves a
margin of ``--margin`` pixels in each cell (the thin gaps between panels).

    python benchmarks/figure_dominance.py PAPER_FIGURE.png \\
        --box 560 300 1454 1293 --cells 5
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image


def grid_bounds(grey: np.ndarray, fill: float) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` of the rows and columns mostly of background grey."""
    rows = np.flatnonzero(grey.mean(axis=1) > fill)
    cols = np.flatnonzero(grey.mean(axis=0) > fill)
    if not len(rows) or not len(cols):
        raise SystemExit("no grid of background grey found; give --box around the response grid")
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


def cell_strengths(grid: np.ndarray, cells: int, margin: int, background: float) -> dict[str, np.ndarray]:
    """Per cell: the mean brightness above the background (the masked response, as drawn) and, for
    comparison, the mean absolute difference from it and the fraction of visibly lit pixels."""
    height, width = grid.shape[:2]
    out = {name: np.zeros((cells, cells)) for name in ("above_background", "absolute", "lit_fraction")}
    for r in range(cells):
        for c in range(cells):
            y0, y1 = int(r * height / cells) + margin, int((r + 1) * height / cells) - margin
            x0, x1 = int(c * width / cells) + margin, int((c + 1) * width / cells) - margin
            d = grid[y0:y1, x0:x1] - background
            out["above_background"][r, c] = np.clip(d, 0, None).sum(axis=2).mean()
            out["absolute"][r, c] = np.abs(d).sum(axis=2).mean()
            out["lit_fraction"][r, c] = (np.abs(d).max(axis=2) > 6).mean()
    return out


def dominance(m: np.ndarray) -> float:
    return float(np.diag(m).mean() / m[~np.eye(len(m), dtype=bool)].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure")
    parser.add_argument("--box", type=int, nargs=4, metavar=("LEFT", "TOP", "RIGHT", "BOTTOM"))
    parser.add_argument("--cells", type=int, default=5, help="rows (= columns) of the grid")
    parser.add_argument("--margin", type=int, default=2, help="pixels left out at each cell's edges")
    parser.add_argument("--tolerance", type=float, default=3, help="how far from the grey still counts as it")
    parser.add_argument("--fill", type=float, default=0.4, help="share of grey that marks a grid row/column")
    args = parser.parse_args()

    image = np.asarray(Image.open(args.figure).convert("RGB"), dtype=np.float64)
    left, top, right, bottom = args.box or (0, 0, image.shape[1], image.shape[0])
    region = image[top:bottom, left:right]
    background = float(np.median(region.reshape(-1, 3)))
    grey = np.abs(region - background).max(axis=2) <= args.tolerance
    y0, y1, x0, x1 = grid_bounds(grey, args.fill)
    strengths = cell_strengths(region[y0:y1, x0:x1], args.cells, args.margin, background)
    result = {
        "figure": args.figure,
        "grid_box": [left + int(x0), top + int(y0), left + int(x1), top + int(y1)],
        "background": background,
        "dominance": {name: round(dominance(m), 2) for name, m in strengths.items()},
        "dominance_without_first_row_and_column": {
            name: round(dominance(m[1:, 1:]), 2) for name, m in strengths.items()
        },
        "strengths": {name: np.round(m, 3).tolist() for name, m in strengths.items()},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
