"""Before Qt starts on X11: name the Debian/Ubuntu packages whose libraries the xcb platform plugin lacks.

Without them Qt aborts with "Could not load the Qt platform plugin xcb ... no Qt platform plugin
could be initialized", which names neither the missing library nor the package to install (the
pip route on a bare Debian lacks libxcb-cursor0 at least). Checking costs a few dlopen calls.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

# What Qt 6's xcb plugin (libqxcb.so → libQt6XcbQpa) links against beyond the C runtime, with the
# Debian 12 / Ubuntu 22.04+ package that ships each library (ldd of PySide6 6.x's plugin).
XCB_LIBRARIES: dict[str, str] = {
    "libxcb.so.1": "libxcb1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}


def library_loads(soname: str) -> bool:
    """True when the dynamic loader finds `soname`, on the system or inside a frozen bundle's folder."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and (Path(bundle) / soname).is_file():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether Qt will open its windows through xcb: Linux, and no other platform chosen or preferred."""
    env = os.environ if environ is None else environ
    if not platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    # A Wayland session may well run without the X11 libraries; Qt picks wayland there first.
    return not env.get("WAYLAND_DISPLAY")


def missing_xcb_packages(loads: Callable[[str], bool] | None = None) -> list[tuple[str, str]]:
    """(library, package) for each library of the xcb plugin that cannot be loaded; empty when all can."""
    loads = loads or library_loads
    return [(soname, package) for soname, package in XCB_LIBRARIES.items() if not loads(soname)]


def missing_libraries_message(missing: list[tuple[str, str]]) -> str:
    """One line: what is missing and the apt command that installs it."""
    libraries = ", ".join(soname for soname, _ in missing)
    packages = " ".join(dict.fromkeys(package for _, package in missing))
    return (
        f"lci-studio: Qt cannot open a window on X11: {libraries} not found; "
        f"install them with: sudo apt install {packages}"
    )
