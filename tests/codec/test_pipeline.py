"""Image files of every mode → RGB → `.lci` → RGB of the exact original size; padding, tiling, atomic writes."""

from __future__ import annotations

import functools
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, features

from lci_studio.codec import image_io, pipeline
from lci_studio.codec.image_io import ImageReadError, atomic_write, load_rgb, save_png
from lci_studio.codec.lci_format import centred_padding, unpack_lci
from lci_studio.codec.metrics import psnr_rgb
from lci_studio.codec.model import LoadedModel, ModelInfo, weights_fingerprint
from tests.conftest import make_model, make_photo


@pytest.fixture(scope="module")
def loaded() -> LoadedModel:
    model = make_model(16, 24, seed=0)
    with torch.no_grad():
        model.g_a[6].weight.mul_(40)  # latents of a few units, so the payload carries real information
    return LoadedModel(model, ModelInfo("bundled", 3, "mse", 0.0067, 16, 24, weights_fingerprint(model)))


def round_trip(loaded: LoadedModel, pixels: np.ndarray, tile: int | None = None) -> np.ndarray:
    encoded = pipeline.encode_image(loaded, pixels, tile=tile)
    decoded = pipeline.decode_lci(encoded.lci, loaded, tile=tile)
    assert decoded.shape == pixels.shape
    assert decoded.dtype == np.uint8
    return decoded


# ----------------------------------------------------------------------------------------------- image modes


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


def rgb_photo(height: int = 24, width: int = 20) -> np.ndarray:
    return make_photo(height, width, seed=2)


def test_rgb_png(tmp_path, loaded):
    pixels = rgb_photo()
    image = load_rgb(save(Image.fromarray(pixels), tmp_path / "rgb.png"))
    np.testing.assert_array_equal(image.pixels, pixels)
    assert image.source_bytes == (tmp_path / "rgb.png").stat().st_size
    assert image.name == "rgb.png"
    round_trip(loaded, image.pixels)


def test_grayscale_l_is_replicated(tmp_path, loaded):
    gray = rgb_photo()[:, :, 0]
    image = load_rgb(save(Image.fromarray(gray, "L"), tmp_path / "gray.png"))
    np.testing.assert_array_equal(image.pixels, np.repeat(gray[:, :, None], 3, axis=2))
    round_trip(loaded, image.pixels)


def test_grayscale_with_alpha_la_is_composited_over_white(tmp_path, loaded):
    gray = np.full((8, 10), 40, dtype=np.uint8)
    alpha = np.full((8, 10), 255, dtype=np.uint8)
    alpha[0, 0], alpha[1, 1] = 0, 128
    image = load_rgb(save(Image.fromarray(np.dstack([gray, alpha]), "LA"), tmp_path / "la.png"))
    assert image.pixels[0, 0].tolist() == [255, 255, 255]
    assert image.pixels[2, 2].tolist() == [40, 40, 40]
    assert 145 <= image.pixels[1, 1, 0] <= 150  # 40·128/255 + 255·127/255 ≈ 147
    round_trip(loaded, image.pixels)


