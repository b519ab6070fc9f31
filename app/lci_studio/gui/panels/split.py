"""Two-up split view: any two images in one view with a draggable divider, or their amplified difference.

Side A is drawn whole; side B is drawn on top, clipped to the part right of the divider. The view
joins the window's `ViewSync`, so it zooms and pans with the compare grid. The divider stands at a share
of the part of the picture in view (not of the whole picture: the view opens zoomed onto a detail, where
the picture's middle can lie near an edge or outside), keeps it as the view zooms and pans, and is back
in the middle whenever the view is shown and for every new picture. The difference image is computed by
`lci_studio.codec.difference` in the worker (a `DifferenceJob`: a second at 12 MP, never on the GUI thread);
until it comes the split shows the two pictures with a note (or, for another gain of the same two, the
difference before with its own legend), and a newer wish cancels the job before. The images come from the
`Session`: the original, each quality's result, or a decoded `.lci` file; which two, and whether their
difference is shown, is the `ViewState`'s (`split_sides`, `difference`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPalette, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsItem,
    QGraphicsRectItem,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lci_studio.codec.baselines import available_codecs
from lci_studio.codec.difference import GAINS, Difference
from lci_studio.codec.explanation import refined_tag
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.number_format import format_bpp, format_kb
from lci_studio.codec.report import number_text
from lci_studio.gui.jobs import DifferenceJob
from lci_studio.gui.panels.classical_pictures import ClassicalPictures
from lci_studio.gui.panels.image_view import (
    ViewSync,
    configure_view,
    make_image_item,
    make_image_viewbox,
    palette_background,
    show_pixels,
)
from lci_studio.gui.panels.wrap_bar import WrapBar, group
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import DecodedLci, Session
from lci_studio.view_state import CLASSICAL, ORIGINAL, SELECTED, SELECTED_PLAIN, ViewState


def _sizes(result: QualityResult) -> str:
    """A side's size, as every caption of the split writes it."""
    return f"{format_bpp(result.bpp)} · {format_kb(result.file_bytes)}"


AUTO = 0  # the gain combo's "auto" entry: the largest gain that does not saturate (difference.difference)


@dataclass(frozen=True, eq=False)
class _Pair:
    """What a difference is of: two pictures (the very arrays shown) at a gain (None: auto)."""

    a: np.ndarray
    b: np.ndarray
    gain: float | None

    def same(self, other: _Pair | None, gain: bool = True) -> bool:
        """The same two pictures (and, with `gain`, at the same gain)."""
        return other is not None and other.a is self.a and other.b is self.b and (not gain or other.gain == self.gain)


