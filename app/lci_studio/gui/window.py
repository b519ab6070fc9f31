"""The LCI Studio main window: the shell around the session's panels (docks, tabs, status bar).

The state is the `Session` (what is shown) and the `ViewState` (how: tab, plot metric and size, the grid's
classical column, the split's sides, the telling detail); the panels (app/lci_studio/gui/panels) draw
them. The window builds the panels and its collaborators, hands each the few objects it uses (none
gets the window), binds the tabs to the view state and keeps the status bar in step with the
selection. Beside it: the jobs behind what is shown in view_jobs.py, the commands and their menus in
actions.py, exports in exports.py, the weights and downloads in weights_flow.py, opening files, the
clipboard and drops in opening.py, the status line and error dialogs in messages.py, and what is
remembered of the view in view_settings.py.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt
from PySide6.QtGui import QActionGroup, QIcon, QResizeEvent
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

from lci_studio.codec.glossary import caption_tip, tip
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS, values_text
from lci_studio.codec.number_format import format_kb, format_ratio
from lci_studio.codec.weights import WeightSource, open_weight_source
from lci_studio.gui.actions import ActionTable, build_menus, build_toolbar, quality_actions, window_actions
from lci_studio.gui.dialogs import LciInfoDialog, about_html
from lci_studio.gui.exports import Exports
from lci_studio.gui.messages import Messages
from lci_studio.gui.opening import Opening, RecentFiles
from lci_studio.gui.panels.classical_pictures import ClassicalPictures
from lci_studio.gui.panels.compare import CompareView
from lci_studio.gui.panels.explanation import ExplanationPanel
from lci_studio.gui.panels.image_view import ViewSync
from lci_studio.gui.panels.latent import LatentView
from lci_studio.gui.panels.rate_slider import RateSlider
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.gui.panels.split import SplitView
from lci_studio.gui.progress import JobProgress
from lci_studio.gui.refining import Refining
from lci_studio.gui.view_jobs import ViewJobs
from lci_studio.gui.view_settings import remembered_quality, restore_and_remember
from lci_studio.gui.weights_flow import WeightsFlow
from lci_studio.gui.worker import CodecWorker
from lci_studio.resources import icon_path
from lci_studio.session import Session
from lci_studio.view_state import SELECTED, SELECTED_PLAIN, ViewState

ORGANIZATION = "LCI Studio"
APPLICATION = "LCI Studio"
# The docks' column (plot over explanation) keeps this share of the window's width as it is resized:
# 560 px at 1600 (the plot's buttons on one row), 448 at 1280, 358 at 1024 (more room for the pictures).
DOCK_SHARE = 0.35


def app_icon() -> QIcon:
    path = icon_path()
    return QIcon(str(path)) if path.is_file() else QIcon()


class MainWindow(QMainWindow):
    """The window. Its state is `session` (picture, weights, results, selection; see `Session`) and
    `view_state` (how it is shown; see `ViewState`), which the panels draw: `compare`, `split`, `rd_plot`,
    `latent_view`, `rate_slider`, `explanation`, `demo` (None until opened). Beside them: `jobs` (what is
    being computed for the session), `refining` (the second encoder: Refine, its effort, the λ slider's
    wishes), `commands` (the action table), `exports`, `weights`, `opening`, `messages`, and `worker`.
    """

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
        self.session = Session(remembered_quality(self.settings))
        self.view_state = ViewState()
        restore_and_remember(self.settings, self.view_state, self.session)
        self.worker = CodecWorker(self)
        self.demo = None
        self.lci_info_dialog: LciInfoDialog | None = None
        self.glossary = None  # GlossaryDialog, made when first asked for
        self._dock_share = DOCK_SHARE  # a drag of the docks' separator changes it
        self._fitted_width = 0  # the window width the docks were last fitted to
        self._pressed_dock_width: int | None = None

        self.setWindowTitle("LCI Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        self.status_label = QLabel("Open an image to begin.")
        measures = " ".join(["bpp kB", *(metric.name for metric in METRICS.values())])
        self.status_label.setToolTip(caption_tip(measures).split("\n", 2)[-1] + "\n" + tip("ratio"))
        self.messages = Messages(self.status_label)
        say, show_error = self.messages.say, self.messages.show_error
        self.progress = JobProgress()
        recent = RecentFiles(self.settings)
        self.weights = WeightsFlow(
            self, self.session, self.worker, self.settings, opener=opener, say=say, show_error=show_error
        )
        self.jobs = ViewJobs(
            self.session, self.view_state, self.worker, self.progress, self.messages, recent,
            self.weights.show_missing, baselines, parent=self,
        )  # fmt: skip
        self.jobs.titled.connect(lambda name: self.setWindowTitle(f"{name} — LCI Studio"))
        self.weights.switched.connect(lambda _source: self.jobs.restart())
        self._build_views()
        self.exports = Exports(
            self, self.session, self.settings, self.rd_plot, say, show_error, self.jobs.complete_metrics, self.worker
        )
        self.opening = Opening(self, self.settings, recent, self.jobs.open_path, self.jobs.open_qimage, say)
        self.refining = Refining(
            self.session, self.worker, self.settings, self.progress, say, show_error, busy=self.jobs.computing,
            parent=self,
        )  # fmt: skip
        self.rate_slider.lambdaChosen.connect(self.refining.refine_at)
        self.rate_slider.bandWanted.connect(self.refining.measure_bands)
        self.commands = ActionTable(self, window_actions(self))
        self.jobs.changed.connect(self.commands.update)
        self.refining.changed.connect(self.commands.update)
        self.quality_actions = quality_actions(self, self.session.select)
        self.menus = build_menus(
            self.menuBar(),
            self.commands,
            {
                "@recent": self._add_recent_menu,
                "@samples": self.opening.fill_samples,
                "@docks": lambda menu: menu.addActions([d.toggleViewAction() for d in self.docks]),
                "@metrics": self._fill_metrics,
                "@qualities": lambda menu: menu.addActions(list(self.quality_actions.values())),
                "@efforts": self.refining.fill_efforts,
            },
        )
        self.toolbar = self.addToolBar("Main")
        self.toolbar.setObjectName("toolbar-main")
        self.toolbar.setMovable(False)
        build_toolbar(self.toolbar, self.commands, self.menus["Samples"], self.quality_actions)
        self._build_statusbar()
        self._restore_settings()
        self._bind_view_commands()

        events = self.session.events
        events.opened.connect(self._on_opened)
        enabling = (
            events.ladder_started, events.baselines_changed, events.decoded, events.finished, events.refined_added
        )
        for event in enabling:
            event.connect(lambda _value: self.commands.update())
        events.result_added.connect(self._on_result_added)
        events.selection_changed.connect(self._on_selection)
        self.weights.start(source)
        self.session.select(self.session.selected)

    # ================================================================================ construction

    def _build_views(self) -> None:
        self.sync = ViewSync(self)
        # one ClassicalPictures for both views: each classical picture is kept once, whichever shows it
        pictures = ClassicalPictures(self.session, self.jobs.want_classical)
        self.jobs.classicalDecoded.connect(pictures.keep)
        self.compare = CompareView(self.session, self.view_state, self.sync, pictures)
        self.split = SplitView(self.session, self.view_state, self.sync, pictures, self.worker)
        # the bit maps are pictures too: a tab of their own (large enough to read), so that the
        # explanation dock stays visible beside them
        self.latent_view = LatentView(self.session)
        self.rate_slider = RateSlider(self.session)  # any size near a level: its λ and band wishes go to `refining`
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self._tab_pages: dict[str, QWidget] = {}  # by the name `ViewState.tab` holds
        for name, page, title, tooltip in (
            ("grid", self.compare, "All qualities", "The original and all 8 qualities side by side (G)"),
            ("split", self.split, "Split compare", "Two images with a draggable divider, or their difference (S)"),
            ("bits", self.latent_view, "Where the bits go",
             "Which latent channels carry bits at each quality, and where in the picture (W)"),
            ("any-size", self.rate_slider, "Any size",
             "Move the selected quality's file size a little with the same decoder (λ slider)"),
        ):  # fmt: skip
            self.tabs.setTabToolTip(self.tabs.addTab(page, title), tooltip)
            self._tab_pages[name] = page
        self.tabs.setCurrentWidget(self._tab_pages[self.view_state.tab.value])
        self.view_state.tab.changed.connect(lambda name: self.tabs.setCurrentWidget(self._tab_pages[name]))
        self.tabs.currentChanged.connect(self._on_tab_shown)

        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.weights.banner)
        column.addWidget(self.weights.invite)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        self.rd_plot = RdPlot(self.session, self.view_state)
        self.explanation = ExplanationPanel(self.session)
        right = Qt.DockWidgetArea.RightDockWidgetArea
        self.rd_dock = self._dock("Rate–distortion", "rd", self.rd_plot, right)
        self.explanation_dock = self._dock("What am I looking at?", "explanation", self.explanation, right)
        self.docks = (self.rd_dock, self.explanation_dock)
        # the plot over the explanation, 3 : 2 (at 1280×720 about ten lines of explanation)
        self.resizeDocks([self.rd_dock, self.explanation_dock], [600, 400], Qt.Orientation.Vertical)

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

    def _fill_metrics(self, menu: QMenu) -> None:
        """One checkable row per metric of the table, one checked at a time (the plot's)."""
        group = QActionGroup(self)
        group.setExclusive(True)
        for key in METRICS:
            menu.addAction(group.addAction(self.commands[f"metric:{key}"]))

    def _add_recent_menu(self, menu: QMenu) -> None:
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(lambda: self.opening.fill_recent(self.recent_menu))

    def _build_statusbar(self) -> None:
        status = self.statusBar()
        status.addWidget(self.status_label, 1)
        self.progress.set_stop(self.commands["stop"])
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
        try:
            share = float(self.settings.value("window/dock_share", DOCK_SHARE))
        except (TypeError, ValueError):
            share = DOCK_SHARE
        self._dock_share = min(max(share, 0.15), 0.7) if math.isfinite(share) else DOCK_SHARE

    def _bind_view_commands(self) -> None:
        """The check marks of the view's commands follow the view state, whoever changes it."""
        view, commands = self.view_state, self.commands
        bound = (
            (view.classical_column, "classical_grid", lambda shown: bool(shown)),
            *((view.plot_metric, f"metric:{key}", lambda metric, key=key: metric == key) for key in METRICS),
            (view.size_kind, "bpp", lambda kind: kind == "estimated"),
        )
        view.detail.changed.connect(lambda _detail: commands.update())  # Z is enabled once it is found
        for observed, name, checked in bound:
            action = commands[name]
            action.setChecked(checked(observed.value))
            observed.changed.connect(lambda value, action=action, checked=checked: action.setChecked(checked(value)))

    # ================================================================================ opening

    def open_path(self, path: str | Path) -> bool:
        """Open an image (compressed at every quality) or an .lci file (decoded); see ViewJobs.open_path."""
        return self.jobs.open_path(path)

    def paste(self) -> bool:
        """Open what the clipboard holds: an image, a file URL, or a path as text."""
        return self.opening.paste()

    def _on_tab_shown(self, index: int) -> None:
        shown = self.tabs.widget(index)
        self.view_state.tab.set(next(name for name, page in self._tab_pages.items() if page is shown))

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

    # ================================================================================== view

    def _on_result_added(self, result: QualityResult) -> None:
        if result.quality == self.session.selected:
            self._on_selection(result.quality)  # its numbers for the status bar
        self.commands.update()

    def _on_selection(self, quality: int | None) -> None:
        """The status bar, the quality buttons and Settings follow the session's selection."""
        if quality is not None:
            self.quality_actions[quality].setChecked(True)
            result = self.session.results.get(quality)
            if result is not None:
                self.messages.say(  # the ratio as the explanation words it (format_ratio: one rule)
                    f"Quality {quality}: {result.bpp:.3f} bpp, {format_kb(result.file_bytes)} "
                    f"({format_ratio(result.ratio_to_raw)} against raw), {values_text(result.metrics, ', ')}, "
                    f"{result.active_channels} of {result.info.M} channels carry bits"
                )
        self.commands.update()

    def show_classical_in_grid(self, on: bool) -> None:
        """The classical codecs at the selected quality's size as a column of the grid (shown at once)."""
        self.view_state.classical_column.set(bool(on))
        if on:
            self.view_state.tab.set("grid")

    def plain_beside_refined(self) -> None:
        """The split with the selected quality's plain file left and its refined file right: what the one-pass
        guess left on the table (the difference, zoom and detail work on them as on any two sides)."""
        self.view_state.tab.set("split")
        self.split.set_sides(SELECTED_PLAIN, SELECTED)

    def swap_sides(self) -> None:
        self.view_state.tab.set("split")
        self.split.swap()

    def toggle_difference(self) -> None:
        self.view_state.tab.set("split")
        self.split.toggle_difference()

    def toggle_fullscreen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    # ================================================================================ dialogs

    def show_lci_info(self) -> None:
        d = self.session.decoded
        if d is None:
            return
        if self.lci_info_dialog is None:
            self.lci_info_dialog = LciInfoDialog(self)
        self.lci_info_dialog.set_file(d.name, len(d.data), d.header, d.info.describe(), d.decode_seconds)
        self.lci_info_dialog.show()
        self.lci_info_dialog.raise_()

    def show_glossary(self) -> None:
        """Help ▸ Glossary: the words the window uses, in plain language (non-modal, stays beside it)."""
        from lci_studio.gui.dialogs import GlossaryDialog

        if self.glossary is None:
            self.glossary = GlossaryDialog(self)
        self.glossary.show()
        self.glossary.raise_()

    def show_about(self) -> None:
        source = self.session.source
        weights = source.describe() if source is not None else f"none ({self.session.source_error})"
        QMessageBox.about(self, "About LCI Studio", about_html(weights))

    def open_demo(self) -> None:
        """Demo mode (F11): one large picture and a big quality slider, full screen; Esc leaves."""
        from lci_studio.gui.panels.demo import DemoWindow

        if self.demo is None:
            self.demo = DemoWindow(self.session, detail=self.view_state.detail)
            self.demo.setWindowIcon(self.windowIcon())
        self.demo.present(self.screen())  # the screen the window is on (a projector), not the first one

    # ================================================================================ lifecycle

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_docks()

    def _fit_docks(self) -> None:
        """Give the docks' column its share of a new window width. Qt gives the central widget all of a
        resize: docks sized once stayed 460 px, 45 % of a 1024 px projector and too narrow at 1600 for
        the plot's buttons on one row."""
        docked = [d for d in self.docks if not d.isHidden() and not d.isFloating()]
        if not docked or self.width() == self._fitted_width:
            return
        self._fitted_width = self.width()
        self.resizeDocks(docked[:1], [round(self._dock_share * self.width())], Qt.Orientation.Horizontal)

    def event(self, event: QEvent) -> bool:
        """A drag of the separator beside the docks (the window's own mouse events) sets their share."""
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress:
            self._pressed_dock_width = self.rd_dock.width()
        handled = super().event(event)
        if kind == QEvent.Type.MouseButtonRelease:
            if self._pressed_dock_width not in (None, self.rd_dock.width()) and self.width() > 0:
                self._dock_share = self.rd_dock.width() / self.width()
            self._pressed_dock_width = None
        return handled

    def closeEvent(self, event) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/dock_share", self._dock_share)
        self.settings.sync()
        if self.demo is not None:
            self.demo.close()
        if self.lci_info_dialog is not None:
            self.lci_info_dialog.close()
        self.progress.finish_all()
        self.worker.shutdown()
        super().closeEvent(event)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Process events until no job runs (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while self.worker.busy() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.005)
        return not self.worker.busy()
