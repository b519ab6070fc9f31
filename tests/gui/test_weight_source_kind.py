"""A new kind of weight source is a `WeightSource` subclass and its header kind (docs/ARCHITECTURE.md, "Where to
make a change"): the ladder, the window and the decoder take it as it is. The kind here exists in this test alone."""

from __future__ import annotations

import numpy as np
import pytest

from lci_studio.codec import lci_format
from lci_studio.codec.decoding import candidate_sources, decode_file
from lci_studio.codec.model import LAMBDAS, QUALITIES
from lci_studio.codec.pipeline import encode_image, read_header
from lci_studio.codec.weight_source import WeightSource
from tests.conftest import make_model, make_photo
from tests.gui.conftest import wait_ladder


class MemorySource(WeightSource):
    """Toy weights made in memory: small random models, one per quality."""

    kind = "memory"

    def __init__(self) -> None:
        super().__init__("mse")

    def qualities(self) -> list[int]:
        return list(QUALITIES)

    def describe(self) -> str:
        return "toy weights held in memory"

    @property
    def label(self) -> str:
        return "memory"

    def _load(self, quality, progress, cancel):
        return make_model(seed=quality), "mse", LAMBDAS["mse"][quality - 1]


@pytest.fixture
def memory_kind(monkeypatch):
    """The header's kinds with this one appended (appended: the files of every kind before it still read)."""
    monkeypatch.setattr(lci_format, "SOURCE_KINDS", (*lci_format.SOURCE_KINDS, MemorySource.kind))


def test_its_files_record_its_kind_and_decode_with_it(memory_kind):
    source = MemorySource()
    pixels = make_photo(48, 64)
    encoded = encode_image(source.load(3), pixels)
    header = read_header(encoded.lci)
    assert header.source_kind == "memory" and header.quality == 3
    decoded = decode_file(encoded.lci, candidate_sources(header, [source]))
    assert decoded.info.kind == "memory" and decoded.info.source == "memory"
    assert decoded.pixels.shape == pixels.shape and decoded.pixels.dtype == np.uint8


def test_the_window_runs_its_ladder(qtbot, make_window, small_png, memory_kind):
    window = make_window(MemorySource())
    window.open_path(small_png())
    wait_ladder(qtbot, window)
    results = window.session.results
    assert sorted(results) == list(QUALITIES)
    assert {r.info.kind for r in results.values()} == {"memory"}
    assert {r.header.source_kind for r in results.values()} == {"memory"}
