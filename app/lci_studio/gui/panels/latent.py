"""Latent view: which channels carry bits at each quality, and where in the picture they go.

A view of the `Session`'s results and selection (a refined quality: its refined file, `Session.file_result`, as the
grid shows it); which channel is shown (its rank) is its own.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lci_studio.codec.bit_maps import (
    ChannelHeatmap,
    channel_bits_per_element,
    channel_heatmap,
    channel_map,
    channel_ranking,
    picture_extent,
    spatial_bits,
)
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.model import QUALITIES, FactorizedPrior
from lci_studio.codec.number_format import format_kb, format_percent
from lci_studio.session import Session

HEATMAP_COLOURS = "viridis"
MAP_COLOURS = "inferno"
MAP_OPACITY = 0.7  # a bit map over its picture: the picture shows through where few bits go
CAPTION_SCALE = 1.15  # captions and axis text relative to the application font (a projector's back row)
HEAT_ROW_PIXELS = 1.0  # the heatmap is at least this many screen pixels per channel row
HEAT_AXES_HEIGHT = 70  # what the quality axis and its label take below the heatmap's rows
HEAT_MIN_HEIGHT = 200
ARROW_HALF_HEIGHT = 8  # the arrows beside the selected cell are 16 px tall (a row is 1-3 px), 22 px long
HEAT_EDGE_PIXELS = ARROW_HALF_HEIGHT + 2  # room above the first row and below the last: those rows' arrows stay whole
HEAT_WAITING = "Channels appear here as each quality finishes."
HEAT_OF_A_FILE = "An .lci file is only decoded, not measured: open the picture itself to see which channels carry bits."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _caption(text: str = "") -> QLabel:
    """A wrapped caption, a little larger than the application font (read from across a room), that
    keeps the height its wrapped text needs: a squeezed layout shrinks the plots, never the words."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setFont(_scaled_font(label.font(), CAPTION_SCALE))
    policy = label.sizePolicy()
    policy.setVerticalPolicy(QSizePolicy.Policy.Minimum)
    label.setSizePolicy(policy)
    return label


def _scaled_font(font: QFont, scale: float) -> QFont:
    font = QFont(font)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    else:
        font.setPixelSize(round(font.pixelSize() * scale))
    return font


