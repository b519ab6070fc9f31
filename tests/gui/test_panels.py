"""The RD plot, latent view, explanation panel and demo window: views of a session fed with real measured results."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters
import pytest
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import QApplication

from lci_studio.codec.baselines import sweep
from lci_studio.codec.bit_maps import channel_ranking
from lci_studio.codec.explanation import INTRO_TITLE
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.number_format import format_kb, format_ratio, format_times
from lci_studio.gui.panels.demo import DemoWindow
from lci_studio.gui.panels.explanation import ExplanationPanel
from lci_studio.gui.panels.latent import LatentView
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.session import Session
from lci_studio.view_state import Observed
from tests.conftest import make_model, make_photo

PHOTO = make_photo(96, 128)


def _loaded(quality: int, N: int = 16, M: int = 24) -> LoadedModel:
    model = make_model(N, M, seed=quality)
    info = ModelInfo("bundled", quality, "mse", LAMBDAS["mse"][quality - 1], N, M, weights_fingerprint(model))
    return LoadedModel(model, info)


@pytest.fixture(scope="module")
def results():
    """Real encode → bytes → decode results for qualities 1-3 (quality 3 has a wider latent, M = 32)."""
    image = RgbImage(PHOTO, 20000)
    return [measure_quality(_loaded(q, M=24 if q < 3 else 32), image) for q in (1, 2, 3)]


@pytest.fixture(scope="module")
def jpeg():
    return sweep(PHOTO, "JPEG", settings=(20, 50, 90))


@pytest.fixture
def session():
    return Session()


def feed(session: Session, results) -> None:
    """Hand the session results as the worker would, one by one."""
    for result in results:
        session.add_result(result)


def _click_view_point(qtbot, plot_widget, view_box, x: float, y: float) -> None:
    """A real left click on the plot at data coordinates (x, y)."""
    scene = view_box.mapViewToScene(QPointF(x, y))
    where = plot_widget.mapFromScene(scene)
    qtbot.mouseClick(plot_widget.viewport(), Qt.MouseButton.LeftButton, pos=where)


# --------------------------------------------------------------------------------------------- RD plot


@pytest.fixture
def plot(qtbot, session):
    widget = RdPlot(session)
    qtbot.addWidget(widget)
    widget.resize(640, 420)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _learned(plot: RdPlot):
    return [p for p in plot.points() if p.series == "LCI (bundled)"]


def test_plot_grows_one_point_per_result(plot, session, results):
    for n, result in enumerate(results, start=1):
        session.add_result(result)
        assert len(_learned(plot)) == n
    points = _learned(plot)
    assert [p.x for p in points] == sorted(p.x for p in points)
    by_quality = {p.key: p for p in points}
    for result in results:
        assert by_quality[result.quality].x == pytest.approx(result.bpp)
        assert by_quality[result.quality].y == pytest.approx(result.psnr)
    session.add_result(results[0])  # the same quality again replaces, not duplicates
    assert len(_learned(plot)) == 3


def test_plot_metric_and_bpp_toggles(plot, session, results, qtbot):
    feed(session, results)
    changed = []
    plot.view_state.plot_metric.changed.connect(changed.append)
    plot.set_metric("ms-ssim")
    assert changed == ["ms-ssim"] and plot.view_state.plot_metric.value == "ms-ssim"
    by_quality = {p.key: p for p in _learned(plot)}
    for result in results:  # in dB, as CompressAI plots it: the curves near 1.0 spread out
        assert by_quality[result.quality].y == pytest.approx(-10 * math.log10(1 - result.metric("ms-ssim")))
    assert plot.plot_widget().getPlotItem().getAxis("left").labelText == "MS-SSIM (dB)"

    plot.set_bpp_kind("estimated")
    by_quality = {p.key: p for p in _learned(plot)}
    for result in results:
        assert by_quality[result.quality].x == pytest.approx(result.bpp_estimated)
    assert "estimate" in plot.plot_widget().getPlotItem().getAxis("bottom").labelText
    assert plot.current_metric() == "ms-ssim" and plot.current_bpp_kind() == "estimated"
    with pytest.raises(ValueError):
        plot.set_metric("no such metric")


def test_plot_toggle_buttons_switch_the_metric(plot, session, results):
    feed(session, results)
    plot.metric_box.setCurrentIndex(1)  # what picking MS-SSIM in the plot's list does
    assert plot.current_metric() == "ms-ssim"
    plot._bpp_buttons.button(1).click()
    assert plot.current_bpp_kind() == "estimated"


def test_plot_baselines_and_clear(plot, session, results, jpeg):
    feed(session, results)
    session.set_baselines(jpeg)
    curve = [p for p in plot.points() if p.series == "JPEG"]
    assert sorted(p.x for p in curve) == pytest.approx(sorted(b.bpp for b in jpeg))
    assert {p.key for p in curve} == {20, 50, 90}
    plot.set_bpp_kind("estimated")  # baselines keep their real size
    assert sorted(p.x for p in plot.points() if p.series == "JPEG") == pytest.approx(sorted(b.bpp for b in jpeg))
    session.clear()
    assert plot.points() == []


def test_plot_says_when_the_original_is_itself_a_jpeg(plot, session, results, jpeg, tmp_path):
    """A JPEG photo re-encoded as JPEG meets its own 8×8 grid and climbs to ~57 dB: the plot says so above the
    curves, so that nobody reads it as JPEG winning; not for a PNG, nor before JPEG's curve is drawn."""
    from PIL import Image

    for suffix, kind in ((".jpg", "JPEG"), (".png", "PNG"), ("-a-png.jpg", "PNG")):  # the content decides
        path = tmp_path / f"photo{suffix}"
        Image.fromarray(PHOTO).save(path, kind)
        session.open_image(RgbImage(PHOTO, path.stat().st_size, path.name), path)
        feed(session, results)
        plot.flush()
        assert plot.note() is None  # no JPEG curve yet
        session.set_baselines(jpeg)
        plot.flush()
        if kind == "JPEG":
            assert plot.note() is not None and "itself a JPEG" in plot.note() and "not JPEG winning" in plot.note()
            assert plot._note.isVisible() and plot._note.width() <= plot.width()
        else:
            assert plot.note() is None
    session.open_image(RgbImage(PHOTO, None, "pasted image"))  # no file at all
    session.set_baselines(jpeg)
    plot.flush()
    assert plot.note() is None


