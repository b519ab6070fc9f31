"""Reading any image Pillow reads as 8-bit RGB, and writing files atomically.

Conversion rule: EXIF orientation is applied first; then 16-bit and 32-bit channels are
scaled to 8 bits, transparency is composited over white, palette/grayscale/CMYK/YCbCr/LAB
go through Pillow's RGB conversion. Pillow's decompression-bomb guard stays on.

Size rule: a picture over MAX_IMAGE_PIXELS is refused from its header, before its pixels are
decoded (encoding one takes minutes and gigabytes); one over LARGE_IMAGE_PIXELS is accepted,
and the CLI and the window say how large it is and show progress tile by tile.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# A 90 MP PNG took 156 s and 4.4 GB to encode at one quality on the 2-core machine; 100 MP is
# past every common camera (phones' 48-50 MP, most medium-format backs) and stays under Pillow's
# own bomb limit (179 MP), so every refusal above it is ours and says the size.
MAX_IMAGE_PIXELS = 100_000_000
LARGE_IMAGE_PIXELS = 16_000_000  # over this (about 4900×3300), a quality takes tens of seconds

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".avif", ".tga"}


class ImageReadError(Exception):
    """An input could not be read as an image; the message says why in one sentence."""


@dataclass(frozen=True)
class RgbImage:
    pixels: np.ndarray  # H×W×3 uint8
    source_bytes: int | None = None  # size of the file it came from, for "ratio to the input file"
    name: str = "image"

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def load_rgb(source: str | os.PathLike | bytes) -> RgbImage:
    """Open a path (or raw file bytes) and return 8-bit RGB pixels."""
    label = "pasted image" if isinstance(source, bytes) else str(source)
    try:
        with warnings.catch_warnings():
            # Pillow's warning over 89 MP says nothing useful here: the size rule below decides
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if isinstance(source, bytes):
                size, name = len(source), label
                image = Image.open(io.BytesIO(source))
            else:
                path = Path(source)
                size, name = path.stat().st_size, path.name
                image = Image.open(path)
        with image:
            refuse_oversized(label, *image.size)
            image.load()
            pixels = to_rgb_array(image)
    except FileNotFoundError:
        raise ImageReadError(f"{label}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{label}: refused, too many pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{label}: not a readable image ({exc})") from None
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ImageReadError(f"{name}: the image is empty")
    return RgbImage(pixels, size, name)


def describe_size(width: int, height: int) -> str:
    """"6000×4200 pixels (25.2 MP)": how the size of a picture is told to the user."""
    return f"{width}×{height} pixels ({width * height / 1e6:.1f} MP)"


def refuse_oversized(label: str, width: int, height: int) -> None:
    """ImageReadError when a picture is over MAX_IMAGE_PIXELS (the size rule of this module)."""
    if width * height > MAX_IMAGE_PIXELS:
        raise ImageReadError(
            f"{label}: refused, too many pixels: {describe_size(width, height)} is more than the "
            f"{MAX_IMAGE_PIXELS / 1e6:.0f} MP this program encodes"
        )


def is_large(width: int, height: int) -> bool:
    """Over LARGE_IMAGE_PIXELS: the faces say how large it is and show progress tile by tile."""
    return width * height > LARGE_IMAGE_PIXELS


def to_rgb_array(image: Image.Image) -> np.ndarray:
    """Apply the conversion rule of this module to an open Pillow image."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        gray = np.clip(np.round(wide / top * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if values.max() <= 1 else 1.0  # float images hold 0…1 or 0…255
        gray = np.clip(np.round(values * scale), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def temp_file_beside(path: Path, suffix: str = ".part") -> tuple[int, str]:
    """A temp file in `path`'s folder for write-then-rename, with a normal file's permissions.

    mkstemp makes files private (0600); the renamed result should be readable like any file
    the user saves (0666 less the umask).
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    return fd, tmp


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes through a temp file in the same folder and rename: never a partial file."""
    path = Path(path)
    fd, tmp = temp_file_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def save_png(path: str | os.PathLike, pixels: np.ndarray) -> None:
    atomic_write(path, encode_png(pixels))
