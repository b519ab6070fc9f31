"""`telling_detail`: the window where the low quality loses most against the high one."""

from __future__ import annotations

import numpy as np
import pytest

from lci_studio.codec.telling_detail import telling_detail
from tests.conftest import make_photo


def _with_damage(pixels: np.ndarray, top: int, left: int, size: int, amount: int) -> np.ndarray:
    damaged = pixels.astype(np.int16)
    damaged[top : top + size, left : left + size] += amount
    return np.clip(damaged, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("height, width", [(120, 180), (1200, 1800)])
def test_the_detail_covers_where_the_low_quality_breaks_down(height, width):
    original = make_photo(height, width, seed=3)
    rng = np.random.default_rng(0)
    noise = rng.integers(-2, 3, original.shape)
    high = np.clip(original.astype(int) + noise, 0, 255).astype(np.uint8)  # small error everywhere
    top, left, size = height // 2, width // 5, max(8, width // 20)
    low = _with_damage(high, top, left, size, 60)  # and a lot in one place
    low = _with_damage(low, height // 8, width - 3 * size, size, -20)  # less elsewhere
    detail = telling_detail(original, low, high)
    assert detail.width == round(width / 6) and detail.height == max(24, round(detail.width * height / width))
    assert detail.x <= left and left + size <= detail.x + detail.width + 1
    assert detail.y <= top and top + size <= detail.y + detail.height + 1
    assert 0 <= detail.x <= width - detail.width and 0 <= detail.y <= height - detail.height
    assert detail.gain > 0


def test_identical_qualities_give_a_window_inside_the_picture_and_shapes_must_match():
    picture = make_photo(40, 50, seed=1)
    detail = telling_detail(picture, picture, picture)
    assert detail.gain == 0 and detail.width == 24 and detail.x + detail.width <= 50
    with pytest.raises(ValueError):
        telling_detail(picture, picture[:-1], picture)


@pytest.mark.parametrize("height, width", [(60, 4200), (4200, 60)])
def test_a_panoramas_detail_is_a_region_not_a_hairline_strip(height, width):
    """The detail of a 70:1 picture has the area a sixth of its width would give it, at 2:1 at most: a tile
    zoomed onto it shows a region, where the picture's own shape gave a 700×24 strip (Z showed a hairline)."""
    original = make_photo(height, width, seed=5)
    high = original.copy()
    size = 20
    top, left = (height - size) // 2 if height < width else 3000, 3000 if height < width else (width - size) // 2
    low = _with_damage(high, top, left, size, 60)
    detail = telling_detail(original, low, high)
    long_side, short_side = max(detail.width, detail.height), min(detail.width, detail.height)
    assert long_side == pytest.approx(2 * short_side, abs=1)
    assert detail.width * detail.height == pytest.approx(height * width / 36, rel=0.05)
    assert detail.x <= left and left + size <= detail.x + detail.width
    assert detail.y <= top and top + size <= detail.y + detail.height
    assert 0 <= detail.x <= width - detail.width and 0 <= detail.y <= height - detail.height
