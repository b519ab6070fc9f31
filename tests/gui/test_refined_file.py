"""A file made by the refined encoder (issue 24) opens in the window like any other `.lci`: the window's
decode path is unchanged, and it shows exactly the pixels `decode_lci` gives."""

from __future__ import annotations

import numpy as np

from lci_studio.codec.pipeline import decode_lci
from lci_studio.codec.refinement import Encoder, refined_encode
from tests.conftest import make_photo
from tests.gui.conftest import LADDER_TIMEOUT_MS


def test_the_window_opens_a_refined_file(qtbot, window, source, tmp_path):
    loaded = source.load(4)
    refined = refined_encode(loaded, make_photo(48, 64, seed=3), Encoder("custom", 3))
    path = tmp_path / "refined-q4.lci"
    path.write_bytes(refined.encoded.lci)
    opened = []
    window.jobs.lciOpened.connect(opened.append)
    window.open_path(path)
    qtbot.waitUntil(lambda: bool(opened) and not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)
    decoded = window.session.decoded
    assert decoded is not None and decoded.header.quality == 4 and window.session.selected == 4
    assert np.array_equal(decoded.pixels, decode_lci(refined.encoded.lci, loaded))
