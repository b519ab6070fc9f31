"""The long-lived background worker for everything slow: its threads, its lanes, and the one handle the
window holds. The jobs themselves (one dataclass each, with its body) are in jobs.py; the analysis
beside the ladder is scheduled by analysis.py; failures are worded by error_wording.py.

`CodecWorker` is the GUI-side handle (it lives in the GUI thread); the jobs run in private
QObjects moved to three QThreads, one at a time each, in the order they were started: the codec
thread (lanes "view": load, ladder, decode; "weights": downloads; "detail"), a low-priority analysis thread
(lane "analysis"), so the classical codecs' points and MS-SSIM come while the ladder runs without
delaying its next tile, and the classical thread (lanes "classical", "difference" and "write": someone
waits for them). On Linux the analysis thread is niced (+10), so on a busy machine the ladder keeps the cores.
The worker never imports a widget and never does codec math itself: the jobs call `lci_studio.codec`.

`start(job)` returns the job's id. Starting a job cancels the earlier jobs of its lane (`_CANCELS`),
and a "view" job also those of "analysis", "classical", "detail", "refine" and "difference" (they belong to the picture
it replaces).
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
    classicalReady(id, (q, point, pixels))  a classical codec at quality q's file size, its bytes and picture
    detailFound(id, Detail)          where the lowest and highest qualities differ most
    differenceReady(id, Difference)  the split view's difference image of two pictures, with its gain and numbers
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
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from lci_studio.codec.errors import USER_ERRORS
from lci_studio.codec.ladder import CancelledError, QualityResult
from lci_studio.codec.weights import DownloadCancelledError, open_weight_source
from lci_studio.gui.error_wording import readable
from lci_studio.gui.jobs import Job, JobSignals, LoadedImage, Running
from lci_studio.session import DecodedLci

log = logging.getLogger(__name__)

SHUTDOWN_WAIT_MS = 1000  # how long closing the window waits for the cancelled jobs (then leaves without them)
_STILL_RUNNING: list[tuple[list, list]] = []  # threads (and runners) whose shutdown timed out
ANALYSIS_NICE = 10  # how much lower the analysis thread runs than the codec thread (Linux)


# starting a job of one lane cancels the running jobs of these lanes
_CANCELS = {
    "view": ("view", "analysis", "classical", "detail", "refine", "difference"),
    "refine": ("refine",),
    "analysis": ("analysis",),
    "classical": ("classical",),
    "detail": ("detail",),
    "difference": ("difference",),
    "weights": ("weights",),
    "write": (),
}


class _Runner(JobSignals):
    """Lives in a worker thread and runs one job at a time; emits raw (unfiltered) signals."""

    lowered = Signal()  # lower this runner's thread priority (emitted once, handled in the thread)

    def __init__(self) -> None:
        super().__init__()
        self.lowered.connect(self._lower_priority)

    @Slot()
    def _lower_priority(self) -> None:
        lower_thread_priority()

    @Slot(object)
    def run(self, run: Running) -> None:
        outcome = "done"
        job = run.job
        try:
            if run.cancel():
                raise CancelledError()
            job.run(run, self)
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


class CodecWorker(JobSignals):
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
        threads = {  # an export's write and the split's difference go beside the classical encodes: someone waits
            "analysis": self._submit_analysis, "classical": self._submit_classical, "write": self._submit_classical,
            "difference": self._submit_classical,
        }  # fmt: skip
        submit = threads.get(job.lane, self._submit)
        submit.emit(Running(job_id, job, cancel=lambda: self._is_cancelled(job_id)))
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
            "jobStarted", "progress", "resultReady", "baselinesReady", "classicalReady", "detailFound",
            "differenceReady", "lciDecoded", "imageLoaded",
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
    def _relay_classicalReady(self, job_id: int, classical: tuple) -> None:
        self._relay("classicalReady", job_id, classical)

    @Slot(int, object)
    def _relay_detailFound(self, job_id: int, detail: object) -> None:
        self._relay("detailFound", job_id, detail)

    @Slot(int, object)
    def _relay_differenceReady(self, job_id: int, shown: object) -> None:
        self._relay("differenceReady", job_id, shown)

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
