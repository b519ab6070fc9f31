"""Explanation panel: what the selected quality level is and does, in plain words."""

from __future__ import annotations

import html

from lci_studio.codec.insight import INTRO, INTRO_TITLE, explain
from lci_studio.codec.ladder import QualityResult
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

FONT_SCALE = 1.3  # relative to the application font: readable from a few metres away


class ExplanationPanel(QWidget):
    """Rich text from `insight.explain` for the selected quality; an introduction before that."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._results: dict[int, QualityResult] = {}
        self._selected: int | None = None
        self._browser = QTextBrowser()
        self._browser.setOpenExternalLinks(True)
        self._browser.setFrameShape(QTextBrowser.Shape.NoFrame)
        self._browser.document().setDocumentMargin(12)
        font = QFont(self.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * FONT_SCALE)
        else:
            font.setPixelSize(round(font.pixelSize() * FONT_SCALE))
        self._browser.setFont(font)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._browser)
        self._render()

    # ------------------------------------------------------------------------------------ public API

    def set_results(self, results: list[QualityResult]) -> None:
        """Replace the results the explanations compare against."""
        self._results = {r.quality: r for r in results}
        self._render()

    def add_result(self, result: QualityResult) -> None:
        self._results[result.quality] = result
        self._render()

    def set_selected(self, quality: int | None) -> None:
        """Explain `quality` (None: show the introduction)."""
        self._selected = quality
        self._render()

    def selected(self) -> int | None:
        return self._selected

    def clear(self) -> None:
        self._results = {}
        self._selected = None
        self._render()

    def text(self) -> str:
        """The panel's text as plain text."""
        return self._browser.toPlainText()

    def html(self) -> str:
        return self._browser.toHtml()

    # ------------------------------------------------------------------------------------ drawing

    def _render(self) -> None:
        scroll = self._browser.verticalScrollBar().value()
        result = self._results.get(self._selected) if self._selected is not None else None
        if result is None:
            parts = []
            if self._selected is not None:
                parts.append(f"<p><b>Quality {self._selected} is still being computed…</b></p>")
            elif self._results:
                count = len(self._results)
                parts.append(f"<p><b>{count} of 8 quality levels ready: pick one to read about it.</b></p>")
            parts.append(f"<h2>{html.escape(INTRO_TITLE)}</h2>")
            parts.extend(f"<p>{html.escape(p)}</p>" for p in INTRO)
            self._browser.setHtml("".join(parts))
            return
        explanation = explain(result, self._results.values())
        paragraphs = [p for p in explanation.paragraphs() if p != explanation.why]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        why = f"<p><i>{html.escape(explanation.why)}</i></p>"
        self._browser.setHtml(f"<h2>{html.escape(explanation.title)}</h2>{body}{why}")
        self._browser.verticalScrollBar().setValue(scroll)
