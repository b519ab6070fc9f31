"""The LCI Studio main window: the shell around the session's panels (docks, tabs, status bar).

The state is the `Session`; the panels (app/gui/panels) draw it. The window starts the
background `CodecWorker`'s jobs for what is shown and feeds their results into the session. Its
other jobs live beside it: the commands and their menus in actions.py, exports in exports.py, the
weights and downloads in weights_flow.py, opening files, the clipboard and drops in opening.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.insight import format_kb
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.model import QUALITIES
from lci_studio.codec.weights import WeightSource, open_weight_source
from lci_studio.gui.actions import ActionTable, build_menus, build_toolbar, quality_actions, window_actions
from lci_studio.gui.dialogs import LciInfoDialog, about_html
from lci_studio.gui.exports import Exports
from lci_studio.gui.opening import Opening, is_lci, resources_dir
from lci_studio.gui.panels.compare import CompareView, ViewSync
from lci_studio.gui.panels.explanation import ExplanationPanel
from lci_studio.gui.panels.latent import LatentView
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.gui.panels.split import SplitView
from lci_studio.gui.progress import JobProgress
from lci_studio.gui.weights_flow import WeightsFlow
from lci_studio.gui.worker import CodecWorker, DecodeJob, LadderJob, LoadedImage, LoadJob
from lci_studio.session import DecodedLci, Session, SizeBasis
from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

ORGANIZATION = "LCI Studio"
APPLICATION = "LCI Studio"


def app_icon() -> QIcon:
    path = resources_dir() / "icons" / "lci-studio.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


class MainWindow(QMainWindow):
    """The window. Its state is `session` (picture, weights, results, selection; see `Session`),
    which every panel draws; besides it `view_job` (id of the job whose results are shown), the
    panels `compare`, `split`, `rd_plot`, `latent_view`, `explanation`, `demo` (None until opened),
    and `commands` (the action table), `exports`, `weights`, `opening`.
    """

    resultAdded = Signal(object)  # QualityResult accepted for the current image
    ladderFinished = Signal(str)  # outcome of the current image's ladder job
    lciOpened = Signal(object)  # DecodedLci

    def __init__(
        self,
        source: WeightSource | None = None,
        *,
        settings: QSettings | None = None,
        opener: Callable = open_weight_source,
        baselines: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings(ORGANIZATION, APPLICATION)
        self._with_baselines = baselines
        selected = int(self.settings.value("view/selected", 4) or 4)
        self.session = Session(selected if selected in QUALITIES else 4)
        self.worker = CodecWorker(self)
        self.worker.jobStarted.connect(self._on_job_started)
        self.worker.progress.connect(self._on_progress)
        self.worker.resultReady.connect(self._on_result)
        self.worker.baselinesReady.connect(self._on_baselines)
        self.worker.lciDecoded.connect(self._on_lci_decoded)
        self.worker.imageLoaded.connect(self._on_image_loaded)
        self.worker.failed.connect(self._on_failed)
        self.worker.jobFinished.connect(self._on_job_finished)
        self.view_job: int | None = None
        self.demo = None
        self.lci_info_dialog: LciInfoDialog | None = None

        self.setWindowTitle("LCI Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.status_label = QLabel("Open an image to begin.")
        self.weights = WeightsFlow(
            self, self.session, self.worker, self.settings, opener=opener, say=self.say, show_error=self.show_error
        )
        self.weights.switched.connect(lambda _source: self._start_ladder())
        self._build_views()
        self.exports = Exports(self, self.session, self.settings, self.rd_plot, self.say, self.show_error)
        self.opening = Opening(self)
        self.commands = ActionTable(self, window_actions(self))
        self.quality_actions = quality_actions(self, self.session.select)
        self.menus = build_menus(
            self.menuBar(),
            self.commands,
            {
                "@recent": self._add_recent_menu,
                "@samples": self.opening.fill_samples,
                "@docks": lambda menu: menu.addActions([d.toggleViewAction() for d in self.docks]),
                "@qualities": lambda menu: menu.addActions(list(self.quality_actions.values())),
            },
        )
        self.toolbar = self.addToolBar("Main")
        self.toolbar.setObjectName("toolbar-main")
        self.toolbar.setMovable(False)
        build_toolbar(self.toolbar, self.commands, self.menus["Samples"], self.quality_actions)
        self._build_statusbar()
        self._restore_settings()

        events = self.session.events
        events.opened.connect(self._on_opened)
        for event in (events.ladder_started, events.result_added, events.baselines_changed, events.finished):
            event.connect(lambda _value: self.commands.update())
        events.selection_changed.connect(self._on_selection)
        self.weights.start(source)
        self.session.select(self.session.selected)

    # ================================================================================ construction

    def _build_views(self) -> None:
        self.sync = ViewSync(self)
        self.compare = CompareView(self.session, self.sync)
        self.split = SplitView(self.session, self.sync)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.compare, "All qualities")
        self.tabs.addTab(self.split, "Split compare")
        self.tabs.setTabToolTip(0, "The original and all 8 qualities side by side (G)")
        self.tabs.setTabToolTip(1, "Two images with a draggable divider, or their difference (S)")

        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.weights.banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.rd_plot = RdPlot(self.session)
        self.latent_view = LatentView(self.session)
        self.explanation = ExplanationPanel(self.session)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.rd_dock = self._dock("Rate–distortion", "rd", self.rd_plot, right)
        self.explanation_dock = self._dock("What am I looking at?", "explanation", self.explanation, right)
        self.latent_dock = self._dock("Where the bits go", "latent", self.latent_view, right)
        self.docks = (self.rd_dock, self.latent_dock, self.explanation_dock)
        self.tabifyDockWidget(self.explanation_dock, self.latent_dock)
        self.explanation_dock.raise_()
        self.resizeDocks([self.rd_dock], [460], Qt.Orientation.Horizontal)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{name}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _add_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.opening.fill_recent(self.recent_menu))

    def _build_statusbar(self) -> None:
        status = self.statusBar()
        status.addWidget(self.status_label, 1)
        self.progress = JobProgress(self.commands["stop"])
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.weights.label)

    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, (QByteArray, bytes)) and not self.restoreGeometry(QByteArray(geometry)):
            geometry = None
        if not geometry:
            screen = self.screen().availableGeometry() if self.screen() is not None else None
            width, height = (screen.width(), screen.height()) if screen is not None else (1440, 900)
            self.resize(QSize(min(1440, int(width * 0.92)), min(900, int(height * 0.9))))
        state = self.settings.value("window/state")
        if isinstance(state, (QByteArray, bytes)):
            self.restoreState(QByteArray(state))
        metric = "ms-ssim" if str(self.settings.value("view/metric", "psnr")) == "ms-ssim" else "psnr"
        self.commands["metric"].setChecked(metric == "ms-ssim")
        self.rd_plot.set_metric(metric)
        kind = "estimated" if str(self.settings.value("view/bpp_kind", "real")) == "estimated" else "real"
        self.commands["bpp"].setChecked(kind == "estimated")
        self.rd_plot.set_bpp_kind(kind)
        self.rd_plot.metricChanged.connect(lambda metric: self.commands["metric"].setChecked(metric == "ms-ssim"))
        self.rd_plot.bppKindChanged.connect(lambda kind: self.commands["bpp"].setChecked(kind == "estimated"))

    # ================================================================================ opening

    def open_path(self, path: str | Path) -> bool:
        """Open an image (read in the worker, then compressed at every quality) or an .lci file (decoded).

        False when an .lci file cannot even be read; an unreadable image is reported when the worker finds out.
        """
        path = Path(path)
        if is_lci(path):
            try:
                data = path.read_bytes()
            except OSError as exc:
                self.show_error("Could not open the .lci file", f"{path}: {exc.strerror or exc}")
                return False
            self.opening.remember(path)
            return self.open_lci_bytes(data, path.name)
        self._start_view_job(LoadJob(path=path))
        return True

    def open_qimage(self, qimage: QImage, name: str) -> bool:
        """A picture without a file (pasted, dropped), converted in the worker; measured against raw RGB."""
        self._start_view_job(LoadJob(qimage=QImage(qimage), name=name))
        return True

    def _start_view_job(self, job: LoadJob | LadderJob | DecodeJob) -> None:
        """Start the job for what is shown; the one it replaces (same lane) is cancelled and its tiles say so."""
        if self.session.pending and not isinstance(job, LadderJob):
            self.session.finish("cancelled")
        self.view_job = self.worker.start(job)
        self.commands.update()

    def _on_image_loaded(self, job_id: int, loaded: LoadedImage) -> None:
        if job_id != self.view_job:
            return
        if loaded.path is not None:
            self.opening.remember(loaded.path)
        self.show_image(loaded.image, loaded.path, loaded.basis)

    def paste(self) -> bool:
        """Open what the clipboard holds: an image, a file URL, or a path as text."""
        return self.opening.paste()

    def open_lci_bytes(self, data: bytes, name: str) -> bool:
        sources = (self.session.source,) if self.session.source is not None else ()
        self.session.open_loading(f"Decoding {name}…")
        self.setWindowTitle(f"{name} — LCI Studio")
        self._start_view_job(DecodeJob(data, name, sources))
        return True

    def show_image(self, image: RgbImage, path: Path | None = None, basis: SizeBasis | None = None) -> None:
        """Show an image and start the ladder on it (the running job, if any, is cancelled)."""
        self.session.open_image(image, path, basis)
        self.setWindowTitle(f"{image.name} — LCI Studio")
        if self.session.source is None:
            self.view_job = None
            self.session.start_ladder((), unavailable="no weights:\nchoose them in Settings")
            self.weights.show_missing()
        else:
            self._start_ladder()

    def _start_ladder(self) -> None:
        session = self.session
        if session.image is None or session.source is None:
            return
        qualities = tuple(session.source.qualities())
        self._start_view_job(LadderJob(session.image, session.source, baselines=self._with_baselines))
        session.start_ladder(qualities, unavailable=f"not available from\n{session.source.describe()}")
        self.say(
            f"Compressing {session.image.name} at {len(qualities)} quality levels"
            + (", then JPEG and WebP for comparison…" if self._with_baselines else "…")
        )
        selected = session.selected if session.selected is not None else 4
        if qualities and selected not in qualities:
            session.select(min(qualities, key=lambda q: abs(q - selected)))

    def _on_opened(self, session: Session) -> None:
        if self.lci_info_dialog is not None:
            self.lci_info_dialog.hide()
        self.commands.update()

    def dragEnterEvent(self, event) -> None:
        if self.opening.accepts(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        event.acceptProposedAction()
        self.opening.drop(event.mimeData())

    # ================================================================================ worker signals

    def computing(self) -> bool:
        """A job for what is shown is running."""
        return self.view_job is not None and self.worker.is_current(self.view_job)

    def _on_job_started(self, job_id: int, kind: str, total: int) -> None:
        if job_id == self.view_job:
            self.progress.start(kind, total)
            self.commands.update()

    def _on_progress(self, job_id: int, done: int, total: int, text: str) -> None:
        if job_id == self.view_job:
            self.progress.step(done, total, text)

    def _on_result(self, job_id: int, result: QualityResult) -> None:
        if job_id != self.view_job or self.session.image is None:
            return  # a late result of an image that is no longer shown
        self.session.add_result(result)
        if result.quality == self.session.selected:
            self._on_selection(result.quality)  # its numbers for the status bar
        self.resultAdded.emit(result)

    def _on_baselines(self, job_id: int, points: list) -> None:
        if job_id == self.view_job:
            self.session.set_baselines(points)

    def _on_lci_decoded(self, job_id: int, decoded: DecodedLci) -> None:
        if job_id != self.view_job:
            return
        self.session.set_decoded(decoded)
        self.tabs.setCurrentWidget(self.split)  # one image: show it large
        self.show_lci_info()
        self.say(f"{decoded.name}: {decoded.header.describe()}")
        self.commands.update()
        self.lciOpened.emit(decoded)

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if job_id != self.view_job:
            return
        self.session.finish("failed", title)
        self.show_error(title, message)

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if job_id != self.view_job:
            return
        elapsed = self.progress.finish()
        if outcome != "failed":  # a failure was told to the session with its title
            self.session.finish(outcome)
        if outcome == "done" and self.session.image is not None:
            self.say(
                f"{self.session.image.name}: {len(self.session.results)} qualities in {elapsed:.1f} s. "
                "Keys 1–8 pick a quality; wheel zooms, drag pans."
            )
        elif outcome == "cancelled":
            self.say("Stopped.")
        self.commands.update()
        self.ladderFinished.emit(outcome)

    def stop(self) -> None:
        """Stop the running ladder or decoding (Esc)."""
        if self.view_job is not None:
            self.worker.cancel(self.view_job)

    # ================================================================================== view

    def _on_selection(self, quality: int | None) -> None:
        """The status bar, the quality buttons and Settings follow the session's selection."""
        if quality is not None:
            self.quality_actions[quality].setChecked(True)
            result = self.session.results.get(quality)
            if result is not None:
                psnr = "∞" if math.isinf(result.psnr) else f"{result.psnr:.2f}"
                self.say(
                    f"Quality {quality}: {result.bpp:.3f} bpp, {format_kb(result.file_bytes)} "
                    f"({result.ratio_to_raw:.0f}:1 against raw), PSNR {psnr} dB, MS-SSIM {result.ms_ssim:.4f}, "
                    f"{result.active_channels} of {result.info.M} channels carry bits"
                )
            self.settings.setValue("view/selected", quality)
        self.commands.update()

    def swap_sides(self) -> None:
        self.tabs.setCurrentWidget(self.split)
        self.split.swap()

    def toggle_difference(self) -> None:
        self.tabs.setCurrentWidget(self.split)
        self.split.toggle_difference()

    def plot_ms_ssim(self, on: bool) -> None:
        metric = "ms-ssim" if on else "psnr"
        if self.rd_plot.current_metric() != metric:
            self.rd_plot.set_metric(metric)
        self.settings.setValue("view/metric", metric)

    def plot_estimated_bpp(self, on: bool) -> None:
        kind = "estimated" if on else "real"
        if self.rd_plot.current_bpp_kind() != kind:
            self.rd_plot.set_bpp_kind(kind)
        self.settings.setValue("view/bpp_kind", kind)

    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # ================================================================================ dialogs

    def say(self, text: str) -> None:
        """One line in the status bar."""
        self.status_label.setText(text)

    def show_error(self, title: str, message: str) -> None:
        """A readable error; the window keeps running."""
        self.say(f"{title}.")
        QMessageBox.warning(self, title, message)

    def show_lci_info(self) -> None:
        d = self.session.decoded
        if d is None:
            return
        if self.lci_info_dialog is None:
            self.lci_info_dialog = LciInfoDialog(self)
        self.lci_info_dialog.set_file(d.name, len(d.data), d.header, d.info.describe(), d.decode_seconds)
        self.lci_info_dialog.show()
        self.lci_info_dialog.raise_()

    def show_about(self) -> None:
        source = self.session.source
        weights = source.describe() if source is not None else f"none ({self.session.source_error})"
        QMessageBox.about(self, "About LCI Studio", about_html(weights))

    def open_demo(self) -> None:
        """Demo mode (F11): one large picture and a big quality slider, full screen; Esc leaves."""
        from lci_studio.gui.panels.demo import DemoWindow

        if self.demo is None:
            self.demo = DemoWindow(self.session)
            self.demo.setWindowIcon(self.windowIcon())
        self.demo.present()

    # ================================================================================ lifecycle

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        if self.demo is not None:
            self.demo.close()
        if self.lci_info_dialog is not None:
            self.lci_info_dialog.close()
        self.progress.finish()
        self.worker.shutdown()
        super().closeEvent(event)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Process events until no job runs (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while self.worker.busy() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.005)
        return not self.worker.busy()
