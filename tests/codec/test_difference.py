"""The split view's difference image (Qt-free): amplified, clipped, its auto gain, its legend's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from lci_studio.codec import difference as difference_mod
from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.difference import GAINS, UNSATURATED, difference, legend_text
from tests.conftest import make_photo


def test_the_difference_amplifies_and_clips_with_its_numbers():
    a = np.zeros((2, 3, 3), np.uint8)
    b = a.copy()
    b[0, 0] = (1, 10, 200)
    shown = difference(a, b, gain=8)
    assert shown.image.dtype == np.uint8 and shown.image.shape == a.shape
    assert shown.image[0, 0].tolist() == [8, 80, 255]
    assert shown.image[1].max() == 0
    assert np.array_equal(difference(b, a, 8).image, shown.image)
    assert (shown.gain, shown.mean, shown.largest) == (8.0, pytest.approx(211 / 18), 200)
    assert shown.legend() == legend_text(8) and "32 or more of 255" in legend_text(8)
    with pytest.raises(ValueError):
        difference(a, b[:1])
    with pytest.raises(ValueError):
        difference(a, b, gain=0)


def test_a_fractional_gain_rounds_as_multiplying_each_pixel_would():
    a = make_photo(30, 40, seed=3)
    b = make_photo(30, 40, seed=4)
    errors = np.abs(a.astype(np.int16) - b.astype(np.int16)).astype(np.float32)
    expected = np.clip(np.rint(errors * np.float32(2.5)), 0, 255).astype(np.uint8)
    assert np.array_equal(difference(a, b, 2.5).image, expected)


def test_the_auto_gain_keeps_the_difference_below_white():
    a = make_photo(40, 60, seed=2)
    small = np.clip(a.astype(int) + 3, 0, 255).astype(np.uint8)
    large = np.clip(a.astype(int) + 100, 0, 255).astype(np.uint8)
    assert difference(a, small).gain == 64 and difference(a, large).gain == 2 and difference(a, a).gain == 64
    shown = difference(a, large)
    assert np.mean(shown.image == 255) < 0.01
    assert np.array_equal(shown.image, difference(a, large, 2).image)


@pytest.mark.parametrize("seed", range(6))
def test_the_auto_gain_is_the_99th_percentile_rule(seed):
    """Counted per value in bands, the percentile is np.quantile's (linear) over each pixel's largest channel."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (300, 70, 3), dtype=np.uint8)  # more rows than a band
    spread = int(rng.integers(1, 120))
    b = np.clip(a.astype(int) + rng.integers(-spread, spread + 1, a.shape), 0, 255).astype(np.uint8)
    largest = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2)
    top = float(np.quantile(largest, UNSATURATED))
    expected = max([g for g in GAINS if top * g <= 255], default=min(GAINS))
    assert difference(a, b).gain == expected


def test_a_cancel_between_bands_stops_it(monkeypatch):
    monkeypatch.setattr(difference_mod, "_BAND_ROWS", 8)
    a = make_photo(64, 16, seed=5)
    checks = []

    def cancel() -> bool:
        checks.append(1)
        return len(checks) > 3

    with pytest.raises(CancelledError):
        difference(a, a, cancel=cancel)
    assert len(checks) == 4  # stopped at the fourth band, not at the end
