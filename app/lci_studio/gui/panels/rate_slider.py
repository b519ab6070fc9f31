"""Any size near a level (issue 24, item 6): a slider that moves the selected quality's file size within the band
its decoder supports, by refining its latents for another λ; the picture it gives, and why the bands don't meet.

Refinement takes λ as an input, so one level's numbers can be chosen for any λ between its neighbours'
(`refinement.lambda_band`); the decoder stays the one trained for its own λ, so the file moves only a
little either way. The slider's middle mark is that trained λ; letting go of the slider refines for the λ
it shows (`Refining.refine_at`, tens of seconds, Esc stops), and the result becomes the quality's refined
file (a star on the plot, what its exports write). "Measure the band" refines for both ends of it and the
plot draws where they land for each level measured.
"""

from __future__ import annotations

import html
import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSlider, QVBoxLayout, QWidget

from lci_studio.codec.explanation import BANDS_TITLE, band_paragraphs
from lci_studio.codec.glossary import tip
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.number_format import format_kb
from lci_studio.codec.refinement import LambdaBand, RefinementError, lambda_band
from lci_studio.gui.qimage import to_qimage
from lci_studio.session import Session

STEPS = 10  # slider positions from the trained λ to either end of the band (log-spaced)


def lambda_at(band: LambdaBand, position: int) -> float | None:
    """The λ a slider position means: None (the trained λ) at 0, the band's ends at ±STEPS, log-spaced between."""
    if position == 0:
        return None
    end = band.high if position > 0 else band.low
    return band.trained * (end / band.trained) ** (abs(position) / STEPS)


def position_of(band: LambdaBand, lmbda: float | None) -> int:
    """The slider position nearest `lmbda` (None: the trained λ)."""
    if lmbda is None or lmbda == band.trained:
        return 0
    end = band.high if lmbda > band.trained else band.low
    share = math.log(lmbda / band.trained) / math.log(end / band.trained)
    return round(share * STEPS) * (1 if lmbda > band.trained else -1)


