"""The jobs behind what the window shows: reading a picture, its ladder, decoding an `.lci` file.

They share the worker's "view" lane, so a new one cancels the one before; `view_job` is the id
whose signals still count, and every other job's late signals are ignored here. What arrives
goes into the session (the panels draw it); progress goes to the status bar's meter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult
from lci_studio.gui.opening import is_lci
from lci_studio.gui.worker import DecodeJob, LadderJob, LoadedImage, LoadJob
from lci_studio.session import DecodedLci, SizeBasis
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

if TYPE_CHECKING:
    from lci_studio.gui.window import MainWindow


class ViewJobs(QObject):
    """Starts the view lane's jobs for `window` and feeds their results into its session."""

    resultAdded = Signal(object)  # QualityResult accepted for the current image
    ladderFinished = Signal(str)  # outcome of the current image's ladder job
    lciOpened = Signal(object)  # DecodedLci

    def __init__(self, window: MainWindow, baselines: bool = True) -> None:
        super().__init__(window)
        self._window = window
        self._session = window.session
        self._worker = window.worker
        self._with_baselines = baselines
        self.view_job: int | None = None
        worker = self._worker
        worker.jobStarted.connect(self._on_job_started)
        worker.progress.connect(self._on_progress)
        worker.imageLoaded.connect(self._on_image_loaded)
        worker.resultReady.connect(self._on_result)
        worker.baselinesReady.connect(self._on_baselines)
        worker.lciDecoded.connect(self._on_lci_decoded)
        worker.failed.connect(self._on_failed)
        worker.jobFinished.connect(self._on_job_finished)

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
                self._window.show_error("Could not open the .lci file", f"{path}: {exc.strerror or exc}")
                return False
            self._window.opening.remember(path)
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
        self._window.setWindowTitle(f"{name} — LCI Studio")
        self._start(DecodeJob(data, name, (source,) if source is not None else ()))
        return True

    def show_image(self, image: RgbImage, path: Path | None = None, basis: SizeBasis | None = None) -> None:
        """Show an image and start the ladder on it (the running job, if any, is cancelled)."""
        self._session.open_image(image, path, basis)
        self._window.setWindowTitle(f"{image.name} — LCI Studio")
        if self._session.source is None:
            self.view_job = None
            self._session.start_ladder((), unavailable="no weights:\nchoose them in Settings")
            self._window.weights.show_missing()
        else:
            self.restart()

    def restart(self) -> None:
        """The ladder again on the shown picture (other weights, say)."""
        session = self._session
        if session.image is None or session.source is None:
            return
        qualities = tuple(session.source.qualities())
        self._start(LadderJob(session.image, session.source, baselines=self._with_baselines))
        session.start_ladder(qualities, unavailable=f"not available from\n{session.source.describe()}")
        self._window.say(
            f"Compressing {session.image.name} at {len(qualities)} quality levels"
            + (", then JPEG and WebP for comparison…" if self._with_baselines else "…")
        )
        selected = session.selected if session.selected is not None else 4
        if qualities and selected not in qualities:
            session.select(min(qualities, key=lambda q: abs(q - selected)))

    def stop(self) -> None:
        """Stop the running ladder or decoding (Esc)."""
        if self.view_job is not None:
            self._worker.cancel(self.view_job)

    def computing(self) -> bool:
        """A job for what is shown is running."""
        return self.view_job is not None and self._worker.is_current(self.view_job)

    def _start(self, job: LoadJob | LadderJob | DecodeJob) -> None:
        """Start the job for what is shown; the one it replaces (same lane) is cancelled and its tiles say so."""
        if self._session.pending and not isinstance(job, LadderJob):
            self._session.finish("cancelled")
        self.view_job = self._worker.start(job)
        self._window.commands.update()

    # ------------------------------------------------------------------------------------ worker signals

    def _on_job_started(self, job_id: int, kind: str, total: int) -> None:
        if job_id == self.view_job:
            self._window.progress.start(kind, total)
            self._window.commands.update()

    def _on_progress(self, job_id: int, done: int, total: int, text: str) -> None:
        if job_id == self.view_job:
            self._window.progress.step(done, total, text)

    def _on_image_loaded(self, job_id: int, loaded: LoadedImage) -> None:
        if job_id != self.view_job:
            return
        if loaded.path is not None:
            self._window.opening.remember(loaded.path)
        self.show_image(loaded.image, loaded.path, loaded.basis)

    def _on_result(self, job_id: int, result: QualityResult) -> None:
        if job_id != self.view_job or self._session.image is None:
            return  # a late result of an image that is no longer shown
        self._session.add_result(result)
        self.resultAdded.emit(result)

    def _on_baselines(self, job_id: int, points: list) -> None:
        if job_id == self.view_job:
            self._session.set_baselines(points)

    def _on_lci_decoded(self, job_id: int, decoded: DecodedLci) -> None:
        if job_id != self.view_job:
            return
        self._session.set_decoded(decoded)
        window = self._window
        window.tabs.setCurrentWidget(window.split)  # one image: show it large
        window.show_lci_info()
        window.say(f"{decoded.name}: {decoded.header.describe()}")
        self.lciOpened.emit(decoded)

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if job_id != self.view_job:
            return
        self._session.finish("failed", title)
        self._window.show_error(title, message)

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if job_id != self.view_job:
            return
        elapsed = self._window.progress.finish()
        session = self._session
        if outcome != "failed":  # a failure was told to the session with its title
            session.finish(outcome)
        if outcome == "done" and session.image is not None:
            self._window.say(
                f"{session.image.name}: {len(session.results)} qualities in {elapsed:.1f} s. "
                "Keys 1–8 pick a quality; wheel zooms, drag pans."
            )
        elif outcome == "cancelled":
            self._window.say("Stopped.")
        self._window.commands.update()
        self.ladderFinished.emit(outcome)