def test_plot_click_selects_and_rings_the_quality(plot, session, results, qtbot):
    feed(session, results)
    qtbot.wait(50)
    target = next(p for p in _learned(plot) if p.key == 2)
    _click_view_point(qtbot, plot.plot_widget(), plot.plot_widget().getPlotItem().vb, target.x, target.y)
    qtbot.waitUntil(lambda: session.selected == 2, timeout=2000)
    assert plot.selected() == 2
    ring = plot._ring.getData()
    assert list(ring[0]) == pytest.approx([target.x]) and list(ring[1]) == pytest.approx([target.y])
    session.select(None)
    assert len(plot._ring.getData()[0]) == 0


def test_plot_hover_shows_the_numbers(plot, session, results):
    feed(session, results)
    result = results[1]
    text = plot.hover_text_at(result.bpp, result.psnr)
    assert text is not None
    assert "quality 2" in text and format_kb(result.file_bytes) in text
    assert f"{result.bpp:.3f} bpp" in text and METRICS["psnr"].text(result.psnr) in text
    assert f"{result.metric('ms-ssim'):.4f}" in text


def test_plot_export_png_is_a_valid_png(plot, session, results, jpeg, tmp_path):
    feed(session, results)
    session.set_baselines(jpeg)
    target = tmp_path / "rd.png"
    target.write_bytes(b"old")
    plot.export_png(target, width=900)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(target))
    assert not image.isNull() and image.width() == 900
    assert [p.name for p in tmp_path.iterdir()] == ["rd.png"]  # no temporary file left behind


