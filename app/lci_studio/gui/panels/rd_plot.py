"""Rate-distortion plot: bits per pixel against a metric (PSNR, MS-SSIM…), learned codec vs the classical codecs.

A view of the `Session`'s results and baselines; the metric and the bpp kind it draws are the `ViewState`'s
(`plot_metric`, `size_kind`), which the menu's check marks follow too.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPalette
from PySide6.QtWidgets import QButtonGroup, QComboBox, QGraphicsItem, QLabel, QRadioButton, QVBoxLayout, QWidget

from lci_studio.codec.baselines import CLASSICAL_CODECS, BaselinePoint, reencodes_itself
from lci_studio.codec.glossary import tip
from lci_studio.codec.image_io import temp_file_beside
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.number_format import model_label
from lci_studio.codec.refinement import BandPoint
from lci_studio.gui.panels.plot_hover import hover_text
from lci_studio.gui.panels.refined_points import REFINED_SERIES, LevelBands, RefinedPoints
from lci_studio.gui.panels.wrap_bar import WrapBar, group
from lci_studio.session import Session
from lci_studio.view_state import SIZE_KINDS, ViewState

BPP_KINDS = SIZE_KINDS
# Saturated mid-tones that read on light and dark backgrounds alike.
LEARNED_COLOURS = ("#f76707", "#e64980", "#fab005", "#15aabf")
HIT_RADIUS_PX = 12.0
# room right of the axes: pyqtgraph draws a tick label only if it ends inside the axis, which ended at
# the dock's edge, so the last label touched it (at 1024×768 it looked cut)
AXIS_RIGHT_MARGIN = 12


class PlotPoint(NamedTuple):
    """One plotted point: its series name, quality (LCI) or codec setting (baselines), and x/y."""

    series: str
    key: int
    x: float
    y: float


class RdPlot(QWidget):
    """bpp against a metric of `metrics.METRICS`; points appear as qualities finish, click one to select it."""

    def __init__(self, session: Session, view: ViewState | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.view_state = view if view is not None else ViewState()
        # one item per series, kept and given new data: rebuilding items (and legend rows) for every
        # classical point that arrives cost the UI thread ~150 ms a time
        self._items: dict[str, pg.PlotDataItem] = {}
        self._plotted: list[tuple[PlotPoint, object]] = []  # (point, the result or baseline behind it)

        self._plot = pg.PlotWidget()
        self._plot.setMinimumSize(240, 180)
        self._item = self._plot.getPlotItem()
        self._item.showGrid(x=True, y=True, alpha=0.25)
        for name in ("left", "bottom"):  # never "bits per pixel (×0.001)" while the first results arrive
            self._item.getAxis(name).enableAutoSIPrefix(False)
        self._item.setMenuEnabled(False)
        # the legend sits under the axis, in room of its own: inside the axes it covered curves
        self._legend = pg.LegendItem(colCount=4, labelTextSize="10pt")
        self._legend.setParentItem(self._item)
        # outside the view box nothing scales it on screen; unflagged, an export scales it with the rest
        self._legend.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, False)
        self._legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -2))
        self._item.legend = self._legend  # PlotItem.addItem(…, name=…) adds a row to it
        self._refined = RefinedPoints(self._item, self._legend, LEARNED_COLOURS[0])  # the second encoder's stars
        self.bands = LevelBands(self._item, self._legend, LEARNED_COLOURS[0])  # how far each level's λ band reaches
        left, top, _right, bottom = self._item.layout.getContentsMargins()
        self._margins = (left, top, AXIS_RIGHT_MARGIN, bottom)
        self._item.geometryChanged.connect(self._fit_legend)
        self._ring = pg.ScatterPlotItem(size=24, brush=None)
        self._ring.setZValue(20)
        self._plot.addItem(self._ring)
        # an opened .lci file: its own rate as a line (no original, so no PSNR to put it at a height)
        # (its label right of it, the line a third of the way across: the words fit beside it at 1024×768)
        self._file_line = pg.InfiniteLine(
            angle=90, movable=False, label="", labelOpts={"position": 0.9, "anchors": [(0, 0), (0, 0)]}
        )
        self._file_line.setZValue(15)
        self._file_line.hide()
        self._plot.addItem(self._file_line, ignoreBounds=True)
        self._hover = pg.TextItem(anchor=(0, 1))
        self._hover.setZValue(30)
        self._hover.hide()
        self._plot.addItem(self._hover, ignoreBounds=True)
        scene = self._plot.scene()
        scene.sigMouseClicked.connect(self._on_click)
        scene.sigMouseMoved.connect(self._on_move)

        # one entry per metric of the table as the plot was built: a list, since a row of buttons per
        # metric would not fit the dock (three put the controls on two rows at 1600×1000)
        self._metrics = tuple(METRICS)
        self.metric_box = QComboBox()
        for i, key in enumerate(self._metrics):
            self.metric_box.addItem(METRICS[key].name, key)
            self.metric_box.setItemData(i, tip(METRICS[key].name), Qt.ItemDataRole.ToolTipRole)
        self.metric_box.currentIndexChanged.connect(lambda i: self.set_metric(self._metrics[i]))
        self._bpp_buttons = self._toggle(("real size", "estimated"), BPP_KINDS, self.set_bpp_kind)
        self._bpp_buttons.button(0).setToolTip(f"Bits per pixel of the file actually written.\n\n{tip('bpp')}")
        self._bpp_buttons.button(1).setToolTip(
            f"Bits per pixel the model predicts from its probabilities (the file adds a header).\n\n{tip('bpp')}"
        )
        self._plot.setToolTip(
            "Each point is one compressed file: further left is smaller, higher is closer to the original. "
            "Click a learned-codec point to select that quality."
        )
        # short labels (the tooltips say the rest): both groups on one row in the dock at 1600×1000
        size_label = QLabel("LCI size:")
        size_label.setToolTip(
            "The learned codec's (LCI's) size on the plot: the real file, or the model's estimate. "
            "The classical codecs (JPEG, WebP, AVIF, JPEG XL) are always their real file size."
        )
        self.bar = WrapBar(
            (
                group(QLabel("Picture quality as"), self.metric_box),
                group(size_label, *self._bpp_buttons.buttons()),
            )
        )
        # when the original is itself a JPEG, JPEG's curve on it is flattered: said above the plot
        self._own_codec: str | None = None
        self._note = QLabel()
        self._note.setWordWrap(True)
        self._note.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.bar)
        layout.addWidget(self._note)
        layout.addWidget(self._plot, 1)

        # Results and classical points arrive in bursts: they are drawn together, at most every 40 ms
        # (one burst of queued signals is handled without a pause; a redraw each costs the UI thread)
        self._due = QTimer(self)
        self._due.setSingleShot(True)
        self._due.setInterval(40)
        self._due.timeout.connect(self._redraw)
        self._apply_palette()
        self._redraw()
        events = session.events
        events.opened.connect(self._on_opened)
        events.decoded.connect(lambda _decoded: self._redraw(autorange=True))
        redraws = (events.ladder_started, events.result_added, events.refined_added, events.band_measured)
        for event in (*redraws, events.baselines_changed):
            event.connect(lambda _value: self._due.start() if not self._due.isActive() else None)
        events.selection_changed.connect(lambda _quality: self._update_ring())
        self._show_metric(self.current_metric())
        self._bpp_buttons.button(BPP_KINDS.index(self.current_bpp_kind())).setChecked(True)
        self.view_state.plot_metric.changed.connect(self._on_metric)
        self.view_state.size_kind.changed.connect(self._on_bpp_kind)

    # ------------------------------------------------------------------------------------ public API

    def selected(self) -> int | None:
        """The ringed quality: the session's selection."""
        return self.session.selected

    def set_metric(self, metric: str) -> None:
        """The metric of `metrics.METRICS` with this key ("psnr", "ms-ssim"…) on the y axis."""
        if metric not in self._metrics:
            raise ValueError(f"metric must be one of {self._metrics}, not {metric!r}")
        self.view_state.plot_metric.set(metric)

    def current_metric(self) -> str:
        return self.view_state.plot_metric.value

    def set_bpp_kind(self, kind: str) -> None:
        """ "real" (file bytes) or "estimated" (model likelihoods) bpp for the learned codec."""
        if kind not in BPP_KINDS:
            raise ValueError(f"bpp kind must be one of {BPP_KINDS}, not {kind!r}")
        self.view_state.size_kind.set(kind)

    def current_bpp_kind(self) -> str:
        return self.view_state.size_kind.value

    def _on_metric(self, metric: str) -> None:
        self._show_metric(metric)
        self._redraw(autorange=True)

    def _show_metric(self, metric: str) -> None:
        """The list shows the view state's metric, with its glossary text as tooltip."""
        self.metric_box.blockSignals(True)  # not a change of the view state: it is one
        self.metric_box.setCurrentIndex(self._metrics.index(metric))
        self.metric_box.blockSignals(False)
        self.metric_box.setToolTip(tip(METRICS[metric].name))

    def _on_bpp_kind(self, kind: str) -> None:
        self._bpp_buttons.button(BPP_KINDS.index(kind)).setChecked(True)
        self._redraw(autorange=True)

    def points(self) -> list[PlotPoint]:
        """What is plotted (a redraw that is due is done first), series by series, each sorted by bpp."""
        self.flush()
        return [point for point, _ in self._plotted]

    def flush(self) -> None:
        """Draw now what is waiting to be drawn."""
        if self._due.isActive():
            self._due.stop()
            self._redraw()

    def note(self) -> str | None:
        """What the plot says above its curves (the original is a JPEG …), None when nothing."""
        return self._note.text() if not self._note.isHidden() else None

    def file_mark(self) -> str | None:
        """What the plot says of an opened .lci file at its rate (None: no file is open)."""
        return self._file_line.label.toPlainText() if self._file_line.isVisible() else None

    def plot_widget(self) -> pg.PlotWidget:
        return self._plot

    def title(self) -> str:
        """What an exported plot is headed with: the picture and what is plotted against what."""
        metric = METRICS[self.current_metric()].plotted_name
        name = self.session.name
        return f"{name}: file size against {metric}" if name else f"File size against {metric}"

    def export_png(self, path: str | os.PathLike, width: int | None = None) -> Path:
        """Write the plot (title, axes, legend, curves; no selection ring or hover) as a PNG, atomically."""
        target = Path(path)
        fd, temp = temp_file_beside(target, suffix=".png")
        os.close(fd)
        try:
            if not self.render(width).save(temp, "PNG") or Path(temp).stat().st_size == 0:
                raise OSError(f"could not write the plot to {target}")
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    def render(self, width: int | None = None) -> QImage:
        """The plot as `export_png` writes it, as an image (the window's export compresses it in the worker)."""
        exporter = pyqtgraph.exporters.ImageExporter(self._item)
        exporter.parameters()["width"] = int(width or max(1200, self._plot.width()))
        text = self.palette().color(QPalette.ColorRole.Text).name()
        try:
            self._hover.hide()
            self._ring.hide()
            self._item.setTitle(self.title(), color=text, size="12pt")
            self._item.layout.activate()  # room for the title now, not at the next turn of the event loop
            return exporter.export(toBytes=True)
        finally:
            self._item.setTitle(None)
            self._ring.show()

    def hover_text_at(self, view_x: float, view_y: float) -> str | None:
        """The text hovering at plot coordinates would show (None: no point within reach)."""
        self.flush()
        hit = self._hit(self._item.vb.mapViewToScene(QPointF(view_x, view_y)))
        return None if hit is None else self._describe(hit[0], hit[1])

    # ------------------------------------------------------------------------------------ drawing

    def _toggle(self, labels: tuple[str, ...], values: tuple[str, ...], setter) -> QButtonGroup:
        group = QButtonGroup(self)
        group.setExclusive(True)
        for i, (label, value) in enumerate(zip(labels, values, strict=True)):
            button = QRadioButton(label)
            button.setChecked(i == 0)
            button.clicked.connect(lambda _checked=False, v=value: setter(v))
            group.addButton(button, i)
        return group

    def _y(self, item: QualityResult | BaselinePoint | BandPoint) -> float:
        """The shown metric in its dB form (MS-SSIM as −10·log10(1 − MS-SSIM), as CompressAI plots it:
        0.99 → 20 dB, which spreads the curves that crowd under 1.0); unmeasured (NaN) is not plotted."""
        key = self.current_metric()
        return METRICS[key].db(item.metric(key))

    def _redraw(self, autorange: bool = False) -> None:
        self._due.stop()
        self._plotted = []
        drawn: set[str] = set()
        series: dict[tuple[str, str], dict[int, QualityResult]] = {}
        for result in self.session.results.values():
            series.setdefault((result.info.source, result.info.metric), {})[result.quality] = result
        baselines: dict[str, list[BaselinePoint]] = {}
        for point in self.session.baselines:
            baselines.setdefault(point.codec, []).append(point)
        for i, ((source, metric), by_quality) in enumerate(series.items()):
            name = model_label(source, metric)
            rows = []
            for quality, result in by_quality.items():
                place = self._place(result)
                if place is not None:
                    rows.append((PlotPoint(name, quality, *place), result))
            colour = LEARNED_COLOURS[i % len(LEARNED_COLOURS)]
            self._set_series(rows, name, colour, width=2.5, size=11, dashed=False)
            drawn.update([name] if rows else [])
        stars = self._refined.draw(self.session.results, self.session.refined, self._place)
        self._plotted.extend((PlotPoint(REFINED_SERIES, q, x, y), result) for q, x, y, result in stars)
        bands_hidden = len(self.session.bands) - self.bands.draw(self.session.bands, self._place)
        for codec, points in baselines.items():
            rows = [
                (PlotPoint(codec, p.setting, p.bpp, self._y(p)), p)
                for p in points
                if math.isfinite(p.bpp) and math.isfinite(self._y(p))
            ]
            self._set_series(rows, codec, CLASSICAL_CODECS[codec].colour, width=1.5, size=6, dashed=True)
            drawn.update([codec] if rows else [])
        for name in [n for n in self._items if n not in drawn]:
            item = self._items.pop(name)
            self._legend.removeItem(item)
            self._item.removeItem(item)
        self._update_labels()
        self._update_ring()
        self._mark_file()
        self._update_note(drawn, bands_hidden)
        self._fit_legend()
        self._fit_axes()  # empty too: a bpp and dB range that reads as one, not pyqtgraph's 0-1

    def _place(self, result: QualityResult | BandPoint) -> tuple[float, float] | None:
        """Where a learned result (or a band's end, measured on the same axes) sits on the plot now (None: not
        measurable on this axis yet)."""
        x = result.bpp if self.current_bpp_kind() == "real" else result.bpp_estimated
        y = self._y(result)
        return (x, y) if math.isfinite(x) and math.isfinite(y) else None

    def _on_opened(self, session: Session) -> None:
        self._own_codec = reencodes_itself(session.image_path)  # the file's header: a few ms, once a picture
        self._redraw()

    def _update_note(self, drawn: set[str], bands_hidden: int) -> None:
        """What the plot says above its curves: the original is itself a classical codec's file (its curve is
        flattered), and measured bands this axis has no value for (never left silently undrawn)."""
        notes = []
        codec = self._own_codec
        if codec is not None and codec in drawn:
            notes.append(
                f"The original is itself a {codec}: re-encoded as {codec} it lands on its own 8×8 blocks, so the "
                f"{codec} curve climbs far higher than on an uncompressed photo. That is not {codec} winning."
            )
        if bands_hidden:
            axis = METRICS[self.current_metric()].name
            if self.current_bpp_kind() != "real":
                axis += " and the estimated size"
            notes.append(
                f"{bands_hidden} measured λ band{'s are' if bands_hidden > 1 else ' is'} not drawn: {axis} was not "
                "measured at the band's ends. Measure the band again (Any size tab) to see it here."
            )
        self._note.setText(" ".join(notes))
        self._note.setVisible(bool(notes))

    def _mark_file(self) -> None:
        """An opened .lci file at its real bpp: a vertical line, since without its original there is no PSNR
        or MS-SSIM to give it a height (the plot stood empty)."""
        decoded = self.session.decoded
        if decoded is None:
            self._file_line.hide()
            return
        text = f"{decoded.name}\n{decoded.bpp:.3f} bpp\nno original to measure\nits quality against"
        label = self._file_line.label
        label.setFormat(text.replace("{", "{{").replace("}", "}}"))  # a format string, redone on every move
        label.setText(text)  # now: a hidden line's label is not redone
        self._file_line.setValue(decoded.bpp)
        self._file_line.show()

    def _fit_legend(self) -> None:
        """As many legend entries a row as the plot's width holds, and room for its rows under the axis."""
        legend = self._legend
        widths = [mark.boundingRect().width() + text.item.boundingRect().width() + 12 for mark, text in legend.items]
        columns = max(1, len(widths))
        while columns > 1 and max(widths) * columns > self._item.width() - 8:
            columns -= 1
        legend.setColumnCount(columns)
        legend.updateSize()
        left, top, right, bottom = self._margins
        self._item.layout.setContentsMargins(left, top, right, bottom + (legend.height() + 4 if widths else 0))

    def _fit_axes(self) -> None:
        """Axes that read well from the first point on: bpp from 0 to a little past the largest, the
        quality axis in whole dB around the points (never a one-point range scaled to ×0.001)."""
        xs = [p.x for p, _ in self._plotted]
        ys = [p.y for p, _ in self._plotted]
        if not xs:
            right = 2.0 if self.session.decoded is None else max(3 * self.session.decoded.bpp, 0.25)
            self._item.setRange(xRange=(0, right), yRange=METRICS[self.current_metric()].plot_range, padding=0)
            return
        top = max(max(xs) * 1.08, 0.25)
        low, high = math.floor(min(ys)) - 1, math.ceil(max(ys)) + 1
        self._item.setRange(xRange=(0, top), yRange=(low, high), padding=0)

    def _set_series(self, rows: list, name: str, colour: str, width: float, size: int, dashed: bool) -> None:
        """Draw one series: new data for its item (made, with its legend row, the first time)."""
        if not rows:  # nothing measurable yet (an on-demand metric not measured): no legend row either
            return
        rows.sort(key=lambda row: (row[0].x, row[0].key))
        xs, ys = [r[0].x for r in rows], [r[0].y for r in rows]
        item = self._items.get(name)
        if item is None:
            pen = pg.mkPen(colour, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
            item = pg.PlotDataItem(
                xs, ys, pen=pen, symbol="o", symbolSize=size, symbolBrush=colour, symbolPen=pg.mkPen(colour), name=name
            )
            self._item.addItem(item)
            self._items[name] = item
        else:
            item.setData(xs, ys)
        self._plotted.extend(rows)

    def _update_labels(self) -> None:
        text = self.palette().color(QPalette.ColorRole.Text).name()
        style = {"color": text, "font-size": "10pt"}
        if self.current_bpp_kind() == "real":
            x_label = "bits per pixel (real file size)"
        else:
            x_label = "bits per pixel (learned codec: model's estimate; JPEG, WebP: real file size)"
        self._item.setLabel("bottom", x_label, **style)
        self._item.setLabel("left", METRICS[self.current_metric()].axis_label, **style)

    def _update_ring(self) -> None:
        self._ring.setData([{"pos": (p.x, p.y)} for p, _ in self._learned() if p.key == self.session.selected])

    def _learned(self) -> list[tuple[PlotPoint, QualityResult]]:
        return [(p, src) for p, src in self._plotted if isinstance(src, QualityResult)]

    def _apply_palette(self) -> None:
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        self._plot.setBackground(base)
        for name in ("left", "bottom"):
            axis = self._item.getAxis(name)
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        self._legend.setLabelTextColor(text)
        self._ring.setPen(pg.mkPen(text, width=2.5))
        self._file_line.setPen(pg.mkPen(LEARNED_COLOURS[0], width=2.5))
        self._file_line.label.setColor(text)
        tip_bg = QColor(palette.color(QPalette.ColorRole.ToolTipBase))
        tip_bg.setAlpha(235)
        self._hover.fill = pg.mkBrush(tip_bg)
        self._hover.border = pg.mkPen(palette.color(QPalette.ColorRole.Mid))
        self._hover.setColor(palette.color(QPalette.ColorRole.ToolTipText))
        self._update_labels()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_palette()
        super().changeEvent(event)

    # ------------------------------------------------------------------------------------ mouse

    def _hit(self, scene_pos: QPointF) -> tuple[PlotPoint, object] | None:
        """The plotted point nearest `scene_pos` within HIT_RADIUS_PX (learned points win ties)."""
        vb = self._item.vb
        best = None
        for point, source in self._plotted:
            where = vb.mapViewToScene(QPointF(point.x, point.y))
            distance = math.hypot(where.x() - scene_pos.x(), where.y() - scene_pos.y())
            rank = (distance - (3 if isinstance(source, QualityResult) else 0), distance)
            if distance <= HIT_RADIUS_PX and (best is None or rank < best[0]):
                best = (rank, point, source)
        return None if best is None else (best[1], best[2])

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        hit = self._hit(event.scenePos())
        if hit is not None and isinstance(hit[1], QualityResult):
            self.session.select(hit[0].key)
            event.accept()

    def _on_move(self, scene_pos: QPointF) -> None:
        hit = self._hit(scene_pos)
        if hit is None:
            self._hover.hide()
            return
        point, source = hit
        self._hover.setText(self._describe(point, source))
        self._hover.setPos(point.x, point.y)
        # keep the label inside the plot: flip it left/down near the right/top edges
        rect = self._item.vb.sceneBoundingRect()
        where = self._item.vb.mapViewToScene(QPointF(point.x, point.y))
        anchor_x = 1.0 if where.x() > rect.center().x() else 0.0
        anchor_y = 0.0 if where.y() < rect.center().y() else 1.0
        self._hover.setAnchor((anchor_x, anchor_y))
        self._hover.show()

    def _describe(self, point: PlotPoint, source: object) -> str:
        if isinstance(source, QualityResult):
            return hover_text(point.series, source, self._refined.describe(source) if source.encoder.refines else "")
        assert isinstance(source, BaselinePoint)
        return hover_text(point.series, source)
