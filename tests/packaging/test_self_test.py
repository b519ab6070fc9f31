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
    assert [line.split(":")[0] for line in lines[1:]] == [
        "PASS weights", "PASS codec", "PASS heic", "PASS icon", "PASS samples", "PASS window", "PASS"
    ]
    assert "8 levels" in lines[1]
    assert "PSNR" in lines[2]
    assert "Display P3 → sRGB" in lines[3]
    assert "astronaut.png, chelsea.png, coffee.png" in lines[5]
    assert "Samples ▸ lists astronaut.png, chelsea.png, coffee.png; astronaut.png gave 8 tiles" in lines[6]
    assert lines[-1].endswith("exit code 0")


@pytest.fixture
def damaged_resources(tmp_path, monkeypatch):
    """A copy of resources/ whose q3 weights differ from the manifest by one byte, located as the installed
    resources are (through `lci_studio.resources.root`, the one place that finds them)."""
    from lci_studio import resources

    copy = tmp_path / "resources"
    shutil.copytree(ROOT / "resources", copy)
    q3 = copy / "weights" / "q3.safetensors"
    data = bytearray(q3.read_bytes())
    data[-1] ^= 0x01
    q3.write_bytes(bytes(data))
    monkeypatch.setattr(resources, "root", lambda: copy)
    return copy


def without_window(names=("window",)):
    """The checks but the window's (it runs a whole ladder): enough for what a damaged file changes."""
    from lci_studio.selftest import CHECKS

    return [check for check in CHECKS if check[0] not in names]


def test_self_test_names_damaged_weights_and_fails(damaged_resources, capsys):
    from lci_studio.selftest import main as self_test

    assert self_test(without_window()) == 1
    out = capsys.readouterr().out
    assert "FAIL weights: WeightsError: The weights file q3.safetensors does not match its manifest" in out
    assert "PASS codec" in out  # q4, the level the codec check uses, is intact: the other checks still run
    assert out.splitlines()[-1] == "FAIL: 1 of 5 checks failed (weights); exit code 1"


def test_self_test_reports_a_missing_icon(damaged_resources, capsys):
    from lci_studio.selftest import main as self_test

    (damaged_resources / "icons" / "lci-studio.svg").unlink()
    assert self_test(without_window()) == 1
    out = capsys.readouterr().out
    assert "FAIL icon: AssertionError:" in out and "lci-studio.svg is missing" in out
    assert "(weights, icon)" in out


def test_self_test_fails_when_the_samples_menu_would_be_empty(damaged_resources, capsys):
    """The installed app once shipped its photos where the Samples menu did not look: the self-test (and so
    the frozen CI, which runs it) now opens Samples ▸ as a presenter would and names what it found."""
    from lci_studio.selftest import CHECKS
    from lci_studio.selftest import main as self_test

    shutil.rmtree(damaged_resources / "samples")
    assert self_test([check for check in CHECKS if check[0] in ("samples", "window")]) == 1
    out = capsys.readouterr().out
    assert f"FAIL samples: AssertionError: no sample photos in {damaged_resources / 'samples'}" in out
    assert "FAIL window: AssertionError: Samples ▸ lists ['No samples installed']; the bundle has no photos" in out


def test_resources_are_located_in_one_place(damaged_resources):
    """Weights, samples, the icon and the window's Samples menu all follow `lci_studio.resources.root`."""
    from lci_studio.codec.weights import BundledSource
    from lci_studio.resources import icon_path, sample_photos

    assert BundledSource().directory == damaged_resources / "weights"
    assert icon_path() == damaged_resources / "icons" / "lci-studio.svg"
    assert [p.parent for p in sample_photos()] == [damaged_resources / "samples"] * 3


def test_version_and_self_test_from_the_command_line():
    version = subprocess.run(
        [sys.executable, "-m", "lci_studio.gui.main", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"lci-studio {__version__}"
    helped = subprocess.run([sys.executable, "-m", "lci_studio.gui.main", "--help"], capture_output=True, text=True)
    assert "--self-test" in helped.stdout


def test_self_test_fails_when_heic_does_not_open(monkeypatch, capsys):
    """A build whose Pillow lacks the HEIF plugin fails the check and says why."""
    from PIL import Image

    from lci_studio.codec import image_io  # noqa: F401  (registers HEIF, which the test then takes away)
    from lci_studio.selftest import CHECKS
    from lci_studio.selftest import main as self_test

    monkeypatch.delitem(Image.OPEN, "HEIF")
    monkeypatch.setattr(Image, "ID", [name for name in Image.ID if name != "HEIF"])
    assert self_test([check for check in CHECKS if check[0] == "heic"]) == 1
    lines = capsys.readouterr().out.splitlines()[1:]
    assert lines[0].startswith("FAIL heic: ImageReadError: ") and "display-p3.heic: not a readable image" in lines[0]
    assert lines[1] == "FAIL: 1 of 1 checks failed (heic); exit code 1"


def test_the_shipped_heic_is_what_the_self_test_says():
    """One colour of Display P3 by nclx, no ICC profile: what the check's expected sRGB is computed for."""
    import numpy as np
    from PIL import Image

    from lci_studio import resources, selftest

    with Image.open(resources.root() / selftest.HEIC) as image:
        assert image.format == "HEIF" and image.size == (64, 48) and "icc_profile" not in image.info
        nclx = image.info["nclx_profile"]
        assert (nclx["color_primaries"], nclx["transfer_characteristics"]) == (12, 13)
        stored = np.asarray(image.convert("RGB")).reshape(-1, 3)
    assert np.abs(stored.astype(int) - selftest.HEIC_P3_COLOUR).max() <= 3
