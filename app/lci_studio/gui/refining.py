"""The window's second encoder: Refine the selected quality or all of them, at an effort, with the meter and Stop.

The plain encoder (g_a's one-pass guess) makes every quality the window shows. Refining encodes a
quality again with `refinement.Encoder` at an effort (normal, best): the same decoder, better numbers
chosen for this photo. It takes tens of seconds per quality, so it runs as a `RefineJob` in the
worker's codec thread; each refined quality goes into the session beside its plain result
(`Session.add_refined`), where the plot, the explanation and the exports find it. Stop (Esc) cancels
within the codec's polls; the quality being refined then keeps only its plain result.

The rate slider (panels/rate_slider.py) refines the selected quality for another λ inside its band
(`refine_at`), and `measure_bands` measures where each level's band takes this picture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from lci_studio.codec.explanation import refined_gain
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.refinement import EFFORTS, Encoder, RefinementError, encoder_for, lambda_band
from lci_studio.gui.progress import JobProgress
from lci_studio.gui.refine_job import BandJob, LevelBand, RefineJob
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import Session

DEFAULT_REFINE_EFFORT = "normal"
METER = "refine"  # its own line of the shared job meter


def refined_efforts() -> tuple[str, ...]:
    """The efforts Refine can run (those with steps), read from the table when asked, not kept."""
    return tuple(name for name, effort in EFFORTS.items() if effort.steps > 0)


def refinable(result: QualityResult | None) -> bool:
    """Whether the refined encoder can take this quality (the core's rule: MSE-trained weights that know their λ)."""
    if result is None:
        return False
    try:
        lambda_band(result.info)
    except RefinementError:
        return False
    return True


class Refining(QObject):
    """Refine commands over `session`, run by `worker`; `meter` is the status bar's job meter, `say` a status
    line, `show_error` a dialog; `changed` is emitted when which commands can run may differ."""

    changed = Signal()

    def __init__(
        self,
        session: Session,
        worker: CodecWorker,
        settings: QSettings,
        meter: JobProgress,
        say: Callable[[str], None],
        show_error: Callable[[str, str], None],
        busy: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._session, self._worker, self._settings = session, worker, settings
        self._meter, self._say, self._show_error, self._busy = meter, say, show_error, busy
        effort = str(settings.value("refine/effort", DEFAULT_REFINE_EFFORT))
        self.encoder: Encoder = encoder_for(effort if effort in refined_efforts() else DEFAULT_REFINE_EFFORT)
        self.job: int | None = None
        self._image: RgbImage | None = None  # the picture the running job refines (results of another are dropped)
        self._refined: list[int] = []  # qualities the running job delivered
        self._gain = ""  # what the last one gained, in words
        self._running_encoder = self.encoder
        self._kind = "refine"  # what the running job does: "refine" or "band"
        self._effort_actions: dict[str, QAction] = {}
        worker.jobStarted.connect(self._on_started)
        worker.progress.connect(self._on_progress)
        worker.resultReady.connect(self._on_result)
        worker.failed.connect(self._on_failed)
        worker.jobFinished.connect(self._on_finished)
        for event in (session.events.opened, session.events.ladder_started):
            event.connect(lambda _value: self.stop())  # its results belong to what was shown

    # ------------------------------------------------------------------------------------ commands

    def set_encoder(self, encoder: Encoder) -> None:
        """The encoder Refine runs (an effort's, or a step budget of one's own; it must refine)."""
        if not encoder.refines:
            raise ValueError("Refine needs a refining encoder (steps > 0)")
        self.encoder = encoder
        action = self._effort_actions.get(encoder.effort)
        if action is not None:
            action.setChecked(True)

    def set_effort(self, effort: str) -> None:
        """normal or best (remembered)."""
        self.set_encoder(encoder_for(effort))
        self._settings.setValue("refine/effort", effort)

    def fill_efforts(self, menu: QMenu) -> None:
        """The effort levels as radio items of `menu` (Quality ▸ Encoder Effort)."""
        group = QActionGroup(menu)
        group.setExclusive(True)
        for name in refined_efforts():
            effort = EFFORTS[name]
            action = QAction(f"{name.capitalize()}: {effort.meaning}", menu)
            action.setCheckable(True)
            action.setChecked(name == self.encoder.effort)
            action.setStatusTip(f"Refine with effort {name}: {effort.meaning}")
            action.triggered.connect(lambda _checked=False, name=name: self.set_effort(name))
            group.addAction(action)
            menu.addAction(action)
            self._effort_actions[name] = action

    def can_refine_selected(self) -> bool:
        return self._can_refine() and refinable(self._session.selected_result)

    def can_refine_all(self) -> bool:
        return self._can_refine() and any(refinable(r) for r in self._session.results.values())

    def refine_selected(self) -> None:
        if self.can_refine_selected():
            self._refine(self._selected(), self.encoder)

    def refine_all(self) -> None:
        if self.can_refine_all():
            self._refine(self._refinable(), self.encoder)

    def can_refine_at(self) -> bool:
        """The selected quality can be refined for a λ of its band (a running refinement is replaced)."""
        return self._ready() and refinable(self._session.selected_result)

    def refine_at(self, lmbda: float | None) -> None:
        """Refine the selected quality for `lmbda` (None: its trained λ), replacing a refinement on its way."""
        if self._say_why_not():
            return
        self._refine(self._selected(), dataclasses.replace(self.encoder, lmbda=lmbda))

    def measure_bands(self, every: bool = False) -> None:
        """Where the selected level's band (`every`: each level's) takes this picture: refined by the current
        effort for the λ at both ends of the band, two refinements a level."""
        session = self._session
        if self._say_why_not():
            return
        assert session.image is not None and session.source is not None
        job = BandJob(session.image, session.source, self._refinable() if every else self._selected(), self.encoder)
        self._start(
            job, f"Measuring the band of {{which}}: each end refined by the {self.encoder.describe()} (Esc stops)."
        )

    def running(self) -> bool:
        return self.job is not None and self._worker.is_current(self.job)

    def stop(self) -> None:
        """Cancel the running refinement: the quality on its way keeps only its plain result."""
        if self.job is not None:
            self._worker.cancel(self.job)

    # ------------------------------------------------------------------------------------ internals

    def _ready(self) -> bool:
        session = self._session
        return session.image is not None and session.source is not None and not self._busy()

    def _say_why_not(self) -> bool:
        """The slider and the Measure buttons stay enabled while the ladder runs (they live in a panel that
        does not know the jobs): a press then says why nothing starts, instead of doing nothing. True: refused."""
        if self.can_refine_at():
            return False
        if self._busy():
            self._say("The qualities are still being computed: the band and the slider work once they are done.")
        return True

    def _can_refine(self) -> bool:
        return self._ready() and not self.running()

    def _selected(self) -> tuple[int, ...]:
        return () if self._session.selected is None else (self._session.selected,)

    def _refinable(self) -> tuple[int, ...]:
        return tuple(q for q, r in sorted(self._session.results.items()) if refinable(r))

    def _refine(self, qualities: tuple[int, ...], encoder: Encoder) -> None:
        session = self._session
        assert session.image is not None and session.source is not None
        words = "The same decoder, better numbers chosen for this photo (Esc stops; the plain files stay)."
        self._start(
            RefineJob(session.image, session.source, qualities, encoder),
            f"Refining {{which}}: {encoder.describe()}. {words}",
        )

    def _start(self, job: RefineJob | BandJob, saying: str) -> None:
        """Run `job` (replacing one on its way); `saying` is the status line, with {which} for its qualities."""
        self._image, self._refined, self._running_encoder, self._kind = job.image, [], job.encoder, job.kind
        self.job = self._worker.start(job)
        which = f"quality {job.qualities[0]}" if len(job.qualities) == 1 else f"{len(job.qualities)} qualities"
        self._say(saying.format(which=which))
        self.changed.emit()

    def _mine(self, job_id: int) -> bool:
        return job_id == self.job

    def _on_started(self, job_id: int, kind: str, total: int) -> None:
        if self._mine(job_id):
            self._meter.start(METER, kind, total)
            self.changed.emit()

    def _on_progress(self, job_id: int, done: float, total: int, text: str) -> None:
        if self._mine(job_id):
            self._meter.step(METER, done, total, text)

    def _on_result(self, job_id: int, result: QualityResult | LevelBand) -> None:
        session = self._session
        if not self._mine(job_id) or session.image is not self._image:
            return
        if isinstance(result, LevelBand):
            session.add_band(result.quality, result.points)
            self._refined.append(result.quality)
            return
        plain = session.results.get(result.quality)
        session.add_refined(result)
        self._refined.append(result.quality)
        if plain is not None:
            self._gain = refined_gain(plain, result)
            self._say(f"Quality {result.quality} refined: {self._gain}.")

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if self._mine(job_id):
            self._show_error(title, message)

    def _on_finished(self, job_id: int, outcome: str) -> None:
        if not self._mine(job_id):
            return
        elapsed = self._meter.finish(METER)
        self.job = None
        count = len(self._refined)
        if outcome == "cancelled":
            kept = f" ({count} refined before it)" if count else ""
            self._say(f"Refinement stopped{kept}: the quality it was working on keeps its plain file.")
        elif outcome == "done" and count and self._kind == "band":
            which = f"quality {self._refined[0]}" if count == 1 else f"{count} qualities"
            self._say(f"Band of {which} measured in {elapsed:.1f} s: the plot draws where it reaches.")
        elif outcome == "done" and count:
            which = f"Quality {self._refined[0]}: {self._gain};" if count == 1 else f"{count} qualities refined;"
            self._say(
                f"{which} {elapsed:.1f} s by the {self._running_encoder.describe()}. The tiles show the refined "
                "files, exports write them; P puts a refined quality beside its plain file."
            )
        self.changed.emit()
