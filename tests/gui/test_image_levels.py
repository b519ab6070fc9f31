"""What an image view draws of a picture larger than itself: an averaged halving at fit (never the whole
picture converted on the GUI thread), the picture's own pixels from 1:1 up, one halving shared by views."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtGui import QImage

from lci_studio.gui.panels.image_view import (
    ViewSync,
    configure_view,
    make_image_item,
    make_image_viewbox,
    mip_level,
    show_pixels,
)
from tests.conftest import make_photo

VIEW = (256, 192)


def block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The mean of each factor×factor block (the picture's sides are multiples of factor here)."""
    h, w, c = pixels.shape
    return pixels.reshape(h // factor, factor, w // factor, factor, c).astype(np.float64).mean(axis=(1, 3))


def drawn(view: pg.GraphicsView) -> np.ndarray:
    """The view's pixels as it paints them."""
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = rows.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
    return pixels.reshape(image.height(), image.width(), 3).copy()  # the QImage goes with this function


@pytest.fixture
def viewer(qtbot):
    """A view of the window's kind (view box, pixels item) at VIEW's size, following a ViewSync."""
    views = []

    def make(sync: ViewSync):
        view = pg.GraphicsView()
        configure_view(view)
        box = make_image_viewbox()
        view.setCentralItem(box)
        item = make_image_item()
        box.addItem(item)
        qtbot.addWidget(view)
        view.resize(*VIEW)
        view.show()
        qtbot.waitExposed(view)
        sync.add(box)
        views.append(view)
        return view, item

    return make


def test_fit_draws_an_averaged_halving_and_1_to_1_the_picture_itself(viewer):
    picture = make_photo(768, 1024, seed=3)  # 4× the view: fit is 25 %
    sync = ViewSync()
    view, item = viewer(sync)
    show_pixels(item, picture)
    sync.set_image_size(1024, 768)
    painted = drawn(view).astype(np.float64)  # the view box applies a new range as it paints

    assert item.level == 2 and item.shown is picture
    assert np.abs(item.image.astype(np.float64) - block_mean(picture, 4)).max() <= 1  # 4×4 averages
    assert painted.shape[:2] == (VIEW[1], VIEW[0])
    # the picture at fit is the mean of its 4×4 blocks, not a sample of them (grain would alias)
    assert np.abs(painted - block_mean(picture, 4)).mean() < 2

    sync.set_zoom(1.0, (512, 384))
    painted = drawn(view)
    assert item.level == 0 and np.shares_memory(item.image, picture)  # drawn as it is, no copy
    left, top = 512 - VIEW[0] // 2, 384 - VIEW[1] // 2
    assert np.array_equal(painted, picture[top : top + VIEW[1], left : left + VIEW[0]])

    sync.set_zoom(4.0, (512, 384))  # beyond 1:1: each picture pixel a 4×4 square of its own colour
    left, top = 512 - VIEW[0] // 8, 384 - VIEW[1] // 8
    expected = picture[top : top + VIEW[1] // 4, left : left + VIEW[0] // 4].repeat(4, axis=0).repeat(4, axis=1)
    assert np.array_equal(drawn(view), expected)

    sync.fit()
    drawn(view)
    assert item.level == 2


def test_views_of_one_picture_share_its_halvings_while_it_lives(viewer):
    picture = make_photo(384, 512, seed=4)
    sync = ViewSync()
    (first_view, first), (second_view, second) = viewer(sync), viewer(sync)
    show_pixels(first, picture)
    show_pixels(second, picture)
    sync.set_image_size(512, 384)
    drawn(first_view), drawn(second_view)

    assert first.level == second.level == 1
    assert np.shares_memory(first.image, mip_level(picture, 1)) and np.shares_memory(second.image, first.image)
    halving = weakref.ref(mip_level(picture, 1))
    show_pixels(first, make_photo(384, 512, seed=5))
    show_pixels(second, make_photo(384, 512, seed=6))
    drawn(first_view), drawn(second_view)
    del picture
    gc.collect()
    assert halving() is None  # gone with the picture


def test_a_new_picture_of_the_same_size_is_drawn_at_the_kept_zoom(viewer):
    sync = ViewSync()
    view, item = viewer(sync)
    show_pixels(item, make_photo(768, 1024, seed=6))
    sync.set_image_size(1024, 768)
    drawn(view)
    assert item.level == 2
    second = make_photo(768, 1024, seed=7)
    show_pixels(item, second)
    assert item.level == 2
    assert np.abs(item.image.astype(np.float64) - block_mean(second, 4)).max() <= 1
