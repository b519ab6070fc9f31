"""The session model on its own: real measured results, no Qt (tests/test_layering.py checks it loads none)."""

from __future__ import annotations

import pytest

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.pipeline import decode_lci, read_header
from lci_studio.session import DecodedLci, JobEnd, Session, SizeBasis
from tests.conftest import make_model, make_photo

PHOTO = make_photo(32, 48)


def _loaded(quality: int) -> LoadedModel:
    model = make_model(16, 24, seed=quality)
    info = ModelInfo("bundled", quality, "mse", LAMBDAS["mse"][quality - 1], 16, 24, weights_fingerprint(model))
    return LoadedModel(model, info)


@pytest.fixture(scope="module")
def results():
    image = RgbImage(PHOTO, 3000, "photo.png")
    return {q: measure_quality(_loaded(q), image) for q in (1, 2, 3)}


class Recorder:
    """Connects to every event of a session and writes down what arrived, in order."""

    def __init__(self, session: Session) -> None:
        self.seen: list[tuple[str, object]] = []
        events = session.events
        for name in vars(events):
            getattr(events, name).connect(lambda value, name=name: self.seen.append((name, value)))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


def test_opening_an_image_resets_the_previous_subject(results):
    session = Session(selected=4)
    seen = Recorder(session)
    session.open_image(RgbImage(PHOTO, None, "first"))
    session.start_ladder(range(1, 9))
    session.add_result(results[1])
    session.set_baselines(["jpeg point"])
    session.open_image(RgbImage(PHOTO, 3000, "second.png"))
    assert session.results == {} and session.baselines == [] and session.pending == ()
    assert session.name == "second.png" and session.selected == 4  # the selection outlives the picture
    assert seen.names() == ["opened", "ladder_started", "result_added", "baselines_changed", "opened"]
    assert seen.seen[-1][1] is session


def test_results_arrive_and_pending_shrinks(results):
    session = Session(selected=2)
    session.open_image(RgbImage(PHOTO, 3000, "photo.png"))
    seen = Recorder(session)
    session.start_ladder((1, 2, 3, 9))  # 9 is no quality: dropped
    assert session.pending == (1, 2, 3)
    assert session.is_computing(2) and not session.is_computing(4)
    session.add_result(results[2])
    session.add_result(results[1])
    assert session.pending == (3,) and sorted(session.results) == [1, 2]
    assert [r.quality for r in session.ordered_results()] == [1, 2]
    assert session.selected_result is results[2]
    assert session.selected_pixels is results[2].reconstruction
    session.finish("cancelled")
    assert session.pending == () and session.last_end == JobEnd("cancelled", unfinished=(3,))
    assert seen.seen == [
        ("ladder_started", (1, 2, 3)),
        ("result_added", results[2]),
        ("result_added", results[1]),
        ("finished", JobEnd("cancelled", unfinished=(3,))),
    ]


def test_finish_says_what_will_never_come(results):
    session = Session()
    session.open_image(RgbImage(PHOTO))
    session.start_ladder((1, 2, 3))
    session.add_result(results[1])
    at_finish = []
    session.events.finished.connect(lambda end: at_finish.append((session.pending, session.is_computing(2), end)))
    session.finish("failed", "Could not compress the image")
    assert at_finish == [((), False, JobEnd("failed", "Could not compress the image", (2, 3)))]


def test_selection_is_checked_announced_and_stepped():
    session = Session(selected=9)
    assert session.selected is None
    chosen = []
    session.events.selection_changed.connect(chosen.append)
    session.select(3)
    session.select(0)  # not a quality: ignored
    session.step(+1)
    session.select(8)
    session.step(+1)  # stays at the top
    session.select(None)
    session.step(-1)  # from nothing: starts at the bottom
    assert chosen == [3, 4, 8, 8, None, 1]


def test_decoded_file_selects_its_quality(results):
    session = Session(selected=1)
    seen = Recorder(session)
    session.open_loading("Decoding photo-q3.lci…")
    assert session.loading.startswith("Decoding") and session.image is None
    data = results[3].lci
    header = read_header(data)
    loaded = _loaded(3)
    decoded = DecodedLci("photo-q3.lci", data, header, decode_lci(data, loaded), loaded.info, 0.01)
    session.set_decoded(decoded)
    assert session.decoded is decoded and session.loading == "" and session.selected == 3
    assert session.selected_result is None and session.selected_pixels is decoded.pixels
    assert session.name == "photo-q3.lci"
    assert decoded.bpp == pytest.approx(len(data) * 8 / (48 * 32))
    assert seen.names() == ["opened", "decoded", "selection_changed"]


def test_clear_forgets_everything_including_the_selection(results):
    session = Session(selected=5)
    session.open_image(RgbImage(PHOTO))
    session.add_result(results[1])
    session.clear()
    assert session.image is None and session.results == {} and session.selected is None


def test_size_basis_says_what_ratios_are_measured_against(tmp_path):
    from_file = SizeBasis.of(RgbImage(PHOTO, 2048, "photo.png"), tmp_path / "photo.png")
    assert from_file.is_file and from_file.bytes == 2048
    assert from_file.label == "original file" and from_file.detail.endswith("PNG")
    pasted = SizeBasis.of(RgbImage(PHOTO, None, "pasted image"), origin="pasted, no file")
    assert not pasted.is_file and pasted.bytes == 48 * 32 * 3 and pasted.label == "raw RGB"
    assert pasted.detail == "pasted, no file"
    session = Session()
    session.open_image(RgbImage(PHOTO, None, "pasted image"))
    assert session.basis.label == "raw RGB"


def test_source_change_is_announced():
    session = Session()
    sources = []
    session.events.source_changed.connect(sources.append)
    session.set_source(None, "no bundled weights")
    assert session.source is None and session.source_error == "no bundled weights"
    marker = object()
    session.set_source(marker)
    assert session.source is marker and session.source_error == ""
    assert sources == [None, marker]


def test_a_callback_can_disconnect_itself_while_the_event_runs():
    session = Session()
    calls = []

    def once(quality):
        calls.append(quality)
        session.events.selection_changed.disconnect(once)

    session.events.selection_changed.connect(once)
    session.events.selection_changed.connect(lambda q: calls.append(("second", q)))
    session.select(2)
    session.select(3)
    assert calls == [2, ("second", 2), ("second", 3)]
