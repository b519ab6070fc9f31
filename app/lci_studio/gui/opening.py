"""The ways a picture or an `.lci` file gets into the window: the Open dialog, recent files,
samples, the clipboard and drag and drop.

They all end in the view jobs' `open_path` (a file), or `open_qimage` (pixels without a file: a
pasted or dropped picture, measured against raw RGB since it has no file size of its own), which
`Opening` is handed; `RecentFiles` is the Open Recent list the view jobs add to.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

from PySide6.QtCore import QMimeData, QObject, QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QWidget

from lci_studio.codec.image_io import IMAGE_SUFFIXES
from lci_studio.codec.lci_format import MAGIC
from lci_studio.resources import sample_photos

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


class RecentFiles:
    """The Open Recent list, newest first, kept in the settings."""

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def remember(self, path: Path) -> None:
        path_text = str(Path(path).resolve())
        recent = [p for p in settings_list(self._settings, "recent") if p != path_text]
        self._settings.setValue("recent", [path_text, *recent][:MAX_RECENT])

    def existing(self) -> list[str]:
        """The paths still there."""
        return [p for p in settings_list(self._settings, "recent") if Path(p).exists()]

    def clear(self) -> None:
        self._settings.setValue("recent", [])


class Opening(QObject):
    """The window's ways of opening things; it only finds what to open and hands it to `open_path` (a file)
    or `open_qimage` (pixels and a name). Its Qt parent is the window its Open dialog is centred on."""

    def __init__(
        self,
        parent: QWidget,
        settings: QSettings,
        recent: RecentFiles,
        open_path: Callable[[str | Path], bool],
        open_qimage: Callable[[QImage, str], bool],
        say: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self._settings, self._recent = settings, recent
        self._open_path, self._open_qimage, self._say = open_path, open_qimage, say

    def open_dialog(self) -> None:
        # both cases: a native dialog may match patterns with their case, and phones and cameras
        # write IMG_0001.HEIC, DSC0001.JPG
        patterns = " ".join(f"*{s} *{s.upper()}" for s in sorted(IMAGE_SUFFIXES))
        start = str(self._settings.value("open/dir", str(Path.home())) or Path.home())
        path, _ = QFileDialog.getOpenFileName(
            cast(QWidget, self.parent()),
            "Open an image or .lci file",
            start,
            f"Images and .lci files ({patterns} *.lci *.LCI);;Images ({patterns});;LCI files (*.lci);;All files (*)",
        )
        if path:
            self._settings.setValue("open/dir", str(Path(path).parent))
            self._open_path(path)

    # ------------------------------------------------------------------------------------ clipboard, drop

    def paste(self) -> bool:
        """Open what the clipboard holds: an image, a file URL, or a path as text."""
        clipboard = QApplication.clipboard()
        mime = clipboard.mimeData()
        if mime is None:
            return False
        files = self._local_files(mime)
        if files:
            return self._open_path(files[0])
        if mime.hasImage():
            image = clipboard.image()
            if not image.isNull():
                return self._open_qimage(image, "pasted image")
        text = mime.text().strip() if mime.hasText() else ""
        if text and Path(text).expanduser().is_file():
            return self._open_path(Path(text).expanduser())
        self._say("The clipboard holds no image.")
        return False

    def accepts(self, mime: QMimeData) -> bool:
        """Whether a drag carries something this window can open."""
        return bool(self._local_files(mime)) or mime.hasImage()

    def drop(self, mime: QMimeData) -> None:
        files = self._local_files(mime)
        if files:
            self._open_path(files[0])
        elif mime.hasImage():
            self._open_qimage(QImage(mime.imageData()), "dropped image")

    @staticmethod
    def _local_files(mime: QMimeData) -> list[str]:
        return [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []

    # ------------------------------------------------------------------------------------ menus

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        recent = self._recent.existing()
        for path in recent:
            action = menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self._open_path(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear Recent", self._recent.clear)

    def fill_samples(self, menu: QMenu) -> None:
        menu.clear()
        samples = sample_photos()
        for path in samples:
            action = menu.addAction(path.stem.replace("_", " ").title())
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self._open_path(p))
        if not samples:
            menu.addAction("No samples installed").setEnabled(False)
