"""packaging/launcher.py: the bundle's one executable is `lci` or `lci-studio` by the name it is started as."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[2] / "packaging" / "launcher.py"


@pytest.mark.parametrize(
    ("argv0", "expected"),
    [("/usr/bin/lci", "usage: lci "), ("/opt/lci-studio/lci-studio", "usage: lci-studio ")],
)
def test_the_name_chooses_the_command(monkeypatch, capsys, argv0, expected):
    spec = importlib.util.spec_from_file_location("launcher", LAUNCHER)
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    monkeypatch.setattr(sys, "argv", [argv0, "--help"])
    status = None
    with contextlib.suppress(SystemExit):  # argparse's --help exits in lci-studio, lci returns 0
        status = launcher.main()
    assert status in (None, 0)
    assert capsys.readouterr().out.startswith(expected)
