"""Fixtures for the window tests: a ladder of small real models on disk, isolated settings, recorded dialogs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from lci_studio.codec.image_io import save_png
from tests.conftest import make_photo, save_ladder

LADDER_TIMEOUT_MS = 300_000  # a slow, shared machine: generous, the tests return as soon as the work is done
BROKEN_BINDING = (
    "this PySide6 loses a reference on every Qt signal (6.12.0 does) and aborts the process after a few "
    "thousand signals; install PySide6-Essentials>=6.6,!=6.12.0 (see test_qt_binding.py)"
)


def pytest_collection_modifyitems(config, items):
    """On a binding that corrupts reference counts, skip the widget tests instead of aborting the run."""
    from lci_studio.gui.main import qt_binding_drops_references

    if not qt_binding_drops_references():
        return
    here = Path(__file__).parent
    for item in items:
        if Path(item.fspath).parent == here and "qt_binding" not in item.nodeid:
            item.add_marker(pytest.mark.skip(reason=BROKEN_BINDING))


@pytest.fixture(scope="session")
def ladder_dir(tmp_path_factory):
    """q1.pth.tar … q8.pth.tar: small (N=16, M=24) random-weight models, as a weights folder."""
    return save_ladder(tmp_path_factory.mktemp("ladder"))


@pytest.fixture
def source(ladder_dir):
    from lci_studio.codec.weights import open_weight_source

    return open_weight_source(str(ladder_dir))


class HeldLadder:
    """The `source` fixture with its first load of quality 2 held until `release()`: a ladder is then surely
    still running when a test stops it or opens another picture (a fast machine used to finish it first)."""

    def __init__(self, source) -> None:
        self.source, self.held = source, []
        self._gate = threading.Event()
        load = source.load

        def held_load(quality, *args, **kwargs):
            if quality == 2 and not self._gate.is_set():
                self.held.append(quality)
                assert self._gate.wait(LADDER_TIMEOUT_MS / 1000)
            return load(quality, *args, **kwargs)

        source.load = held_load

    def wait_held(self, qtbot) -> None:
        qtbot.waitUntil(lambda: self.held == [2], timeout=LADDER_TIMEOUT_MS)

    def release(self) -> None:
        self._gate.set()


@pytest.fixture
def held_ladder(source):
    held = HeldLadder(source)
    yield held
    held.release()  # never leave a worker thread waiting at teardown


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield s
    s.sync()


class DialogRecorder:
    """Stands in for QMessageBox's static functions: records instead of blocking."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []
        self.answer = QMessageBox.StandardButton.Yes

    def _record(self, kind):
        def record(parent, title, text, *args, **kwargs):
            self.messages.append((kind, title, text))
            return self.answer if kind == "question" else QMessageBox.StandardButton.Ok

        return record

    @property
    def errors(self) -> list[tuple[str, str, str]]:
        return [m for m in self.messages if m[0] in ("warning", "critical")]


@pytest.fixture
def dialogs(monkeypatch):
    recorder = DialogRecorder()
    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(recorder._record(kind)))
    monkeypatch.setattr(
        QMessageBox, "about", staticmethod(lambda *a, **k: recorder.messages.append(("about", a[1], a[2])))
    )
    return recorder


@pytest.fixture
def make_window(qtbot, settings, dialogs):
    """Build a shown MainWindow (closed, and its worker stopped, at teardown)."""
    from lci_studio.gui.window import MainWindow

    windows = []

    def build(source=None, **kwargs):
        kwargs.setdefault("settings", settings)
        kwargs.setdefault("baselines", False)
        window = MainWindow(source, **kwargs)
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield build
    for window in windows:
        window.close()


@pytest.fixture
def window(make_window, source):
    return make_window(source)


@pytest.fixture
def small_png(tmp_path):
    """A 96×128 photo-like PNG."""

    def make(name="small.png", height=96, width=128, seed=0):
        path = tmp_path / name
        save_png(path, make_photo(height, width, seed))
        return path

    return make


def wait_ladder(qtbot, window, count=8, timeout=LADDER_TIMEOUT_MS):
    """Wait until `count` results are in and the worker is idle."""
    qtbot.waitUntil(lambda: len(window.session.results) >= count and not window.worker.busy(), timeout=timeout)


def wait_measured(qtbot, window, key: str, timeout=LADDER_TIMEOUT_MS):
    """Wait until every result and classical point has the metric `key` and the worker is idle."""
    session = window.session
    qtbot.waitUntil(
        lambda: all(key in r.metrics for r in session.results.values())
        and all(key in p.metrics for p in session.baselines)
        and not window.worker.busy(),
        timeout=timeout,
    )


def pixels_of(item) -> np.ndarray:
    return np.asarray(item.image)


@pytest.fixture
def refinable_window(qtbot, make_window, small_png):
    """A window on the bundled ladder with a 64×80 photo's ladder done and quality 4 selected: trained weights,
    where a few refinement steps find better numbers (random ones leave g_a's guess as good as any)."""
    from lci_studio.codec.weights import BundledSource

    window = make_window(BundledSource())
    window.open_path(small_png(height=64, width=80, seed=4))
    wait_ladder(qtbot, window)
    window.session.select(4)
    return window
