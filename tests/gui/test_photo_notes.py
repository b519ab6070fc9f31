"""The Original tile names how the file became 8-bit sRGB (image_io's note), and says nothing when nothing changed."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lci_studio.codec import icc
from lci_studio.codec.image_io import load_rgb
from tests.codec.test_photos import P3, heic_bytes
from tests.conftest import make_photo
from tests.gui.conftest import wait_ladder


@pytest.mark.parametrize("name", ["p3.png", "IMG_0001.HEIC"])
def test_original_caption_names_the_colour_conversion(qtbot, window, tmp_path, name):
    """A PNG with a Display P3 ICC profile, and a phone's HEIC in Display P3 by its nclx description."""
    path = tmp_path / name
    if path.suffix == ".png":
        Image.fromarray(make_photo(96, 128, seed=8)).save(path, icc_profile=icc.matrix_profile(*P3))
    else:
        path.write_bytes(heic_bytes(make_photo(96, 128, seed=8), color_primaries=12, transfer_characteristics=13))
    window.open_path(path)
    wait_ladder(qtbot, window)
    tile = window.compare.tile(0)
    assert tile.caption_text().splitlines()[0] == "Original · Display P3 → sRGB"
    assert np.array_equal(tile.pixels, load_rgb(path).pixels)  # the converted pixels are what is shown and coded


def test_plain_file_keeps_the_plain_caption(qtbot, window, small_png):
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    assert window.compare.tile(0).caption_text().splitlines()[0] == "Original"


def test_open_dialog_offers_heic_in_both_cases(window, monkeypatch):
    from lci_studio.gui import opening

    offered: list[str] = []

    def dialog(parent, title, folder, filters):
        offered.append(filters)
        return "", ""

    monkeypatch.setattr(opening.QFileDialog, "getOpenFileName", dialog)
    window.opening.open_dialog()
    images = offered[0].split(";;")[1]  # "Images (*.avif *.AVIF …)"
    assert {"*.heic", "*.HEIC", "*.heif", "*.HEIF", "*.png", "*.JPG"} <= set(images[8:-1].split()), images
