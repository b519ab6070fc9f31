"""numpy pixels ↔ QImage, the one place that knows Qt's image layout (row padding, formats).

Both directions copy, so neither side ever points into memory the other may free. A QImage may
be converted in any thread (unlike a QPixmap), which lets the worker turn a pasted picture into
pixels off the UI thread.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from lci_studio.codec.image_io import ImageReadError, RgbImage, refuse_oversized, to_rgb


def to_qimage(pixels: np.ndarray) -> QImage:
    """A QImage owning a copy of H×W×3 uint8 pixels."""
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = data.shape[:2]
    return QImage(data.data, width, height, data.strides[0], QImage.Format.Format_RGB888).copy()


def _rows(image: QImage, channels: int) -> np.ndarray:
    """The pixels of a converted QImage as H×W×channels, without its row padding."""
    height, width = image.height(), image.width()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * height)
    rows = buffer.reshape(height, image.bytesPerLine())
    return rows[:, : width * channels].reshape(height, width, channels).copy()


def from_qimage(image: QImage, name: str) -> RgbImage:
    """8-bit RGB pixels of a pasted or dropped picture, by image_io's conversion rule (alpha included).

    It has no file, so `source_bytes` is None: its ratios are taken against raw RGB.
    """
    if image.isNull() or image.width() < 1 or image.height() < 1:
        raise ImageReadError(f"{name}: the image is empty")
    refuse_oversized(name, image.width(), image.height())
    if not image.hasAlphaChannel():
        return RgbImage(_rows(image.convertToFormat(QImage.Format.Format_RGB888), 3), None, name)
    rgba = _rows(image.convertToFormat(QImage.Format.Format_RGBA8888), 4)
    pixels, note = to_rgb(Image.fromarray(rgba, "RGBA"))
    return RgbImage(pixels, None, name, note)
