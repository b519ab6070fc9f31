"""`--effort` and `--steps` of `lci encode | compare | bench` (issue 24): the refined encoder from the
command line, what the JSON records, usage errors, and refined files read by plain `lci decode`."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

from lci_studio.cli import main
from lci_studio.codec.metrics import psnr_rgb
from lci_studio.codec.refinement import EFFORTS, MAX_STEPS, Effort

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _usage_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("lci: error: "), err
    return err[0]


def test_encode_with_effort_writes_a_file_plain_decode_reads_to_the_reported_psnr(tmp_path, capsys, ladder, image):
    out = tmp_path / "x.lci"
    argv = ["encode", str(image), "-o", str(out), "-q", "4", "--weights", str(ladder), "--effort", "normal"]
    assert main([*argv, "--steps", "4"]) == 0
    said = capsys.readouterr().out
    assert "refined encoder, effort normal (4 steps)" in said
    assert "R + λ·D" in said or "kept the plain" in said
    reported = float(re.search(r"PSNR ([0-9.]+) dB", said).group(1))
    back = tmp_path / "back.png"
    assert main(["decode", str(out), "-o", str(back), "--weights", str(ladder)]) == 0
    decoded = np.asarray(Image.open(back).convert("RGB"))
    assert round(psnr_rgb(np.asarray(Image.open(image).convert("RGB")), decoded), 2) == reported
    capsys.readouterr()
    first = out.read_bytes()
    assert main([*argv, "--steps", "4"]) == 0  # the same seed: the same bytes
    assert out.read_bytes() == first
    assert main([*argv[:-2], "--effort", "fast"]) == 0
    assert "plain encoder" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--effort", "max"], "choose from 'fast', 'normal', 'best'"),
        (["--effort", ""], "choose from 'fast', 'normal', 'best'"),
        (["--steps", "-1"], f"choose 0 to {MAX_STEPS}"),
        (["--steps", str(MAX_STEPS + 1)], f"choose 0 to {MAX_STEPS}"),
        (["--steps", "many"], f"choose 0 to {MAX_STEPS}"),
        (["--effort", "normal", "--metric", "ms-ssim"], "--effort fast"),
    ],
)
def test_an_effort_or_step_count_out_of_range_is_a_usage_error(tmp_path, capsys, ladder, image, flags, needle):
    for command in (
        ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "2"],
        ["compare", str(image)],
        ["bench", str(image.parent), "--json", str(tmp_path / "b.json")],
    ):
        assert needle in _usage_error(capsys, [*command, "--weights", str(ladder), *flags])
    assert not (tmp_path / "x.lci").exists() and not (tmp_path / "b.json").exists()


def test_an_effort_row_is_all_the_command_line_needs(tmp_path, capsys, ladder, image, monkeypatch):
    """docs/ARCHITECTURE.md, "add an encoder effort": one `EFFORTS` row, registered here alone, is a `--effort`."""
    monkeypatch.setitem(EFFORTS, "quick", Effort("quick", 3, "three refinement steps per tile"))
    argv = ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "2", "--weights", str(ladder)]
    assert main([*argv, "--effort", "quick"]) == 0
    assert "refined encoder, effort quick (3 steps)" in capsys.readouterr().out


def test_help_names_the_efforts(capsys):
    assert main(["encode", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for effort in EFFORTS.values():
        assert effort.name in text
    assert "--steps" in text


def test_compare_json_records_the_encoder_and_its_steps(tmp_path, capsys, ladder, image):
    out = tmp_path / "rd.json"
    argv = ["compare", str(image), "--weights", str(ladder), "--json", str(out), "--effort", "best", "--steps", "2"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "refined encoder, effort best (2 steps)" in said
    document = json.loads(out.read_text())
    assert document["encoder"] == {
        "name": "refined", "effort": "best", "steps": 2, "method": "polish", "seed": 0, "lambda": None
    }
    assert {(d["encoder"], d["effort"], d["steps"]) for d in document["details"]} == {("refined", "best", 2)}
    assert "refined encoder" in document["description"]
    assert main(["compare", str(image), "--weights", str(ladder), "--json", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["encoder"]["name"] == "plain" and document["encoder"]["steps"] == 0


def test_bench_json_records_the_encoder(tmp_path, capsys, ladder, image):
    out = tmp_path / "bench.json"
    argv = ["bench", str(image.parent), "--weights", str(ladder), "--json", str(out), "--no-baselines"]
    assert main([*argv, "--effort", "normal", "--steps", "1"]) == 0
    assert "refined encoder, effort normal (1 step)" in capsys.readouterr().out
    refined = json.loads(out.read_text())
    assert refined["encoder"]["name"] == "refined" and refined["encoder"]["steps"] == 1
    assert main(argv) == 0
    plain = json.loads(out.read_text())
    assert plain["encoder"] == {
        "name": "plain", "effort": "fast", "steps": 0, "method": "ste", "seed": 0, "lambda": None
    }
    lam = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]  # the ladder's λ (its file names)

    def objective(doc, i):
        return doc["results"]["bpp"][i] + lam[i] * 255**2 * 10 ** (-doc["results"]["psnr-rgb"][i] / 10)

    for i in range(8):  # one image: the mean is the picture's own, never worse than plain
        assert objective(refined, i) <= objective(plain, i) + 1e-9


def test_encode_for_another_lambda_says_which_and_refuses_one_outside_the_band(tmp_path, capsys, ladder, image):
    out = tmp_path / "x.lci"
    argv = ["encode", str(image), "-o", str(out), "-q", "4", "--weights", str(ladder), "--steps", "3"]
    assert main([*argv, "--lambda", "0.02"]) == 0
    said = capsys.readouterr().out
    assert "for λ=0.02" in said and ("R + λ·D" in said or "kept the plain" in said)
    out.unlink()
    for value, needle in (
        ("0.05", "--lambda: λ 0.05 is outside what quality 4 can be refined for: choose 0.0067 to 0.025"),
        ("0.001", "choose 0.0067 to 0.025 (its own λ is 0.013)"),
        ("0", "invalid λ '0': a positive number"),
        ("nan", "invalid λ 'nan'"),
        ("much", "invalid λ 'much'"),
    ):
        assert needle in _usage_error(capsys, [*argv, "--lambda", value])
    assert "needs refinement steps" in _usage_error(capsys, [*argv[:-2], "--lambda", "0.013"])
    assert not out.exists()
