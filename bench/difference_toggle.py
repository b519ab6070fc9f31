"""How long the GUI thread is busy when the split view's difference is toggled on a big picture (issue 25).

    nice .venv/bin/python bench/difference_toggle.py                    # 4000×3000, 3 rounds
    nice .venv/bin/python bench/difference_toggle.py --size 600x400 --rounds 5

A split view alone (offscreen, 1200×800) shows a photo-like picture and a noisy copy of it as "quality 2";
each round turns the difference on, waits until its legend is shown, and turns it off again, each followed by
half a second of events. A timer ticks every millisecond on the GUI thread: the longest gap between two
ticks is the longest the window could not respond (the toggle's own call included, and the drawing of
what it shows). Printed per round: the toggle call, the longest stall, and (on) the time until the
difference was shown. Runs on any
version of the split (one that takes the worker or not), so the numbers before and after a change compare.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from lci_studio.codec.image_io import RgbImage
from lci_studio.gui.panels.classical_pictures import ClassicalPictures
from lci_studio.gui.panels.image_view import ViewSync
from lci_studio.gui.panels.split import SplitView
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import Session
from lci_studio.view_state import ORIGINAL, ViewState


class StallMeter:
    """The longest gap between two ticks of a 1 ms timer on the GUI thread since `reset`."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.reset()
        self.timer.start()

    def reset(self) -> None:
        self.last = time.perf_counter()
        self.longest = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.longest = max(self.longest, now - self.last)
        self.last = now


def picture(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth picture and a copy with a few levels of noise (like a quality level's error)."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([128 + 100 * np.sin(x / 97 + c) * np.cos(y / 71 - c) for c in range(3)], axis=-1)
    original = np.clip(base, 0, 255).astype(np.uint8)
    noisy = np.clip(original.astype(np.int16) + rng.integers(-6, 7, original.shape), 0, 255).astype(np.uint8)
    return original, noisy


SETTLE_S = 0.5  # after a toggle, events are processed this long: what it draws is counted, not the next round


def settle(app: QApplication, seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="4000x3000", help="width x height (default 4000x3000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    app = QApplication.instance() or QApplication([])
    original, noisy = picture(width, height)
    session, view, worker = Session(), ViewState(), CodecWorker()
    parts = [session, view, ViewSync(), ClassicalPictures(session, lambda codec, quality: None)]
    takes_worker = "worker" in inspect.signature(SplitView).parameters
    split = SplitView(*parts, worker) if takes_worker else SplitView(*parts)
    split.resize(1200, 800)
    split.show()
    session.open_image(RgbImage(original, name="bench.png"))
    # quality 2 as the split reads it (no other panel is built): its pixels, size and quality
    session.results[2] = SimpleNamespace(quality=2, reconstruction=noisy, bpp=1.0, file_bytes=100_000)
    session.select(2)
    view.split_sides.set((ORIGINAL, 2))
    meter = StallMeter()
    print(f"{width}×{height}, split {'with' if takes_worker else 'without'} a worker")
    settle(app, 1.0)
    for round_ in range(args.rounds):
        meter.reset()
        start = time.perf_counter()
        split.set_difference(True)
        call = time.perf_counter() - start
        while not split.label_a.text().startswith("|"):
            app.processEvents()
        shown = time.perf_counter() - start
        settle(app, SETTLE_S)  # the difference drawn
        on_stall = meter.longest
        meter.reset()
        start = time.perf_counter()
        split.set_difference(False)
        off_call = time.perf_counter() - start
        settle(app, SETTLE_S)  # the two pictures drawn again
        print(
            f"round {round_ + 1}: on: call {call * 1000:.0f} ms, longest GUI stall {on_stall * 1000:.0f} ms, "
            f"difference shown after {shown * 1000:.0f} ms; off: call {off_call * 1000:.0f} ms, "
            f"longest GUI stall {meter.longest * 1000:.0f} ms"
        )
        if takes_worker:  # a new pair each round, else the kept difference would be shown at once
            noisy = noisy.copy()
            session.results[2] = SimpleNamespace(quality=2, reconstruction=noisy, bpp=1.0, file_bytes=100_000)
    worker.shutdown()


if __name__ == "__main__":
    main()
