"""The compare grid: the original and every quality's reconstruction, zoomed and panned together.

A view of the `Session`: it draws the picture, each result as it arrives and a decoded `.lci`
file, and a click on a tile selects that quality in the session.

Every tile follows the one `ViewSync` (image_view.py) that the split view follows too; the column of
classical codecs (shown while the `ViewState`'s `classical_column` says so) draws the `ClassicalPictures`
it shares with the split view. It opens zoomed onto the `ViewState`'s `detail` (found by the view jobs).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from lci_studio.codec.baselines import BaselinePoint, available_codecs
from lci_studio.codec.explanation import refined_tag
from lci_studio.codec.glossary import caption_tip
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import values_text
from lci_studio.codec.number_format import format_bpp, format_kb, format_percent
from lci_studio.codec.report import number_text
from lci_studio.codec.telling_detail import Detail
from lci_studio.gui.panels.classical_pictures import ClassicalPictures
from lci_studio.gui.panels.image_view import (
    ViewSync,
    configure_view,
    make_image_item,
    make_image_viewbox,
    palette_background,
    show_pixels,
)
from lci_studio.session import DecodedLci, JobEnd, Session, SizeBasis
from lci_studio.view_state import ViewState


def result_caption(
    result: QualityResult, basis: SizeBasis | None, short: bool = False, plain: QualityResult | None = None
) -> tuple[str, str]:
    """(title, details) of one quality's tile: real bpp, size, share of the size basis, the measured metrics.
    `short`: the share without what it is a share of (the tooltip says it), for a narrow tile. `plain`: the plain
    result beside a refined `result`, whose title then says so and what it gained ("refined +0.41 dB, −0.3% size")."""
    if basis is None:
        pixels = result.reconstruction.shape[0] * result.reconstruction.shape[1]
        basis = SizeBasis(pixels * 3, "raw RGB", "")
    share = format_percent(result.file_bytes / basis.bytes) + ("" if short else f" of {basis.label}")
    title = f"Quality {result.quality}"
    if plain is not None and result.encoder.refines:
        title += f" · {refined_tag(plain, result)}"
    metrics = values_text(result.metrics, " · ")  # an on-demand one (MS-SSIM) once measured, when first shown
    details = f"{format_bpp(result.bpp)} · {format_kb(result.file_bytes)} · {share}\n{metrics}"
    return title, details


def classical_caption(
    point: BaselinePoint, quality: int, result: QualityResult, short: bool = False
) -> tuple[str, str]:
    """(title, details) of a classical codec shown at `quality`'s file size: its setting, real size, bpp,
    PSNR; `short`: without the quality's own size, and a shorter title, for a narrow tile."""
    title = f"{point.codec} · size of q{quality}" if short else f"{point.codec} at the size of quality {quality}"
    size = format_kb(point.file_bytes) + ("" if short else f" (q{quality}: {format_kb(result.file_bytes)})")
    setting = f"setting {point.setting}" if short else f"{point.codec} setting {point.setting}"
    details = f"{format_bpp(point.bpp)} · {size}\nPSNR {number_text(point.psnr, '.2f')} dB · {setting}"
    return title, details


def _fitting_font(font: QFont, lines: list[str], room: int, smallest: float = 0.75) -> tuple[QFont, bool]:
    """`font` at the largest of 100 % … `smallest` of its size at which every line fits `room` pixels,
    and whether one did (else the smallest)."""
    font, base = QFont(font), font.pointSizeF()
    for scale in [s for s in (1.0, 0.92, 0.85, 0.8, 0.75) if s >= smallest]:
        font.setPointSizeF(base * scale)
        metrics = QFontMetrics(font)
        if max((metrics.horizontalAdvance(line) for line in lines), default=0) <= room:
            return font, True
    return font, False


