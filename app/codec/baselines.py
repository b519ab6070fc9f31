"""Classical codecs on the same image (JPEG, WebP, AVIF where Pillow has it), really encoded.

Each point comes from bytes Pillow actually wrote and decoded again, so the comparison
with the learned codec is like for like: file size against 8-bit reconstruction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from lci_studio.codec.metrics import ms_ssim_rgb, psnr_rgb
from PIL import Image, features

# Quality settings swept per codec: dense at the low end where curves bend.
SETTINGS = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)


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
    data = encode_classical(pixels, codec, setting)
    with Image.open(io.BytesIO(data)) as decoded:
        reconstruction = np.asarray(decoded.convert("RGB"))
    height, width = pixels.shape[:2]
    return BaselinePoint(
        codec, setting, len(data) * 8 / (height * width), psnr_rgb(pixels, reconstruction),
        ms_ssim_rgb(pixels, reconstruction), len(data),
    )


def baseline_curve(pixels: np.ndarray, codec: str, settings: tuple[int, ...] = SETTINGS) -> list[BaselinePoint]:
    return [baseline_point(pixels, codec, s) for s in settings]
