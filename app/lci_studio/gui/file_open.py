"""Files opened from the desktop on macOS: Finder sends a QFileOpenEvent to the application, not argv.

The event can arrive before the window exists (it is how the launch itself opens the file), so
paths wait until a handler is attached and are delivered then, in order.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QFileOpenEvent


class FileOpenEvents(QObject):
    """Event filter for the QApplication: turns FileOpen events into handler(path) calls."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._handler: Callable[[str], object] | None = None
        self.pending: list[str] = []

    def attach(self, handler: Callable[[str], object]) -> None:
        """Deliver the paths that arrived so far, then every later one as it comes."""
        self._handler = handler
        pending, self.pending = self.pending, []
        for path in pending:
            handler(path)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.FileOpen or not isinstance(event, QFileOpenEvent):
            return super().eventFilter(watched, event)
        path = event.file() or event.url().toLocalFile()
        if not path:
            return False
        if self._handler is None:
            self.pending.append(path)
        else:
            self._handler(path)
        return True
