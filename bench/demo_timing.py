"""What a presenter waits for in the real window, against what the codec alone takes, quiet and busy.

The window runs offscreen (QT_QPA_PLATFORM=offscreen) with the bundled weights, in this
process, on a Kodak-size photo (a 768×512 crop of an eval photo, or a synthetic photo-like
image when ../shared is absent). Per run it opens the picture and times, from the call:

    first tile      the first quality's picture is in the session (its tile drawn)
    all 8 tiles     the eighth quality's picture is in
    baselines       JPEG, WebP and AVIF are all plotted and nothing runs any more

and beside it the bare codec ladder of the same weights (encode + decode of the 8 qualities,
models already loaded), and `lci compare` in this process (all metrics, all baselines)
against its own codec time (the encode + decode seconds it reports). Every figure is printed
against its target:

    first tile ≤ 0.4 s (quiet) · all 8 ≤ 1.3 × bare ladder · baselines ≤ 2 × bare ladder ·
    lci compare ≤ 2 × its codec time

Each figure's floor is printed beneath it: the first quality's bare encode + decode (under the
first tile), and the CPU seconds one open costs (ladder, classical codecs, GUI) over the cores the
process may use (under "baselines plotted", however well the work is packed), and the same for
`lci compare`'s CPU seconds against its codec time. Window runs, bare
ladders and `lci compare` are interleaved, so a change of load on a shared machine hits them alike.

`--busy` runs the same beside one CPU-bound process (a Python busy loop, as a video call or a
compile keeps a core busy). The first open warms up (loads the models); the median of the
--repeat runs after it is printed.

    .venv/bin/python bench/demo_timing.py [--repeat 3] [--busy 0|1|both] [--photo FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

EVAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eval"
BUSY_LOOP = "while True:\n    pass\n"


def kodak_crop(photo: Path | None, out: Path) -> Path:
    """A 768×512 PNG: the centre of `photo` (or the first eval photo), or a synthetic one."""
    from lci_studio.codec.image_io import load_rgb, save_png

    candidates = [photo] if photo else sorted(EVAL.glob("*.png")) if EVAL.is_dir() else []
    if candidates and candidates[0].is_file():
        pixels = load_rgb(candidates[0]).pixels
        height, width = pixels.shape[:2]
        top, left = max(0, (height - 512) // 2), max(0, (width - 768) // 2)
        pixels = pixels[top : top + 512, left : left + 768]
    else:
        rng = np.random.default_rng(0)
        pixels = np.clip(np.cumsum(rng.normal(0, 4, (512, 768, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
    target = out / "kodak-size.png"
    save_png(target, np.ascontiguousarray(pixels))
    return target


def bare_ladder(source, pixels: np.ndarray) -> tuple[float, float, float]:
    """(seconds for encode + decode of every quality, of the first quality alone, CPU seconds of it all):
    models loaded, nothing else. The first quality's is the floor under "open → first tile"."""
    from lci_studio.codec.pipeline import decode_lci, encode_image

    cpu = time.process_time()
    started = time.perf_counter()
    first = 0.0
    for quality in source.qualities():
        loaded = source.load(quality)
        decode_lci(encode_image(loaded, pixels, with_bit_map=False).lci, loaded)
        first = first or time.perf_counter() - started
    return time.perf_counter() - started, first, time.process_time() - cpu


def window_run(app, window, path: Path, timeout: float = 600.0) -> dict[str, float]:
    """Open `path` in the window and time first tile, all tiles and all baselines from the call.

    The window runs its own event loop meanwhile, as in use: the marks are taken in the session's
    and the worker's own events (a loop that polled every millisecond cost the GUI thread ~0.4 s
    of CPU per run, which two busy cores then lacked).
    """
    from PySide6.QtCore import QEventLoop, QTimer

    from lci_studio.codec.baselines import available_codecs

    session = window.session
    marks: dict[str, float] = {}
    codecs = set(available_codecs())
    loop = QEventLoop()
    started = time.perf_counter()

    def on_result(_result) -> None:
        now = time.perf_counter() - started
        marks.setdefault("first_tile", now)
        if len(session.results) == len(session.source.qualities()):
            marks.setdefault("all_tiles", now)

    def check(*_args) -> None:
        if "all_tiles" in marks and not window.jobs.computing() and {p.codec for p in session.baselines} == codecs:
            marks.setdefault("baselines", time.perf_counter() - started)
            loop.quit()

    # after the window's own handlers (connected when it was built), so its state is up to date
    window.worker.jobFinished.connect(check)
    session.events.result_added.connect(on_result)
    session.events.result_added.connect(check)
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    try:
        window.open_path(path)
        deadline.start(int(timeout * 1000))
        loop.exec()
        if "baselines" not in marks:
            raise SystemExit(f"the window did not finish within {timeout:.0f} s: {marks}")
    finally:
        deadline.stop()
        window.worker.jobFinished.disconnect(check)
        session.events.result_added.disconnect(on_result)
        session.events.result_added.disconnect(check)
    return marks


