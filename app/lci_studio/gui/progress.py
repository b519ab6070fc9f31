"""The status bar's job meter: a progress bar that says done/total, seconds so far and what is happening,
and the Stop button beside it; both shown only while a job for what is shown runs.

The bar moves in fractions of a step: a big picture's quality takes tens of seconds, and its
tiles (a fractional `done`) move the bar while the text still counts whole steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QToolButton, QWidget

# what a job kind is doing, before it says
TEXTS = {
    "ladder": "", "decode": "decoding", "load": "opening",
    "analysis": "classical codecs for comparison",
}  # fmt: skip
PARTS = 1000  # bar units per step


@dataclass
class _Track:
    """One owner's job on the meter: its clock and its last step."""

    clock: QElapsedTimer
    done: float = 0.0
    total: int = 0
    text: str = ""


class JobProgress(QWidget):
    """Shown by `start`, fed by `step`, hidden by `finish` (which returns the seconds the job took).

    Several owners share it (the view's jobs, a refinement beside them): each says who it is, and the meter shows
    the newest job still running, so one that ends never hides another's (a metric measured beside a refinement
    used to take the meter and hide it on ending, while the refinement went on).
    """

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
        self._tracks: dict[str, _Track] = {}  # running owners, the one shown last
        self._tick = QTimer(self)  # the seconds go on counting between steps
        self._tick.setInterval(200)
        self._tick.timeout.connect(self._update_text)
        self.hide()

    def set_stop(self, stop: QAction) -> None:
        """The Stop command its button runs (the window's, made after the jobs that this meter counts)."""
        self.stop_button.setDefaultAction(stop)
        self.stop_button.setText("Stop")

    def start(self, owner: str, kind: str, total: int) -> None:
        """`owner`'s job begins (again: its clock restarts) and is the one shown."""
        clock = QElapsedTimer()
        clock.start()
        self._tracks.pop(owner, None)
        self._tracks[owner] = _Track(clock)
        self.show()
        self._tick.start()
        self.step(owner, 0, total, TEXTS.get(kind, kind))

    def step(self, owner: str, done: float, total: int, text: str) -> None:
        """`done` of `total` steps of `owner`'s job; a fraction of one moves the bar, the text says whole steps."""
        track = self._tracks.get(owner)
        if track is None:
            return  # a step after its finish
        track.done, track.total, track.text = done, total, text
        if owner == self.shown_owner():
            self._show(track)

    def finish(self, owner: str) -> float:
        """`owner`'s job ended: the seconds it took; the meter shows the job still running, else goes."""
        elapsed = self.elapsed(owner)
        self._tracks.pop(owner, None)
        if self._tracks:
            self._show(self._tracks[self.shown_owner()])
        else:
            self._tick.stop()
            self.hide()
        return elapsed

    def finish_all(self) -> None:
        """Every job ended (the window closes)."""
        for owner in list(self._tracks):
            self.finish(owner)

    def shown_owner(self) -> str | None:
        """Whose job the meter shows (None: it is hidden)."""
        return next(reversed(self._tracks), None)

    def elapsed(self, owner: str) -> float:
        track = self._tracks.get(owner)
        return track.clock.elapsed() / 1000 if track is not None else 0.0

    def _show(self, track: _Track) -> None:
        self.bar.setRange(0, max(track.total, 1) * PARTS)
        self.bar.setValue(min(round(track.done * PARTS), max(track.total, 1) * PARTS))
        self._update_text()

    def _update_text(self) -> None:
        owner = self.shown_owner()
        if owner is None:
            return
        track = self._tracks[owner]
        elapsed = self.elapsed(owner)
        done = int(track.done)
        text = f"{done}/{track.total} · {elapsed:.1f} s"
        if track.text:
            text += f" · {track.text}"
        self.bar.setToolTip(f"{done} of {track.total} done, {elapsed:.1f} s so far")
        self.bar.setFormat(text)
