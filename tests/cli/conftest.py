"""Fixtures the CLI tests share: a small random ladder on disk and a small photo made here."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import make_photo, save_ladder


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    return save_ladder(tmp_path_factory.mktemp("ladder"))


@pytest.fixture
def image(tmp_path) -> Path:
    """A fresh 48×64 PNG per test, so a test may damage or overwrite it."""
    path = tmp_path / "photo.png"
    Image.fromarray(make_photo(48, 64, seed=1)).save(path)
    return path
