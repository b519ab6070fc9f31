"""The split view's difference is computed in the worker (a `DifferenceJob`), never on the GUI thread: until it
comes the split shows the two pictures with a note, a result for sides no longer shown is dropped, and quick
toggles do not pile up jobs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QThread

from lci_studio.codec import difference as difference_mod
from lci_studio.gui import jobs
from lci_studio.view_state import ORIGINAL
from tests.gui.conftest import LADDER_TIMEOUT_MS, wait_ladder


class RecordedDifference:
    """`difference` as the job calls it, recording the thread and the pictures of each call; with `held`, the
    first call waits for `release()` and then ignores its cancel check (so its result comes, stale)."""

    def __init__(self, held: bool = False) -> None:
        self.calls: list[tuple[str, np.ndarray]] = []  # (thread name, picture b)
        self._gate = threading.Event()
        if not held:
            self._gate.set()

    def __call__(self, a, b, gain=None, cancel=None):
        on_main = threading.current_thread() is threading.main_thread()
        self.calls.append(("GUI thread" if on_main else QThread.currentThread().objectName(), b))
        if len(self.calls) == 1 and not self._gate.is_set():
            assert self._gate.wait(LADDER_TIMEOUT_MS / 1000)
            cancel = None  # finish although given up: the window must drop it
        return difference_mod.difference(a, b, gain, cancel=cancel)

    def wait_held(self, qtbot) -> None:
        qtbot.waitUntil(lambda: len(self.calls) == 1, timeout=LADDER_TIMEOUT_MS)

    def release(self) -> None:
        self._gate.set()


@pytest.fixture
def recorded(monkeypatch):
    def record(held: bool = False) -> RecordedDifference:
        recorder = RecordedDifference(held)
        monkeypatch.setattr(jobs, "difference", recorder)
        made.append(recorder)
        return recorder

    made: list[RecordedDifference] = []
    yield record
    for recorder in made:
        recorder.release()  # never leave the worker's thread waiting at teardown


def shown_difference(split) -> bool:
    return split.label_a.text().startswith("|")


def open_on_quality_2(qtbot, window, small_png):
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    window.session.select(2)
    window.view_state.tab.set("split")
    return window.split


def test_the_difference_comes_from_the_worker_with_its_own_legend(qtbot, window, small_png, recorded):
    split = open_on_quality_2(qtbot, window, small_png)
    recorder = recorded()
    original, q2 = window.session.image.pixels, window.session.results[2].reconstruction
    split.set_difference(True)
    # at once: the two pictures as they were, a note, no legend of a difference not yet there
    assert np.array_equal(np.asarray(split.shown_image()), original)
    assert split.message.isVisible() and "Computing the difference" in split.message.text()
    assert not shown_difference(split)
    qtbot.waitUntil(lambda: shown_difference(split), timeout=LADDER_TIMEOUT_MS)
    expected = difference_mod.difference(original, q2)
    assert np.array_equal(np.asarray(split.shown_image()), expected.image)
    assert split.gain == expected.gain and f"× {expected.gain:g}" in split.label_a.text()
    assert f"mean error {expected.mean:.2f}, largest {expected.largest}" in split.label_a.text()
    assert split.gain_combo.itemText(0) == f"× auto ({expected.gain:g})" and not split.message.isVisible()
    assert [name for name, _ in recorder.calls] == ["lci-classical"]  # the worker's thread, not the GUI's

    split.set_difference(False)
    split.set_difference(True)  # the same two pictures again: shown at once, nothing computed again
    assert shown_difference(split) and len(recorder.calls) == 1

    split.gain_combo.setCurrentIndex(split.gain_combo.findData(64))  # another gain: the one before meanwhile
    assert np.array_equal(np.asarray(split.shown_image()), expected.image)
    assert f"× {expected.gain:g}" in split.label_a.text() and "computing the new gain" in split.label_a.text()
    qtbot.waitUntil(lambda: "× 64" in split.label_a.text(), timeout=LADDER_TIMEOUT_MS)
    assert np.array_equal(np.asarray(split.shown_image()), difference_mod.difference(original, q2, 64).image)


def test_a_difference_for_sides_no_longer_shown_is_dropped(qtbot, window, small_png, recorded):
    split = open_on_quality_2(qtbot, window, small_png)
    recorder = recorded(held=True)
    arrived = []
    window.worker.differenceReady.connect(lambda job_id, shown: arrived.append(shown))
    split.set_difference(True)
    recorder.wait_held(qtbot)  # the difference of the original and quality 2 is being computed
    split.set_sides(ORIGINAL, 3)
    recorder.release()  # it finishes, stale
    qtbot.waitUntil(lambda: shown_difference(split) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    q2, q3 = window.session.results[2].reconstruction, window.session.results[3].reconstruction
    assert [b is q2 for _, b in recorder.calls] == [True, False] and recorder.calls[1][1] is q3
    assert len(arrived) == 1  # quality 2's never reached the window
    assert "Quality 3" in split.label_a.text() and "Quality 2" not in split.label_a.text()
    assert np.array_equal(
        np.asarray(split.shown_image()), difference_mod.difference(window.session.image.pixels, q3).image
    )


def test_quick_toggles_do_not_pile_up_work(qtbot, window, small_png, recorded):
    split = open_on_quality_2(qtbot, window, small_png)
    recorder = recorded(held=True)
    split.set_difference(True)
    recorder.wait_held(qtbot)
    for _ in range(10):  # off, on, off, … on: each "on" wants a job, each "off" gives it up
        split.toggle_difference()
        split.toggle_difference()
    recorder.release()
    qtbot.waitUntil(lambda: shown_difference(split) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    assert len(recorder.calls) == 2  # the one running and the last wish: the given-up ones never ran
    split.toggle_difference()
    assert not shown_difference(split) and split.divider.isVisible()  # off: the split at once


def test_a_failed_difference_is_said_in_the_split_not_retried(qtbot, window, small_png, monkeypatch, dialogs):
    split = open_on_quality_2(qtbot, window, small_png)
    tries = []

    def refuse(a, b, gain=None, cancel=None):
        tries.append(1)
        raise MemoryError("no room for the difference")

    monkeypatch.setattr(jobs, "difference", refuse)
    split.set_difference(True)
    qtbot.waitUntil(lambda: "Could not show the difference" in split.message.text(), timeout=LADDER_TIMEOUT_MS)
    assert "MemoryError" in split.message.text() and not shown_difference(split)
    split.set_sides(ORIGINAL, 2)  # the same pair again: told, not tried again
    qtbot.wait(200)
    assert len(tries) == 1 and dialogs.errors == [] and split.divider.isVisible()
