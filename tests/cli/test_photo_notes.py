"""`lci` says how an input file became 8-bit sRGB where it reports the picture (image_io's note)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from lci_studio.cli import main
from tests.conftest import make_photo


def grey16_tiff(folder: Path) -> Path:
    path = folder / "grey16.tif"
    Image.fromarray(make_photo(48, 64, seed=9)[:, :, 0].astype(np.uint16) * 257).save(path)
    return path


def test_encode_names_the_conversion_of_a_sixteen_bit_grey_tiff(tmp_path, capsys, ladder):
    path = grey16_tiff(tmp_path)
    assert main(["encode", str(path), "-o", str(tmp_path / "a.lci"), "-q", "2", "--weights", str(ladder)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.endswith("; grey16.tif: 16-bit → 8-bit)"), line


def test_compare_names_it_in_its_first_line(tmp_path, capsys, ladder):
    path = grey16_tiff(tmp_path)
    assert main(["compare", str(path), "--weights", str(ladder), "--json", str(tmp_path / "rd.json")]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("grey16.tif: 64x48, ") and first.endswith("; 16-bit → 8-bit"), first


def test_encode_of_a_plain_png_says_nothing_more(tmp_path, capsys, ladder, image):
    assert main(["encode", str(image), "-o", str(tmp_path / "a.lci"), "-q", "2", "--weights", str(ladder)]) == 0
    assert capsys.readouterr().out.strip().endswith(" s)")
