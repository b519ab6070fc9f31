"""Closing the window, or Ctrl-C in its terminal, in the middle of a ladder on a big picture.

Issue 15, findings 1 and 4: closing mid-job froze the window for 30 s and then Qt aborted the
process (exit 134, "QThread: Destroyed while thread … is still running"); Ctrl-C printed a
KeyboardInterrupt traceback from a slot and the window kept running. `lci-studio`'s own `main`
runs in a subprocess, offscreen, on a 3000×2000 photo with the bundled ladder; a small driver
closes the window (as its close button does) or reports when the ladder is running, so the test
can send SIGINT. "close-stuck" stands in for a torch layer that runs long past the close: the
driver makes the ladder's one step a 20 s sleep that never checks for cancel, and the process must
be gone before that step ends. Speed is measured in bench/stop_latency.py, not asserted here.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ctrl_c_reaches_it, make_photo

DRIVER = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from lci_studio.gui.main import main

    import threading
    mode, image = sys.argv[1], sys.argv[2]
    app = QApplication(sys.argv[:1])
    inside = threading.Event()
    if mode == "close-stuck":  # a step that never reaches a cancel check, as one long torch layer
        import time
        import lci_studio.codec.ladder as ladder

        def stuck(*args, **kwargs):
            inside.set()
            time.sleep(20)
            print("stuck step ended", flush=True)
            raise ladder.CancelledError()

        ladder.measure_quality = ladder.reconstruct_quality = stuck

    def watch():
        for widget in app.topLevelWidgets():
            running = hasattr(widget, "worker") and widget.worker.busy()
            ready = inside.is_set() or mode != "close-stuck"
            if ready and running and widget.session.image is not None and widget.progress.isVisible():
                timer.stop()
                print("ladder running", flush=True)
                if mode.startswith("close"):
                    widget.close()

    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(20)
    QTimer.singleShot(240_000, lambda: (print("no ladder seen", flush=True), app.closeAllWindows()))
    sys.exit(main([image, "--weights", "bundled"]))
    """
)


@pytest.fixture
def big_photo(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(make_photo(2000, 3000, seed=5)).save(path)
    return path


@pytest.fixture
def run_driver(tmp_path):
    """Start the driver in `mode` on an image; the process is killed at teardown if it still runs."""
    started: list[subprocess.Popen] = []

    def run(mode: str, image) -> subprocess.Popen:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
        script = tmp_path / "driver.py"
        script.write_text(DRIVER)
        process = subprocess.Popen(
            [sys.executable, str(script), mode, str(image)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=ctrl_c_reaches_it,
        )
        started.append(process)
        return process

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("mode", ["close", "close-stuck"])
def test_closing_the_window_mid_ladder_exits_cleanly(run_driver, big_photo, mode):
    """Also when the job is inside a step that can't be interrupted: the window doesn't wait for it."""
    process = run_driver(mode, big_photo)
    stdout, stderr = process.communicate(timeout=300)
    assert "ladder running" in stdout  # it was closed in the middle of the work
    assert "stuck step ended" not in stdout  # it didn't wait for a step that ignores cancel (it waited 30 s)
    assert "QThread" not in stderr and "Traceback" not in stderr, stderr
    assert process.returncode == 0, stderr


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_mid_ladder_closes_the_window_with_130(run_driver, big_photo):
    process = run_driver("signal", big_photo)
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ladder running"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr and "QThread" not in stderr, stderr
    assert process.returncode == 130, stderr


def test_shutdown_leaves_a_step_that_ignores_cancel_running_and_alive(qtbot, monkeypatch, tmp_path):
    """The worker handle gives up waiting, reports the thread as running, and keeps it from being destroyed."""
    import threading

    from lci_studio.codec.cancel import CancelledError
    from lci_studio.gui import jobs as jobs_mod
    from lci_studio.gui import worker as worker_mod

    inside, release = threading.Event(), threading.Event()

    def stuck(*args, **kwargs):
        inside.set()
        release.wait(60)
        raise CancelledError()

    monkeypatch.setattr(jobs_mod.image_io, "load_rgb", stuck)
    worker = worker_mod.CodecWorker()
    worker.start(jobs_mod.LoadJob(path=tmp_path / "any.png"))
    assert inside.wait(60)
    try:
        assert worker.shutdown(timeout_ms=50) is False
        assert worker.running()
        assert any(threads == worker._threads for threads, _ in worker_mod._STILL_RUNNING)
    finally:
        release.set()
    qtbot.waitUntil(lambda: not worker.running(), timeout=60_000)


LCI_STUDIO = Path(sys.executable).with_name("lci-studio")


@pytest.mark.skipif(sys.platform == "win32" or not LCI_STUDIO.exists(), reason="POSIX signals, installed script")
@pytest.mark.parametrize("delay", [0.3, 1.5])  # while Qt and torch are imported, before the window exists
def test_ctrl_c_while_starting_gives_130_without_a_traceback(tmp_path, big_photo, delay):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    process = subprocess.Popen(
        [str(LCI_STUDIO), str(big_photo), "--weights", "bundled"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=ctrl_c_reaches_it,
    )
    try:
        time.sleep(delay)
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert process.returncode == 130, stderr


IGNORING = """
import os, signal
from PySide6.QtWidgets import QApplication, QWidget
from lci_studio.gui.quitting import CtrlCCloses, note_ctrl_c, raise_on_ctrl_c

note_ctrl_c()
os.kill(os.getpid(), signal.SIGINT)
raise_on_ctrl_c()
app = QApplication([])
window = QWidget()
window.show()
ctrl_c = CtrlCCloses(app)
os.kill(os.getpid(), signal.SIGINT)
for _ in range(20):
    app.processEvents()
print(signal.getsignal(signal.SIGINT) == signal.SIG_IGN, ctrl_c.pressed, window.isVisible())
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_started_with_ctrl_c_ignored_it_stays_ignored(tmp_path):
    """`lci-studio … &` from a script: the shell starts it with SIGINT ignored, and Ctrl-C is not for it."""

    def background() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", IGNORING], capture_output=True, text=True, env=env, timeout=120, preexec_fn=background
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]  # still ignored, never noted, window left open
