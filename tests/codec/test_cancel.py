"""Cancellation reaches inside a quality (finding 1 of issue 15): encode, decode, the bit map and MS-SSIM poll the
caller's check between tiles, transform layers, entropy-coded channels and bands, and stop with CancelledError."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from lci_studio.codec import ladder, pipeline
from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.layers import GDN
from lci_studio.codec.metrics import ms_ssim_rgb
from tests.codec.test_ladder import SmallLadder
from tests.codec.test_lci_format import loaded_model
from tests.conftest import make_photo

TILE = 64  # a 96×160 picture in 64-pixel tiles: 2×3 tiles


class Countdown:
    """A cancel check that says stop at its `stop_at`-th call (never when None), counting every call."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.stop_at, self.calls = stop_at, 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.stop_at is not None and self.calls >= self.stop_at


@pytest.fixture(scope="module")
def loaded():
    return loaded_model()


@pytest.fixture(scope="module")
def pixels():
    return make_photo(96, 160, seed=2)


def test_encode_polls_before_every_layer_of_every_tile_and_every_channel(loaded, pixels):
    check, tiles = Countdown(), []
    encoded = pipeline.encode_image(loaded, pixels, tile=TILE, cancel=check, progress=lambda d, t: tiles.append((d, t)))
    assert tiles == [(done, 6) for done in range(7)]
    layers, channels = len(loaded.model.g_a), loaded.info.M
    bit_map_chunks = -(-channels // 16)
    assert check.calls == 1 + 6 * layers + channels + bit_map_chunks  # 1: the pixels' conversion, one band here
    assert np.array_equal(pipeline.encode_image(loaded, pixels, tile=TILE).lci, encoded.lci)


def test_decode_polls_before_every_channel_and_every_layer_of_every_tile(loaded, pixels):
    data = pipeline.encode_image(loaded, pixels).lci
    check, tiles = Countdown(), []
    out = pipeline.decode_lci(data, loaded, tile=TILE, cancel=check, progress=lambda d, t: tiles.append((d, t)))
    assert tiles == [(done, 6) for done in range(7)]
    assert check.calls == loaded.info.M + 6 * len(loaded.model.g_s) + 1  # 1: the conversion back to pixels
    np.testing.assert_array_equal(out, pipeline.decode_lci(data, loaded, tile=TILE))


def stop_points(layers: int, channels: int, tail: int) -> list[int]:
    """Polls worth stopping at: the first, around a tile boundary, the last layer, the channels, the very last."""
    last_layer = 6 * layers
    return sorted({1, 2, layers, layers + 1, last_layer, last_layer + 1, last_layer + channels // 2, last_layer + tail})


def test_a_poll_anywhere_in_an_encode_stops_it(loaded, pixels):
    layers, channels = len(loaded.model.g_a), loaded.info.M
    for stop_at in stop_points(layers, channels, channels + 3):
        check = Countdown(stop_at)
        with pytest.raises(CancelledError):
            pipeline.encode_image(loaded, pixels, tile=TILE, cancel=check)
        assert check.calls == stop_at, "the work stops at the first poll that says so"


def test_a_poll_anywhere_in_a_decode_stops_it(loaded, pixels):
    data = pipeline.encode_image(loaded, pixels).lci
    layers, channels = len(loaded.model.g_s), loaded.info.M
    last_layer = channels + 6 * layers
    points = {1, channels // 2, channels, channels + 1, channels + layers + 1, last_layer, last_layer + 1}
    for stop_at in sorted(points):
        check = Countdown(stop_at)
        with pytest.raises(CancelledError):
            pipeline.decode_lci(data, loaded, tile=TILE, cancel=check)
        assert check.calls == stop_at


def test_ms_ssim_polls_per_band():
    a, b = make_photo(300, 170, seed=1), make_photo(300, 170, seed=2)
    check = Countdown()
    value = ms_ssim_rgb(a, b, check)
    assert value == ms_ssim_rgb(a, b) and check.calls == 3 * 6  # 2 bands of rows at full size, 1 at each other scale
    with pytest.raises(CancelledError):
        ms_ssim_rgb(a, b, Countdown(4))


def test_a_ladder_stops_inside_a_quality():
    """Finding 1: the ladder checked only between qualities, so Stop waited for a whole quality (89.6 s at 25 MP)."""
    image = RgbImage(make_photo(48, 80, seed=5), 1000, "photo.png")
    source = SmallLadder((1, 2))
    calls = itertools.count(1)
    stream = ladder.encode_ladder(image, source, should_cancel=lambda: next(calls) > 3)  # 2 checks, then 1 inside
    with pytest.raises(ladder.CancelledError):
        next(stream)
    assert source.loaded == [1]
    assert next(calls) == 5, "stopped at the first check inside the quality"


def test_the_long_stretches_of_a_big_picture_are_cut_by_polls(loaded, pixels, monkeypatch):
    """Measured on a 25 MP photo: the pixel conversions before and after the transforms, a GDN layer and a chunk
    of the bit map each ran 0.7-2 s without a poll under load. Each now runs in pieces (made small here) with a
    poll between them; the pieces give exactly the bytes and pixels of the whole, and its bits to float rounding
    (the density's batched matrix products round differently for fewer channels)."""
    encoded = pipeline.encode_image(loaded, pixels)
    symbols = torch.from_numpy(encoded.symbols)[None]
    bits = pipeline.latent_bits(loaded.model, symbols)
    whole = Countdown()
    decoded = pipeline.decode_lci(encoded.lci, loaded, cancel=whole)
    height, width = encoded.header.padded_size
    n, m = loaded.info.N, loaded.info.M
    monkeypatch.setattr(pipeline, "BAND_PIXELS", 160 * 10)  # 10 rows of the 96×160 picture per band
    monkeypatch.setattr(pipeline, "BIT_MAP_ELEMENTS", symbols[0, 0].numel() * 2)  # 2 channels per chunk
    monkeypatch.setattr(GDN, "_BAND_ELEMENTS", n * width // 2 * 10)  # the first GDN in bands of 10 rows
    gdn_bands = sum(-(-(height >> k) // (10 << (k - 1))) for k in (1, 2, 3))  # rows halve and bands double
    check = Countdown()
    assert pipeline.encode_image(loaded, pixels, cancel=check).lci == encoded.lci
    layers = len(loaded.model.g_a)
    assert check.calls == 10 + (layers - 3) + gdn_bands + m + -(-m // 2)
    split = Countdown()
    np.testing.assert_array_equal(pipeline.decode_lci(encoded.lci, loaded, cancel=split), decoded)
    assert split.calls == whole.calls + 9 + gdn_bands - 3  # 10 bands of pixels instead of 1; IGDN as GDN
    np.testing.assert_allclose(pipeline.latent_bits(loaded.model, symbols), bits, rtol=1e-5)
    for stop_at in (1, 5, 10, 11, 13):  # in the pixels' bands, before the first layer, in a GDN's bands
        with pytest.raises(CancelledError):
            pipeline.encode_image(loaded, pixels, cancel=Countdown(stop_at))


@pytest.mark.parametrize("shape, padding", [((7, 5), (0, 0, 0, 0)), ((7, 5), (3, 0, 2, 5)), ((9, 4), (1, 2, 0, 1))])
def test_padded_input_is_the_replicate_padding_in_any_bands(shape, padding, monkeypatch):
    pixels = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    left, right, top, bottom = padding
    expected = torch.nn.functional.pad(pipeline.to_tensor(pixels), (left, right, top, bottom), mode="replicate")
    for band in (1, shape[1] * 2, 10**6):
        monkeypatch.setattr(pipeline, "BAND_PIXELS", band)
        assert torch.equal(pipeline.padded_input(pixels, padding), expected)
