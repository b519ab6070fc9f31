"""The layering contract: the codec core and the command line never need Qt.

`lci bench` or `lci train` on a headless server, a notebook, or a script importing
`lci_studio.codec` must not load PySide6 or pyqtgraph (a Qt import can fail without a
display's libraries, and costs seconds). The window sits on top and may import anything below.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import lci_studio.codec

ROOT = Path(__file__).resolve().parents[1]
CODEC = ROOT / "app" / "lci_studio" / "codec"
GUI_ROOTS = ("PySide6", "pyqtgraph", "shiboken6")
# Qt-free modules above the core: the command line and the window's session and view-state models.
QT_FREE = ("lci_studio.cli", "lci_studio.session", "lci_studio.view_state")

PROBE = """
import importlib, json, sys
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps(loaded))
"""


def codec_modules() -> list[str]:
    return [f"lci_studio.codec.{m.name}" for m in pkgutil.iter_modules(lci_studio.codec.__path__)]


def test_cli_and_every_codec_module_import_without_qt():
    modules = [*QT_FREE, *codec_modules()]
    assert "lci_studio.codec.report" in modules and len(modules) > 10
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(modules), json.dumps(GUI_ROOTS)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def imported_names(path: Path) -> set[str]:
    """Every module a file imports, at any depth in it (function-local imports included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_core_imports_nothing_from_the_faces():
    forbidden = ("lci_studio.gui", "lci_studio.cli", "lci_studio.session", "lci_studio.view_state", "app", *GUI_ROOTS)
    offenders = {
        f"{path.name}: {name}"
        for path in sorted(CODEC.glob("*.py"))
        for name in imported_names(path)
        if any(name == root or name.startswith(root + ".") for root in forbidden)
    }
    assert offenders == set()


def test_the_command_line_imports_nothing_from_the_window():
    names = {name for path in (ROOT / "app" / "lci_studio" / "cli").glob("*.py") for name in imported_names(path)}
    assert names and not [n for n in names if n.startswith(("lci_studio.gui", *GUI_ROOTS))]
