"""The worker's jobs: one frozen dataclass per kind, its body beside it (`run`), and what they report.

A job says which lane it belongs to (`lane`: which thread runs it and which jobs it cancels, worker.py)
and the title of its failure dialog (`title`); `run(run, out)` does the work in a worker thread,
polling `run.cancel()` and emitting its results on `out` with `run.job_id`. Adding a kind of job is
one dataclass with its `run` here; the worker starts any of them with `start(job)`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from lci_studio.codec import baselines as baselines_mod
from lci_studio.codec import image_io
from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.decoding import candidate_sources, decode_file
from lci_studio.codec.difference import difference
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import CancelledError, encode_ladder
from lci_studio.codec.model import LoadedModel
from lci_studio.codec.pipeline import read_header
from lci_studio.codec.telling_detail import telling_detail
from lci_studio.codec.weights import CompressAISource, FetchTally, WeightSource
from lci_studio.gui.analysis import AnalysisScheduler, LadderFeed
from lci_studio.gui.qimage import from_qimage
from lci_studio.session import DecodedLci, SizeBasis

_PROGRESS_INTERVAL = 0.1  # seconds between download-progress signals


class JobSignals(QObject):
    """What jobs report, as listed in worker.py's docstring: emitted raw by a runner in its thread, relayed
    (current jobs only) by the `CodecWorker` in the GUI thread."""

    jobStarted = Signal(int, str, int)
    progress = Signal(int, float, int, str)
    resultReady = Signal(int, object)
    baselinesReady = Signal(int, object)
    classicalReady = Signal(int, object)
    detailFound = Signal(int, object)
    differenceReady = Signal(int, object)
    lciDecoded = Signal(int, object)
    imageLoaded = Signal(int, object)
    sourceReady = Signal(int, object)
    failed = Signal(int, str, str)
    jobFinished = Signal(int, str)


@dataclass(frozen=True)
class Running:
    """A job on its way through a worker thread, with its id and its cancel check."""

    job_id: int
    job: Job
    cancel: Callable[[], bool]


class Job(Protocol):
    """What every job dataclass below has."""

    kind: ClassVar[str]  # what jobStarted says: "load", "ladder", …
    lane: ClassVar[str]  # worker.py's lanes: which thread runs it, which jobs it cancels
    title: ClassVar[str]  # its failure dialog's title

    def run(self, run: Running, out: JobSignals) -> None: ...


@dataclass(frozen=True)
class LoadedImage:
    """What a LoadJob gives the window: the pixels, the file they came from, and what ratios compare with."""

    image: RgbImage
    path: Path | None
    basis: SizeBasis


@dataclass(frozen=True)
class LoadJob:
    """Read a picture and convert it to 8-bit RGB: a file (`path`), or pixels without one (`qimage`,
    pasted or dropped, named `name`; measured against raw RGB)."""

    path: Path | None = None
    qimage: QImage | None = None
    name: str = ""
    kind: ClassVar[str] = "load"
    lane: ClassVar[str] = "view"
    title: ClassVar[str] = "Could not open the image"

    def run(self, run: Running, out: JobSignals) -> None:
        name = self.path.name if self.path is not None else self.name
        out.jobStarted.emit(run.job_id, "load", 1)
        out.progress.emit(run.job_id, 0, 1, f"opening {name}")
        if self.path is not None:
            image = image_io.load_rgb(self.path)
            basis = SizeBasis.of(image, self.path)
        else:
            image = from_qimage(self.qimage if self.qimage is not None else QImage(), self.name)
            basis = SizeBasis.of(image)  # the name says pasted or dropped; the caption says "no file"
        if run.cancel():
            raise CancelledError()
        out.imageLoaded.emit(run.job_id, LoadedImage(image, self.path, basis))
        out.progress.emit(run.job_id, 1, 1, "")


@dataclass(frozen=True)
class LadderJob:
    """Encode → bytes → decode → measure `image` at every quality of `source`; each result goes out
    the moment its picture exists (and into `feed`, for the analysis beside it). `on_demand=False`
    leaves the on-demand metrics (MS-SSIM…) to the analysis job."""

    image: RgbImage
    source: WeightSource
    qualities: tuple[int, ...] | None = None
    feed: LadderFeed | None = None
    on_demand: bool = True
    kind: ClassVar[str] = "ladder"
    lane: ClassVar[str] = "view"
    title: ClassVar[str] = "Could not compress the image"

    def run(self, run: Running, out: JobSignals) -> None:
        qualities = tuple(self.qualities or self.source.qualities())
        total = len(qualities)
        done = [0]
        out.jobStarted.emit(run.job_id, "ladder", total)
        out.progress.emit(run.job_id, 0, total, "")
        loader = _ProgressLoader(self.source, run.cancel, _download_reporter(out, run, lambda: done[0], total))
        image = self.image
        tiles = None
        if image_io.is_large(image.width, image.height):  # a quality takes a while: say how far it is

            def tiles(quality: int, stage: str, tile: int, count: int) -> None:
                where = f"q{quality} {stage}, tile {min(tile + 1, count)} of {count}"
                part = ((stage == "decode") + tile / max(count, 1)) / 2  # encode's tiles, then decode's
                out.progress.emit(run.job_id, done[0] + part, total, f"{_megapixels(image)} picture: {where}")

        try:
            for result in encode_ladder(image, loader, qualities, run.cancel, on_demand=self.on_demand, progress=tiles):
                done[0] += 1
                if self.feed is not None:
                    self.feed.put(result)
                out.resultReady.emit(run.job_id, result)
                out.progress.emit(run.job_id, done[0], total, "")
        finally:
            if self.feed is not None:
                self.feed.close()


@dataclass(frozen=True)
class AnalysisJob:
    """What the window shows beside the ladder, in the low-priority thread: the classical codecs'
    points (`baselines.sweep`'s settings, a point at a time, codec by codec; the range extras once
    `feed` is closed) and the on-demand metrics `wanted_metrics()` names (those shown, or all before an
    export) of every ladder result and point that lacks them (served first). `points`: those measured
    already (of `codecs`: a stopped sweep that goes on)."""

    image: RgbImage
    feed: LadderFeed
    codecs: tuple[str, ...] = ()
    points: tuple[BaselinePoint, ...] = ()
    wanted_metrics: Callable[[], tuple[str, ...]] = field(default=tuple, compare=False)
    kind: ClassVar[str] = "analysis"
    lane: ClassVar[str] = "analysis"
    title: ClassVar[str] = "Could not measure the comparison"

    def run(self, run: Running, out: JobSignals) -> None:
        AnalysisScheduler(out, run, self).run()


@dataclass(frozen=True)
class DecodeJob:
    """Decode `.lci` bytes with the weights the header names, found among `sources` (decoding's rule)."""

    data: bytes
    name: str
    sources: tuple[WeightSource, ...] = ()
    kind: ClassVar[str] = "decode"
    lane: ClassVar[str] = "view"
    title: ClassVar[str] = "Could not open the .lci file"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, "decode", 1)
        header = read_header(self.data)
        out.progress.emit(run.job_id, 0, 1, f"decoding {self.name}")
        candidates = candidate_sources(header, [s for s in self.sources if s is not None])
        tiles = None
        if image_io.is_large(header.width, header.height):

            def tiles(tile: int, count: int) -> None:
                where = f"{_megapixels(header)}: tile {min(tile + 1, count)} of {count}"
                out.progress.emit(run.job_id, tile / max(count, 1), 1, f"decoding {self.name}, {where}")

        decoded = decode_file(self.data, candidates, cancel=run.cancel, name=self.name, progress=tiles)
        out.lciDecoded.emit(
            run.job_id, DecodedLci(self.name, self.data, header, decoded.pixels, decoded.info, decoded.seconds)
        )
        out.progress.emit(run.job_id, 1, 1, "")


