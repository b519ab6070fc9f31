"""Reading any image Pillow reads (and HEIC/HEIF, through pi-heif) as 8-bit sRGB, and writing files atomically.

pi-heif is pillow-heif's decode-only build: libheif and libde265 (LGPLv3), without the x265 encoder,
which makes pillow-heif's wheels GPLv2 and would put GPL code in this Apache-2.0 app's bundle
(23 MB of it). Only the tests write HEIC, with pillow-heif (a dev dependency).

Conversion rule, in this order, each step named in `RgbImage.note` when it changed the picture:
- a file of several frames or images gives the one Pillow opens first: the first frame of an
  animated GIF/WebP/PNG/AVIF or page of a TIFF (noted), the primary image of a phone's JPEG (MPO)
  or HEIC (not noted: the others are depth maps, gain maps, bursts);
- EXIF orientation is applied (not noted: every viewer does it);
- 16-bit and 32-bit grey is scaled to 8 bits (v / 65535 · 255, rounded); 16-bit colour keeps
  Pillow's 8 bits (the high byte, at most one level under rounding); 10/12-bit HEIC libheif's;
- an embedded colour profile (ICC) that is not sRGB converts the pixels to sRGB with Pillow's
  ImageCms (LittleCMS): relative colorimetric with black point compensation, so colours outside
  sRGB are clipped to its edge, as most viewers show them; a profile whose name says sRGB is
  taken as sRGB; an unreadable one is ignored (and noted); a HEIF's nclx colour description
  (Display P3 from a phone) becomes such a profile first (`icc`);
- CMYK without a profile goes through Pillow's formula (noted: approximate); palette, grey,
  YCbCr and LAB through Pillow's RGB conversion (not noted);
- transparency is composited over white (noted when some pixel is not opaque).
Pillow's decompression-bomb guard stays on.

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
import pi_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from lci_studio.codec import icc

pi_heif.register_heif_opener()  # .heic/.heif open like any Pillow format, here and wherever Pillow reads

# A 90 MP PNG took 156 s and 4.4 GB to encode at one quality on the 2-core machine; 100 MP is
# past every common camera (phones' 48-50 MP, most medium-format backs) and stays under Pillow's
# own bomb limit (179 MP), so every refusal above it is ours and says the size.
MAX_IMAGE_PIXELS = 100_000_000
LARGE_IMAGE_PIXELS = 16_000_000  # over this (about 4900×3300), a quality takes tens of seconds

IMAGE_SUFFIXES = {
    ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".avif", ".tga",
    ".heic", ".heif",
}


class ImageReadError(Exception):
    """An input could not be read as an image; the message says why in one sentence."""


@dataclass(frozen=True)
class RgbImage:
    pixels: np.ndarray  # H×W×3 uint8
    source_bytes: int | None = None  # size of the file it came from, for "ratio to the input file"
    name: str = "image"
    # how the file's pixels became these (the conversion rule's steps that changed something), in
    # plain words for a caption: "Display P3 → sRGB; 16-bit → 8-bit"; "" when nothing needed saying
    note: str = ""

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
            pixels, note = to_rgb(image)
    except FileNotFoundError:
        raise ImageReadError(f"{label}: no such file") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"{label}: refused, too many pixels ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ImageReadError(f"{label}: not a readable image ({exc})") from None
    if pixels.shape[0] < 1 or pixels.shape[1] < 1:
        raise ImageReadError(f"{name}: the image is empty")
    return RgbImage(pixels, size, name, note)


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


def to_rgb(image: Image.Image) -> tuple[np.ndarray, str]:
    """Apply the conversion rule of this module to an open Pillow image: 8-bit sRGB pixels and the
    note that says which steps changed them ("" when none did)."""
    notes: list[str] = []
    kind = _SEVERAL.get(image.format or "")
    frames = getattr(image, "n_frames", 1) if kind else 1
    if frames > 1:
        notes.append(f"first of {frames} {kind}")
    depth = _stored_depth(image)  # from the decoder's raw mode, known only before loading
    image.load()
    profile = image.info.get("icc_profile") or _nclx_profile(image.info.get("nclx_profile"), notes)
    colour, alpha = _split_alpha(ImageOps.exif_transpose(image))
    rgb = _to_srgb(_to_eight_bits(colour, depth, notes), profile, notes)
    if alpha is not None and alpha.getextrema() != (255, 255):  # some pixel is not opaque
        rgb.putalpha(alpha)
        rgb = Image.alpha_composite(Image.new("RGBA", rgb.size, (255, 255, 255, 255)), rgb).convert("RGB")
        notes.append("transparency on white")
    return np.asarray(rgb, dtype=np.uint8).copy(), "; ".join(notes)


# Formats whose further frames or pages are pictures of their own, the note names them; the second
# image of a phone's JPEG (MPO: a depth or gain map) or of a HEIC (a burst, beside the primary) is not.
_SEVERAL = {"GIF": "frames", "PNG": "frames", "WEBP": "frames", "AVIF": "frames", "TIFF": "pages"}


def _stored_depth(image: Image.Image) -> int:
    """Bits per channel in the file where Pillow decodes to 8: 16-bit colour PNG/TIFF (raw modes
    such as "RGB;16B"), 10/12-bit HEIF (pi-heif's `bit_depth`); 8 otherwise."""
    for tile in getattr(image, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        rawmode = args[0] if isinstance(args, tuple) and args else args
        if isinstance(rawmode, str) and ";16" in rawmode:
            return 16
    depth = image.info.get("bit_depth")
    return depth if isinstance(depth, int) and depth > 8 else 8


def _split_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """The colour bands (RGB, L, CMYK, high-depth grey, …) and the alpha band, if there is one."""
    if image.mode in ("RGBa", "La", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        return image.convert("L" if image.mode == "LA" else "RGB"), image.getchannel("A")
    if image.mode in ("P", "1"):
        return image.convert("RGB" if image.mode == "P" else "L"), None
    return image, None


def _to_eight_bits(image: Image.Image, depth: int, notes: list[str]) -> Image.Image:
    """16/32-bit integer and float grey scaled to 8-bit "L"; a deeper file Pillow decoded to 8 bits noted."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        wide = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") or wide.max() > 255 else 255.0
        if top > 255:
            notes.append("16-bit → 8-bit")
        return Image.fromarray(np.clip(np.round(wide / top * 255.0), 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        scale = 255.0 if values.max() <= 1 else 1.0  # float images hold 0…1 or 0…255
        notes.append("floating point → 8-bit")
        return Image.fromarray(np.clip(np.round(values * scale), 0, 255).astype(np.uint8), "L")
    if depth > 8:
        notes.append(f"{depth}-bit → 8-bit")
    return image


# HEIF's nclx code points (ISO/IEC 23091-2) that `_nclx_profile` reads: the curves it knows (2 is
# "unspecified", taken as sRGB's), and names for the primaries (1, BT.709, is sRGB's).
_NCLX_CURVES = {2: icc.SRGB_CURVE, 13: icc.SRGB_CURVE, 1: icc.BT709_CURVE, 6: icc.BT709_CURVE, 14: icc.BT709_CURVE}
_NCLX_PRIMARIES = {9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}


def _nclx_profile(nclx: object, notes: list[str]) -> bytes | None:
    """An ICC profile for a HEIF's nclx colour description (pi-heif's `nclx_profile`), or None
    where it is sRGB's (BT.709 primaries, sRGB curve) or absent."""
    if not isinstance(nclx, dict):
        return None
    primaries, transfer = nclx.get("color_primaries", 2), nclx.get("transfer_characteristics", 2)
    if primaries in (1, 2) and transfer in (2, 13):
        return None
    if transfer not in _NCLX_CURVES:  # PQ, HLG: HDR, which this rule does not tone-map
        notes.append(f"HDR colour (nclx transfer {transfer}) shown as sRGB")
        return None
    try:
        red, green, blue, white = (
            (float(nclx[f"color_primary_{c}_x"]), float(nclx[f"color_primary_{c}_y"]))
            for c in ("red", "green", "blue", "white")
        )
    except (KeyError, TypeError, ValueError):
        return None
    name = _NCLX_PRIMARIES.get(primaries, f"nclx primaries {primaries}")
    return icc.matrix_profile(name, red, green, blue, white, curve=_NCLX_CURVES[transfer])


# The ICC colour space that each Pillow mode's pixels are in; a profile for another is ignored.
_PROFILE_SPACES = {"RGB": "RGB", "L": "GRAY", "CMYK": "CMYK"}


def _to_srgb(image: Image.Image, profile: bytes | None, notes: list[str]) -> Image.Image:
    """8-bit RGB in sRGB: through the embedded profile with ImageCms where there is one, else Pillow's conversion."""
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            name = " ".join(ImageCms.getProfileDescription(source).split())[:40] or "embedded colour profile"
            space = source.profile.xcolor_space.strip()
        except (ImageCms.PyCMSError, OSError, TypeError, ValueError):
            notes.append("unreadable colour profile ignored")
        else:
            if "sRGB" in name:
                pass  # already sRGB: converting would only add rounding
            elif _PROFILE_SPACES.get(image.mode) != space:
                notes.append(f"{space} colour profile ignored on {image.mode} pixels")
            else:
                converted = ImageCms.profileToProfile(
                    image,
                    source,
                    ImageCms.createProfile("sRGB"),
                    renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
                    outputMode="RGB",
                    flags=ImageCms.Flags.BLACKPOINTCOMPENSATION,
                )
                assert converted is not None  # not in place
                notes.append(f"{name} → sRGB")
                return converted
    if image.mode == "CMYK":
        notes.append("CMYK → RGB without a colour profile (approximate)")
    return image.convert("RGB")


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
