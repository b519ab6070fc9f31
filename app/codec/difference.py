"""Error images for the split view: where two 8-bit RGB images differ, made visible.

Plain numpy, no Qt: the window only draws what these functions return.
"""

from __future__ import annotations

import numpy as np

DEFAULT_GAIN = 8.0


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
