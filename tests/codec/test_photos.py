"""The photos people have: HEIC, colour profiles, 16-bit, CMYK JPEG, animations, each converted to
8-bit sRGB by image_io's rule and the conversion named in `RgbImage.note`.

Every file is made here. Colour conversions are checked against published RGB→XYZ matrices
(independent of ImageCms and of `icc`), to within the rounding of LittleCMS's 8-bit path.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image, ImageCms, features

from lci_studio.codec import icc
from lci_studio.codec.image_io import IMAGE_SUFFIXES, load_rgb
from tests.conftest import make_photo

D65 = (0.3127, 0.3290)
P3 = ("Display P3", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), D65)
ADOBE_RGB = ("Adobe RGB (1998)", (0.64, 0.33), (0.21, 0.71), (0.15, 0.06), D65)
SRGB_PRIMARIES = ("BT.709 made here", (0.64, 0.33), (0.30, 0.60), (0.15, 0.06), D65)
ADOBE_GAMMA = (563 / 256, 1.0, 0.0, 0.0, 0.0)  # Adobe RGB's curve: a pure power 2.19921875

# Linear RGB → XYZ (D65) as published (Bruce Lindbloom's tables; SMPTE EG 432-1 for P3), and
# XYZ → linear sRGB: the reference the conversions are held to.
TO_XYZ = {
    "Display P3": [
        [0.4865709, 0.2656677, 0.1982173],
        [0.2289746, 0.6917385, 0.0792869],
        [0.0000000, 0.0451134, 1.0439444],
    ],
    "Adobe RGB (1998)": [
        [0.5767309, 0.1855540, 0.1881852],
        [0.2973769, 0.6273491, 0.0752741],
        [0.0270343, 0.0706872, 0.9911085],
    ],
}
XYZ_TO_SRGB = [
    [3.2404542, -1.5371385, -0.4985314],
    [-0.9692660, 1.8760108, 0.0415560],
    [0.0556434, -0.2040259, 1.0572252],
]


def srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0.0, 1.0)  # relative colorimetric: outside sRGB is clipped to its edge
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def expected_srgb(pixels: np.ndarray, space: str) -> np.ndarray:
    """8-bit pixels in `space` as 8-bit sRGB, by the published matrices."""
    values = pixels.astype(np.float64) / 255
    linear = values ** ADOBE_GAMMA[0] if space.startswith("Adobe") else srgb_decode(values)
    srgb_linear = linear @ (np.array(XYZ_TO_SRGB) @ np.array(TO_XYZ[space])).T
    return np.round(srgb_encode(srgb_linear) * 255)


# Saturated primaries (outside sRGB for these spaces), mid colours inside it, greys, black.
SWATCHES = np.array(
    [[[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 80, 60], [60, 160, 90], [128, 128, 128], [255, 255, 255], [0] * 3]],
    dtype=np.uint8,
)


def png_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def sixteen_bit_png(pixels: np.ndarray) -> bytes:
    """A 16-bit RGB PNG (Pillow writes colour PNGs at 8 bits only): the chunks by the PNG spec."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(height))  # filter 0 per row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)  # 16 bits, truecolour
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------------------------ colour profiles


@pytest.mark.parametrize(("space", "curve"), [(P3, icc.SRGB_CURVE), (ADOBE_RGB, ADOBE_GAMMA)])
def test_embedded_profile_is_converted_to_srgb(space, curve):
    profile = icc.matrix_profile(*space, curve=curve)
    image = load_rgb(png_bytes(Image.fromarray(SWATCHES), icc_profile=profile))
    assert image.note == f"{space[0]} → sRGB"
    reference = expected_srgb(SWATCHES, space[0])
    assert np.abs(image.pixels.astype(int) - reference).max() <= 2, (image.pixels.tolist(), reference.tolist())
    # the saturated primaries are past sRGB's: clipped to its edge, so pure red stays (255, 0, 0)
    assert image.pixels[0, 0].tolist() == [255, 0, 0]
    # a colour inside sRGB moves: ignoring the profile would leave it as stored
    assert np.abs(image.pixels[0, 3].astype(int) - SWATCHES[0, 3]).max() >= 10
    assert image.pixels[0, 6:].tolist() == [[255, 255, 255], [0, 0, 0]]  # white and black stay


