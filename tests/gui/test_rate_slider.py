"""Any size near a level (issue 24, item 6): the λ slider refines the selected quality for another λ of its band
(the file moves a little, the same decoder reads it), the picture and the plot follow, and a measured band is
drawn with the words on why the bands don't meet. Real codec: the bundled ladder, a 64×80 photo, few steps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lci_studio.codec.metrics import METRICS
from lci_studio.codec.pipeline import decode_lci
from lci_studio.codec.refinement import encoder_for, lambda_band, objective
from lci_studio.codec.weights import BundledSource
from lci_studio.gui.panels.rate_slider import STEPS, lambda_at, position_of
from lci_studio.gui.panels.refined_points import BANDS_SERIES, REFINED_SERIES
from lci_studio.gui.qimage import from_qimage
from tests.gui.conftest import LADDER_TIMEOUT_MS


@pytest.fixture
def slider(refinable_window):
    window = refinable_window
    window.refining.set_encoder(encoder_for("normal", steps=8))
    window.tabs.setCurrentWidget(window.rate_slider)
    return window


def _idle(qtbot, window):
    qtbot.waitUntil(lambda: not window.refining.running() and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)


def test_slider_positions_span_the_band_with_the_trained_lambda_in_the_middle():
    band = lambda_band(BundledSource().load(4).info)
    assert lambda_at(band, 0) is None and position_of(band, None) == 0
    assert lambda_at(band, STEPS) == pytest.approx(band.high) and lambda_at(band, -STEPS) == pytest.approx(band.low)
    assert band.low < lambda_at(band, -3) < band.trained < lambda_at(band, 4) < band.high
    assert all(position_of(band, lambda_at(band, p)) == p for p in range(-STEPS, STEPS + 1))


def test_the_slider_refines_the_level_for_the_lambda_it_shows(qtbot, slider):
    window, session, panel = slider, slider.session, slider.rate_slider
    plain = session.results[4]
    band = lambda_band(plain.info)
    assert panel.slider.isEnabled() and "trained for λ" in panel.heading.text()
    panel.set_position(STEPS)  # the band's upper end: more bits for a closer picture
    assert "refining for it" in panel.value.text()
    _idle(qtbot, window)
    refined = session.refined[4]
    assert refined.encoder.lmbda == pytest.approx(band.high) and panel.slider.value() == STEPS
    # the grid's tile shows that file, titled with the λ it was refined for
    assert window.compare.tile(4).caption_text().startswith(f"Quality 4 · refined for λ {band.high:.2g} ")
    pixels = session.image.pixels
    at = band.high  # never worse than plain, judged at the λ asked
    assert objective(at, refined.file_bytes, pixels, refined.reconstruction) <= objective(
        at, plain.file_bytes, pixels, plain.reconstruction
    )
    assert np.array_equal(decode_lci(refined.lci, BundledSource().load(4)), refined.reconstruction)
    # the picture shown is that file's, the plot's star sits at its place, the words name its λ
    assert panel.shown_result() is refined
    shown = from_qimage(panel.picture.pixmap().toImage(), "shown").pixels
    assert shown.shape[0] > 0 and panel._pixmap is not None
    assert np.array_equal(from_qimage(panel._pixmap.toImage(), "full").pixels, refined.reconstruction)
    stars = [p for p in window.rd_plot.points() if p.series == REFINED_SERIES]
    assert [(p.key, p.x, p.y) for p in stars] == [(4, refined.bpp, refined.psnr)]
    assert f"λ = {band.high:.4g}" in panel.value.text()
    assert f"for λ={band.high:g}" in window.explanation.text()
    # back to the middle mark: the level's own λ
    panel.set_position(0)
    _idle(qtbot, window)
    assert session.refined[4].encoder.lmbda is None


def test_measure_band_draws_each_level_reach_and_says_why_they_do_not_meet(qtbot, slider):
    window, session, panel = slider, slider.session, slider.rate_slider
    band = lambda_band(session.results[4].info)
    panel.measure.click()
    _idle(qtbot, window)
    low, high = session.bands[4]
    assert (low.lmbda, high.lmbda) == pytest.approx((band.low, band.high))
    assert list(session.bands) == [4]
    window.rd_plot.flush()
    xs, ys = window.rd_plot.bands.data()
    assert (xs, ys) == ([low.bpp, high.bpp], [low.psnr, high.psnr])
    assert BANDS_SERIES in [label.text for _, label in window.rd_plot._legend.items]
    # every axis the plot offers carries them: the band's ends were measured on each metric and both sizes
    plot = window.rd_plot
    plot.set_bpp_kind("estimated")
    plot.flush()
    assert plot.bands.data() == ([low.bpp_estimated, high.bpp_estimated], [low.psnr, high.psnr])
    assert 0 < low.bpp_estimated < high.bpp_estimated
    for key, metric in METRICS.items():
        plot.set_metric(key)
        plot.flush()
        ys = [metric.db(p.metric(key)) for p in (low, high)]
        assert plot.bands.data() == ([low.bpp_estimated, high.bpp_estimated], ys)
        assert plot.note() is None
    # a band without the shown metric (measured before the metric was in the table) is said, not left out silently
    session.add_band(4, [dataclasses.replace(p, metrics={"psnr": p.psnr}) for p in (low, high)])
    plot.set_metric("ms-ssim")
    plot.flush()
    assert plot.bands.data() == ([], [])
    assert "1 measured λ band is not drawn: MS-SSIM and the estimated size" in plot.note()
    session.add_band(4, [low, high])
    plot.set_metric("psnr")
    plot.set_bpp_kind("real")
    why = panel.why.text()
    assert "don't meet" in why and "quality 4 reaches" in why and "where quality 5 is +" in why
    assert "Band of quality 4 measured" in window.status_label.text()


def test_measuring_while_the_qualities_are_computed_says_why_nothing_starts(qtbot, make_window, small_png):
    from lci_studio.codec.weights import BundledSource
    from tests.gui.conftest import HeldLadder

    held = HeldLadder(BundledSource())  # quality 1 arrives, the ladder waits before quality 2
    try:
        window = make_window(held.source)
        window.open_path(small_png(height=64, width=80, seed=4))
        held.wait_held(qtbot)
        qtbot.waitUntil(lambda: 1 in window.session.results, timeout=LADDER_TIMEOUT_MS)
        window.session.select(1)
        assert window.rate_slider.measure.isEnabled() and window.jobs.computing()
        window.rate_slider.measure.click()
        assert "still being computed" in window.status_label.text()
        assert window.refining.job is None
    finally:
        held.release()
