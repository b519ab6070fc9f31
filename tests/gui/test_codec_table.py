"""Classical codecs are a table (`baselines.CLASSICAL_CODECS`): an entry is all a codec needs to be measured,
plotted, offered in the split, shown in the grid's column and written to the JSON. JPEG XL came that way."""

from __future__ import annotations

import json

import numpy as np

from lci_studio.codec import baselines
from lci_studio.codec.baselines import CLASSICAL_CODECS, ClassicalCodec, available_codecs, decode_classical
from tests.gui.conftest import LADDER_TIMEOUT_MS, wait_ladder

# A toy codec, registered in the test alone: JPEG without chroma subsampling, under a name of its own.
TOY = ClassicalCodec("JPEG 4:4:4", "JPEG", "#e8590c", lambda: True, options=lambda: {"subsampling": 0}, highest=95)


def test_jpeg_xl_is_a_classical_codec_of_this_install():
    """pillow-jxl-plugin is a dependency: JPEG XL is measured like the others, from bytes it really wrote."""
    assert "JPEG XL" in available_codecs()
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    low, high = (baselines.baseline_point(pixels, "JPEG XL", s) for s in (10, 90))
    assert low.file_bytes < high.file_bytes and low.psnr < high.psnr
    assert decode_classical(high.data).shape == (48, 64, 3)
    assert baselines.at_size(pixels, "JPEG XL", high.file_bytes).setting <= CLASSICAL_CODECS["JPEG XL"].highest


def test_a_setting_beyond_a_codecs_range_is_refused():
    pixels = np.zeros((16, 16, 3), np.uint8)
    try:
        baselines.encode_classical(pixels, "JPEG XL", 100)  # would be lossless, not a point on its RD curve
    except ValueError as exc:
        assert "from 0 to 99" in str(exc)
    else:
        raise AssertionError("JPEG XL at 100 was encoded")


def test_one_table_entry_reaches_every_view_and_the_json(qtbot, make_window, source, small_png, monkeypatch, tmp_path):
    monkeypatch.setitem(CLASSICAL_CODECS, TOY.name, TOY)
    codecs = available_codecs()
    assert {"JPEG XL", TOY.name} <= set(codecs)

    window = make_window(source, baselines=True)
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    qtbot.waitUntil(lambda: {p.codec for p in window.session.baselines} == set(codecs), timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: not window.worker.busy(), timeout=LADDER_TIMEOUT_MS)

    # the plot: a dashed series of its own, in the table's colour
    plotted = {p.series for p in window.rd_plot.points()}
    assert {"JPEG XL", TOY.name} <= plotted
    # the split: either side can show it at the selected quality's size
    offered = [window.split.combo_a.itemText(i) for i in range(window.split.combo_a.count())]
    assert "JPEG XL at the same size" in offered and f"{TOY.name} at the same size" in offered
    # the grid's column: a tile each, filled with the codec's picture at quality 3's size
    tiles = window.compare.classical_tiles
    assert list(tiles) == list(codecs)
    window.session.select(3)
    window.commands["classical_grid"].trigger()
    qtbot.waitUntil(lambda: all((c, 3) in window.session.classical for c in codecs), timeout=LADDER_TIMEOUT_MS)
    qtbot.waitUntil(lambda: all(t.pixels is not None for t in tiles.values()), timeout=LADDER_TIMEOUT_MS)
    assert all(t.isVisible() for t in tiles.values())
    # the JSON the window exports: a curve and BD figures for it
    from lci_studio.codec.report import comparison_json

    session = window.session
    doc = json.loads(json.dumps(comparison_json(session.ordered_results(), session.baselines, session.image, "t")))
    for codec in ("JPEG XL", TOY.name):
        assert doc["baselines"][codec]["settings"]  # the points around the ladder's range
        assert codec in doc["bd_rate"]
