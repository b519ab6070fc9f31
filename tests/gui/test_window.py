"""The main window end to end, with small real models (no mocks of the codec), offscreen."""

from __future__ import annotations

import csv
import gc
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QMimeData, QPoint, QPointF, QRectF, Qt, QTimer, QUrl
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QApplication, QPushButton

from lci_studio.codec.difference import difference
from lci_studio.codec.image_io import load_rgb, save_png
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.weights import BundledSource, open_weight_source
from lci_studio.resources import sample_photos
from tests.conftest import make_photo
from tests.gui.conftest import LADDER_TIMEOUT_MS, pixels_of, wait_ladder, wait_measured

SAMPLES = {p.stem: p for p in sample_photos()}


def wheel(view, steps: int = 3, at: QPointF | None = None) -> None:
    """A real mouse-wheel event on a pyqtgraph GraphicsView's viewport."""
    viewport = view.viewport()
    pos = at or QPointF(viewport.width() * 0.3, viewport.height() * 0.4)
    event = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * steps),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, event)


def centre_and_zoom(vb) -> tuple[float, float, float]:
    (x0, x1), (y0, y1) = vb.viewRange()
    return (x0 + x1) / 2, (y0 + y1) / 2, vb.width() / (x1 - x0)


# ------------------------------------------------------------------------------------------------- opening


def test_samples_are_bundled_with_licences():
    assert {"astronaut", "coffee", "chelsea"} <= set(SAMPLES)
    licences = (next(iter(SAMPLES.values())).parent / "LICENSES.md").read_text(encoding="utf-8")
    for name in SAMPLES:
        assert f"{name}." in licences


def test_open_sample_fills_tiles_plot_latents_and_explanation(qtbot, window, dialogs):
    window.open_path(SAMPLES["chelsea"])
    original = load_rgb(SAMPLES["chelsea"]).pixels
    wait_ladder(qtbot, window)

    assert sorted(window.session.results) == list(range(1, 9))
    assert all(r.reconstruction.shape == original.shape for r in window.session.results.values())
    assert len(window.rd_plot.points()) == 8
    assert np.array_equal(window.compare.tile(0).pixels, original)
    for q in range(1, 9):
        tile = window.compare.tile(q)
        text = tile.caption_text()
        assert tile.pixels is not None and tile.pixels.shape == original.shape
        assert f"Quality {q}" in text
        for part in ("bpp", "kB", "% of original file", "PSNR", "dB"):
            assert part in text, (part, text)
        assert f"{window.session.results[q].bpp:.3f} bpp" in text
    # the image on screen is exactly the decoded reconstruction (no level stretching)
    assert np.array_equal(np.asarray(window.compare.tile(5).image_item.image), window.session.results[5].reconstruction)
    assert window.explanation.text().strip()
    assert window.latent_view.heatmap() is not None
    assert not window.progress.isVisible()
    assert dialogs.errors == []


def test_ms_ssim_is_measured_when_the_plot_shows_it(qtbot, make_window, source, small_png):
    """The tiles come without MS-SSIM (it is not shown); switching the plot to it measures it, in dB."""
    from lci_studio.codec.metrics import ms_ssim_rgb

    window = make_window(source, baselines=True)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    session = window.session
    assert not any("ms-ssim" in r.metrics for r in session.results.values())
    assert session.baselines and not any("ms-ssim" in p.metrics for p in session.baselines)
    assert "MS-SSIM" not in window.compare.tile(3).caption_text()
    window.commands["metric:ms-ssim"].trigger()
    wait_measured(qtbot, window, "ms-ssim")
    assert window.rd_plot.current_metric() == "ms-ssim" and not window.progress.isVisible()
    assert "MS-SSIM measured in" in window.status_label.text()  # not the ladder's total, made stale
    result = session.results[3]
    ms_ssim = result.metric("ms-ssim")
    assert ms_ssim == pytest.approx(ms_ssim_rgb(session.image.pixels, result.reconstruction), abs=1e-12)
    assert f"MS-SSIM {ms_ssim:.4f}" in window.compare.tile(3).caption_text()
    learned = {p.key: p.y for p in window.rd_plot.points() if p.series.startswith("LCI")}
    assert learned[3] == pytest.approx(-10 * np.log10(1 - ms_ssim))
    assert len([p for p in window.rd_plot.points() if not p.series.startswith("LCI")]) == len(session.baselines)


def test_the_meter_counts_every_codec_and_ends_when_all_are_done(qtbot, make_window, source, small_png):
    """The qualities and JPEG/WebP/AVIF are counted by one meter, which goes only when the last codec is in."""
    from lci_studio.codec.baselines import available_codecs

    window = make_window(source, baselines=True)
    steps, at_finish = [], []
    step, finish = window.progress.step, window.progress.finish
    window.progress.step = lambda owner, done, total, text: (
        steps.append((done, total, text)), step(owner, done, total, text)
    )
    window.progress.finish = lambda owner: (
        at_finish.append({p.codec for p in window.session.baselines}), finish(owner)
    )[1]
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    codecs = available_codecs()
    ladder_steps = [s for s in steps if s[1] == 8 + len(codecs)]
    assert ladder_steps and ladder_steps[-1][0] == ladder_steps[-1][1]
    assert any(f"{codecs[-1]} for comparison" in text for _, _, text in steps)
    assert at_finish and at_finish[-1] == set(codecs)  # not "done" while AVIF still runs
    assert not window.progress.isVisible() and f"{len(codecs)} classical codecs" in window.status_label.text()


