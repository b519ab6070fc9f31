"""The documentation's screenshots of the real window: grid on the telling detail (also with JPEG,
WebP and AVIF at the selected quality's size), where the bits go beside the explanation, split with
WebP at the same size as a quality, the glossary; at 1600×1000 also a refined quality (the second
encoder's star and words, plain beside refined in the split) and the Any size tab with that level's
band measured; at 1600×1000 and 1280×720; the grid and the split (controls wrapped) at 1024×768, a projector's size.

Run it on a display (Xvfb is enough: `Xvfb :77 -screen 0 1600x1000x24 & DISPLAY=:77`); each
picture is what the screen shows of the window, as a PNG (exact pixels where compressed pictures
are compared, 256 colours elsewhere):

    DISPLAY=:77 QT_QPA_PLATFORM=xcb .venv/bin/python bench/demo_screenshots.py docs/screenshots [--photo FILE]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from demo_timing import kodak_crop


def settle(app, seconds: float = 0.6) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for_classical(app, window, codecs, quality: int, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while any((c, quality) not in window.session.classical for c in codecs) and time.monotonic() < deadline:
        settle(app, 0.2)
    settle(app)


def save(widget, path: Path, screen: bool = True, exact: bool = False) -> None:
    """What the screen shows of `widget` (xwd of the display, cropped to it) as a PNG. `exact`: every
    pixel as shown (compressed pictures are compared on it); otherwise 256 colours (octree: the plot's
    few saturated colours survive, a median cut gave them to the photo's greys). Off a display: the
    widget's own rendering."""
    raw = path.with_suffix(".raw.png")
    widget.raise_()
    widget.repaint()
    if screen and os.environ.get("DISPLAY") and shutil.which("xwd") and shutil.which("convert"):
        dump = subprocess.run(["xwd", "-root", "-silent"], capture_output=True, check=True).stdout
        dump = subprocess.run(["convert", "xwd:-", "png:-"], input=dump, capture_output=True, check=True).stdout
        top_left = widget.mapToGlobal(widget.rect().topLeft())
        box = (top_left.x(), top_left.y(), top_left.x() + widget.width(), top_left.y() + widget.height())
        with Image.open(io.BytesIO(dump)) as screen:
            screen.crop(box).save(raw)
    else:
        widget.grab().save(str(raw))
    with Image.open(raw) as image:
        rgb = image.convert("RGB")
        (rgb if exact else rgb.quantize(256, method=Image.Quantize.FASTOCTREE)).save(path, optimize=True)
    raw.unlink()
    print(f"wrote {path} ({path.stat().st_size / 1000:.0f} kB)")


def second_encoder(app, window, out: Path, quality: int = 4, steps: int = 25) -> None:
    """Refine (the second encoder) on `quality`: its star beside the plain point and the explanation's words, its
    plain and refined files side by side in the split (P); then the Any size tab with that level's band measured.
    A short refinement (`steps`), as said in the window."""
    from lci_studio.codec.refinement import encoder_for

    def wait_refined(seconds: float = 900) -> None:
        deadline = time.monotonic() + seconds
        while (window.refining.running() or window.worker.busy("refine")) and time.monotonic() < deadline:
            settle(app, 0.5)

    window.tabs.setCurrentWidget(window.compare)
    window.session.select(quality)
    window.refining.set_encoder(encoder_for("normal", steps=steps))
    window.commands["refine"].trigger()
    settle(app)
    wait_refined()
    from lci_studio.codec.explanation import REFINED_TITLE

    explanation = window.explanation._browser
    explanation.verticalScrollBar().setValue(explanation.verticalScrollBar().maximum())
    explanation.find(REFINED_TITLE)  # scrolls the words on the refined file to the top of the view
    cursor = explanation.textCursor()
    cursor.clearSelection()
    explanation.setTextCursor(cursor)
    settle(app)
    save(window, out / "refined-1600.png")
    window.commands["plain_refined"].trigger()  # P: the plain file left of the divider, the refined one right
    window.compare.zoom_to_detail()  # the split follows the grid's view: onto the telling detail
    settle(app)
    save(window, out / "refined-split-1600.png", exact=True)
    window.tabs.setCurrentWidget(window.rate_slider)
    window.rate_slider.measure.click()
    settle(app)
    wait_refined()
    settle(app)
    save(window, out / "any-size-1600.png")
    window.tabs.setCurrentWidget(window.compare)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--quality", type=int, default=2, help="the quality the split compares (low shows most)")
    parser.add_argument("--sizes", default="1600x1000,1280x720,1024x768", help="window sizes, WIDTHxHEIGHT,...")
    args = parser.parse_args(argv)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from lci_studio.codec.weights import open_weight_source
    from lci_studio.gui.panels.split import CLASSICAL, SELECTED
    from lci_studio.gui.window import MainWindow

    app = QApplication.instance() or QApplication([])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        photo = kodak_crop(args.photo, Path(folder))
        window = MainWindow(
            open_weight_source("bundled"), settings=QSettings(str(Path(folder) / "s.ini"), QSettings.Format.IniFormat)
        )
        sizes = [tuple(int(n) for n in size.split("x")) for size in args.sizes.split(",")]
        for width, height in sizes:
            projector = width < 1280  # only what shows the layout: the grid, the split with its controls wrapped
            window.resize(width, height)
            window.move(0, 0)
            window.show()
            window.tabs.setCurrentWidget(window.compare)
            window.open_path(photo)
            settle(app, 1.0)
            window.wait_idle(600)
            settle(app)
            window.session.select(args.quality)
            settle(app)
            save(window, args.out / f"grid-detail-{width}.png")
            if not projector:
                window.commands["bits"].trigger()
                settle(app)
                save(window, args.out / f"bits-{width}.png")
                window.commands["classical_grid"].trigger()  # on: JPEG, WebP, AVIF at the quality's size
                wait_for_classical(app, window, window.compare.classical_tiles, args.quality)
                save(window, args.out / f"grid-classical-{width}.png", exact=True)
                window.commands["classical_grid"].trigger()  # off again
            window.tabs.setCurrentWidget(window.split)
            settle(app)
            window.split.set_sides(CLASSICAL + "WebP", SELECTED)
            window.compare.fit()  # the whole picture, the divider through the detail: both codecs on it
            detail = window.compare.detail
            if detail is not None:
                window.split.set_divider_fraction(detail.center[0] / window.session.image.width)
            wait_for_classical(app, window, ["WebP"], args.quality)
            save(window, args.out / f"split-webp-{width}.png", exact=not projector)
            if projector:
                continue
            window.split.set_difference(True)
            settle(app)
            save(window, args.out / f"difference-{width}.png")
            window.split.set_difference(False)
            if width == 1600:
                second_encoder(app, window, args.out)
        window.commands["glossary"].trigger()
        settle(app)
        save(window.glossary, args.out / "glossary.png", screen=False)  # a dialog: where it sits varies
        window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