def test_plot_axes_read_well_from_the_first_point_and_the_export_has_a_title(plot, session, results, tmp_path):
    item = plot.plot_widget().getPlotItem()
    session.add_result(results[0])  # one point: no ×0.001 bpp scale, bpp from 0
    plot.flush()  # drawn with the next burst; now for the test
    (x0, x1), (y0, y1) = item.vb.viewRange()
    assert x0 == 0 and x1 >= results[0].bpp and y0 < results[0].psnr < y1
    assert not item.getAxis("bottom").autoSIPrefix and not item.getAxis("left").autoSIPrefix
    feed(session, results[1:])
    session.select(2)
    assert "ile size against PSNR" in plot.title()
    seen = []
    real_export = pg.exporters.ImageExporter.export
    pg.exporters.ImageExporter.export = lambda self, *args, **kwargs: (
        seen.append((item.titleLabel.text, plot._ring.isVisible())), real_export(self, *args, **kwargs)
    )[1]
    try:
        plot.export_png(tmp_path / "rd.png", width=700)
    finally:
        pg.exporters.ImageExporter.export = real_export
    assert seen == [(plot.title(), False)]  # titled, no selection ring in the picture
    assert plot._ring.isVisible() and not item.titleLabel.isVisible()  # and the window's plot as it was


# --------------------------------------------------------------------------------------------- latent view


@pytest.fixture
def latent(qtbot, session):
    widget = LatentView(session)
    qtbot.addWidget(widget)
    widget.resize(700, 600)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def test_latent_heatmap_fills_in_as_results_arrive(latent, session, results):
    session.add_result(results[0])
    heat = latent.heatmap()
    assert heat.qualities == tuple(range(1, 9)) and heat.matrix.shape == (24, 8)
    assert np.isfinite(heat.matrix[:, 0]).all() and np.isnan(heat.matrix[:, 1:]).all()
    feed(session, results[1:])
    heat = latent.heatmap()
    assert heat.matrix.shape == (32, 8)  # quality 3 is wider; 1 and 2 are padded
    assert np.isnan(heat.matrix[24:, :2]).all() and np.isfinite(heat.matrix[:, 2]).all()
    assert np.all(np.diff(heat.matrix[:, 2]) <= 0)
    shown = latent._heat.image.image
    np.testing.assert_array_equal(np.isnan(shown), np.isnan(heat.matrix))


def test_latent_maps_of_the_selected_quality(latent, session, results, qtbot):
    feed(session, results)
    assert latent.spatial_image() is None
    session.select(3)
    result = results[2]
    assert latent.spatial_image().sum() == pytest.approx(result.bits_per_channel.sum(), rel=1e-6)
    ranking = channel_ranking(result)
    np.testing.assert_array_equal(latent.channel_image(), result.bit_map[ranking[0]])
    with qtbot.waitSignal(latent.channelSelected) as chosen:
        latent.set_channel_rank(2)
    assert chosen.args == [int(ranking[2])]
    np.testing.assert_array_equal(latent.channel_image(), result.bit_map[ranking[2]])
    _, spatial_caption, channel_caption = latent.captions()
    assert "quality 3" in spatial_caption and format_kb(result.bits_per_channel.sum() / 8) in spatial_caption
    assert f"Channel {ranking[2]} alone" in channel_caption and "3rd busiest of 32" in channel_caption
    assert f"{result.bits_per_channel[ranking[2]]:,.0f} bits" in channel_caption
    latent._rank_box.setValue(1)
    np.testing.assert_array_equal(latent.channel_image(), result.bit_map[ranking[0]])
    session.select(7)
    assert latent.spatial_image() is None and "Quality 7 is not computed" in latent.captions()[1]


def test_latent_maps_lie_over_their_picture(latent, session, results):
    """Both maps sit over the selected quality's picture (the picture's extent in latent squares), the
    map partly transparent; the box takes the picture away and back."""
    from lci_studio.codec.bit_maps import picture_extent

    feed(session, results)
    session.select(2)
    x, y, w, h = picture_extent(results[1])
    for plot in (latent._spatial, latent._channel):
        assert plot.under.isVisible() and np.array_equal(plot.under.image, results[1].reconstruction)
        box = plot.under.mapRectToParent(plot.under.boundingRect())
        assert (box.x(), box.y(), box.width(), box.height()) == pytest.approx((x, y, w, h))
        assert plot.image.opacity() < 1
    latent._under_box.setChecked(False)
    for plot in (latent._spatial, latent._channel):
        assert not plot.under.isVisible() and plot.image.opacity() == 1
    latent._under_box.setChecked(True)
    session.select(7)  # not computed: no map, no picture
    assert not latent._spatial.under.isVisible() and latent.spatial_image() is None


