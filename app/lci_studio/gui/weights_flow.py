"""Which weights the window compresses with: the Settings choice, the no-weights banner, the invitation to
the official models, and downloads.

Switching is all or nothing: a choice that cannot be used, or a download that fails or is
cancelled, leaves the previous weights in place and says so. A CompressAI choice is fetched and
checked first (in the worker's "weights" lane, with one progress dialog over all files: missing
ones downloaded, cached ones checked against their hash, every model loaded); `switched` fires
once the new weights are in use. While the bundled ladder is in use a quiet bar says what it is
and offers the official models in one click, until it is dismissed (remembered).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import cast

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressDialog, QPushButton, QToolButton, QWidget

from lci_studio.codec.weights import (
    BUNDLED_BD_RATE,
    OFFICIAL_BD_RATE,
    OFFICIAL_SIZES,
    CompressAISource,
    WeightsError,
    WeightSource,
    official_saving_percent,
    open_weight_source,
)
from lci_studio.gui.dialogs import SettingsDialog, about_megabytes
from lci_studio.gui.error_wording import readable
from lci_studio.gui.jobs import DownloadJob
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import Session

INVITE_DISMISSED = "weights/invite-dismissed"  # QSettings key: the invitation was closed for good
MIRROR = "weights/mirror"  # QSettings key: another address for the official files (empty: the usual)


class WeightsFlow(QObject):
    """The weight source of `session`, chosen in Settings and remembered in `settings`.

    Widgets for the window to place: `banner` (shown while there are no weights), `invite` (shown
    while the bundled ladder is in use, until dismissed) and `label` (the status-bar note of the
    weights in use). `dialog` is the download's progress dialog.
    """

    switched = Signal(object)  # the WeightSource now in use, after a choice (not at start)

    def __init__(
        self,
        parent: QWidget,
        session: Session,
        worker: CodecWorker,
        settings: QSettings,
        *,
        opener: Callable = open_weight_source,
        say: Callable[[str], None],
        show_error: Callable[[str, str], None],
    ) -> None:
        super().__init__(parent)
        self._session, self._worker, self._settings = session, worker, settings
        self._opener, self._say, self._show_error = opener, say, show_error
        self.dialog: QProgressDialog | None = None
        self._job: int | None = None
        self._pending: tuple[WeightSource, str] | None = None  # (source being downloaded, what stays if it fails)

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        button = QPushButton("Choose weights…")
        button.clicked.connect(self.open_settings)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.banner_label, 1)
        row.addWidget(button)
        self.banner.hide()
        self._build_invite()
        self.label = QLabel()

        worker.jobStarted.connect(self._on_job_started)
        worker.progress.connect(self._on_progress)
        worker.sourceReady.connect(self._on_source_ready)
        worker.failed.connect(self._on_failed)
        worker.jobFinished.connect(self._on_job_finished)

    def _build_invite(self) -> None:
        self.invite = QFrame()
        self.invite.setObjectName("invite")
        self.invite_label = QLabel(
            "LCI Studio's own ladder, trained on a laptop CPU. CompressAI's official models make files "
            f"about {5 * round(official_saving_percent() / 5)} % smaller at the same quality."
        )
        self.invite_label.setWordWrap(True)
        self.invite_label.setToolTip(
            f"From the README's measurements: BD-rate against JPEG {BUNDLED_BD_RATE:g} % for this ladder "
            f"(9 photos), {OFFICIAL_BD_RATE:g} % for the official one (Kodak)."
        )
        self.get_button = QPushButton()
        self.get_button.clicked.connect(lambda: self.apply("compressai", "mse"))
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Don't show this again (Settings still offers the official models)")
        close.clicked.connect(self.dismiss_invite)
        row = QHBoxLayout(self.invite)
        row.setContentsMargins(10, 4, 4, 4)
        row.addWidget(self.invite_label, 1)
        row.addWidget(self.get_button)
        row.addWidget(close)
        role = QPalette.ColorRole
        palette = self.invite.palette()
        self.invite.setStyleSheet(
            f"QFrame#invite {{ background: {palette.color(role.AlternateBase).name()}; "
            f"border-bottom: 1px solid {palette.color(role.Mid).name()}; }}"
        )
        self.invite.hide()

    def _sync_invite(self) -> None:
        """The invitation shows while the bundled ladder is in use, no download runs and it was not dismissed."""
        source = self._session.source
        wanted = (
            source is not None
            and source.kind == "bundled"
            and self._pending is None
            and not self._settings.value(INVITE_DISMISSED, False, type=bool)
        )
        if wanted:
            size = sum(OFFICIAL_SIZES)
            with contextlib.suppress(WeightsError):
                official = self.source_for("compressai", "mse")
                if isinstance(official, CompressAISource):
                    size = sum(official.expected_size(q) for q in official.missing())
            self.get_button.setText(f"Get them ({about_megabytes(size)})" if size else "Use them")
        self.invite.setVisible(wanted)

    def dismiss_invite(self) -> None:
        self._settings.setValue(INVITE_DISMISSED, True)
        self.invite.hide()

    # ------------------------------------------------------------------------------------ choosing

    def start(self, source: WeightSource | None) -> None:
        """At start: `source` (from the command line), else the choice saved in Settings."""
        if source is not None:
            self._adopt(source, persist=False)
            return
        spec = str(self._settings.value("weights/spec", "bundled") or "bundled")
        metric = str(self._settings.value("weights/metric", "mse") or "mse")
        try:
            self._adopt(self.source_for(spec, metric), persist=False)
        except WeightsError as exc:
            self.show_missing(readable(exc))

    def source_for(self, spec: str, metric: str) -> WeightSource:
        """The worker's weight source for a choice (cheap: nothing is loaded until a quality is needed)."""
        return self._worker.source(spec, metric, self._opener)

    def open_settings(self) -> None:
        spec = str(self._settings.value("weights/spec", "bundled") or "bundled")
        metric = str(self._settings.value("weights/metric", "mse") or "mse")
        folder = str(self._settings.value("weights/folder", "") or "")
        dialog = SettingsDialog(spec, metric, cast(QWidget, self.parent()), last_folder=folder, mirror=self._mirror())
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        spec, metric = dialog.choice()
        self._settings.setValue(MIRROR, dialog.mirror())
        if spec not in ("bundled", "compressai"):
            self._settings.setValue("weights/folder", spec)
        self.apply(spec, metric)

    def apply(self, spec: str, metric: str = "mse") -> bool:
        """Switch to other weights; on any failure keep the previous ones and say why. True when switched now."""
        current = self._session.source
        previous = current.describe() if current is not None else "no weights"
        try:
            source = self.source_for(spec, metric)
        except WeightsError as exc:
            self._show_error("Could not use these weights", f"{exc}\n\nStill using {previous}.")
            return False
        if isinstance(source, CompressAISource):  # checked (and fetched where missing) before the switch
            source.mirror = self._mirror() or None
            self._start_download(source, previous)
            return False
        self._switch_to(source)
        return True

    def _mirror(self) -> str:
        return str(self._settings.value(MIRROR, "") or "").strip()

    def show_missing(self, reason: str = "") -> None:
        """No weights to compress with: the banner says why and offers Settings."""
        self._session.set_source(None, reason or self._session.source_error or "No weights are selected.")
        self.banner_label.setText(f"No weights to compress with. {self._session.source_error}")
        palette = self.banner.palette()
        tip, text = palette.color(QPalette.ColorRole.ToolTipBase).name(), palette.color(QPalette.ColorRole.ToolTipText)
        self.banner.setStyleSheet(
            f"QFrame#banner {{ background: {tip}; color: {text.name()}; }}"
            f"QFrame#banner QLabel {{ color: {text.name()}; }}"
        )
        self.banner.show()
        self.invite.hide()
        self.label.setText("Weights: none (see Settings)")
        self._say("Choose weights in Settings (Ctrl+,) to compress images.")

    def _adopt(self, source: WeightSource, persist: bool) -> None:
        self._worker.keep_source(source)
        self._session.set_source(source)
        self.banner.hide()
        self._sync_invite()
        self.label.setText(f"Weights: {source.describe()}")
        self.label.setToolTip(source.describe())
        if persist:
            spec = source.kind if source.kind in ("bundled", "compressai") else source.label
            self._settings.setValue("weights/spec", spec)
            self._settings.setValue("weights/metric", source.metric)

    def _switch_to(self, source: WeightSource) -> None:
        self._adopt(source, persist=True)
        self._say(f"Now using {source.describe()}.")
        self.switched.emit(source)

    # ------------------------------------------------------------------------------------ downloading

    def _start_download(self, source: WeightSource, previous: str) -> None:
        self._pending = (source, previous)
        self._job = job = self._worker.start(DownloadJob(source))
        dialog = QProgressDialog(
            f"Downloading {source.describe()}…", "Cancel", 0, len(source.qualities()), cast(QWidget, self.parent())
        )
        dialog.setWindowTitle("Downloading weights")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(lambda: self._worker.cancel(job))
        dialog.show()
        self.dialog = dialog
        self._sync_invite()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.blockSignals(True)
            self.dialog.close()
            self.dialog.deleteLater()
            self.dialog = None

    def _give_up(self) -> str:
        """Forget the download; returns what stays in use."""
        previous = self._pending[1] if self._pending else "the previous weights"
        self._pending = None
        self._close_dialog()
        self._sync_invite()
        return previous

    def _on_job_started(self, job_id: int, kind: str, total: int) -> None:
        if job_id == self._job and self.dialog is not None:
            self.dialog.setMaximum(total)

    def _on_progress(self, job_id: int, done: float, total: int, text: str) -> None:
        if job_id != self._job or self.dialog is None:
            return
        self.dialog.setMaximum(total)
        self.dialog.setValue(int(done))
        if text:
            self.dialog.setLabelText(f"{text[0].upper()}{text[1:]}…")

    def _on_source_ready(self, job_id: int, source: WeightSource) -> None:
        if job_id != self._job or self._pending is None:
            return
        self._pending = None
        self._close_dialog()
        self._switch_to(source)

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if job_id == self._job:
            previous = self._give_up()
            self._show_error(title, f"{message}\n\nStill using {previous}.")

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if job_id != self._job:
            return
        self._job = None
        if outcome == "cancelled":
            self._say(f"Download cancelled; still using {self._give_up()}.")
