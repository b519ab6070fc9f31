"""`lci-studio --self-test`: what a user runs when something is wrong, and what CI runs on the frozen build.

Each check prints one line (PASS or FAIL, then what it saw); the last line sums up and the exit
code is 0 only when every check passed. It opens no window: Qt runs on the offscreen platform, so
the test also works without a display (a frozen build on a server, CI).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lci_studio import resources

# A working level decodes a photo crop well above this; broken weights, a wrong fingerprint
# check or a damaged decoder land far below (noise is ~10 dB). Quality 4 averages 32.9 dB on
# the held-out photos (README), so 25 dB leaves room for a hard crop without hiding a fault.
SELF_TEST_QUALITY = 4
MIN_PSNR_DB = 25.0
SAMPLE = "coffee.png"
CROP = 128
# 64x48 of one Display P3 orange, written by pillow-heif 1.9.0 (x265, quality 90, nclx primaries 12,
# sRGB curve; tests/packaging/test_self_test.py checks it is that), and the sRGB that orange is by the
# published P3 and sRGB matrices (tests/codec/test_photos.py holds the conversion to them); HEVC keeps
# a flat colour within a level or two.
HEIC = "selftest/display-p3.heic"
HEIC_P3_COLOUR, HEIC_SRGB_COLOUR = (200, 80, 60), (216, 69, 50)
WINDOW_TIMEOUT_S = 120  # the 8 tiles of a sample take seconds; a slow machine gets room


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str


def check_weights() -> str:
    """The bundled manifest loads and every level's file matches its SHA-256."""
    from lci_studio.codec.weights import BundledSource

    source = BundledSource()
    qualities = source.qualities()
    for quality in qualities:
        source.verified_file(quality)
    return f"{len(qualities)} levels (q{qualities[0]}-q{qualities[-1]}) match manifest.json in {source.directory}"


def check_codec() -> str:
    """Encode a crop of a bundled sample at one quality, decode the bytes again, and measure the PSNR."""
    from lci_studio.codec.image_io import load_rgb
    from lci_studio.codec.metrics import psnr_rgb
    from lci_studio.codec.pipeline import decode_lci, encode_image
    from lci_studio.codec.weights import BundledSource

    pixels = load_rgb(resources.root() / "samples" / SAMPLE).pixels[:CROP, :CROP].copy()
    loaded = BundledSource().load(SELF_TEST_QUALITY)
    start = time.perf_counter()
    encoded = encode_image(loaded, pixels, with_bit_map=False)
    decoded = decode_lci(encoded.lci, loaded)
    seconds = time.perf_counter() - start
    psnr = psnr_rgb(pixels, decoded)
    bpp = 8 * len(encoded.lci) / (pixels.shape[0] * pixels.shape[1])
    detail = (
        f"q{SELF_TEST_QUALITY} on {SAMPLE} {CROP}x{CROP}: {len(encoded.lci)} bytes ({bpp:.2f} bpp), "
        f"PSNR {psnr:.2f} dB, {seconds:.2f} s"
    )
    if not psnr >= MIN_PSNR_DB:
        raise AssertionError(f"{detail}; expected at least {MIN_PSNR_DB:g} dB")
    return detail


def check_heic() -> str:
    """Open the shipped HEIC through image_io: pi-heif's libheif and libde265, then icc and ImageCms, since it
    is in Display P3 as an Android phone describes it (nclx). (The app has no HEIC encoder to make one.)"""
    from lci_studio.codec.image_io import load_rgb

    image = load_rgb(resources.root() / HEIC)
    mean = [round(float(v)) for v in image.pixels.reshape(-1, 3).mean(axis=0)]
    detail = (
        f"{image.name}, {image.width}x{image.height}, P3 {HEIC_P3_COLOUR} opened as sRGB "
        f"{tuple(mean)} ({image.note or 'no conversion'})"
    )
    if (image.width, image.height) != (64, 48) or image.note != "Display P3 → sRGB":
        raise AssertionError(f"{detail}; expected 64x48 and Display P3 → sRGB")
    if max(abs(m - e) for m, e in zip(mean, HEIC_SRGB_COLOUR, strict=True)) > 4:
        raise AssertionError(f"{detail}; expected about sRGB {HEIC_SRGB_COLOUR}")
    return detail


