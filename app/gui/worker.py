"""One long-lived background worker for everything slow: reading a picture, the quality ladder, `.lci`
decoding, weight downloads.

`CodecWorker` is the GUI-side handle (it lives in the GUI thread); the jobs run in a private
QObject moved to a QThread, one at a time, in the order they were started. The worker never
imports a widget and never does codec math itself: it calls `lci_studio.codec`.

A job is one dataclass per kind (`LoadJob`, `LadderJob`, `DecodeJob`, `DownloadJob`) handed to
`start(job)`, which returns its id. Jobs belong to a lane ("view": load, ladder and decode;
"weights": downloads);
starting a job cancels the earlier jobs of its lane. Cancellation is cooperative (checked between
qualities, between classical-codec points, and between download blocks), and anything a cancelled
or superseded job still emits is dropped here, before it reaches a widget.

Signals (all delivered in the GUI thread, only for jobs that are still current):
    jobStarted(id, kind, total)      kind: "load" | "ladder" | "decode" | "download"
    progress(id, done, total, text)  done/total steps and what is happening now
    imageLoaded(id, LoadedImage)     a picture read and converted to 8-bit RGB, with its size basis
    resultReady(id, QualityResult)   one quality, the moment it is measured
    baselinesReady(id, list)         classical-codec points so far (grows codec by codec)
    lciDecoded(id, DecodedLci)
    sourceReady(id, WeightSource)    a download job finished: every model of the source is loaded
    failed(id, title, message)       an exception in the job, as one readable sentence
    jobFinished(id, outcome)         "done" | "cancelled" | "failed" (always the last signal of a job)
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lci_studio.codec import baselines as baselines_mod
from lci_studio.codec import image_io
from lci_studio.codec.decoding import candidate_sources, decode_file
from lci_studio.codec.image_io import ImageReadError, RgbImage
from lci_studio.codec.ladder import CancelledError, QualityResult, encode_ladder
from lci_studio.codec.lci_format import LciFormatError
from lci_studio.codec.model import LoadedModel
from lci_studio.codec.pipeline import WeightsMismatchError, read_header
from lci_studio.codec.weights import (
    DownloadCancelledError,
    DownloadFailedError,
    MetricNotBundledError,
    NoBundledWeightsError,
    WeightsError,
    WeightSource,
    open_weight_source,
)
from lci_studio.gui.qimage import from_qimage
from lci_studio.session import DecodedLci, SizeBasis
from PySide6.QtCore import QObject, QThread, Signal, Slot
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

_PROGRESS_INTERVAL = 0.1  # seconds between download-progress signals


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
    """Encode → bytes → decode → measure `image` at every quality of `source`, then the classical codecs."""

    image: RgbImage
    source: WeightSource
    qualities: tuple[int, ...] | None = None
    baselines: bool = True
    kind: ClassVar[str] = "ladder"
    lane: ClassVar[str] = "view"
    title: ClassVar[str] = "Could not compress the image"


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


Job = LoadJob | LadderJob | DecodeJob | DownloadJob


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


def readable(exc: BaseException) -> str:
    """One sentence for a dialog: the codec's own errors already are (with what to do in this window's
    terms); anything else gets its type."""
    known = isinstance(exc, (ImageReadError, LciFormatError, WeightsMismatchError, WeightsError))
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
    progress = Signal(int, int, int, str)
    resultReady = Signal(int, object)
    baselinesReady = Signal(int, object)
    lciDecoded = Signal(int, object)
    imageLoaded = Signal(int, object)
    sourceReady = Signal(int, object)
    failed = Signal(int, str, str)
    jobFinished = Signal(int, str)


class _Runner(_JobSignals):
    """Lives in the worker thread and runs one job at a time; emits raw (unfiltered) signals."""

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
                if not isinstance(exc, (ImageReadError, LciFormatError, WeightsMismatchError, WeightsError)):
                    log.warning("%s job %d failed:\n%s", job.kind, run.job_id, traceback.format_exc())
                self.failed.emit(run.job_id, job.title, readable(exc))
        self.jobFinished.emit(run.job_id, outcome)

    # ------------------------------------------------------------------------------------------ jobs

    def _download_reporter(self, run: _Running, done_before: Callable[[], int], total_steps: int):
        last = [0.0]

        def report(quality: int, received: int, total: int | None) -> None:
            now = time.monotonic()
            if now - last[0] < _PROGRESS_INTERVAL and (total is None or received < total):
                return
            last[0] = now
            size = f"{received / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{received / 1e6:.1f} MB"
            self.progress.emit(run.job_id, done_before(), total_steps, f"downloading q{quality} weights ({size})")

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
        results = []
        for result in encode_ladder(job.image, loader, qualities, run.cancel):
            done[0] += 1
            results.append(result)
            self.resultReady.emit(run.job_id, result)
            self.progress.emit(run.job_id, done[0], total, "")
        if not job.baselines:
            return
        # the same sweep as `lci compare`, so the window's exports and the command line's agree
        low = min((r.bpp for r in results), default=None)
        high = max((r.bpp for r in results), default=None)
        points: list = []
        for codec in baselines_mod.available_codecs():
            self.progress.emit(run.job_id, total, total, f"{codec} for comparison")
            points += baselines_mod.sweep(job.image.pixels, codec, low, high, cancel=run.cancel)
            self.baselinesReady.emit(run.job_id, list(points))

    def _decode(self, run: _Running, job: DecodeJob) -> None:
        self.jobStarted.emit(run.job_id, "decode", 1)
        header = read_header(job.data)
        self.progress.emit(run.job_id, 0, 1, f"decoding {job.name}")
        candidates = candidate_sources(header, [s for s in job.sources if s is not None])
        decoded = decode_file(job.data, candidates, cancel=run.cancel, name=job.name)
        self.lciDecoded.emit(
            run.job_id, DecodedLci(job.name, job.data, header, decoded.pixels, decoded.info, decoded.seconds)
        )
        self.progress.emit(run.job_id, 1, 1, "")

    def _download(self, run: _Running, job: DownloadJob) -> None:
        qualities = tuple(job.qualities or job.source.qualities())
        total = len(qualities)
        done = [0]
        self.jobStarted.emit(run.job_id, "download", total)
        report = self._download_reporter(run, lambda: done[0], total)
        for quality in qualities:
            if run.cancel():
                raise CancelledError()
            self.progress.emit(run.job_id, done[0], total, f"loading quality {quality} weights")
            job.source.load(quality, progress=lambda r, t, q=quality: report(q, r, t), cancel=run.cancel)
            done[0] += 1
            self.progress.emit(run.job_id, done[0], total, "")
        self.sourceReady.emit(run.job_id, job.source)


class CodecWorker(_JobSignals):
    """The GUI-side handle of the background worker; see the module docstring for the signals."""

    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()
        self._lanes: dict[int, str] = {}  # lane of each job started and not yet finished
        self._sources: dict[tuple[str, str], object] = {}  # (spec, metric) → WeightSource, models memoized inside
        self._thread = QThread()
        self._thread.setObjectName("lci-codec-worker")
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self._submit.connect(self._runner.run)
        relayed = ("jobStarted", "progress", "resultReady", "baselinesReady", "lciDecoded", "imageLoaded")
        for name in (*relayed, "sourceReady", "failed"):
            getattr(self._runner, name).connect(getattr(self, f"_relay_{name}"))
        self._runner.jobFinished.connect(self._on_finished)
        self._thread.start()

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
            self._cancelled.update(j for j, lane in self._lanes.items() if lane == job.lane)
            self._lanes[job_id] = job.lane
        self._submit.emit(_Running(job_id, job, cancel=lambda: self._is_cancelled(job_id)))
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Ask a job (or every job) to stop at its next check; its later signals are dropped."""
        with self._lock:
            self._cancelled.update(self._lanes if job_id is None else [job_id])

    def is_current(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._lanes and job_id not in self._cancelled

    def busy(self) -> bool:
        with self._lock:
            return bool(self._lanes)

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and stop the thread; True when it stopped within the timeout."""
        self.cancel()
        self._thread.quit()
        return self._thread.wait(timeout_ms)

    # -------------------------------------------------------------------------------------- internals

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

    @Slot(int, int, int, str)
    def _relay_progress(self, job_id: int, done: int, total: int, text: str) -> None:
        self._relay("progress", job_id, done, total, text)

    @Slot(int, object)
    def _relay_resultReady(self, job_id: int, result: QualityResult) -> None:
        self._relay("resultReady", job_id, result)

    @Slot(int, object)
    def _relay_baselinesReady(self, job_id: int, points: list) -> None:
        self._relay("baselinesReady", job_id, points)

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
