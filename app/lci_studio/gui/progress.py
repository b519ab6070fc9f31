"""The status bar's job meter: a progress bar that says done/total, seconds so far and what is happening,
and the Stop button beside it; both shown only while a job for what is shown runs.

The bar moves in fractions of a step: a big picture's quality takes tens of seconds, and its
tiles (a fractional `done`) move the bar while the text still counts whole steps.
"""

from __future__ import annotations

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

# what a job kind is doing, before it says
TEXTS = {
    "ladder": "", "decode": "decoding", "load": "opening",
    "analysis": "classical codecs for comparison",
}  # fmt: skip
PARTS = 1000  # bar units per step


class JobProgress(QWidget):
    """Shown by `start`, fed by `step`, hidden by `finish` (which returns the seconds the job took)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(340)
        self.bar.setTextVisible(True)
        self.stop_button = QToolButton()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.bar)
        row.addWidget(self.stop_button)
        self._clock = QElapsedTimer()
        self._done, self._total, self._text = 0.0, 0, ""
        self._tick = QTimer(self)  # the seconds go on counting between steps
        self._tick.setInterval(200)
        self._tick.timeout.connect(self._update_text)
        self.hide()

    def set_stop(self, stop: QAction) -> None:
        """The Stop command its button runs (the window's, made after the jobs that this meter counts)."""
        self.stop_button.setDefaultAction(stop)
        self.stop_button.setText("Stop")

    def start(self, kind: str, total: int) -> None:
        self._clock.start()
        self.show()
        self._tick.start()
        self.step(0, total, TEXTS.get(kind, kind))

    def step(self, done: float, total: int, text: str) -> None:
        """`done` of `total` steps; a fraction of one moves the bar, the text says whole steps."""
        self._done, self._total, self._text = done, total, text
        self.bar.setRange(0, max(total, 1) * PARTS)
        self.bar.setValue(min(round(done * PARTS), max(total, 1) * PARTS))
        self._update_text()

    def finish(self) -> float:
        self._tick.stop()
        self.hide()
        return self.elapsed()

    def elapsed(self) -> float:
        return self._clock.elapsed() / 1000 if self._clock.isValid() else 0.0

    def _update_text(self) -> None:
        elapsed = self.elapsed()
        done = int(self._done)
        text = f"{done}/{self._total} · {elapsed:.1f} s"
        if self._text:
            text += f" · {self._text}"
        self.bar.setToolTip(f"{done} of {self._total} done, {elapsed:.1f} s so far")
        self.bar.setFormat(text)
