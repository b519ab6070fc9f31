"""Demo mode: one large picture, a big quality slider, size and ratio in large type.

A view of the `Session`: it shows the computed quality nearest the session's selection, and a
slider move or key selects in the session. It fills the screen the window is on; Z zooms onto the
detail the grid found (where the qualities differ most), the wheel zooms anywhere, and Space held
shows the original in the same place.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QScreen,
    QWheelEvent,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QSlider, QStyle, QStyleOptionSlider, QVBoxLayout, QWidget

from lci_studio.codec.metrics import METRICS
from lci_studio.codec.model import QUALITIES
from lci_studio.codec.number_format import format_kb, format_times
from lci_studio.codec.telling_detail import Detail
from lci_studio.gui.qimage import to_qimage
from lci_studio.session import Session
from lci_studio.view_state import Observed

STAGE = QColor("#101114")  # dark stage: projectors and big screens read light-on-dark best
INK = QColor("#f1f3f5")
DIM = QColor("#5c636a")
ACCENT = QColor("#f76707")
WHEEL_STEP = 1.25  # zoom per notch of the wheel
MIN_VIEW = 8.0  # picture pixels across the smallest part the canvas zooms onto
HINT = "← → or 1–8: quality    hold Space: original    Z: detail    wheel: zoom    Esc: leave the demo"


class _Canvas(QWidget):
    """Draws one picture as large as fits, aspect kept, or the part of it in `view()` (zoomed, the
    canvas's shape); sharp pixels when enlarged 2× or more. The wheel zooms about the pointer."""

    def __init__(self) -> None:
        super().__init__()
        self._image: QImage | None = None
        self._view: QRectF | None = None  # the part shown, in picture pixels; None: all of it
        self.setMinimumSize(200, 150)

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        """Another picture; the zoom stays while its size does (the original and each quality alike)."""
        image = None if pixels is None else to_qimage(pixels)
        if image is None or self._image is None or image.size() != self._image.size():
            self._view = None
        self._image = image
        self.update()

    def view(self) -> QRectF | None:
        """The part of the picture shown, in picture pixels (None: all of it)."""
        return None if self._view is None else QRectF(self._view)

    def show_region(self, region: QRectF | None) -> None:
        """Show `region` (picture pixels) as large as it fits, widened to the canvas's shape and kept on the
        picture; None, or a region that takes in the whole picture: all of it."""
        self._view = None if region is None or self._image is None else self._fitted(region)
        self.update()

    def _fitted(self, region: QRectF) -> QRectF | None:
        width, height = float(self._image.width()), float(self._image.height())
        aspect = self.width() / max(self.height(), 1)
        w, h = max(region.width(), MIN_VIEW), max(region.height(), MIN_VIEW)
        w, h = (h * aspect, h) if w / h < aspect else (w, w / aspect)
        if w >= width and h >= height:
            return None
        w, h = min(w, width), min(h, height)
        cx = min(max(region.center().x(), w / 2), width - w / 2)
        cy = min(max(region.center().y(), h / 2), height - h / 2)
        return QRectF(cx - w / 2, cy - h / 2, w, h)

    def _source(self) -> QRectF:
        return self._view if self._view is not None else QRectF(self._image.rect())

    def zoom_by(self, factor: float, at: QPointF | None = None) -> None:
        """Zoom in (`factor` > 1) or out about the widget point `at` (default: the middle), which stays put."""
        if self._image is None:
            return
        source, target = self._source(), QRectF(self.image_rect())
        at = at if at is not None else target.center()
        fx = (at.x() - target.x()) / max(target.width(), 1.0)  # where `at` falls across the picture shown
        fy = (at.y() - target.y()) / max(target.height(), 1.0)
        x, y = source.x() + fx * source.width(), source.y() + fy * source.height()
        w, h = source.width() / factor, source.height() / factor
        self.show_region(QRectF(x - fx * w, y - fy * h, w, h))

    def image_rect(self) -> QRect:
        """Where the picture (or the part of it in view) is drawn, in widget coordinates."""
        if self._image is None:
            return QRect()
        source = self._source()
        size = QSize(round(source.width()), round(source.height()))
        size = size.scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(QPoint((self.width() - size.width()) // 2, (self.height() - size.height()) // 2), size)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), STAGE)
        if self._image is None:
            return
        target, source = self.image_rect(), self._source()
        scale = target.width() * self.devicePixelRatioF() / max(source.width(), 1.0)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 2)
        painter.drawImage(QRectF(target), self._image, source)

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._view is not None:
            self._view = self._fitted(self._view)  # the canvas's new shape (full screen, a resize)


class _Ticks(QWidget):
    """Quality numbers under the slider: bright when computed, dim when not, accent when shown."""

    clicked = Signal(int)

    def __init__(self, slider: QSlider) -> None:
        super().__init__()
        self._slider = slider
        self.available: set[int] = set()
        self.current: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(400, int(self.fontMetrics().height() * 1.4))

    def _centres(self) -> dict[int, int]:
        option = QStyleOptionSlider()
        self._slider.initStyleOption(option)
        centres = {}
        for q in range(self._slider.minimum(), self._slider.maximum() + 1):
            option.sliderPosition = q
            option.sliderValue = q
            handle = self._slider.style().subControlRect(
                QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, self._slider
            )
            centre = self._slider.mapTo(self.window(), handle.center())
            centres[q] = self.mapFrom(self.window(), centre).x()
        return centres

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        for q, x in self._centres().items():
            font = QFont(self.font())
            font.setBold(q == self.current)
            painter.setFont(font)
            painter.setPen(ACCENT if q == self.current else INK if q in self.available else DIM)
            box = QRect(x - 40, 0, 80, self.height())
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, str(q))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        centres = self._centres()
        x = event.position().x()
        self.clicked.emit(min(centres, key=lambda q: abs(centres[q] - x)))


class DemoWindow(QWidget):
    """Full-screen presentation of the ladder: drag the slider or press 1-8 / ← → to change quality.

    Space held shows the original (released: the quality again); Z zooms onto `detail` (where the
    grid found the qualities differ most) and back, the wheel zooms; Esc leaves. Only computed
    qualities can be shown: any other choice snaps to the nearest computed one.
    """

    closed = Signal()

    def __init__(
        self, session: Session, detail: Observed[Detail | None] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
        self._detail = detail if detail is not None else Observed(None)  # the view state's: the grid finds it
        self.setWindowTitle("LCI Studio – demo")
        self.setAutoFillBackground(True)
        palette = self.palette()
        for role in (QPalette.ColorRole.Window, QPalette.ColorRole.Base):
            palette.setColor(role, STAGE)
        for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text):
            palette.setColor(role, INK)
        self.setPalette(palette)

        self._showing_original = False

        self._canvas = _Canvas()
        self._caption = QLabel()
        self._caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # one line, its font made to fit (wrapped, "34.4 / dB" broke over two); never widens the window
        self._caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setRange(min(QUALITIES), max(QUALITIES))
        self._slider.setPageStep(1)
        self._slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the window handles the keys
        self._slider.setStyleSheet(
            "QSlider { min-height: 44px; }"
            "QSlider::groove:horizontal { height: 10px; border-radius: 5px; background: #3d4247; }"
            "QSlider::sub-page:horizontal { border-radius: 5px; background: #9a4a12; }"
            "QSlider::handle:horizontal { width: 36px; margin: -13px 0; border-radius: 18px;"
            " background: #f76707; border: 2px solid #f1f3f5; }"
            "QSlider::handle:horizontal:disabled { background: #5c636a; }"
        )
        self._slider.valueChanged.connect(self._on_slider)
        self._ticks = _Ticks(self._slider)
        self._ticks.clicked.connect(self._choose)
        self._hint = QLabel(HINT)
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint_palette = self._hint.palette()
        hint_palette.setColor(QPalette.ColorRole.WindowText, DIM.lighter(140))
        self._hint.setPalette(hint_palette)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 24, 32, 16)
        layout.setSpacing(10)
        layout.addWidget(self._canvas, 1)
        layout.addWidget(self._caption)
        layout.addWidget(self._slider)
        layout.addWidget(self._ticks)
        layout.addWidget(self._hint)
        self._update_fonts()
        self._refresh()
        events = session.events
        events.opened.connect(self._on_opened)
        redraws = (
            events.ladder_started, events.result_added, events.refined_added, events.decoded, events.selection_changed
        )
        for event in redraws:
            event.connect(lambda _value: self._refresh())

    # ------------------------------------------------------------------------------------ public API

    def present(self, screen: QScreen | None = None) -> None:
        """Fill `screen` (the one the window is on; else where Qt puts it) and take the keyboard.

        The geometry is set as well as the state: without a window manager (a bare X server at a
        venue) the full-screen state alone leaves the window where and as large as it was.
        """
        if screen is not None:
            self.setScreen(screen)
            self.setGeometry(screen.geometry())
        self.showFullScreen()
        self.raise_()
        self.activateWindow()
        self.setFocus()

    def selected(self) -> int | None:
        """The quality shown (or shown under the original while Space is held)."""
        quality = self.session.selected
        return self._first() if quality is None else self.nearest_available(quality)

    def available(self) -> list[int]:
        return sorted(self.session.results)

    def showing_original(self) -> bool:
        return self._showing_original

    def show_original(self, shown: bool) -> None:
        """The original in place of the quality (while Space is held), or the quality again."""
        self._showing_original = bool(shown) and self._original() is not None
        self._refresh()

    def zoom_to_detail(self) -> None:
        """Onto the detail the grid found (where the qualities differ most), or the whole picture again."""
        detail = self._detail.value
        if self._canvas.view() is not None or detail is None:
            self._canvas.show_region(None)
        else:
            self._canvas.show_region(QRectF(detail.x, detail.y, detail.width, detail.height))

    def zoom_by(self, factor: float) -> None:
        """Zoom about the middle (the wheel zooms about the pointer)."""
        self._canvas.zoom_by(factor)

    def view(self) -> QRectF | None:
        """The part of the picture in view, in picture pixels (None: all of it)."""
        return self._canvas.view()

    def caption(self) -> str:
        return self._caption.text()

    def _original(self) -> np.ndarray | None:
        """The uncompressed picture (a decoded file stands in for it), shown with Space and before any result."""
        session = self.session
        if session.image is not None:
            return session.image.pixels
        return session.decoded.pixels if session.decoded is not None else None

    def _on_opened(self, _session: Session) -> None:
        self._showing_original = False
        self._canvas.show_region(None)
        self._refresh()

    # ------------------------------------------------------------------------------------ choosing

    def _first(self) -> int | None:
        results = self.session.results
        return min(results) if results else None

    def nearest_available(self, quality: int, toward: int = 0) -> int | None:
        """The computed quality nearest `quality`; on a tie, the one in the direction of `toward`."""
        results = self.session.results
        if not results:
            return None
        return min(results, key=lambda q: (abs(q - quality), -(q - quality) * toward, q))

    def _choose(self, quality: int | None, toward: int = 0) -> None:
        """The user picked `quality`: select the computed one nearest it (in the session)."""
        target = None if quality is None else self.nearest_available(quality, toward)
        self._showing_original = False
        if target is None:
            self._refresh()
        else:
            self.session.select(target)

    def _step(self, direction: int) -> None:
        current = self.selected()
        if current is None:
            self._choose(self._first())
            return
        ahead = [q for q in self.session.results if (q - current) * direction > 0]
        if ahead:
            self._choose(min(ahead, key=lambda q: abs(q - current)))

    def _on_slider(self, value: int) -> None:
        current = self.selected()
        if current is not None and value != current:
            toward = 1 if value > current else -1
            if self.nearest_available(value, toward) == current:
                self._step(toward)  # moved off the shown level: go on to the next computed one that way
                self._refresh()
                return
            self._choose(value, toward=toward)
        else:
            self._choose(value)

    # ------------------------------------------------------------------------------------ drawing

    def _refresh(self) -> None:
        results = self.session.results
        current = self.selected()
        original = self._original()
        result = self.session.file_result(current)  # a refined quality's own file, as the grid shows it
        self._slider.blockSignals(True)
        self._slider.setEnabled(bool(results))
        if current is not None:
            self._slider.setValue(current)
        self._slider.blockSignals(False)
        self._ticks.available = set(results)
        self._ticks.current = None if self._showing_original else current
        self._ticks.update()
        if self._showing_original or result is None:
            self._canvas.set_pixels(original)
            if original is not None:
                height, width = original.shape[:2]
                raw = format_kb(height * width * 3)
                text = f"Original · {width} × {height} pixels · {raw} as raw pixels"
                if result is None:
                    text += " · compressing…"
            else:
                text = "Waiting for a picture…"
            self._set_caption(text)
            return
        self._canvas.set_pixels(result.reconstruction)
        self._set_caption(
            f"Quality {result.quality}{' · refined' if result.encoder.refines else ''} · {format_kb(result.file_bytes)}"
            f" · {format_times(result.ratio_to_raw)} · {METRICS['psnr'].text(result.psnr)}"
        )

    def _set_caption(self, text: str) -> None:
        self._caption.setText(text)
        self._fit_caption()

    def _fit_caption(self) -> None:
        """The caption on one line: its large type, made smaller (to half) as far as the width needs."""
        font = QFont(self._caption.font())
        room = self.width() - 64
        size = self._unit()
        while size > max(12, self._unit() // 2):
            font.setPixelSize(size)
            if QFontMetrics(font).horizontalAdvance(self._caption.text()) <= room:
                break
            size -= 1
        font.setPixelSize(size)
        self._caption.setFont(font)

    def _unit(self) -> int:
        """The caption's type size: larger on a larger screen."""
        return max(14, min(self.height() // 22, self.width() // 40))

    def _update_fonts(self) -> None:
        unit = self._unit()
        big = QFont(self.font())
        big.setPixelSize(unit)
        big.setBold(True)
        self._caption.setFont(big)
        self._fit_caption()
        ticks = QFont(self.font())
        ticks.setPixelSize(max(12, unit * 2 // 3))
        self._ticks.setFont(ticks)
        self._ticks.setMinimumHeight(int(ticks.pixelSize() * 1.6))
        hint = QFont(self.font())
        hint.setPixelSize(max(11, unit // 2))
        self._hint.setFont(hint)

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._update_fonts()
        super().resizeEvent(event)

    # ------------------------------------------------------------------------------------ keys

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.close()
        elif Qt.Key.Key_1 <= key <= Qt.Key.Key_8:
            self._choose(key - Qt.Key.Key_0)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self._step(+1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self._step(-1)
        elif key == Qt.Key.Key_Home:
            self._choose(self._first())
        elif key == Qt.Key.Key_End:
            results = self.session.results
            self._choose(max(results) if results else None)
        elif key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self.show_original(True)  # while held: released, the quality comes back
        elif key == Qt.Key.Key_Z:
            self.zoom_to_detail()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(WHEEL_STEP)
        elif key == Qt.Key.Key_Minus:
            self.zoom_by(1 / WHEEL_STEP)
        elif key == Qt.Key.Key_F11:
            self.showNormal() if self.isFullScreen() else self.showFullScreen()
        else:
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self.show_original(False)
        else:
            super().keyReleaseEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