class ImageTile(QFrame):
    """One labelled image view of the grid; `key` 0 is the original, 1…8 a quality."""

    clicked = Signal(int)

    def __init__(self, key: int, sync: ViewSync, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key
        self.setObjectName(f"tile{key}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setLineWidth(2)
        self.title = QLabel("Original" if key == 0 else f"Quality {key}")
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.details = QLabel("")
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.view = pg.GraphicsView()
        configure_view(self.view)
        self.view.setMinimumSize(80, 60)
        self.viewbox = make_image_viewbox()
        self.view.setCentralItem(self.viewbox)
        self.image_item = make_image_item()
        self.viewbox.addItem(self.image_item)
        self.overlay = QLabel("", self.view)
        self.overlay.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.overlay.setWordWrap(True)
        self.overlay.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        lines = self.details.fontMetrics().lineSpacing()
        self.details.setFixedHeight(2 * lines + 2)  # room for both lines, so every view has the same size
        layout = QVBoxLayout(self)
        self._layout = layout
        layout.setSpacing(1)
        layout.addWidget(self.title)
        layout.addWidget(self.details)
        layout.addWidget(self.view, 1)
        self.view.scene().sigMouseClicked.connect(self._scene_clicked)
        self.selected = False
        self._caption = (self.title.text(), "", "")
        self._short_title = ""
        self.pixels: np.ndarray | None = None
        self.update_colors()
        sync.add(self.viewbox)

    # ------------------------------------------------------------------------------------------- API

    def set_pixels(self, pixels: np.ndarray | None, placeholder: str = "") -> None:
        self.pixels = pixels
        show_pixels(self.image_item, pixels)
        self.set_placeholder("" if pixels is not None else placeholder)

    def set_placeholder(self, text: str) -> None:
        self.overlay.setText(text)
        self.overlay.setVisible(bool(text))
        self._place_overlay()

    def set_caption(self, title: str, details: str, short: str = "", short_title: str = "") -> None:
        """The caption; `short` and `short_title`, shorter forms of `details` and `title` for a tile too
        narrow for them (the tooltip keeps the whole)."""
        self._caption = (title, details, short)
        self._short_title = short_title
        self.setToolTip(caption_tip(f"{title}\n{details}"))
        self._fit_caption()

    def _fit_caption(self) -> None:
        """A narrow tile (1280×720, a projector) shows the short form of its caption, smaller if need
        be (down to 75 %), rather than cut it."""
        title, details, short = self._caption
        margins = self._layout.contentsMargins()  # the label's width, also before the layout has placed it
        room = self.contentsRect().width() - margins.left() - margins.right()
        bold = QFont(self.font())
        bold.setBold(True)
        font, fits = _fitting_font(bold, [title], room)
        if not fits and self._short_title:
            title = self._short_title
            font = _fitting_font(bold, [title], room)[0]
        self.title.setText(title)
        self.title.setFont(font)
        # the whole text at full size, else the short form (down to 75 %): tiles side by side then
        # read at one size, whichever form each needs
        for text, smallest in ((details, 1.0), (short, 0.75)) if short else ((details, 0.75),):
            font, fits = _fitting_font(self.font(), text.splitlines(), room, smallest)
            if fits:
                break
        self.details.setText(text)
        self.details.setFont(font)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.update_colors()

    def update_colors(self) -> None:
        palette = self.palette()
        self.view.setBackground(palette_background(self))
        highlight = palette.color(QPalette.ColorRole.Highlight).name()
        border = highlight if self.selected else palette.color(QPalette.ColorRole.Mid).name()
        width = 3 if self.selected else 1
        # a thicker border takes room from the margins, never from the view: all views keep one size
        pad = 3 - width
        self._layout.setContentsMargins(3 + pad, 2 + pad, 3 + pad, 3 + pad)
        self.setStyleSheet(f"ImageTile#{self.objectName()} {{ border: {width}px solid {border}; border-radius: 3px; }}")
        self.overlay.setStyleSheet(f"color: {palette.color(QPalette.ColorRole.PlaceholderText).name()};")

    def caption_text(self) -> str:
        """The whole caption (what the tooltip says; a narrow tile may show the short form)."""
        return f"{self._caption[0]}\n{self._caption[1]}"

    # ------------------------------------------------------------------------------------- internals

    def _scene_clicked(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.key)

    def mousePressEvent(self, event) -> None:  # clicks on the labels
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.key)
        super().mousePressEvent(event)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_overlay()
        self._fit_caption()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.update_colors()

    def _place_overlay(self) -> None:
        self.overlay.setGeometry(0, 0, self.view.width(), self.view.height())


class CompareView(QWidget):
    """The grid: original + one tile per quality, filled in from the session as results arrive; while
    `view.classical_column` is on, a column of the classical codecs at the selected quality's size."""

    WELCOME = "Open an image (File ▸ Open, drag it here, or pick one from Samples)"

    def __init__(
        self,
        session: Session,
        view: ViewState,
        sync: ViewSync,
        pictures: ClassicalPictures,
        qualities=range(1, 9),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.view_state = view
        self.sync = sync
        self.tiles: dict[int, ImageTile] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setSpacing(6)
        keys = [0, *qualities]
        columns = 3
        for index, key in enumerate(keys):
            tile = ImageTile(key, self.sync, self)
            tile.clicked.connect(self._tile_clicked)
            self.tiles[key] = tile
            grid.addWidget(tile, index // columns, index % columns)
        for c in range(columns):
            grid.setColumnStretch(c, 1)
        rows = (len(keys) + columns - 1) // columns
        for r in range(rows):
            grid.setRowStretch(r, 1)
        # the classical codecs, a column of their own beside the qualities (hidden until asked for): it
        # spans the qualities' rows, however many codecs the table has
        self._grid, self._classical_column = grid, columns
        self.pictures = pictures
        self.classical_tiles: dict[str, ImageTile] = {}
        self._classical_box = QWidget(self)
        stack = QVBoxLayout(self._classical_box)
        stack.setContentsMargins(0, 0, 0, 0)
        stack.setSpacing(grid.spacing())
        for row, codec in enumerate(available_codecs()):
            tile = ImageTile(-1 - row, self.sync, self._classical_box)
            self.classical_tiles[codec] = tile
            stack.addWidget(tile, 1)
        self._classical_box.hide()
        grid.addWidget(self._classical_box, 0, columns, rows, 1)
        self._clear(self.WELCOME)
        events = session.events
        events.opened.connect(self._on_opened)
        events.ladder_started.connect(self._on_ladder_started)
        events.result_added.connect(self._on_result)
        events.refined_added.connect(self._on_result)
        events.decoded.connect(self._on_decoded)
        events.finished.connect(self._on_finished)
        events.selection_changed.connect(self._on_selection)
        events.classical_added.connect(lambda _key: self._show_classical())
        view.classical_column.changed.connect(self._on_classical_column)
        view.detail.changed.connect(self._on_detail)
        self._on_classical_column(view.classical_column.value)
        self._on_selection(session.selected)

    # ------------------------------------------------------------------------------------- session

    @property
    def detail(self) -> Detail | None:
        """Where the lowest and highest qualities differ most (None until both are in)."""
        return self.view_state.detail.value

    def _on_opened(self, session: Session) -> None:
        image = session.image
        if image is None:
            self._clear(session.loading or self.WELCOME)
            return
        self._clear()
        basis = session.basis or SizeBasis.of(image, session.image_path)
        size = f"{image.width} × {image.height} px" + (f" · {basis.detail}" if basis.detail else "")
        raw = f"\n{format_kb(image.width * image.height * 3)} as raw RGB"
        tile = self.tiles[0]
        tile.set_pixels(image.pixels)
        # how the file became 8-bit sRGB, when it took more than decoding (a profile, 16-bit, …)
        title = f"Original · {image.note}" if image.note else "Original"
        tile.set_caption(title, f"{image.name} · {size}{raw}", short=size + raw)
        self.sync.set_image_size(image.width, image.height)
        self._show_classical()

    def _on_ladder_started(self, pending: tuple[int, ...]) -> None:
        """Placeholders for the qualities being computed; the rest say why they stay empty."""
        for key, tile in self.tiles.items():
            if key == 0:
                continue
            tile.set_pixels(None, "computing…" if key in pending else self.session.unavailable)
            tile.set_caption(f"Quality {key}", "")
        self._show_classical()

    def _on_result(self, result: QualityResult) -> None:
        """A quality's tile shows its file's picture: the refined one when there is one (`Session.file_result`),
        labelled with the encoder and its gain; a plain result measured again does not hide it."""
        tile = self.tiles.get(result.quality)
        shown = self.session.file_result(result.quality)
        if tile is None or shown is None:
            return
        tile.set_pixels(shown.reconstruction)
        basis, plain = self.session.basis, self.session.results.get(result.quality)
        title, details = result_caption(shown, basis, plain=plain)
        short_title = f"Quality {shown.quality} · refined" if shown.encoder.refines else ""
        tile.set_caption(title, details, short=result_caption(shown, basis, short=True)[1], short_title=short_title)
        if result.quality == self.session.selected:
            self._show_classical()

    def _on_detail(self, detail: Detail | None) -> None:
        """The telling detail found (by the view jobs): the grid opens there unless the viewer has zoomed."""
        if detail is not None and self.sync.zoom is None:
            self.zoom_to_detail()

    def _on_decoded(self, decoded: DecodedLci) -> None:
        header = decoded.header
        q = header.quality
        self.sync.set_image_size(header.width, header.height)
        self.set_tile_message(0, "An .lci file holds no original:\nonly the compressed image")
        tile = self.tiles[q]
        tile.set_pixels(decoded.pixels)
        tile.set_caption(
            f"Quality {q} · from {decoded.name}",
            f"{format_bpp(decoded.bpp)} · {format_kb(len(decoded.data))} · "
            f"{format_percent(len(decoded.data) / (header.width * header.height * 3))} of raw RGB\n"
            f"{header.width} × {header.height} px · decoded in {decoded.decode_seconds:.2f} s",
        )
        for key in self.tiles:
            if key not in (0, q):
                self.set_tile_message(key, "")

    def _on_finished(self, end: JobEnd) -> None:
        if end.outcome == "failed":
            if self.session.image is None and self.session.decoded is None:
                self.set_tile_message(0, end.failure)
                return
            message = "failed: see the message"
        elif end.outcome == "cancelled":
            message = "stopped: Resume (R) goes on"
        else:
            return
        for q in end.unfinished:
            self.set_tile_message(q, message)
        self._show_classical()  # no longer "waiting for quality 6"

    def _on_selection(self, quality: int | None) -> None:
        for key, tile in self.tiles.items():
            tile.set_selected(key == quality)
        self._show_classical()

    def _clear(self, message: str = "") -> None:
        for key, tile in self.tiles.items():
            tile.set_pixels(None, message if key == 0 else "")
            tile.set_caption("Original" if key == 0 else f"Quality {key}", "")
        self._show_classical()

    def _show_classical(self) -> None:
        """The classical column for the selected quality: what is measured, and a wish for the first
        codec missing (one at a time, and only while the grid is seen: each is several encodes)."""
        if not self.classical_shown():
            return
        session, quality = self.session, self.session.selected
        result = session.results.get(quality) if quality is not None else None
        asked = not self.isVisible()
        for codec, tile in self.classical_tiles.items():
            got = self.pictures.get(codec, ask=not asked)
            if got is not None and result is not None:
                point, _quality, pixels = got
                tile.set_pixels(pixels)
                short_title, short = classical_caption(point, quality, result, short=True)
                tile.set_caption(*classical_caption(point, quality, result), short=short, short_title=short_title)
                continue
            asked = asked or result is not None
            if session.decoded is not None and session.image is None:
                waiting = (  # said, not left as headers over empty tiles
                    f"No original to compare with: an .lci file holds only the compressed picture, so "
                    f"there is nothing to encode as {codec}. Open the picture itself to see {codec} beside it."
                )
            elif result is not None:
                waiting = f"{codec} at the size of quality {quality}: being encoded…"
            elif session.is_computing(quality):
                waiting = f"waiting for quality {quality}"
            elif session.image is not None and quality is not None and session.last_end is not None:
                stopped = session.last_end.outcome == "cancelled"  # and Stop has its way to go on
                waiting = f"stopped before quality {quality}:\nResume (R) goes on" if stopped else "not available"
            else:
                waiting = ""
            tile.set_pixels(None, waiting)
            tile.set_caption(codec if quality is None else f"{codec} at the size of quality {quality}", "")

    def _on_classical_column(self, shown: bool) -> None:
        """A column of the classical codecs at the selected quality's file size beside the grid, or not."""
        self._classical_box.setVisible(shown)
        self._grid.setColumnStretch(self._classical_column, 1 if shown else 0)
        self._show_classical()

    def classical_shown(self) -> bool:
        return self.view_state.classical_column.value

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._show_classical()  # wishes wait while another tab is shown

    # ------------------------------------------------------------------------------------------- API

    def set_tile_message(self, key: int, message: str) -> None:
        self.tiles[key].set_pixels(None, message)

    def fit(self) -> None:
        self.sync.fit()

    def zoom_to_detail(self) -> None:
        """Every tile onto the telling detail (`detail`), as large as a tile shows it whole."""
        detail = self.detail
        if detail is None:
            return
        vb = self.tiles[0].viewbox
        if vb.width() < 2 or vb.height() < 2:
            self.sync.set_zoom(2.0, detail.center)
            return
        self.sync.set_zoom(min(vb.width() / detail.width, vb.height() / detail.height), detail.center)

    def actual_size(self) -> None:
        self.sync.set_zoom(1.0 / max(self.devicePixelRatioF(), 1e-6))

    def tile(self, key: int) -> ImageTile:
        return self.tiles[key]

    def zoom_by(self, factor: float) -> None:
        """Keyboard zoom (Ctrl+= / Ctrl+-) about the current centre."""
        vb = self.tiles[0].viewbox
        zoom = self.sync.zoom or self.sync.effective_zoom(vb) or 1.0
        self.sync.set_zoom(zoom * factor, self.sync.center)

    def _tile_clicked(self, key: int) -> None:
        if key > 0:
            self.session.select(key)
