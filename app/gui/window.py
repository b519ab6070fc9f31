"""The LCI Studio main window: open an image, watch every quality arrive, compare, explain, export.

Orchestration only: pixels, bits and numbers come from `lci_studio.codec` through the background
`CodecWorker`; the widgets draw them. Everything slow runs in the worker, so the window stays
responsive while the ladder runs.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import lci_studio
import numpy as np
from lci_studio.codec import image_io, report
from lci_studio.codec.image_io import IMAGE_SUFFIXES, ImageReadError, RgbImage
from lci_studio.codec.insight import format_kb
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.lci_format import MAGIC
from lci_studio.codec.weights import CompressAISource, WeightsError, open_weight_source
from lci_studio.gui.dialogs import LciInfoDialog, SettingsDialog, about_html
from lci_studio.gui.panels.compare import CompareView, ViewSync
from lci_studio.gui.panels.explanation import ExplanationPanel
from lci_studio.gui.panels.latent import LatentView
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.gui.panels.split import SplitView
from lci_studio.gui.worker import CodecWorker, readable
from lci_studio.session import DecodedLci, Session, SizeBasis
from PySide6.QtCore import QBuffer, QByteArray, QElapsedTimer, QIODevice, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QIcon, QImage, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

QUALITIES = tuple(range(1, 9))
MAX_RECENT = 10
ORGANIZATION = "LCI Studio"
APPLICATION = "LCI Studio"


def resources_dir() -> Path:
    """`resources/` of the installed package (lci_studio.resources) or of the source checkout."""
    try:
        from importlib.resources import files

        candidate = files("lci_studio.resources")
        if isinstance(candidate, Path):
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(lci_studio.__file__).resolve().parents[1] / "resources"


def sample_images() -> list[Path]:
    folder = resources_dir() / "samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def app_icon() -> QIcon:
    path = resources_dir() / "icons" / "lci-studio.svg"
    return QIcon(str(path)) if path.is_file() else QIcon()


def is_lci(path: Path) -> bool:
    if path.suffix.lower() == ".lci":
        return True
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _settings_list(settings: QSettings, key: str) -> list[str]:
    value = settings.value(key, [])
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


class MainWindow(QMainWindow):
    """The window. Its state is `session` (picture, weights, results, selection; see `Session`),
    which every panel draws; besides it `view_job` (id of the job whose results are shown) and the
    panels `compare`, `split`, `rd_plot`, `latent_view`, `explanation`, `demo` (None until opened).
    """

    resultAdded = Signal(object)  # QualityResult accepted for the current image
    ladderFinished = Signal(str)  # outcome of the current image's ladder job
    lciOpened = Signal(object)  # DecodedLci

    def __init__(
        self,
        source=None,
        *,
        settings: QSettings | None = None,
        opener: Callable = open_weight_source,
        baselines: bool = True,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings(ORGANIZATION, APPLICATION)
        self._opener = opener
        self._with_baselines = baselines
        self.worker = CodecWorker(self)
        self.worker.jobStarted.connect(self._on_job_started)
        self.worker.progress.connect(self._on_progress)
        self.worker.resultReady.connect(self._on_result)
        self.worker.baselinesReady.connect(self._on_baselines)
        self.worker.lciDecoded.connect(self._on_lci_decoded)
        self.worker.sourceReady.connect(self._on_source_ready)
        self.worker.failed.connect(self._on_failed)
        self.worker.jobFinished.connect(self._on_job_finished)

        selected = int(self.settings.value("view/selected", 4) or 4)
        self.session = Session(selected if selected in QUALITIES else 4)
        self.view_job: int | None = None
        self._download_job: int | None = None
        self._download_dialog: QProgressDialog | None = None
        self._pending_source: tuple | None = None
        self._job_clock = QElapsedTimer()
        self._job_text = ""
        self._job_total = 0
        self._job_done = 0
        self.demo = None
        self.lci_info_dialog: LciInfoDialog | None = None

        self.setWindowTitle("LCI Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self._build_views()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_statusbar()
        self._restore_settings()
        events = self.session.events
        events.opened.connect(self._on_opened)
        events.result_added.connect(lambda result: self._update_actions())
        events.selection_changed.connect(self._on_selection)

        if source is not None:
            self._adopt_source(source, persist=False)
        else:
            spec = str(self.settings.value("weights/spec", "bundled") or "bundled")
            metric = str(self.settings.value("weights/metric", "mse") or "mse")
            try:
                self._adopt_source(self.worker_source(spec, metric), persist=False)
            except WeightsError as exc:
                self._set_no_source(readable(exc))
        self.session.select(self.session.selected)
        self._update_actions()

        self._tick = QTimer(self)
        self._tick.setInterval(200)
        self._tick.timeout.connect(self._update_progress_text)

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

        self.banner = QFrame()
        self.banner.setObjectName("banner")
        self.banner_label = QLabel()
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        self.banner_button = QPushButton("Choose weights…")
        self.banner_button.clicked.connect(self.open_settings)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.banner_label, 1)
        row.addWidget(self.banner_button)
        self.banner.hide()

        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.rd_plot = RdPlot(self.session)
        self.latent_view = LatentView(self.session)
        self.explanation = ExplanationPanel(self.session)
        self.rd_dock = self._dock("Rate–distortion", "rd", self.rd_plot, Qt.DockWidgetArea.RightDockWidgetArea)
        self.explanation_dock = self._dock(
            "What am I looking at?", "explanation", self.explanation, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.latent_dock = self._dock(
            "Where the bits go", "latent", self.latent_view, Qt.DockWidgetArea.RightDockWidgetArea
        )
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

    def _action(self, text: str, slot, shortcut=None, tip: str = "", checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            if isinstance(shortcut, (list, tuple)):
                action.setShortcuts([QKeySequence(s) if isinstance(s, str) else s for s in shortcut])
            else:
                action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        (action.toggled if checkable else action.triggered).connect(slot)
        self.addAction(action)  # shortcuts work wherever focus is in the window
        return action

    def _build_actions(self) -> None:
        key = QKeySequence.StandardKey
        self.act_open = self._action("&Open…", self.open_dialog, key.Open, "Open an image or an .lci file")
        self.act_paste = self._action("&Paste Image", self.paste, key.Paste, "Compress the image on the clipboard")
        self.act_copy = self._action(
            "&Copy Reconstruction", self.copy_selected, key.Copy, "Copy the selected quality's image"
        )
        self.act_export_lci = self._action(
            "Selected Quality as .&lci…",
            self.export_selected_lci_dialog,
            key.Save,
            "Save the selected quality as an .lci file",
        )
        self.act_export_all = self._action(
            "&All Qualities as .lci…", self.export_all_lci_dialog, "Ctrl+Shift+S", "Save every quality into a folder"
        )
        self.act_export_png = self._action("Reconstruction as &PNG…", self.export_png_dialog, "Ctrl+E")
        self.act_export_csv = self._action("RD Data as &CSV…", lambda: self._export_dialog("csv"))
        self.act_export_json = self._action(
            "RD Data as &JSON (CompressAI format)…", lambda: self._export_dialog("json")
        )
        self.act_export_plot = self._action("RD &Plot as PNG…", lambda: self._export_dialog("plot"))
        self.act_settings = self._action("&Settings…", self.open_settings, key.Preferences, "Choose the weights")
        self.act_settings.setMenuRole(QAction.MenuRole.PreferencesRole)
        self.act_quit = self._action("&Quit", self.close, key.Quit)
        self.act_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.act_stop = self._action("S&top", self.stop, "Esc", "Stop computing")
        self.act_info = self._action(
            ".lci File &Info", self.show_lci_info, "Ctrl+I", "What the open .lci file says about itself"
        )

        self.act_fit = self._action("&Fit to View", self.compare.fit, ["Ctrl+0", "F"], "Show the whole image (F)")
        self.act_actual = self._action(
            "&Actual Pixels (100%)", self.compare.actual_size, "Ctrl+1", "One image pixel per screen pixel"
        )
        self.act_zoom_in = self._action(
            "Zoom &In", lambda: self.compare.zoom_by(1.5), [QKeySequence.StandardKey.ZoomIn, "+", "="]
        )
        self.act_zoom_out = self._action(
            "Zoom &Out", lambda: self.compare.zoom_by(1 / 1.5), [QKeySequence.StandardKey.ZoomOut, "-"]
        )
        self.act_grid = self._action("All &Qualities Grid", lambda: self.tabs.setCurrentIndex(0), "G")
        self.act_split = self._action("&Split Compare", lambda: self.tabs.setCurrentIndex(1), "S")
        self.act_swap = self._action("S&wap Sides", self._swap_sides, "X", "Swap the two sides of the split view (X)")
        self.act_diff = self._action("&Difference View", self._toggle_difference, "D", "Show the amplified error (D)")
        self.act_metric = self._action("Plot &MS-SSIM instead of PSNR", self._toggle_metric, "M", checkable=True)
        self.act_bpp = self._action(
            "Plot &Estimated bpp (model) instead of real", self._toggle_bpp, "B", checkable=True
        )
        self.act_demo = self._action(
            "&Demo Mode", self.open_demo, "F11", "Full-screen presentation with a big quality slider"
        )
        fullscreen = [
            k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.FullScreen) if k != QKeySequence("F11")
        ]
        self.act_fullscreen = self._action("&Full Screen", self._toggle_fullscreen, fullscreen or "Ctrl+Shift+F")

        self.quality_group = QActionGroup(self)
        self.quality_group.setExclusive(True)
        self.act_quality: dict[int, QAction] = {}
        for q in QUALITIES:
            action = QAction(f"{q}", self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(str(q)))
            action.setToolTip(f"Select quality {q} (key {q})")
            action.setStatusTip(f"Select quality {q}")
            action.triggered.connect(lambda _checked=False, q=q: self.session.select(q))
            self.quality_group.addAction(action)
            self.addAction(action)
            self.act_quality[q] = action
        self.act_next = self._action("&Next Quality", lambda: self.session.step(1), ["]", "Ctrl+Right"])
        self.act_prev = self._action("&Previous Quality", lambda: self.session.step(-1), ["[", "Ctrl+Left"])
        self.act_about = self._action("&About LCI Studio", self.show_about)
        self.act_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.act_about_qt = self._action("About &Qt", QApplication.aboutQt)

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction(self.act_paste)
        file_menu.addSeparator()
        export = file_menu.addMenu("&Export")
        for action in (self.act_export_lci, self.act_export_all, self.act_export_png):
            export.addAction(action)
        export.addSeparator()
        for action in (self.act_export_csv, self.act_export_json, self.act_export_plot):
            export.addAction(action)
        self.export_menu = export
        file_menu.addAction(self.act_info)
        file_menu.addSeparator()
        file_menu.addAction(self.act_settings)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)

        edit = bar.addMenu("&Edit")
        edit.addAction(self.act_copy)
        edit.addAction(self.act_paste)
        edit.addSeparator()
        edit.addAction(self.act_stop)

        self.samples_menu = bar.addMenu("S&amples")
        self._fill_samples(self.samples_menu)

        view = bar.addMenu("&View")
        for action in (self.act_grid, self.act_split):
            view.addAction(action)
        view.addSeparator()
        for action in (self.act_fit, self.act_actual, self.act_zoom_in, self.act_zoom_out):
            view.addAction(action)
        view.addSeparator()
        view.addAction(self.act_swap)
        view.addAction(self.act_diff)
        view.addSeparator()
        view.addAction(self.act_metric)
        view.addAction(self.act_bpp)
        view.addSeparator()
        panels = view.addMenu("&Panels")
        for dock in (self.rd_dock, self.latent_dock, self.explanation_dock):
            panels.addAction(dock.toggleViewAction())
        view.addSeparator()
        view.addAction(self.act_demo)
        view.addAction(self.act_fullscreen)

        quality = bar.addMenu("&Quality")
        for q in QUALITIES:
            self.act_quality[q].setText(f"Quality &{q}")
            self.act_quality[q].setIconText(str(q))
            quality.addAction(self.act_quality[q])
        quality.addSeparator()
        quality.addAction(self.act_next)
        quality.addAction(self.act_prev)

        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.act_about)
        help_menu.addAction(self.act_about_qt)

    def _build_toolbar(self) -> None:
        tools = self.addToolBar("Main")
        tools.setObjectName("toolbar-main")
        tools.setMovable(False)
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tools.addAction(self.act_open)
        samples = QToolButton()
        samples.setText("Samples")
        samples.setMenu(self.samples_menu)
        samples.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        samples.setToolTip("Open one of the bundled photos")
        tools.addWidget(samples)
        tools.addSeparator()
        tools.addWidget(QLabel(" Quality: "))
        for q in QUALITIES:
            tools.addAction(self.act_quality[q])
            button = tools.widgetForAction(self.act_quality[q])
            if button is not None:
                button.setMinimumWidth(28)
        tools.addSeparator()
        tools.addAction(self.act_fit)
        tools.addAction(self.act_actual)
        tools.addSeparator()
        tools.addAction(self.act_grid)
        tools.addAction(self.act_split)
        tools.addSeparator()
        tools.addAction(self.act_demo)
        tools.addAction(self.act_settings)
        self.toolbar = tools
        for action, text in (
            (self.act_fit, "Fit"),
            (self.act_actual, "100%"),
            (self.act_grid, "Grid"),
            (self.act_split, "Split"),
            (self.act_demo, "Demo"),
            (self.act_settings, "Weights…"),
            (self.act_open, "Open…"),
        ):
            action.setIconText(text)  # what tool buttons show; menus keep the full text

    def _build_statusbar(self) -> None:
        status = self.statusBar()
        self.status_label = QLabel("Open an image to begin.")
        status.addWidget(self.status_label, 1)
        self.progress = QProgressBar()
        self.progress.setFixedWidth(340)
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.stop_button = QToolButton()
        self.stop_button.setDefaultAction(self.act_stop)
        self.stop_button.setText("Stop")
        self.stop_button.hide()
        self.weights_label = QLabel()
        status.addPermanentWidget(self.progress)
        status.addPermanentWidget(self.stop_button)
        status.addPermanentWidget(self.weights_label)

    def _fill_samples(self, menu: QMenu) -> None:
        menu.clear()
        samples = sample_images()
        for path in samples:
            action = menu.addAction(path.stem.replace("_", " ").title())
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if not samples:
            menu.addAction("No samples installed").setEnabled(False)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = [p for p in _settings_list(self.settings, "recent") if Path(p).exists()]
        for path in recent:
            action = self.recent_menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.setToolTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_path(p))
        if not recent:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Recent", lambda: self.settings.setValue("recent", []))

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
        metric = str(self.settings.value("view/metric", "psnr"))
        self.act_metric.setChecked(metric == "ms-ssim")
        self.rd_plot.set_metric("ms-ssim" if metric == "ms-ssim" else "psnr")
        bpp_kind = str(self.settings.value("view/bpp_kind", "real"))
        self.act_bpp.setChecked(bpp_kind == "estimated")
        self.rd_plot.set_bpp_kind("estimated" if bpp_kind == "estimated" else "real")
        if hasattr(self.rd_plot, "metricChanged"):
            self.rd_plot.metricChanged.connect(self._plot_metric_changed)
            self.rd_plot.bppKindChanged.connect(self._plot_bpp_changed)

    # ================================================================================== weights

    def worker_source(self, spec: str, metric: str):
        """The worker's weight source for a choice (cheap: nothing is loaded until a quality is needed)."""
        return self.worker.source(spec, metric, self._opener)

    def _adopt_source(self, source, persist: bool = True) -> None:
        self.worker.keep_source(source)
        self.session.set_source(source)
        self.banner.hide()
        self.weights_label.setText(f"Weights: {source.describe()}")
        self.weights_label.setToolTip(source.describe())
        if persist:
            spec = source.kind if source.kind in ("bundled", "compressai") else source.label
            self.settings.setValue("weights/spec", spec)
            self.settings.setValue("weights/metric", source.metric)

    def _set_no_source(self, reason: str) -> None:
        self.session.set_source(None, reason)
        self.banner_label.setText(f"No weights to compress with. {reason}")
        palette = self.palette()
        self.banner.setStyleSheet(
            f"QFrame#banner {{ background: {palette.color(QPalette.ColorRole.ToolTipBase).name()}; "
            f"color: {palette.color(QPalette.ColorRole.ToolTipText).name()}; }}"
            f"QFrame#banner QLabel {{ color: {palette.color(QPalette.ColorRole.ToolTipText).name()}; }}"
        )
        self.banner.show()
        self.weights_label.setText("Weights: none (see Settings)")
        self.status_label.setText("Choose weights in Settings (Ctrl+,) to compress images.")

    def open_settings(self) -> None:
        spec = str(self.settings.value("weights/spec", "bundled") or "bundled")
        metric = str(self.settings.value("weights/metric", "mse") or "mse")
        dialog = SettingsDialog(spec, metric, self, last_folder=str(self.settings.value("weights/folder", "") or ""))
        if dialog.exec() != SettingsDialog.DialogCode.Accepted:
            return
        spec, metric = dialog.choice()
        if spec not in ("bundled", "compressai"):
            self.settings.setValue("weights/folder", spec)
        self.apply_weights(spec, metric)

    def apply_weights(self, spec: str, metric: str = "mse") -> bool:
        """Switch to other weights; on any failure keep the previous ones and say why. True when switched now."""
        previous = self.session.source.describe() if self.session.source is not None else "no weights"
        try:
            source = self.worker_source(spec, metric)
        except WeightsError as exc:
            self.show_error("Could not use these weights", f"{exc}\n\nStill using {previous}.")
            return False
        if isinstance(source, CompressAISource) and not all(source.is_cached(q) for q in source.qualities()):
            self._start_download(source, previous)
            return False
        self._switch_to(source)
        return True

    def _switch_to(self, source) -> None:
        self._adopt_source(source, persist=True)
        self.status_label.setText(f"Now using {source.describe()}.")
        if self.session.image is not None:
            self._start_ladder()

    def _start_download(self, source, previous: str) -> None:
        self._pending_source = (source, previous)
        self._download_job = self.worker.start_download(source)
        dialog = QProgressDialog(f"Downloading {source.describe()}…", "Cancel", 0, len(source.qualities()), self)
        dialog.setWindowTitle("Downloading weights")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(0)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(lambda job=self._download_job: self.worker.cancel(job))
        dialog.show()
        self._download_dialog = dialog

    def _close_download_dialog(self) -> None:
        if self._download_dialog is not None:
            self._download_dialog.blockSignals(True)
            self._download_dialog.close()
            self._download_dialog.deleteLater()
            self._download_dialog = None

    def _on_source_ready(self, job_id: int, source) -> None:
        if job_id != self._download_job or self._pending_source is None:
            return
        self._pending_source = None
        self._close_download_dialog()
        self._switch_to(source)

    # ================================================================================== opening

    def open_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        start = str(self.settings.value("open/dir", str(Path.home())) or Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open an image or .lci file",
            start,
            f"Images and .lci files ({patterns} *.lci);;Images ({patterns});;LCI files (*.lci);;All files (*)",
        )
        if path:
            self.settings.setValue("open/dir", str(Path(path).parent))
            self.open_path(path)

    def open_path(self, path) -> bool:
        """Open an image (compress it at every quality) or an .lci file (decode and describe it)."""
        path = Path(path)
        if is_lci(path):
            try:
                data = path.read_bytes()
            except OSError as exc:
                self.show_error("Could not open the .lci file", f"{path}: {exc.strerror or exc}")
                return False
            self._remember(path)
            return self.open_lci_bytes(data, path.name)
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            image = image_io.load_rgb(path)
        except ImageReadError as exc:
            QApplication.restoreOverrideCursor()
            self.show_error("Could not open the image", str(exc))
            return False
        QApplication.restoreOverrideCursor()
        self._remember(path)
        self.show_image(image, path)
        return True

    def open_lci_bytes(self, data: bytes, name: str) -> bool:
        sources = [self.session.source] if self.session.source is not None else []
        self.session.open_loading(f"Decoding {name}…")
        self.setWindowTitle(f"{name} — LCI Studio")
        self.view_job = self.worker.start_decode(data, name, sources)
        self._update_actions()
        return True

    def show_image(self, image: RgbImage, path: Path | None = None, basis: SizeBasis | None = None) -> None:
        """Show an image and start the ladder on it (the running job, if any, is cancelled)."""
        self.session.open_image(image, path, basis)
        self.setWindowTitle(f"{image.name} — LCI Studio")
        if self.session.source is None:
            self.view_job = None
            self.session.start_ladder((), unavailable="no weights:\nchoose them in Settings")
            self.show_weights_problem()
        else:
            self._start_ladder()
        self._update_actions()

    def show_weights_problem(self) -> None:
        self._set_no_source(self.session.source_error or "No weights are selected.")

    def _start_ladder(self) -> None:
        session = self.session
        if session.image is None or session.source is None:
            return
        qualities = tuple(session.source.qualities())
        self.view_job = self.worker.start_ladder(session.image, session.source, baselines=self._with_baselines)
        session.start_ladder(qualities, unavailable=f"not available from\n{session.source.describe()}")
        self.status_label.setText(
            f"Compressing {session.image.name} at {len(qualities)} quality levels"
            + (", then JPEG and WebP for comparison…" if self._with_baselines else "…")
        )
        selected = session.selected if session.selected is not None else 4
        if qualities and selected not in qualities:
            session.select(min(qualities, key=lambda q: abs(q - selected)))
        self._update_actions()

    def _on_opened(self, session: Session) -> None:
        if self.lci_info_dialog is not None:
            self.lci_info_dialog.hide()
        self._update_actions()

    def paste(self) -> bool:
        """Open what the clipboard holds: an image, a file URL, or a path as text."""
        mime = QApplication.clipboard().mimeData()
        if mime is None:
            return False
        if mime.hasUrls():
            files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
            if files:
                return self.open_path(files[0])
        if mime.hasImage():
            qimage = QApplication.clipboard().image()
            if not qimage.isNull():
                return self.open_qimage(qimage, "pasted image")
        text = mime.text().strip() if mime.hasText() else ""
        if text and Path(text).expanduser().is_file():
            return self.open_path(Path(text).expanduser())
        self.status_label.setText("The clipboard holds no image.")
        return False

    def open_qimage(self, qimage: QImage, name: str) -> bool:
        buffer = QBuffer()
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        qimage.save(buffer, "PNG")
        try:
            image = image_io.load_rgb(bytes(buffer.data()))
        except ImageReadError as exc:
            self.show_error("Could not open the pasted image", str(exc))
            return False
        pasted = RgbImage(image.pixels, None, name)  # no file: the PNG made here would only measure Qt's encoder
        self.show_image(pasted, basis=SizeBasis.of(pasted, origin=f"{name.split()[0]}, no file"))
        return True

    def _remember(self, path: Path) -> None:
        path_text = str(Path(path).resolve())
        recent = [p for p in _settings_list(self.settings, "recent") if p != path_text]
        self.settings.setValue("recent", [path_text, *recent][:MAX_RECENT])

    # ---------------------------------------------------------------------------------- drag & drop

    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        mime = event.mimeData()
        files = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        event.acceptProposedAction()
        if files:
            self.open_path(files[0])
        elif mime.hasImage():
            self.open_qimage(QImage(mime.imageData()), "dropped image")

    # ================================================================================ worker signals

    def _on_job_started(self, job_id: int, kind: str, total: int) -> None:
        if job_id == self._download_job and self._download_dialog is not None:
            self._download_dialog.setMaximum(total)
            return
        if job_id != self.view_job:
            return
        self._job_total, self._job_done = total, 0
        self._job_text = {"ladder": "", "decode": "decoding"}.get(kind, kind)
        self._job_clock.start()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self.progress.show()
        self.stop_button.show()
        self._tick.start()
        self._update_progress_text()

    def _on_progress(self, job_id: int, done: int, total: int, text: str) -> None:
        if job_id == self._download_job and self._download_dialog is not None:
            self._download_dialog.setMaximum(total)
            self._download_dialog.setValue(done)
            if text:
                self._download_dialog.setLabelText(f"{text[0].upper()}{text[1:]}…")
            return
        if job_id != self.view_job:
            return
        self._job_done, self._job_total, self._job_text = done, total, text
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self._update_progress_text()

    def _update_progress_text(self) -> None:
        if not self.progress.isVisible() and not self._tick.isActive():
            return
        elapsed = self._job_clock.elapsed() / 1000 if self._job_clock.isValid() else 0.0
        text = f"{self._job_done}/{self._job_total} · {elapsed:.1f} s"
        if self._job_text:
            text += f" · {self._job_text}"
        self.progress.setToolTip(f"{self._job_done} of {self._job_total} done, {elapsed:.1f} s so far")
        self.progress.setFormat(text)

    def _on_result(self, job_id: int, result: QualityResult) -> None:
        if job_id != self.view_job or self.session.image is None:
            return  # a late result of an image that is no longer shown
        self.session.add_result(result)
        if result.quality == self.session.selected:
            self._on_selection(result.quality)  # its numbers for the status bar
        self.resultAdded.emit(result)

    def _on_baselines(self, job_id: int, points: list) -> None:
        if job_id != self.view_job:
            return
        self.session.set_baselines(points)
        self._update_actions()

    def _on_lci_decoded(self, job_id: int, decoded: DecodedLci) -> None:
        if job_id != self.view_job:
            return
        self.session.set_decoded(decoded)
        self.tabs.setCurrentWidget(self.split)  # one image: show it large
        self.show_lci_info()
        self.status_label.setText(f"{decoded.name}: {decoded.header.describe()}")
        self._update_actions()
        self.lciOpened.emit(decoded)

    def _on_failed(self, job_id: int, title: str, message: str) -> None:
        if job_id == self._download_job:
            previous = self._pending_source[1] if self._pending_source else "the previous weights"
            self._pending_source = None
            self._close_download_dialog()
            self.show_error(title, f"{message}\n\nStill using {previous}.")
            return
        if job_id != self.view_job:
            return
        self.session.finish("failed", title)
        self.show_error(title, message)

    def _on_job_finished(self, job_id: int, outcome: str) -> None:
        if job_id == self._download_job:
            self._download_job = None
            if outcome == "cancelled":
                previous = self._pending_source[1] if self._pending_source else "the previous weights"
                self._pending_source = None
                self._close_download_dialog()
                self.status_label.setText(f"Download cancelled; still using {previous}.")
            return
        if job_id != self.view_job:
            return
        self._tick.stop()
        self.progress.hide()
        self.stop_button.hide()
        elapsed = self._job_clock.elapsed() / 1000 if self._job_clock.isValid() else 0.0
        if outcome != "failed":  # a failure was told to the session with its title
            self.session.finish(outcome)
        if outcome == "done" and self.session.image is not None:
            self.status_label.setText(
                f"{self.session.image.name}: {len(self.session.results)} qualities in {elapsed:.1f} s. "
                "Keys 1–8 pick a quality; wheel zooms, drag pans."
            )
        elif outcome == "cancelled":
            self.status_label.setText("Stopped.")
        self._update_actions()
        self.ladderFinished.emit(outcome)

    def stop(self) -> None:
        """Stop the running ladder or decoding (Esc)."""
        if self.view_job is not None:
            self.worker.cancel(self.view_job)

    # ================================================================================== selection

    def _on_selection(self, quality: int | None) -> None:
        """The status bar, the quality buttons and Settings follow the session's selection."""
        if quality is None:
            self._update_actions()
            return
        self.act_quality[quality].setChecked(True)
        result = self.session.results.get(quality)
        if result is not None:
            psnr = "∞" if math.isinf(result.psnr) else f"{result.psnr:.2f}"
            self.status_label.setText(
                f"Quality {quality}: {result.bpp:.3f} bpp, {format_kb(result.file_bytes)} "
                f"({result.ratio_to_raw:.0f}:1 against raw), PSNR {psnr} dB, MS-SSIM {result.ms_ssim:.4f}, "
                f"{result.active_channels} of {result.info.M} channels carry bits"
            )
        self.settings.setValue("view/selected", quality)
        self._update_actions()

    def _swap_sides(self) -> None:
        self.tabs.setCurrentWidget(self.split)
        self.split.swap()

    def _toggle_difference(self) -> None:
        self.tabs.setCurrentWidget(self.split)
        self.split.toggle_difference()

    def _toggle_metric(self, on: bool) -> None:
        metric = "ms-ssim" if on else "psnr"
        if self.rd_plot.current_metric() != metric:
            self.rd_plot.set_metric(metric)
        self.settings.setValue("view/metric", metric)

    def _toggle_bpp(self, on: bool) -> None:
        kind = "estimated" if on else "real"
        if self.rd_plot.current_bpp_kind() != kind:
            self.rd_plot.set_bpp_kind(kind)
        self.settings.setValue("view/bpp_kind", kind)

    def _plot_metric_changed(self, metric: str) -> None:
        self.act_metric.setChecked(metric == "ms-ssim")

    def _plot_bpp_changed(self, kind: str) -> None:
        self.act_bpp.setChecked(kind == "estimated")

    def _toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _update_actions(self) -> None:
        session = self.session
        selected = session.selected_result is not None
        have_results = bool(session.results)
        self.act_export_lci.setEnabled(selected)
        self.act_export_png.setEnabled(selected or session.decoded is not None)
        self.act_copy.setEnabled(selected or session.decoded is not None)
        self.act_export_all.setEnabled(have_results)
        self.act_export_csv.setEnabled(have_results)
        self.act_export_json.setEnabled(have_results)
        self.act_export_plot.setEnabled(have_results)
        self.act_info.setEnabled(session.decoded is not None)
        self.act_stop.setEnabled(self.view_job is not None and self.worker.is_current(self.view_job))

    # ==================================================================================== export

    def _stem(self) -> str:
        if self.session.image is not None:
            return Path(self.session.image.name).stem.replace(" ", "-") or "image"
        if self.session.decoded is not None:
            return Path(self.session.decoded.name).stem
        return "image"

    def _export_dir(self) -> str:
        path = self.session.image_path
        return str(self.settings.value("export/dir", "") or (path.parent if path else Path.home()))

    def confirm_overwrite(self, paths: list[Path]) -> bool:
        existing = [p for p in paths if p.exists()]
        if not existing:
            return True
        names = "\n".join(p.name for p in existing[:8]) + ("\n…" if len(existing) > 8 else "")
        answer = QMessageBox.question(
            self,
            "Replace existing files?",
            f"{'This file already exists' if len(existing) == 1 else f'{len(existing)} files already exist'} "
            f"in {existing[0].parent}:\n\n{names}\n\nReplace {'it' if len(existing) == 1 else 'them'}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save_path(self, title: str, name: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self,
            title,
            str(Path(self._export_dir()) / name),
            filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return None
        self.settings.setValue("export/dir", str(Path(path).parent))
        return Path(path)

    def _write(self, writes: list[tuple[Path, Callable[[Path], None]]]) -> list[Path]:
        """Run writers after one overwrite question; errors become a dialog. Returns what was written."""
        if not self.confirm_overwrite([p for p, _ in writes]):
            return []
        done: list[Path] = []
        for path, writer in writes:
            try:
                writer(path)
            except OSError as exc:
                self.show_error("Could not save", f"{path}: {exc.strerror or exc}")
                break
            done.append(path)
        if done:
            self.status_label.setText(
                f"Saved {done[0]}" if len(done) == 1 else f"Saved {len(done)} files in {done[0].parent}"
            )
        return done

    def export_selected_lci(self, path) -> bool:
        result = self.session.selected_result
        if result is None:
            return False
        return bool(self._write([(Path(path), lambda p: image_io.atomic_write(p, result.lci))]))

    def export_all_lci(self, folder) -> list[Path]:
        folder = Path(folder)
        writes = [
            (folder / f"{self._stem()}-q{r.quality}.lci", lambda p, r=r: image_io.atomic_write(p, r.lci))
            for r in self.session.ordered_results()
        ]
        return self._write(writes)

    def export_png(self, path) -> bool:
        pixels = self.session.selected_pixels
        if pixels is None:
            return False
        return bool(self._write([(Path(path), lambda p: image_io.save_png(p, pixels))]))

    def export_csv(self, path) -> bool:
        text = report.rd_csv(self.session.results.values(), self.session.baselines)
        return bool(self._write([(Path(path), lambda p: image_io.atomic_write(p, text.encode("utf-8")))]))

    def export_json(self, path) -> bool:
        data = report.rd_json(self.session.results.values(), "bmshj2018-factorized", self._json_description())
        text = json.dumps(data, indent=2) + "\n"
        return bool(self._write([(Path(path), lambda p: image_io.atomic_write(p, text.encode("utf-8")))]))

    def _json_description(self) -> str:
        name = self.session.image.name if self.session.image else "image"
        weights = self.session.source.describe() if self.session.source is not None else "unknown weights"
        return f"LCI Studio {lci_studio.__version__} on {name}, {weights}"

    def export_plot(self, path) -> bool:
        return bool(self._write([(Path(path), lambda p: self.rd_plot.export_png(p))]))

    def export_selected_lci_dialog(self) -> None:
        path = self._save_path(
            "Save quality as .lci", f"{self._stem()}-q{self.session.selected}.lci", "LCI files (*.lci)"
        )
        if path:
            self.export_selected_lci(path.with_suffix(".lci") if not path.suffix else path)

    def export_all_lci_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save every quality as .lci into…", self._export_dir())
        if folder:
            self.settings.setValue("export/dir", folder)
            self.export_all_lci(folder)

    def export_png_dialog(self) -> None:
        path = self._save_path(
            "Save reconstruction as PNG", f"{self._stem()}-q{self.session.selected}.png", "PNG images (*.png)"
        )
        if path:
            self.export_png(path if path.suffix else path.with_suffix(".png"))

    def _export_dialog(self, kind: str) -> None:
        spec = {
            "csv": ("Save RD data as CSV", f"{self._stem()}-rd.csv", "CSV files (*.csv)", self.export_csv),
            "json": ("Save RD data as JSON", f"{self._stem()}-rd.json", "JSON files (*.json)", self.export_json),
            "plot": ("Save the RD plot as PNG", f"{self._stem()}-rd.png", "PNG images (*.png)", self.export_plot),
        }[kind]
        path = self._save_path(*spec[:3])
        if path:
            spec[3](path if path.suffix else path.with_suffix("." + ("png" if kind == "plot" else kind)))

    def copy_selected(self) -> None:
        pixels = self.session.selected_pixels
        if pixels is None:
            return
        data = np.ascontiguousarray(pixels)
        qimage = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_RGB888).copy()
        QApplication.clipboard().setImage(qimage)
        self.status_label.setText(f"Copied quality {self.session.selected} to the clipboard.")

    # ================================================================================ dialogs

    def show_error(self, title: str, message: str) -> None:
        """A readable error; the window keeps running."""
        self.status_label.setText(f"{title}.")
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
        self._tick.stop()
        self.worker.shutdown()
        super().closeEvent(event)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Process events until no job runs (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while self.worker.busy() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.005)
        return not self.worker.busy()
