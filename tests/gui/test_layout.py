"""Layout at the sizes a presenter meets (1600×1000, and 1280×720 or 1024×768 on a projector): what must be on
screen is on screen, whole. Geometry is asserted, never pixels."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QImage, QMouseEvent, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsItem, QLabel, QWidget

from lci_studio.codec.baselines import decode_classical, sweep
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.number_format import format_kb
from lci_studio.gui.panels.latent import HEAT_ROW_PIXELS, LatentView
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.session import Session
from tests.conftest import make_model, make_photo
from tests.gui.conftest import LADDER_TIMEOUT_MS, wait_ladder

SIZES = ((1600, 1000), (1280, 720), (1024, 768))


def fully_shown(widget: QWidget) -> bool:
    """Visible, nothing of it cut off by any of its parents (their edges, the window's), and (a wrapped
    label) tall enough for all its lines."""
    if not widget.isVisible() or widget.width() <= 0 or widget.height() <= 0:
        return False
    rect = QRect(QPoint(0, 0), widget.size())
    child, parent = widget, widget.parentWidget()
    while parent is not None:
        rect = rect.translated(child.pos())
        if not parent.rect().contains(rect):
            return False
        child, parent = parent, parent.parentWidget()
    if isinstance(widget, QLabel) and widget.wordWrap() and widget.text():
        return widget.height() >= widget.heightForWidth(widget.width())
    return True


def fits(label: QLabel) -> bool:
    """Every line of an unwrapped label fits its width in the font it is drawn with."""
    metrics = label.fontMetrics()
    return all(metrics.horizontalAdvance(line) <= label.width() for line in label.text().splitlines())


def captions(latent: LatentView) -> list[QLabel]:
    return [label for label in latent.findChildren(QLabel) if label.text()]


def window_with_ladder(qtbot, make_window, source, photo, size):
    """A window at `size` that has compressed `photo` at every quality."""
    window = make_window(source)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().width() == size[0])
    window.open_path(photo)
    wait_ladder(qtbot, window)
    return window


@pytest.fixture(scope="module")
def wide_results():
    """Two qualities of a model with as many latent channels as the bundled q7/q8 (M = 192)."""
    image = RgbImage(make_photo(64, 96), 10000)
    out = []
    for quality in (1, 2):
        model = make_model(8, 192, seed=quality)
        info = ModelInfo("bundled", quality, "mse", LAMBDAS["mse"][quality - 1], 8, 192, weights_fingerprint(model))
        out.append(measure_quality(LoadedModel(model, info), image))
    return out


def show_panel(qtbot, panel_class, size):
    """A panel on a fresh session, shown at `size`: (width, height), or a function of the panel giving it."""
    session = Session()
    panel = panel_class(session)
    qtbot.addWidget(panel)
    panel.resize(*(size(panel) if callable(size) else size))
    panel.show()
    qtbot.waitExposed(panel)
    return session, panel


@pytest.mark.parametrize("size", [(560, 600), (740, 590), (1060, 870)])
def test_latent_view_gives_every_channel_a_row_and_cuts_no_caption(qtbot, wide_results, size):
    """The bits tab at the room it gets in a 1280×720 and a 1600×1000 window (and narrower): a screen
    row per channel in the heatmap, maps of a readable size, every caption whole."""
    session, latent = show_panel(qtbot, LatentView, size)
    for result in wide_results:
        session.add_result(result)
    session.select(2)
    qtbot.wait(20)
    heat_view = latent._heat.getPlotItem().vb
    top, bottom = (heat_view.mapViewToScene(QPointF(1, y)).y() for y in (0.5, 192.5))
    assert bottom - top >= 192 * HEAT_ROW_PIXELS - 0.5  # the rows themselves, not the margin round them
    for plot in (latent._spatial, latent._channel):
        assert plot.width() >= 240 and plot.height() >= 170 and fully_shown(plot)
    assert len(captions(latent)) == 3
    for label in captions(latent):
        assert fully_shown(label), label.text()


def test_rd_legend_sits_under_the_axes_whole(qtbot, wide_results):
    """The legend never covers a curve: it is below the plotting area and whole, at the narrowest the
    plot gets (the dock at 1280×720 is about as narrow)."""
    session, plot = show_panel(qtbot, RdPlot, lambda panel: (panel.minimumSizeHint().width(), 420))
    for result in wide_results:
        session.add_result(result)
    photo = make_photo(64, 96)
    session.set_baselines([p for codec in ("JPEG", "WebP") for p in sweep(photo, codec, settings=(30, 80))])
    plot.flush()
    qtbot.wait(50)
    legend, item = plot._legend, plot._item
    assert len(legend.items) == 3
    legend_box = legend.sceneBoundingRect()
    view_box = item.vb.sceneBoundingRect()
    axis_box = item.getAxis("bottom").sceneBoundingRect()
    assert legend_box.top() >= view_box.bottom() and legend_box.top() >= axis_box.bottom() - 1
    assert item.sceneBoundingRect().contains(legend_box)
    assert plot.plot_widget().sceneRect().contains(legend_box) and legend_box.right() <= plot.plot_widget().width()


def test_exported_plot_has_room_for_title_and_a_legend_drawn_to_scale(qtbot, wide_results, tmp_path, monkeypatch):
    """At export the title has its row (the plot area below it, not under it) and the legend scales
    with the picture (it ignored the exporter's scaling and came out tiny and off-centre)."""
    import pyqtgraph.exporters

    session, plot = show_panel(qtbot, RdPlot, (540, 420))
    for result in wide_results:
        session.add_result(result)
    plot.flush()
    seen = []
    real_export = pyqtgraph.exporters.ImageExporter.export

    def export(exporter, *args, **kwargs):
        item = plot._item
        flags = plot._legend.flags()
        seen.append((item.titleLabel.sceneBoundingRect(), item.vb.sceneBoundingRect(), flags))
        return real_export(exporter, *args, **kwargs)

    monkeypatch.setattr(pyqtgraph.exporters.ImageExporter, "export", export)
    plot.export_png(tmp_path / "rd.png", width=1200)
    ((title, view, legend_flags),) = seen
    assert title.height() > 10 and title.bottom() <= view.top() + 1
    assert not legend_flags & QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations  # scaled as the axes are


@pytest.mark.parametrize("size", SIZES)
def test_bits_tab_and_explanation_are_seen_together(qtbot, make_window, source, small_png, size):
    window = window_with_ladder(qtbot, make_window, source, small_png(), size)
    window.session.select(3)
    window.commands["bits"].trigger()
    qtbot.wait(50)
    assert window.tabs.currentWidget() is window.latent_view
    for widget in (window.latent_view, window.explanation, window.rd_plot):
        assert fully_shown(widget) and widget.width() >= 240 and widget.height() >= 200
    assert "Quality 3" in window.explanation.text() and "quality 3" in window.latent_view.captions()[1]
    for label in captions(window.latent_view):
        assert fully_shown(label), label.text()


@pytest.mark.parametrize("classical", [False, True])
@pytest.mark.parametrize("size", SIZES)
def test_tile_captions_are_whole(qtbot, make_window, source, small_png, size, classical):
    """Every tile's caption is on screen whole: smaller or shorter on a narrow tile, never cut; also
    with the column of classical codecs, whose tiles show the selected quality's size."""
    window = window_with_ladder(qtbot, make_window, source, small_png(), size)
    window.session.select(2)
    codecs = window.compare.classical_tiles
    if classical:
        window.commands["classical_grid"].trigger()
        qtbot.waitUntil(lambda: all((c, 2) in window.session.classical for c in codecs), timeout=LADDER_TIMEOUT_MS)
    qtbot.wait(50)
    tiles = [*window.compare.tiles.values(), *(codecs.values() if classical else ())]
    for tile in tiles:
        for label in (tile.title, tile.details):
            assert fully_shown(label) and fits(label), label.text()
    sizes = {window.compare.tiles[q].details.font().pointSizeF() for q in range(1, 9)}
    assert len(sizes) == 1  # the qualities' captions read at one size (a short form where the whole won't fit)
    assert all(not tile.isVisible() for tile in codecs.values()) != classical
    for codec, tile in codecs.items() if classical else ():
        point = window.session.classical[(codec, 2)]
        assert np.array_equal(tile.pixels, decode_classical(point.data))
        caption = tile.caption_text()
        assert f"{codec} at the size of quality 2" in caption and f"setting {point.setting}" in caption
        assert format_kb(point.file_bytes) in caption and f"PSNR {point.psnr:.2f} dB" in caption


def test_zoomed_near_an_edge_every_view_shows_picture_to_its_edges(qtbot, make_window, source, small_png):
    """The grid's zoom onto a detail by the picture's border: the split view, larger than a tile,
    shows more of the picture, never blank beyond its edge; a view larger than the picture centres it."""
    window = make_window(source)
    window.resize(1600, 1000)
    window.open_path(small_png())  # 128 × 96
    wait_ladder(qtbot, window)
    window.tabs.setCurrentWidget(window.split)
    qtbot.wait(50)
    sync = window.compare.sync
    for zoom, centre in ((16.0, (4.0, 3.0)), (16.0, (126.0, 95.0)), (2.0, (4.0, 3.0))):
        sync.set_zoom(zoom, centre)
        for vb in (window.split.viewbox, window.compare.tiles[0].viewbox):
            (x0, x1), (y0, y1) = vb.viewRange()
            for low, high, size in ((x0, x1, 128), (y0, y1, 96)):
                if high - low < size:  # the view shows part of the picture: all of it picture
                    assert low >= -1e-6 and high <= size + 1e-6, (zoom, centre, low, high)
                else:
                    assert (low + high) / 2 == pytest.approx(size / 2)
    # the split at zoom 16 shows ~56 × 50 picture pixels from the corner; the tile, smaller, as close as it gets
    sync.set_zoom(16.0, (4.0, 3.0))
    (x0, _), (y0, _) = window.split.viewbox.viewRange()
    assert (x0, y0) == (pytest.approx(0.0), pytest.approx(0.0))


def divider_share(split) -> float:
    """Where the split's divider stands on screen: its share of the picture's part in view, left to right."""
    vb = split.viewbox
    (x0, x1), _ = vb.viewRange()
    width = split.session.image.width
    left, right = (vb.mapViewToScene(QPointF(x, 0)).x() for x in (max(x0, 0.0), min(x1, width)))
    return (vb.mapViewToScene(QPointF(split.divider.value(), 0)).x() - left) / (right - left)


@pytest.mark.parametrize("size", ((1024, 768), (1600, 1000)))
def test_the_split_opens_with_its_divider_in_the_middle(qtbot, make_window, source, small_png, size):
    """The divider stands in the middle of the picture in view whenever the split is shown and for a new
    picture, although the grid opened zoomed onto its detail (it stood where the picture's middle fell:
    94 %, 31 %, 56 % of the view); it keeps its place as the view zooms, and a drag moves it."""
    window = window_with_ladder(qtbot, make_window, source, small_png(height=128, width=192), size)
    split, sync = window.split, window.sync
    assert sync.zoom is not None  # on the detail
    sync.set_zoom(4 * sync.zoom, (20.0, 20.0))  # and near a corner: the picture's middle is far out of view
    window.tabs.setCurrentWidget(split)
    qtbot.waitUntil(lambda: split.divider.isVisible())
    assert divider_share(split) == pytest.approx(0.5, abs=0.01)
    assert split.clip.rect().left() == pytest.approx(split.divider.value())
    split.set_divider_fraction(0.3)  # as a drag leaves it
    sync.set_zoom(sync.zoom / 2, sync.center)
    assert divider_share(split) == pytest.approx(0.3, abs=0.01)
    window.tabs.setCurrentWidget(window.compare)
    window.tabs.setCurrentWidget(split)  # shown again: in the middle again
    assert divider_share(split) == pytest.approx(0.5, abs=0.01)
    split.set_divider_fraction(0.8)
    window.open_path(small_png("other.png", height=96, width=128, seed=3))  # a new picture, the split shown
    wait_ladder(qtbot, window)
    assert divider_share(split) == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("size", ((1280, 720), (1024, 768)))
def test_an_opened_lci_file_says_in_each_view_what_it_can_show(qtbot, make_window, source, small_png, tmp_path, size):
    """A .lci holds no original: the classical column says so instead of headers over empty tiles, the bits
    tab's placeholder says so, whole (it read "…nnels appear here as each quality finis…"), and the plot
    marks the file's own rate, saying why it has no PSNR (it stood empty)."""
    from lci_studio.codec.image_io import load_rgb
    from lci_studio.codec.pipeline import encode_image

    encoded = encode_image(source.load(3), load_rgb(small_png()).pixels, with_bit_map=False)
    path = tmp_path / "photo-q3.lci"
    path.write_bytes(encoded.lci)
    window = make_window(source)
    window.resize(*size)
    qtbot.waitUntil(lambda: window.size().width() == size[0])
    window.show_classical_in_grid(True)
    window.open_path(path)
    qtbot.waitUntil(lambda: window.session.decoded is not None and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    window.tabs.setCurrentWidget(window.compare)
    for codec, tile in window.compare.classical_tiles.items():
        assert "No original to compare with" in tile.overlay.text() and codec in tile.overlay.text()
    window.tabs.setCurrentWidget(window.latent_view)
    qtbot.wait(50)
    empty = window.latent_view._heat_empty
    assert empty.isVisible() and ".lci" in empty.toPlainText() and "appear here" not in empty.toPlainText()
    view = window.latent_view._heat.getPlotItem().vb.sceneBoundingRect()
    assert view.contains(empty.sceneBoundingRect())  # whole, not cut at the heatmap's sides
    mark = window.rd_plot.file_mark()
    assert mark is not None and "photo-q3.lci" in mark and f"{window.session.decoded.bpp:.3f} bpp" in mark
    assert "no original" in mark
    (x0, x1), _ = window.rd_plot.plot_widget().getPlotItem().vb.viewRange()
    assert x0 < window.session.decoded.bpp < x1
    window.open_path(small_png())  # a picture again: no file on the plot
    wait_ladder(qtbot, window)
    assert window.rd_plot.file_mark() is None


@pytest.mark.parametrize("size", SIZES)
def test_split_captions_do_not_cover_each_other(qtbot, make_window, source, small_png, size):
    """A classical codec's long caption on the left and the quality's on the right: both whole, side
    by side where they fit, else one under the other."""
    from lci_studio.gui.panels.split import CLASSICAL, SELECTED

    window = window_with_ladder(qtbot, make_window, source, small_png(), size)
    window.session.select(2)
    window.tabs.setCurrentWidget(window.split)
    window.split.set_sides(CLASSICAL + "JPEG", SELECTED)
    qtbot.waitUntil(lambda: ("JPEG", 2) in window.session.classical, timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: "nearest to quality 2" in window.split.label_a.text())
    a, b = window.split.label_a, window.split.label_b
    assert fully_shown(a) and fully_shown(b) and fits(a) and fits(b)
    assert not a.geometry().intersects(b.geometry())


def test_a_1024_by_768_window_fits_with_every_control_whole(qtbot, make_window, source, small_png):
    """The window fits a 1024×768 projector: the split's and the plot's controls wrap onto more rows
    rather than holding the window wider (they needed 655 and 536 px on one row) or being cut off."""
    window = make_window(source)
    window.resize(1024, 768)
    qtbot.waitUntil(lambda: window.size().width() == 1024)
    assert window.minimumSizeHint().width() <= 1024
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    window.tabs.setCurrentWidget(window.split)
    qtbot.wait(50)
    assert window.width() == 1024 and window.height() == 768
    for bar in (window.split.bar, window.rd_plot.bar):
        assert fully_shown(bar)
        for row in bar.rows():
            for group in row:
                assert fully_shown(group)
                for child in group.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly):
                    assert fully_shown(child), child
    assert len(window.rd_plot.bar.rows()) == 2  # the dock is narrower than both groups side by side
    window.resize(1600, 1000)
    qtbot.waitUntil(lambda: window.size().width() == 1600)
    qtbot.wait(50)
    assert len(window.split.bar.rows()) == 1  # one row where it fits


def test_the_docks_keep_their_share_and_the_plot_buttons_one_row_at_1600(qtbot, make_window, source):
    """The docks' column is a share of the window's width at every size (Qt gave a resize all to the
    central widget: a 460 px dock put the plot's buttons on two rows at 1600×1000 and took 45 % of a
    1024 px projector); a drag of the separator sets the share that later sizes keep."""
    from lci_studio.gui.window import DOCK_SHARE

    window = make_window(source)
    for width, height in (*SIZES, (1600, 1000)):
        window.resize(width, height)
        qtbot.waitUntil(lambda w=width: abs(window.rd_dock.width() - DOCK_SHARE * w) <= 2)
    bar = window.rd_plot.bar
    qtbot.waitUntil(lambda: len(bar.rows()) == 1)
    assert fully_shown(bar) and all(fully_shown(group) for group in bar.rows()[0])
    # the separator between the pictures and the docks, dragged 200 px to the left
    y = window.rd_dock.y() + window.rd_dock.height() // 2
    start = QPoint((window.centralWidget().geometry().right() + window.rd_dock.x()) // 2 + 1, y)
    left = Qt.MouseButton.LeftButton
    for kind, x, button, held in (
        (QEvent.Type.MouseButtonPress, 0, left, left),
        (QEvent.Type.MouseMove, -100, Qt.MouseButton.NoButton, left),
        (QEvent.Type.MouseMove, -200, Qt.MouseButton.NoButton, left),
        (QEvent.Type.MouseButtonRelease, -200, left, Qt.MouseButton.NoButton),
    ):
        at = QPointF(start + QPoint(x, 0))
        QApplication.sendEvent(
            window, QMouseEvent(kind, at, window.mapToGlobal(at), button, held, Qt.KeyboardModifier.NoModifier)
        )
        qtbot.wait(20)  # Qt moves the separator on a timer after each move
    qtbot.waitUntil(lambda: window.rd_dock.width() >= 560 + 190)
    share = window.rd_dock.width() / 1600
    window.resize(1280, 720)
    qtbot.waitUntil(lambda: abs(window.rd_dock.width() - share * 1280) <= 2)


def test_last_tick_label_of_the_plot_is_clear_of_the_docks_edge(qtbot, make_window, source, small_png):
    """At 1024×768 (the narrowest dock) the bits-per-pixel labels, the last one too, lie inside the plot
    with room to spare, wherever the range ends (the last label touched the dock's edge)."""
    window = window_with_ladder(qtbot, make_window, source, small_png(), (1024, 768))
    plot, axis = window.rd_plot.plot_widget(), window.rd_plot._item.getAxis("bottom")
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    rightmost = []
    for top in np.arange(2.9, 3.1, 0.01):
        window.rd_plot._item.setRange(xRange=(0, top), padding=0)
        qtbot.wait(5)
        painter = QPainter(image)
        _axis, _ticks, texts = axis.generateDrawSpecs(painter)  # the labels as the axis draws them
        painter.end()
        drawn = [plot.mapFromScene(axis.mapRectToScene(rect)).boundingRect() for rect, _flags, _text in texts]
        assert drawn and all(rect.left() >= 0 for rect in drawn)
        rightmost.append(max(rect.right() for rect in drawn))
    assert max(rightmost) <= plot.width() - 6, (max(rightmost), plot.width())


def test_arrows_point_at_the_selected_channel_and_follow_it(qtbot, wide_results):
    """The selected cell is one row of 192 (a few pixels): arrows of a fixed screen size beside it, on
    its row's centre, move with the selected quality and channel rank."""
    session, latent = show_panel(qtbot, LatentView, (740, 590))
    assert not any(arrow.isVisible() for arrow in latent.row_arrows)
    for result in wide_results:
        session.add_result(result)
    for quality, rank in ((2, 0), (2, 37), (1, 37), (1, 191)):
        session.select(quality)
        latent.set_channel_rank(rank)
        left, right = latent.row_arrows
        assert left.isVisible() and right.isVisible()
        assert (left.pos().x(), left.pos().y()) == (quality - 0.5, rank + 1)
        assert (right.pos().x(), right.pos().y()) == (quality + 0.5, rank + 1)
        box = latent._heat.getPlotItem().vb.mapViewToScene(left.pos())
        assert left.sceneBoundingRect().height() >= 10  # screen pixels, whatever the row's height
        assert abs(left.sceneBoundingRect().center().y() - box.y()) <= 1


@pytest.mark.parametrize("size", [(560, 600), (1060, 870)])
def test_arrows_of_the_first_and_last_channel_are_whole(qtbot, wide_results, size):
    """The busiest channel (the top row) and the last one: both arrows within the heatmap's view from top
    to bottom (half of each was cut at its top or bottom edge), the one towards quality 8 whole."""
    session, latent = show_panel(qtbot, LatentView, size)
    for result in wide_results:
        session.add_result(result)
    heat = latent._heat
    for quality, rank in ((2, 0), (2, 191), (1, 0), (1, 191)):
        session.select(quality)
        latent.set_channel_rank(rank)
        qtbot.wait(20)
        # in the widget's pixels: the arrows ignore the view's scaling (their scene rectangle is no measure)
        shown = heat.mapFromScene(heat.getPlotItem().vb.sceneBoundingRect()).boundingRect().toRectF()
        left, right = (a.deviceTransform(heat.viewportTransform()).mapRect(a.boundingRect()) for a in latent.row_arrows)
        for arrow in (left, right):
            assert arrow.height() >= 10
            assert shown.top() <= arrow.top() and arrow.bottom() <= shown.bottom(), (quality, rank, arrow, shown)
        assert shown.contains(right)  # towards the columns of higher qualities: whole
    axis = heat.getPlotItem().getAxis("left")
    low, high = axis.range  # as the axis asks for its ticks (high to low: the view is upside down)
    assert min(low, high) < 0.5
    ticks = axis.tickValues(low, high, shown.height())
    assert all(value >= 1 for _spacing, values in ticks for value in values)  # no row "0"