def test_a_one_pixel_picture_is_captioned_sensibly_and_as_the_cli_says_it(qtbot, window, tmp_path, ladder_dir, capsys):
    """A 1×1 picture: its raw size in bytes (it read "0 kB as raw RGB"), and each quality's bpp spelt as
    `lci encode` spells it (the file is mostly header: "424 bpp", not "424.000")."""
    from lci_studio.cli import main as lci
    from lci_studio.codec.number_format import format_bpp

    path = tmp_path / "dot.png"
    save_png(path, np.full((1, 1, 3), 200, dtype=np.uint8))
    window.open_path(path)
    wait_ladder(qtbot, window)
    assert "3 bytes as raw RGB" in window.compare.tile(0).caption_text()
    for quality in (1, 4):
        result = window.session.results[quality]
        caption = window.compare.tile(quality).caption_text()
        assert f"{format_bpp(result.bpp)} · {result.file_bytes} bytes" in caption and ".000 bpp" not in caption
        capsys.readouterr()
        assert lci(["encode", str(path), "-o", str(tmp_path / f"q{quality}.lci"), "-q", str(quality),
                    "--weights", str(ladder_dir)]) == 0  # fmt: skip
        assert f"{result.file_bytes} bytes, {format_bpp(result.bpp)}," in capsys.readouterr().out


def test_the_grid_opens_on_the_telling_detail_and_fit_goes_back(qtbot, window, small_png):
    window.open_path(small_png(height=128, width=192))
    wait_ladder(qtbot, window)
    detail = window.compare.detail
    assert detail is not None and detail.width == 32
    assert window.sync.zoom is not None and window.sync.center == pytest.approx(detail.center)
    assert window.commands["detail"].isEnabled()
    window.commands["fit"].trigger()
    assert window.sync.zoom is None
    window.commands["detail"].trigger()
    assert window.sync.center == pytest.approx(detail.center)
    vb = window.compare.tile(0).viewbox
    (x0, x1), (y0, y1) = vb.viewRange()  # the whole detail in view, as large as fits
    assert x0 <= detail.x + 0.5 and detail.x + detail.width <= x1 + 0.5
    assert y0 <= detail.y + 0.5 and detail.y + detail.height <= y1 + 0.5


def test_shift_drag_zooms_every_tile_onto_the_area(qtbot, window, small_png):
    window.open_path(small_png(height=128, width=192))
    wait_ladder(qtbot, window)
    window.commands["fit"].trigger()
    tile = window.compare.tile(4)
    vb, viewport = tile.viewbox, tile.view.viewport()
    start = vb.mapViewToScene(QPointF(20, 20))
    end = vb.mapViewToScene(QPointF(60, 50))
    to_view = tile.view.mapFromScene
    shift = Qt.KeyboardModifier.ShiftModifier
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, shift, to_view(start))
    for f in (0.3, 0.6, 1.0):
        point = start + (end - start) * f
        event = QMouseEvent(
            QMouseEvent.Type.MouseMove, QPointF(to_view(point)), QPointF(viewport.mapToGlobal(to_view(point))),
            Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton, shift,
        )
        QApplication.sendEvent(viewport, event)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, shift, to_view(end))
    assert window.sync.zoom is not None
    cx, cy = window.sync.center
    assert 30 <= cx <= 50 and 25 <= cy <= 45
    for key in (0, 8):  # every tile shows the same area
        assert centre_and_zoom(window.compare.tile(key).viewbox) == pytest.approx(centre_and_zoom(vb), rel=1e-6)


def test_help_glossary_explains_the_words_and_tiles_explain_their_numbers(qtbot, window, small_png):
    window.commands["glossary"].trigger()
    text = window.glossary.browser.toPlainText()
    for term in ("bpp", "PSNR", "MS-SSIM", "λ", "N", "M", "ratio"):
        assert term in text
    assert "Bits per pixel" in text and window.glossary.isVisible()
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    assert "bits per pixel" in window.compare.tile(2).toolTip() and "PSNR:" in window.compare.tile(2).toolTip()


def test_split_shows_a_classical_codec_at_the_selected_quality_size(qtbot, window, small_png):
    from lci_studio.codec.baselines import at_size, decode_classical
    from lci_studio.gui.panels.split import CLASSICAL, SELECTED

    window.open_path(small_png(height=96, width=128))
    wait_ladder(qtbot, window)
    window.session.select(5)
    split = window.split
    split.set_sides(CLASSICAL + "JPEG", SELECTED)
    qtbot.waitUntil(lambda: ("JPEG", 5) in window.session.classical, timeout=LADDER_TIMEOUT_MS)
    point = window.session.classical[("JPEG", 5)]
    result = window.session.results[5]
    assert point == at_size(window.session.image.pixels, "JPEG", result.file_bytes)  # the nearest setting by bytes
    assert np.array_equal(pixels_of(split.item_a), decode_classical(point.data))
    caption = split.label_a.text()
    assert f"JPEG (setting {point.setting})" in caption and "nearest to quality 5" in caption and "PSNR" in caption
    window.session.select(2)  # another quality: JPEG at its size
    qtbot.waitUntil(lambda: ("JPEG", 2) in window.session.classical, timeout=LADDER_TIMEOUT_MS)
    assert "nearest to quality 2" in split.label_a.text()


