"""How long the window's GUI thread stalls while a 12-24 MP photo opens and its tiles arrive.

    nice .venv/bin/python bench/big_photo_open.py                    # 4000×3000
    nice .venv/bin/python bench/big_photo_open.py --size 6000x4000   # 24 MP
    nice .venv/bin/python bench/big_photo_open.py --profile          # + where the GUI thread's time went

The real window runs offscreen (1600×1000, bundled weights, fresh settings, the grid's classical column
on), first on a small picture (loads the models, first paint of every panel), then on a synthetic
photo-like PNG of the given size (bench/large_photo.py's). A timer ticks every millisecond on the GUI
thread; a gap between two ticks is a time the window could not respond. From the open call it waits until
the 8 tiles, the classical pictures at the selected quality and the baselines are all in and nothing
runs any more; then it shows the split tab, zooms the grid to 1:1 and back to fit (a synchronized zoom
over every tile), each followed by a second of events. Printed: when each tile appeared, every stall
over 100 ms (when, how long), the longest and their number, per phase; and the GUI thread's own time in
the image items (pyqtgraph's `ImageItem.setImage`, `paint` and `viewTransformChanged`, where a picture is
converted, reduced and drawn): the longest single call and the calls over 100 ms. On a busy machine a
stall is also the GUI thread waiting for a core; the image items' own time is what showing pictures costs.
The script runs on any version of image_view.py, so the numbers before and after a change compare
(`--timeout` cuts the wait short: on 2 busy cores the 12 MP ladder alone takes minutes).
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from PySide6.QtCore import QEventLoop, QSettings, QTimer
from PySide6.QtWidgets import QApplication

STALL_S = 0.1  # a gap longer than this is counted as a stall


class StallMeter:
    """Every gap between two ticks of a 1 ms timer on the GUI thread, with when it ended."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.timeout.connect(self._tick)
        self.start = self.last = time.perf_counter()
        self.gaps: list[tuple[float, float]] = []  # (end since start, length)
        self.timer.start()

    def reset(self) -> None:
        self.start = self.last = time.perf_counter()
        self.gaps = []

    def _tick(self) -> None:
        now = time.perf_counter()
        gap = now - self.last
        if gap > 0.02:
            self.gaps.append((now - self.start, gap))
        self.last = now

    def summary(self, phase: str, items: ImageItemTimes | None = None) -> None:
        stalls = [(at, gap) for at, gap in self.gaps if gap > STALL_S]
        longest = max((gap for _, gap in self.gaps), default=0.0)
        listed = ", ".join(f"{gap * 1000:.0f} ms at {at:.1f} s" for at, gap in stalls)
        print(f"  {phase}: longest GUI stall {longest * 1000:.0f} ms, {len(stalls)} over {STALL_S * 1000:.0f} ms")
        if listed:
            print(f"    stalls: {listed}")
        if items is not None:
            items.summary()


