"""The freedesktop files of packaging/linux: they validate, and *.lci and its magic bytes become application/x-lci.

The MIME test installs the shared-mime-info entry into a temporary XDG data folder the way
install.sh and the .deb do (mime/packages + update-mime-database) and asks the two libraries
file managers use, Qt's QMimeDatabase (KDE) and GIO (GNOME), what a file is.
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lci_studio.codec.lci_format import MAGIC

LINUX = Path(__file__).resolve().parents[2] / "packaging" / "linux"
DESKTOP = LINUX / "lci-studio.desktop"
MIME = LINUX / "lci-studio-mime.xml"
METAINFO = LINUX / "io.github.lci_studio.LciStudio.metainfo.xml"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt install desktop-file-utils appstream shared-mime-info)")
    return path


def test_desktop_file_validates_and_opens_lci_files():
    done = subprocess.run([_tool("desktop-file-validate"), str(DESKTOP)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error" not in done.stdout
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP)
    section = entry["Desktop Entry"]
    assert "application/x-lci" in section["MimeType"].split(";")
    assert section["Exec"].split()[-1] == "%f"  # the double-clicked file is passed on
    assert section["Icon"] == "lci-studio"
    assert section["StartupWMClass"] == "lci-studio"  # Qt's desktop file name (gui/main.py) ties window to entry


def test_metainfo_validates_and_names_the_desktop_entry():
    command = [_tool("appstreamcli"), "validate", "--no-net", str(METAINFO)]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text = METAINFO.read_text()
    assert "<launchable type=\"desktop-id\">lci-studio.desktop</launchable>" in text
    assert "<screenshot type=\"default\">" in text


@pytest.fixture(scope="module")
def xdg_data(tmp_path_factory) -> Path:
    """A data folder holding only our MIME entry, compiled by update-mime-database as an install does."""
    data = tmp_path_factory.mktemp("xdg-data")
    (data / "mime" / "packages").mkdir(parents=True)
    shutil.copy(MIME, data / "mime" / "packages" / "lci-studio.xml")
    subprocess.run([_tool("update-mime-database"), str(data / "mime")], check=True, capture_output=True)
    return data


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("files")
    made = {
        "named": folder / "photo.lci",  # a real header: magic and extension agree
        "magic only": folder / "photo-without-extension",  # e.g. a download that lost its name
        "png": folder / "picture.png",
    }
    made["named"].write_bytes(MAGIC + bytes(60))
    made["magic only"].write_bytes(MAGIC + bytes(60))
    made["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(60))
    return made


def test_update_mime_database_compiles_the_glob_and_the_magic(xdg_data):
    assert "application/x-lci:*.lci" in (xdg_data / "mime" / "globs2").read_text()
    assert b"application/x-lci" in (xdg_data / "mime" / "magic").read_bytes()
    assert (xdg_data / "mime" / "application" / "x-lci.xml").is_file()


QT_QUERY = """
import sys
from PySide6.QtCore import QMimeDatabase
db = QMimeDatabase()
for path in sys.argv[1:]:
    print(db.mimeTypeForFile(path).name())
"""


@pytest.fixture(scope="module")
def system_data(tmp_path_factory) -> Path:
    """The distribution's base MIME database alone (image/png etc.), as on a desktop without our entry.

    Not the machine's /usr/share itself: CI installs the .deb beside the suite, and then the
    system database knows application/x-lci for a while.
    """
    data = tmp_path_factory.mktemp("system-data")
    dirs = (os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")
    for folder in dirs:
        base = Path(folder) / "mime" / "packages" / "freedesktop.org.xml"
        if base.is_file():
            (data / "mime" / "packages").mkdir(parents=True)
            shutil.copy(base, data / "mime" / "packages")
            subprocess.run([_tool("update-mime-database"), str(data / "mime")], check=True, capture_output=True)
            break
    return data  # empty when the machine has none: Qt then uses its built-in copy


@pytest.fixture
def isolated_env(system_data, tmp_path):
    def env_with(xdg_data: Path) -> dict[str, str]:
        env = dict(os.environ)
        env["XDG_DATA_HOME"] = str(xdg_data)
        env["XDG_DATA_DIRS"] = str(system_data)
        env["HOME"] = str(tmp_path)
        return env

    return env_with


def test_qt_maps_the_name_and_the_magic_bytes_to_application_x_lci(xdg_data, files, isolated_env):
    paths = [str(files[k]) for k in ("named", "magic only", "png")]
    done = subprocess.run(
        [sys.executable, "-c", QT_QUERY, *paths], env=isolated_env(xdg_data),
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.split() == ["application/x-lci", "application/x-lci", "image/png"]


def test_gio_maps_the_name_and_the_magic_bytes_to_application_x_lci(xdg_data, files, isolated_env):
    gio = _tool("gio")
    seen = []
    for key in ("named", "magic only"):
        done = subprocess.run(
            [gio, "info", "-a", "standard::content-type", str(files[key])],
            env=isolated_env(xdg_data), capture_output=True, text=True, check=True,
        )
        seen.append(done.stdout.split("standard::content-type:")[1].split()[0])
    assert seen == ["application/x-lci", "application/x-lci"]


def test_without_the_entry_the_same_file_is_not_application_x_lci(files, tmp_path, isolated_env):
    """The mapping comes from our entry, not from something already on the machine."""
    empty = tmp_path / "empty-data"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", QT_QUERY, str(files["magic only"])], env=isolated_env(empty),
        capture_output=True, text=True, check=True,
    )
    assert done.stdout.strip() != "application/x-lci"
