"""Error images for the split view: where two 8-bit RGB images differ, made visible.

Plain numpy, no Qt: the window only draws what these functions return.
"""

from __future__ import annotations

import numpy as np

DEFAULT_GAIN = 8.0
GAINS = (1, 2, 4, 8, 16, 32, 64)
# The auto gain lets this share of the differing values stay below white, so the picture shows
# how the error varies instead of saturating (a fixed ×8 turns a low quality into colour noise).
UNSATURATED = 0.99


def auto_gain(a: np.ndarray, b: np.ndarray, gains: tuple[int, ...] = GAINS) -> int:
    """The largest of `gains` at which 99 % of the pixels' differences stay below white (at least the smallest)."""
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of different sizes {a.shape[:2]} and {b.shape[:2]}")
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) if a.size else np.zeros(1)
    top = float(np.quantile(diff, UNSATURATED)) if diff.size else 0.0
    fitting = [g for g in gains if top * g <= 255]
    return max(fitting) if fitting else min(gains)


def legend_text(gain: float) -> str:
    """What a brightness means in a difference image at `gain`."""
    return f"black: identical · brighter: larger error (× {gain:g}) · white: off by {255 / gain:.0f} or more of 255"


def difference_image(a: np.ndarray, b: np.ndarray, gain: float = DEFAULT_GAIN) -> np.ndarray:
    """|a − b| per channel, multiplied by `gain` and clipped to 0…255 (uint8 H×W×3).

    Identical pixels are black; a difference of one code value shows as `gain` code values,
    so compression errors of a few levels become visible at the default gain of 8.
    """
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of different sizes {a.shape[:2]} and {b.shape[:2]}")
    if gain <= 0:
        raise ValueError(f"gain must be positive, not {gain}")
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).astype(np.float32)
    return np.clip(np.rint(diff * np.float32(gain)), 0, 255).astype(np.uint8)


def difference_stats(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """(mean absolute error, largest absolute error) over all channels, in 8-bit code values."""
    if a.shape != b.shape:
        raise ValueError(f"cannot compare images of different sizes {a.shape[:2]} and {b.shape[:2]}")
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return float(diff.mean()) if diff.size else 0.0, int(diff.max()) if diff.size else 0
