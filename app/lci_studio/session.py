"""What the window shows, as plain data that announces its changes: the one state its panels draw.

`Session` holds the opened picture (or decoded `.lci` file), the weight source, the results per
quality, the classical-codec points, the selected quality and which qualities are still being
computed. It imports no Qt, so a script or a test can drive it, and every view (compare grid,
split view, RD plot, latent view, explanation, demo) subscribes to its events instead of keeping
a copy of the results. The window's worker feeds it; the views only read it.

Events are plain callback lists (`Emitter`), called synchronously in the order they connected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.lci_format import LciHeader
from lci_studio.codec.metrics import missing
from lci_studio.codec.model import QUALITIES, ModelInfo
from lci_studio.codec.number_format import format_kb

if TYPE_CHECKING:
    from lci_studio.codec.baselines import BaselinePoint
    from lci_studio.codec.refinement import BandPoint
    from lci_studio.codec.weights import WeightSource

T = TypeVar("T")


class Emitter(Generic[T]):
    """A list of callbacks that all get the same value when it changes."""

    def __init__(self) -> None:
        self._callbacks: list[Callable[[T], None]] = []

    def connect(self, callback: Callable[[T], None]) -> None:
        self._callbacks.append(callback)

    def disconnect(self, callback: Callable[[T], None]) -> None:
        self._callbacks.remove(callback)

    def emit(self, value: T) -> None:
        for callback in list(self._callbacks):
            callback(value)


@dataclass(frozen=True)
class DecodedLci:
    """An `.lci` file opened in the window: its header, the weights that decoded it, and the pixels."""

    name: str
    data: bytes
    header: LciHeader
    pixels: np.ndarray
    info: ModelInfo
    decode_seconds: float

    @property
    def bpp(self) -> float:
        return len(self.data) * 8 / (self.header.width * self.header.height)


@dataclass(frozen=True)
class SizeBasis:
    """What the shown ratios compare a compressed size with, worded for the reader.

    A picture opened from a file is measured against that file. A pasted or dropped picture has
    no file (re-encoding it would measure our encoder, not the picture), so it is measured against
    its raw 24-bit RGB pixels, and the captions say so.
    """

    bytes: int
    label: str  # completes "12 % of …": "original file" or "raw RGB"
    detail: str  # the original's caption: "150 kB PNG", or why there is no file

    @property
    def is_file(self) -> bool:
        return self.label == "original file"

    @classmethod
    def of(cls, image: RgbImage, path: Path | None = None, origin: str = "") -> SizeBasis:
        """The basis of `image`: its file when it came from one, else raw RGB (`origin` says why)."""
        if image.source_bytes:
            kind = path.suffix[1:].upper() if path is not None and path.suffix else "file"
            return cls(image.source_bytes, "original file", f"{format_kb(image.source_bytes)} {kind}")
        raw = image.width * image.height * 3
        return cls(raw, "raw RGB", origin or "no file")


@dataclass(frozen=True)
class JobEnd:
    """How the computation behind the shown results ended: `failure` is its one-line title,
    `unfinished` the qualities it will never deliver."""

    outcome: str  # "done" | "cancelled" | "failed"
    failure: str = ""
    unfinished: tuple[int, ...] = ()


class SessionEvents:
    """The session's change events; each view connects the ones it draws."""

    def __init__(self) -> None:
        self.opened: Emitter[Session] = Emitter()  # a new subject (image, file, nothing); all else reset
        self.ladder_started: Emitter[tuple[int, ...]] = Emitter()  # results reset; these are on their way
        self.result_added: Emitter[QualityResult] = Emitter()
        self.refined_added: Emitter[QualityResult] = Emitter()  # a second encoder's file of a quality (`refined`)
        self.band_measured: Emitter[int] = Emitter()  # a quality's reachable band is in `bands`
        self.baselines_changed: Emitter[list] = Emitter()
        self.classical_added: Emitter[tuple[str, int]] = Emitter()  # (codec, quality) now in `classical`
        self.decoded: Emitter[DecodedLci] = Emitter()
        self.selection_changed: Emitter[int | None] = Emitter()
        self.finished: Emitter[JobEnd] = Emitter()
        self.source_changed: Emitter[WeightSource | None] = Emitter()


