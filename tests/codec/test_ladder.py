"""`encode_ladder`: results one by one, cancellation between qualities, honest numbers; classical baselines."""

from __future__ import annotations

import io
import itertools
import os

import numpy as np
import pytest
import pytorch_msssim
import torch
from PIL import Image

from lci_studio.codec import baselines, ladder, metrics, pipeline
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.lci_format import CRC_SIZE, HEADER_SIZE
from lci_studio.codec.metrics import ms_ssim_rgb, psnr_rgb
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from tests.codec.test_entropy_coding import invert_cumulative
from tests.conftest import make_model, make_photo


class SmallLadder:
    """A weight source of real, small random-weight models: one per quality, latents growing with quality."""

    def __init__(self, qualities=(1, 2, 3)) -> None:
        self._qualities = tuple(qualities)
        self.loaded: list[int] = []

    def qualities(self) -> tuple[int, ...]:
        return self._qualities

    def load(self, quality: int) -> LoadedModel:
        self.loaded.append(quality)
        model = make_model(12, 16, seed=0)
        bottleneck = model.entropy_bottleneck
        with torch.no_grad():
            model.g_a[6].weight.mul_(30 * quality)  # higher quality → larger latents → more bits
            # a peaked prior (unit-ish scale) with converged quantiles, as a trained model has
            sharp = torch.nn.functional.softplus(bottleneck.matrices[0]) * 8
            bottleneck.matrices[0].copy_(sharp + torch.log(-torch.expm1(-sharp)))
            targets = bottleneck.target[None, :].repeat(bottleneck.channels, 1)
            bottleneck.quantiles.copy_(invert_cumulative(bottleneck, targets)[:, None, :])
        bottleneck.build_tables()
        info = ModelInfo("bundled", quality, "mse", LAMBDAS["mse"][quality - 1], 12, 16, weights_fingerprint(model))
        return LoadedModel(model, info)


@pytest.fixture(scope="module")
def image() -> RgbImage:
    pixels = make_photo(48, 80, seed=5)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return RgbImage(pixels, source_bytes=len(buffer.getvalue()), name="photo.png")


@pytest.fixture(scope="module")
def results(image) -> list[ladder.QualityResult]:
    return list(ladder.encode_ladder(image, SmallLadder()))


# ----------------------------------------------------------------------------------------------- streaming, cancel


def test_results_come_one_by_one_in_order(image):
    source = SmallLadder((1, 2, 3))
    stream = ladder.encode_ladder(image, source)
    assert source.loaded == [], "nothing runs before the first result is asked for"
    first = next(stream)
    assert first.quality == 1 and source.loaded == [1], "the first result arrives before the next level is loaded"
    second = next(stream)
    assert second.quality == 2 and source.loaded == [1, 2]
    assert [r.quality for r in stream] == [3]
    assert source.loaded == [1, 2, 3]


def test_explicit_qualities_keep_their_order(image):
    source = SmallLadder((1, 2, 3))
    assert [r.quality for r in ladder.encode_ladder(image, source, qualities=[3, 1])] == [3, 1]
    assert source.loaded == [3, 1]


def test_an_empty_selection_runs_nothing(image):
    source = SmallLadder((1, 2, 3))
    assert list(ladder.encode_ladder(image, source, qualities=[])) == []
    assert source.loaded == []


def test_cancel_stops_between_qualities(image):
    source = SmallLadder((1, 2, 3))
    done: list[ladder.QualityResult] = []
    stream = ladder.encode_ladder(image, source, should_cancel=lambda: len(done) >= 1)
    with pytest.raises(ladder.CancelledError):
        for result in stream:
            done.append(result)
    assert [r.quality for r in done] == [1]
    assert source.loaded == [1], "no further level is loaded once cancelled"


def test_cancel_before_the_first_quality(image):
    source = SmallLadder((1, 2))
    with pytest.raises(ladder.CancelledError):
        next(ladder.encode_ladder(image, source, should_cancel=lambda: True))
    assert source.loaded == []


def test_cancel_while_loading_weights(image):
    """A cancel that arrives during a (slow) weight load stops before that level is measured."""
    source = SmallLadder((1, 2))
    calls = itertools.count()
    with pytest.raises(ladder.CancelledError):
        next(ladder.encode_ladder(image, source, should_cancel=lambda: next(calls) >= 1))
    assert source.loaded == [1]


# ----------------------------------------------------------------------------------------------- the numbers


def test_bpp_is_from_the_real_file(results, image):
    pixels = image.width * image.height
    for result in results:
        assert result.bpp > 0
        assert result.bpp == pytest.approx(len(result.lci) * 8 / pixels, rel=1e-12)
        assert result.file_bytes == len(result.lci)
        assert result.ratio_to_raw == pytest.approx(pixels * 3 / len(result.lci))
        assert result.ratio_to_input == pytest.approx(image.source_bytes / len(result.lci))
    bpps = [r.bpp for r in results]
    assert bpps == sorted(bpps) and len(set(bpps)) == len(bpps), f"larger latents cost more bits: {bpps}"


