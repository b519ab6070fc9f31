"""Demo mode: one large picture, a big quality slider, size and ratio in large type.

A view of the `Session`: it shows the computed quality nearest the session's selection, and a
slider move or key selects in the session.
"""

from __future__ import annotations

import numpy as np
from lci_studio.codec.insight import format_kb, format_psnr, format_ratio
from lci_studio.codec.model import QUALITIES
from lci_studio.gui.qimage import to_qimage
from lci_studio.session import Session
from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QCloseEvent,
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
)
from PySide6.QtWidgets import QLabel, QSlider, QStyle, QStyleOptionSlider, QVBoxLayout, QWidget

STAGE = QColor("#101114")  # dark stage: projectors and big screens read light-on-dark best
INK = QColor("#f1f3f5")
DIM = QColor("#5c636a")
ACCENT = QColor("#f76707")


class _Canvas(QWidget):
    """Draws one picture as large as fits, aspect kept; sharp pixels when enlarged 2× or more."""

    def __init__(self) -> None:
        super().__init__()
        self._image: QImage | None = None
        self.setMinimumSize(200, 150)

    def set_pixels(self, pixels: np.ndarray | None) -> None:
        self._image = None if pixels is None else to_qimage(pixels)
        self.update()

    def image_rect(self) -> QRect:
        """Where the picture is drawn, in widget coordinates."""
        if self._image is None:
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        return QRect(QPoint((self.width() - size.width()) // 2, (self.height() - size.height()) // 2), size)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), STAGE)
        if self._image is None:
            return
        target = self.image_rect()
        scale = target.width() * self.devicePixelRatioF() / max(self._image.width(), 1)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale < 2)
        painter.drawImage(QRectF(target), self._image)


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

    Space flips to the original and back; Esc leaves. Only computed qualities can be shown: any
    other choice snaps to the nearest computed one.
    """

    closed = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.session = session
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
        self._caption.setWordWrap(True)
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
        self._hint = QLabel("← → or 1–8: quality    Space: original    Esc: leave")
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
        for event in (events.ladder_started, events.result_added, events.decoded, events.selection_changed):
            event.connect(lambda _value: self._refresh())

    # ------------------------------------------------------------------------------------ public API

    def present(self) -> None:
        """Show full screen and take the keyboard."""
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

    def toggle_original(self) -> None:
        self._showing_original = not self._showing_original and self._original() is not None
        self._refresh()

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
        result = results.get(current) if current is not None else None
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
            self._caption.setText(text)
            return
        self._canvas.set_pixels(result.reconstruction)
        self._caption.setText(
            f"Quality {result.quality} · {format_kb(result.file_bytes)} · "
            f"{format_ratio(result.ratio_to_raw)} smaller than raw · {format_psnr(result.psnr)}"
        )

    def _update_fonts(self) -> None:
        unit = max(14, min(self.height() // 22, self.width() // 40))
        big = QFont(self.font())
        big.setPixelSize(unit)
        big.setBold(True)
        self._caption.setFont(big)
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
            self.toggle_original()
        elif key == Qt.Key.Key_F11:
            self.showNormal() if self.isFullScreen() else self.showFullScreen()
        else:
            super().keyPressEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