class Session:
    """The state of one window. Read the attributes; change it only through the methods, which emit.

    `image` (RgbImage) with `image_path` and `basis`, or `decoded` (DecodedLci), or neither;
    `loading` says what is being opened meanwhile. `results` {quality: QualityResult} and
    `baselines` belong to the current subject; `refined` {quality: QualityResult} holds, beside a plain
    result, the same quality made by the refined encoder (same decoder, its own file), which exports
    use (`file_result`); `bands` {quality: its BandPoints} where refining for the λ at its band's ends
    (`refinement.band_reach`) takes this picture; `pending` are the qualities still to come and
    `unavailable` says why the others will not. `selected` is the quality the views focus on
    (None: none). `source` is the weight source (None, with `source_error` saying why).
    """

    def __init__(self, selected: int | None = None) -> None:
        self.events = SessionEvents()
        self.image: RgbImage | None = None
        self.image_path: Path | None = None
        self.basis: SizeBasis | None = None
        self.decoded: DecodedLci | None = None
        self.loading = ""
        self.results: dict[int, QualityResult] = {}
        self.refined: dict[int, QualityResult] = {}
        self.bands: dict[int, tuple[BandPoint, ...]] = {}
        self.baselines: list[BaselinePoint] = []
        self.classical: dict[tuple[str, int], BaselinePoint] = {}  # (codec, quality) → that codec at its size
        self.pending: tuple[int, ...] = ()
        self.unavailable = ""
        self.last_end: JobEnd | None = None
        self.selected: int | None = selected if selected in QUALITIES else None
        self.source: WeightSource | None = None
        self.source_error = ""

    # ------------------------------------------------------------------------------------ subject

    def open_image(self, image: RgbImage, path: Path | None = None, basis: SizeBasis | None = None) -> None:
        """Show a picture: everything from the previous subject is dropped."""
        self._reset()
        self.image = image
        self.image_path = path
        self.basis = basis or SizeBasis.of(image, path)
        self.events.opened.emit(self)

    def open_loading(self, what: str) -> None:
        """Nothing to show yet while `what` ("Decoding photo.lci…") is opened."""
        self._reset()
        self.loading = what
        self.events.opened.emit(self)

    def clear(self) -> None:
        """Back to nothing at all, selection included."""
        self._reset()
        self.selected = None
        self.events.opened.emit(self)
        self.events.selection_changed.emit(None)

    def set_decoded(self, decoded: DecodedLci) -> None:
        """The `.lci` file being opened is decoded; its quality becomes the selected one."""
        self.loading = ""
        self.decoded = decoded
        self.events.decoded.emit(decoded)
        self.select(decoded.header.quality)

    def _reset(self) -> None:
        self.image = self.image_path = self.basis = self.decoded = None
        self.loading = ""
        self.results = {}
        self.refined = {}
        self.bands = {}
        self.baselines = []
        self.classical = {}
        self.pending = ()
        self.unavailable = ""
        self.last_end = None

    @property
    def name(self) -> str:
        """The subject's name for titles and file names."""
        if self.image is not None:
            return self.image.name
        return self.decoded.name if self.decoded is not None else ""

    # ------------------------------------------------------------------------------------ results

    def start_ladder(self, qualities: Iterable[int], unavailable: str = "not available") -> None:
        """A new computation for the current picture: drop its results; `qualities` are on their way.

        With no qualities (no weights), `unavailable` says why nothing will come.
        """
        self.results = {}
        self.refined = {}
        self.bands = {}
        self.baselines = []
        self.classical = {}
        self.pending = tuple(q for q in qualities if q in QUALITIES)
        self.unavailable = unavailable
        self.last_end = None
        self.events.ladder_started.emit(self.pending)

    def resume_ladder(self, qualities: Iterable[int]) -> None:
        """Go on after a stop: `qualities` are on their way again and what was measured stays (announced
        again after `ladder_started`, so every view draws it as before)."""
        results, points, classical = self.ordered_results(), self.baselines, dict(self.classical)
        refined, bands = list(self.refined.values()), dict(self.bands)
        self.start_ladder(qualities, self.unavailable)
        for result in results:
            self.add_result(result)
        for result in refined:
            self.add_refined(result)
        for quality, points in bands.items():
            self.add_band(quality, points)
        if points:
            self.set_baselines(points)
        for (_codec, quality), point in classical.items():
            self.add_classical(quality, point)

    def add_result(self, result: QualityResult) -> None:
        """One quality measured (replaces an earlier result of the same quality)."""
        self.results[result.quality] = result
        self.pending = tuple(q for q in self.pending if q != result.quality)
        self.events.result_added.emit(result)

    def add_refined(self, result: QualityResult) -> None:
        """A quality's file made by the refined encoder, kept beside its plain result (which stays; a newer
        refinement of the same quality replaces the older). Ignored without a plain result to stand beside."""
        if result.quality not in self.results:
            return
        self.refined[result.quality] = result
        self.events.refined_added.emit(result)

    def add_band(self, quality: int, points: Iterable[BandPoint]) -> None:
        """Where this picture lands when `quality` is refined for the λ at its band's ends (low λ first)."""
        if quality not in self.results:
            return
        self.bands[quality] = tuple(sorted(points, key=lambda p: p.lmbda))
        self.events.band_measured.emit(quality)

    def file_result(self, quality: int | None) -> QualityResult | None:
        """The result whose file a quality's exports write: the refined one when there is one, else the plain."""
        if quality is None:
            return None
        return self.refined.get(quality) or self.results.get(quality)

    def set_baselines(self, points: Iterable[BaselinePoint]) -> None:
        """The classical-codec points so far (replaces the previous list)."""
        self.baselines = list(points)
        self.events.baselines_changed.emit(self.baselines)

    def add_classical(self, quality: int, point: BaselinePoint) -> None:
        """A classical codec at the file size of `quality`'s result (the nearest setting), to be seen as a picture."""
        self.classical[(point.codec, quality)] = point
        self.events.classical_added.emit((point.codec, quality))

    def finish(self, outcome: str, failure: str = "") -> None:
        """The computation ended; qualities still pending will not come (`failure`: why, when it failed)."""
        self.last_end = JobEnd(outcome, failure, self.pending)
        self.pending = ()
        self.events.finished.emit(self.last_end)

    def missing_metrics(self, keys: Iterable[str] | None = None) -> int:
        """How many results and classical points still lack one of the metrics `keys` (default: every one;
        the window measures an on-demand metric only while it is shown, and all of them in the worker before
        an export: an export holds what `lci compare` writes)."""
        if self.image is None:
            return 0
        results = sum(bool(missing(r.metrics, keys)) for r in self.results.values())
        return results + sum(bool(missing(p.metrics, keys)) and bool(p.data) for p in self.baselines)

    def ordered_results(self) -> list[QualityResult]:
        return [self.results[q] for q in sorted(self.results)]

    @property
    def selected_result(self) -> QualityResult | None:
        return self.results.get(self.selected) if self.selected is not None else None

    @property
    def selected_pixels(self) -> np.ndarray | None:
        """What "the selected picture" means for copy and PNG export: its file's picture (the refined one when
        there is one, `file_result`), else the decoded file."""
        result = self.file_result(self.selected)
        if result is not None:
            return result.reconstruction
        return self.decoded.pixels if self.decoded is not None else None

    def is_computing(self, quality: int | None) -> bool:
        return quality is not None and quality in self.pending

    # ------------------------------------------------------------------------------------ selection

    def select(self, quality: int | None) -> None:
        """Focus every view on `quality` (1…8; None: none). Always announced, so views can re-sync."""
        if quality is not None and quality not in QUALITIES:
            return
        self.selected = quality
        self.events.selection_changed.emit(quality)

    def step(self, step: int) -> None:
        """The next (+1) or previous (−1) quality, staying within 1…8."""
        current = self.selected if self.selected is not None else QUALITIES[0]
        self.select(min(max(current + step, QUALITIES[0]), QUALITIES[-1]))

    # ------------------------------------------------------------------------------------ weights

    def set_source(self, source: WeightSource | None, error: str = "") -> None:
        """The weights to compress with (None: none, `error` saying why)."""
        self.source = source
        self.source_error = "" if source is not None else error
        self.events.source_changed.emit(source)