def test_each_result_carries_the_header_it_was_made_with(results, image):
    for result in results:
        assert result.header == pipeline.read_header(result.lci)
        assert (result.header.quality, result.header.width, result.header.height) == (
            result.quality,
            image.width,
            image.height,
        )


def test_estimated_bpp_is_close_to_real(results, image):
    pixels = image.width * image.height
    overhead = (HEADER_SIZE + CRC_SIZE + 4) * 8 / pixels  # container + at most one partly filled rANS word
    for result in results:
        print(
            f"q{result.quality}: {result.file_bytes} bytes, bpp real {result.bpp:.4f}, "
            f"estimated {result.bpp_estimated:.4f}, PSNR {result.psnr:.2f} dB, MS-SSIM {result.metric('ms-ssim'):.4f}"
        )
        assert result.bpp_estimated > 0
        assert abs(result.bpp - result.bpp_estimated) <= 0.10 * result.bpp_estimated + overhead


def test_metrics_are_measured_on_the_decoded_bytes(results, image):
    for result in results:
        source = SmallLadder()
        decoded = pipeline.decode_lci(result.lci, source.load(result.quality))
        np.testing.assert_array_equal(result.reconstruction, decoded)
        assert result.reconstruction.shape == image.pixels.shape
        assert result.psnr == psnr_rgb(image.pixels, result.reconstruction)
        assert result.metric("ms-ssim") == pytest.approx(ms_ssim_rgb(image.pixels, result.reconstruction), abs=1e-12)
        assert result.encode_seconds > 0 and result.decode_seconds > 0


def test_bits_per_channel_add_up_to_the_bit_map(results):
    for result in results:
        M = result.info.M
        assert result.bit_map.shape == (M, 3, 5)  # 48×80 pixels → latent 3×5
        assert result.bits_per_channel.shape == (M,)
        assert result.bits_per_channel.sum() == pytest.approx(float(result.bit_map.sum()), rel=1e-5)
        np.testing.assert_allclose(result.bits_per_channel, result.bit_map.reshape(M, -1).sum(axis=1), rtol=1e-5)
        assert 0 <= result.active_channels <= M
        assert np.all(result.bit_map >= 0)


# ----------------------------------------------------------------------------------------------- metrics


def reference_ms_ssim(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """pytorch_msssim on the whole RGB image at once (float64, data range 255), small images reflected up."""
    a, b = (torch.from_numpy(np.array(i, dtype=np.float64)).permute(2, 0, 1)[None] for i in (original, reconstruction))
    short = min(a.shape[-2:])
    if short <= 160:
        pad = (161 - short + 1) // 2 + 1
        a = torch.nn.functional.pad(a, (pad, pad, pad, pad), mode="replicate")
        b = torch.nn.functional.pad(b, (pad, pad, pad, pad), mode="replicate")
    return float(pytorch_msssim.ms_ssim(a, b, data_range=255.0))


@pytest.mark.parametrize(("height", "width"), [(1, 1), (40, 50), (161, 170), (300, 530)])
def test_banded_ms_ssim_equals_pytorch_msssim(height, width):
    """ms_ssim_rgb works in float32, a channel and a band of rows at a time: within 1e-5 of the float64 value."""
    rng = np.random.default_rng(height)
    original = make_photo(height, width, seed=1)
    noisy = np.clip(original.astype(int) + rng.integers(-25, 26, original.shape), 0, 255).astype(np.uint8)
    value = ms_ssim_rgb(original, noisy)
    assert value == pytest.approx(reference_ms_ssim(original, noisy), abs=1e-5)
    assert 0 < value < 1
    assert ms_ssim_rgb(original, original) == pytest.approx(1.0, abs=1e-6)


def test_psnr_is_exact():
    rng = np.random.default_rng(2)
    original = rng.integers(0, 256, size=(700, 33, 3), dtype=np.uint8)  # more rows than one summing band
    other = rng.integers(0, 256, size=original.shape, dtype=np.uint8)
    diff = original.astype(np.float64) - other
    expected = 10 * np.log10(255.0**2 / np.mean(diff * diff))
    assert psnr_rgb(original, other) == pytest.approx(expected, rel=1e-12)
    assert psnr_rgb(original, original) == float("inf")
    worst = np.zeros((4000, 10, 3), dtype=np.uint8)
    assert psnr_rgb(worst, worst + 255) == pytest.approx(0.0, abs=1e-12)  # no integer overflow
    with pytest.raises(ValueError):
        psnr_rgb(original, original[:-1])


# ----------------------------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("codec", ["JPEG", "WebP"])
def test_baseline_points_grow_with_the_setting_and_really_decode(codec):
    if codec not in baselines.available_codecs():
        pytest.skip(f"this Pillow has no {codec}")
    pixels = make_photo(64, 96, seed=6)
    settings = (10, 50, 90)
    curve = baselines.sweep(pixels, codec, settings=settings)
    assert [p.setting for p in curve] == list(settings)
    assert all(p.codec == codec for p in curve)
    bpps = [p.bpp for p in curve]
    assert bpps == sorted(bpps) and len(set(bpps)) == len(bpps), f"bpp should increase with the setting: {bpps}"
    assert curve[-1].psnr > curve[0].psnr
    for point in curve:
        data = baselines.encode_classical(pixels, codec, point.setting)
        assert len(data) == point.file_bytes
        assert point.bpp == pytest.approx(len(data) * 8 / (64 * 96))
        with Image.open(io.BytesIO(data)) as decoded:
            assert decoded.format == codec.upper()
            reconstruction = np.asarray(decoded.convert("RGB"))
        assert reconstruction.shape == pixels.shape
        assert point.psnr == pytest.approx(psnr_rgb(pixels, reconstruction))
        assert 0 < point.metric("ms-ssim") <= 1


def test_avif_point_when_available():
    if "AVIF" not in baselines.available_codecs():
        pytest.skip("this Pillow has no AVIF")
    pixels = make_photo(64, 64, seed=7)
    point = baselines.baseline_point(pixels, "AVIF", 50)
    assert point.bpp > 0 and point.psnr > 20


def test_avif_bytes_do_not_depend_on_how_many_cpus_the_machine_has(monkeypatch):
    """libavif with one thread writes other bytes than with several: a one-core machine would plot other points."""
    if "AVIF" not in baselines.available_codecs() or not hasattr(os, "sched_getaffinity"):
        pytest.skip("this Pillow has no AVIF, or this OS reports no CPU affinity")
    pixels = make_photo(512, 768, seed=3)
    written = {}
    for cpus in (1, 2, 8):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: set(range(cpus)))
        written[cpus] = baselines.encode_classical(pixels, "AVIF", 50)
    assert written[1] == written[2] == written[8]


