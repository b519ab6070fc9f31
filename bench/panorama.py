"""A long thin picture in the window against `lci encode -q 1` on it: open → first tile.

A 7000×100 panorama (the middle rows of the first eval photo stretched that wide, or a synthetic
strip when ../shared is absent) is opened in the real window, offscreen, with the bundled weights
and JPEG/WebP/AVIF measured beside the ladder as in use; the time is from the open call to the first
quality's picture in the session. A warm-up open of another picture first loads the models, as a
presenter's earlier photo did. Interleaved with it, `lci encode -q 1` runs on the same file in a
subprocess: the command's whole wall time (Python, torch, the model, encode, decode for its PSNR)
and the encode time it prints. Each figure is a median over --repeat runs, with the CPU seconds of
the window's process beside it (the machine is shared: CPU time moves less than wall time).
"launched" is the presenter's cold path beside them: `lci-studio`'s window built in a fresh process
that opens the panorama at once, from the launch to its first tile (Python, torch, Qt, the window,
the first model), against the same `lci encode` command.

    nice python bench/panorama.py [--repeat 3] [--size 7000x100]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np

EVAL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eval"
LCI = Path(sys.executable).with_name("lci")


def panorama(out: Path, width: int, height: int) -> Path:
    """A width×height PNG: the first eval photo's middle rows stretched, or a synthetic strip."""
    from PIL import Image

    from lci_studio.codec.image_io import save_png

    photos = sorted(EVAL.glob("*.png")) if EVAL.is_dir() else []
    if photos:
        with Image.open(photos[0]) as photo:
            rgb = photo.convert("RGB")
            middle = rgb.height // 2
            strip = rgb.crop((0, middle - height // 2, rgb.width, middle + height - height // 2))
            pixels = np.asarray(strip.resize((width, height), Image.Resampling.LANCZOS))
    else:
        rng = np.random.default_rng(0)
        pixels = np.clip(np.cumsum(rng.normal(0, 4, (height, width, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
    target = out / f"panorama-{width}x{height}.png"
    save_png(target, np.ascontiguousarray(pixels))
    return target


def first_tile(app, window, path: Path, timeout: float = 600.0) -> tuple[float, float]:
    """(seconds from the open call to the first result in the session, CPU seconds of this process meanwhile);
    then waits for everything beside the ladder to end, so that the next run starts on a quiet window."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    marks: list[float] = []

    def on_result(_result) -> None:
        if not marks:
            marks.extend((time.perf_counter() - started, time.process_time() - cpu))
            QTimer.singleShot(0, loop.quit)

    window.session.events.result_added.connect(on_result)
    try:
        started, cpu = time.perf_counter(), time.process_time()
        window.open_path(path)
        QTimer.singleShot(int(timeout * 1000), loop.quit)
        loop.exec()
    finally:
        window.session.events.result_added.disconnect(on_result)
    if not marks:
        raise SystemExit(f"no tile within {timeout:.0f} s")
    window.wait_idle(timeout)
    return marks[0], marks[1]


def cli_encode(path: Path, out: Path) -> tuple[float, float]:
    """(wall seconds of `lci encode -q 1`, the encode seconds it prints)."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(LCI), "encode", "-q", "1", str(path), "-o", str(out / "panorama.lci")],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.perf_counter() - started
    encoded = re.search(r"encoded in ([0-9.]+) s", done.stdout)
    return wall, float(encoded.group(1)) if encoded else float("nan")


def launched(path: Path, out: Path) -> float:
    """Seconds from launching a fresh process that builds the window and opens `path` to its first tile."""
    started = time.time()
    child = subprocess.run(
        [sys.executable, __file__, "--child", str(path), "--settings", str(out / "child.ini")],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(child.stdout.strip().splitlines()[-1]) - started


def child(path: Path, settings_path: Path) -> None:
    """The window in this fresh process opens `path`; prints the clock at its first tile and leaves at once."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lci_studio.codec.weights import open_weight_source
    from lci_studio.gui.window import MainWindow

    app = QApplication([])
    window = MainWindow(
        open_weight_source("bundled"), settings=QSettings(str(settings_path), QSettings.Format.IniFormat)
    )
    window.resize(1440, 900)
    window.show()

    def on_result(_result) -> None:
        print(time.time(), flush=True)
        os._exit(0)  # what runs beside the ladder is not waited for

    window.session.events.result_added.connect(on_result)
    window.open_path(path)
    app.exec()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="7000x100", help="WIDTHxHEIGHT")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--settings", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.settings)
        return 0
    width, height = (int(v) for v in args.size.lower().split("x"))

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lci_studio.codec.weights import open_weight_source
    from lci_studio.gui.window import MainWindow

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        path = panorama(out, width, height)
        warm = panorama(out, 768, 512)
        app = QApplication.instance() or QApplication([])
        settings = QSettings(str(out / "s.ini"), QSettings.Format.IniFormat)
        window = MainWindow(open_weight_source("bundled"), settings=settings)
        window.resize(1440, 900)
        window.show()
        try:
            first_tile(app, window, warm)  # loads the models, as an earlier photo did
            tiles, cpus, walls, encodes, colds = [], [], [], [], []
            for _ in range(args.repeat):
                tile, cpu = first_tile(app, window, path)
                tiles.append(tile)
                cpus.append(cpu)
                wall, encode = cli_encode(path, out)
                walls.append(wall)
                encodes.append(encode)
                colds.append(launched(path, out))
        finally:
            window.close()
    tile, wall, encode = statistics.median(tiles), statistics.median(walls), statistics.median(encodes)
    print(f"{path.name}: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, median of {args.repeat}")
    print(
        f"  window: open → first tile       {tile:6.2f} s  (CPU {statistics.median(cpus):.2f} s; runs "
        + ", ".join(f"{t:.2f}" for t in tiles)
        + ")"
    )
    print(f"  lci encode -q 1 (whole command) {wall:6.2f} s  (runs " + ", ".join(f"{w:.2f}" for w in walls) + ")")
    print(f"  lci encode -q 1 (its encode)    {encode:6.2f} s")
    cold = statistics.median(colds)
    print(f"  launched: start → first tile    {cold:6.2f} s  (runs " + ", ".join(f"{c:.2f}" for c in colds) + ")")
    print(
        f"  first tile / lci encode command = {tile / wall:.2f} (target ≤ 1.5); launched / the command = "
        f"{cold / wall:.2f}; first tile / its encode alone = {tile / encode:.2f} (the tile also decodes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
