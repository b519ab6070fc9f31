"""The bundled ladder must be inside a plain, non-editable install of the package."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import hashlib, json, sys
from importlib.resources import files
weights = files("lci_studio.resources") / "weights"
manifest = json.loads((weights / "manifest.json").read_text())
for level in manifest["levels"]:
    data = (weights / level["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == level["sha256"], level["file"]
samples = sorted(p.name for p in (files("lci_studio.resources") / "samples").iterdir())
print(json.dumps({"qualities": [l["quality"] for l in manifest["levels"]], "samples": samples,
                  "location": str(weights)}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(ROOT)],
        check=True,
    )
    (built,) = out.glob("lci_studio-*.whl")
    return built


def test_a_plain_install_carries_the_bundled_ladder_and_samples(wheel, tmp_path):
    manifest = json.loads((ROOT / "resources" / "weights" / "manifest.json").read_text())
    env = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True)
    shown = subprocess.run([str(python), "-c", CHECK], check=True, capture_output=True, text=True, cwd=tmp_path)
    found = json.loads(shown.stdout)
    assert found["qualities"] == [level["quality"] for level in manifest["levels"]] == list(range(1, 9))
    assert {"astronaut.png", "chelsea.png", "coffee.png", "LICENSES.md"} <= set(found["samples"])
    assert "site-packages" in found["location"]  # the installed copy, not the checkout


def test_the_bundled_ladder_fits_the_size_budget():
    weights = ROOT / "resources" / "weights"
    manifest = json.loads((weights / "manifest.json").read_text())
    total = sum((weights / level["file"]).stat().st_size for level in manifest["levels"])
    print(f"bundled ladder: {total / 1e6:.1f} MB for {len(manifest['levels'])} levels")
    assert total <= 30e6
    for level in manifest["levels"]:
        assert hashlib.sha256((weights / level["file"]).read_bytes()).hexdigest() == level["sha256"]


def test_the_wheel_carries_every_source_module(wheel):
    """Each module under app/ is in the wheel (a subpackage missing from pyproject's list would not be)."""
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT / "app").as_posix() for p in (ROOT / "app").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
