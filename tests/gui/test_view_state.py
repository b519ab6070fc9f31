"""The view state is the one copy of how the window shows things (tab, plot metric and size, classical column,
split sides, difference, detail): panels, commands and the worker's wishes follow it, QSettings remembers
part of it in one place; and the window's collaborators are handed what they use, never the window."""

from __future__ import annotations

import types

import numpy as np
import pytest

from lci_studio.gui.view_settings import CLASSICAL_KEY, SIZE_KIND_KEY, remembered_quality, restore_and_remember
from lci_studio.session import Emitter, Session
from lci_studio.view_state import ORIGINAL, Observed, ViewState


def test_observed_tells_changes_only_and_refuses_what_it_does_not_allow():
    tab = Observed("grid", ("grid", "split"))
    seen = []
    tab.changed.connect(seen.append)
    tab.set("grid")
    tab.set("split")
    assert seen == ["split"] and tab.value == "split"
    with pytest.raises(ValueError):
        tab.set("bits")
    assert tab.value == "split"


def test_settings_restore_and_remember_the_view_in_one_place(settings):
    settings.setValue(CLASSICAL_KEY, True)
    settings.setValue(SIZE_KIND_KEY, "nonsense")
    settings.setValue("view/selected", 6)
    settings.setValue("view/metric", "ms-ssim")  # earlier versions remembered it: forgotten now
    session, view = Session(remembered_quality(settings)), ViewState()
    restore_and_remember(settings, view, session)
    assert session.selected == 6 and view.classical_column.value and view.size_kind.value == "real"
    assert view.plot_metric.value == "psnr" and settings.value("view/metric") is None
    view.size_kind.set("estimated")
    view.classical_column.set(False)
    session.select(3)
    assert settings.value(SIZE_KIND_KEY) == "estimated" and str(settings.value(CLASSICAL_KEY)).lower() == "false"
    assert int(settings.value("view/selected")) == 3
    settings.setValue("view/selected", "x")
    assert remembered_quality(settings) == 4


def test_tabs_commands_and_panels_follow_the_view_state(window, qtbot):
    view = window.view_state
    view.tab.set("bits")
    assert window.tabs.currentWidget() is window.latent_view
    window.tabs.setCurrentWidget(window.split)
    assert view.tab.value == "split"
    window.commands["grid"].trigger()
    assert view.tab.value == "grid" and window.tabs.currentWidget() is window.compare

    view.plot_metric.set("ms-ssim")  # from anywhere: the plot's list and the menu's check mark follow
    assert window.commands["metric:ms-ssim"].isChecked() and window.rd_plot.current_metric() == "ms-ssim"
    assert window.rd_plot.metric_box.currentData() == "ms-ssim"
    window.commands["metric:psnr"].trigger()
    assert view.plot_metric.value == "psnr" and window.rd_plot.metric_box.currentData() == "psnr"
    window.rd_plot._bpp_buttons.button(1).click()
    assert view.size_kind.value == "estimated" and window.commands["bpp"].isChecked()

    window.commands["classical_grid"].trigger()
    assert view.classical_column.value and window.compare.classical_shown()
    view.classical_column.set(False)
    assert not window.commands["classical_grid"].isChecked() and not window.compare.classical_shown()

    window.split.set_sides(3, ORIGINAL)
    assert view.split_sides.value == (3, ORIGINAL) and window.split.combo_a.currentData() == 3
    view.split_sides.set((ORIGINAL, 5))
    assert window.split.combo_b.currentData() == 5 and window.split.sides() == (ORIGINAL, 5)
    window.commands["diff"].trigger()
    assert view.difference.value and window.split.diff_box.isChecked() and view.tab.value == "split"


def test_one_classical_pictures_serves_the_grid_and_the_split(window):
    assert window.compare.pictures is window.split._pictures


def _paths_to(target, start, name: str, depth: int = 6) -> list[str]:
    """Attribute paths from `start` that reach `target`: attributes, containers, bound methods, closures and
    default arguments (a subscription list, `Emitter`, is a subject's, not a hold on its subscriber)."""
    found, seen = [], {id(target)}

    def walk(obj, path: str, left: int) -> None:
        if obj is target:
            found.append(path)
            return
        if left == 0 or id(obj) in seen or isinstance(obj, (Emitter, type, types.ModuleType, np.ndarray, str, bytes)):
            return
        seen.add(id(obj))
        if isinstance(obj, types.MethodType):
            walk(obj.__self__, f"{path}.__self__", left - 1)
        elif isinstance(obj, types.FunctionType):
            for i, cell in enumerate(obj.__closure__ or ()):
                walk(cell.cell_contents, f"{path}<closure {i}>", left - 1)
            for i, value in enumerate(obj.__defaults__ or ()):
                walk(value, f"{path}<default {i}>", left - 1)
        elif isinstance(obj, dict):
            for key, value in list(obj.items()):
                walk(value, f"{path}[{key!r}]", left - 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, value in enumerate(list(obj)):
                walk(value, f"{path}[{i}]", left - 1)
        elif hasattr(obj, "__dict__"):
            for key, value in list(vars(obj).items()):
                walk(value, f"{path}.{key}", left - 1)

    walk(start, name, depth)
    return found


def test_no_collaborator_holds_the_window(window):
    """Each part of the window gets the few objects it uses; only the window's own command table (whose
    handlers are its methods) and Qt's parent links (not Python attributes) lead back to it."""
    holder = types.SimpleNamespace(callback=lambda: window.close())  # the check finds a hold like this one
    assert _paths_to(window, holder, "holder") == ["holder.callback<closure 0>"]
    parts = {name: value for name, value in vars(window).items() if name not in ("commands",)}
    assert {"jobs", "opening", "exports", "weights", "compare", "split", "rd_plot", "view_state"} <= parts.keys()
    held = [path for name, part in parts.items() for path in _paths_to(window, part, name)]
    assert held == []