def check_icon() -> str:
    """Render the SVG icon through Qt's icon engine, the path the window and the desktop take."""
    from PySide6.QtGui import QIcon, QImage
    from PySide6.QtSvg import QSvgRenderer  # noqa: F401  (also makes a frozen build carry Qt's SVG plugins)
    from PySide6.QtWidgets import QApplication

    # A widgets application, as the window uses: one made here must not stand in the way of one later.
    app = QApplication.instance() or QApplication([sys.argv[0]])
    path = resources.icon_path()
    if not path.is_file():
        raise AssertionError(f"{path} is missing")
    image: QImage = QIcon(str(path)).pixmap(64, 64).toImage()
    if image.isNull():
        raise AssertionError(f"{path.name}: Qt rendered nothing (no SVG icon engine plugin?)")
    opaque = sum(image.pixelColor(x, y).alpha() > 0 for y in range(0, 64, 4) for x in range(0, 64, 4))
    if opaque < 64:
        raise AssertionError(f"{path.name}: only {opaque} of 256 sampled pixels drawn at 64x64")
    return f"{path.name} at 64x64 on the {app.platformName()} platform, {opaque} of 256 sampled pixels drawn"


def check_samples() -> str:
    """The sample photos are where the Samples menu looks (the frozen build once had them but looked elsewhere)."""
    photos = resources.sample_photos()
    if not photos:
        raise AssertionError(f"no sample photos in {resources.root() / 'samples'}")
    return f"{len(photos)} photos ({', '.join(p.name for p in photos)}) in {photos[0].parent}"


def check_window() -> str:
    """A window, offscreen, as a presenter uses it: Samples ▸ lists the shipped photos, and the first one
    opened from that menu gets its 8 reconstructions. Its settings go to a temporary file, so a
    self-test leaves no recent file or window state behind."""
    import tempfile

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from lci_studio.codec.model import QUALITIES
    from lci_studio.gui.window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])
    with tempfile.TemporaryDirectory() as folder:
        settings = QSettings(str(Path(folder) / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, baselines=False)
        try:
            menu = window.menus["Samples"]
            menu.aboutToShow.emit()  # the menu fills itself when it opens
            entries = [a for a in menu.actions() if a.isEnabled() and not a.isSeparator()]
            names = [Path(a.statusTip()).name for a in entries]  # an entry's status tip is its photo's path
            expected = [p.name for p in resources.sample_photos()]
            if not names or names != expected:
                shown = [a.text() for a in menu.actions()]
                raise AssertionError(f"Samples ▸ lists {shown or 'nothing'}; the bundle has {expected or 'no photos'}")
            start = time.perf_counter()
            entries[0].trigger()
            loop = QEventLoop()
            poll = QTimer(interval=50, timeout=lambda: loop.quit() if window.session.last_end else None)
            poll.start()
            QTimer.singleShot(WINDOW_TIMEOUT_S * 1000, loop.quit)
            loop.exec()
            poll.stop()
            seconds = time.perf_counter() - start
            shown = sorted(window.session.results)
            end = window.session.last_end
            if shown != list(QUALITIES):
                why = f"{end.outcome}: {end.failure}" if end else f"not done after {WINDOW_TIMEOUT_S} s"
                raise AssertionError(f"{names[0]} from Samples ▸ gave qualities {shown} ({why})")
            return f"Samples ▸ lists {', '.join(names)}; {names[0]} gave {len(shown)} tiles in {seconds:.1f} s"
        finally:
            window.close()
            app.processEvents()


CHECKS: list[tuple[str, Callable[[], str]]] = [
    ("weights", check_weights),
    ("codec", check_codec),
    ("heic", check_heic),
    ("icon", check_icon),
    ("samples", check_samples),
    ("window", check_window),
]


def run_checks(checks: list[tuple[str, Callable[[], str]]] | None = None) -> list[CheckResult]:
    results = []
    for name, check in CHECKS if checks is None else checks:
        try:
            results.append(CheckResult(name, True, check()))
        except Exception as exc:  # a self-test reports every failure instead of stopping at the first
            results.append(CheckResult(name, False, f"{type(exc).__name__}: {exc}"))
    return results


def main(checks: list[tuple[str, Callable[[], str]]] | None = None) -> int:
    """Run the checks offscreen, print one line each and a summary; 0 when all passed, 1 otherwise."""
    # Offscreen even where a display exists: the self-test must not depend on one, nor show a window.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from lci_studio import __version__

    frozen = " (standalone build)" if getattr(sys, "frozen", False) else ""
    print(f"LCI Studio {__version__}{frozen} self-test, Python {sys.version.split()[0]}", flush=True)
    results = run_checks(checks)
    for result in results:
        print(f"{'PASS' if result.ok else 'FAIL'} {result.name}: {result.detail}", flush=True)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"FAIL: {len(failed)} of {len(results)} checks failed ({', '.join(failed)}); exit code 1")
        return 1
    print(f"PASS: all {len(results)} checks passed; exit code 0")
    return 0
