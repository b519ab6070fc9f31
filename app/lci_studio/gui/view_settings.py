"""The one place that remembers how the window showed things between launches (QSettings).

Remembered: the selected quality, the grid's classical column and the plot's size kind. Not remembered:
the plot's metric (MS-SSIM makes every later picture slower, 7.1 s → 12.0 s in the rehearsal, a cost
that should not follow a presenter into the next launch unasked: each launch plots PSNR), the tab, the
split's sides and the zoom (they belong to one picture).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

from lci_studio.codec.model import QUALITIES
from lci_studio.session import Session
from lci_studio.view_state import SIZE_KINDS, ViewState

SELECTED_KEY = "view/selected"
CLASSICAL_KEY = "view/classical_grid"
SIZE_KIND_KEY = "view/bpp_kind"
FORGOTTEN_KEYS = ("view/metric",)  # what earlier versions remembered


def remembered_quality(settings: QSettings, default: int = 4) -> int:
    """The quality selected when the window was last used (a new session starts there)."""
    try:
        quality = int(settings.value(SELECTED_KEY, default) or default)
    except (TypeError, ValueError):
        return default
    return quality if quality in QUALITIES else default


def restore_and_remember(settings: QSettings, view: ViewState, session: Session) -> None:
    """Set `view` from `settings`, then write each remembered value whenever it changes."""
    for key in FORGOTTEN_KEYS:
        settings.remove(key)
    view.classical_column.set(str(settings.value(CLASSICAL_KEY, "false")).lower() == "true")
    kind = str(settings.value(SIZE_KIND_KEY, "real"))
    view.size_kind.set(kind if kind in SIZE_KINDS else "real")
    view.classical_column.changed.connect(lambda shown: settings.setValue(CLASSICAL_KEY, bool(shown)))
    view.size_kind.changed.connect(lambda kind: settings.setValue(SIZE_KIND_KEY, kind))
    session.events.selection_changed.connect(
        lambda quality: settings.setValue(SELECTED_KEY, quality) if quality is not None else None
    )