def test_latent_click_on_a_heatmap_cell(latent, session, results, qtbot):
    feed(session, results)
    session.select(1)
    qtbot.wait(50)
    _click_view_point(qtbot, latent._heat, latent._heat.getPlotItem().vb, 2.0, 5.0)  # row 5 from the top
    qtbot.waitUntil(lambda: session.selected == 2, timeout=2000)
    assert latent.selected() == 2 and latent.channel_rank() == 4
    assert latent.selected_channel() == int(channel_ranking(results[1])[4])
    assert latent.cell_at(2.0, 30.0) is None  # quality 2 has only 24 channels
    assert latent.cell_at(5.0, 1.0) is None  # not computed


def test_latent_clear(latent, session, results):
    feed(session, results)
    session.select(2)
    session.clear()
    assert latent.heatmap().matrix.shape[0] == 0
    assert latent.spatial_image() is None and latent.channel_image() is None and latent.selected() is None


# --------------------------------------------------------------------------------------------- explanation


def test_explanation_intro_then_the_selected_quality(qtbot, session, results):
    panel = ExplanationPanel(session)
    qtbot.addWidget(panel)
    assert INTRO_TITLE in panel.text()
    session.start_ladder(range(1, 9))  # a ladder on its way: the qualities not in yet are "being computed"
    feed(session, results)
    assert "3 of 8 quality levels ready" in panel.text()
    session.select(2)
    text = panel.text()
    result = results[1]
    assert "Quality 2 of 8" in text and "λ = 0.0035" in text
    assert f"{result.active_channels} of its 24 latent channels" in text or "All 24 of its latent channels" in text
    assert format_kb(result.file_bytes) in text and format_ratio(result.ratio_to_raw) in text
    assert "Compared with quality 1" in text
    session.select(6)
    assert "Quality 6 is still being computed" in panel.text()
    session.clear()
    assert INTRO_TITLE in panel.text()


# --------------------------------------------------------------------------------------------- demo


@pytest.fixture
def demo(qtbot, session):
    window = DemoWindow(session)
    qtbot.addWidget(window)
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    return window


def test_demo_shows_the_original_until_a_result_arrives(demo, session, results):
    assert demo.caption().startswith("Waiting")
    session.open_image(RgbImage(PHOTO))
    assert demo.caption().startswith("Original · 128 × 96 pixels")
    session.add_result(results[0])
    assert demo.selected() == 1
    assert demo.caption() == (
        f"Quality 1 · {format_kb(results[0].file_bytes)} · {format_times(results[0].ratio_to_raw)} · "
        + METRICS["psnr"].text(results[0].psnr)
    )


def test_demo_slider_snaps_to_computed_qualities(demo, session, results, qtbot):
    feed(session, [results[0], results[2]])  # qualities 1 and 3
    assert demo.available() == [1, 3] and demo.selected() == 1
    demo._slider.setValue(2)  # one step up from 1: not computed, on to 3
    assert session.selected == 3 and demo.selected() == 3 and demo._slider.value() == 3
    assert format_kb(results[2].file_bytes) in demo.caption() and demo.caption().startswith("Quality 3")
    demo._slider.setValue(8)
    assert demo.selected() == 3 and demo._slider.value() == 3
    demo._slider.setValue(2)  # one step down from 3: on to 1
    assert demo.selected() == 1
    session.select(8)
    assert demo.selected() == 3
    assert demo.nearest_available(2, toward=+1) == 3 and demo.nearest_available(2, toward=-1) == 1


