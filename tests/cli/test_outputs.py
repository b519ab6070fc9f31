"""Outputs are checked before the work (issue 15, finding 6).

`lci compare` and `lci encode` found an unwritable or missing output folder only after all the work
(25 s on a Kodak-size photo), and `-o` naming the input image overwrote the image. Each test counts
the calls of the work itself (reading the picture, encoding, the ladder, training) to show none ran.
"""

from __future__ import annotations

import pytest
from PIL import Image

from lci_studio.cli import bench, encode, main
from lci_studio.cli.files import OVERWRITE_RULE
from tests.conftest import make_photo


@pytest.fixture
def work(monkeypatch):
    """Counts every start of real work the commands could do; none may run when an output is wrong."""
    import lci_studio.codec.comparison as comparison
    import lci_studio.codec.ladder as ladder_mod
    import lci_studio.codec.training as training

    calls: list[str] = []

    def counted(name, function):
        def run(*args, **kwargs):
            calls.append(name)
            return function(*args, **kwargs)

        return run

    for module in (encode, bench):
        monkeypatch.setattr(module, "load_rgb", counted("load_rgb", module.load_rgb))
    monkeypatch.setattr(encode, "encode_image", counted("encode_image", encode.encode_image))
    monkeypatch.setattr(encode, "decode_file", counted("decode_file", encode.decode_file))
    monkeypatch.setattr(ladder_mod, "encode_ladder", counted("encode_ladder", ladder_mod.encode_ladder))
    monkeypatch.setattr(comparison, "bench_folder", counted("bench_folder", comparison.bench_folder))
    monkeypatch.setattr(training, "train", counted("train", training.train))
    return calls


def fails(capsys, argv: list[str]) -> str:
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lci: error: "), err
    return err[0]


def test_a_missing_output_folder_fails_before_encoding(tmp_path, capsys, ladder, image, work):
    out = tmp_path / "missing" / "x.lci"
    line = fails(capsys, ["encode", str(image), "-o", str(out), "-q", "2", "--weights", str(ladder)])
    assert "does not exist" in line and work == []


def test_a_missing_output_folder_fails_before_the_ladder(tmp_path, capsys, ladder, image, work):
    for flag in ("--json", "--csv"):
        argv = ["compare", str(image), flag, str(tmp_path / "missing" / "rd.out"), "--weights", str(ladder)]
        assert "does not exist" in fails(capsys, argv)
    assert work == []


def test_an_output_through_a_file_or_onto_a_folder_fails_before_the_work(tmp_path, capsys, ladder, image, work):
    lci = tmp_path / "photo.lci"
    lci.write_bytes(b"not read")
    through_file = tmp_path / "photo.png" / "x.png"  # the image is not a folder
    assert "is not a folder" in fails(capsys, ["decode", str(lci), "-o", str(through_file)])
    assert "is a folder" in fails(capsys, ["decode", str(lci), "-o", str(tmp_path)])
    (tmp_path / "eval").mkdir()
    Image.fromarray(make_photo(32, 32)).save(tmp_path / "eval" / "a.png")
    argv = ["bench", str(tmp_path / "eval"), "--json", str(tmp_path / "nowhere" / "b.json"), "--weights", str(ladder)]
    assert "does not exist" in fails(capsys, argv)
    argv = ["train", str(tmp_path / "eval"), "--out", str(image), "--steps", "1"]
    assert "is a file" in fails(capsys, argv)
    assert work == []


def test_the_input_is_never_overwritten(tmp_path, capsys, ladder, image, work):
    before = image.read_bytes()
    line = fails(capsys, ["encode", str(image), "-o", str(image), "-q", "1", "--weights", str(ladder)])
    assert "input" in line and image.read_bytes() == before
    alias = tmp_path / "sub" / ".." / image.name  # the same file by another name
    (tmp_path / "sub").mkdir()
    assert "input" in fails(capsys, ["compare", str(image), "--csv", str(alias), "--weights", str(ladder)])
    assert image.read_bytes() == before and work == []


def test_one_overwrite_rule_replace_unless_no_clobber(tmp_path, capsys, ladder, image):
    out = tmp_path / "x.lci"
    out.write_bytes(b"old")
    argv = ["encode", str(image), "-o", str(out), "-q", "1", "--weights", str(ladder)]
    assert "--no-clobber" in fails(capsys, [*argv, "--no-clobber"])
    assert out.read_bytes() == b"old"
    assert main(argv) == 0
    assert out.read_bytes()[:3] != b"old"
    capsys.readouterr()
    back = tmp_path / "back.png"
    back.write_bytes(b"old")
    assert "--no-clobber" in fails(capsys, ["decode", str(out), "-o", str(back), "--no-clobber"])
    assert back.read_bytes() == b"old"


def test_two_outputs_with_one_name_are_refused(tmp_path, capsys, ladder, image, work):
    same = str(tmp_path / "rd.out")
    assert "two outputs" in fails(capsys, ["compare", str(image), "--json", same, "--csv", same])
    assert work == []


@pytest.mark.parametrize("command", ["encode", "decode", "compare", "bench"])
def test_every_writing_command_says_the_rule_in_its_help(capsys, command):
    assert main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--no-clobber" in text and OVERWRITE_RULE in text
