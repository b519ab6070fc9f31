"""What every image view of the window shares: pixel-exact image items, and `ViewSync`, the one master
transform that the grid's tiles and the split view follow.

A `PixelsItem` draws about as many pixels as its view has, whatever the picture's size: a 2×2-averaged
halving of the picture while zoomed out (`mip_level`), the picture itself from 50 % up, so a 12-24 MP photo
in eight tiles never makes the GUI thread convert or average all of its pixels on a zoom.

`ViewSync` holds an image-space centre and a zoom in screen pixels per image pixel. When the user wheels
or drags one view, its new range becomes the master and is pushed to every other view; a guard stops the
echo. pyqtgraph's own view linking is not used (its aspect-locked links drift and recurse).
"""

from __future__ import annotations

import math
import weakref
from functools import partial

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QWidget

MIN_ZOOM = 1 / 64  # screen pixels per image pixel
MAX_ZOOM = 64.0


def configure_view(view: pg.GraphicsView) -> None:
    """No smoothing and no antialiasing: image pixels are drawn as crisp squares when zoomed in."""
    view.setAntialiasing(False)
    view.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
    view.setFrameShape(QFrame.Shape.NoFrame)
    view.setAcceptDrops(False)  # files dropped on a view go to the window, which opens them


def palette_background(widget: QWidget) -> QColor:
    return widget.palette().color(QPalette.ColorRole.Base)


class ImageViewBox(pg.ViewBox):
    """A ViewBox where Shift+drag draws a rubber band and zooms onto it ("zoom here"); a plain drag pans."""

    def mouseDragEvent(self, ev, axis=None) -> None:
        band = ev.button() == Qt.MouseButton.LeftButton and bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        mode = self.state["mouseMode"]
        if band:
            self.state["mouseMode"] = pg.ViewBox.RectMode
        try:
            super().mouseDragEvent(ev, axis)
        finally:
            self.state["mouseMode"] = mode


def make_image_viewbox() -> pg.ViewBox:
    vb = ImageViewBox(invertY=True, enableMenu=False, lockAspect=False, defaultPadding=0.0)
    vb.disableAutoRange()
    vb.setMouseEnabled(True, True)
    return vb


MIN_LEVEL_SIDE = 8  # px: the coarsest halving keeps at least this many pixels on its shorter side
_HALVINGS: dict[int, list[np.ndarray]] = {}  # id(picture) → its halvings so far (1/2, 1/4, …), while it lives


def mip_level(pixels: np.ndarray, level: int) -> np.ndarray:
    """`pixels` halved `level` times, each time averaging 2×2 blocks (Pillow's `reduce`, edges averaged over
    what is there). Made when a zoom first needs it and kept while the picture lives, shared by every view of
    it (pictures are never changed in place): the first halving of 12 MP costs ~25 ms, the rest ~10 ms."""
    if level <= 0:
        return pixels
    halvings = _HALVINGS.get(id(pixels))
    if halvings is None:
        halvings = _HALVINGS[id(pixels)] = []
        weakref.finalize(pixels, _HALVINGS.pop, id(pixels), None)
    while len(halvings) < level:
        halvings.append(np.array(Image.fromarray(halvings[-1] if halvings else pixels).reduce(2)))
    return halvings[level - 1]


def level_for(pixels: np.ndarray, device_zoom: float) -> int:
    """The coarsest halving with at least one pixel per device pixel at `device_zoom` (device pixels per
    picture pixel), so Qt shrinks what it draws by at most 2× (its smooth scaling samples, it does not
    average: a 12 MP photo drawn 13× smaller directly would alias its grain and a codec's ringing)."""
    if device_zoom >= 1 or device_zoom <= 0:
        return 0
    coarsest = max(0, int(math.log2(max(min(pixels.shape[:2]), 1) / MIN_LEVEL_SIDE)))
    return min(math.floor(math.log2(1 / device_zoom)), coarsest)


class PixelsItem(pg.ImageItem):
    """An image item for a picture of any size that costs the GUI thread about a view's pixels, not the
    picture's: it draws the halving of the picture (`mip_level`) that the view's zoom needs, stretched over
    the picture's own rectangle, so item coordinates stay picture pixels; from 50 % up the picture itself
    (from 100 % up pixel for pixel). `shown` is the picture, `image` what is drawn now."""

    shown: np.ndarray | None = None
    level = 0

    def device_zoom(self) -> float | None:
        """Device pixels per picture pixel in the view now (None before the view has a size)."""
        box = self.getViewBox()
        if box is None or self.shown is None:
            return None
        (x0, x1), _ = box.viewRange()
        if box.width() < 2 or x1 <= x0:
            return None
        widget = self.getViewWidget()
        return box.width() / (x1 - x0) * (widget.devicePixelRatioF() if widget is not None else 1.0)

    def draw_level(self) -> None:
        """Draw the halving the view's zoom needs, unless it is drawn already."""
        pixels = self.shown
        if pixels is None:
            return
        zoom = self.device_zoom()
        level = 0 if zoom is None else level_for(pixels, zoom)
        if level == self.level:
            return
        self.level = level
        self.setImage(np.ascontiguousarray(mip_level(pixels, level)), levels=None, autoLevels=False)
        self.setRect(0, 0, pixels.shape[1], pixels.shape[0])

    def viewTransformChanged(self) -> None:
        """A zoom that needs another halving swaps it in (the halvings once made are kept)."""
        self.draw_level()


