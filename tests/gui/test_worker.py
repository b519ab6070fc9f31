"""The worker's load job: pictures are read and converted in the worker thread, not the window's."""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtGui import QImage

from lci_studio.codec import image_io
from lci_studio.gui.jobs import LadderJob, LoadedImage, LoadJob
from lci_studio.gui.qimage import to_qimage
from lci_studio.gui.worker import CodecWorker
from tests.conftest import make_photo


def _run(qtbot, worker: CodecWorker, job) -> tuple[int, list, list]:
    loaded, failed = [], []
    worker.imageLoaded.connect(lambda job_id, result: loaded.append((job_id, result)))
    worker.failed.connect(lambda job_id, title, message: failed.append((job_id, title, message)))
    job_id = worker.start(job)
    qtbot.waitUntil(lambda: not worker.busy(), timeout=60_000)
    return job_id, loaded, failed


def test_a_file_is_read_in_the_worker_thread(qtbot, small_png, monkeypatch):
    threads = []
    real = image_io.load_rgb

    def recording(source):
        threads.append(threading.current_thread())
        return real(source)

    monkeypatch.setattr(image_io, "load_rgb", recording)
    worker = CodecWorker()
    try:
        path = small_png("read.png")
        job_id, loaded, failed = _run(qtbot, worker, LoadJob(path=path))
    finally:
        worker.shutdown()
    assert failed == [] and threads and threads[0] is not threading.main_thread()
    (got_id, result), = loaded
    assert got_id == job_id and isinstance(result, LoadedImage) and result.path == path
    assert np.array_equal(result.image.pixels, image_io.load_rgb(path).pixels)
    assert result.basis.is_file and result.basis.bytes == path.stat().st_size


def test_pasted_pixels_are_measured_against_raw_rgb_and_keep_alpha_rule(qtbot):
    pixels = make_photo(20, 30, 4)
    worker = CodecWorker()
    try:
        _, loaded, _ = _run(qtbot, worker, LoadJob(qimage=to_qimage(pixels), name="pasted image"))
        translucent = QImage(4, 3, QImage.Format.Format_ARGB32)
        translucent.fill(0x80FF0000)  # half-transparent red
        _, half, _ = _run(qtbot, worker, LoadJob(qimage=translucent, name="dropped image"))
    finally:
        worker.shutdown()
    result = loaded[0][1]
    assert np.array_equal(result.image.pixels, pixels) and result.path is None
    assert result.basis.label == "raw RGB" and result.basis.bytes == 20 * 30 * 3
    assert result.basis.detail == "no file" and result.image.name == "pasted image"
    # composited on white by image_io's stated rule, as a file with the same alpha would be
    assert half[-1][1].image.pixels[0, 0].tolist() == [255, 127, 127]


def test_an_unreadable_file_fails_with_the_window_title(qtbot, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    worker = CodecWorker()
    try:
        job_id, loaded, failed = _run(qtbot, worker, LoadJob(path=bad))
    finally:
        worker.shutdown()
    assert loaded == [] and failed[0][:2] == (job_id, "Could not open the image") and "bad.png" in failed[0][2]


def test_a_load_replaces_the_ladder_of_its_lane(qtbot, small_png, source):
    worker = CodecWorker()
    outcomes = {}
    worker.jobFinished.connect(lambda job_id, outcome: outcomes.__setitem__(job_id, outcome))
    try:
        ladder = worker.start(LadderJob(image_io.load_rgb(small_png()), source))
        load = worker.start(LoadJob(path=small_png("next.png", seed=3)))
        assert not worker.is_current(ladder) and worker.is_current(load)
        qtbot.waitUntil(lambda: not worker.busy(), timeout=60_000)
    finally:
        worker.shutdown()
    assert outcomes == {ladder: "cancelled", load: "done"}
