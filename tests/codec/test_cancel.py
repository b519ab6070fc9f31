"""Cancellation reaches inside a quality (finding 1 of issue 15): encode, decode, the bit map and MS-SSIM poll the
caller's check between tiles, transform layers, entropy-coded channels and bands, and stop with CancelledError."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from lci_studio.codec import ladder, pipeline
from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.image_io import RgbImage
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
    assert check.calls == 6 * layers + channels + bit_map_chunks
    assert np.array_equal(pipeline.encode_image(loaded, pixels, tile=TILE).lci, encoded.lci)


def test_decode_polls_before_every_channel_and_every_layer_of_every_tile(loaded, pixels):
    data = pipeline.encode_image(loaded, pixels).lci
    check, tiles = Countdown(), []
    out = pipeline.decode_lci(data, loaded, tile=TILE, cancel=check, progress=lambda d, t: tiles.append((d, t)))
    assert tiles == [(done, 6) for done in range(7)]
    assert check.calls == loaded.info.M + 6 * len(loaded.model.g_s)
    np.testing.assert_array_equal(out, pipeline.decode_lci(data, loaded, tile=TILE))


def stop_points(layers: int, channels: int, tail: int) -> list[int]:
    """Polls worth stopping at: the first, around a tile boundary, the last layer, the channels, the very last."""
    last_layer = 6 * layers
    return sorted({1, 2, layers, layers + 1, last_layer, last_layer + 1, last_layer + channels // 2, last_layer + tail})


def test_a_poll_anywhere_in_an_encode_stops_it(loaded, pixels):
    layers, channels = len(loaded.model.g_a), loaded.info.M
    for stop_at in stop_points(layers, channels, channels + 2):
        check = Countdown(stop_at)
        with pytest.raises(CancelledError):
            pipeline.encode_image(loaded, pixels, tile=TILE, cancel=check)
        assert check.calls == stop_at, "the work stops at the first poll that says so"


def test_a_poll_anywhere_in_a_decode_stops_it(loaded, pixels):
    data = pipeline.encode_image(loaded, pixels).lci
    layers, channels = len(loaded.model.g_s), loaded.info.M
    for stop_at in sorted({1, channels // 2, channels, channels + 1, channels + layers + 1, channels + 6 * layers}):
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
