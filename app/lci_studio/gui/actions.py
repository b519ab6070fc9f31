"""The window's commands as one table, and the menus and toolbar built from it.

Each command is one `ActionSpec` row (text, shortcut, handler, when it is enabled); `window_actions`
lists them, `MENUS` and `TOOLBAR` say where they appear. Adding a command is a row here and, if it
should be visible, its name in a layout. Names starting with "@" in a layout are places the window
fills itself (recent files, samples, the quality buttons, the dock toggles, the refinement efforts, the plot's
metrics). The plot's metric has one row per metric of `metrics.METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QLabel, QMenu, QMenuBar, QToolBar, QToolButton, QWidget

from lci_studio.codec.metrics import METRICS, following
from lci_studio.codec.model import QUALITIES

if TYPE_CHECKING:
    from lci_studio.gui.window import MainWindow

Shortcut = str | QKeySequence | QKeySequence.StandardKey
Layout = Sequence["str | tuple[str, Layout]"]


@dataclass(frozen=True)
class ActionSpec:
    """One command: `name` is its key in the table, `enabled` says when it can run (None: always)."""

    name: str
    text: str
    handler: Callable[..., object]
    shortcut: Shortcut | Sequence[Shortcut] | None = None
    tip: str = ""
    enabled: Callable[[], bool] | None = None
    checkable: bool = False  # the handler then gets the new checked state
    icon_text: str = ""  # what a toolbar button shows instead of the menu text
    role: QAction.MenuRole | None = None


class ActionTable:
    """The QActions made from the specs, by name; `update()` re-applies every `enabled` rule."""

    def __init__(self, owner: QWidget, specs: Iterable[ActionSpec]) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.actions: dict[str, QAction] = {name: self._make(owner, spec) for name, spec in self.specs.items()}
        self.update()

    def __getitem__(self, name: str) -> QAction:
        return self.actions[name]

    def update(self) -> None:
        for name, spec in self.specs.items():
            if spec.enabled is not None:
                self.actions[name].setEnabled(bool(spec.enabled()))

    @staticmethod
    def _make(owner: QWidget, spec: ActionSpec) -> QAction:
        action = QAction(spec.text, owner)
        if spec.shortcut is not None:
            keys = spec.shortcut if isinstance(spec.shortcut, (list, tuple)) else [spec.shortcut]
            action.setShortcuts([QKeySequence(key) for key in keys])
        if spec.tip:
            action.setStatusTip(spec.tip)
            action.setToolTip(spec.tip)
        if spec.icon_text:
            action.setIconText(spec.icon_text)
        if spec.role is not None:
            action.setMenuRole(spec.role)
        action.setCheckable(spec.checkable)
        (action.toggled if spec.checkable else action.triggered).connect(spec.handler)
        owner.addAction(action)  # shortcuts work wherever focus is in the window
        return action


def quality_actions(owner: QWidget, select: Callable[[int], None]) -> dict[int, QAction]:
    """One checkable action per quality (keys 1-8), exclusive like radio buttons."""
    group = QActionGroup(owner)
    group.setExclusive(True)
    actions: dict[int, QAction] = {}
    for q in QUALITIES:
        action = QAction(f"Quality &{q}", owner)
        action.setIconText(str(q))
        action.setCheckable(True)
        action.setShortcut(QKeySequence(str(q)))
        action.setToolTip(f"Select quality {q} (key {q})")
        action.setStatusTip(f"Select quality {q}")
        action.triggered.connect(lambda _checked=False, q=q: select(q))
        group.addAction(action)
        owner.addAction(action)
        actions[q] = action
    return actions


def _fullscreen_keys() -> list[QKeySequence] | str:
    keys = [k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.FullScreen) if k != QKeySequence("F11")]
    return keys or "Ctrl+Shift+F"


def window_actions(w: MainWindow) -> list[ActionSpec]:
    """Every command of the main window."""
    key = QKeySequence.StandardKey
    s, view = w.session, w.view_state

    def has_selected() -> bool:
        return s.selected_result is not None

    def has_picture() -> bool:
        return s.selected_pixels is not None

    def has_results() -> bool:
        return bool(s.results)

    metric_names = ", ".join(metric.name for metric in METRICS.values())

    return [
        ActionSpec("open", "&Open…", w.opening.open_dialog, key.Open, "Open an image or an .lci file",
                   icon_text="Open…"),
        ActionSpec("paste", "&Paste Image", w.paste, key.Paste, "Compress the image on the clipboard"),
        ActionSpec("copy", "&Copy Reconstruction", w.exports.copy_selected, key.Copy,
                   "Copy the selected quality's image", enabled=has_picture),
        ActionSpec("export_lci", "Selected Quality as .&lci…", w.exports.selected_lci_dialog, key.Save,
                   "Save the selected quality as an .lci file", enabled=has_selected),
        ActionSpec("export_all", "&All Qualities as .lci…", w.exports.all_lci_dialog, "Ctrl+Shift+S",
                   "Save every quality into a folder", enabled=has_results),
        ActionSpec("export_png", "Reconstruction as &PNG…", w.exports.png_dialog, "Ctrl+E", enabled=has_picture),
        ActionSpec("export_csv", "RD Data as &CSV…", lambda: w.exports.data_dialog("csv"), enabled=has_results),
        ActionSpec("export_json", "RD Data as &JSON (CompressAI format)…", lambda: w.exports.data_dialog("json"),
                   enabled=has_results),
        ActionSpec("export_plot", "RD &Plot as PNG…", lambda: w.exports.data_dialog("plot"), enabled=has_results),
        ActionSpec("info", ".lci File &Info", w.show_lci_info, "Ctrl+I", "What the open .lci file says about itself",
                   enabled=lambda: s.decoded is not None),
        ActionSpec("settings", "&Weights…", w.weights.open_settings, key.Preferences,
                   "Choose the weights the pictures are compressed with", role=QAction.MenuRole.PreferencesRole),
        ActionSpec("quit", "&Quit", w.close, key.Quit, role=QAction.MenuRole.QuitRole),
        ActionSpec("stop", "S&top", lambda: (w.jobs.stop(), w.refining.stop()), "Esc", "Stop computing",
                   enabled=lambda: w.jobs.computing() or w.refining.running()),
        ActionSpec("resume", "&Resume", w.jobs.resume, "R", "Go on with what Stop left unfinished (R)",
                   enabled=w.jobs.can_resume),
        ActionSpec("fit", "&Fit to View", w.compare.fit, ["Ctrl+0", "F"], "Show the whole image (F)", icon_text="Fit"),
        ActionSpec("detail", "Zoom to the &Telling Detail", w.compare.zoom_to_detail, "Z",
                   "Zoom every tile onto the area where the lowest and highest qualities differ most (Z; F fits "
                   "the whole picture again; Shift+drag zooms onto any area)", icon_text="Detail",
                   enabled=lambda: view.detail.value is not None),
        ActionSpec("actual", "&Actual Pixels (100%)", w.compare.actual_size, "Ctrl+1",
                   "One image pixel per screen pixel", icon_text="100%"),
        ActionSpec("zoom_in", "Zoom &In", lambda: w.compare.zoom_by(1.5), [key.ZoomIn, "+", "="]),
        ActionSpec("zoom_out", "Zoom &Out", lambda: w.compare.zoom_by(1 / 1.5), [key.ZoomOut, "-"]),
        ActionSpec("grid", "All &Qualities Grid", lambda: view.tab.set("grid"), "G", icon_text="Grid"),
        ActionSpec("split", "&Split Compare", lambda: view.tab.set("split"), "S", icon_text="Split"),
        ActionSpec("bits", "&Where the Bits Go", lambda: view.tab.set("bits"), "W",
                   "Which latent channels carry bits at each quality, and where in the picture (W)", icon_text="Bits"),
        ActionSpec("classical_grid", "Classical Codecs in the &Grid", w.show_classical_in_grid, "C",
                   "A column beside the grid: JPEG, WebP, AVIF and JPEG XL at the selected quality's file size (C)",
                   checkable=True, icon_text="JPEG && co."),
        ActionSpec("plain_refined", "&Plain beside Refined", w.plain_beside_refined, "P",
                   "The split: the selected quality by the plain encoder left, its refined file right (P)",
                   enabled=lambda: s.selected in s.refined),
        ActionSpec("swap", "S&wap Sides", w.swap_sides, "X", "Swap the two sides of the split view (X)"),
        ActionSpec("diff", "&Difference View", w.toggle_difference, "D", "Show the amplified error (D)"),
        *(
            ActionSpec(f"metric:{key}", f"Plot {metric.name}", lambda on, key=key: on and view.plot_metric.set(key),
                       tip=f"The RD plot's quality axis: {metric.name}", checkable=True)
            for key, metric in METRICS.items()
        ),
        ActionSpec("metric", "Plot the &Next Metric", lambda: view.plot_metric.set(following(view.plot_metric.value)),
                   "M", "The RD plot's quality axis: the next metric (M)"),
        ActionSpec("bpp", "Plot &Estimated bpp (model) instead of real",
                   lambda on: view.size_kind.set("estimated" if on else "real"), "B", checkable=True),
        ActionSpec("demo", "&Demo Mode", w.open_demo, "F11", "Full-screen presentation with a big quality slider",
                   icon_text="Demo"),
        ActionSpec("fullscreen", "&Full Screen", w.toggle_fullscreen, _fullscreen_keys()),
        ActionSpec("next", "&Next Quality", lambda: s.step(1), ["]", "Ctrl+Right"]),
        ActionSpec("prev", "&Previous Quality", lambda: s.step(-1), ["[", "Ctrl+Left"]),
        ActionSpec("refine", "&Refine Selected Quality", w.refining.refine_selected, "Ctrl+R",
                   "Encode the selected quality again with the refined encoder: the same decoder, better numbers "
                   "chosen for this photo (tens of seconds; Esc stops)", enabled=w.refining.can_refine_selected,
                   icon_text="Refine"),
        ActionSpec("refine_all", "Refine &All Qualities", w.refining.refine_all, "Ctrl+Shift+R",
                   "Every quality again with the refined encoder (tens of seconds each; Esc stops)",
                   enabled=w.refining.can_refine_all),
        ActionSpec("glossary", "&Glossary…", w.show_glossary, key.HelpContents,
                   f"What bpp, {metric_names}, λ, N, M and the ratio mean, in plain words"),
        ActionSpec("about", "&About LCI Studio", w.show_about, role=QAction.MenuRole.AboutRole),
        ActionSpec("about_qt", "About &Qt", QApplication.aboutQt),
    ]  # fmt: skip


EXPORTS: Layout = ("export_lci", "export_all", "export_png", "-", "export_csv", "export_json", "export_plot")
MENUS: Sequence[tuple[str, Layout]] = (
    ("&File", ("open", "@recent", "paste", "-", ("&Export", EXPORTS), "info", "-", "quit")),
    ("&Edit", ("copy", "paste", "-", "stop", "resume")),
    ("S&amples", ("@samples",)),
    ("&View", (
        "grid", "split", "bits", "-", "classical_grid", "detail", "fit", "actual", "zoom_in", "zoom_out", "-",
        "plain_refined", "swap", "diff", "-", ("Plot &Metric", ("@metrics", "-", "metric")), "bpp", "-",
        ("&Panels", ("@docks",)), "-", "demo", "fullscreen",
    )),
    ("&Quality", ("@qualities", "-", "next", "prev", "-", "refine", "refine_all", ("Encoder &Effort", ("@efforts",)))),
    ("&Settings", ("settings",)),  # what the messages mean by "choose … in Settings"; not on the toolbar
    ("&Help", ("glossary", "-", "about", "about_qt")),
)  # fmt: skip
TOOLBAR: Layout = (
    "open", "@samples", "-", "@qualities", "refine", "-", "detail", "fit", "actual", "-", "grid", "split", "bits", "-",
    "classical_grid", "-", "demo",
)  # fmt: skip


def build_menus(bar: QMenuBar, table: ActionTable, fill: Mapping[str, Callable[[QMenu], None]]) -> dict[str, QMenu]:
    """The menu bar from MENUS; returns every menu by its plain title ("File", "Export", "Open Recent"…)."""
    menus: dict[str, QMenu] = {}

    def add(menu: QMenu, layout: Layout) -> None:
        for entry in layout:
            if isinstance(entry, tuple):
                sub = menu.addMenu(entry[0])
                menus[entry[0].replace("&", "")] = sub
                add(sub, entry[1])
            elif entry == "-":
                menu.addSeparator()
            elif entry.startswith("@"):
                fill[entry](menu)
            else:
                menu.addAction(table[entry])

    for title, layout in MENUS:
        menu = bar.addMenu(title)
        menus[title.replace("&", "")] = menu
        add(menu, layout)
    return menus


def build_toolbar(toolbar: QToolBar, table: ActionTable, samples: QMenu, qualities: Mapping[int, QAction]) -> None:
    """The toolbar from TOOLBAR: text buttons, the samples pop-up and the quality buttons."""
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for entry in TOOLBAR:
        if entry == "-":
            toolbar.addSeparator()
        elif entry == "@samples":
            button = QToolButton()
            button.setText("Samples")
            button.setMenu(samples)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            button.setToolTip("Open one of the bundled photos")
            toolbar.addWidget(button)
        elif entry == "@qualities":
            toolbar.addWidget(QLabel(" Quality: "))
            for action in qualities.values():
                toolbar.addAction(action)
                widget = toolbar.widgetForAction(action)
                if widget is not None:
                    widget.setMinimumWidth(28)
        else:
            toolbar.addAction(table[entry])
