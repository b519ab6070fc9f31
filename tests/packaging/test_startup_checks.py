"""What `lci-studio` does before its window: name missing X11 packages; take files from QFileOpenEvent."""

from __future__ import annotations

import pytest

from lci_studio.gui import system_libs
from lci_studio.gui.main import main as studio_main


def test_a_present_library_loads():
    assert system_libs.library_loads("libc.so.6")


def test_missing_libraries_give_one_line_with_the_packages_to_install():
    absent = {"libxcb-cursor.so.0", "libxkbcommon-x11.so.0"}
    missing = system_libs.missing_xcb_packages(lambda soname: soname not in absent)
    assert missing == [("libxcb-cursor.so.0", "libxcb-cursor0"), ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0")]
    message = system_libs.missing_libraries_message(missing)
    assert "\n" not in message
    assert message.endswith("sudo apt install libxcb-cursor0 libxkbcommon-x11-0")


def test_a_library_that_does_not_exist_is_reported_missing():
    assert not system_libs.library_loads("liblci-no-such-library.so.0")


@pytest.mark.parametrize(
    ("environ", "platform", "expected"),
    [
        ({}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({}, "darwin", False),
        ({}, "win32", False),
    ],
)
def test_only_an_xcb_start_is_checked(environ, platform, expected):
    assert system_libs.uses_xcb(environ, platform) is expected


def test_lci_studio_stops_with_the_message_instead_of_qt_abort(monkeypatch, capsys):
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.setattr(system_libs, "library_loads", lambda soname: soname != "libxcb-cursor.so.0")
    assert studio_main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "lci-studio: Qt cannot open a window on X11: libxcb-cursor.so.0 not found; "
        "install them with: sudo apt install libxcb-cursor0"
    ]


def test_file_open_events_wait_for_the_window_then_arrive_directly(qapp, tmp_path):
    from PySide6.QtGui import QFileOpenEvent

    from lci_studio.gui.file_open import FileOpenEvents

    events = FileOpenEvents(qapp)
    qapp.installEventFilter(events)
    try:
        first, second = str(tmp_path / "first.lci"), str(tmp_path / "second.png")
        qapp.sendEvent(qapp, QFileOpenEvent(first))  # during launch, before the window exists
        assert events.pending == [first]
        opened: list[str] = []
        events.attach(opened.append)
        assert opened == [first] and events.pending == []
        qapp.sendEvent(qapp, QFileOpenEvent(second))
        assert opened == [first, second]
    finally:
        qapp.removeEventFilter(events)
