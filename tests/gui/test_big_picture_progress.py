"""The window's meter follows a big picture tile by tile (issue 15, finding 6).

Over LARGE_IMAGE_PIXELS (lowered here so that a small photo counts as big) a quality takes tens of
seconds; the meter said only "n of 8" between qualities. Now the ladder's and a decode's progress
text names the picture's size and the tile being worked on; a small picture's text stays as it was.
"""

from __future__ import annotations

from lci_studio.codec import image_io
from lci_studio.gui.worker import CodecWorker, DecodeJob, LadderJob


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