def test_a_picture_first_and_its_ms_ssim_later_is_what_measure_quality_gives():
    """The window's order (reconstruction, then MS-SSIM when shown) ends where `lci compare`'s one step does."""
    image = RgbImage(make_photo(64, 96, seed=5), name="p.png")
    loaded = SmallLadder().load(2)
    first = ladder.reconstruct_quality(loaded, image)
    assert "ms-ssim" not in first.metrics and first.psnr > 0 and first.reconstruction.shape == image.pixels.shape
    later = ladder.with_metrics(first, image.pixels, ["ms-ssim"])
    assert "ms-ssim" not in first.metrics and "ms-ssim" in later.metrics  # a new result; the first one left as it was
    whole = ladder.measure_quality(loaded, image)
    assert later.metric("ms-ssim") == pytest.approx(whole.metric("ms-ssim"), abs=1e-12) and later.lci == whole.lci
    unmeasured = ladder.encode_ladder(image, SmallLadder((1, 2)), on_demand=False)
    assert [metrics.missing(r.metrics) for r in unmeasured] == [metrics.on_demand()] * 2


def test_a_point_measured_later_and_the_nearest_size():
    pixels = make_photo(64, 96, seed=6)
    point = baselines.baseline_point(pixels, "JPEG", 50, on_demand=())
    assert "ms-ssim" not in point.metrics and point.data == baselines.encode_classical(pixels, "JPEG", 50)
    measured = baselines.baseline_point(pixels, "JPEG", 50)
    assert baselines.with_metrics(pixels, point).metrics == pytest.approx(measured.metrics)
    target = baselines.baseline_point(pixels, "JPEG", 37).file_bytes + 3
    nearest = baselines.at_size(pixels, "JPEG", target)
    every = [baselines.baseline_point(pixels, "JPEG", s, on_demand=()).file_bytes for s in range(1, 101)]
    assert abs(nearest.file_bytes - target) == min(abs(b - target) for b in every)
    assert np.array_equal(baselines.decode_classical(nearest.data).shape, pixels.shape)


def test_the_sweep_adds_range_extras_where_its_settings_miss_the_ladder():
    pixels = make_photo(64, 96, seed=6)
    points = baselines.sweep(pixels, "JPEG", settings=(30, 50))
    low, high = min(p.bpp for p in points), max(p.bpp for p in points)
    assert baselines.extra_settings(points, low, high) == ((), ())
    assert baselines.extra_settings(points, low / 2, high * 2) == (baselines.LOW_EXTRA, baselines.HIGH_EXTRA)
    swept = baselines.sweep(pixels, "JPEG", low / 2, high * 2, settings=(30, 50))
    assert [p.setting for p in swept] == [*baselines.LOW_EXTRA, 30, 50, *baselines.HIGH_EXTRA]
