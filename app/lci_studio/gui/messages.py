"""How the window tells the person something: one line in the status bar, or a dialog for an error."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMessageBox


class Messages:
    """The status bar's line (`line`) and the error dialogs, for every part of the window."""

    def __init__(self, line: QLabel) -> None:
        self.line = line

    def say(self, text: str) -> None:
        """One line in the status bar."""
        self.line.setText(text)

    def show_error(self, title: str, message: str) -> None:
        """A readable error over the window the line is in; the window keeps running."""
        self.say(f"{title}.")
        QMessageBox.warning(self.line.window(), title, message)