class _RowAxis(pg.AxisItem):
    """The channel axis: ticks from row 1 on, none in the margin above the first row (it read "0")."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        low, high = sorted((minVal, maxVal))  # the view is upside down: the axis may ask high to low
        return super().tickValues(max(low, 1.0), high, size)


class _ImagePlot(pg.PlotWidget):
    """A PlotWidget holding one row-major ImageItem with a colour bar; no menus."""

    def __init__(self, colours: str, bar_label: str, lock_aspect: bool, axes: dict | None = None) -> None:
        super().__init__(axisItems=axes)
        self.setMinimumSize(240, 170)
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.setMouseEnabled(x=False, y=False)
        item.vb.invertY(True)
        item.vb.setAspectLocked(lock_aspect)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.addItem(self.image)
        self.under = pg.ImageItem(axisOrder="row-major")  # the picture the map is of, beneath it (optional)
        self.under.setZValue(-1)
        self.under.hide()
        self.addItem(self.under)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=colours, label=bar_label, interactive=False, width=14)
        self.bar.setImageItem(self.image, insert_in=item)
        self._font = _scaled_font(self.font(), CAPTION_SCALE)
        for axis in self._axes():
            axis.setStyle(tickFont=self._font)

    def sizeHint(self) -> QSize:
        # pyqtgraph's hint follows the colour bar's length; a neutral hint lets the stretch factors decide
        return QSize(320, 220)

    def show_array(self, data: np.ndarray | None, rect: QRectF | None = None, view: QRectF | None = None) -> None:
        """Show `data` (rows × columns) over `rect`, coloured from 0 to its maximum; frame `view` (default: all)."""
        if data is None or data.size == 0:
            self.image.clear()
            self.bar.setLevels((0.0, 1.0))
            return
        finite = data[np.isfinite(data)]
        top = float(finite.max()) if finite.size else 1.0
        top = top if top > 0 else 1.0
        self.image.setImage(data, autoLevels=False, levels=(0.0, top))
        self.bar.setLevels((0.0, top))
        rect = rect or QRectF(0, 0, data.shape[1], data.shape[0])
        self.image.setRect(rect)
        self.getPlotItem().vb.setRange(view or rect, padding=0)

    def show_under(self, pixels: np.ndarray | None, rect: QRectF | None = None) -> None:
        """The picture beneath the map over `rect` (the map then partly transparent), or none."""
        if pixels is None or rect is None:
            self.under.clear()
            self.under.hide()
            self.image.setOpacity(1.0)
            return
        self.under.setImage(np.ascontiguousarray(pixels), levels=(0, 255), autoLevels=False)
        self.under.setRect(rect)
        self.under.show()
        self.image.setOpacity(MAP_OPACITY)

    def apply_palette(self, palette: QPalette) -> None:
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self.setBackground(base)
        size = f"{self._font.pointSizeF():.1f}pt" if self._font.pointSizeF() > 0 else f"{self._font.pixelSize()}px"
        for axis in self._axes():
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
            if axis.labelText:
                axis.setLabel(axis.labelText, color=text.name(), **{"font-size": size})

    def _axes(self) -> list[pg.AxisItem]:
        sides = ("left", "bottom", "top", "right")
        return [owner.getAxis(name) for owner in (self.getPlotItem(), self.bar) for name in sides]


class LatentView(QWidget):
    """Bits per latent channel × quality (channels ranked by bits), plus spatial maps of one quality.

    Click a heatmap cell to select its quality (in the session) and channel (emits
    `channelSelected`); the spin box picks a channel by rank (1 = most bits) at the selected quality.
    """

    channelSelected = Signal(int)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._rank = 0  # 0-based: 0 = the channel with the most bits
        self._heatmap = channel_heatmap([], QUALITIES)

        self._heat_caption = _caption(
            "Bits in each latent channel, quality by quality: one column per quality, one row per channel "
            "(the busiest at the top). Bright = many bits, dark = almost none. Channels wake up as the "
            "quality rises: that is how quality sets the file size."
        )
        self._heat = _ImagePlot(HEATMAP_COLOURS, "bits per square", lock_aspect=False, axes={"left": _RowAxis("left")})
        heat_item = self._heat.getPlotItem()
        heat_item.setLabel("left", "channels, busiest first")
        heat_item.setLabel("bottom", "quality")
        heat_item.getAxis("bottom").setTicks([[(q, str(q)) for q in QUALITIES]])
        self._column_box = QGraphicsRectItem()
        self._cell_box = QGraphicsRectItem()
        # the selected cell is one row of 160-192, ~1-3 px tall: arrows of a fixed screen size on both
        # sides of it point it out; the view keeps HEAT_EDGE_PIXELS above the first row and below the
        # last, so that the arrows of those rows are whole (beside quality 1 or 8 the outer arrow falls
        # outside the view, the inner one never: a margin for it would take a column's width at 1280×720)
        arrow = {"headLen": 14, "headWidth": ARROW_HALF_HEIGHT, "tailLen": 8, "tailWidth": 4}
        self.row_arrows = (
            pg.ArrowItem(angle=180, **arrow),  # left of it, pointing right
            pg.ArrowItem(angle=0, **arrow),
        )
        self._heat_cells: QRectF | None = None  # where the heatmap's cells are, in plot coordinates
        heat_item.vb.sigResized.connect(lambda _vb: self._frame_heat())
        for box, z in ((self._column_box, 10), (self._cell_box, 11), *((a, 12) for a in self.row_arrows)):
            box.setZValue(z)
            box.hide()
            heat_item.addItem(box, ignoreBounds=True)
        self._heat.scene().sigMouseClicked.connect(self._on_heat_click)
        self._heat_empty = pg.TextItem(HEAT_WAITING, anchor=(0.5, 0.5))
        self._heat_empty.setPos(4.5, 8.5)
        heat_item.addItem(self._heat_empty, ignoreBounds=True)
        heat_item.vb.sigResized.connect(lambda _vb: self._wrap_heat_empty())

        self._spatial_caption = _caption()
        self._spatial = _ImagePlot(MAP_COLOURS, "bits", lock_aspect=True)
        self._channel_caption = _caption()
        self._rank_box = QSpinBox()
        self._rank_box.setRange(1, 1)
        self._rank_box.setPrefix("busiest #")
        self._rank_box.setToolTip("Pick a channel by rank: 1 is the channel that spends the most bits")
        self._rank_box.valueChanged.connect(lambda value: self.set_channel_rank(value - 1))
        self._channel = _ImagePlot(MAP_COLOURS, "bits", lock_aspect=True)
        for plot in (self._spatial, self._channel):
            for name in ("left", "bottom"):
                plot.getPlotItem().hideAxis(name)

        # the heatmap is tall (a row per channel): a column of its own; the two maps (the picture's
        # shape) stacked beside it, each under its caption
        heat_column = QVBoxLayout()
        heat_column.addWidget(self._heat_caption)
        heat_column.addWidget(self._heat, 1)
        self._under_box = QCheckBox("Picture underneath")
        self._under_box.setChecked(True)
        self._under_box.setToolTip("Show the picture beneath both maps, to see which parts of it cost bits")
        self._under_box.toggled.connect(lambda _on: self._refresh())
        controls = QVBoxLayout()  # between the two maps: the box is for both
        controls.addWidget(self._rank_box)
        controls.addWidget(self._under_box)
        controls.addStretch(1)
        channel_head = QHBoxLayout()
        channel_head.addWidget(self._channel_caption, 1)
        channel_head.addLayout(controls)
        maps = QVBoxLayout()
        maps.addWidget(self._spatial_caption)
        maps.addWidget(self._spatial, 1)
        maps.addSpacing(6)
        maps.addLayout(channel_head)
        maps.addWidget(self._channel, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(12)
        layout.addLayout(heat_column, 2)
        layout.addLayout(maps, 3)

        self._apply_palette()
        self._refresh()
        events = session.events
        events.opened.connect(self._restart)
        events.ladder_started.connect(self._restart)
        events.result_added.connect(lambda _result: self._refresh())
        events.refined_added.connect(lambda _result: self._refresh())
        events.selection_changed.connect(lambda _quality: self._refresh())
        events.finished.connect(lambda _end: self._refresh())  # "being computed" no more

    # ------------------------------------------------------------------------------------ public API

    def selected(self) -> int | None:
        """The quality whose maps are shown: the session's selection."""
        return self.session.selected

    def set_channel_rank(self, rank: int) -> None:
        """Show the `rank`-th busiest channel (0 = most bits) of the selected quality."""
        self._rank = max(0, int(rank))
        self._refresh()
        channel = self.selected_channel()
        if channel is not None:
            self.channelSelected.emit(channel)

    def _shown_result(self) -> QualityResult | None:
        """The selected quality's file whose bits are shown: the refined one when there is one, as the grid shows."""
        return self.session.file_result(self.session.selected)

    def channel_rank(self) -> int:
        return self._rank

    def selected_channel(self) -> int | None:
        """Index (in its model) of the channel shown in the single-channel map."""
        result = self._shown_result()
        if result is None:
            return None
        ranking = channel_ranking(result)
        return int(ranking[min(self._rank, ranking.size - 1)])

    def heatmap(self) -> ChannelHeatmap:
        """The channels × quality matrix now shown."""
        return self._heatmap

    def spatial_image(self) -> np.ndarray | None:
        return self._spatial.image.image

    def channel_image(self) -> np.ndarray | None:
        return self._channel.image.image

    def captions(self) -> tuple[str, str, str]:
        """(heatmap, spatial map, channel map) captions as shown."""
        return self._heat_caption.text(), self._spatial_caption.text(), self._channel_caption.text()

    def _restart(self, _value: object) -> None:
        """A new picture or a new ladder: back to the busiest channel."""
        self._rank = 0
        self._refresh()

    # ------------------------------------------------------------------------------------ drawing

    def _refresh(self) -> None:
        session = self.session
        files = [session.file_result(q) for q in session.results]  # a refined quality's own file
        self._heatmap = channel_heatmap([f for f in files if f is not None], QUALITIES)
        matrix = self._heatmap.matrix
        rows = matrix.shape[0]
        first_q = self._heatmap.qualities[0] if self._heatmap.qualities else 1
        # every channel gets a screen row of its own (160-192 channels in the bundled models)
        rows_height = round(rows * HEAT_ROW_PIXELS) + 2 * HEAT_EDGE_PIXELS
        self._heat.setMinimumHeight(max(HEAT_MIN_HEIGHT, rows_height + HEAT_AXES_HEIGHT))
        if rows:
            # rows sit at 0.5 … rows + 0.5 so that the axis reads 1 at the busiest channel
            self._heat_cells = QRectF(first_q - 0.5, 0.5, matrix.shape[1], rows)
            self._heat.show_array(matrix, self._heat_cells)
            self._frame_heat()
            self._heat_empty.hide()
        else:
            self._heat_cells = None
            self._heat.show_array(None)
            self._heat.getPlotItem().vb.setRange(xRange=(0.5, 8.5), yRange=(0.5, 16.5), padding=0)
            self._heat_empty.setText(HEAT_OF_A_FILE if self.session.decoded is not None else HEAT_WAITING)
            self._wrap_heat_empty()
            self._heat_empty.show()
        result = self._shown_result()
        self._update_boxes(result, rows)
        self._update_maps(result)

    def _wrap_heat_empty(self) -> None:
        """The empty heatmap's words wrapped to its width (on one line they were cut at both sides at 1280×720)."""
        width = self._heat.getPlotItem().vb.width()
        if width > 0:
            self._heat_empty.setTextWidth(max(60.0, width - 16))

    def _frame_heat(self) -> None:
        """Frame the heatmap's cells with HEAT_EDGE_PIXELS of screen above and below them (in plot
        units, which depend on the view's height: again at every resize)."""
        cells = self._heat_cells
        if cells is None:
            return
        view = self._heat.getPlotItem().vb
        inside = view.height() - 2 * HEAT_EDGE_PIXELS
        margin = HEAT_EDGE_PIXELS * cells.height() / inside if inside > 0 else 0.0
        view.setRange(
            xRange=(cells.left(), cells.right()), yRange=(cells.top() - margin, cells.bottom() + margin), padding=0
        )

    def _update_boxes(self, result: QualityResult | None, rows: int) -> None:
        if result is None or not rows:
            for item in (self._column_box, self._cell_box, *self.row_arrows):
                item.hide()
            return
        q = result.quality
        channels = result.bits_per_channel.shape[0]
        rank = min(self._rank, channels - 1)
        self._column_box.setRect(QRectF(q - 0.5, 0.5, 1, channels))
        self._cell_box.setRect(QRectF(q - 0.5, rank + 0.5, 1, 1))
        left, right = self.row_arrows
        left.setPos(q - 0.5, rank + 1)  # the tips touch the cell's sides, on its row's centre
        right.setPos(q + 0.5, rank + 1)
        for item in (self._column_box, self._cell_box, *self.row_arrows):
            item.show()

    def _update_maps(self, result: QualityResult | None) -> None:
        if result is None:
            if self.session.decoded is not None:
                waiting = "An opened .lci file is only decoded: open the picture itself to see where its bits go."
            elif self.session.is_computing(self.session.selected):
                waiting = f"Quality {self.session.selected} is being computed…"
            elif self.session.selected is not None:
                waiting = f"Quality {self.session.selected} is not computed."
            else:
                waiting = "Pick a quality to see where its bits go."
            self._spatial_caption.setText(waiting)
            self._channel_caption.setText("One channel on its own appears here.")
            for plot in (self._spatial, self._channel):
                plot.show_array(None)
                plot.show_under(None)
            self._rank_box.blockSignals(True)
            self._rank_box.setRange(1, 1)
            self._rank_box.setSuffix("")
            self._rank_box.setEnabled(False)
            self._rank_box.blockSignals(False)
            return
        q = result.quality
        block = FactorizedPrior.downsampling
        total_bits = float(result.bits_per_channel.sum())
        which = f"quality {q}'s refined file" if result.encoder.refines else f"quality {q}"
        self._spatial_caption.setText(
            f"Where {which} spends its bits: {format_kb(total_bits / 8)} in all (the model's estimate). "
            f"Each square covers {block} × {block} pixels; bright squares cost the most."
        )
        x, y, w, h = picture_extent(result)
        picture = QRectF(x, y, w, h)
        self._spatial.show_array(spatial_bits(result), view=picture)

        channels = result.bits_per_channel.shape[0]
        self._rank = min(self._rank, channels - 1)
        channel = int(channel_ranking(result)[self._rank])
        bits = float(result.bits_per_channel[channel])
        per_position = float(channel_bits_per_element(result)[channel])
        share = bits / total_bits if total_bits > 0 else 0.0
        self._channel_caption.setText(
            f"Channel {channel} alone, the {_ordinal(self._rank + 1)} busiest of {channels}: "
            f"{bits:,.0f} bits ({per_position:.2f} per square), {format_percent(share)} of the total."
        )
        self._channel.show_array(channel_map(result, channel), view=picture)
        under = result.reconstruction if self._under_box.isChecked() else None
        for plot in (self._spatial, self._channel):
            plot.show_under(under, picture)
        self._rank_box.blockSignals(True)
        self._rank_box.setEnabled(True)
        self._rank_box.setRange(1, channels)
        self._rank_box.setSuffix(f" of {channels}")
        self._rank_box.setValue(self._rank + 1)
        self._rank_box.blockSignals(False)

    def _apply_palette(self) -> None:
        palette = self.palette()
        for plot in (self._heat, self._spatial, self._channel):
            plot.apply_palette(palette)
        text = palette.color(QPalette.ColorRole.Text)
        self._column_box.setPen(pg.mkPen("w", width=2))  # on the colour map's dark purple (a fixed map: a fixed colour)
        self._cell_box.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Highlight), width=3))
        for arrow in self.row_arrows:
            arrow.setStyle(pen=pg.mkPen("k", width=1), brush=pg.mkBrush(palette.color(QPalette.ColorRole.Highlight)))
        self._heat_empty.setColor(text)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)

    # ------------------------------------------------------------------------------------ mouse

    def cell_at(self, view_x: float, view_y: float) -> tuple[int, int] | None:
        """(quality, rank) of the heatmap cell at plot coordinates, if it holds a computed channel."""
        quality, rank = round(view_x), math.floor(view_y - 0.5)
        column = self._heatmap.column(quality)
        if column is None or not 0 <= rank < self._heatmap.matrix.shape[0]:
            return None
        if not math.isfinite(self._heatmap.matrix[rank, column]):
            return None
        return quality, rank

    def _on_heat_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self._heat.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(point.x(), point.y())
        if cell is None:
            return
        quality, rank = cell
        self._rank = rank
        if quality != self.session.selected:
            self.session.select(quality)
        self.set_channel_rank(rank)
        event.accept()