@dataclass(frozen=True)
class DownloadJob:
    """Load (downloading where needed) every model of `source`; `sourceReady` says when all are in memory."""

    source: WeightSource
    qualities: tuple[int, ...] | None = None
    kind: ClassVar[str] = "download"
    lane: ClassVar[str] = "weights"
    title: ClassVar[str] = "Could not get the weights"

    def run(self, run: Running, out: JobSignals) -> None:
        """Official files first (missing ones before cached ones, so an offline try fails at once), as one
        progress over all files and bytes; then every model loaded, so `sourceReady` means usable."""
        source = self.source
        qualities = tuple(self.qualities or source.qualities())
        out.jobStarted.emit(run.job_id, "download", len(qualities))
        if isinstance(source, CompressAISource):
            _fetch_files(out, run, source, qualities)
        for done, quality in enumerate(qualities):
            if run.cancel():
                raise CancelledError()
            out.progress.emit(run.job_id, done, len(qualities), f"checking and loading quality {quality} weights")
            source.load(quality, cancel=run.cancel)
        out.progress.emit(run.job_id, len(qualities), len(qualities), "")
        out.sourceReady.emit(run.job_id, source)


@dataclass(frozen=True)
class ClassicalJob:
    """`codec` (a classical codec) at the setting whose file is nearest `target_bytes` (quality `quality`'s
    size), as a point that carries its bytes, and the picture they decode to (decoded here, not on the GUI
    thread): the split view and the grid's column show it."""

    image: RgbImage
    codec: str
    target_bytes: int
    quality: int
    kind: ClassVar[str] = "classical"
    lane: ClassVar[str] = "classical"
    title: ClassVar[str] = "Could not encode the classical picture"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, "classical", 1)
        point = baselines_mod.at_size(self.image.pixels, self.codec, self.target_bytes, cancel=run.cancel)
        pixels = baselines_mod.decode_classical(point.data)
        out.classicalReady.emit(run.job_id, (self.quality, point, pixels))


