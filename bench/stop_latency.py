"""How fast a running ladder stops on a 25 MP photo (issue 15, finding 1; target: within 0.5 s).

    nice .venv/bin/python bench/stop_latency.py                  # stop 3, 10 and 25 s into the ladder
    nice .venv/bin/python bench/stop_latency.py --after 5 --gaps # and the longest stretch between two polls
    nice .venv/bin/python bench/stop_latency.py --window         # the real window: Stop (Esc) and close
    nice .venv/bin/python bench/stop_latency.py --after --gaps --tile 1024 --margins 64 4  # the tiles before

The photo is `resources/samples/coffee.png` upscaled to 6000×4200 (25.2 MP). The bundled ladder runs in a
thread exactly as the window's worker runs it (`encode_ladder` with a cancel check); at each stop time the
check starts saying "stop" and the script measures how long until `CancelledError` comes out. `--gaps` also
times every poll of one whole quality without stopping: the longest gap between two polls is the worst
latency a Stop can see. `--window` runs `lci-studio`'s own `main` offscreen in a subprocess on the same
photo: at each stop time it presses Stop (until the worker is idle) or closes the window (how long the
close call froze the window, and how long until the process was gone; closing waits at most
`worker.SHUTDOWN_WAIT_MS` for the cancelled jobs, then leaves without them). Nothing is asserted; the
script prints the numbers. `--tile` and `--margins` set the pipeline's tile side for big pictures and its margins
(`pipeline.TILE`, `TILE_MARGIN`, `LATENT_MARGIN`) in this process, to weigh a tiling's worst gap against its
total time.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZE = (6000, 4200)


def photo():
    import numpy as np
    from PIL import Image

    from lci_studio.codec.image_io import RgbImage

    root = Path(__file__).resolve().parents[1]
    with Image.open(root / "resources" / "samples" / "coffee.png") as image:
        big = image.convert("RGB").resize(SIZE, Image.Resampling.LANCZOS)
    return RgbImage(np.asarray(big).copy(), None, "coffee-25mp")


def stop_after(image, source, seconds: float) -> tuple[float, str]:
    """Run the ladder, say stop after `seconds`; return the latency and where it was (quality, elapsed)."""
    from lci_studio.codec.ladder import CancelledError, encode_ladder

    stop = threading.Event()
    done = threading.Event()
    finished: list[float] = []
    reached: list[int] = []

    def run() -> None:
        try:
            for result in encode_ladder(image, source, should_cancel=stop.is_set):
                reached.append(result.quality)
        except CancelledError:
            pass
        finished.append(time.perf_counter())
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(seconds)
    said = time.perf_counter()
    stop.set()
    done.wait()
    thread.join()
    return finished[0] - said, f"{len(reached)} qualities done"


def _poll_site() -> str:
    """Where the codec polled from: its innermost function outside the cancel plumbing (and which layer)."""
    frame, layer = sys._getframe(2), ""
    while frame is not None:
        code = frame.f_code
        if code.co_name == "forward" and "index" in frame.f_locals:
            layer = f" before layer {frame.f_locals['index']}"
        ours = "lci_studio" in code.co_filename or "/app/" in code.co_filename
        if ours and code.co_name not in ("stop_if_cancelled", "<lambda>", "forward", "_transform"):
            return f"{Path(code.co_filename).stem}.{code.co_name}:{frame.f_lineno}{layer}"
        frame = frame.f_back
    return "?"


def poll_gaps(image, source, quality: int) -> list[tuple[float, str]]:
    """(seconds, "from → to") of every stretch between two polls of one whole quality."""
    from lci_studio.codec.ladder import measure_quality

    stamps = [(time.perf_counter(), "start")]

    def check() -> bool:
        stamps.append((time.perf_counter(), _poll_site()))
        return False

    measure_quality(source.load(quality), image, check)
    stamps.append((time.perf_counter(), "end"))
    return [(b - a, f"{where} → {then}") for (a, where), (b, then) in itertools.pairwise(stamps)]


WINDOW_DRIVER = """
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from lci_studio.gui.main import main

action, after, image = sys.argv[1], float(sys.argv[2]), sys.argv[3]
app = QApplication(sys.argv[:1])
state = {"started": None, "said": None}

