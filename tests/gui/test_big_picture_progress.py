"""The window's meter follows a big picture tile by tile (issue 15, finding 6).

Over LARGE_IMAGE_PIXELS (lowered here so that a small photo counts as big) a quality takes tens of
seconds; the meter said only "n of 8" between qualities. Now the ladder's and a decode's progress
text names the picture's size and the tile being worked on; a small picture's text stays as it was.
The window's bar moves tile by tile too (it stood still for a whole quality while the text moved).
"""

from __future__ import annotations

from lci_studio.codec import image_io, pipeline
from lci_studio.gui.jobs import DecodeJob, LadderJob
from lci_studio.gui.progress import PARTS
from lci_studio.gui.worker import CodecWorker
from tests.gui.conftest import wait_ladder


def _run(qtbot, job) -> tuple[list[str], list]:
    """The progress texts and the results of one job."""
    worker = CodecWorker()
    texts: list[str] = []
    results: list = []
    worker.progress.connect(lambda job_id, done, total, text: texts.append(text))
    worker.resultReady.connect(lambda job_id, result: results.append(result))
    try:
        worker.start(job)
        qtbot.waitUntil(lambda: not worker.busy(), timeout=120_000)
    finally:
        worker.shutdown()
    return texts, results


def test_a_big_picture_shows_its_size_and_tiles(qtbot, small_png, source, monkeypatch):
    image = image_io.load_rgb(small_png())  # 128×96
    monkeypatch.setattr(image_io, "LARGE_IMAGE_PIXELS", 1000)
    texts, results = _run(qtbot, LadderJob(image, source, qualities=(2, 5)))
    tiles = [t for t in texts if "tile" in t]
    assert "0.0 MP picture: q2 encode, tile 1 of 1" in tiles and "0.0 MP picture: q5 decode, tile 1 of 1" in tiles
    texts, _ = _run(qtbot, DecodeJob(results[0].lci, "small.lci", (source,)))
    assert "decoding small.lci, 0.0 MP: tile 1 of 1" in texts


def test_a_small_picture_has_no_tile_text(qtbot, small_png, source):
    texts, _ = _run(qtbot, LadderJob(image_io.load_rgb(small_png()), source, qualities=(1,)))
    assert not any("tile" in t for t in texts)


def _bar_values(qtbot, window, path) -> set[int]:
    """Every value the window's bar took while it ran the ladder on `path`, in parts of a step."""
    values: set[int] = set()
    window.progress.bar.valueChanged.connect(values.add)
    window.open_path(path)
    wait_ladder(qtbot, window)
    return values


def test_the_window_bar_moves_tile_by_tile_on_a_big_picture(qtbot, window, small_png, monkeypatch):
    monkeypatch.setattr(image_io, "LARGE_IMAGE_PIXELS", 1000)
    monkeypatch.setattr(pipeline, "WHOLE", 64)
    monkeypatch.setattr(pipeline, "TILE", 64)  # the 96×128 picture runs in 2×2 tiles, analysis and synthesis
    values = _bar_values(qtbot, window, small_png())
    within_a_quality = {value % PARTS for value in values}
    # encode's 4 tiles fill the first half of a quality's stretch of the bar, decode's the second
    assert {PARTS * k // 8 for k in range(1, 8)} <= within_a_quality
    assert max(values) == window.progress.bar.maximum()


def test_a_small_picture_moves_the_bar_by_whole_qualities(qtbot, window, small_png):
    values = _bar_values(qtbot, window, small_png())
    assert values and {value % PARTS for value in values} == {0}