def test_demo_keys(demo, session, results, qtbot):
    session.open_image(RgbImage(PHOTO))
    feed(session, results)
    qtbot.keyClick(demo, Qt.Key.Key_3)
    assert demo.selected() == 3
    qtbot.keyClick(demo, Qt.Key.Key_7)  # not computed: nearest is 3
    assert demo.selected() == 3
    qtbot.keyClick(demo, Qt.Key.Key_Left)
    assert demo.selected() == 2 and format_kb(results[1].file_bytes) in demo.caption()
    qtbot.keyClick(demo, Qt.Key.Key_Right)
    assert demo.selected() == 3
    qtbot.keyPress(demo, Qt.Key.Key_Space)  # held: the original
    assert demo.showing_original() and demo.caption().startswith("Original")
    repeat = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", True)
    QApplication.sendEvent(demo, repeat)  # still held (the key repeats): still the original
    assert demo.showing_original()
    qtbot.keyRelease(demo, Qt.Key.Key_Space)  # let go: the quality again (it toggled, and stayed on the original)
    assert not demo.showing_original() and demo.caption().startswith("Quality 3")
    with qtbot.waitSignal(demo.closed):
        qtbot.keyClick(demo, Qt.Key.Key_Escape)
    assert not demo.isVisible()


def test_demo_draws_the_picture(demo, session, results):
    feed(session, results)
    session.select(2)
    rect = demo._canvas.image_rect()
    assert math.isclose(rect.width() / rect.height(), 128 / 96, rel_tol=0.02)
    shot = demo._canvas.grab().toImage()
    picture = results[1].reconstruction

    def shown(sx: int, sy: int):  # the colour drawn at the centre of source pixel (sx, sy)
        x = rect.x() + (sx + 0.5) * rect.width() / 128
        y = rect.y() + (sy + 0.5) * rect.height() / 96
        colour = shot.pixelColor(int(x), int(y))
        return colour.red(), colour.green(), colour.blue()

    for sx, sy in ((10, 20), (64, 48), (100, 70)):
        assert np.abs(np.subtract(shown(sx, sy), picture[sy, sx], dtype=int)).max() <= 1
    demo.show_original(True)
    assert not demo.showing_original()  # nothing to show yet
    session.open_image(RgbImage(PHOTO))  # a new picture starts without results: they come again
    feed(session, results)
    demo.show_original(True)
    shot = demo._canvas.grab().toImage()
    assert np.abs(np.subtract(shown(64, 48), PHOTO[48, 64], dtype=int)).max() <= 1


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720), (800, 600)])
def test_demo_caption_is_one_line_that_fits_and_says_psnr(demo, session, results, size):
    """"Quality 3 · 19 kB · 62× smaller · PSNR 31.4 dB" on one line at any width (it wrapped "34.4 / dB"
    and never said PSNR, and "53:1 smaller" is not how a ratio is said)."""
    demo.resize(*size)
    session.open_image(RgbImage(PHOTO))
    feed(session, results)
    session.select(2)
    caption = demo._caption
    result = results[1]
    assert caption.text() == (
        f"Quality 2 · {format_kb(result.file_bytes)} · {format_times(result.ratio_to_raw)} · "
        + METRICS["psnr"].text(result.psnr)
    )
    assert "× smaller" in caption.text() and ":1" not in caption.text()
    assert not caption.wordWrap() and caption.fontMetrics().horizontalAdvance(caption.text()) <= caption.width()
    assert caption.geometry().right() <= demo.width()


