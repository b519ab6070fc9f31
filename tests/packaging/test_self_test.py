"""`lci-studio --self-test`: one line per check, PASS/FAIL, and an exit code that says whether all passed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from lci_studio import __version__
from lci_studio.gui.main import main as studio_main

ROOT = Path(__file__).resolve().parents[2]


def test_self_test_passes_on_the_shipped_resources(capsys):
    assert studio_main(["--self-test"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"LCI Studio {__version__}")
    assert [line.split(":")[0] for line in lines[1:]] == ["PASS weights", "PASS codec", "PASS icon", "PASS"]
    assert "8 levels" in lines[1]
    assert "PSNR" in lines[2]
    assert lines[-1].endswith("exit code 0")


@pytest.fixture
def damaged_resources(tmp_path, monkeypatch):
    """A copy of resources/ whose q3 weights differ from the manifest by one byte."""
    from lci_studio.codec import weights

    copy = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", copy)
    q3 = copy / "weights" / "q3.safetensors"
    data = bytearray(q3.read_bytes())
    data[-1] ^= 0x01
    q3.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: copy / "weights")
    return copy


def test_self_test_names_damaged_weights_and_fails(damaged_resources, capsys):
    assert studio_main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL weights: WeightsError: The weights file q3.safetensors does not match its manifest" in out
    assert "PASS codec" in out  # q4, the level the codec check uses, is intact: the other checks still run
    assert out.splitlines()[-1] == "FAIL: 1 of 3 checks failed (weights); exit code 1"


def test_self_test_reports_a_missing_icon(damaged_resources, capsys):
    (damaged_resources / "icons" / "lci-studio.svg").unlink()
    assert studio_main(["--self-test"]) == 1
    out = capsys.readouterr().out
    assert "FAIL icon: AssertionError:" in out and "lci-studio.svg is missing" in out
    assert "(weights, icon)" in out


def test_version_and_self_test_from_the_command_line():
    version = subprocess.run(
        [sys.executable, "-m", "lci_studio.gui.main", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"lci-studio {__version__}"
    helped = subprocess.run([sys.executable, "-m", "lci_studio.gui.main", "--help"], capture_output=True, text=True)
    assert "--self-test" in helped.stdout
