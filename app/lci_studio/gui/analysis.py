"""What the window measures beside the ladder, in the worker's low-priority thread: the classical
codecs' points and the on-demand metrics (MS-SSIM…) while they are shown.

`LadderFeed` hands the ladder's results over as they come; `AnalysisScheduler` runs one
`AnalysisJob` (jobs.py): the wanted metrics first, then the next classical point that
`baselines.SweepPlan` (the CLI's rule) hands out; a codec's range extras wait for the ladder's
bpp range.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from lci_studio.codec import baselines as baselines_mod
from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.ladder import CancelledError, QualityResult, with_metrics
from lci_studio.codec.metrics import METRICS, missing

if TYPE_CHECKING:
    from lci_studio.gui.jobs import AnalysisJob, JobSignals, Running


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


def _names(keys: tuple[str, ...]) -> str:
    """Metrics as the meter names them ("MS-SSIM and PSNR-YUV")."""
    return " and ".join(METRICS[key].name for key in keys)


class AnalysisScheduler:
    """One AnalysisJob: the wanted metrics first, then the next classical point; see AnalysisJob."""

    _WAIT = 0.05  # seconds between looks at a ladder that is still running

    def __init__(self, signals: JobSignals, run: Running, job: AnalysisJob) -> None:
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