def test_keys_select_quality_everywhere(qtbot, window, small_png):
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    window.activateWindow()
    qtbot.keyClick(window.compare, Qt.Key.Key_6)
    assert window.session.selected == 6
    assert window.compare.tile(6).selected and not window.compare.tile(4).selected
    assert window.rd_plot.selected() == 6
    assert window.latent_view.selected() == 6
    assert window.explanation.selected() == 6
    assert window.split.sides() == ("original", 6)
    qtbot.keyClick(window.compare, Qt.Key.Key_BracketRight)
    assert window.session.selected == 7
    window.rd_plot.session.select(2)  # what a click on a plot point does
    assert window.session.selected == 2
    assert "Quality 2" in window.status_label.text()


def test_zoom_one_view_moves_every_view(qtbot, window, small_png):
    window.open_path(small_png(height=96, width=128))
    wait_ladder(qtbot, window)
    qtbot.waitUntil(lambda: window.compare.tile(0).viewbox.width() > 20)
    boxes = [t.viewbox for t in window.compare.tiles.values()]
    before = centre_and_zoom(boxes[3])

    wheel(window.compare.tile(3).view, steps=4)
    after = [centre_and_zoom(vb) for vb in boxes]
    assert after[3][2] > before[2] * 1.5  # zoomed in
    for cx, cy, zoom in after:
        assert cx == pytest.approx(after[3][0], abs=1e-6)
        assert cy == pytest.approx(after[3][1], abs=1e-6)
        assert zoom == pytest.approx(after[3][2], rel=1e-6)
    ranges = [vb.viewRange() for vb in boxes]
    width = ranges[0][0][1] - ranges[0][0][0]
    for (x0, _x1), (y0, _y1) in ranges:  # same region (tiles differ by at most a screen pixel in size)
        assert x0 == pytest.approx(ranges[0][0][0], abs=width * 0.02)
        assert y0 == pytest.approx(ranges[0][1][0], abs=width * 0.02)

    # pan in another view: every view follows
    vb = window.compare.tile(7).viewbox
    vb.translateBy(x=10, y=-5)
    vb.sigRangeChangedManually.emit([True, True])
    centres = {tuple(round(v, 6) for v in centre_and_zoom(b)[:2]) for b in boxes}
    assert len(centres) == 1
    assert next(iter(centres))[0] == pytest.approx(after[3][0] + 10, abs=1e-6)

    # 100%: one image pixel per screen pixel, no smoothing
    window.commands["actual"].trigger()
    for b in boxes:
        assert centre_and_zoom(b)[2] == pytest.approx(1 / window.devicePixelRatioF(), rel=1e-6)
        view = b.getViewWidget()
        assert not (view.renderHints() & QPainter.RenderHint.SmoothPixmapTransform)
    window.compare.zoom_by(4)
    for b in boxes:
        assert not (b.getViewWidget().renderHints() & QPainter.RenderHint.SmoothPixmapTransform)

    # fit: every view shows the whole image again
    qtbot.keyClick(window.compare, Qt.Key.Key_F)
    assert window.sync.zoom is None
    for b in boxes:
        (x0, x1), (y0, y1) = b.viewRange()
        assert x0 <= 0.01 and x1 >= 127.99 and y0 <= 0.01 and y1 >= 95.99
        assert min(x1 - x0 - 128, y1 - y0 - 96) == pytest.approx(0, abs=1e-6)

    # the split view shares the same master transform
    window.tabs.setCurrentWidget(window.split)
    qtbot.waitUntil(lambda: window.split.viewbox.width() > 20)
    wheel(window.split.view, steps=2)
    cx, cy, zoom = centre_and_zoom(window.split.viewbox)
    for b in boxes:
        assert centre_and_zoom(b) == pytest.approx((cx, cy, zoom), rel=1e-6)


def test_opening_another_image_cancels_and_drops_stale_results(qtbot, make_window, held_ladder, small_png):
    window = make_window(held_ladder.source)
    first = small_png("first.png", height=192, width=256, seed=1)
    second = small_png("second.png", height=64, width=80, seed=2)
    outcomes: dict[int, str] = {}
    window.worker.jobFinished.connect(lambda job, outcome: outcomes.__setitem__(job, outcome))
    accepted = []
    window.jobs.resultAdded.connect(accepted.append)

    window.open_path(first)
    qtbot.waitUntil(lambda: len(window.session.results) >= 1, timeout=LADDER_TIMEOUT_MS)
    first_job = window.jobs.view_job  # the first picture's ladder (its reading was a job of its own)
    held_ladder.wait_held(qtbot)
    window.open_path(second)
    held_ladder.release()
    accepted.clear()
    wait_ladder(qtbot, window)
    second_job = window.jobs.view_job
    assert second_job != first_job
    qtbot.waitUntil(lambda: first_job in outcomes and second_job in outcomes, timeout=LADDER_TIMEOUT_MS)

    assert outcomes[first_job] == "cancelled"
    assert outcomes[second_job] == "done"
    assert window.session.image.name == "second.png"
    assert sorted(window.session.results) == list(range(1, 9))
    assert all(r.reconstruction.shape == (64, 80, 3) for r in window.session.results.values())
    assert [r.reconstruction.shape for r in accepted] == [(64, 80, 3)] * 8
    for q in range(1, 9):
        assert window.compare.tile(q).pixels.shape == (64, 80, 3)
    assert len(window.rd_plot.points()) == 8


