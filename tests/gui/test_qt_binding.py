"""The Qt binding itself must keep Python's reference counts intact, or the window dies after a while."""

from __future__ import annotations

import PySide6

from lci_studio.gui.main import qt_binding_drops_references


def test_qt_binding_keeps_reference_counts():
    assert not qt_binding_drops_references(), (
        f"PySide6 {PySide6.__version__} loses a reference to True/None on every signal emit; the window "
        "aborts ('deallocating True or False') after a few thousand signals. Install another version: "
        "pip install 'PySide6-Essentials>=6.6,!=6.12.0'"
    )