class SplitView(QWidget):
    """Compare two images: A left of the divider, B right of it; X swaps, D shows |A − B| × gain."""

    def __init__(
        self,
        session: Session,
        view: ViewState,
        sync: ViewSync,
        pictures: ClassicalPictures,
        worker: CodecWorker,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.view_state = view
        self.sync = sync
        self._worker = worker
        self._shown_difference: tuple[_Pair, Difference] | None = None  # the last one computed
        self._computing: tuple[int, _Pair] | None = None  # the difference job on its way, and what it is of
        self._failure: tuple[_Pair, str] | None = None  # why the difference of a pair could not be computed
        self._fraction = 0.5  # the divider's place: this share of the picture's part in view, from its left
        self._size = (0, 0)
        self._ready = False
        self._file_sides = False  # the sides show a decoded .lci file (set by opening it)

        self.combo_a = QComboBox()
        self.combo_b = QComboBox()
        for combo in (self.combo_a, self.combo_b):
            combo.addItem("Selected quality", SELECTED)
            combo.addItem("Plain encoder", SELECTED_PLAIN)
            combo.addItem("Original", ORIGINAL)
            for q in range(1, 9):
                combo.addItem(f"Quality {q}", q)
            for codec in available_codecs():
                combo.addItem(f"{codec} at the same size", CLASSICAL + codec)
            combo.currentIndexChanged.connect(self._sides_chosen)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._show_sides(view.split_sides.value)
        self.combo_a.setToolTip(
            "The image left of the divider. A refined quality shows its refined file; 'Plain encoder': the "
            "selected quality's first file, to put beside it. '… at the same size': that classical codec at the "
            "setting whose file is nearest the selected quality's, so you see what the plot claims"
        )
        self.combo_b.setToolTip(self.combo_a.toolTip().replace("left of", "right of"))
        self._pictures = pictures  # decoded once, for the grid's column too
        self.swap_button = QPushButton("⇄ Swap")
        self.swap_button.setToolTip("Swap the two sides (X)")
        self.swap_button.clicked.connect(self.swap)
        self.diff_box = QCheckBox("Difference")
        self.diff_box.setToolTip("Show the amplified error |A − B| instead of the split (D)")
        self.diff_box.toggled.connect(self.set_difference)
        self.diff_box.setChecked(view.difference.value)
        self.gain_combo = QComboBox()
        self.gain_combo.addItem("× auto", AUTO)
        for gain in GAINS:
            self.gain_combo.addItem(f"× {gain}", gain)
        self.gain_combo.setCurrentIndex(0)
        self.gain_combo.setToolTip(
            "How much the difference is amplified; auto: as much as keeps 99 % of the pixels below white"
        )
        self._auto_gain = 1.0
        self.gain_combo.currentIndexChanged.connect(self._refresh)

        self.bar = WrapBar(
            (
                group(QLabel("Left:"), self.combo_a),
                self.swap_button,
                group(QLabel("Right:"), self.combo_b),
                group(self.diff_box, self.gain_combo),
            ),
            margins=(4, 2, 4, 2),
        )

        self.view = pg.GraphicsView()
        configure_view(self.view)
        self.viewbox = make_image_viewbox()
        self.view.setCentralItem(self.viewbox)
        self.item_a = make_image_item()
        self.viewbox.addItem(self.item_a)
        self.clip = QGraphicsRectItem()
        self.clip.setFlag(QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape, True)
        self.clip.setPen(QPen(Qt.PenStyle.NoPen))
        self.viewbox.addItem(self.clip, ignoreBounds=True)
        self.item_b = make_image_item()
        self.item_b.setParentItem(self.clip)
        self.divider = pg.InfiniteLine(angle=90, movable=True)
        self.divider.setZValue(10)
        self.divider.setToolTip("Drag to move the divider")
        self.divider.sigPositionChanged.connect(self._update_clip)
        self.divider.sigDragged.connect(self._divider_dragged)
        self.viewbox.addItem(self.divider, ignoreBounds=True)
        self.viewbox.sigRangeChanged.connect(lambda *_args: self._place_divider())

        self.label_a = QLabel(self.view)
        self.label_b = QLabel(self.view)
        self.message = QLabel(self.view)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        for label in (self.label_a, self.label_b, self.message):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label_b.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.view, 1)
        self.view.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._update_colors()
        sync.add(self.viewbox)
        self._ready = True
        events = session.events
        events.opened.connect(self._on_opened)
        events.ladder_started.connect(self._refresh)
        events.result_added.connect(self._on_result)
        events.refined_added.connect(self._on_result)
        events.classical_added.connect(lambda _key: self._refresh())
        events.decoded.connect(self._on_decoded)
        events.selection_changed.connect(self._on_selection)
        view.split_sides.changed.connect(self._on_sides)
        view.difference.changed.connect(self._on_difference)
        worker.differenceReady.connect(self._on_difference_ready)
        worker.failed.connect(self._on_difference_failed)
        worker.jobFinished.connect(self._on_job_finished)
        self._on_selection(session.selected)

    # ------------------------------------------------------------------------------------------- API

    def _on_result(self, result) -> None:
        if result.quality in self._keys() or (result.quality, "plain") in self._keys():
            self._refresh()

    def _on_decoded(self, decoded: DecodedLci) -> None:
        q = decoded.header.quality
        self.set_sides(q, q)
        self._file_sides = True  # the file on both sides: only while it is what is shown

    def _on_opened(self, session: Session) -> None:
        self._fraction = 0.5  # a new picture: the divider in the middle again
        self._shown_difference = self._failure = None  # of the picture before (and holding its pixels)
        if self._file_sides and session.decoded is None:  # a picture after a .lci file: the usual sides again
            self._file_sides = False
            self.set_sides(ORIGINAL, SELECTED)
        else:
            self._refresh()

    def _on_selection(self, quality: int | None) -> None:
        for combo in (self.combo_a, self.combo_b):
            combo.setItemText(0, "Selected quality" if quality is None else f"Selected quality (q{quality})")
            combo.setItemText(1, "Plain encoder" if quality is None else f"Plain encoder (q{quality})")
        self._refresh()

    def set_sides(self, a: object, b: object) -> None:
        """Show `a` left and `b` right (a side whose key this view doesn't offer stays as it is)."""
        now = self.view_state.split_sides.value
        offered = [key if combo.findData(key) >= 0 else was for combo, key, was in zip(
            (self.combo_a, self.combo_b), (a, b), now, strict=True
        )]
        self.view_state.split_sides.set((offered[0], offered[1]))
        self._refresh()

    def _sides_chosen(self, _index: int) -> None:
        self.view_state.split_sides.set((self.combo_a.currentData(), self.combo_b.currentData()))

    def _on_sides(self, sides: tuple[object, object]) -> None:
        self._show_sides(sides)
        self._refresh()

    def _show_sides(self, sides: tuple[object, object]) -> None:
        for combo, key in zip((self.combo_a, self.combo_b), sides, strict=True):
            index = combo.findData(key)
            if index >= 0:
                combo.blockSignals(True)
                combo.setCurrentIndex(index)
                combo.blockSignals(False)

    def sides(self) -> tuple[object, object]:
        """The keys shown on each side, "selected" resolved to the quality."""
        return self._keys()

    def swap(self) -> None:
        a, b = self.view_state.split_sides.value
        self.set_sides(b, a)

    def set_difference(self, on: bool) -> None:
        self.view_state.difference.set(bool(on))

    def toggle_difference(self) -> None:
        self.set_difference(not self.difference)

    def _on_difference(self, on: bool) -> None:
        self.diff_box.setChecked(on)
        self._refresh()

    @property
    def difference(self) -> bool:
        return self.view_state.difference.value

    @property
    def gain(self) -> float:
        """The gain shown: the chosen one, or the auto gain of the two pictures shown."""
        chosen = float(self.gain_combo.currentData())
        return chosen if chosen != AUTO else self._auto_gain

    def shown_image(self) -> np.ndarray | None:
        """What the view shows under the divider's left side (the difference image in difference mode)."""
        return self.item_a.shown

    def divider_fraction(self) -> float:
        """Where the divider stands: its share of the part of the picture in view, from the left."""
        return self._fraction

    def set_divider_fraction(self, fraction: float) -> None:
        self._fraction = min(1.0, max(0.0, fraction))
        self._place_divider()

    # ------------------------------------------------------------------------------------- internals

    def _keys(self) -> tuple[object, object]:
        """The sides' keys with the selection resolved: a quality number, (quality, "plain"), or as they are."""

        def resolve(key):
            if key == SELECTED_PLAIN:
                return None if self.session.selected is None else (self.session.selected, "plain")
            return self.session.selected if key == SELECTED else key

        a, b = self.view_state.split_sides.value
        return resolve(a), resolve(b)

    def _name(self, key: object) -> str:
        if isinstance(key, str) and key.startswith(CLASSICAL):
            return f"{key[len(CLASSICAL):]} at the size of quality {self.session.selected}"
        if isinstance(key, tuple):
            return f"Quality {key[0]}, plain"
        if isinstance(key, int) and key in self.session.refined:
            return f"Quality {key}, refined"
        return "Original" if key == ORIGINAL else f"Quality {key}"

    def _image(self, key: object) -> tuple[str, np.ndarray] | None:
        """(caption, pixels) of a side: the original, a quality's file (the refined one when there is one) or
        its plain encoder's, or the decoded file."""
        session = self.session
        if key == ORIGINAL:
            return None if session.image is None else (f"Original ({session.image.name})", session.image.pixels)
        if isinstance(key, str) and key.startswith(CLASSICAL):
            return self._classical(key[len(CLASSICAL):])
        if isinstance(key, tuple):
            plain = session.results.get(key[0])
            if plain is None:
                return None
            alone = "" if plain.quality in session.refined else " (not refined yet: Refine, Ctrl+R)"
            return f"Quality {plain.quality} · plain encoder{alone} · {_sizes(plain)}", plain.reconstruction
        result = session.file_result(key) if isinstance(key, int) else None
        if result is not None:
            plain = session.results[result.quality]
            tag = f" · {refined_tag(plain, result)}" if result.encoder.refines else ""
            return f"Quality {result.quality}{tag} · {_sizes(result)}", result.reconstruction
        decoded = session.decoded
        if decoded is not None and decoded.header.quality == key:
            return f"{decoded.name} (quality {key}, decoded)", decoded.pixels
        return None

    def _classical(self, codec: str) -> tuple[str, np.ndarray] | None:
        """(caption, pixels) of `codec` at the selected quality's size; asked for when not there yet."""
        got = self._pictures.get(codec)
        if got is None:
            return None
        point, quality, pixels = got
        result = self.session.results[quality]
        caption = (
            f"{codec} (setting {point.setting}) · {format_kb(point.file_bytes)} · {format_bpp(point.bpp)} · "
            f"PSNR {number_text(point.psnr, '.2f')} dB  (nearest to quality {quality}'s {format_kb(result.file_bytes)})"
        )
        return caption, pixels

    def _has_images(self) -> bool:
        session = self.session
        return session.image is not None or session.decoded is not None or bool(session.results)

    def _refresh(self, *_args: object) -> None:
        if not self._ready:
            return
        key_a, key_b = self._keys()
        a, b = self._image(key_a), self._image(key_b)
        if key_a == key_b:
            b = None  # one image on both sides: show it whole, without a divider
        shown = a or b
        if shown is not None:
            height, width = shown[1].shape[:2]
            if (width, height) != self._size:
                self._size = (width, height)
                self.divider.setBounds((0, width))
                self._place_divider()
        keys = [key_a] if key_a == key_b else [key_a, key_b]
        missing = [self._name(k) for k, side in zip(keys, (a, b), strict=False) if side is None]
        if not self._has_images():
            message = "Open an image to compare two versions of it here."
        elif missing:
            message = " and ".join(missing) + (" is" if len(missing) == 1 else " are") + " not ready yet."
        else:
            message = ""
        self.message.setText(message)
        self.message.setVisible(bool(message))
        pair = None
        if self.difference and a is not None and b is not None and a[1].shape == b[1].shape:
            chosen = float(self.gain_combo.currentData())
            pair = _Pair(a[1], b[1], None if chosen == AUTO else chosen)
        shown = self._difference_for(pair)
        if shown is not None:
            self._show_difference(key_a, key_b, *shown)
        else:
            show_pixels(self.item_a, a[1] if a else (b[1] if b else None))
            show_pixels(self.item_b, b[1] if (a and b) else None)
            self.divider.setVisible(bool(a and b))
            self.label_a.setText(f"◀ {a[0]}" if a else "")
            self.label_b.setText(f"{b[0]} ▶" if (b and a) else (b[0] if b else ""))
            if pair is not None:
                failure = self._failure[1] if self._failure is not None and pair.same(self._failure[0]) else ""
                self.message.setText(failure or "Computing the difference…")
                self.message.setVisible(True)
        self._update_clip()
        self._place_labels()

    def _difference_for(self, pair: _Pair | None) -> tuple[Difference, str] | None:
        """The difference to show for `pair` and a note beside its legend: the one computed for it; while it is
        computed, one of the same two pictures at another gain (its own legend holds). A job is started for
        `pair` unless one is on its way or it failed; the job of a pair no longer wanted is cancelled."""
        computed = self._shown_difference
        if pair is not None and computed is not None and pair.same(computed[0]):
            self._cancel_difference()
            return computed[1], ""
        if self._computing is not None and (pair is None or not pair.same(self._computing[1])):
            self._cancel_difference()
        if pair is None or (self._failure is not None and pair.same(self._failure[0])):
            return None
        if self._computing is None:
            job = self._worker.start(DifferenceJob(pair.a, pair.b, pair.gain))
            self._computing = (job, pair)
        if computed is not None and pair.same(computed[0], gain=False):
            return computed[1], "   ·   computing the new gain…"
        return None

    def _cancel_difference(self) -> None:
        if self._computing is not None:
            self._worker.cancel(self._computing[0])
            self._computing = None

    def _show_difference(self, key_a: object, key_b: object, shown: Difference, note: str) -> None:
        """The difference image with its legend: both from one `Difference`, so they always belong together."""
        if not note and self.gain_combo.currentData() == AUTO:  # computed at the auto gain: which one it is
            self._auto_gain = shown.gain
            self.gain_combo.setItemText(0, f"× auto ({shown.gain:g})")
        show_pixels(self.item_a, shown.image)
        show_pixels(self.item_b, None)
        self.divider.setVisible(False)
        self.label_a.setText(
            f"|{self._name(key_a)} − {self._name(key_b)}| × {shown.gain:g}   ·   "
            f"mean error {shown.mean:.2f}, largest {shown.largest} (of 255){note}\n{shown.legend()}"
        )
        self.label_b.setText("")

    def _on_difference_ready(self, job_id: int, shown: Difference) -> None:
        if self._computing is None or self._computing[0] != job_id:
            return  # a job given up (another pair, the difference turned off): its result is stale
        self._shown_difference = (self._computing[1], shown)
        self._computing = None
        self._refresh()

    def _on_difference_failed(self, job_id: int, title: str, message: str) -> None:
        if self._computing is not None and self._computing[0] == job_id:
            self._failure = (self._computing[1], f"{title}: {message}")

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if self._computing is not None and self._computing[0] == job_id and outcome != "done":
            self._computing = None  # failed (its message is kept) or cancelled from outside (a new picture)
            self._refresh()

    def _in_view(self) -> tuple[float, float] | None:
        """The picture's columns in view (left, right), in picture pixels; None while there are none."""
        (x0, x1), _ = self.viewbox.viewRange()
        left, right = max(x0, 0.0), min(x1, float(self._size[0]))
        return (left, right) if right > left else None

    def _place_divider(self) -> None:
        """The divider at its share of the part of the picture in view."""
        span = self._in_view()
        if span is not None:
            self.divider.setValue(span[0] + self._fraction * (span[1] - span[0]))

    def _divider_dragged(self) -> None:
        """A drag: the divider's new place is the share it keeps."""
        span = self._in_view()
        if span is not None:
            self._fraction = min(1.0, max(0.0, (self.divider.value() - span[0]) / (span[1] - span[0])))

    def _update_clip(self, *_args: object) -> None:
        width, height = self._size
        x = min(max(self.divider.value(), 0.0), float(width))
        self.clip.setRect(QRectF(x, 0, max(width - x, 0.0), height))

    def _update_colors(self) -> None:
        palette = self.palette()
        self.view.setBackground(palette_background(self))
        highlight = palette.color(QPalette.ColorRole.Highlight)
        self.divider.setPen(pg.mkPen(highlight, width=2))
        self.divider.setHoverPen(pg.mkPen(highlight.lighter(130), width=4))
        window, text = palette.color(QPalette.ColorRole.Window), palette.color(QPalette.ColorRole.WindowText)
        back = QColor(window)
        rgba = f"rgba({back.red()},{back.green()},{back.blue()},200)"
        style = f"background: {rgba}; color: {text.name()}; padding: 3px;"
        self.label_a.setStyleSheet(style)
        self.label_b.setStyleSheet(style)
        self.message.setStyleSheet(f"color: {palette.color(QPalette.ColorRole.PlaceholderText).name()};")

    def _place_labels(self) -> None:
        for label in (self.label_a, self.label_b):
            label.adjustSize()
            label.setVisible(bool(label.text()))
        self.label_a.move(6, 6)
        # side by side while both fit; else B's under A's (a classical caption is long at 1280×720)
        right = self.view.width() - self.label_b.width() - 6
        beside = not self.label_a.text() or self.label_a.width() + 12 <= right
        self.label_b.move(max(6, right), 6 if beside else 6 + self.label_a.height() + 4)
        self.message.setGeometry(0, 0, self.view.width(), self.view.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_labels()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fraction = 0.5  # shown again: the divider in the middle of what is in view
        self.sync.apply_view(self.viewbox)
        self._place_divider()
        self._place_labels()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self._update_colors()