def test_stop_leaves_the_window_usable(qtbot, make_window, held_ladder, small_png):
    window = make_window(held_ladder.source)
    window.open_path(small_png(height=128, width=192))
    held_ladder.wait_held(qtbot)
    window.commands["stop"].trigger()
    held_ladder.release()
    qtbot.waitUntil(lambda: not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert len(window.session.results) < 8
    assert not window.progress.isVisible()
    window.open_path(small_png("again.png"))
    wait_ladder(qtbot, window)
    assert len(window.session.results) == 8


def test_after_stop_the_window_says_so_and_resume_goes_on_from_there(qtbot, make_window, held_ladder, small_png):
    """Issue 22: after Stop the classical column said "waiting for quality 6" forever and nothing said how to
    go on. It says it stopped; Resume (R) computes only what is missing and keeps what was measured."""
    window = make_window(held_ladder.source, baselines=True)
    window.commands["classical_grid"].setChecked(True)
    window.session.select(6)
    window.open_path(small_png(height=128, width=192))
    held_ladder.wait_held(qtbot)
    qtbot.waitUntil(lambda: 1 in window.session.results, timeout=LADDER_TIMEOUT_MS)  # its signal is queued
    assert not window.commands["resume"].isEnabled()
    window.commands["stop"].trigger()
    held_ladder.release()
    qtbot.waitUntil(lambda: not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    session = window.session
    kept = dict(session.results)
    assert 6 not in kept and 1 in kept
    column = [tile.overlay.text() for tile in window.compare.classical_tiles.values()]
    assert all("stopped" in text and "Resume (R)" in text for text in column), column
    assert "Resume (R)" in window.compare.tile(6).overlay.text()
    assert "Resume (R)" in window.status_label.text()
    assert window.commands["resume"].isEnabled()

    window.commands["resume"].trigger()
    wait_ladder(qtbot, window)
    assert sorted(session.results) == list(range(1, 9))
    assert all(session.results[q] is kept[q] for q in kept)  # not computed again
    assert window.compare.tile(1).pixels is not None and window.compare.tile(8).pixels is not None
    codecs = {p.codec for p in session.baselines}
    assert codecs and all(len({p.setting for p in session.baselines if p.codec == c}) ==
                          len([p for p in session.baselines if p.codec == c]) for c in codecs)  # none twice
    assert "classical codecs" in window.status_label.text() and not window.commands["resume"].isEnabled()


def test_an_image_after_an_lci_file_resets_the_split_latents_and_meter(qtbot, make_window, source, small_png, tmp_path):
    """Opening a .lci shows it on both sides; the next picture gets the usual sides, bit maps and meter."""
    window = make_window(source, baselines=True)
    window.open_path(small_png("photo.png"))
    wait_ladder(qtbot, window)
    lci = tmp_path / "photo-q3.lci"
    lci.write_bytes(window.session.results[3].lci)
    window.session.select(6)
    opened = []
    window.jobs.lciOpened.connect(opened.append)
    window.open_path(lci)
    qtbot.waitUntil(lambda: bool(opened) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert window.split.sides() == (3, 3) and window.session.selected == 3
    assert "decoded" in window.split.label_a.text()

    window.open_path(small_png("next.png", seed=4))
    qtbot.waitUntil(lambda: len(window.session.results) >= 1, timeout=LADDER_TIMEOUT_MS)
    assert window.split.sides() == ("original", 3)  # not stuck on the file's "Quality 3" both sides
    wait_ladder(qtbot, window)
    assert window.split.sides() == ("original", 3)
    assert "Original (next.png)" in window.split.label_a.text() and "Quality 3" in window.split.label_b.text()
    spatial = window.latent_view.captions()[1]
    assert "Where quality 3 spends its bits" in spatial and "not computed" not in spatial
    assert window.latent_view.spatial_image() is not None
    assert not window.progress.isVisible()


# -------------------------------------------------------------------------------------------------- export


def test_export_all_lci_and_reopen_shows_the_same_pixels(qtbot, window, small_png, tmp_path, dialogs):
    window.open_path(small_png("photo.png"))
    wait_ladder(qtbot, window)
    out = tmp_path / "out"
    out.mkdir()
    written = window.exports.all_lci(out)
    assert [p.name for p in written] == [f"photo-q{q}.lci" for q in range(1, 9)]
    for q in range(1, 9):
        assert (out / f"photo-q{q}.lci").read_bytes() == window.session.results[q].lci
    assert not list(out.glob(".*part"))

    # overwriting asks first; "Cancel" writes nothing
    stamp = (out / "photo-q1.lci").stat().st_mtime_ns
    dialogs.answer = dialogs.answer.Cancel
    assert window.exports.all_lci(out) == []
    assert dialogs.messages[-1][0] == "question" and "Replace" in dialogs.messages[-1][2]
    assert (out / "photo-q1.lci").stat().st_mtime_ns == stamp
    dialogs.answer = dialogs.answer.Yes
    assert len(window.exports.all_lci(out)) == 8

    shown = {q: window.compare.tile(q).pixels.copy() for q in range(1, 9)}
    opened = []
    window.jobs.lciOpened.connect(opened.append)
    window.open_path(out / "photo-q3.lci")
    qtbot.waitUntil(lambda: bool(opened), timeout=LADDER_TIMEOUT_MS)
    decoded = opened[0]
    assert decoded.header.quality == 3
    assert np.array_equal(decoded.pixels, shown[3])
    assert np.array_equal(window.compare.tile(3).pixels, shown[3])
    assert window.session.selected == 3
    assert window.tabs.currentWidget() is window.split
    assert np.array_equal(np.asarray(window.split.shown_image()), shown[3])
    assert not window.split.divider.isVisible()
    # no dialog over the picture at once: what the header says is a command away, and the status bar says where
    assert window.lci_info_dialog is None or not window.lci_info_dialog.isVisible()
    assert ".lci File Info" in window.status_label.text()
    window.commands["info"].trigger()
    assert window.lci_info_dialog is not None and window.lci_info_dialog.isVisible()
    info = window.lci_info_dialog.text()
    assert "3 of 8" in info and decoded.header.fingerprint in info and "96" in info
    assert window.session.results == {}
    assert dialogs.errors == []


def exported(qtbot, window, *paths: Path) -> None:
    """Wait for an export the worker finishes: the RD data's missing MS-SSIM, a PNG's compression."""
    qtbot.waitUntil(lambda: not window.worker.busy() and all(p.exists() for p in paths), timeout=LADDER_TIMEOUT_MS)


def test_export_png_csv_json_and_plot(qtbot, window, small_png, tmp_path):
    window.open_path(small_png("photo.png"))
    wait_ladder(qtbot, window)
    window.session.select(4)
    assert window.exports.selected_lci(tmp_path / "q4.lci")
    assert (tmp_path / "q4.lci").read_bytes() == window.session.results[4].lci
    assert window.exports.png(tmp_path / "q4.png")
    exported(qtbot, window, tmp_path / "q4.png")
    assert np.array_equal(load_rgb(tmp_path / "q4.png").pixels, window.session.results[4].reconstruction)

    assert window.exports.json(tmp_path / "rd.json")
    exported(qtbot, window, tmp_path / "rd.json")
    data = json.loads((tmp_path / "rd.json").read_text())
    assert {"name", "description", "results"} <= set(data)  # CompressAI's shape, plus what `lci compare` adds
    assert set(data["results"]) == {"bpp", *(m.json_key for m in METRICS.values()), "encoding_time", "decoding_time"}
    assert data["results"]["bpp"] == pytest.approx([window.session.results[q].bpp for q in range(1, 9)])

    assert window.exports.csv(tmp_path / "rd.csv")
    exported(qtbot, window, tmp_path / "rd.csv")
    lines = (tmp_path / "rd.csv").read_text().splitlines()
    assert lines[0].startswith("codec,quality")
    assert len(lines) == 9

    assert window.exports.plot(tmp_path / "rd.png")
    exported(qtbot, window, tmp_path / "rd.png")
    assert load_rgb(tmp_path / "rd.png").width >= 600


def test_export_json_is_what_lci_compare_writes(qtbot, make_window, source, ladder_dir, small_png, tmp_path, capsys):
    from lci_studio.cli import main as lci

    picture = small_png("same.png")
    window = make_window(source, baselines=True)
    window.open_path(picture)
    wait_ladder(qtbot, window)
    assert window.session.baselines
    assert window.exports.json(tmp_path / "window.json") and window.exports.csv(tmp_path / "window.csv")
    exported(qtbot, window, tmp_path / "window.json", tmp_path / "window.csv")
    argv = ["compare", str(picture), "--weights", str(ladder_dir), "--json", str(tmp_path / "cli.json")]
    assert lci([*argv, "--csv", str(tmp_path / "cli.csv")]) == 0
    capsys.readouterr()
    documents = [json.loads((tmp_path / f"{face}.json").read_text()) for face in ("window", "cli")]
    for document in documents:
        for key in ("encoding_time", "decoding_time"):  # measured again by each run
            assert len(document["results"].pop(key)) == 8
    assert documents[0] == documents[1]
    assert documents[0]["baselines"]["JPEG"]["settings"]
    tables = []
    for face in ("window", "cli"):
        rows = list(csv.DictReader((tmp_path / f"{face}.csv").read_text().splitlines()))
        tables.append([{k: v for k, v in row.items() if not k.endswith("_seconds")} for row in rows])
    assert tables[0] == tables[1] and len(tables[0]) > 8


def test_an_export_measures_ms_ssim_in_the_worker_with_the_meter_and_stop_writes_nothing(
    qtbot, make_window, source, small_png, tmp_path
):
    """Issue 22: Export RD data froze the window for seconds while MS-SSIM was measured on the GUI thread."""
    window = make_window(source, baselines=True)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    session = window.session
    assert session.missing_metrics() > 0
    assert window.exports.json(tmp_path / "stopped.json")
    assert not (tmp_path / "stopped.json").exists() and window.progress.isVisible()
    assert "MS-SSIM" in window.progress.bar.format() and "0/0" not in window.progress.bar.format()
    assert window.commands["stop"].isEnabled()
    window.commands["stop"].trigger()
    qtbot.waitUntil(lambda: not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert not (tmp_path / "stopped.json").exists() and not list(tmp_path.glob(".*part"))
    assert "not written" in window.status_label.text()

    assert window.exports.csv(tmp_path / "rd.csv")
    exported(qtbot, window, tmp_path / "rd.csv")
    assert session.missing_metrics() == 0 and not window.progress.isVisible()
    rows = list(csv.DictReader((tmp_path / "rd.csv").read_text().splitlines()))
    assert len(rows) > 8 and all(float(row["ms_ssim"]) > 0 for row in rows)
    assert window.status_label.text().startswith("Saved")


# ---------------------------------------------------------------------------------------------- failures


def test_corrupt_image_and_corrupt_lci_give_error_dialogs(qtbot, window, small_png, tmp_path, dialogs):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    window.open_path(bad)  # read in the worker: the error arrives from there
    qtbot.waitUntil(lambda: bool(dialogs.errors) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert dialogs.errors[-1][1] == "Could not open the image"
    assert "broken.png" in dialogs.errors[-1][2]

    window.open_path(small_png("photo.png"))
    wait_ladder(qtbot, window)
    good = window.session.results[2].lci
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    (tmp_path / "corrupt.lci").write_bytes(bytes(corrupt))
    (tmp_path / "short.lci").write_bytes(good[:20])
    count = len(dialogs.errors)
    window.open_path(tmp_path / "corrupt.lci")
    qtbot.waitUntil(lambda: len(dialogs.errors) > count, timeout=LADDER_TIMEOUT_MS)
    assert dialogs.errors[-1][1] == "Could not open the .lci file"
    assert "corrupt" in dialogs.errors[-1][2]
    window.open_path(tmp_path / "short.lci")
    qtbot.waitUntil(lambda: len(dialogs.errors) > count + 1, timeout=LADDER_TIMEOUT_MS)
    assert "truncated" in dialogs.errors[-1][2]

    # still alive and working
    window.open_path(small_png("after.png", seed=5))
    wait_ladder(qtbot, window)
    assert len(window.session.results) == 8


def test_lci_made_with_other_weights_is_refused_with_a_clear_message(qtbot, make_window, ladder_dir, tmp_path, dialogs):
    other = tmp_path / "other"
    other.mkdir()
    for q in range(1, 9):
        (other / f"q{q}.pth.tar").write_bytes((ladder_dir / f"q{9 - q}.pth.tar").read_bytes())
    first = make_window(open_weight_source(str(ladder_dir)))
    first.jobs.show_image(load_rgb(_png(tmp_path / "p.png")))
    wait_ladder(qtbot, first)
    (tmp_path / "q5.lci").write_bytes(first.session.results[5].lci)
    first.close()

    window = make_window(open_weight_source(str(other)))
    window.open_path(tmp_path / "q5.lci")
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=LADDER_TIMEOUT_MS)
    title, text = dialogs.errors[-1][1:]
    assert title == "Could not open the .lci file"
    assert "quality 5" in text and "fingerprint" in text


def _png(path: Path) -> Path:
    from lci_studio.codec.image_io import save_png

    save_png(path, make_photo(64, 96, 3))
    return path


def test_exception_in_the_worker_becomes_a_dialog(qtbot, make_window, ladder_dir, tmp_path, small_png, dialogs):
    folder = tmp_path / "damaged"
    folder.mkdir()
    for q in (1, 2, 3):
        (folder / f"q{q}.pth.tar").write_bytes((ladder_dir / f"q{q}.pth.tar").read_bytes())
    (folder / "q4.pth.tar").write_bytes(b"not a checkpoint at all")
    window = make_window(open_weight_source(str(folder)))
    window.open_path(small_png())
    qtbot.waitUntil(lambda: bool(dialogs.errors) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert dialogs.errors[-1][1] == "Could not compress the image"
    assert "q4.pth.tar" in dialogs.errors[-1][2]
    assert sorted(window.session.results) == [1, 2, 3]
    assert "not available" in window.compare.tile(6).overlay.text()
    assert window.isVisible()


def test_missing_bundled_weights_are_explained_and_settings_fix_it(qtbot, make_window, tmp_path, small_png, ladder_dir):
    def opener(spec, metric="mse"):
        if spec == "bundled":
            return BundledSource(tmp_path / "no-weights-here")
        return open_weight_source(spec, metric)

    window = make_window(None, opener=opener)
    assert window.session.source is None
    assert window.weights.banner.isVisible()
    assert "No bundled weights are installed" in window.weights.banner_label.text()
    window.open_path(small_png())
    qtbot.waitUntil(lambda: window.session.image is not None, timeout=LADDER_TIMEOUT_MS)
    assert window.session.image is not None and window.session.results == {}
    assert "Settings" in window.compare.tile(3).overlay.text()

    assert window.weights.apply(str(ladder_dir))
    assert not window.weights.banner.isVisible()
    wait_ladder(qtbot, window)
    assert window.settings.value("weights/spec") == str(ladder_dir.resolve())


def test_offline_download_falls_back_to_the_previous_weights(qtbot, make_window, source, tmp_path, dialogs):
    opener = partial(open_weight_source, base_url="http://127.0.0.1:9", cache_dir=tmp_path / "cache", timeout=5)
    window = make_window(source, opener=opener)
    assert not window.weights.apply("compressai", "mse")
    qtbot.waitUntil(lambda: bool(dialogs.errors), timeout=60_000)
    title, text = dialogs.errors[-1][1:]
    assert title == "Could not get the weights"
    assert "Could not download" in text and "Still using" in text
    assert window.session.source is source
    assert window.weights.dialog is None
    assert not list((tmp_path / "cache").glob("*"))


@pytest.fixture
def slow_server():
    """A local HTTP server that trickles 4 MB per request (64 kB every 250 ms), so a download can be watched."""
    import http.server
    import threading

    class Trickle(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(64 * 65536))
            self.end_headers()
            try:
                for _ in range(64):
                    self.wfile.write(b"\0" * 65536)
                    time.sleep(0.25)
            except OSError:
                pass

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_shows_progress_and_can_be_cancelled(qtbot, make_window, source, tmp_path, slow_server, dialogs):
    cache = tmp_path / "cache"
    opener = partial(open_weight_source, base_url=slow_server, cache_dir=cache, timeout=10)
    window = make_window(source, opener=opener)
    assert not window.weights.apply("compressai", "ms-ssim")
    dialog = window.weights.dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: "MB" in dialog.labelText(), timeout=60_000)
    assert "downloading compressai official (ms-ssim): file 1 of 8," in dialog.labelText().lower()
    qtbot.mouseClick(dialog.findChild(QPushButton), Qt.MouseButton.LeftButton)  # the dialog's Cancel
    qtbot.waitUntil(lambda: window.weights.dialog is None and not window.worker.busy(), timeout=60_000)
    assert "cancelled" in window.status_label.text()
    assert window.session.source is source
    assert dialogs.errors == []
    assert not [p for p in cache.rglob("*") if p.is_file()]  # no partial file left behind


# -------------------------------------------------------------------------------------------- split view


def test_split_view_swaps_and_shows_the_difference(qtbot, window, small_png):
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    window.session.select(2)
    split = window.split
    assert split.sides() == ("original", 2)
    qtbot.keyClick(window.compare, Qt.Key.Key_X)
    assert window.tabs.currentWidget() is split
    assert split.sides() == (2, "original")
    qtbot.keyClick(split.view, Qt.Key.Key_X)
    qtbot.keyClick(split.view, Qt.Key.Key_D)
    assert split.difference
    qtbot.waitUntil(lambda: split.label_a.text().startswith("|"))  # computed in the worker
    expected = difference(window.session.image.pixels, window.session.results[2].reconstruction, split.gain).image
    assert np.array_equal(np.asarray(split.shown_image()), expected)
    qtbot.keyClick(split.view, Qt.Key.Key_D)
    assert not split.difference
    split.set_divider_fraction(0.25)  # a quarter of the picture's part in view (the view is on its detail)
    (x0, x1), _ = split.viewbox.viewRange()
    left, right = max(x0, 0.0), min(x1, 128.0)
    assert split.clip.rect().left() == pytest.approx(left + 0.25 * (right - left))


# ----------------------------------------------------------------------------------------- clipboard, drop


def test_paste_and_drop_open_images(qtbot, window, small_png):
    pixels = make_photo(48, 64, 9)
    data = np.ascontiguousarray(pixels)
    QApplication.clipboard().setImage(QImage(data.data, 64, 48, 64 * 3, QImage.Format.Format_RGB888).copy())
    assert window.paste()
    qtbot.waitUntil(lambda: window.session.image is not None, timeout=LADDER_TIMEOUT_MS)
    assert window.session.image.name == "pasted image"
    assert np.array_equal(window.session.image.pixels, pixels)
    wait_ladder(qtbot, window)

    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_png("dropped.png")))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.session.image.name != "pasted image", timeout=LADDER_TIMEOUT_MS)
    assert window.session.image.name == "dropped.png"
    wait_ladder(qtbot, window)


def test_settings_remember_recent_files_and_layout(qtbot, make_window, source, small_png, settings):
    window = make_window(source)
    path = small_png("remember.png")
    window.open_path(path)
    wait_ladder(qtbot, window)
    window.session.select(7)
    window.rd_dock.hide()
    window._dock_share = 0.42  # as a drag of the docks' separator leaves it
    window.close()
    assert str(path.resolve()) in [str(p) for p in settings.value("recent")]
    again = make_window(source)
    assert again.session.selected == 7
    assert not again.rd_dock.isVisible() and again._dock_share == pytest.approx(0.42)
    again.opening.fill_recent(again.recent_menu)
    assert any(a.text() == "remember.png" for a in again.recent_menu.actions())


def test_ms_ssim_says_it_costs_time_and_is_not_remembered_across_launches(qtbot, make_window, source, small_png):
    """Issue 22: once pressed, M stayed on in every later launch and each photo took 12.0 s instead of 7.1 s
    with nothing saying why. The status bar says MS-SSIM was included; the next launch plots PSNR."""
    window = make_window(source)
    window.commands["metric"].trigger()  # M: the table's next metric after PSNR
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    assert window.commands["metric:ms-ssim"].isChecked()
    assert all("ms-ssim" in r.metrics for r in window.session.results.values())
    assert "MS-SSIM included" in window.status_label.text() and "M:" in window.status_label.text()
    window.close()
    again = make_window(source)
    assert again.rd_plot.current_metric() == "psnr" and again.commands["metric:psnr"].isChecked()
    again.open_path(small_png("next.png", seed=3))
    wait_ladder(qtbot, again)
    assert not any("ms-ssim" in r.metrics for r in again.session.results.values())
    assert "MS-SSIM" not in again.status_label.text()


def test_about_names_versions_weights_and_citations(window, dialogs, monkeypatch):
    window.show_about()
    kind, _title, text = dialogs.messages[-1]
    assert kind == "about"
    for part in ("PyTorch", "PySide6", "pyqtgraph", "constriction", "Ballé", "Bégaint", "CompressAI", "ICLR 2018"):
        assert part in text
    assert window.session.source.describe() in text

    # a build without constriction's metadata (the frozen app said "constriction ?")
    import importlib.metadata

    def no_metadata(dist):
        raise importlib.metadata.PackageNotFoundError(dist)

    monkeypatch.setattr(importlib.metadata, "version", no_metadata)
    window.show_about()
    text = dialogs.messages[-1][2]
    assert "?" not in text and "version not recorded" in text


def test_words_on_screen_ratios_plot_axis_and_weights(qtbot, window, small_png, tmp_path):
    """Issue 22, item 8: "53:1 smaller than raw", the .lci dialog's "52.5:1", an empty plot on a 0.1-0.9 dB
    axis, Weights… on the toolbar."""
    (x0, x1), (y0, y1) = window.rd_plot._item.viewRange()
    assert (x0, x1, y0, y1) == (0, 2, 20, 40)  # bpp 0-2, PSNR 20-40 dB before any point
    window.open_path(small_png("words.png"))
    wait_ladder(qtbot, window)
    window.session.select(2)
    assert "against raw" in window.status_label.text() and "smaller than raw" not in window.status_label.text()
    lci = tmp_path / "words-q2.lci"
    lci.write_bytes(window.session.results[2].lci)
    window.open_path(lci)
    qtbot.waitUntil(lambda: window.session.decoded is not None, timeout=LADDER_TIMEOUT_MS)
    window.commands["info"].trigger()  # the header is a command away, not a dialog at once (item 4)
    assert window.lci_info_dialog is not None and window.lci_info_dialog.isVisible()
    import re

    ratio = re.search(r"([0-9.]+):1 against raw RGB", window.lci_info_dialog.text()).group(1)
    assert "." not in ratio or float(ratio) < 10  # whole numbers from 10:1 up, as the glossary says
    assert window.commands["settings"] not in window.toolbar.actions()


def test_demo_mode_follows_the_results(qtbot, window, small_png):
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    window.commands["demo"].trigger()
    assert window.demo is not None and window.demo.isVisible()
    demo = window.demo
    assert demo.isFullScreen() and demo.screen() is window.screen()  # the window's screen, all of it
    assert demo.geometry() == window.screen().geometry()
    demo.zoom_to_detail()  # Z (offscreen the main window stays active and its own Z takes the key)
    detail = window.compare.detail
    assert detail is not None and demo.view() is not None
    assert demo.view().contains(QRectF(detail.x, detail.y, detail.width, detail.height))
    demo.close()


# ------------------------------------------------------------------------------------------- responsiveness


def test_event_loop_never_stalls_during_a_full_ladder_and_the_exports(
    qtbot, make_window, source, small_png, capsys, tmp_path
):
    """A 5 ms timer in the UI thread during a whole ladder (with the JPEG/WebP/AVIF baselines), then
    every export (the RD data's MS-SSIM, not yet measured, included).

    Two numbers: the worst wall-clock gap between ticks (what a user feels; on a loaded shared
    machine it includes time the OS gives to other processes) and the worst UI-thread CPU time
    between ticks (the work this program itself does in one go on the UI thread).
    """
    window = make_window(source, baselines=True)
    gaps: list[tuple[float, float]] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed(), time.thread_time()]

    def tick():
        now, cpu = clock.nsecsElapsed(), time.thread_time()
        gaps.append(((now - last[0]) / 1e6, (cpu - last[1]) * 1e3))
        last[:] = [now, cpu]

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(tick)
    # What is measured is this program's work: a full collection of the garbage that the
    # test session's earlier tests left behind (hundreds of ms once) is not part of it.
    gc.collect()
    gc.disable()
    try:
        timer.start()
        started = time.monotonic()
        window.open_path(small_png("stall.png", height=128, width=192))
        qtbot.waitUntil(lambda: not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
        # every export and copy, one at a time as a user asks for them, the RD data's missing MS-SSIM
        # included (measured in the worker)
        exports = window.exports
        for export in (
            lambda: exports.json(tmp_path / "rd.json"),
            lambda: exports.csv(tmp_path / "rd.csv"),
            lambda: exports.all_lci(tmp_path),
            lambda: exports.png(tmp_path / "q4.png"),
            lambda: exports.plot(tmp_path / "plot.png"),
            lambda: exports.copy_selected() is None,
        ):
            assert export()
            qtbot.wait(20)
        exported(qtbot, window, *(tmp_path / name for name in ("rd.json", "rd.csv", "q4.png", "plot.png")))
        timer.stop()
    finally:
        gc.enable()
    assert len(window.session.results) == 8 and window.session.baselines
    assert window.session.missing_metrics() == 0
    wall = max(g[0] for g in gaps[1:])
    cpu = max(g[1] for g in gaps[1:])
    with capsys.disabled():
        print(
            f"\n[event-loop] worst gap {wall:.1f} ms wall, {cpu:.1f} ms UI-thread CPU, "
            f"{len(gaps)} ticks in {time.monotonic() - started:.1f} s"
        )
    # What this must catch is a freeze (an export that measured MS-SSIM on the UI thread held it 4.8 s).
    # The target is 100 ms (docs/results.md, measured quiet); on a loaded 2-core machine the longest
    # piece, drawing the plot for its PNG (~30-45 ms quiet), was seen at 129 ms of CPU time.
    assert cpu < 250, f"the UI thread worked {cpu:.0f} ms without returning to the event loop"
    assert wall < 2000, f"the UI thread was unresponsive for {wall:.0f} ms"


# ------------------------------------------------------------------------------------------------ commands


def test_menus_and_toolbar_are_built_from_the_action_table(window, small_png, qtbot):
    def walk(menu):
        for action in menu.actions():
            yield action
            if action.menu() is not None:
                yield from walk(action.menu())

    in_menus = {a for top in window.menuBar().actions() for a in [top, *walk(top.menu())]}
    table = window.commands
    assert set(table.actions.values()) <= in_menus  # every command can be found in a menu
    assert set(window.quality_actions.values()) <= in_menus
    assert set(window.toolbar.actions()) - set(window.quality_actions.values()) <= set(table.actions.values()) | {
        a for a in window.toolbar.actions() if a.isSeparator() or a.text() == ""
    }
    assert [table[n].isEnabled() for n in ("export_lci", "export_json", "info", "stop")] == [False] * 4
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    assert [table[n].isEnabled() for n in ("export_lci", "export_json", "info", "stop")] == [True, True, False, False]
    # Weights… is Settings ▸ Weights…, where the messages send people ("choose … in Settings"), not on the toolbar
    assert table["settings"] not in window.toolbar.actions() and table["settings"].text() == "&Weights…"
    assert table["settings"] in window.menus["Settings"].actions()
