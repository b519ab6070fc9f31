"""The ways a picture or an `.lci` file gets into the window: the Open dialog, recent files,
samples, the clipboard and drag and drop.

They all end in the view jobs' `open_path` (a file), or `open_qimage` (pixels without a file: a
pasted or dropped picture, measured against raw RGB since it has no file size of its own).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu

from lci_studio.codec.image_io import IMAGE_SUFFIXES
from lci_studio.codec.lci_format import MAGIC
from lci_studio.resources import sample_photos

if TYPE_CHECKING:
    from lci_studio.gui.window import MainWindow

MAX_RECENT = 10


def is_lci(path: Path) -> bool:
    """An .lci file by its name, or by its first bytes whatever its name."""
    if path.suffix.lower() == ".lci":
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def settings_list(settings: QSettings, key: str) -> list[str]:
    """A list setting, whatever shape the settings backend gives back (None, one string, a list)."""
    value = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class Opening:
    """The window's ways of opening things; it only finds what to open and hands it to the window."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._settings = window.settings

    def open_dialog(self) -> None:
        # both cases: a native dialog may match patterns with their case, and phones and cameras
        # write IMG_0001.HEIC, DSC0001.JPG
        patterns = " ".join(f"*{s} *{s.upper()}" for s in sorted(IMAGE_SUFFIXES))
        start = str(self._settings.value("open/dir", str(Path.home())) or Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self._window,
            "Open an image or .lci file",
            start,
            f"Images and .lci files ({patterns} *.lci *.LCI);;Images ({patterns});;LCI files (*.lci);;All files (*)",
        )
        if path:
            self._settings.setValue("open/dir", str(Path(path).parent))
            self._window.open_path(path)

    # ------------------------------------------------------------------------------------ clipboard, drop

    def paste(self) -> bool:
        """Open what the clipboard holds: an image, a file URL, or a path as text."""
        clipboard = QApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is None:
            return False
        files = self._local_files(mime)
        if files:
            return self._window.open_path(files[0])
        if mime.hasImage():
            image = clipboard.image()
            if not image.isNull():
                return self._window.jobs.open_qimage(image, "pasted image")
        text = mime.text().strip() if mime.hasText() else ""
        if text and Path(text).expanduser().is_file():
            return self._window.open_path(Path(text).expanduser())
        self._window.say("The clipboard holds no image.")
        return False

    def accepts(self, mime: QMimeData) -> bool:
        """Whether a drag carries something this window can open."""
        return bool(self._local_files(mime)) or mime.hasImage()

    def drop(self, mime: QMimeData) -> None:
        files = self._local_files(mime)
        if files:
            self._window.open_path(files[0])
        elif mime.hasImage():
            self._window.jobs.open_qimage(QImage(mime.imageData()), "dropped image")

    @staticmethod
    def _local_files(mime: QMimeData) -> list[str]:
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    # ------------------------------------------------------------------------------------ menus

    def remember(self, path: Path) -> None:
        path_text = str(Path(path).resolve())
        recent = [p for p in settings_list(self._settings, "recent") if p != path_text]
        self._settings.setValue("recent", [path_text, *recent][:MAX_RECENT])

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        recent = [p for p in settings_list(self._settings, "recent") if Path(p).exists()]
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self._window.open_path(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent", lambda: self._settings.setValue("recent", []))

    def fill_samples(self, menu: QMenu) -> None:
        menu.clear()
        samples = sample_photos()
        for path in samples:
            action = menu.addAction(path.stem.replace("_", " ").title())
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._window.open_path(p))
        if not samples:
            menu.addAction("No samples installed").setEnabled(False)
