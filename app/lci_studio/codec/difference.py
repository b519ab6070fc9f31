"""Error images for the split view: where two 8-bit RGB images differ, made visible.

Plain numpy, no Qt: the window only draws what `difference` returns (computed in its worker: at 12 MP
this is a second of work, which the GUI thread must not do). One pass over the pictures, in bands of
rows with a cancel check between them, gives the image, the auto gain and the legend's numbers together.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled

GAINS = (1, 2, 4, 8, 16, 32, 64)
# The auto gain lets this share of the differing values stay below white, so the picture shows
# how the error varies instead of saturating (a fixed ×8 turns a low quality into colour noise).
UNSATURATED = 0.99
_BAND_ROWS = 256  # rows per band: a cancel check every few hundredths of a second at 4000 px wide


@dataclass(frozen=True, eq=False)
class Difference:
    """|a − b| × `gain` as an image (uint8 H×W×3, clipped at white), with the numbers its legend states:
    the mean and largest absolute error over all channels, in 8-bit code values."""

    image: np.ndarray
    gain: float
    mean: float
    largest: int

    def legend(self) -> str:
        return legend_text(self.gain)


def legend_text(gain: float) -> str:
    """What a brightness means in a difference image at `gain`."""
    return f"black: identical · brighter: larger error (× {gain:g}) · white: off by {255 / gain:.0f} or more of 255"


def difference(
    a: np.ndarray, b: np.ndarray, gain: float | None = None, cancel: CancelCheck | None = None
) -> Difference:
    """|a − b| per channel, multiplied by `gain` and clipped to 0…255, with its mean and largest error.

    `gain` None: the largest of `GAINS` at which 99 % of the pixels' differences (their largest channel)
    stay below white, at least the smallest. Identical pixels are black; a difference of one code value
    shows as `gain` code values, so compression errors of a few levels become visible.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of different sizes {a.shape[:2]} and {b.shape[:2]}")
    if gain is not None and gain <= 0:
        raise ValueError(f"gain must be positive, not {gain}")
    errors = np.empty(a.shape, np.uint8)  # |a − b|, exact in uint8: the larger minus the smaller
    counts = np.zeros(256, np.int64)  # how many pixels have each largest-channel error (for the auto gain)
    total = 0
    for top in range(0, a.shape[0], _BAND_ROWS):
        stop_if_cancelled(cancel)
        rows = slice(top, top + _BAND_ROWS)
        band = np.subtract(np.maximum(a[rows], b[rows]), np.minimum(a[rows], b[rows]), out=errors[rows])
        total += int(band.sum(dtype=np.int64))
        if gain is None and band.size:
            largest_channel = reduce(np.maximum, np.moveaxis(band, -1, 0))  # faster than max(axis=-1)
            counts += np.bincount(largest_channel.ravel(), minlength=256)
    stop_if_cancelled(cancel)
    chosen = float(_auto_gain(counts)) if gain is None else float(gain)
    # every error value's brightness once, then looked up: the same rounding as multiplying each pixel
    brightness = np.clip(np.rint(np.arange(256, dtype=np.float32) * np.float32(chosen)), 0, 255).astype(np.uint8)
    image = np.empty_like(errors)
    for top in range(0, a.shape[0], _BAND_ROWS):
        stop_if_cancelled(cancel)
        np.take(brightness, errors[top : top + _BAND_ROWS], out=image[top : top + _BAND_ROWS])
    mean = total / errors.size if errors.size else 0.0
    largest = int(errors.max()) if errors.size else 0
    return Difference(image, chosen, mean, largest)


def _auto_gain(counts: np.ndarray) -> int:
    """The largest of GAINS that keeps the 99th percentile (linear, as `np.quantile`) of the errors counted
    per value in `counts` at or below white; the largest gain when nothing differs (or nothing is there)."""
    n = int(counts.sum())
    top = 0.0
    if n:
        at_most = np.cumsum(counts)  # at_most[v]: how many errors are ≤ v
        position = (n - 1) * UNSATURATED
        below = int(np.floor(position))
        lower, upper = (int(np.searchsorted(at_most, k, side="right")) for k in (below, min(below + 1, n - 1)))
        top = lower + (position - below) * (upper - lower)
    fitting = [g for g in GAINS if top * g <= 255]
    return max(fitting) if fitting else min(GAINS)
