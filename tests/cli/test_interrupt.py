"""Ctrl-C in a terminal: `lci` answers with one line and exit status 130, whenever it comes.

Finding 4 of issue 15: in the first seconds (while torch is imported) Ctrl-C printed a
KeyboardInterrupt traceback. The installed `lci` script is run as a user runs it.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import ctrl_c_reaches_it, make_photo

LCI = Path(sys.executable).with_name("lci")


def _wait_until_torch_loads(pid: int, timeout: float = 120.0) -> None:
    """Until torch's library is mapped: the interpreter's own start-up (before any of our code
    runs, where Python itself prints a traceback) is over, and torch's import is under way."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "libtorch" in Path(f"/proc/{pid}/maps").read_text():
            return
        time.sleep(0.01)
    raise AssertionError("torch never loaded")


@pytest.mark.skipif(not LCI.exists() and shutil.which("lci") is None, reason="the lci script is not installed")
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc to see torch load")
@pytest.mark.parametrize("delay", [0.0, 4.0])  # while importing torch; a few seconds later, in the work
def test_ctrl_c_gives_one_line_and_130(tmp_path, delay):
    photo = tmp_path / "photo.png"
    Image.fromarray(make_photo(1200, 1600, seed=3)).save(photo)
    out = tmp_path / "rd.json"
    process = subprocess.Popen(
        [str(LCI if LCI.exists() else shutil.which("lci")), "compare", str(photo), "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=ctrl_c_reaches_it,
    )
    _wait_until_torch_loads(process.pid)
    time.sleep(delay)
    assert process.poll() is None, "the command ended before it could be interrupted: make it longer"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["lci: interrupted"], stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.png"]  # no output, no temp file left