@dataclass(frozen=True, eq=False)
class DetailJob:
    """Where the lowest and highest qualities (`low`, `high`, reconstructions of `original`) differ most: the
    grid opens zoomed there. A quarter of a second on a big picture, so not on the GUI thread; after the
    ladder in the codec thread (its lane "detail" waits for nothing else there)."""

    original: np.ndarray
    low: np.ndarray
    high: np.ndarray
    kind: ClassVar[str] = "detail"
    lane: ClassVar[str] = "detail"
    title: ClassVar[str] = "Could not find the telling detail"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, "detail", 1)
        out.detailFound.emit(run.job_id, telling_detail(self.original, self.low, self.high))


@dataclass(frozen=True, eq=False)
class DifferenceJob:
    """The split view's difference of `a` and `b` at `gain` (None: the auto gain), with its legend's numbers:
    a second on a 12 MP picture, so not on the GUI thread. Its lane "difference" runs in the classical thread
    (someone waits for it: not behind the ladder) and cancels the one before, so quick toggles don't pile up."""

    a: np.ndarray
    b: np.ndarray
    gain: float | None = None
    kind: ClassVar[str] = "difference"
    lane: ClassVar[str] = "difference"
    title: ClassVar[str] = "Could not show the difference"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, "difference", 1)
        out.differenceReady.emit(run.job_id, difference(self.a, self.b, self.gain, cancel=run.cancel))


@dataclass(frozen=True)
class WriteJob:
    """An export's file written by `write(path)` (atomically, the writer's rule): compressing a PNG takes the
    GUI thread too long (a 1200-px plot 0.1 s, a 24 MP reconstruction seconds). Runs in the classical
    thread (someone waits for it: not behind the ladder, not niced); no other job cancels it."""

    path: Path
    write: Callable[[Path], object] = field(compare=False)
    kind: ClassVar[str] = "write"
    lane: ClassVar[str] = "write"
    title: ClassVar[str] = "Could not save"

    def run(self, run: Running, out: JobSignals) -> None:
        out.jobStarted.emit(run.job_id, "write", 1)
        self.write(self.path)


def _megapixels(picture) -> str:
    """"25.2 MP": the size a big picture's progress text names (anything with width and height)."""
    return f"{picture.width * picture.height / 1e6:.1f} MP"


class _ProgressLoader:
    """A weight source as `encode_ladder` sees it, loading with progress and cancel hooks (downloads)."""

    def __init__(self, source, cancel: Callable[[], bool], report: Callable[[int, int, int | None], None]):
        self._source, self._cancel, self._report = source, cancel, report

    def qualities(self) -> list[int]:
        return self._source.qualities()

    def load(self, quality: int) -> LoadedModel:
        return self._source.load(
            quality, progress=lambda done, total: self._report(quality, done, total), cancel=self._cancel
        )


def _download_reporter(out: JobSignals, run: Running, done_before: Callable[[], int], total_steps: int):
    """A download's progress inside a ladder: the step it belongs to, the file's MB (the last always shown)."""
    now: list[tuple[int, int, int | None]] = []

    def show() -> None:
        quality, received, total = now[-1]
        size = f"{received / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{received / 1e6:.1f} MB"
        out.progress.emit(run.job_id, done_before(), total_steps, f"downloading q{quality} weights ({size})")

    throttle = _Throttle(show)

    def report(quality: int, received: int, total: int | None) -> None:
        now[:] = [(quality, received, total)]
        throttle(at_once=total is not None and received >= total)

    return report


def _fetch_files(out: JobSignals, run: Running, source: CompressAISource, qualities: tuple[int, ...]) -> None:
    missing = source.missing(qualities)
    tally = FetchTally({q: source.expected_size(q) for q in missing})

    def show() -> None:  # in kB: a progress value is an int
        text = f"downloading {source.describe()}: {tally.text()}"
        out.progress.emit(run.job_id, tally.received // 1000, max(1, tally.total // 1000), text)

    throttle = _Throttle(show)
    try:
        for quality in missing + [q for q in qualities if q not in missing]:
            if run.cancel():
                raise CancelledError()

            def progress(received: int, total: int | None, quality: int = quality) -> None:
                tally.update(quality, received, total)
                throttle()

            source.fetch(quality, progress=progress, cancel=run.cancel)
            tally.finish(quality)
            if tally.files:  # a cached file that checked out is no download to show
                throttle(at_once=True)
    finally:
        throttle.close()


class _Throttle:
    """Calls `show` at most every `interval` seconds, and once more after a call it skipped: the newest
    state always reaches the window, also when updates stop (a stalled download used to show the
    figure of up to 0.1 s before the stall, "0.0 of 7.2 MB" with 2.4 MB in, for the whole timeout)."""

    def __init__(self, show: Callable[[], None], interval: float = _PROGRESS_INTERVAL) -> None:
        self._show, self._interval = show, interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._timer: threading.Timer | None = None
        self._closed = False

    def __call__(self, at_once: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            wait = self._last + self._interval - time.monotonic()
            if wait <= 0 or at_once:
                self._fire()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._late)
                self._timer.daemon = True
                self._timer.start()

    def _late(self) -> None:
        with self._lock:
            self._timer = None
            if not self._closed:
                self._fire()

    def _fire(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._last = time.monotonic()
        self._show()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