def compare_run(path: Path, out: Path) -> tuple[float, float, float]:
    """(`lci compare` seconds in this process, the encode + decode seconds it reports, its CPU seconds)."""
    from lci_studio.cli import main as lci

    target = out / "compare.json"
    started, cpu = time.perf_counter(), time.process_time()
    with open(os.devnull, "w") as sink:
        stdout = sys.stdout
        sys.stdout = sink
        try:
            code = lci(["compare", str(path), "--json", str(target)])
        finally:
            sys.stdout = stdout
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    if code != 0:
        raise SystemExit(f"lci compare failed ({code})")
    results = json.loads(target.read_text())["results"]
    return wall, sum(results["encoding_time"]) + sum(results["decoding_time"]), cpu


def measure(repeat: int, photo: Path, out: Path) -> dict[str, float]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lci_studio.codec.image_io import load_rgb
    from lci_studio.codec.weights import open_weight_source
    from lci_studio.gui.window import MainWindow

    app = QApplication.instance() or QApplication([])
    source = open_weight_source("bundled")
    settings = QSettings(str(out / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(source, settings=settings)
    window.resize(1600, 1000)
    window.show()
    pixels = load_rgb(photo).pixels
    try:
        window_run(app, window, photo)  # warm-up: loads the models, first paint of every panel
        runs, bare, compares = [], [], []
        for i in range(repeat):  # interleaved, so that a change of load on a shared machine hits each alike
            cpu = time.process_time()
            runs.append(window_run(app, window, photo))
            runs[-1]["window_cpu"] = time.process_time() - cpu
            bare.append(bare_ladder(source, pixels))
            if i % 2 == 0:
                compares.append(compare_run(photo, out))
    finally:
        window.close()
    keys = ("first_tile", "all_tiles", "baselines", "window_cpu")
    figures = {key: statistics.median(r[key] for r in runs) for key in keys}
    for i, key in enumerate(("bare_ladder", "bare_first", "bare_cpu")):
        figures[key] = statistics.median(b[i] for b in bare)
    figures["compare"] = statistics.median(c[0] for c in compares)
    figures["compare_codec"] = statistics.median(c[1] for c in compares)
    figures["compare_cpu"] = statistics.median(c[2] for c in compares)
    return figures


def report(label: str, f: dict[str, float]) -> None:
    bare = f["bare_ladder"]

    def line(name: str, value: float, limit: float, rule: str) -> None:
        verdict = "ok" if value <= limit else "MISSED"
        print(f"  {name:<28} {value:6.2f} s   target ≤ {limit:5.2f} s ({rule})   {verdict}")

    print(f"{label}: bare codec ladder {bare:.2f} s (encode + decode, 8 qualities)")
    if label.startswith("quiet"):
        line("open → first tile", f["first_tile"], 0.4, "fixed")
    else:
        print(f"  {'open → first tile':<28} {f['first_tile']:6.2f} s   (the 0.4 s target is for a quiet machine)")
    line("open → all 8 tiles", f["all_tiles"], 1.3 * bare, "1.3 × bare")
    line("open → baselines plotted", f["baselines"], 2 * bare, "2 × bare")
    line("lci compare (all metrics)", f["compare"], 2 * f["compare_codec"], f"2 × its codec {f['compare_codec']:.2f} s")
    # the floors under those figures: what the codec alone takes for the first tile, and the CPU
    # seconds an open costs (ladder, classical codecs, GUI) against the bare ladder's, over the cores
    from lci_studio.codec.baselines import usable_cpus

    cores = usable_cpus()
    print(
        f"  floors: first quality's encode + decode {f['bare_first']:.2f} s; CPU per open {f['window_cpu']:.1f} s "
        f"(bare ladder {f['bare_cpu']:.1f} s), so on {cores} cores the baselines need ≥ "
        f"{f['window_cpu'] / cores:.2f} s = {f['window_cpu'] / cores / bare:.2f} × bare; "
        f"lci compare = {f['compare'] / bare:.2f} × the bare ladder; it costs {f['compare_cpu']:.1f} CPU s, "
        f"so on {cores} cores it needs ≥ {f['compare_cpu'] / cores:.2f} s = "
        f"{f['compare_cpu'] / cores / f['compare_codec']:.2f} × its codec time"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--busy", choices=("0", "1", "both"), default="both")
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--one", choices=("quiet", "busy"), help=argparse.SUPPRESS)  # a child run
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        photo = kodak_crop(args.photo, out)
        if args.one:
            print(json.dumps(measure(args.repeat, photo, out)))
            return 0
        loads = {"0": ["quiet"], "1": ["busy"], "both": ["quiet", "busy"]}[args.busy]
        print(f"{photo.name}: 768×512, bundled weights, {os.cpu_count()} CPUs, median of {args.repeat} runs")
        for load in loads:
            busy = subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) if load == "busy" else None
            try:
                before = os.getloadavg()[0]
                # a fresh interpreter per load: nothing warm from the other
                child = subprocess.run(
                    [sys.executable, __file__, "--one", load, "--repeat", str(args.repeat), "--photo", str(photo)],
                    capture_output=True, text=True, check=False,
                )
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            if child.returncode != 0:
                print(child.stderr[-2000:], file=sys.stderr)
                return 1
            figures = json.loads(child.stdout.strip().splitlines()[-1])
            label = "quiet" if load == "quiet" else "beside one busy process"
            report(f"{label} (load average {before:.1f} before)", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
