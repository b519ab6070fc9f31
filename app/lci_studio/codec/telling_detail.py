"""Where to look: the part of a picture where the qualities differ most.

At "fit" zoom eight reconstructions of a photo look alike; the differences live in small
areas (edges, texture, text). `telling_detail` finds the window where the lowest quality's
local error exceeds the highest quality's by the most, so the window can open zoomed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# The detail is this share of the picture's width (the tiles of the grid then show it at ~2-3×).
DETAIL_SHARE = 1 / 6
MIN_SIDE = 24
# The detail has the picture's shape up to this aspect ratio: a 7000×100 panorama's would be a 1167×24 strip,
# a hairline in a tile; at most 2:1 it is a region of the same area that a tile shows large (197×99 there).
MAX_ASPECT = 2.0
_MAX_ANALYSED = 1_000_000  # pixels; larger pictures are analysed on every n-th pixel


@dataclass(frozen=True)
class Detail:
    """A window of the picture (pixels: left, top, width, height) and how much more error the low
    quality has there than the high one (mean squared error per pixel, 0…255²)."""

    x: int
    y: int
    width: int
    height: int
    gain: float

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.width / 2, self.y + self.height / 2


def _local_error(original: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    diff = original.astype(np.float32) - reconstruction.astype(np.float32)
    return np.mean(diff * diff, axis=2)


def telling_detail(original: np.ndarray, low: np.ndarray, high: np.ndarray, share: float = DETAIL_SHARE) -> Detail:
    """The window (`share` of the width, the picture's aspect up to `MAX_ASPECT`) where `low` loses most
    against `high`; a longer picture's window has that much of its area, at `MAX_ASPECT`.

    Each pixel scores its squared error in `low` minus that in `high` (both against `original`,
    H×W×3 uint8); the window with the largest sum wins (a summed-area table makes every window
    one lookup). Ties go to the top-left. Pictures over a megapixel are analysed on a grid.
    """
    if not (original.shape == low.shape == high.shape) or original.ndim != 3:
        raise ValueError(f"pictures differ in shape: {original.shape}, {low.shape}, {high.shape}")
    height, width = original.shape[:2]
    step = max(1, int(np.ceil(np.sqrt(height * width / _MAX_ANALYSED))))
    a, b, c = original[::step, ::step], low[::step, ::step], high[::step, ::step]
    score = _local_error(a, b) - _local_error(a, c)
    ratio = width / height
    aspect = min(max(ratio, 1 / MAX_ASPECT), MAX_ASPECT)
    win_w = min(width, max(MIN_SIDE, round(width * share * math.sqrt(aspect / ratio))))
    win_h = min(height, max(MIN_SIDE, round(win_w * height / width if aspect == ratio else win_w / aspect)))
    cols, rows = max(1, win_w // step), max(1, win_h // step)
    table = np.zeros((score.shape[0] + 1, score.shape[1] + 1), dtype=np.float64)
    table[1:, 1:] = score.cumsum(axis=0).cumsum(axis=1)
    sums = table[rows:, cols:] - table[:-rows, cols:] - table[rows:, :-cols] + table[:-rows, :-cols]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    x = min(int(left) * step, width - win_w)
    y = min(int(top) * step, height - win_h)
    return Detail(x, y, win_w, win_h, float(sums[top, left]) / (rows * cols))
