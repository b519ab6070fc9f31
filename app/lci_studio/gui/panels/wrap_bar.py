"""A row of controls that wraps onto further rows when the panel is narrower than the row: a
1024×768 projector gives the split view and the plot less width than their controls take side by
side, and a bar that only shrinks either clips them or forces the whole window wider than the screen."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLayout, QSizePolicy, QVBoxLayout, QWidget


def group(*items: QWidget, spacing: int = 6) -> QWidget:
    """Widgets that stay together on one row (a label and what it names)."""
    holder = QWidget()
    row = QHBoxLayout(holder)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(spacing)
    for item in items:
        row.addWidget(item)
    return holder


class WrapBar(QWidget):
    """Groups of controls laid left to right, as many per row as the width holds (greedy, in order);
    its minimum width is its widest group's, so it never holds the window wider."""

    GAP = 16

    def __init__(self, groups: Sequence[QWidget], margins: tuple[int, int, int, int] = (0, 0, 0, 0)) -> None:
        super().__init__()
        self._groups = list(groups)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(*margins)
        self._layout.setSpacing(2)
        self._rows: list[list[int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._arrange(10**6)

    def rows(self) -> list[list[QWidget]]:
        """The groups on each row as now laid out (tests and screenshots check the wrapping)."""
        return [[self._groups[i] for i in row] for row in self._rows]

    def _inner(self, width: int) -> int:
        margins = self._layout.contentsMargins()
        return width - margins.left() - margins.right()

    def _split(self, width: int) -> list[list[int]]:
        rows: list[list[int]] = []
        used = 0
        for index, widget in enumerate(self._groups):
            need = widget.sizeHint().width()
            if rows and used + self.GAP + need <= width:
                rows[-1].append(index)
                used += self.GAP + need
            else:
                rows.append([index])
                used = need
        return rows

    def _arrange(self, width: int) -> None:
        rows = self._split(self._inner(width))
        if rows == self._rows:
            return
        self._rows = rows
        while (item := self._layout.takeAt(0)) is not None:
            old = item.layout()
            if old is not None:
                while old.takeAt(0) is not None:
                    pass
                old.deleteLater()
        for row in rows:
            line = QHBoxLayout()
            line.setSpacing(self.GAP)
            line.setSizeConstraint(QLayout.SizeConstraint.SetDefaultConstraint)
            for index in row:
                line.addWidget(self._groups[index])
            line.addStretch(1)
            self._layout.addLayout(line)
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        margins = self._layout.contentsMargins()
        widths = [g.sizeHint().width() for g in self._groups]
        return QSize(
            sum(widths) + self.GAP * (len(widths) - 1) + margins.left() + margins.right(), super().sizeHint().height()
        )

    def minimumSizeHint(self) -> QSize:
        margins = self._layout.contentsMargins()
        widest = max(g.sizeHint().width() for g in self._groups)
        return QSize(widest + margins.left() + margins.right(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        self._arrange(event.size().width())
        super().resizeEvent(event)
