"""bit_maps: the latent-bit matrices and maps, on real measured results (tests/codec/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest

from lci_studio.codec.bit_maps import (
    busiest_area_share,
    channel_bits_per_element,
    channel_heatmap,
    channel_map,
    channel_ranking,
    channels_for_half,
    picture_extent,
    spatial_bits,
)
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from tests.codec.conftest import loaded, silence
from tests.conftest import make_photo

# --------------------------------------------------------------------------------------------- heatmap


def test_heatmap_shape_pads_narrower_models_with_nan(results):
    heat = channel_heatmap(results)
    assert heat.qualities == (1, 2, 3)
    assert heat.matrix.shape == (32, 3)
    assert heat.order.shape == (32, 3)
    assert np.isnan(heat.matrix[24:, :2]).all() and (heat.order[24:, :2] == -1).all()
    assert np.isfinite(heat.matrix[:, 2]).all() and (heat.order[:, 2] >= 0).all()


def test_heatmap_columns_are_sorted_bits_per_element(results):
    heat = channel_heatmap(results)
    for j, result in enumerate(results):
        m = result.bits_per_channel.shape[0]
        column = heat.matrix[:m, j]
        assert np.all(np.diff(column) <= 0), "busiest channel first"
        per_element = result.bits_per_channel / (result.bit_map.shape[1] * result.bit_map.shape[2])
        np.testing.assert_allclose(column, np.sort(per_element)[::-1])
        np.testing.assert_allclose(column, per_element[heat.order[:m, j]])
        assert sorted(heat.order[:m, j].tolist()) == list(range(m))


def test_heatmap_with_all_qualities_leaves_missing_columns_empty(results):
    heat = channel_heatmap(reversed(results), qualities=range(1, 9))
    assert heat.qualities == tuple(range(1, 9))
    assert heat.column(3) == 2 and heat.column(9) is None
    assert np.isnan(heat.matrix[:, 3:]).all()
    assert np.isfinite(heat.matrix[:24, :3]).all()


def test_heatmap_of_nothing_is_empty():
    heat = channel_heatmap([])
    assert heat.matrix.shape == (0, 0) and heat.qualities == ()


def test_ranking_and_per_element_bits(results):
    result = results[0]
    ranking = channel_ranking(result)
    assert np.all(np.diff(result.bits_per_channel[ranking]) <= 0)
    elements = result.bit_map.shape[1] * result.bit_map.shape[2]
    np.testing.assert_allclose(channel_bits_per_element(result) * elements, result.bits_per_channel)


# --------------------------------------------------------------------------------------------- maps


def test_spatial_map_sums_to_all_the_bits(results):
    for result in results:
        spatial = spatial_bits(result)
        assert spatial.shape == result.bit_map.shape[1:] == (6, 8)  # 96 × 128 pixels: no padding
        assert spatial.sum() == pytest.approx(result.bits_per_channel.sum(), rel=1e-6)
        pixels = 96 * 128
        assert spatial.sum() / pixels == pytest.approx(result.bpp_estimated, rel=1e-6)


def test_picture_extent_inside_the_padded_grid(results):
    assert picture_extent(results[0]) == (0.0, 0.0, 8.0, 6.0)  # 96 × 128 fills its grid
    # 90 × 117 pixels → padded (centred) to 96 × 128: 3 rows above, 5 columns left
    odd = measure_quality(loaded(1, M=24), RgbImage(make_photo(90, 117), 20000))
    assert picture_extent(odd) == (5 / 16, 3 / 16, 117 / 16, 90 / 16)


def test_channel_map_is_that_channel(results):
    result = results[2]
    for channel in (0, 31):
        single = channel_map(result, channel)
        np.testing.assert_array_equal(single, result.bit_map[channel])
        assert single.sum() == pytest.approx(result.bits_per_channel[channel], rel=1e-6)
    with pytest.raises(IndexError):
        channel_map(result, 32)


def test_half_of_the_bits_and_busiest_area(results):
    quiet = silence(results[0], list(range(20)))
    assert channels_for_half(quiet) <= 4
    assert 1 <= channels_for_half(results[0]) <= 24
    share = busiest_area_share(results[0])
    assert 0.25 <= share <= 1.0