class ImageItemTimes:
    """Wall time of each outermost call of the image items' methods that convert, reduce and draw pictures."""

    METHODS = ("setImage", "paint", "viewTransformChanged", "draw_level")

    def __init__(self) -> None:
        import pyqtgraph as pg

        from lci_studio.gui.panels import image_view

        self.calls: list[tuple[str, float]] = []
        self._depth = 0
        classes = {pg.ImageItem, getattr(image_view, "PixelsItem", pg.ImageItem)}
        for cls in classes:
            for name in self.METHODS:
                if name in vars(cls):
                    setattr(cls, name, self._timed(name, vars(cls)[name]))

    def _timed(self, name: str, method):
        parameters = inspect.signature(method).parameters.values()
        # a slot without parameters is called so (Qt hands a wrapper taking *args the signal's arguments)
        keeps = None if any(p.kind == p.VAR_POSITIONAL for p in parameters) else len(parameters) - 1

        def timed(item, *args, **kwargs):
            self._depth += 1
            started = time.perf_counter()
            try:
                return method(item, *args[:keeps], **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.calls.append((name, time.perf_counter() - started))

        return timed

    def summary(self) -> None:
        over = [(name, t) for name, t in self.calls if t > STALL_S]
        name, longest = max(self.calls, key=lambda c: c[1], default=("-", 0.0))
        total = sum(t for _, t in self.calls)
        print(
            f"    image items: {len(self.calls)} calls, {total:.2f} s in all, longest {longest * 1000:.0f} ms "
            f"({name}), {len(over)} over {STALL_S * 1000:.0f} ms"
        )
        self.calls = []


def events_for(app: QApplication, seconds: float) -> None:
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def open_and_wait(window, path: Path, timeout: float, marks: dict[str, float] | None = None) -> None:
    """Open `path`; return once the tiles, the classical pictures of the selected quality and the baselines
    are in and no job runs (or at `timeout`, saying so)."""
    from lci_studio.codec.baselines import available_codecs

    session, codecs = window.session, set(available_codecs())
    marks = {} if marks is None else marks
    loop = QEventLoop()
    started = time.perf_counter()

    def done() -> bool:
        quality = session.selected
        pictures = all(window.compare.pictures.get(codec, ask=False) for codec in codecs) if quality else False
        return (
            len(session.results) == len(session.source.qualities())
            and {p.codec for p in session.baselines} == codecs
            and pictures
            and not window.jobs.computing()
        )

    def on_result(result) -> None:
        marks.setdefault(f"quality {result.quality} tile", time.perf_counter() - started)

    def on_classical(_id, payload) -> None:
        _quality, point, _pixels = payload
        marks.setdefault(f"{point.codec} picture", time.perf_counter() - started)

    def check(*_args) -> None:
        if done():
            loop.quit()

    poll = QTimer()
    poll.timeout.connect(check)
    session.events.result_added.connect(on_result)
    window.worker.classicalReady.connect(on_classical)
    window.worker.jobFinished.connect(check)
    QTimer.singleShot(int(timeout * 1000), loop.quit)
    window.open_path(path)
    poll.start(200)
    loop.exec()
    poll.stop()
    window.worker.jobFinished.disconnect(check)
    window.worker.classicalReady.disconnect(on_classical)
    session.events.result_added.disconnect(on_result)
    if not done():
        print(f"  (not finished within {timeout:.0f} s: {len(session.results)} tiles)")
    marks["all in"] = time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="4000x3000", help="width x height (default 4000x3000)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for everything")
    parser.add_argument("--profile", action="store_true", help="profile the GUI thread while the photo opens")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))

    from large_photo import synthetic_photo

    from lci_studio.codec.image_io import save_png
    from lci_studio.codec.weights import open_weight_source
    from lci_studio.gui.window import MainWindow

    app = QApplication.instance() or QApplication([])
    items = ImageItemTimes()  # before any item exists: Qt and pyqtgraph bind their methods when they are made
    with tempfile.TemporaryDirectory() as work:
        small, big = Path(work) / "small.png", Path(work) / "big.png"
        save_png(small, synthetic_photo(240, 320, seed=1))
        save_png(big, synthetic_photo(height, width))
        settings = QSettings(str(Path(work) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(open_weight_source("bundled"), settings=settings)
        window.resize(1600, 1000)
        window.show()
        window.view_state.classical_column.set(True)
        open_and_wait(window, small, args.timeout)  # warm-up
        items.calls = []
        print(
            f"{width}×{height} ({width * height / 1e6:.0f} MP), window 1600×1000 offscreen, load: "
            f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}"
        )
        meter = StallMeter()
        profile = cProfile.Profile() if args.profile else None
        marks: dict[str, float] = {}
        if profile:
            profile.enable()
        open_and_wait(window, big, args.timeout, marks)
        events_for(app, 1.0)
        print("  appeared: " + ", ".join(f"{name} {at:.1f} s" for name, at in marks.items()))
        meter.summary("open → all in (+1 s)", items)
        for phase, act in (
            ("split tab", lambda: window.view_state.tab.set("split")),
            ("grid tab", lambda: window.view_state.tab.set("grid")),
            ("grid at 1:1", lambda: window.sync.set_zoom(1.0, (width / 2, height / 2))),
            ("grid at fit", window.sync.fit),
        ):
            meter.reset()
            items.calls = []
            act()
            events_for(app, 1.0)
            meter.summary(phase, items)
        if profile:
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
        window.close()


if __name__ == "__main__":
    main()
