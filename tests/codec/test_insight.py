"""insight: the latent-bit matrices and plain-language explanations, on real measured results."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.insight import (
    HOW_IT_WORKS,
    INTRO,
    busiest_area_share,
    channel_bits_per_element,
    channel_heatmap,
    channel_map,
    channel_ranking,
    channels_for_half,
    explain,
    format_bpp,
    format_kb,
    format_ratio,
    format_times,
    model_label,
    picture_extent,
    spatial_bits,
)
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from tests.conftest import make_model, make_photo


def _loaded(quality: int, N: int = 16, M: int = 24, metric: str = "mse") -> LoadedModel:
    model = make_model(N, M, seed=quality)
    info = ModelInfo("bundled", quality, metric, LAMBDAS[metric][quality - 1], N, M, weights_fingerprint(model))
    return LoadedModel(model, info)


@pytest.fixture(scope="module")
def results():
    """Qualities 1 and 2 with M = 24, quality 3 with a wider latent (M = 32), as CompressAI's 6-8 are."""
    image = RgbImage(make_photo(96, 128), 20000)
    return [measure_quality(_loaded(q, M=24 if q < 3 else 32), image) for q in (1, 2, 3)]


def _silence(result, channels: list[int]):
    """The same result with some channels collapsed to (almost) no bits, as trained models have."""
    bit_map = result.bit_map.copy()
    bit_map[channels] = 1e-6
    return dataclasses.replace(
        result, bit_map=bit_map, bits_per_channel=bit_map.reshape(bit_map.shape[0], -1).sum(axis=1).astype(np.float64)
    )


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
    odd = measure_quality(_loaded(1, M=24), RgbImage(make_photo(90, 117), 20000))
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
    quiet = _silence(results[0], list(range(20)))
    assert channels_for_half(quiet) <= 4
    assert 1 <= channels_for_half(results[0]) <= 24
    share = busiest_area_share(results[0])
    assert 0.25 <= share <= 1.0


# --------------------------------------------------------------------------------------------- words


def test_explain_names_lambda_channels_and_size(results):
    result = _silence(results[1], list(range(5, 24)))  # 5 of 24 channels active
    assert result.active_channels == 5
    text = explain(result, results).text()
    assert "Quality 2 of 8" in text
    assert "λ = 0.0035" in text
    assert "5 of its 24 latent channels carry information; the other 19" in text
    assert format_kb(result.file_bytes) in text
    assert format_ratio(result.ratio_to_raw) in text
    assert "N = 16" in text and "M = 24" in text
    assert "8 × 6 squares" in text  # 128 × 96 pixels
    assert "smaller than the file you opened" in text or "larger than the file you opened" in text
    assert "higher λ" in text  # the why


def test_explain_all_active_and_comparison_with_lower_quality(results):
    explanation = explain(results[2], results)
    assert explanation.channels.startswith("All 32 of its latent channels carry information")
    assert "Compared with quality 2" in explanation.comparison
    assert format_kb(results[1].file_bytes) in explanation.comparison
    assert "wider network (N = 16, M = 32 where quality 2 has N = 16, M = 24): it has 8 more channels" in (
        explanation.comparison
    )
    assert "network" not in explain(results[1], results).comparison  # same size as quality 1
    assert explain(results[0], results).comparison == ""
    assert explain(results[0]).how_it_works()[0].startswith("Quality 1 was trained with λ = 0.0018")


def test_explain_leads_with_what_a_viewer_sees_and_keeps_the_model_under_how_it_works(results):
    """Issue 22: the explanation opened with λ, "average squared pixel error" and "N = 96 filters"."""
    explanation = explain(results[2], results)
    seen = " ".join(explanation.seen())
    assert explanation.paragraphs()[0].startswith("The file is") and "a ratio of" in seen
    assert "The difference view (D) shows where" in seen or "amplifies them" in seen  # what is lost
    for term in ("λ", "N =", "M =", "channel"):
        assert term not in seen, term
    text = explanation.text()
    assert text.index(HOW_IT_WORKS) < text.index("λ") and text.index(HOW_IT_WORKS) < text.index("N = ")


def test_explain_ms_ssim_and_unknown_lambda(results):
    ms = dataclasses.replace(results[0], info=dataclasses.replace(results[0].info, metric="ms-ssim", lmbda=8.73))
    assert "MS-SSIM" in explain(ms).training and "0.0873 bits per pixel" in explain(ms).training
    unknown = dataclasses.replace(results[0], info=dataclasses.replace(results[0].info, lmbda=None))
    assert "not recorded" in explain(unknown).training
    assert INTRO and all(isinstance(p, str) for p in INTRO)


def test_formatting():
    assert format_kb(12_345) == "12.3 kB"
    assert format_kb(123_456) == "123 kB"
    assert format_ratio(47.4) == "47:1"
    assert format_ratio(3.21) == "3.2:1"
    assert (format_times(62.4), format_times(3.21)) == ("62× smaller", "3.2× smaller")
    assert format_times(3 / 53) == "18× larger"  # a 1×1 picture's 53-byte file against its 3 raw bytes
    assert (format_kb(3), format_kb(53), format_kb(999.4)) == ("3 bytes", "53 bytes", "999 bytes")
    assert format_kb(999.6) == "1.0 kB"
    assert (format_bpp(0.36412), format_bpp(12.44), format_bpp(424.0)) == ("0.364 bpp", "12.4 bpp", "424 bpp")
    assert model_label("bundled", "mse") == "LCI (bundled)"
    assert model_label("/home/me/weights/", "ms-ssim") == "LCI (weights, ms-ssim)"
    assert math.isfinite(float(format_kb(0).split()[0]))
