"""Classical codecs on the same image (JPEG, WebP, AVIF where Pillow has it), really encoded.

Each point comes from bytes Pillow actually wrote and decoded again, so the comparison
with the learned codec is like for like: file size against 8-bit reconstruction.

`sweep` is the one rule for which settings are measured: the window, `lci compare` and
`lci bench` all call it. To add a codec, teach `available_codecs` and `encode_classical` its
name; everything downstream (tables, JSON, BD, the RD plot) takes it from there.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.metrics import ms_ssim_rgb, psnr_rgb
from PIL import Image, features

# Quality settings swept per codec: dense at the low end where curves bend.
SETTINGS = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
# Settings added to a sweep when SETTINGS don't reach the ladder's lowest or highest bpp.
LOW_EXTRA = (1, 2, 3)
HIGH_EXTRA = (98, 100)
# The fixed sweep `lci bench` averages over images (the same settings on every image, so means are
# curves): SETTINGS widened at both ends, and denser where the high levels' verdict falls
# (1.3-1.9 bpp lies between JPEG 80 and 90 on photos), so that the gap at the same bpp there
# is read off measured points, not off a straight line between two far-apart ones.
BENCH_SETTINGS = tuple(sorted({2, *SETTINGS, 75, 85, 98}))
BENCH_CODECS = ("JPEG", "WebP")


@dataclass(frozen=True)
class BaselinePoint:
    codec: str  # "JPEG" | "WebP" | "AVIF"
    setting: int  # the codec's own quality setting
    bpp: float
    psnr: float
    ms_ssim: float
    file_bytes: int


def available_codecs() -> tuple[str, ...]:
    codecs = ["JPEG"]
    if features.check("webp"):
        codecs.append("WebP")
    if features.check("avif"):
        codecs.append("AVIF")
    return tuple(codecs)


def encode_classical(pixels: np.ndarray, codec: str, setting: int) -> bytes:
    """Bytes of the image in a classical format at a quality setting (Pillow's defaults otherwise)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=codec.upper(), quality=setting)
    return buffer.getvalue()


def baseline_point(pixels: np.ndarray, codec: str, setting: int) -> BaselinePoint:
    """One classical-codec point measured from the bytes Pillow writes at `setting`."""
    data = encode_classical(pixels, codec, setting)
    with Image.open(io.BytesIO(data)) as decoded:
        reconstruction = np.asarray(decoded.convert("RGB"))
    height, width = pixels.shape[:2]
    return BaselinePoint(
        codec, setting, len(data) * 8 / (height * width), psnr_rgb(pixels, reconstruction),
        ms_ssim_rgb(pixels, reconstruction), len(data),
    )


def baseline_curve(
    pixels: np.ndarray, codec: str, settings: Sequence[int] = SETTINGS, cancel: CancelCheck | None = None
) -> list[BaselinePoint]:
    """The codec at each of `settings`, checking `cancel` before each point."""
    points = []
    for setting in settings:
        stop_if_cancelled(cancel)
        points.append(baseline_point(pixels, codec, setting))
    return points


def sweep(
    pixels: np.ndarray,
    codec: str,
    low_bpp: float | None = None,
    high_bpp: float | None = None,
    *,
    settings: Sequence[int] = SETTINGS,
    cancel: CancelCheck | None = None,
) -> list[BaselinePoint]:
    """A codec's RD points around a ladder: `settings`, extended where they miss [low_bpp, high_bpp].

    With a bpp range (the ladder's on this image), LOW_EXTRA / HIGH_EXTRA are added when the
    sweep's ends don't reach it, so BD-rate can bracket every level. Without one the settings
    are kept as given: `lci bench` needs the same settings on every image to average them.
    """
    points = baseline_curve(pixels, codec, settings, cancel)
    if low_bpp is not None and points and min(p.bpp for p in points) > low_bpp:
        points = baseline_curve(pixels, codec, LOW_EXTRA, cancel) + points
    if high_bpp is not None and points and max(p.bpp for p in points) < high_bpp:
        points = points + baseline_curve(pixels, codec, HIGH_EXTRA, cancel)
    return points
