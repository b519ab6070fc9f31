"""A big picture says how large it is and shows its progress tile by tile (issue 15, finding 6).

A 90 MP PNG was encoded for 156 s after nothing but Pillow's warning. Over LARGE_IMAGE_PIXELS (lowered
here, so that a small picture counts as big) every command that transforms the picture says its size
in one line on stderr and then each transform's tiles; a smaller picture gets neither.
"""

from __future__ import annotations

import pytest

from lci_studio.cli import main, terminal
from lci_studio.codec import image_io


@pytest.fixture
def big(monkeypatch):
    """Pictures over 1,000 pixels count as big (the small photo is one tile per transform)."""
    monkeypatch.setattr(image_io, "LARGE_IMAGE_PIXELS", 1000)


def stderr_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_encode_and_decode_of_a_big_picture_say_its_size_then_its_tiles(tmp_path, capsys, ladder, image, big):
    out = tmp_path / "photo.lci"
    assert main(["encode", str(image), "-o", str(out), "-q", "2", "--weights", str(ladder)]) == 0
    lines = stderr_lines(capsys)
    assert lines[0].startswith("photo.png: 64×48 pixels (0.0 MP), over 0 MP: each quality takes a while")
    assert lines[1:] == ["  q2 encode: 1 of 1 tiles", "  q2 decode: 1 of 1 tiles"]
    assert main(["decode", str(out), "-o", str(tmp_path / "back.png"), "--weights", str(ladder)]) == 0
    lines = stderr_lines(capsys)
    assert lines[0].startswith("photo.lci: 64×48 pixels") and lines[1:] == ["  decode: 1 of 1 tiles"]


def test_compare_of_a_big_picture_shows_every_quality_tile_by_tile(capsys, ladder, image, big):
    assert main(["compare", str(image), "--weights", str(ladder)]) == 0
    lines = stderr_lines(capsys)
    assert "64×48 pixels" in lines[0]
    assert lines[1:] == [f"  q{q} {stage}: 1 of 1 tiles" for q in range(1, 9) for stage in ("encode", "decode")]


def test_on_a_terminal_the_tiles_are_a_bar(tmp_path, capsys, ladder, image, big, monkeypatch):
    monkeypatch.setattr(terminal, "tty", lambda: True)
    assert main(["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(ladder)]) == 0
    err = capsys.readouterr().err
    assert "q1 encode:" in err and "q1 decode:" in err and "tile/s" in err


def test_a_picture_under_the_size_says_nothing_more(tmp_path, capsys, ladder, image):
    assert main(["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(ladder)]) == 0
    assert capsys.readouterr().err == ""
