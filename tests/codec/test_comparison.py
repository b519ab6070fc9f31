"""The ladder against classical codecs: the one baseline sweep, BD per codec, and the one JSON writer."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from lci_studio.codec import baselines
from lci_studio.codec.baselines import (
    BENCH_SETTINGS,
    CLASSICAL_CODECS,
    HIGH_EXTRA,
    LOW_EXTRA,
    SETTINGS,
    BaselinePoint,
    available_codecs,
    sweep,
    sweeps,
)
from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.comparison import (
    MAX_ANALYSIS_WORKERS,
    BenchSummary,
    Curve,
    analysis_workers,
    compare_results,
    measure_around,
)
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.report import bench_json, comparison_json, finite, json_text, number_text
from tests.conftest import make_model, make_photo

PHOTO = make_photo(48, 64, seed=5)


@pytest.fixture(scope="module")
def results():
    out = []
    for q in (3, 1, 2):
        model = make_model(seed=q)
        info = ModelInfo("bundled", q, "mse", LAMBDAS["mse"][q - 1], model.N, model.M, weights_fingerprint(model))
        out.append(measure_quality(LoadedModel(model, info), RgbImage(PHOTO, 5000, "p.png")))
    return out


def test_sweep_keeps_its_settings_when_they_reach_the_range():
    plain = sweep(PHOTO, "JPEG")
    assert [p.setting for p in plain] == list(SETTINGS)
    within = sweep(PHOTO, "JPEG", min(p.bpp for p in plain), max(p.bpp for p in plain))
    assert within == plain
    assert [p.setting for p in sweep(PHOTO, "JPEG", settings=BENCH_SETTINGS)] == list(BENCH_SETTINGS)


def test_sweep_extends_both_ends_for_a_ladder_beyond_them():
    points = sweep(PHOTO, "JPEG", 0.001, 50.0)
    assert [p.setting for p in points] == [*LOW_EXTRA, *SETTINGS, *HIGH_EXTRA]
    assert all(p.codec == "JPEG" and p.file_bytes > 0 for p in points)


def test_sweep_stops_when_cancelled():
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(CancelledError):
        sweep(PHOTO, "JPEG", cancel=cancel)
    assert len(calls) == 4


@pytest.mark.parametrize(
    ("low", "high", "extras"),
    [(None, None, ((), ())), (0.001, 50.0, (LOW_EXTRA, HIGH_EXTRA))],
    ids=["settings-only", "extras-at-both-ends"],
)
def test_sweeps_on_a_pool_measure_what_one_point_after_another_does(low, high, extras):
    """`lci compare` measures the sweeps several points at a time, `lci bench` and `sweep` one after another:
    one rule, so every codec Pillow has gives the same points, bytes and values, in the same order."""
    codecs = available_codecs()
    with ThreadPoolExecutor(3) as pool:
        parallel = sweeps(PHOTO, codecs, low, high, submit=pool.submit)
    assert list(parallel) == list(codecs)
    for codec in codecs:
        serial = sweep(PHOTO, codec, low, high)
        highest = CLASSICAL_CODECS[codec].highest  # JPEG XL's 100 would be lossless: its sweep stops at 99
        assert [p.setting for p in serial] == [*extras[0], *SETTINGS, *(s for s in extras[1] if s <= highest)]
        assert parallel[codec] == serial
        assert [p.data for p in parallel[codec]] == [p.data for p in serial]  # `data` is left out of ==


def test_a_plan_fed_a_point_at_a_time_out_of_order_gives_the_sweep():
    """The window's analysis job drives a SweepPlan itself (points one at a time, extras once the ladder
    is done): in whatever order the points come, the plan lists what `sweep` measures, in its order."""
    codec, low, high = "JPEG", 0.001, 50.0
    plan = baselines.SweepPlan([codec])
    handed = []
    while (setting := plan.next_setting(codec)) is not None:
        handed.append(setting)
    assert handed == list(SETTINGS) and not plan.settled(codec)
    for setting in reversed(handed):  # arrivals out of order
        plan.add(baselines.baseline_point(PHOTO, codec, setting))
    assert plan.settled(codec) and plan.undecided(codec) and not plan.complete(codec)
    plan.decide(codec, low, high)
    extras = []
    while (setting := plan.next_setting(codec)) is not None:
        extras.append(setting)
    assert extras == [*LOW_EXTRA, *HIGH_EXTRA]
    for setting in extras:
        plan.add(baselines.baseline_point(PHOTO, codec, setting, on_demand=()))
    assert plan.complete(codec)
    serial = sweep(PHOTO, codec, low, high)
    assert [p.setting for p in plan.points(codec)] == [p.setting for p in serial]
    assert [p.file_bytes for p in plan.points(codec)] == [p.file_bytes for p in serial]
    # a point measured again (its MS-SSIM added later) takes its own place, not a new one
    first = plan.points(codec)[0]
    plan.add(baselines.with_metrics(PHOTO, first))
    assert "ms-ssim" in plan.points(codec)[0].metrics and len(plan.points(codec)) == len(serial)


def test_a_plan_given_the_points_of_a_stopped_sweep_hands_out_only_the_rest():
    """The window resuming after Stop adds what was measured: those settings are not handed out again."""
    codec = "JPEG"
    plan = baselines.SweepPlan([codec])
    for setting in SETTINGS[:3]:
        plan.add(baselines.baseline_point(PHOTO, codec, setting, on_demand=()))
    handed = []
    while (setting := plan.next_setting(codec)) is not None:
        handed.append(setting)
    assert handed == list(SETTINGS[3:])


def test_a_setting_that_is_also_an_extra_is_measured_once():
    """BENCH_SETTINGS hold 2 and 98, which are also range extras: a sweep with a range measures each once."""
    points = sweep(PHOTO, "JPEG", 0.001, 50.0, settings=BENCH_SETTINGS)
    settings = [p.setting for p in points]
    assert len(settings) == len(set(settings))
    assert settings == sorted(settings) and set(settings) == set(BENCH_SETTINGS) | set(LOW_EXTRA) | set(HIGH_EXTRA)


def test_measure_around_uses_the_ladders_bpp_range(results, monkeypatch):
    """Every setting 'measures' 1 bpp here, so the extras say which end of the ladder lies beyond it."""
    monkeypatch.setattr(baselines, "baseline_point", lambda px, codec, s: BaselinePoint(codec, s, 1.0, {"psnr": 30}, 9))
    low, high = min(r.bpp for r in results), max(r.bpp for r in results)
    expected = [*(LOW_EXTRA if low < 1 else ()), *SETTINGS, *(HIGH_EXTRA if high > 1 else ())]
    sweeps = measure_around(PHOTO, results, ["JPEG"])[1]
    assert list(sweeps) == ["JPEG"] and [p.setting for p in sweeps["JPEG"]] == expected


def test_measure_around_measures_what_one_point_after_another_does(results):
    """Several threads at once (as `lci compare` measures): the same MS-SSIM, the same sweeps in the same order."""
    unmeasured = [dataclasses.replace(r, metrics={"psnr": r.psnr}) for r in results]
    threads = torch.get_num_threads()
    measured, sweeps = measure_around(PHOTO, unmeasured, ["WebP", "JPEG"], workers=3)
    assert [r.quality for r in measured] == [r.quality for r in results]
    assert [r.metrics for r in measured] == [r.metrics for r in results]
    low, high = min(r.bpp for r in results), max(r.bpp for r in results)
    assert list(sweeps) == ["WebP", "JPEG"]
    for codec, points in sweeps.items():
        assert points == sweep(PHOTO, codec, low, high)
    assert torch.get_num_threads() == threads  # the workers' one torch thread stays theirs


def test_measure_around_stops_when_cancelled(results):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(CancelledError):
        measure_around(PHOTO, results, ["JPEG", "WebP"], cancel, workers=2)
    assert not [t for t in threading.enumerate() if t.name.startswith("lci-measure")]  # nothing left running


def test_one_count_of_usable_cores_sizes_every_thread_pool(monkeypatch):
    """The CPUs this process may use (its affinity, not the machine's count) size the analysis and AVIF's threads."""
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("this OS reports no CPU affinity")
    monkeypatch.setattr(os, "cpu_count", lambda: 64)  # the machine's count is not what this process may use
    for cpus, workers in ((1, 1), (2, 2), (MAX_ANALYSIS_WORKERS + 4, MAX_ANALYSIS_WORKERS)):
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid, cpus=cpus: set(range(cpus)))
        assert baselines.usable_cpus() == cpus
        assert analysis_workers(PHOTO) == workers
    huge = np.broadcast_to(PHOTO[:1, :1], (5000, 4000, 3))  # over LARGE_IMAGE_PIXELS, without the memory
    assert analysis_workers(huge) == 1


def test_non_finite_numbers_have_one_spelling_each_way():
    assert finite(math.inf) is None and finite(math.nan) is None and finite(3) == 3.0
    assert number_text(math.inf, ".2f") == "inf" and number_text(-math.inf) == "-inf"
    assert number_text(math.nan) == "nan" and number_text(31.234, ".2f") == "31.23"
    assert float(number_text(math.inf)) == math.inf  # tables and CSV read back with float()
    assert METRICS["psnr"].text(math.inf) == "PSNR inf dB"  # captions, hover texts and explanations spell it so
    with pytest.raises(ValueError):
        json_text({"x": math.inf})


def test_comparison_json_lists_bracketing_points_and_bd(results):
    points = [p for ps in measure_around(PHOTO, results, ["JPEG", "WebP"])[1].values() for p in ps]
    image = RgbImage(PHOTO, 5000, "p.png")
    doc = comparison_json(reversed(results), points, image, "bundled (mse)")
    assert doc["name"] == "bmshj2018-factorized" and doc["description"] == "LCI Studio, bundled (mse), on p.png"
    assert doc["qualities"] == [1, 2, 3] and [d["quality"] for d in doc["details"]] == [1, 2, 3]
    assert doc["image"] == {"name": "p.png", "width": 64, "height": 48, "bytes": 5000}
    assert list(doc["baselines"]) == ["JPEG", "WebP"]
    low, high = min(doc["results"]["bpp"]), max(doc["results"]["bpp"])
    for codec, curve in doc["baselines"].items():
        rates = curve["results"]["bpp"]
        assert rates == sorted(rates) and len(curve["settings"]) == len(rates)
        inside = [r for r in rates if low <= r <= high]
        assert len(rates) - len(inside) <= 2  # at most one point beyond each end of the ladder
        assert set(doc["bd_rate"][codec]) == {m.json_key for m in METRICS.values()} and codec in doc["bd_psnr"]
    assert json.loads(json_text(doc)) == doc


def test_an_identical_reconstruction_is_null_in_json_and_never_a_token(results):
    perfect = dataclasses.replace(results[0], metrics={**results[0].metrics, "psnr": math.inf})
    jpeg = baselines.baseline_point(PHOTO, "JPEG", 90)
    jpeg = dataclasses.replace(jpeg, metrics={**jpeg.metrics, "psnr": math.inf})
    text = json_text(comparison_json([perfect], [jpeg], None, "w"))
    assert "Infinity" not in text and "NaN" not in text
    doc = json.loads(text)
    assert doc["results"]["psnr-rgb"] == [None] and doc["baselines"]["JPEG"]["results"]["psnr-rgb"] == [None]
    assert "image" not in doc


def test_a_reference_that_cannot_be_interpolated_gives_no_gaps():
    ladder = Curve([1, 2], [0.2, 0.4], {"psnr": [28.0, 30.0], "ms-ssim": [0.9, 0.95]})
    one_point = Curve([50], [0.3], {"psnr": [29.0], "ms-ssim": [0.92]})
    comparison = compare_results(ladder, {"JPEG": one_point})["JPEG"]
    assert comparison.gaps == [None, None] and comparison.bd["psnr-rgb"] is None
    doc = bench_json(BenchSummary(ladder, {"JPEG": one_point}, ["a.png"]), "n", "d")
    assert doc["psnr_gap_at_same_bpp"] == {"JPEG": [None, None]} and doc["baselines"]["JPEG"]["settings"] == [50]
