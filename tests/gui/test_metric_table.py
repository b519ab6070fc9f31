"""Metrics are a table (`metrics.METRICS`): an entry is all a metric needs to be measured on demand, plotted,
offered in the plot's menu, fitted by BD-rate and written to the JSON, the CSV and `lci compare`'s table."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from lci_studio.codec.bdrate import bd_against
from lci_studio.codec.metrics import METRICS, Metric
from lci_studio.codec.report import comparison_csv, comparison_json
from tests.gui.conftest import LADDER_TIMEOUT_MS, wait_ladder, wait_measured


def mean_absolute_error(original: np.ndarray, reconstruction: np.ndarray, cancel=None) -> float:
    return float(np.mean(np.abs(original.astype(np.int16) - reconstruction)))


# A toy metric, registered in the test alone: lower is better, so BD-rate must turn it round.
TOY = Metric(
    "mae", "MAE", mean_absolute_error, json_key="mae-rgb", column="mae", axis_label="MAE (levels)",
    glossary="Mean absolute error: the average difference of a channel value, in 8-bit levels.",
    short="MAE: mean absolute error in 8-bit levels (lower is closer)",
    unit=" levels", higher_is_better=False, on_demand=True, plot_range=(0.0, 20.0),
)  # fmt: skip


def test_bd_rate_of_a_lower_is_better_metric_has_the_sign_of_the_rate():
    """A ladder at 75% of a reference's rate for the same error spends 25% fewer bits: −25%, as for PSNR."""
    rates = [0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2.0]
    errors = [14.0, 11.0, 8.5, 6.8, 5.6, 4.3, 3.4, 2.5]
    psnr = [20.0, 23.0, 26.5, 29.0, 30.5, 32.5, 34.5, 37.0]
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(METRICS, TOY.key, TOY)
        reference = (rates, {"psnr": psnr, "mae": errors})
        bd = bd_against(([r * 0.75 for r in rates], {"psnr": psnr, "mae": errors}), reference)
    assert bd["mae-rgb"] == pytest.approx(-25.0) and bd["psnr-rgb"] == pytest.approx(-25.0)


def test_one_table_entry_reaches_the_plot_its_menu_the_json_bd_and_csv(
    qtbot, make_window, source, small_png, monkeypatch, capsys, ladder_dir
):
    monkeypatch.setitem(METRICS, TOY.key, TOY)
    window = make_window(source, baselines=True)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    session = window.session
    qtbot.waitUntil(lambda: session.baselines and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert not any("mae" in r.metrics for r in session.results.values())  # on demand: not measured unasked

    # the plot's menu and its buttons offer it; choosing it measures it (in the worker) and plots it
    offered = [a.text() for a in window.menus["Plot Metric"].actions()]
    assert "Plot MAE" in offered
    box = window.rd_plot.metric_box
    assert "MAE" in [box.itemText(i) for i in range(box.count())]
    window.commands["metric:mae"].trigger()
    wait_measured(qtbot, window, "mae")
    assert window.rd_plot.current_metric() == "mae"
    assert window.rd_plot.plot_widget().getPlotItem().getAxis("left").labelText == "MAE (levels)"
    result = session.results[3]
    expected = mean_absolute_error(session.image.pixels, result.reconstruction)
    learned = {p.key: p.y for p in window.rd_plot.points() if p.series.startswith("LCI")}
    assert learned[3] == pytest.approx(expected) and result.metric("mae") == pytest.approx(expected)
    assert "MAE" in window.compare.tile(3).caption_text()

    # the JSON the window exports: the ladder's and each codec's values, and a BD-rate against each codec
    doc = json.loads(json.dumps(comparison_json(session.ordered_results(), session.baselines, session.image, "t")))
    assert doc["results"]["mae-rgb"] == pytest.approx([session.results[q].metric("mae") for q in range(1, 9)])
    for codec, curve in doc["baselines"].items():
        assert len(curve["results"]["mae-rgb"]) == len(curve["settings"]) and None not in curve["results"]["mae-rgb"]
        assert "mae-rgb" in doc["bd_rate"][codec]
    # the CSV: a column of its own
    rows = list(csv.DictReader(io.StringIO(comparison_csv(session.ordered_results(), session.baselines))))
    assert float(rows[2]["mae"]) == pytest.approx(expected, rel=1e-5)

    # `lci compare`: a column in its table and a BD-rate in its BD lines
    from lci_studio.cli import main

    assert main(["compare", str(small_png("cli.png", 48, 64, seed=1)), "--weights", str(ladder_dir)]) == 0
    out = capsys.readouterr().out
    heads = [line.split() for line in out.splitlines() if line.split()[:1] == ["quality"]]
    assert heads and "MAE" in heads[0] and "(MAE)" in out
