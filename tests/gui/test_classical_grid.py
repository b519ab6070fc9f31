"""The grid's column of classical codecs at the selected quality's file size (the split's pictures,
from the same `baselines.at_size` jobs)."""

from __future__ import annotations

import numpy as np

from lci_studio.codec.baselines import decode_classical
from tests.gui.conftest import LADDER_TIMEOUT_MS, wait_ladder


def test_classical_column_follows_the_selection_and_waits_while_unseen(qtbot, make_window, source, small_png):
    window = make_window(source)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    session, tiles = window.session, window.compare.classical_tiles
    window.session.select(3)
    window.commands["bits"].trigger()
    window.commands["classical_grid"].trigger()  # shows the grid: the column is for seeing
    assert window.tabs.currentWidget() is window.compare and window.compare.classical_shown()
    qtbot.waitUntil(lambda: all((c, 3) in session.classical for c in tiles), timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: all(t.pixels is not None for t in tiles.values()))
    for codec, tile in tiles.items():
        assert np.array_equal(tile.pixels, decode_classical(session.classical[(codec, 3)].data))
        assert tile.isVisible() and "quality 3" in tile.caption_text()

    # while another tab is shown, nothing is encoded for the grid; back on it, the new quality's column
    window.commands["bits"].trigger()
    session.select(5)
    qtbot.wait(300)
    assert not any(key[1] == 5 for key in session.classical) and not window.jobs.classical_jobs
    window.commands["grid"].trigger()
    qtbot.waitUntil(lambda: all((c, 5) in session.classical for c in tiles), timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: all("quality 5" in t.caption_text() and t.pixels is not None for t in tiles.values()))

    # off again: the column goes, and the choice is remembered
    window.commands["classical_grid"].trigger()
    assert not any(t.isVisible() for t in tiles.values())
    again = make_window(source)
    assert not again.compare.classical_shown() and not again.commands["classical_grid"].isChecked()
    window.commands["classical_grid"].trigger()
    assert make_window(source).compare.classical_shown()


def test_split_and_grid_wishes_are_queued_not_cancelling_each_other(qtbot, make_window, source, small_png):
    """The split on AVIF and the grid's column both want pictures of quality 2's size: each (codec, size)
    is encoded once, none is given up half-done for the other view's wish, and all arrive."""
    from lci_studio.gui.jobs import ClassicalJob
    from lci_studio.gui.panels.split import CLASSICAL, SELECTED

    window = make_window(source)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    session, worker = window.session, window.worker
    started, outcomes = [], {}
    real_start = worker.start

    def start(job):
        job_id = real_start(job)
        if isinstance(job, ClassicalJob):
            started.append((job.codec, job.quality))
            outcomes[job_id] = None
        return job_id

    def finished(job_id, outcome):
        if job_id in outcomes:
            outcomes[job_id] = outcome

    worker.start = start
    worker.jobFinished.connect(finished)
    session.select(2)
    window.tabs.setCurrentWidget(window.split)
    window.split.set_sides(CLASSICAL + "AVIF", SELECTED)  # asks for AVIF at quality 2's size
    window.commands["classical_grid"].trigger()  # shows the grid: asks for its column too
    codecs = window.compare.classical_tiles
    qtbot.waitUntil(lambda: all((c, 2) in session.classical for c in codecs), timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: None not in outcomes.values() and not window.jobs.classical_jobs)
    assert sorted(started) == sorted((c, 2) for c in codecs) and started[0] == ("AVIF", 2)
    assert set(outcomes.values()) == {"done"}
    window.tabs.setCurrentWidget(window.split)
    qtbot.waitUntil(lambda: "AVIF" in window.split.label_a.text())
    assert not window.jobs.classical_queue