def test_jpeg_with_a_profile_is_converted_like_a_png():
    profile = icc.matrix_profile(*P3)
    patch = np.repeat(np.repeat(SWATCHES, 16, axis=0), 16, axis=1)  # flat 16×16 patches: JPEG keeps their colour
    buffer = io.BytesIO()
    Image.fromarray(patch).save(buffer, format="JPEG", quality=98, icc_profile=profile)
    image = load_rgb(buffer.getvalue())
    assert image.note == "Display P3 → sRGB"
    centres = image.pixels[8, 8::16].astype(int)
    assert np.abs(centres[3:6] - expected_srgb(SWATCHES, "Display P3")[0, 3:6]).max() <= 4


def test_srgb_profiles_leave_the_pixels_alone():
    pixels = make_photo(12, 10, seed=3)
    builtin = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # "sRGB built-in"
    image = load_rgb(png_bytes(Image.fromarray(pixels), icc_profile=builtin))
    assert image.note == ""
    np.testing.assert_array_equal(image.pixels, pixels)


def test_made_profile_with_srgb_primaries_converts_to_the_same_pixels():
    """`icc.matrix_profile` against LittleCMS's own sRGB: the same primaries and curve give identity."""
    pixels = make_photo(12, 10, seed=4)
    image = load_rgb(png_bytes(Image.fromarray(pixels), icc_profile=icc.matrix_profile(*SRGB_PRIMARIES)))
    assert image.note == "BT.709 made here → sRGB"  # converted: its name does not say sRGB
    assert np.abs(image.pixels.astype(int) - pixels).max() <= 1


def test_unreadable_profile_is_ignored_and_said():
    pixels = make_photo(6, 8, seed=5)
    image = load_rgb(png_bytes(Image.fromarray(pixels), icc_profile=b"not an ICC profile at all"))
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.note == "unreadable colour profile ignored"


# ------------------------------------------------------------------------------------------ depth, CMYK, alpha


def test_sixteen_bit_rgb_png_keeps_the_high_byte():
    wide = np.array([[[0, 257, 65535], [32768, 255, 65280], [4660, 43981, 256]]], dtype=np.uint16)
    image = load_rgb(sixteen_bit_png(wide))
    assert image.pixels.tolist() == (wide >> 8).tolist()  # within one level of v / 65535 · 255
    assert np.abs(image.pixels - np.round(wide / 257)).max() <= 1
    assert image.note == "16-bit → 8-bit"


def test_sixteen_bit_grey_tiff_is_scaled(tmp_path: Path):
    wide = np.array([[0, 257, 32768, 65535, 1000]], dtype=np.uint16)
    path = tmp_path / "grey16.tif"
    Image.fromarray(wide).save(path)
    image = load_rgb(path)
    assert image.pixels[..., 0].tolist() == np.round(wide / 65535 * 255).astype(int).tolist()
    assert image.note == "16-bit → 8-bit"


def test_cmyk_jpeg_without_profile_uses_pillows_formula_and_says_so():
    cmyk = np.zeros((16, 64, 4), dtype=np.uint8)
    cmyk[:, 16:32] = [0, 0, 0, 255]  # black ink
    cmyk[:, 32:48] = [255, 0, 0, 0]  # cyan
    cmyk[:, 48:] = [0, 255, 255, 0]  # magenta + yellow: red
    buffer = io.BytesIO()
    Image.fromarray(cmyk, "CMYK").save(buffer, format="JPEG", quality=98)
    with Image.open(io.BytesIO(buffer.getvalue())) as reopened:
        assert reopened.mode == "CMYK"
    image = load_rgb(buffer.getvalue())
    centres = image.pixels[8, 8::16].astype(int)
    assert np.abs(centres - [[255, 255, 255], [0, 0, 0], [0, 255, 255], [255, 0, 0]]).max() <= 4
    assert image.note == "CMYK → RGB without a colour profile (approximate)"


def test_transparency_is_named_only_when_some_pixel_is_transparent():
    rgba = np.dstack([make_photo(8, 8, seed=6), np.full((8, 8), 255, dtype=np.uint8)])
    assert load_rgb(png_bytes(Image.fromarray(rgba, "RGBA"))).note == ""
    rgba[0, 0, 3] = 0
    image = load_rgb(png_bytes(Image.fromarray(rgba, "RGBA")))
    assert image.pixels[0, 0].tolist() == [255, 255, 255]
    assert image.note == "transparency on white"


def test_profile_and_transparency_both_apply():
    rgba = np.dstack([np.repeat(SWATCHES, 2, axis=0), np.full((2, 8), 255, dtype=np.uint8)])
    rgba[1, :, 3] = 0
    image = load_rgb(png_bytes(Image.fromarray(rgba, "RGBA"), icc_profile=icc.matrix_profile(*P3)))
    assert image.note == "Display P3 → sRGB; transparency on white"
    assert np.abs(image.pixels[0].astype(int) - expected_srgb(SWATCHES, "Display P3")[0]).max() <= 2
    assert (image.pixels[1] == 255).all()