def test_palette_without_transparency(tmp_path, loaded):
    palette_image = Image.fromarray(rgb_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    path = save(palette_image, tmp_path / "palette.png")
    with Image.open(path) as reopened:
        assert reopened.mode == "P" and "transparency" not in reopened.info
        expected = np.asarray(reopened.convert("RGB"))
    image = load_rgb(path)
    np.testing.assert_array_equal(image.pixels, expected)
    assert len(np.unique(image.pixels.reshape(-1, 3), axis=0)) <= 16
    round_trip(loaded, image.pixels)


def test_palette_with_transparency_is_composited_over_white(tmp_path, loaded):
    indexes = np.zeros((6, 9), dtype=np.uint8)
    indexes[:, 3:] = 1
    indexes[:, 6:] = 2
    palette_image = Image.fromarray(indexes, "P")
    palette_image.putpalette([10, 20, 30, 200, 0, 0, 0, 0, 200] + [0] * (253 * 3))
    path = save(palette_image, tmp_path / "palette-t.png", transparency=1)  # index 1 fully transparent
    image = load_rgb(path)
    assert image.pixels[0, 0].tolist() == [10, 20, 30]
    assert image.pixels[0, 4].tolist() == [255, 255, 255]
    assert image.pixels[0, 7].tolist() == [0, 0, 200]
    round_trip(loaded, image.pixels)


def test_rgba_is_composited_over_white(tmp_path, loaded):
    rgba = np.dstack([rgb_photo(), np.full((24, 20), 255, dtype=np.uint8)])
    rgba[0, 0] = [0, 0, 0, 0]  # fully transparent black
    rgba[5, 5] = [0, 0, 0, 128]  # half-transparent black
    image = load_rgb(save(Image.fromarray(rgba, "RGBA"), tmp_path / "rgba.png"))
    assert image.pixels[0, 0].tolist() == [255, 255, 255]
    assert all(125 <= v <= 129 for v in image.pixels[5, 5])
    np.testing.assert_array_equal(image.pixels[10:, 10:], rgba[10:, 10:, :3])  # opaque pixels unchanged
    round_trip(loaded, image.pixels)


def test_cmyk_uses_pillows_conversion(tmp_path, loaded):
    cmyk = np.zeros((4, 6, 4), dtype=np.uint8)
    cmyk[0, 0] = [0, 0, 0, 0]  # paper white
    cmyk[0, 1] = [0, 0, 0, 255]  # black ink
    cmyk[0, 2] = [255, 0, 0, 0]  # cyan
    cmyk[0, 3] = [0, 255, 255, 0]  # magenta + yellow = red
    image = load_rgb(save(Image.fromarray(cmyk, "CMYK"), tmp_path / "cmyk.tif"))
    assert image.pixels[0, :4].tolist() == [[255, 255, 255], [0, 0, 0], [0, 255, 255], [255, 0, 0]]
    round_trip(loaded, image.pixels)


def test_sixteen_bit_grayscale_is_scaled_to_eight_bits(tmp_path, loaded):
    wide = np.zeros((4, 5), dtype=np.uint16)
    wide[0, :5] = [0, 257, 32768, 65535, 128]
    path = save(Image.fromarray(wide), tmp_path / "gray16.png")
    with Image.open(path) as reopened:
        assert reopened.mode.startswith("I")  # really 16-bit on disk
    image = load_rgb(path)
    # v / 65535 · 255, rounded: 257 → 1, 32768 → 128, and a dark 128 is still dark (not read as 8-bit)
    assert image.pixels[0, :, 0].tolist() == [0, 1, 128, 255, 0]
    assert np.all(image.pixels[..., 0] == image.pixels[..., 2])
    round_trip(loaded, image.pixels)


def test_one_bit_image(tmp_path, loaded):
    bits = (np.indices((9, 11)).sum(axis=0) % 2).astype(bool)
    image = load_rgb(save(Image.fromarray(bits), tmp_path / "bits.png"))
    np.testing.assert_array_equal(image.pixels[..., 1], np.where(bits, 255, 0))
    round_trip(loaded, image.pixels)


def test_exif_orientation_is_applied(tmp_path, loaded):
    stored = np.zeros((24, 40, 3), dtype=np.uint8)  # 40 wide, 24 high as stored
    stored[:, :20] = [230, 20, 20]  # left half red
    stored[:, 20:] = [20, 20, 230]  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = save(Image.fromarray(stored), tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = load_rgb(path)
    assert image.pixels.shape == (40, 24, 3)  # width and height swapped
    top, bottom = image.pixels[2, 12].astype(int), image.pixels[-3, 12].astype(int)
    assert top[0] > 180 and top[2] < 80, "the stored left edge is now on top"
    assert bottom[2] > 180 and bottom[0] < 80
    round_trip(loaded, image.pixels)


def test_other_containers_and_raw_bytes(tmp_path):
    pixels = rgb_photo()
    for suffix in ("bmp", "tif", "webp"):
        if suffix == "webp" and not features.check("webp"):
            continue
        options = {"lossless": True} if suffix == "webp" else {}
        path = save(Image.fromarray(pixels), tmp_path / f"photo.{suffix}", **options)
        np.testing.assert_array_equal(load_rgb(path).pixels, pixels)
    data = (tmp_path / "photo.bmp").read_bytes()
    from_bytes = load_rgb(data)
    np.testing.assert_array_equal(from_bytes.pixels, pixels)
    assert from_bytes.source_bytes == len(data)


# ----------------------------------------------------------------------------------------------- unreadable inputs


def assert_one_line(error: ImageReadError, *parts: str) -> None:
    message = str(error)
    assert "\n" not in message
    for part in parts:
        assert part in message, f"{part!r} missing from: {message}"


def test_corrupt_file_is_an_image_read_error(tmp_path):
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageReadError) as caught:
        load_rgb(path)
    assert_one_line(caught.value, "corrupt.png", "not a readable image")


def test_truncated_png_is_an_image_read_error(tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(make_photo(64, 64)).save(buffer, format="PNG")
    data = buffer.getvalue()
    # cuts that lose pixel data (Pillow rightly accepts a file missing only its IEND chunk and checksums)
    for cut in (len(data) // 2, len(data) - 100, 40, 8):
        path = tmp_path / f"cut{cut}.png"
        path.write_bytes(data[:cut])
        with pytest.raises(ImageReadError) as caught:
            load_rgb(path)
        assert_one_line(caught.value, path.name)
    with pytest.raises(ImageReadError):
        load_rgb(data[: len(data) // 2])


def test_missing_file_and_empty_bytes(tmp_path):
    with pytest.raises(ImageReadError) as caught:
        load_rgb(tmp_path / "nowhere.png")
    assert_one_line(caught.value, "no such file")
    with pytest.raises(ImageReadError):
        load_rgb(b"")


def test_decompression_bomb_guard_is_kept(tmp_path, monkeypatch):
    path = save(Image.fromarray(make_photo(40, 40)), tmp_path / "bomb.png")  # 1600 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # Pillow refuses above twice this
    with pytest.raises(ImageReadError) as caught:
        load_rgb(path)
    assert_one_line(caught.value, "bomb.png", "too many pixels")
    with pytest.raises(ImageReadError):
        load_rgb(path.read_bytes())


def test_a_picture_over_the_size_limit_is_refused_from_its_header(tmp_path, monkeypatch):
    """Finding 6: a 90 MP PNG was encoded for 156 s at 4.4 GB after Pillow's warning; over the limit it is refused."""
    path = save(Image.fromarray(make_photo(40, 60)), tmp_path / "huge.png")  # 2400 pixels
    monkeypatch.setattr(image_io, "MAX_IMAGE_PIXELS", 2000)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or None)
    for source in (path, path.read_bytes()):
        with pytest.raises(ImageReadError) as caught:
            load_rgb(source)
        assert_one_line(caught.value, "too many pixels", "60×40 pixels (0.0 MP)", "the 0 MP this program encodes")
    assert decoded == [], "refused before any pixel is decoded"


def test_pillows_bomb_warning_gives_way_to_the_size_rule(tmp_path, monkeypatch):
    path = save(Image.fromarray(make_photo(40, 40)), tmp_path / "big.png")  # 1600 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns over this, refuses over twice it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_rgb(path).pixels.shape == (40, 40, 3)


def test_large_pictures_are_told_apart():
    assert image_io.describe_size(6000, 4200) == "6000×4200 pixels (25.2 MP)"
    assert image_io.is_large(6000, 4200) and not image_io.is_large(4000, 3000)
    assert image_io.LARGE_IMAGE_PIXELS < image_io.MAX_IMAGE_PIXELS <= Image.MAX_IMAGE_PIXELS * 2


@functools.cache
def small_files() -> dict[str, bytes]:
    pixels = make_photo(16, 24, seed=3)
    files = {}
    for name, fmt, options in [
        ("png", "PNG", {}),
        ("jpeg", "JPEG", {}),
        ("gif", "GIF", {}),
        ("bmp", "BMP", {}),
        ("tiff", "TIFF", {"compression": "tiff_lzw"}),
        ("webp", "WEBP", {}),
    ]:
        if fmt == "WEBP" and not features.check("webp"):
            continue
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt, **options)
        files[name] = buffer.getvalue()
    return files


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(["png", "jpeg", "gif", "bmp", "tiff", "webp"]),
    cut=st.none() | st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=5),
)
def test_damaged_image_files_raise_only_image_read_error(name, cut, flips):
    """Truncated or bit-flipped files of every common container: an RGB image or ImageReadError, nothing else."""
    files = small_files()
    assume(name in files)
    data = bytearray(files[name])
    for where, value in flips:
        data[int(where * len(data))] = value
    if cut is not None:
        data = data[: int(cut * len(data))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about some damaged files before refusing them
        try:
            image = load_rgb(bytes(data))
        except ImageReadError as error:
            assert str(error) and "\n" not in str(error)
            return
    assert image.pixels.dtype == np.uint8 and image.pixels.ndim == 3 and image.pixels.shape[2] == 3


# ----------------------------------------------------------------------------------------------- sizes and padding


def test_centred_padding_to_a_multiple_of_16():
    # CompressAI's rule (left = (out_w − in_w) // 2, top likewise, the rest right/bottom), to 16
    assert centred_padding(17, 33) == (7, 8, 7, 8)
    assert centred_padding(1, 1) == (7, 8, 7, 8)
    assert centred_padding(65, 130) == (7, 7, 7, 8)
    assert centred_padding(512, 768) == (0, 0, 0, 0)
    assert centred_padding(4000, 6000) == (0, 0, 0, 0)
    assert centred_padding(17, 33, multiple=64) == (15, 16, 23, 24)  # version-1 files


@pytest.mark.parametrize(("height", "width"), [(1, 1), (17, 33), (65, 130), (64, 64), (2, 129)])
def test_odd_sizes_round_trip_to_the_exact_size(loaded, height, width):
    pixels = make_photo(height, width, seed=height + width)
    encoded = pipeline.encode_image(loaded, pixels)
    header = unpack_lci(encoded.lci)[0]
    left, right, top, bottom = centred_padding(height, width)
    assert (header.width, header.height, header.pad_left, header.pad_top) == (width, height, left, top)
    assert header.padded_size == (height + top + bottom, width + left + right)
    assert encoded.symbols.shape == (24, header.latent_height, header.latent_width)
    assert 0 <= header.latent_height * 16 - height < 16 and 0 <= header.latent_width * 16 - width < 16
    decoded = pipeline.decode_lci(encoded.lci, loaded)
    assert decoded.shape == (height, width, 3)


@torch.no_grad()
def test_the_image_sits_centred_in_a_frame_of_its_own_edge_pixels(loaded):
    """Encoder symbols equal g_a of the centred image with its edges repeated; decoder output is the centre crop."""
    pixels = make_photo(17, 33, seed=9)
    encoded = pipeline.encode_image(loaded, pixels)
    model = loaded.model
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    framed = torch.nn.functional.pad(x, (7, 8, 7, 8), mode="replicate")  # (left, right, top, bottom)
    assert torch.equal(framed[..., 0, 7:40], x[..., 0, :]) and torch.equal(framed[..., 31, 0], x[..., 16, 0])
    symbols = model.entropy_bottleneck.quantize_symbols(model.g_a(framed))[0].numpy()
    np.testing.assert_array_equal(encoded.symbols, symbols)
    full = model.g_s(model.entropy_bottleneck.dequantize(torch.from_numpy(symbols)[None]))
    full = (full[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(pipeline.decode_lci(encoded.lci, loaded), full[7 : 7 + 17, 7 : 7 + 33])


# ----------------------------------------------------------------------------------------------- tiling


class CallCounter:
    def __init__(self, module: torch.nn.Module) -> None:
        self.calls = 0
        self.handle = module.register_forward_hook(self.hook)

    def hook(self, *_):
        self.calls += 1


@pytest.mark.parametrize("tile", [64, 80])
def test_tiled_transforms_match_the_whole_image(loaded, tile):
    pixels = make_photo(200, 300, seed=4)  # padded to 256×320, latent 16×20
    whole = pipeline.encode_image(loaded, pixels)
    analysis_calls = CallCounter(loaded.model.g_a)
    tiled = pipeline.encode_image(loaded, pixels, tile=tile)
    analysis_calls.handle.remove()
    assert analysis_calls.calls > 1, "the image must really have been split into tiles"

    differing = int(np.sum(whole.symbols != tiled.symbols))
    print(
        f"tile {tile}: {analysis_calls.calls} analysis tiles, {differing} of {whole.symbols.size} symbols differ, "
        f"files {len(whole.lci)} vs {len(tiled.lci)} bytes, identical: {whole.lci == tiled.lci}"
    )
    assert differing <= whole.symbols.size // 1000  # only a rounding tie can flip a symbol
    assert abs(len(whole.lci) - len(tiled.lci)) <= 8

    synthesis_calls = CallCounter(loaded.model.g_s)
    from_whole = pipeline.decode_lci(whole.lci, loaded)
    from_tiles = pipeline.decode_lci(whole.lci, loaded, tile=tile)
    synthesis_calls.handle.remove()
    assert synthesis_calls.calls > 2
    both_tiled = pipeline.decode_lci(tiled.lci, loaded, tile=tile)
    psnr = psnr_rgb(from_whole, from_tiles)
    psnr_end_to_end = psnr_rgb(from_whole, both_tiled)
    print(
        f"tile {tile}: PSNR whole vs tiled decode {psnr:.2f} dB, whole vs tiled encode+decode "
        f"{psnr_end_to_end:.2f} dB, max pixel difference {np.abs(from_whole.astype(int) - from_tiles).max()}"
    )
    assert psnr > 60
    assert psnr_end_to_end > 60


def test_tile_margins_cover_the_transforms_fields(loaded):
    """The margins are what makes a tile's centre equal the whole picture's: each must hold the field of the
    transform it serves (they were twice it; cut to just over it so that 512-pixel tiles cost no more)."""
    model = loaded.model
    x = torch.rand(1, 3, 256, 256, requires_grad=True)
    model.g_a(x)[0, :, 8, 8].sum().backward()  # latent (8, 8) covers input pixels 128…143
    rows = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2)))
    assert 128 - int(rows.min()) <= pipeline.TILE_MARGIN and int(rows.max()) - 143 <= pipeline.TILE_MARGIN
    y = torch.randn(1, loaded.info.M, 16, 16, requires_grad=True)
    model.g_s(y)[0, :, 128:144, 128:144].sum().backward()  # the output pixels of latent pixel (8, 8)
    rows = torch.nonzero(y.grad[0].abs().sum(dim=(0, 2)))
    assert 8 - int(rows.min()) <= pipeline.LATENT_MARGIN and int(rows.max()) - 8 <= pipeline.LATENT_MARGIN


# ----------------------------------------------------------------------------------------------- atomic writes


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_atomic_write_writes_and_replaces(tmp_path):
    target = tmp_path / "out.lci"
    atomic_write(target, b"first")
    atomic_write(target, b"second version")
    assert target.read_bytes() == b"second version"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("stage", ["write", "fsync", "replace"])
def test_atomic_write_failure_leaves_no_temp_and_no_partial_target(tmp_path, monkeypatch, stage):
    existing, fresh = tmp_path / "existing.png", tmp_path / "fresh.png"
    existing.write_bytes(b"old content")

    def fail(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    if stage == "fsync":
        monkeypatch.setattr(image_io.os, "fsync", fail)
    elif stage == "replace":
        monkeypatch.setattr(image_io.os, "replace", fail)
    payload = "not bytes" if stage == "write" else b"new content" * 1000
    for target in (existing, fresh):
        with pytest.raises((OSError, TypeError)):
            atomic_write(target, payload)
    assert existing.read_bytes() == b"old content"
    assert not fresh.exists()
    assert leftovers(tmp_path) == []


def test_atomic_write_interrupted_by_keyboard_interrupt(tmp_path, monkeypatch):
    def interrupt(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(image_io.os, "replace", interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "x.lci", b"data")
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_into_a_missing_folder_creates_nothing(tmp_path):
    with pytest.raises(OSError):
        atomic_write(tmp_path / "missing" / "out.png", b"data")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root ignores folder permissions")
def test_atomic_write_into_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OSError):
            atomic_write(folder / "out.png", b"data")
        assert list(folder.iterdir()) == []
    finally:
        folder.chmod(0o700)


def test_save_png_round_trip(tmp_path):
    pixels = make_photo(13, 7)
    save_png(tmp_path / "out.png", pixels)
    np.testing.assert_array_equal(load_rgb(tmp_path / "out.png").pixels, pixels)
    assert leftovers(tmp_path) == []


def test_atomic_write_gives_a_normal_files_permissions(tmp_path):
    target = tmp_path / "out.bin"
    previous = os.umask(0o022)
    try:
        atomic_write(target, b"data")
    finally:
        os.umask(previous)
    assert target.read_bytes() == b"data"
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("outlier", [False, True])
def test_bit_map_from_a_table_of_values_equals_the_one_element_by_element(monkeypatch, outlier):
    """latent_bits looks each symbol up in its channel's table when the range is small (the usual case)
    and evaluates each element when far outliers widen it: the same numbers either way."""
    model = make_model(seed=4)
    symbols = torch.randint(-6, 7, (1, model.M, 12, 10), generator=torch.Generator().manual_seed(1), dtype=torch.int32)
    if outlier:
        symbols[0, 3, 2, 2] = 900  # a range far wider than the latent: no table
    looked_up = pipeline.latent_bits(model, symbols)
    monkeypatch.setattr(pipeline, "BIT_TABLE_SPAN", 10**9)  # element by element
    evaluated = pipeline.latent_bits(model, symbols, chunk=5)
    assert looked_up.shape == (model.M, 12, 10) and np.array_equal(looked_up, evaluated)
    assert np.all(np.isfinite(looked_up)) and looked_up.min() >= 0