def test_demo_zooms_onto_the_grids_detail_and_with_the_wheel(qtbot, session, results):
    """Z: onto the detail the grid found, drawn as large as the canvas; Z again: all of it. The wheel zooms
    about the pointer (it did nothing), and the original held with Space shows the same place."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    from lci_studio.codec.telling_detail import Detail

    detail = Detail(80, 50, 24, 18, 1.0)
    window = DemoWindow(session, detail=Observed(detail))
    qtbot.addWidget(window)
    window.resize(800, 600)
    window.show()
    qtbot.waitExposed(window)
    session.open_image(RgbImage(PHOTO))
    feed(session, results)
    session.select(1)
    canvas = window._canvas
    qtbot.keyClick(window, Qt.Key.Key_Z)
    view = window.view()
    assert view is not None and view.contains(QRectF(80, 50, 24, 18)) and view.width() < 64
    rect = canvas.image_rect()
    assert rect.width() >= canvas.width() - 2 or rect.height() >= canvas.height() - 2  # as large as fits

    def drawn_at_centre():
        colour = canvas.grab().toImage().pixelColor(rect.center())
        return colour.red(), colour.green(), colour.blue()

    x, y = int(view.center().x()), int(view.center().y())
    assert np.abs(np.subtract(drawn_at_centre(), results[0].reconstruction[y, x], dtype=int)).max() <= 12
    window.show_original(True)  # Space held: the original, same place
    assert window.view() == view
    assert np.abs(np.subtract(drawn_at_centre(), PHOTO[y, x], dtype=int)).max() <= 12
    window.show_original(False)
    qtbot.keyClick(window, Qt.Key.Key_Z)
    assert window.view() is None

    at = QPointF(canvas.image_rect().center()) + QPointF(100, 40)
    before = canvas.image_rect()
    under = ((at.x() - before.x()) * 128 / before.width(), (at.y() - before.y()) * 96 / before.height())
    wheel = QWheelEvent(
        at, canvas.mapToGlobal(at), QPoint(), QPoint(0, 240), Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )  # fmt: skip
    QApplication.sendEvent(canvas, wheel)  # two notches in
    view, after = window.view(), canvas.image_rect()
    assert view is not None  # two notches: 1.25² times the screen pixels per picture pixel
    assert after.width() / view.width() == pytest.approx(1.25**2 * before.width() / 128, rel=0.05)
    still = (view.x() + (at.x() - after.x()) * view.width() / after.width(),
             view.y() + (at.y() - after.y()) * view.height() / after.height())  # fmt: skip
    assert still == (pytest.approx(under[0], abs=1.5), pytest.approx(under[1], abs=1.5))  # the point stays put
    for _ in range(3):
        window.zoom_by(1 / 1.25)
    assert window.view() is None  # out past the whole picture: all of it


def test_demo_fills_the_screen_the_window_is_on_and_says_how_to_leave(tmp_path):
    """On the second of two screens (a projector beside a laptop) the demo fills that one, not the first, and its
    geometry is the screen's even where no window manager honours the full-screen state; its hint names Esc."""
    import json
    import os
    import subprocess
    import sys

    config = tmp_path / "screens.json"
    config.write_text(json.dumps({"screens": [
        {"name": "laptop", "x": 0, "y": 0, "width": 1280, "height": 720, "logicalDpi": 96},
        {"name": "projector", "x": 1280, "y": 0, "width": 1024, "height": 768, "logicalDpi": 96},
    ]}))  # fmt: skip
    script = """
from PySide6.QtWidgets import QApplication
from lci_studio.gui.panels.demo import DemoWindow
from lci_studio.session import Session
from lci_studio.view_state import Observed
app = QApplication([])
screens = app.screens()
demo = DemoWindow(Session())
demo.present(screens[1])
app.processEvents()
print(demo.screen().name(), demo.geometry() == screens[1].geometry(), demo.isFullScreen())
print(demo._hint.text())
"""
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    placed, hint = run.stdout.splitlines()[-2:]
    assert placed == "projector True True"
    assert "Esc: leave the demo" in hint and "hold Space" in hint


# --------------------------------------------------------------------------------------------- compare grid


def test_tile_caption_says_what_sizes_are_measured_against(results):
    import dataclasses

    from lci_studio.gui.panels.compare import result_caption
    from lci_studio.session import SizeBasis

    result = results[0]
    _, from_file = result_caption(result, SizeBasis.of(RgbImage(PHOTO, 20000, "photo.png")))
    assert f"{result.file_bytes / 20000 * 100:.1f}% of original file" in from_file
    _, pasted = result_caption(result, SizeBasis.of(RgbImage(PHOTO, None, "pasted image")))
    assert "of raw RGB" in pasted
    identical = dataclasses.replace(result, metrics={**result.metrics, "psnr": math.inf})
    assert "PSNR inf dB" in result_caption(identical, None)[1]  # the one spelling of an infinite PSNR