def watch():
    for window in app.topLevelWidgets():
        if not hasattr(window, "jobs") or window.session.image is None:
            continue
        if state["said"] is not None:  # Stop pressed: wait until the worker is idle
            if not window.worker.busy():
                print(f"stop {time.perf_counter() - state['said']:.3f}", flush=True)
                timer.stop()
                window.close()
            return
        if not window.worker.busy("view"):
            return
        state["started"] = state["started"] or time.perf_counter()
        if time.perf_counter() - state["started"] < after:
            return
        done = len(window.session.results)
        if action == "stop":
            state["said"] = time.perf_counter()
            print(f"at {done} qualities done", flush=True)
            window.jobs.stop()
        else:
            timer.stop()
            print(f"at {done} qualities done; closing {time.time():.6f}", flush=True)
            said = time.perf_counter()
            window.close()
            print(f"close-call {time.perf_counter() - said:.3f}", flush=True)

timer = QTimer()
timer.timeout.connect(watch)
timer.start(5)
sys.exit(main([image, "--weights", "bundled"]))
"""


def window_latency(action: str, after: float, image_path: Path) -> str:
    """Run the window on the photo, `action` ("stop" or "close") `after` seconds into the ladder; one line."""
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=home, XDG_CONFIG_HOME=home)
        result = subprocess.run(
            [sys.executable, "-c", WINDOW_DRIVER, action, str(after), str(image_path)],
            capture_output=True, text=True, env=env, timeout=900,
        )
    gone = time.time()
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    where = lines.get("at", "?").split(";")[0]
    if action == "stop":
        return f"Stop {after:g} s into the ladder (at {where}): worker idle {lines.get('stop', '?')} s later"
    closing = float(lines["at"].rsplit(" ", 1)[1])
    aborted = "QThread" in result.stderr or result.returncode not in (0,)
    return (
        f"close {after:g} s into the ladder (at {where}): the close call took {lines.get('close-call', '?')} s, "
        f"process gone {gone - closing:.3f} s after (exit {result.returncode}{', ABORT' if aborted else ''})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", type=float, nargs="*", default=[3.0, 10.0, 25.0], help="stop times, seconds")
    parser.add_argument("--gaps", action="store_true", help="also time every poll of one whole quality")
    parser.add_argument("--quality", type=int, default=8, help="the quality whose polls --gaps times")
    parser.add_argument("--window", action="store_true", help="Stop and close the real window instead")
    parser.add_argument("--tile", type=int, help="the pipeline's tile side for big pictures (default: its own)")
    parser.add_argument("--margins", type=int, nargs=2, metavar=("PIXELS", "LATENT"), help="the tiles' margins")
    args = parser.parse_args()
    from lci_studio.codec import pipeline

    if args.tile:
        pipeline.TILE = args.tile
    if args.margins:
        pipeline.TILE_MARGIN, pipeline.LATENT_MARGIN = args.margins
    if args.window:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "coffee-25mp.png"
            photo_image = photo()
            from lci_studio.codec.image_io import save_png

            save_png(path, photo_image.pixels)
            print(f"{photo_image.width}×{photo_image.height} photo in lci-studio (offscreen), bundled ladder")
            for seconds in args.after:
                for action in ("stop", "close"):
                    print(window_latency(action, seconds, path), flush=True)
        return
    import torch

    from lci_studio.codec.weights import open_weight_source

    image = photo()
    source = open_weight_source("bundled")
    for quality in source.qualities():
        source.load(quality)  # loaded up front, as the window's worker keeps them
    print(
        f"{image.width}×{image.height} photo, bundled ladder, tile {pipeline.TILE} "
        f"(margins {pipeline.TILE_MARGIN} px, {pipeline.LATENT_MARGIN} latent), "
        f"torch threads {torch.get_num_threads()}"
    )
    latencies = []
    for seconds in args.after:
        latency, where = stop_after(image, source, seconds)
        latencies.append(latency)
        print(f"stop {seconds:g} s into the ladder ({where}): stopped {latency:.3f} s later")
    if latencies:
        print(f"stop latency: max {max(latencies):.3f} s over {len(latencies)} stops")
    if args.gaps:
        started, cpu = time.perf_counter(), time.process_time()
        stretches = sorted(poll_gaps(image, source, args.quality))
        cpu = time.process_time() - cpu  # all threads: a busy machine inflates it less than the wall time
        gaps = [seconds for seconds, _ in stretches]
        p95 = gaps[int(0.95 * (len(gaps) - 1))]
        print(
            f"q{args.quality}, one whole quality in {time.perf_counter() - started:.1f} s ({cpu:.1f} CPU s): "
            f"{len(gaps)} gaps between polls, longest {gaps[-1]:.3f} s, 95th percentile {p95:.3f} s, "
            f"median {gaps[len(gaps) // 2]:.3f} s"
        )
        for seconds, where in stretches[:-6:-1]:
            print(f"  {seconds:.3f} s  {where}")


if __name__ == "__main__":
    main()