# ------------------------------------------------------------------------------------------ frames, HEIC


FRAMES = [(200, 30, 30), (30, 200, 30), (30, 30, 200)]


@pytest.mark.parametrize("format", ["GIF", "WEBP"])
def test_animation_gives_its_first_frame(format):
    if format == "WEBP" and not features.check("webp"):
        pytest.skip("Pillow without WebP")
    frames = [Image.new("RGB", (12, 10), colour) for colour in FRAMES]
    buffer = io.BytesIO()
    options = {"lossless": True} if format == "WEBP" else {}
    frames[0].save(buffer, format=format, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    image = load_rgb(buffer.getvalue())
    assert np.abs(image.pixels.astype(int) - FRAMES[0]).max() <= 2
    assert image.note == "first of 3 frames"


def test_multi_page_tiff_gives_its_first_page_and_a_phone_jpeg_its_primary_image():
    pages = [Image.new("RGB", (12, 10), colour) for colour in FRAMES]
    tiff, mpo = io.BytesIO(), io.BytesIO()
    pages[0].save(tiff, format="TIFF", save_all=True, append_images=pages[1:])
    image = load_rgb(tiff.getvalue())
    assert image.pixels[0, 0].tolist() == list(FRAMES[0]) and image.note == "first of 3 pages"
    # a JPEG with a second picture (MPO: a phone's depth or gain map) is a photo, not an animation
    pages[0].save(mpo, format="MPO", save_all=True, append_images=pages[1:2], quality=98)
    with Image.open(io.BytesIO(mpo.getvalue())) as reopened:
        assert reopened.format == "MPO" and reopened.n_frames == 2
    image = load_rgb(mpo.getvalue())
    assert np.abs(image.pixels.astype(int) - FRAMES[0]).max() <= 3 and image.note == ""


def heic_bytes(pixels: np.ndarray, **options) -> bytes:
    """HEIC written by pillow-heif (x265); the app reads it with pi-heif, which has no encoder."""
    buffer = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(pixels)).save(buffer, quality=95, **options)
    return buffer.getvalue()


def test_heic_opens(tmp_path: Path):
    pixels = make_photo(48, 64, seed=7)
    path = tmp_path / "phone.HEIC"
    path.write_bytes(heic_bytes(pixels))
    assert path.suffix.lower() in IMAGE_SUFFIXES and ".heif" in IMAGE_SUFFIXES
    image = load_rgb(path)
    assert image.pixels.shape == pixels.shape
    assert np.abs(image.pixels.astype(int) - pixels).mean() < 4  # HEVC is lossy
    assert image.note == ""  # pillow-heif marks it sRGB (nclx BT.709 primaries, sRGB curve)
    assert type(Image.open(path)).__module__.startswith("pi_heif")  # read by the decode-only build
    assert image.source_bytes == path.stat().st_size


def test_heic_in_display_p3_by_its_nclx_description_is_converted():
    """What an Android phone writes: no ICC profile, the colour said by nclx code points (12: P3, 13: sRGB curve)."""
    patch = np.repeat(np.repeat(SWATCHES, 16, axis=0), 16, axis=1)
    data = heic_bytes(patch, color_primaries=12, transfer_characteristics=13, matrix_coefficients=6, full_range_flag=1)
    with Image.open(io.BytesIO(data)) as reopened:
        assert reopened.info.get("icc_profile") is None and reopened.info["nclx_profile"]["color_primaries"] == 12
    image = load_rgb(data)
    assert image.note == "Display P3 → sRGB"
    centres = image.pixels[8, 8::16].astype(int)
    assert np.abs(centres[3:6] - expected_srgb(SWATCHES, "Display P3")[0, 3:6]).max() <= 4


def test_ten_bit_heic_is_noted():
    """A 10-bit HEIC (what HDR-capable phones may write): libheif gives 8 bits, and the note says so."""
    wide = np.full((16, 16, 3), [200 * 257, 80 * 257, 60 * 257], dtype=np.uint16)
    buffer = io.BytesIO()
    pillow_heif.from_bytes(mode="RGB;16", size=(16, 16), data=wide.tobytes()).save(buffer, quality=95)
    with Image.open(io.BytesIO(buffer.getvalue())) as reopened:
        assert reopened.info["bit_depth"] == 10
    image = load_rgb(buffer.getvalue())
    assert np.abs(image.pixels.astype(int) - [200, 80, 60]).max() <= 3
    assert image.note == "10-bit → 8-bit"
