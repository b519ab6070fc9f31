"""The long-lived background worker for everything slow: reading a picture, the quality ladder, `.lci`
decoding, weight downloads, and the analysis beside the ladder (classical codecs, MS-SSIM).

`CodecWorker` is the GUI-side handle (it lives in the GUI thread); the jobs run in private
QObjects moved to two QThreads, one at a time each, in the order they were started: the codec
thread (load, ladder, decode, download) and a low-priority analysis thread (`AnalysisJob`), so
the classical codecs' points and MS-SSIM come while the ladder runs without delaying its next tile.
On Linux the analysis thread is niced (+10), so on a busy machine the ladder keeps the cores.
The worker never imports a widget and never does codec math itself: it calls `lci_studio.codec`.

A job is one dataclass per kind (`LoadJob`, `LadderJob`, `AnalysisJob`, `DecodeJob`,
`DownloadJob`) handed to `start(job)`, which returns its id. Jobs belong to a lane ("view": load,
ladder and decode; "analysis"; "weights": downloads); starting a job cancels the earlier jobs of
its lane, and a "view" job also those of "analysis" (they belong to the picture it replaces).
Cancellation is cooperative: the job's check reaches inside the codec (between tiles, transform
layers, entropy-coded channels and MS-SSIM bands), classical-codec points and download blocks;
anything a cancelled or superseded job still emits is dropped here, before it reaches a widget.
`shutdown` waits only a bounded time: one torch layer can't be interrupted, and the window must
close promptly anyway (see `running`).

Signals (all delivered in the GUI thread, only for jobs that are still current):
    jobStarted(id, kind, total)      kind: "load" | "ladder" | "analysis" | "decode" | "download"
    progress(id, done, total, text)  done/total steps and what is happening now; `done` is a float, fractional
                                     while a big picture's step goes tile by tile (its share of tiles done)
    imageLoaded(id, LoadedImage)     a picture read and converted to 8-bit RGB, with its size basis
    resultReady(id, QualityResult)   one quality, the moment its picture exists (ladder), again with its
                                     MS-SSIM (analysis)
    baselinesReady(id, list)         classical-codec points so far (grows point by point)
    classicalReady(id, (q, point))   a classical codec at quality q's file size, with its bytes
    lciDecoded(id, DecodedLci)
    sourceReady(id, WeightSource)    a download job finished: every file checked, every model loaded
    failed(id, title, message)       an exception in the job, as one readable sentence
    jobFinished(id, outcome)         "done" | "cancelled" | "failed" (always the last signal of a job)
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

from lci_studio.codec import baselines as baselines_mod
from lci_studio.codec import image_io
from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.decoding import candidate_sources, decode_file
from lci_studio.codec.errors import USER_ERRORS
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import CancelledError, QualityResult, encode_ladder, with_metrics
from lci_studio.codec.metrics import METRICS, missing
from lci_studio.codec.model import LoadedModel
from lci_studio.codec.pipeline import WeightsMismatchError, read_header
from lci_studio.codec.weights import (
    CompressAISource,
    DownloadCancelledError,
    DownloadFailedError,
    FetchTally,
    MetricNotBundledError,
    NoBundledWeightsError,
    WeightSource,
    open_weight_source,
)
from lci_studio.gui.qimage import from_qimage
from lci_studio.session import DecodedLci, SizeBasis

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL = 0.1  # seconds between download-progress signals
SHUTDOWN_WAIT_MS = 1000  # how long closing the window waits for the cancelled jobs (then leaves without them)
_STILL_RUNNING: list[tuple[list, list]] = []  # threads (and runners) whose shutdown timed out
ANALYSIS_NICE = 10  # how much lower the analysis thread runs than the codec thread (Linux)


class LadderFeed:
    """The ladder's results as they come, shared by the ladder job (writes) and the analysis job (reads).

    Thread-safe; `close` says no more will come (done, cancelled or failed alike).
    """

    def __init__(self, results: list[QualityResult] | None = None, closed: bool = False) -> None:
        self._changed = threading.Condition()
        self._results: list[QualityResult] = list(results or [])
        self._closed = closed

    def put(self, result: QualityResult) -> None:
        with self._changed:
            self._results.append(result)
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def snapshot(self) -> tuple[list[QualityResult], bool]:
        """(the results so far, whether the ladder has ended)."""
        with self._changed:
            return list(self._results), self._closed

    def wait(self, timeout: float) -> None:
        """Sleep until something changes or `timeout` seconds pass."""
        with self._changed:
            if not self._closed:
                self._changed.wait(timeout)


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


@dataclass(frozen=True)
class DecodeJob:
    """Decode `.lci` bytes with the weights the header names, found among `sources` (decoding's rule)."""

    data: bytes
    name: str
    sources: tuple[WeightSource, ...] = ()
    kind: ClassVar[str] = "decode"
    lane: ClassVar[str] = "view"
    title: ClassVar[str] = "Could not open the .lci file"


@dataclass(frozen=True)
class DownloadJob:
    """Load (downloading where needed) every model of `source`; `sourceReady` says when all are in memory."""

    source: WeightSource
    qualities: tuple[int, ...] | None = None
    kind: ClassVar[str] = "download"
    lane: ClassVar[str] = "weights"
    title: ClassVar[str] = "Could not get the weights"


@dataclass(frozen=True)
class ClassicalJob:
    """`codec` (a classical codec) at the setting whose file is nearest `target_bytes` (quality `quality`'s
    size), as a point that carries its bytes: the split view shows it as a picture."""

    image: RgbImage
    codec: str
    target_bytes: int
    quality: int
    kind: ClassVar[str] = "classical"
    lane: ClassVar[str] = "classical"
    title: ClassVar[str] = "Could not encode the classical picture"


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


Job = LoadJob | LadderJob | AnalysisJob | ClassicalJob | DecodeJob | DownloadJob | WriteJob
# starting a job of one lane cancels the running jobs of these lanes
_CANCELS = {
    "view": ("view", "analysis", "classical"),
    "analysis": ("analysis",),
    "classical": ("classical",),
    "weights": ("weights",),
    "write": (),
}


@dataclass(frozen=True)
class LoadedImage:
    """What a LoadJob gives the window: the pixels, the file they came from, and what ratios compare with."""

    image: RgbImage
    path: Path | None
    basis: SizeBasis


@dataclass(frozen=True)
class _Running:
    """A job on its way through the worker thread, with its id and its cancel check."""

    job_id: int
    job: Job
    cancel: Callable[[], bool]


def _megapixels(picture) -> str:
    """"25.2 MP": the size a big picture's progress text names (anything with width and height)."""
    return f"{picture.width * picture.height / 1e6:.1f} MP"


def readable(exc: BaseException) -> str:
    """One sentence for a dialog: the codec's own errors already are (with what to do in this window's
    terms); anything else gets its type."""
    known = isinstance(exc, USER_ERRORS)
    text = str(exc) if known else f"{type(exc).__name__}: {exc}"
    text = text.strip() or type(exc).__name__
    if isinstance(exc, NoBundledWeightsError):
        text = f"{text.rstrip('.')}; choose CompressAI's official weights or a folder of checkpoints in Settings."
    elif isinstance(exc, MetricNotBundledError):
        text = f"{text.rstrip('.')}; choose CompressAI's official weights for {exc.metric} in Settings."
    elif isinstance(exc, DownloadFailedError):
        text = f"{text.rstrip('.')}, or choose the bundled weights in Settings."
    elif isinstance(exc, WeightsMismatchError) and exc.header is not None:
        text = f"{text}; choose the weights it was made with in Settings"
    first = text.split(" ", 1)[0]
    # "the .lci file is corrupt" → "The .lci file…"; file names ("q4.pth.tar …") stay as they are
    return text[0].upper() + text[1:] if first.isalpha() and first.islower() else text


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


class _JobSignals(QObject):
    """The job signals of the module docstring, shared by the runner (raw) and the handle (filtered)."""

    jobStarted = Signal(int, str, int)
    progress = Signal(int, float, int, str)
    resultReady = Signal(int, object)
    baselinesReady = Signal(int, object)
    classicalReady = Signal(int, object)
    lciDecoded = Signal(int, object)
    imageLoaded = Signal(int, object)
    sourceReady = Signal(int, object)
    failed = Signal(int, str, str)
    jobFinished = Signal(int, str)


class _Runner(_JobSignals):
    """Lives in a worker thread and runs one job at a time; emits raw (unfiltered) signals."""

    lowered = Signal()  # lower this runner's thread priority (emitted once, handled in the thread)

    def __init__(self) -> None:
        super().__init__()
        self.lowered.connect(self._lower_priority)

    @Slot()
    def _lower_priority(self) -> None:
        lower_thread_priority()

    @Slot(object)
    def run(self, run: _Running) -> None:
        outcome = "done"
        job = run.job
        try:
            if run.cancel():
                raise CancelledError()
            getattr(self, f"_{job.kind}")(run, job)
        except CancelledError:
            outcome = "cancelled"
        except Exception as exc:
            if isinstance(exc, DownloadCancelledError) or run.cancel():
                outcome = "cancelled"
            else:
                outcome = "failed"
                if not isinstance(exc, USER_ERRORS):
                    log.warning("%s job %d failed:\n%s", job.kind, run.job_id, traceback.format_exc())
                self.failed.emit(run.job_id, job.title, readable(exc))
        self.jobFinished.emit(run.job_id, outcome)

    # ------------------------------------------------------------------------------------------ jobs

    def _download_reporter(self, run: _Running, done_before: Callable[[], int], total_steps: int):
        """A download's progress inside a ladder: the step it belongs to, the file's MB (the last always shown)."""
        now: list[tuple[int, int, int | None]] = []

        def show() -> None:
            quality, received, total = now[-1]
            size = f"{received / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{received / 1e6:.1f} MB"
            self.progress.emit(run.job_id, done_before(), total_steps, f"downloading q{quality} weights ({size})")

        throttle = _Throttle(show)

        def report(quality: int, received: int, total: int | None) -> None:
            now[:] = [(quality, received, total)]
            throttle(at_once=total is not None and received >= total)

        return report

    def _load(self, run: _Running, job: LoadJob) -> None:
        name = job.path.name if job.path is not None else job.name
        self.jobStarted.emit(run.job_id, "load", 1)
        self.progress.emit(run.job_id, 0, 1, f"opening {name}")
        if job.path is not None:
            image = image_io.load_rgb(job.path)
            basis = SizeBasis.of(image, job.path)
        else:
            image = from_qimage(job.qimage if job.qimage is not None else QImage(), job.name)
            basis = SizeBasis.of(image)  # the name says pasted or dropped; the caption says "no file"
        if run.cancel():
            raise CancelledError()
        self.imageLoaded.emit(run.job_id, LoadedImage(image, job.path, basis))
        self.progress.emit(run.job_id, 1, 1, "")

    def _ladder(self, run: _Running, job: LadderJob) -> None:
        qualities = tuple(job.qualities or job.source.qualities())
        total = len(qualities)
        done = [0]
        self.jobStarted.emit(run.job_id, "ladder", total)
        self.progress.emit(run.job_id, 0, total, "")
        loader = _ProgressLoader(job.source, run.cancel, self._download_reporter(run, lambda: done[0], total))
        image = job.image
        tiles = None
        if image_io.is_large(image.width, image.height):  # a quality takes a while: say how far it is

            def tiles(quality: int, stage: str, tile: int, count: int) -> None:
                where = f"q{quality} {stage}, tile {min(tile + 1, count)} of {count}"
                part = ((stage == "decode") + tile / max(count, 1)) / 2  # encode's tiles, then decode's
                self.progress.emit(run.job_id, done[0] + part, total, f"{_megapixels(image)} picture: {where}")

        try:
            for result in encode_ladder(image, loader, qualities, run.cancel, on_demand=job.on_demand, progress=tiles):
                done[0] += 1
                if job.feed is not None:
                    job.feed.put(result)
                self.resultReady.emit(run.job_id, result)
                self.progress.emit(run.job_id, done[0], total, "")
        finally:
            if job.feed is not None:
                job.feed.close()

    def _classical(self, run: _Running, job: ClassicalJob) -> None:
        self.jobStarted.emit(run.job_id, "classical", 1)
        point = baselines_mod.at_size(job.image.pixels, job.codec, job.target_bytes, cancel=run.cancel)
        self.classicalReady.emit(run.job_id, (job.quality, point))

    def _write(self, run: _Running, job: WriteJob) -> None:
        self.jobStarted.emit(run.job_id, "write", 1)
        job.write(job.path)

    def _analysis(self, run: _Running, job: AnalysisJob) -> None:
        _Analysis(self, run, job).run()

    def _decode(self, run: _Running, job: DecodeJob) -> None:
        self.jobStarted.emit(run.job_id, "decode", 1)
        header = read_header(job.data)
        self.progress.emit(run.job_id, 0, 1, f"decoding {job.name}")
        candidates = candidate_sources(header, [s for s in job.sources if s is not None])
        tiles = None
        if image_io.is_large(header.width, header.height):

            def tiles(tile: int, count: int) -> None:
                where = f"{_megapixels(header)}: tile {min(tile + 1, count)} of {count}"
                self.progress.emit(run.job_id, tile / max(count, 1), 1, f"decoding {job.name}, {where}")

        decoded = decode_file(job.data, candidates, cancel=run.cancel, name=job.name, progress=tiles)
        self.lciDecoded.emit(
            run.job_id, DecodedLci(job.name, job.data, header, decoded.pixels, decoded.info, decoded.seconds)
        )
        self.progress.emit(run.job_id, 1, 1, "")

    def _download(self, run: _Running, job: DownloadJob) -> None:
        """Official files first (missing ones before cached ones, so an offline try fails at once), as one
        progress over all files and bytes; then every model loaded, so `sourceReady` means usable."""
        source = job.source
        qualities = tuple(job.qualities or source.qualities())
        self.jobStarted.emit(run.job_id, "download", len(qualities))
        if isinstance(source, CompressAISource):
            self._fetch_files(run, source, qualities)
        for done, quality in enumerate(qualities):
            if run.cancel():
                raise CancelledError()
            self.progress.emit(run.job_id, done, len(qualities), f"checking and loading quality {quality} weights")
            source.load(quality, cancel=run.cancel)
        self.progress.emit(run.job_id, len(qualities), len(qualities), "")
        self.sourceReady.emit(run.job_id, source)

    def _fetch_files(self, run: _Running, source: CompressAISource, qualities: tuple[int, ...]) -> None:
        missing = source.missing(qualities)
        tally = FetchTally({q: source.expected_size(q) for q in missing})

        def show() -> None:  # in kB: a progress value is an int
            text = f"downloading {source.describe()}: {tally.text()}"
            self.progress.emit(run.job_id, tally.received // 1000, max(1, tally.total // 1000), text)

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


def lower_thread_priority(nice: int = ANALYSIS_NICE) -> None:
    """Lower the calling thread's CPU priority; threads it starts later (torch's, libavif's) inherit it.

    Linux schedules threads by their own nice value (setpriority on the thread id); elsewhere
    the calling QThread's priority is lowered instead.
    """
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            return
        except OSError:
            pass
    thread = QThread.currentThread()
    if thread is not None:
        thread.setPriority(QThread.Priority.LowPriority)


def _names(keys: tuple[str, ...]) -> str:
    """Metrics as the meter names them ("MS-SSIM and PSNR-YUV")."""
    return " and ".join(METRICS[key].name for key in keys)


class _Analysis:
    """One AnalysisJob: the wanted metrics first, then the next classical point; see AnalysisJob."""

    _WAIT = 0.05  # seconds between looks at a ladder that is still running

    def __init__(self, signals: _JobSignals, run: _Running, job: AnalysisJob) -> None:
        self.signals, self.run_, self.job = signals, run, job
        self.pixels = job.image.pixels
        self.plan = baselines_mod.SweepPlan(job.codecs)  # the CLI's rule: which settings, in what order
        self.given = [p for p in job.points if p.codec not in self.plan.codecs]
        for point in job.points:  # a stopped sweep resumed: what it measured is not measured again
            if point.codec in self.plan.codecs:
                self.plan.add(point)
        self.counted: set[str] = set()  # codecs the meter has counted as done
        self.measured: dict[int, QualityResult] = {}  # the latest result sent out per quality, with its metrics
        self.done = 0
        # the meter counts codecs; a job with none (a metric shown later) counts what it measures
        results, _ = job.feed.snapshot()
        wanted = job.wanted_metrics()
        lacking = sum(bool(missing(r.metrics, wanted)) for r in results)
        self.total = len(job.codecs) or lacking + sum(bool(missing(p.metrics, wanted)) for p in job.points)

    def _progress(self, text: str) -> None:
        self.signals.progress.emit(self.run_.job_id, self.done, self.total, text)

    def run(self) -> None:
        run, job = self.run_, self.job
        self.signals.jobStarted.emit(run.job_id, "analysis", self.total)
        while True:
            if run.cancel():
                raise CancelledError()
            if self._serve_metrics():
                continue
            work = self._next_point()
            if work == "wait":
                self.job.feed.wait(self._WAIT)
                continue
            if work is None:
                _, closed = self.job.feed.snapshot()
                if closed:
                    return
                self.job.feed.wait(self._WAIT)  # the ladder may still bring results to measure
                continue
            codec, setting = work
            self._progress(f"{codec} for comparison")
            self.plan.add(baselines_mod.baseline_point(self.pixels, codec, setting, on_demand=job.wanted_metrics()))
            self._emit_points()
            self._count_complete()

    def _count_complete(self) -> None:
        for codec in self.plan.codecs:
            if codec not in self.counted and self.plan.complete(codec):
                self.counted.add(codec)
                self.done += 1
                self._progress("")

    def _next_point(self) -> tuple[str, int] | str | None:
        """(codec, setting) to measure next; "wait" for the ladder's range; None when all are in.

        A codec's extras are decided once the ladder is done (its bpp range is final); until then the
        other codecs' settings go on. Codec by codec, so a decided codec's extras come before the
        settings of the codecs after it.
        """
        plan = self.plan
        results, closed = self.job.feed.snapshot()
        if not results and not closed and plan.codecs:
            return "wait"  # the first tile first: on two cores anything beside it delays it
        bpps = [r.bpp for r in results]
        for codec in plan.codecs:
            if closed and plan.settled(codec) and plan.undecided(codec):
                plan.decide(codec, min(bpps, default=None), max(bpps, default=None))
                self._count_complete()
            setting = plan.next_setting(codec)
            if setting is not None:
                return codec, setting
        return "wait" if any(plan.undecided(c) for c in plan.codecs) else None

    def _serve_metrics(self) -> bool:
        """Measure the wanted metrics of one result or point that lacks them (ladder results before points);
        False: none missing."""
        wanted = self.job.wanted_metrics()
        if not wanted:
            return False
        run = self.run_
        results, _ = self.job.feed.snapshot()
        for result in results:
            result = self.measured.get(result.quality, result)
            lacking = missing(result.metrics, wanted)
            if lacking:
                self._progress(f"{_names(lacking)} of quality {result.quality}")
                measured = with_metrics(result, self.pixels, wanted, run.cancel)
                self.measured[result.quality] = measured
                self.signals.resultReady.emit(run.job_id, measured)
                self._count_measured()
                return True
        for i, point in enumerate(self._points()):
            lacking = missing(point.metrics, wanted)
            if lacking and point.data:
                self._progress(f"{_names(lacking)} of {point.codec}")
                measured = baselines_mod.with_metrics(self.pixels, point, wanted, run.cancel)
                if i < len(self.given):
                    self.given[i] = measured
                else:
                    self.plan.add(measured)  # in its place
                self._emit_points()
                self._count_measured()
                return True
        return False

    def _count_measured(self) -> None:
        if not self.job.codecs:
            self.done += 1
            self._progress("")

    def _points(self) -> list[BaselinePoint]:
        """The points given to the job, then each codec's sweep so far, in sweep order."""
        return self.given + [p for codec in self.plan.codecs for p in self.plan.points(codec)]

    def _emit_points(self) -> None:
        self.signals.baselinesReady.emit(self.run_.job_id, self._points())


class CodecWorker(_JobSignals):
    """The GUI-side handle of the background worker; see the module docstring for the signals."""

    _submit = Signal(object)
    _submit_analysis = Signal(object)
    _submit_classical = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()
        self._lanes: dict[int, str] = {}  # lane of each job started and not yet finished
        self._sources: dict[tuple[str, str], object] = {}  # (spec, metric) → WeightSource, models memoized inside
        self._threads: list[QThread] = []
        self._runner = self._runner_in_thread("lci-codec-worker", self._submit)
        self._analysis_runner = self._runner_in_thread("lci-analysis", self._submit_analysis)
        self._analysis_runner.lowered.emit()  # queued: runs in its thread, whose later threads inherit it
        # a classical codec as a picture: someone is waiting for it, so neither behind the ladder nor niced
        self._classical_runner = self._runner_in_thread("lci-classical", self._submit_classical)

    # ------------------------------------------------------------------------------------- public API

    def source(self, spec: str, metric: str = "mse", opener: Callable = open_weight_source):
        """The weight source for a Settings choice, opened once and kept (its loaded models stay in memory).

        Opening is cheap (nothing is loaded or downloaded); raises WeightsError when the choice is unusable.
        """
        key = (spec if spec in ("bundled", "compressai") else str(Path(spec).expanduser().resolve()), metric)
        source = self._sources.get(key)
        if source is None:
            source = opener(spec, metric)
            self._sources[key] = source
        return source

    def keep_source(self, source) -> None:
        """Hold a source made elsewhere (e.g. from the command line) beside the ones opened here."""
        label = "compressai" if source.kind == "compressai" else getattr(source, "label", str(id(source)))
        self._sources.setdefault((label, source.metric), source)

    def start(self, job: Job) -> int:
        """Queue `job` (cancelling the earlier jobs of its lane); returns its id, which every signal carries."""
        job_id = next(self._ids)
        with self._lock:
            self._cancelled.update(j for j, lane in self._lanes.items() if lane in _CANCELS[job.lane])
            self._lanes[job_id] = job.lane
        threads = {  # an export's write goes beside the classical encodes: someone waits for both
            "analysis": self._submit_analysis, "classical": self._submit_classical, "write": self._submit_classical
        }  # fmt: skip
        submit = threads.get(job.lane, self._submit)
        submit.emit(_Running(job_id, job, cancel=lambda: self._is_cancelled(job_id)))
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Ask a job (or every job) to stop at its next check; its later signals are dropped."""
        with self._lock:
            self._cancelled.update(self._lanes if job_id is None else [job_id])

    def is_current(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._lanes and job_id not in self._cancelled

    def busy(self, lane: str | None = None) -> bool:
        """A job runs (of `lane`, when given)."""
        with self._lock:
            return any(lane is None or job_lane == lane for job_lane in self._lanes.values())

    def shutdown(self, timeout_ms: int = SHUTDOWN_WAIT_MS) -> bool:
        """Cancel everything and stop the threads; True when they stopped within the timeout (all together).

        The wait is short because it freezes the window: a cancelled job ends at its next check, but
        a torch layer on a big tile can run for seconds before that. When this returns False the
        threads end on their own; until they have, `running` is True and the process must not tear
        them down (they are kept referenced here: Qt aborts when a running QThread is destroyed).
        """
        self.cancel()
        for thread in self._threads:
            thread.quit()
        deadline = time.monotonic() + timeout_ms / 1000
        stopped = all([thread.wait(max(0, int((deadline - time.monotonic()) * 1000))) for thread in self._threads])
        if not stopped:
            _STILL_RUNNING.append((list(self._threads), [self._runner, self._analysis_runner, self._classical_runner]))
        return stopped

    def running(self) -> bool:
        """A worker thread still runs (after a `shutdown` that timed out: a job not yet at a check).

        Python destroying a running QThread makes Qt abort the process, so `lci-studio` leaves with
        `os._exit` while this is True.
        """
        return any(thread.isRunning() for thread in self._threads)

    # -------------------------------------------------------------------------------------- internals

    def _runner_in_thread(self, name: str, submit) -> _Runner:
        thread = QThread()
        thread.setObjectName(name)
        runner = _Runner()
        runner.moveToThread(thread)
        submit.connect(runner.run)
        relayed = (
            "jobStarted", "progress", "resultReady", "baselinesReady", "classicalReady", "lciDecoded", "imageLoaded",
        )
        for signal in (*relayed, "sourceReady", "failed"):
            getattr(runner, signal).connect(getattr(self, f"_relay_{signal}"))
        runner.jobFinished.connect(self._on_finished)
        thread.start()
        self._threads.append(thread)
        return runner

    def _is_cancelled(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def _on_finished(self, job_id: int, outcome: str) -> None:
        with self._lock:
            stale = job_id in self._cancelled
            self._lanes.pop(job_id, None)
            self._cancelled.discard(job_id)
        self.jobFinished.emit(job_id, "cancelled" if stale and outcome == "done" else outcome)

    def _relay(self, name: str, job_id: int, *args) -> None:
        if self.is_current(job_id):
            getattr(self, name).emit(job_id, *args)

    @Slot(int, str, int)
    def _relay_jobStarted(self, job_id: int, kind: str, total: int) -> None:
        self._relay("jobStarted", job_id, kind, total)

    @Slot(int, float, int, str)
    def _relay_progress(self, job_id: int, done: float, total: int, text: str) -> None:
        self._relay("progress", job_id, done, total, text)

    @Slot(int, object)
    def _relay_resultReady(self, job_id: int, result: QualityResult) -> None:
        self._relay("resultReady", job_id, result)

    @Slot(int, object)
    def _relay_baselinesReady(self, job_id: int, points: list) -> None:
        self._relay("baselinesReady", job_id, points)

    @Slot(int, object)
    def _relay_classicalReady(self, job_id: int, quality_point: tuple) -> None:
        self._relay("classicalReady", job_id, quality_point)

    @Slot(int, object)
    def _relay_lciDecoded(self, job_id: int, decoded: DecodedLci) -> None:
        self._relay("lciDecoded", job_id, decoded)

    @Slot(int, object)
    def _relay_imageLoaded(self, job_id: int, loaded: LoadedImage) -> None:
        self._relay("imageLoaded", job_id, loaded)

    @Slot(int, object)
    def _relay_sourceReady(self, job_id: int, source) -> None:
        self._relay("sourceReady", job_id, source)

    @Slot(int, str, str)
    def _relay_failed(self, job_id: int, title: str, message: str) -> None:
        self._relay("failed", job_id, title, message)
