"""The jobs behind what the window shows: reading a picture, its ladder, decoding an `.lci` file,
and the analysis beside the ladder (the classical codecs, an on-demand metric such as MS-SSIM when shown).

The first three share the worker's "view" lane, so a new one cancels the one before (and the
analysis of the picture it replaces); `view_job` and `analysis_job` are the ids whose signals
still count, and every other job's late signals are ignored here. The ladder's tiles come at
codec speed: MS-SSIM and the classical codecs are measured beside it in the worker's
low-priority thread, fed by a `LadderFeed`. What arrives goes into the session (the panels draw
it); progress of both goes to the status bar's one meter, which says done when both are. An on-demand
metric (MS-SSIM…) is measured while the view state's plot metric shows it (or an export waits for it).

`ViewJobs` is handed the few things it uses (the session, the view state, the worker, the meter, the
status line, the recent files, the no-weights banner's `show`); it tells the window through its
signals (`changed`: what can be done, Stop and Resume, may differ; `titled`: the name of what opens).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QImage

from lci_studio.codec.baselines import available_codecs
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS, missing, on_demand
from lci_studio.codec.number_format import format_kb
from lci_studio.gui.analysis import LadderFeed
from lci_studio.gui.jobs import AnalysisJob, ClassicalJob, DecodeJob, DetailJob, LadderJob, LoadedImage, LoadJob
from lci_studio.gui.messages import Messages
from lci_studio.gui.opening import RecentFiles, is_lci
from lci_studio.gui.progress import JobProgress
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import DecodedLci, Session, SizeBasis
from lci_studio.view_state import ViewState

# Classical points arriving within this many ms are drawn together: each redraw of the plot costs the GUI
# thread 10-25 ms, which the ladder's two cores lack on a two-core machine (about 40 points per picture).
POINTS_EVERY_MS = 400
METER = "view"  # its line of the shared job meter (the ladder, a decode and the analysis beside them)


class ViewJobs(QObject):
    """Starts the view lane's jobs for `session` and feeds their results into it."""

    resultAdded = Signal(object)  # QualityResult accepted for the current image
    lciOpened = Signal(object)  # DecodedLci
    changed = Signal()  # a job started or ended: which commands can run (Stop, Resume) may differ
    titled = Signal(str)  # the name of the picture or file being opened, for the window's title
    classicalDecoded = Signal(str, int, object)  # (codec, quality, pixels): just before the point is in the session

    def __init__(
        self,
        session: Session,
        view: ViewState,
        worker: CodecWorker,
        progress: JobProgress,
        messages: Messages,
        recent: RecentFiles,
        show_missing_weights: Callable[[], None],
        baselines: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session, self._view, self._worker = session, view, worker
        self._progress, self._messages, self._recent = progress, messages, recent
        self._show_missing_weights = show_missing_weights
        self._with_baselines = baselines
        self.view_job: int | None = None
        self.analysis_job: int | None = None
        self.classical_jobs: dict[int, tuple[str, int]] = {}  # the one encode on its way: job id → (codec, quality)
        self.classical_queue: list[tuple[str, int]] = []  # wishes waiting for it, oldest first
        self.detail_job: int | None = None  # finding the telling detail (the view state's `detail`)
        self._steps = {"view": (0, 0), "analysis": (0, 0)}  # (done, total) of each job the meter counts
        self._view_outcome = "done"  # how the last view job ended (the status bar says it when all have)
        self._points_due: list | None = None  # classical points received, drawn at the next turn of the loop
        self._exports_waiting: list[Callable[[], None]] = []  # writes waiting for every metric (complete_metrics)
        self._metrics_pass: tuple[str, ...] = ()  # what the running follow-up job measures (it measures only that)
        self._measured_due: list[tuple[RgbImage | None, QualityResult]] = []  # (its picture, result), in order
        self._stopped = False  # what is shown was stopped before it was complete (`resume` goes on)
        worker = self._worker
        worker.jobStarted.connect(self._on_job_started)
        worker.progress.connect(self._on_progress)
        worker.imageLoaded.connect(self._on_image_loaded)
        worker.resultReady.connect(self._on_result)
        worker.baselinesReady.connect(self._on_baselines)
        worker.classicalReady.connect(self._on_classical)
        worker.detailFound.connect(self._on_detail)
        worker.lciDecoded.connect(self._on_lci_decoded)
        worker.failed.connect(self._on_failed)
        worker.jobFinished.connect(self._on_job_finished)
        view.plot_metric.changed.connect(lambda _metric: self._on_metric_shown())

    # ------------------------------------------------------------------------------------ starting

    def open_path(self, path: str | Path) -> bool:
        """Open an image (read in the worker, then compressed at every quality) or an .lci file (decoded).

        False when an .lci file cannot even be read; an unreadable image is reported when the worker finds out.
        """
        path = Path(path)
        if is_lci(path):
            try:
                data = path.read_bytes()
            except OSError as exc:
                self._messages.show_error("Could not open the .lci file", f"{path}: {exc.strerror or exc}")
                return False
            self._recent.remember(path)
            return self.open_lci_bytes(data, path.name)
        self._start(LoadJob(path=path))
        return True

    def open_qimage(self, qimage: QImage, name: str) -> bool:
        """A picture without a file (pasted, dropped), converted in the worker; measured against raw RGB."""
        self._start(LoadJob(qimage=QImage(qimage), name=name))
        return True

    def open_lci_bytes(self, data: bytes, name: str) -> bool:
        source = self._session.source
        self._session.open_loading(f"Decoding {name}…")
        self.titled.emit(name)
        self._start(DecodeJob(data, name, (source,) if source is not None else ()))
        return True

    def show_image(self, image: RgbImage, path: Path | None = None, basis: SizeBasis | None = None) -> None:
        """Show an image and start the ladder on it (the running job, if any, is cancelled)."""
        self._session.open_image(image, path, basis)
        self.titled.emit(image.name)
        if self._session.source is None:
            self.view_job = None
            self._session.start_ladder((), unavailable="no weights:\nchoose them in Settings")
            self._show_missing_weights()
        else:
            self.restart()

    def restart(self) -> None:
        """The ladder again on the shown picture (other weights, say)."""
        session = self._session
        if session.image is None or session.source is None:
            return
        qualities = tuple(session.source.qualities())
        feed = LadderFeed()
        # the tiles come at codec speed: on-demand metrics and the classical codecs are measured beside the ladder
        self._start(LadderJob(session.image, session.source, feed=feed, on_demand=False))
        codecs = available_codecs() if self._with_baselines else ()
        self._start_analysis(AnalysisJob(session.image, feed, codecs, wanted_metrics=self._wanted_metrics))
        session.start_ladder(qualities, unavailable=f"not available from\n{session.source.describe()}")
        beside = f", with {_and_list(codecs)} beside them for comparison…" if codecs else "…"
        self._messages.say(f"Compressing {session.image.name} at {len(qualities)} quality levels{beside}")
        selected = session.selected if session.selected is not None else 4
        if qualities and selected not in qualities:
            session.select(min(qualities, key=lambda q: abs(q - selected)))

    def stop(self) -> None:
        """Stop the running ladder or decoding and the analysis beside it (Esc); an export waiting for them
        writes nothing (`_all_finished`)."""
        for job in (self.view_job, self.analysis_job):
            if job is not None:
                self._worker.cancel(job)

    def can_resume(self) -> bool:
        """Stop left the shown picture's qualities or classical points unfinished, and nothing runs."""
        session = self._session
        return self._stopped and not self.computing() and session.image is not None and session.source is not None

    def resume(self) -> None:
        """Go on after Stop (R): the qualities and classical points still missing; what is measured stays."""
        if not self.can_resume():
            return
        session = self._session
        image, source, points = session.image, session.source, tuple(session.baselines)
        missing = tuple(q for q in source.qualities() if q not in session.results)
        feed = LadderFeed(session.ordered_results(), closed=not missing)
        self._start(LadderJob(image, source, qualities=missing, feed=feed, on_demand=False) if missing else None)
        codecs = available_codecs() if self._with_baselines else ()
        self._start_analysis(AnalysisJob(image, feed, codecs, points=points, wanted_metrics=self._wanted_metrics))
        session.resume_ladder(missing)
        self._find_detail()  # the lowest and highest qualities may be in already
        if not missing:
            self._progress.start(METER, "analysis", len(codecs))
        self._messages.say(f"Resuming {image.name}…")

    def computing(self) -> bool:
        """A job for what is shown is running (the ladder, a decode, or the analysis beside them)."""
        return any(job is not None and self._worker.is_current(job) for job in (self.view_job, self.analysis_job))

    def complete_metrics(self, then: Callable[[], None]) -> None:
        """Call `then` once every metric is measured (at once when none is missing): the worker measures
        what lacks one after what is running, the meter counts it, and Stop drops `then` (nothing written).
        What an export calls: its numbers are never measured on the GUI thread."""
        self._exports_waiting.append(then)
        self._measure_missing_metrics()
        self._deliver_exports()

    def _shown_metrics(self) -> tuple[str, ...]:
        """The on-demand metric the plot shows (MS-SSIM…; none for PSNR): one attribute read, the analysis
        thread asks too."""
        key = self._view.plot_metric.value
        return (key,) if METRICS[key].on_demand else ()

    def _wanted_metrics(self) -> tuple[str, ...]:
        """Read by the analysis thread: the on-demand metrics to measure now (the one shown; all of them
        while an export waits)."""
        return on_demand() if self._exports_waiting else self._shown_metrics()

    def _deliver_exports(self) -> None:
        """The exports waiting, written once nothing runs; dropped when what ran left a metric missing."""
        if not self._exports_waiting or self.computing():
            return
        if self._session.missing_metrics():
            self._drop_exports("The export was not written: its metrics could not be measured.")
            return
        waiting, self._exports_waiting = self._exports_waiting, []
        for write in waiting:
            write()

    def _drop_exports(self, why: str) -> None:
        if self._exports_waiting:
            self._exports_waiting = []
            self._messages.say(why)

    def _on_metric_shown(self) -> None:
        """An on-demand metric is measured only while it is shown: showing it measures what lacks it (a
        running analysis job sees it at its next step)."""
        if self._shown_metrics():
            self._measure_missing_metrics()

    def _start(self, job: LoadJob | LadderJob | DecodeJob | None) -> None:
        """Start the job for what is shown; the one it replaces (same lane) is cancelled and its tiles say so
        (None: only the analysis goes on, `resume`)."""
        if self._session.pending and not isinstance(job, LadderJob):
            self._session.finish("cancelled")
        self._drop_exports("Another picture was opened: the export was not written.")
        self._metrics_pass, self._stopped = (), False
        self.analysis_job = None  # the worker cancels it with the view job it belonged to
        self.classical_jobs = {}  # the worker cancels the encode with the view job
        self.classical_queue = []
        self.detail_job = None  # the worker cancels it with the view job
        self._view.detail.set(None)  # of the picture shown before
        self._points_due = None
        self.view_job = self._worker.start(job) if job is not None else None
        self._steps = {"view": (0, 0), "analysis": (0, 0)}
        self._view_outcome = "done"
        self.changed.emit()

    def want_classical(self, codec: str, quality: int) -> None:
        """`codec` at `quality`'s file size, as a picture: encoded (nearest setting) unless it is there or coming.

        Wishes wait in one queue and are encoded one at a time, so the split and the grid's column never
        cancel each other's half-done encodes; a wish is kept until served or no longer wanted (its quality
        is not the selected one any more: only then is a running encode given up for a newer wish).
        """
        key = (codec, quality)
        if self._session.image is None or key in self.classical_queue or key in self.classical_jobs.values():
            return
        if key in self._session.classical or quality not in self._session.results:
            return
        self.classical_queue.append(key)
        running = next(iter(self.classical_jobs.items()), None)
        if running is not None and running[1] not in self._session.classical and not self._classical_wanted(running[1]):
            self._worker.cancel(running[0])  # nobody looks at it now: the new wish goes first
            self.classical_jobs = {}
        self._serve_classical()

    def _classical_wanted(self, key: tuple[str, int]) -> bool:
        """Still worth encoding: both views show the selected quality's size, and it is not measured yet."""
        session = self._session
        return key[1] == session.selected and key[1] in session.results and key not in session.classical

    def _serve_classical(self) -> None:
        """The next wish still wanted, when no encode runs (the queue's stale wishes are dropped)."""
        if self.classical_jobs or self._session.image is None:
            return
        self.classical_queue = [key for key in self.classical_queue if self._classical_wanted(key)]
        if not self.classical_queue:
            return
        codec, quality = key = self.classical_queue.pop(0)
        job = ClassicalJob(self._session.image, codec, self._session.results[quality].file_bytes, quality)
        self.classical_jobs = {self._worker.start(job): key}

    def _find_detail(self) -> None:
        """Once the lowest and highest qualities are in: where they differ most, found in the worker."""
        session = self._session
        if self._view.detail.value is not None or self.detail_job is not None:
            return
        if session.image is None or session.source is None:
            return
        qualities = tuple(session.source.qualities())
        low, high = session.results.get(min(qualities)), session.results.get(max(qualities))
        if low is None or high is None or low is high:
            return
        self.detail_job = self._worker.start(DetailJob(session.image.pixels, low.reconstruction, high.reconstruction))

    def _on_detail(self, job_id: int, detail: object) -> None:
        if job_id == self.detail_job:
            self._view.detail.set(detail)

    def _on_classical(self, job_id: int, classical: tuple) -> None:
        if job_id in self.classical_jobs and self._session.image is not None:
            quality, point, pixels = classical
            self.classicalDecoded.emit(point.codec, quality, pixels)
            self._session.add_classical(quality, point)

    def _start_analysis(self, job: AnalysisJob) -> None:
        self.analysis_job = self._worker.start(job)
        self._steps["analysis"] = (0, len(job.codecs))

    def _measure_missing_metrics(self) -> None:
        """A follow-up analysis job for the metrics still missing (shown, or an export waits for them), when
        none runs that would measure them."""
        session = self._session
        wanted = self._wanted_metrics()
        if not wanted or session.image is None:
            return
        if self.analysis_job is not None and self._worker.is_current(self.analysis_job):
            return
        count = session.missing_metrics(wanted)
        if not count:
            return
        if self.view_job is not None and self._worker.is_current(self.view_job):
            return  # a ladder without its analysis job (it failed): the next ladder brings its own
        feed = LadderFeed([r for r in session.ordered_results() if missing(r.metrics, wanted)], closed=True)
        self._start_analysis(
            AnalysisJob(session.image, feed, points=tuple(session.baselines), wanted_metrics=self._wanted_metrics)
        )
        self._metrics_pass = wanted
        self._view_outcome = "done"  # how this pass ends, not the stopped one before it
        self._steps = {"view": (0, 0), "analysis": (0, count)}
        self._progress.start(METER, f"measuring {_and_list(METRICS[key].name for key in wanted)}", count)
        self.changed.emit()  # Stop, at once

    # ------------------------------------------------------------------------------------ worker signals

    def _lane(self, job_id: int) -> str | None:
        return "view" if job_id == self.view_job else "analysis" if job_id == self.analysis_job else None

    def _on_job_started(self, job_id: int, kind: str, total: int) -> None:
        lane = self._lane(job_id)
        if lane is None:
            return
        self._steps[lane] = (0, total)
        if lane == "view":
            self._progress.start(METER, kind, total)
        self._step_progress("")
        self.changed.emit()

    def _on_progress(self, job_id: int, done: float, total: int, text: str) -> None:
        lane = self._lane(job_id)
        if lane is not None:
            self._steps[lane] = (done, total)
            self._step_progress(text)

    def _step_progress(self, text: str) -> None:
        """One meter for the qualities and the classical codecs: done only when every one is."""
        done = sum(d for d, _ in self._steps.values())
        total = sum(t for _, t in self._steps.values())
        self._progress.step(METER, done, total, text)

    def _on_image_loaded(self, job_id: int, loaded: LoadedImage) -> None:
        if job_id != self.view_job:
            return
        if loaded.path is not None:
            self._recent.remember(loaded.path)
        self.show_image(loaded.image, loaded.path, loaded.basis)

    def _on_result(self, job_id: int, result: QualityResult) -> None:
        lane = self._lane(job_id)
        if lane is None or self._session.image is None:
            return  # a late result of an image that is no longer shown
        if lane == "analysis":  # a result with its metrics: they come in bursts, so one per turn of the loop
            self._measured_due.append((self._session.image, result))
            if len(self._measured_due) == 1:
                QTimer.singleShot(0, self._apply_measured)
            return
        self._session.add_result(result)
        self.resultAdded.emit(result)
        self._find_detail()

    def _apply_measured(self, everything: bool = False) -> None:
        """The oldest result with its metrics measured into the session (`everything`: all waiting, as the analysis
        ends); each redraws every panel, and eight in one go held the window ~100 ms."""
        while self._measured_due:
            image, result = self._measured_due.pop(0)
            if image is self._session.image and result.quality in self._session.results:
                self._session.add_result(result)  # (not for a picture or result no longer shown)
                self.resultAdded.emit(result)
            if not everything:
                break
        if self._measured_due:
            QTimer.singleShot(0, self._apply_measured)

    def _on_baselines(self, job_id: int, points: list) -> None:
        """Points come one by one; those that arrive within POINTS_EVERY_MS are drawn once (the newest list
        wins), and the last ones as soon as the analysis ends."""
        if self._lane(job_id) is None or self._session.image is None:
            return
        if self._points_due is None:
            QTimer.singleShot(POINTS_EVERY_MS, self._apply_points)
        self._points_due = points

    def _apply_points(self) -> None:
        points, self._points_due = self._points_due, None
        if points is not None:
            self._session.set_baselines(points)

    def _on_lci_decoded(self, job_id: int, decoded: DecodedLci) -> None:
        if job_id != self.view_job:
            return
        self._session.set_decoded(decoded)
        self._view.tab.set("split")  # one image: show it large
        # what the header says stays a command away (File ▸ .lci File Info), not a dialog over the picture
        header = decoded.header
        self._messages.say(
            f"{decoded.name}: quality {header.quality}, {header.width} × {header.height} px, "
            f"{format_kb(len(decoded.data))}, decoded in {decoded.decode_seconds:.2f} s. "
            "File ▸ .lci File Info (Ctrl+I) shows what its header says."
        )
        self.lciOpened.emit(decoded)

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if job_id in self.classical_jobs:
            self._messages.show_error(title, message)
            return
        lane = self._lane(job_id)
        if lane is None:
            return
        if lane == "view":
            self._session.finish("failed", title)
        self._messages.show_error(title, message)

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if job_id == self.detail_job and outcome != "done":
            self.detail_job = None  # cancelled or failed: the next result tries again
        if self.classical_jobs.pop(job_id, None) is not None:  # the next wish only now: a job started
            self._serve_classical()  # before this one's end would count it as cancelled
        lane = self._lane(job_id)
        if lane is None:
            return
        self._stopped = self._stopped or outcome == "cancelled"
        if lane == "view":
            if outcome != "failed":  # a failure was told to the session with its title
                self._session.finish(outcome)
            self._view_outcome = outcome
        else:
            self._apply_points()
            self._apply_measured(everything=True)
            self.analysis_job = None
            if outcome == "cancelled" and self._view_outcome == "done":
                self._view_outcome = "cancelled"
        if not self.computing():
            self._all_finished(self._view_outcome)
        self.changed.emit()

    def _all_finished(self, outcome: str) -> None:
        """The ladder and everything beside it ended: the meter goes, the status bar says how."""
        elapsed = self._progress.finish(METER)
        session = self._session
        if outcome == "done" and session.image is not None and self._metrics_pass:
            names = _and_list(METRICS[key].name for key in self._metrics_pass)
            self._messages.say(f"{session.image.name}: {names} measured in {elapsed:.1f} s.")
        elif outcome == "done" and session.image is not None:
            codecs = len({p.codec for p in session.baselines})
            beside = f" and {codecs} classical codecs" if codecs else ""
            # why this picture took longer than the last: MS-SSIM costs about as much again (M turns it off)
            shown = self._shown_metrics()
            slower = f", {METRICS[shown[0]].name} included (M: another metric; PSNR is fastest)" if shown else ""
            self._messages.say(
                f"{session.image.name}: {len(session.results)} qualities{beside} in {elapsed:.1f} s{slower}. "
                "Keys 1–8 pick a quality; wheel zooms, drag pans."
            )
        elif outcome == "cancelled":
            export = " The export was not written." if self._exports_waiting else ""
            self._messages.say(f"Stopped.{export}" + (" Resume (R) goes on from here." if self.can_resume() else ""))
            self._exports_waiting = []
        self._metrics_pass = ()
        self._measure_missing_metrics()  # shown (or an export asked for it) while the last job was ending
        self._deliver_exports()


def _and_list(names) -> str:
    """Names as a reader says them: "JPEG, WebP and AVIF", or the one name alone."""
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
