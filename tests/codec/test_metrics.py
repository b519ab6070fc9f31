"""PSNR-YUV 6:1:1, added to the metrics table (`metrics.METRICS`) as a row and this function, nothing else."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lci_studio.codec.baselines import baseline_point
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality, reconstruct_quality
from lci_studio.codec.metrics import METRICS, psnr_yuv
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.report import comparison_json, csv_columns
from tests.conftest import make_model, make_photo

KR, KB = 0.2126, 0.0722  # BT.709


def ycbcr(pixels: np.ndarray) -> np.ndarray:
    """Full-range BT.709 Y'CbCr from the formulas (Y = Kr·R + Kg·G + Kb·B, Cb = 128 + (B − Y)/(2 − 2Kb)…)."""
    r, g, b = (pixels[..., i].astype(np.float64) for i in range(3))
    y = KR * r + (1 - KR - KB) * g + KB * b
    return np.stack([y, 128 + (b - y) / (2 - 2 * KB), 128 + (r - y) / (2 - 2 * KR)], axis=-1)


def test_psnr_yuv_weighs_the_planes_psnrs_six_to_one_to_one():
    original = make_photo(300, 70, seed=2)  # more rows than one band
    noisy = np.clip(original + np.random.default_rng(1).integers(-6, 7, original.shape), 0, 255).astype(np.uint8)
    a, b = ycbcr(original), ycbcr(noisy)
    plane = [10 * math.log10(255**2 / np.mean((a[..., i] - b[..., i]) ** 2)) for i in range(3)]
    assert psnr_yuv(original, noisy) == pytest.approx((6 * plane[0] + plane[1] + plane[2]) / 8, abs=1e-9)


def test_psnr_yuv_of_an_error_in_blue_alone():
    """+1 on every blue value moves Y by Kb, Cb by ½ and Cr by −Kb/(2 − 2Kr): the PSNRs by hand."""
    original = np.full((8, 8, 3), 100, np.uint8)
    bluer = original.copy()
    bluer[..., 2] += 1
    expected = [20 * math.log10(255 / error) for error in (KB, 0.5, KB / (2 - 2 * KR))]
    assert psnr_yuv(original, bluer) == pytest.approx((6 * expected[0] + expected[1] + expected[2]) / 8)
    assert psnr_yuv(original, original) == math.inf
    with pytest.raises(ValueError):
        psnr_yuv(original, original[:4])


def test_psnr_yuv_is_measured_on_demand_and_reaches_the_json_and_bd_rate():
    photo = make_photo(64, 80, seed=4)
    image = RgbImage(photo, 9000, "p.png")
    model = make_model(seed=2)
    info = ModelInfo("bundled", 2, "mse", LAMBDAS["mse"][1], model.N, model.M, weights_fingerprint(model))
    loaded = LoadedModel(model, info)
    assert METRICS["psnr-yuv"].on_demand and "psnr-yuv" not in reconstruct_quality(loaded, image).metrics
    result = measure_quality(loaded, image)
    assert result.metric("psnr-yuv") == psnr_yuv(photo, result.reconstruction)
    points = [baseline_point(photo, "JPEG", setting) for setting in (10, 30, 50, 70, 90)]
    doc = comparison_json([result], points, image, "t")
    assert doc["results"]["psnr-yuv"] == [result.metric("psnr-yuv")]
    shown, by_setting = doc["baselines"]["JPEG"], {p.setting: p.metric("psnr-yuv") for p in points}
    assert shown["results"]["psnr-yuv"] == [by_setting[setting] for setting in shown["settings"]]
    assert "psnr-yuv" in doc["bd_rate"]["JPEG"] and "psnr_yuv_db" in csv_columns()
