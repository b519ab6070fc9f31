"""How the window shows the session, as plain data that announces its changes: the view's own state.

`Session` is what is shown (the picture, its results, the selected quality); `ViewState` is how: which
tab, which metric and size the plot draws, whether the grid has its classical column, the split's two
sides and difference mode, and the telling detail the grid zooms to. Each is one `Observed` value; the
panels, the actions and the worker's wishes all read and set it there and subscribe to its `changed`
event, so a menu's check mark, a panel's buttons and what the worker measures can't drift apart. It
imports no Qt; gui/view_settings.py is the one place that remembers part of it between launches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, TypeVar

from lci_studio.session import Emitter

if TYPE_CHECKING:
    from lci_studio.codec.telling_detail import Detail

T = TypeVar("T")

SIZE_KINDS = ("real", "estimated")  # the plot's x axis: bits of the real file, or the model's estimate
ORIGINAL = "original"  # split sides: the original picture,
SELECTED = "selected"  # the selected quality's picture (a quality number: that one), refined when it is,
SELECTED_PLAIN = "selected:plain"  # the selected quality by the plain encoder (beside its refined file),
CLASSICAL = "classical:"  # + a codec's name: that codec at the selected quality's file size


class Observed(Generic[T]):
    """One value and the event its changes emit (`changed`, with the new value; not for an equal one)."""

    def __init__(self, value: T, allowed: Sequence[T] | None = None) -> None:
        self._allowed = tuple(allowed) if allowed is not None else None
        self._value = self._checked(value)
        self.changed: Emitter[T] = Emitter()

    @property
    def value(self) -> T:
        return self._value

    def set(self, value: T) -> None:
        value = self._checked(value)
        if value != self._value:
            self._value = value
            self.changed.emit(value)

    def _checked(self, value: T) -> T:
        if self._allowed is not None and value not in self._allowed:
            raise ValueError(f"{value!r} is not one of {self._allowed}")
        return value


class ViewState:
    """The window's view state; see the module docstring. `plot_metric` holds only a metric's key
    ("psnr", "ms-ssim"): the plot knows which metrics it can draw."""

    def __init__(self) -> None:
        self.tab: Observed[str] = Observed("grid")  # the central tab by name (the window's table)
        self.plot_metric: Observed[str] = Observed("psnr")
        self.size_kind: Observed[str] = Observed("real", SIZE_KINDS)
        self.classical_column: Observed[bool] = Observed(False)
        self.split_sides: Observed[tuple[object, object]] = Observed((ORIGINAL, SELECTED))
        self.difference: Observed[bool] = Observed(False)
        self.detail: Observed[Detail | None] = Observed(None)  # where the grid's "Z" zooms to (None: not known)
