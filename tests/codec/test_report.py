"""RD data as CompressAI-style JSON and CSV (Qt-free)."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest

from lci_studio.codec.baselines import baseline_point
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.report import comparison_json, csv_columns, json_text, rd_csv
from tests.conftest import make_model, make_photo

PHOTO = make_photo(64, 80, seed=4)


@pytest.fixture(scope="module")
def results():
    out = []
    for q in (2, 1):  # out of order on purpose
        model = make_model(seed=q)
        info = ModelInfo("bundled", q, "mse", LAMBDAS["mse"][q - 1], model.N, model.M, weights_fingerprint(model))
        out.append(measure_quality(LoadedModel(model, info), RgbImage(PHOTO, 9000, "p.png")))
    return out


def test_comparison_json_has_compressai_shape_in_quality_order(results):
    data = comparison_json(results, [], RgbImage(PHOTO, 9000, "p.png"), "bundled (mse)")
    assert data["name"] == "bmshj2018-factorized"
    assert isinstance(data["description"], str) and data["description"]
    assert set(data["results"]) == {"bpp", *(m.json_key for m in METRICS.values()), "encoding_time", "decoding_time"}
    by_q = sorted(results, key=lambda r: r.quality)
    assert data["results"]["bpp"] == [r.bpp for r in by_q]
    assert data["results"]["psnr-rgb"] == [r.psnr for r in by_q]
    assert data["results"]["ms-ssim-rgb"] == [r.metric("ms-ssim") for r in by_q]


def test_comparison_json_writes_infinite_psnr_as_null(results):
    import dataclasses

    perfect = dataclasses.replace(results[0], metrics={**results[0].metrics, "psnr": math.inf})
    text = json_text(comparison_json([perfect], [], RgbImage(PHOTO, 9000, "p.png"), "bundled (mse)"))
    assert json.loads(text)["results"]["psnr-rgb"] == [None]


def test_rd_csv_one_row_per_quality_then_baselines(results):
    jpeg = [baseline_point(PHOTO, "JPEG", s) for s in (20, 80)]
    rows = list(csv.DictReader(io.StringIO(rd_csv(results, jpeg))))
    assert list(rows[0]) == list(csv_columns())
    assert [r["codec"] for r in rows] == ["LCI", "LCI", "JPEG", "JPEG"]
    assert [r["quality"] for r in rows[:2]] == ["1", "2"]
    first = sorted(results, key=lambda r: r.quality)[0]
    assert float(rows[0]["bpp"]) == pytest.approx(first.bpp, rel=1e-5)
    assert int(rows[0]["file_bytes"]) == first.file_bytes
    assert float(rows[0]["lambda"]) == pytest.approx(LAMBDAS["mse"][0])
    assert rows[0]["fingerprint"] == first.info.fingerprint
    assert rows[2]["setting"] == "20" and int(rows[2]["file_bytes"]) == jpeg[0].file_bytes


def test_refined_rows_follow_the_ladder_and_leave_its_rows_as_they_were(results):
    """The window's CSV (and `lci compare --csv`, one function): a refined quality is a row of its own after the
    plain ladder, its encoder columns filled from `Encoder.record`; the plain rows are byte for byte as before."""
    from lci_studio.codec.refinement import encoder_for
    from lci_studio.codec.report import comparison_csv

    q1 = min(results, key=lambda r: r.quality)
    model = make_model(seed=1)
    loaded = LoadedModel(model, q1.info)
    encoder = encoder_for("normal", steps=2)
    refined = measure_quality(loaded, RgbImage(PHOTO, 9000, "p.png"), encoder=encoder)
    jpeg = [baseline_point(PHOTO, "JPEG", 50)]
    before = comparison_csv(results, jpeg).splitlines()
    after = comparison_csv(results, jpeg, [refined]).splitlines()
    assert after[:3] == before[:3] and after[-1] == before[-1]  # header, q1, q2 … JPEG: unchanged
    assert len(after) == len(before) + 1
    row = dict(zip(csv_columns(), next(csv.reader([after[3]])), strict=True))
    record = encoder.record()
    assert (row["codec"], row["quality"], row["encoder"], row["effort"]) == ("LCI", "1", "refined", "normal")
    assert (row["steps"], row["method"], row["seed"]) == ("2", record["method"], "0")
    assert row["encoder_lambda"] == "" and int(row["file_bytes"]) == refined.file_bytes
    assert float(row["psnr_db"]) == pytest.approx(refined.psnr, rel=1e-5)
    plain_row = dict(zip(csv_columns(), next(csv.reader([after[1]])), strict=True))
    assert (plain_row["encoder"], plain_row["method"], plain_row["encoder_lambda"]) == ("plain", "", "")