def make_image_item() -> PixelsItem:
    return PixelsItem(axisOrder="row-major")


def show_pixels(item: PixelsItem, pixels: np.ndarray | None) -> None:
    """Show uint8 RGB (or gray) pixels exactly: no levels and no lookup table, so pyqtgraph wraps each array
    in a QImage without converting it. The very array shown already is not set again (pictures are never
    changed in place), so panels may refresh on every event."""
    if pixels is None:
        item.shown = None
        item.clear()
        item.setVisible(False)
        return
    if item.shown is not pixels:
        item.shown = pixels
        item.level = -1
        item.draw_level()
    item.setVisible(True)


def _inside(centre: float, half: float, size: float) -> float:
    """A view's centre along one axis such that the view stays on the picture (0…size): the middle
    when the view is wider than the picture, else no further than half a view from either edge."""
    if size <= 0 or 2 * half >= size:
        return size / 2 if size > 0 else centre
    return min(max(centre, half), size - half)


class ViewSync(QObject):
    """One master transform for many image ViewBoxes: centre (image px) and zoom (screen px per image px).

    `zoom is None` means "fit": every view shows the whole image, centred.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._views: list[pg.ViewBox] = []
        self._image_size = (0, 0)
        self._center: tuple[float, float] | None = None
        self._zoom: float | None = None
        self._applying = False

    # ------------------------------------------------------------------------------------------ state

    @property
    def views(self) -> list[pg.ViewBox]:
        return list(self._views)

    @property
    def zoom(self) -> float | None:
        return self._zoom

    @property
    def center(self) -> tuple[float, float]:
        if self._center is not None and self._zoom is not None:
            return self._center
        return self._image_size[0] / 2, self._image_size[1] / 2

    def add(self, vb: pg.ViewBox) -> None:
        self._views.append(vb)
        vb.sigRangeChangedManually.connect(partial(self._user_moved, vb))
        vb.sigResized.connect(self._resized)
        self.apply_view(vb)

    def set_image_size(self, width: int, height: int) -> None:
        """A new image: back to fit unless the size is the same (then the zoom and place are kept)."""
        if (width, height) != self._image_size:
            self._image_size = (width, height)
            self._zoom = self._center = None
        self.apply()

    def fit(self) -> None:
        self._zoom = self._center = None
        self.apply()

    def set_zoom(self, zoom: float, center: tuple[float, float] | None = None) -> None:
        self._center = center or self.center
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        self.apply()

    def effective_zoom(self, vb: pg.ViewBox) -> float | None:
        """The zoom a view shows now (in fit mode: its own fit zoom)."""
        (x0, x1), _ = vb.viewRange()
        return vb.width() / (x1 - x0) if vb.width() > 1 and x1 > x0 else None

    # -------------------------------------------------------------------------------------- applying

    def target_range(self, vb: pg.ViewBox) -> tuple[tuple[float, float], tuple[float, float]] | None:
        width, height = vb.width(), vb.height()
        iw, ih = self._image_size
        if width < 2 or height < 2 or iw <= 0 or ih <= 0:
            return None
        if self._zoom is None:
            zoom = min(width / iw, height / ih)
            cx, cy = iw / 2, ih / 2
        else:
            zoom = self._zoom
            cx, cy = self._center or (iw / 2, ih / 2)
        half_w, half_h = width / (2 * zoom), height / (2 * zoom)
        # one centre for views of different sizes: each keeps its edge on the picture's, so a view
        # larger than the tile that chose the centre (the split) shows more picture, not blank
        cx, cy = _inside(cx, half_w, iw), _inside(cy, half_h, ih)
        return (cx - half_w, cx + half_w), (cy - half_h, cy + half_h)

    def apply_view(self, vb: pg.ViewBox) -> None:
        target = self.target_range(vb)
        if target is None:
            return
        was = self._applying
        self._applying = True
        try:
            vb.setRange(xRange=target[0], yRange=target[1], padding=0)
        finally:
            self._applying = was
        zoom = vb.width() / (target[0][1] - target[0][0])
        view = vb.getViewWidget()
        if view is not None:
            # nearest neighbour at 100% and above; smoothing only while shrinking a large image
            view.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, zoom < 0.999)

    def apply(self, skip: pg.ViewBox | None = None) -> None:
        for vb in self._views:
            if vb is not skip:
                self.apply_view(vb)
        self.changed.emit()

    def _user_moved(self, vb: pg.ViewBox, *_args) -> None:
        if self._applying:
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        if vb.width() < 2 or x1 <= x0:
            return
        zoom = vb.width() / (x1 - x0)
        if y1 > y0 and vb.height() >= 2:  # a rubber band of another shape than the view: all of it in view
            zoom = min(zoom, vb.height() / (y1 - y0))
        self._zoom = min(MAX_ZOOM, max(MIN_ZOOM, zoom))
        iw, ih = self._image_size
        half_w, half_h = vb.width() / (2 * self._zoom), vb.height() / (2 * self._zoom)
        # where the moved view stops at an edge, so does the centre: dragging back moves it at once
        self._center = (_inside((x0 + x1) / 2, half_w, iw), _inside((y0 + y1) / 2, half_h, ih))
        # the moved view too: clamps the zoom and keeps exact square pixels
        self.apply()

    def _resized(self, vb: pg.ViewBox) -> None:
        if not self._applying:
            self.apply_view(vb)