class RateSlider(QWidget):
    """The selected quality's λ slider, its picture and the words; `lambdaChosen(λ or None)` when let go, and
    `bandWanted(every)` from the Measure buttons (the window connects them to `Refining`)."""

    lambdaChosen = Signal(object)
    bandWanted = Signal(bool)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self._band: LambdaBand | None = None
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(-STEPS, STEPS)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(STEPS)  # three marks: the band's ends and, in the middle, the trained λ
        self.slider.setPageStep(2)
        self.slider.setToolTip(
            "Left: a smaller file, right: a closer picture, with the same decoder. The middle mark is the λ the "
            "level was trained for. Let go to refine for the λ shown (tens of seconds; Esc stops).\n\n" + tip("λ band")
        )
        self.slider.valueChanged.connect(self._on_moved)
        self.slider.sliderReleased.connect(self._choose)
        self.ends = QLabel()
        self.value = QLabel()
        self.value.setWordWrap(True)
        self.measure = QPushButton("Measure this level's band")
        self.measure.setToolTip("Refine for both ends of the band and draw where they land on the plot")
        self.measure.clicked.connect(lambda: self.bandWanted.emit(False))
        self.measure_all = QPushButton("Measure every level's band")
        self.measure_all.setToolTip("Both ends of every level's band: two refinements a level (minutes; Esc stops)")
        self.measure_all.clicked.connect(lambda: self.bandWanted.emit(True))
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.picture.setMinimumSize(160, 120)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setTextFormat(Qt.TextFormat.RichText)
        self._pixmap: QPixmap | None = None

        row = QHBoxLayout()
        row.addWidget(QLabel("smaller"))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("closer"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.measure)
        buttons.addWidget(self.measure_all)
        buttons.addStretch(1)
        column = QVBoxLayout(self)
        column.addWidget(self.heading)
        column.addLayout(row)
        column.addWidget(self.ends)
        column.addWidget(self.value)
        column.addLayout(buttons)
        column.addWidget(self.picture, 1)
        column.addWidget(self.why)

        events = session.events
        for event in (events.opened, events.ladder_started, events.result_added, events.selection_changed):
            event.connect(lambda _value: self._sync())
        events.refined_added.connect(lambda _result: self._sync())
        events.band_measured.connect(lambda _quality: self._sync())
        self._sync()

    # ------------------------------------------------------------------------------------ public API

    def chosen_lambda(self) -> float | None:
        """The λ the slider shows (None: the trained λ, or no band)."""
        return None if self._band is None else lambda_at(self._band, self.slider.value())

    def set_position(self, position: int) -> None:
        """Move the slider there as a key press does (its λ is chosen at once)."""
        self.slider.setValue(position)

    def shown_result(self):
        """The result whose picture is shown: the quality's file (refined when there is one)."""
        return self.session.file_result(self.session.selected)

    # ------------------------------------------------------------------------------------ drawing

    def _sync(self) -> None:
        """Follow the selected quality: its band, the slider at its refined file's λ, its picture and words."""
        session = self.session
        plain = session.selected_result
        self._band = None
        if plain is not None:
            try:
                self._band = lambda_band(plain.info)
            except RefinementError as exc:
                self.heading.setText(f"Quality {plain.quality}: {exc}.")
        enabled = self._band is not None and session.image is not None
        for widget in (self.slider, self.measure, self.measure_all):
            widget.setEnabled(enabled)
        if plain is None or self._band is None:
            if plain is None:
                self.heading.setText("Open a picture and pick a quality: its file size can then move a little.")
            self.ends.clear()
            self.value.clear()
            self.why.clear()
            self._show_picture(None)
            return
        band = self._band
        refined = session.refined.get(plain.quality)
        self.slider.blockSignals(True)
        self.slider.setValue(position_of(band, refined.encoder.lmbda) if refined is not None else 0)
        self.slider.blockSignals(False)
        self.heading.setText(
            f"<b>Quality {plain.quality}</b>, trained for λ = {band.trained:.4g}: its numbers can be chosen for any "
            f"λ from {band.low:.4g} to {band.high:.4g} with the same decoder."
        )
        self.ends.setText(f"λ {band.low:.4g}   ·   trained λ {band.trained:.4g} (middle mark)   ·   λ {band.high:.4g}")
        self._describe_value("shown")
        self._show_picture(self.shown_result())
        reach = [(p.bpp, p.psnr) for p in session.bands.get(plain.quality, ())]
        above = session.results.get(plain.quality + 1)
        paragraphs = band_paragraphs(plain, reach, above)
        words = "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)
        self.why.setText(f"<b>{html.escape(BANDS_TITLE, quote=False)}</b>{words}")

    def _describe_value(self, state: str) -> None:
        """The λ shown and `state`: "shown" (what the picture is), "moving" or "refining"."""
        band, result = self._band, self.shown_result()
        if band is None or result is None:
            return
        lmbda = self.chosen_lambda()
        at = band.trained if lmbda is None else lmbda
        chosen = f"λ = {at:.4g} ({at / band.trained:.2f} × trained)"
        if state != "shown":
            doing = "let go to refine for it" if state == "moving" else "refining for it… (Esc stops)"
            self.value.setText(f"{chosen}: {doing}.")
            return
        who = result.encoder.describe()
        self.value.setText(
            f"{chosen}. Shown: {format_kb(result.file_bytes)}, {result.bpp:.3f} bpp, "
            f"{METRICS['psnr'].text(result.psnr)} ({who})."
        )

    def _show_picture(self, result) -> None:
        self._pixmap = None if result is None else QPixmap.fromImage(to_qimage(result.reconstruction))
        self._fit_picture()

    def _fit_picture(self) -> None:
        if self._pixmap is None:
            self.picture.clear()
            return
        size = self.picture.size()
        self.picture.setPixmap(
            self._pixmap.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_picture()

    # ------------------------------------------------------------------------------------ input

    def _on_moved(self, _position: int) -> None:
        self._describe_value("moving")
        if not self.slider.isSliderDown():  # keys and clicks on the groove: chosen at once
            self._choose()

    def _choose(self) -> None:
        if self._band is not None:
            self._describe_value("refining")
            self.lambdaChosen.emit(self.chosen_lambda())
