"""Explanation panel: what the selected quality level is and does, in plain words (a view of the `Session`)."""

from __future__ import annotations

import html

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QTextBrowser, QVBoxLayout, QWidget

from lci_studio.codec.explanation import HOW_IT_WORKS, INTRO, INTRO_TITLE, REFINED_TITLE, explain, refined_paragraphs
from lci_studio.session import Session

FONT_SCALE = 1.3  # relative to the application font: readable from a few metres away


class ExplanationPanel(QWidget):
    """Rich text from `explanation.explain` for the selected quality; an introduction before that.

    The selected quality is explained once it is measured, or announced while it is computed;
    otherwise (nothing on its way) the introduction stays.
    """

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
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
        events = session.events
        for event in (
            events.opened,
            events.ladder_started,
            events.result_added,
            events.refined_added,
            events.decoded,
            events.finished,
            events.selection_changed,
        ):
            event.connect(lambda _value: self._render())

    # ------------------------------------------------------------------------------------ public API

    def selected(self) -> int | None:
        """The quality explained now (None: the introduction)."""
        session = self.session
        quality = session.selected
        return quality if quality in session.results or session.is_computing(quality) else None

    def text(self) -> str:
        """The panel's text as plain text."""
        return self._browser.toPlainText()

    def html(self) -> str:
        return self._browser.toHtml()

    # ------------------------------------------------------------------------------------ drawing

    def _render(self) -> None:
        scroll = self._browser.verticalScrollBar().value()
        results = self.session.results
        shown = self.selected()
        result = results.get(shown) if shown is not None else None
        if result is None:
            parts = []
            if shown is not None:
                parts.append(f"<p><b>Quality {shown} is still being computed…</b></p>")
            elif results:
                count = len(results)
                parts.append(f"<p><b>{count} of 8 quality levels ready: pick one to read about it.</b></p>")
            parts.append(f"<h2>{html.escape(INTRO_TITLE)}</h2>")
            parts.extend(f"<p>{html.escape(p)}</p>" for p in INTRO)
            self._browser.setHtml("".join(parts))
            return
        explanation = explain(result, results.values())
        seen = "".join(f"<p>{html.escape(p)}</p>" for p in explanation.seen())
        how = "".join(  # the model's terms after what a viewer sees; the why in italics
            f"<p><i>{html.escape(p)}</i></p>" if p == explanation.why else f"<p>{html.escape(p)}</p>"
            for p in explanation.how_it_works()
        )
        title = html.escape(explanation.title)
        refined = self.session.refined.get(result.quality)
        second = (  # the second encoder's file of this quality, what it gained (issue 24)
            f"<h3>{html.escape(REFINED_TITLE)}</h3>"
            + "".join(f"<p>{html.escape(p)}</p>" for p in refined_paragraphs(result, refined))
            if refined is not None
            else ""
        )
        self._browser.setHtml(f"<h2>{title}</h2>{seen}{second}<h3>{html.escape(HOW_IT_WORKS)}</h3>{how}")
        self._browser.verticalScrollBar().setValue(scroll)
