"""The `lci` command line, run in-process through `main([...])` on small random-weight ladders."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lci_studio.cli import bench as bench_cli
from lci_studio.cli import encode, error_text, files, main
from lci_studio.codec.baselines import BENCH_SETTINGS
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.number_format import format_bpp
from lci_studio.codec.pipeline import decode_lci
from lci_studio.codec.weights import BundledSource, FolderSource, load_checkpoint, open_weight_source
from tests.conftest import make_model, make_photo, save_ladder

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ fixtures


def _png(path: Path, height: int = 48, width: int = 64, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(make_photo(height, width, seed)).save(path)
    return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def other_ladder(tmp_path_factory) -> Path:
    return save_ladder(tmp_path_factory.mktemp("other"), seed=100)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """One photo for the whole module (these tests only read it); overrides the per-test one."""
    return _png(tmp_path_factory.mktemp("img") / "photo.png")


@pytest.fixture(scope="module")
def encoded(tmp_path_factory, ladder, image) -> Path:
    out = tmp_path_factory.mktemp("enc") / "photo.lci"
    assert main(["encode", str(image), "-o", str(out), "-q", "3", "--weights", str(ladder)]) == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A whole ladder run of a few steps on tiny crops: 2 warm steps, then 1 per level."""
    data = tmp_path_factory.mktemp("train")
    for i in range(2):
        _png(data / f"{i:03d}.png", 64, 64, seed=i)
    out = tmp_path_factory.mktemp("run")
    argv = ["train", str(data), "--out", str(out), "--ladder", "--warm-steps", "2", "--level-steps", "1"]
    argv += ["--N", "8", "--M", "8", "--crop", "32", "--batch", "2", "--threads", "1", "--seed", "3"]
    assert main(argv) == 0
    return out


def _fails(capsys, argv, code: int = 1) -> str:
    """Run argv, expect exit `code` and exactly one stderr line without a traceback; return that line."""
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lci: error: ")
    assert "Traceback" not in err
    return lines[0]


# ------------------------------------------------------------------------------ encode / decode / info


def test_encode_decode_round_trip_matches_pipeline(tmp_path, capsys, ladder, image):
    lci, png = tmp_path / "a.lci", tmp_path / "a.png"
    assert main(["encode", str(image), "-o", str(lci), "-q", "5", "--weights", str(ladder)]) == 0
    line = capsys.readouterr().out.strip()
    assert len(line.splitlines()) == 1
    assert "bytes" in line and "bpp" in line and "PSNR" in line
    assert main(["decode", str(lci), "-o", str(png), "--weights", str(ladder)]) == 0
    capsys.readouterr()
    expected = decode_lci(lci.read_bytes(), FolderSource(ladder).load(5))
    decoded = np.asarray(Image.open(png).convert("RGB"))
    assert decoded.shape == (48, 64, 3)
    assert np.array_equal(decoded, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.lci", "a.png"]  # no temp files left


def test_info_describes_header(capsys, encoded):
    assert main(["info", str(encoded)]) == 0
    out = capsys.readouterr().out
    size = encoded.stat().st_size
    assert f"{size:,} bytes" in out
    assert "quality 3" in out and "N=16, M=24" in out and "64x48" in out
    assert format_bpp(size * 8 / (64 * 48)) in out  # spelt as the window's captions spell it


# ----------------------------------------------------------------------------------- compare / bench


def test_compare_table_and_json(tmp_path, capsys, ladder, image):
    out_json, out_csv = tmp_path / "rd.json", tmp_path / "rd.csv"
    argv = ["compare", str(image), "--weights", str(ladder), "--json", str(out_json), "--csv", str(out_csv)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for q in range(1, 9):
        assert f" q{q} " in out
    assert "JPEG" in out and "BD-rate vs JPEG" in out
    doc = json.loads(out_json.read_text())
    assert doc["name"] == "bmshj2018-factorized"
    for key in ("bpp", *(m.json_key for m in METRICS.values()), "encoding_time", "decoding_time"):
        assert len(doc["results"][key]) == 8, key
    assert doc["qualities"] == list(range(1, 9))
    assert len(doc["details"]) == 8
    jpeg = doc["baselines"]["JPEG"]
    assert len(jpeg["settings"]) == len(jpeg["results"]["bpp"]) >= 1
    assert set(doc["bd_rate"]["JPEG"]) == {m.json_key for m in METRICS.values()}
    assert out_csv.read_text().startswith("codec,quality")


def test_compare_json_is_the_document_the_window_exports(tmp_path, capsys, ladder, image):
    """`lci compare --json` writes `report.comparison_json` of the ladder and the one baseline sweep, which the
    window's Export JSON calls with its own results: the same document (but for the timings)."""
    from lci_studio.codec.comparison import measure_around
    from lci_studio.codec.image_io import load_rgb
    from lci_studio.codec.ladder import encode_ladder
    from lci_studio.codec.report import comparison_json

    out_json = tmp_path / "rd.json"
    assert main(["compare", str(image), "--weights", str(ladder), "--json", str(out_json)]) == 0
    capsys.readouterr()
    written = json.loads(out_json.read_text())
    source = open_weight_source(str(ladder))
    picture = load_rgb(image)
    results = list(encode_ladder(picture, source))
    points = [p for sweep in measure_around(picture.pixels, results)[1].values() for p in sweep]
    again = comparison_json(results, points, picture, source.describe())
    for doc in (written, again):
        for key in ("encoding_time", "decoding_time"):
            assert len(doc["results"].pop(key)) == 8
    assert written == again


def test_bench_json_has_compressai_shape(tmp_path, capsys, ladder):
    folder = tmp_path / "imgs"
    _png(folder / "a.png", 40, 56, seed=1)
    _png(folder / "b.png", 48, 48, seed=2)
    (folder / "notes.txt").write_text("not an image, ignored by suffix")
    out_json = tmp_path / "bench.json"
    assert main(["bench", str(folder), "--json", str(out_json), "--weights", str(ladder)]) == 0
    out = capsys.readouterr().out
    assert "2 images" in out and "BD-rate vs JPEG" in out and "BD-rate vs WebP" in out
    doc = json.loads(out_json.read_text())
    assert set(doc) >= {"name", "description", "results"}
    assert set(doc["results"]) == {"bpp", *(m.json_key for m in METRICS.values()), "encoding_time", "decoding_time"}
    assert all(len(v) == 8 for v in doc["results"].values())
    assert doc["images"] == ["a.png", "b.png"]
    for codec in ("JPEG", "WebP"):
        curve = doc["baselines"][codec]
        assert len(curve["results"]["bpp"]) == len(curve["settings"]) == len(BENCH_SETTINGS)
        assert set(doc["bd_rate"][codec]) == {m.json_key for m in METRICS.values()}
        assert codec in doc["bd_psnr"]
        gaps = doc["psnr_gap_at_same_bpp"][codec]
        assert len(gaps) == 8 and f"PSNR vs {codec} at the same bpp (dB): q1 " in out
        rates = curve["results"]["bpp"]
        for bpp, psnr, gap in zip(doc["results"]["bpp"], doc["results"]["psnr-rgb"], gaps, strict=True):
            if min(rates) <= bpp <= max(rates):  # measured against the curve wherever it reaches
                # (random test weights may land outside it: tests/codec/test_bdrate.py has the numbers)
                assert gap == pytest.approx(psnr - _log_interp(bpp, rates, curve["results"]["psnr-rgb"]))
            else:
                assert gap is None


def _log_interp(rate: float, rates: list[float], values: list[float]) -> float:
    """The value at `rate` on the straight line in log-rate between the measured points around it."""
    points = sorted(zip(rates, values, strict=True))
    for (r0, v0), (r1, v1) in itertools.pairwise(points):
        if r0 <= rate <= r1:
            return v0 + (v1 - v0) * (math.log(rate) - math.log(r0)) / (math.log(r1) - math.log(r0))
    raise ValueError(rate)


def test_bench_mean_equals_mean_of_compare(tmp_path, capsys, ladder, monkeypatch):
    """bench averages per-image values (as CompressAI does): with one image it equals compare's numbers."""
    monkeypatch.setattr(bench_cli, "available_codecs", lambda: ("JPEG",))
    folder = tmp_path / "one"
    _png(folder / "a.png", 40, 56, seed=4)
    assert (
        main(["bench", str(folder), "--json", str(tmp_path / "b.json"), "--weights", str(ladder), "--no-baselines"])
        == 0
    )
    assert main(["compare", str(folder / "a.png"), "--weights", str(ladder), "--json", str(tmp_path / "c.json")]) == 0
    capsys.readouterr()
    bench = json.loads((tmp_path / "b.json").read_text())
    compare = json.loads((tmp_path / "c.json").read_text())
    assert "baselines" not in bench
    for key in ("bpp", "psnr-rgb", "ms-ssim-rgb"):
        assert bench["results"][key] == pytest.approx(compare["results"][key])


# ----------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frobnicate"],
        ["encode", "x.png", "-q", "3"],  # no -o
        ["encode", "x.png", "-o", "x.lci", "-q", "9"],
        ["encode", "x.png", "-o", "x.lci", "-q", "3", "--metric", "psnr"],
        ["bench", "dir"],  # no --json
        ["train", "data", "--out", "o", "--crop", "100"],
        ["train", "data", "--out", "o", "--steps", "0"],
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, argv):
    _fails(capsys, argv, code=2)


def test_help_exits_0(capsys):
    assert main(["--help"]) == 0
    assert "encode" in capsys.readouterr().out


def test_missing_inputs(tmp_path, capsys, ladder):
    line = _fails(
        capsys,
        ["encode", str(tmp_path / "nope.png"), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(ladder)],
    )
    assert "no such file" in line
    assert "no such file" in _fails(capsys, ["info", str(tmp_path / "nope.lci")])
    assert "no such file" in _fails(capsys, ["decode", str(tmp_path / "nope.lci"), "-o", str(tmp_path / "x.png")])
    assert "no such folder" in _fails(capsys, ["bench", str(tmp_path / "nodir"), "--json", str(tmp_path / "b.json")])
    _fails(capsys, ["encode", str(tmp_path), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(ladder)])
    assert list(tmp_path.iterdir()) == []


def test_bad_weights_source(tmp_path, capsys, image):
    _fails(
        capsys, ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(tmp_path / "nope")]
    )
    (tmp_path / "empty").mkdir()
    _fails(
        capsys, ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(tmp_path / "empty")]
    )
    bad = tmp_path / "q1.pth.tar"
    bad.write_bytes(b"not a checkpoint")
    _fails(capsys, ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(bad)])
    assert not (tmp_path / "x.lci").exists()


def test_errors_say_what_to_do_in_command_line_terms(tmp_path, capsys, image, monkeypatch):
    """The codec's errors are worded for every face; the CLI adds its flags (moved from tests/codec)."""
    from lci_studio.codec import pipeline, weights
    from lci_studio.codec.model import LoadedModel, ModelInfo, weights_fingerprint
    from lci_studio.codec.weights import WeightsError

    def loaded(source: str, metric: str, seed: int) -> LoadedModel:
        model = make_model(seed=seed)
        info = ModelInfo(source, 2, metric, 0.0067, model.N, model.M, weights_fingerprint(model))
        return LoadedModel(model, info)

    for source, metric, hint in (
        ("bundled", "mse", "decode it with --weights bundled"),
        ("compressai", "ms-ssim", "decode it with --weights compressai"),
    ):
        data = pipeline.encode_image(loaded(source, metric, 1), make_photo(16, 16)).lci
        with pytest.raises(pipeline.WeightsMismatchError) as caught:
            pipeline.decode_lci(data, loaded(source, metric, 2))
        assert hint in error_text(caught.value)
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: tmp_path / "nothing")
    with pytest.raises(WeightsError) as info:
        open_weight_source()
    assert re.search(r"No bundled weights are installed.*--weights compressai", error_text(info.value))
    line = _fails(capsys, ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1"])
    assert "No bundled weights are installed" in line and "--weights compressai" in line
    line = _fails(capsys, ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", "nope"])
    assert "--weights nope: not 'bundled', 'compressai'" in line


def _decode_fails(capsys, tmp_path, lci: Path, weights: Path) -> str:
    out = tmp_path / "out.png"
    line = _fails(capsys, ["decode", str(lci), "-o", str(out), "--weights", str(weights)])
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.png")]  # no temp file left
    return line


def test_corrupt_truncated_and_foreign_files(tmp_path, capsys, encoded, ladder, image):
    data = bytearray(encoded.read_bytes())
    data[len(data) // 2] ^= 0x40
    corrupt = tmp_path / "corrupt.lci"
    corrupt.write_bytes(bytes(data))
    assert "checksum" in _decode_fails(capsys, tmp_path, corrupt, ladder)
    truncated = tmp_path / "short.lci"
    truncated.write_bytes(encoded.read_bytes()[:-10])
    assert "truncated" in _decode_fails(capsys, tmp_path, truncated, ladder)
    assert "not an .lci file" in _decode_fails(capsys, tmp_path, image, ladder)
    assert "not an .lci file" in _fails(capsys, ["info", str(image)])
    assert "checksum" in _fails(capsys, ["info", str(corrupt)])


def test_mismatched_weights_name_the_needed_ones(tmp_path, capsys, encoded, other_ladder, ladder):
    line = _decode_fails(capsys, tmp_path, encoded, other_ladder)
    fingerprint = FolderSource(ladder).load(3).info.fingerprint
    assert "needs" in line and "quality 3" in line and fingerprint in line
    single = tmp_path / "weights" / "q5.pth.tar"
    single.parent.mkdir()
    single.write_bytes((ladder / "q5.pth.tar").read_bytes())
    assert "quality 3" in _decode_fails(capsys, tmp_path, encoded, single)
    # without --weights the file's own kind is asked for: here a folder, which only --weights can name
    line = _fails(capsys, ["decode", str(encoded), "-o", str(tmp_path / "out.png")])
    assert "--weights" in line and fingerprint in line
    assert not (tmp_path / "out.png").exists()


def test_failed_decode_keeps_the_previous_output(tmp_path, capsys, encoded, other_ladder):
    out = tmp_path / "keep.png"
    out.write_bytes(b"previous")
    _fails(capsys, ["decode", str(encoded), "-o", str(out), "--weights", str(other_ladder)])
    assert out.read_bytes() == b"previous"


def test_write_failures_are_one_line(tmp_path, capsys, ladder, image, encoded, monkeypatch):
    line = _fails(
        capsys, ["encode", str(image), "-o", str(tmp_path / "no" / "x.lci"), "-q", "1", "--weights", str(ladder)]
    )
    assert "does not exist" in line

    def full_disk(path, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "atomic_write", full_disk)
    line = _fails(capsys, ["decode", str(encoded), "-o", str(tmp_path / "x.png"), "--weights", str(ladder)])
    assert "No space left on device" in line


def test_interrupt_and_unexpected_errors(tmp_path, capsys, ladder, image, monkeypatch):
    argv = ["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "1", "--weights", str(ladder)]

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(encode, "encode_image", interrupt)
    assert main(argv) == 130
    assert capsys.readouterr().err.strip() == "lci: interrupted"

    def boom(*args, **kwargs):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(encode, "encode_image", boom)
    assert "RuntimeError: something broke" in _fails(capsys, argv)
    assert not (tmp_path / "x.lci").exists()


def test_module_entry_point_runs():
    result = subprocess.run(
        [sys.executable, "-m", "lci_studio.cli", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "export-bundle" in result.stdout
    result = subprocess.run(
        [sys.executable, "-m", "lci_studio.cli", "info"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert result.stderr.startswith("lci: error: ") and len(result.stderr.strip().splitlines()) == 1


# ----------------------------------------------------------------------------------- train / export


def test_train_ladder_writes_loadable_levels(trained):
    source = FolderSource(trained)
    assert source.qualities() == list(range(1, 9))
    for q in (1, 4, 8):
        model = load_checkpoint(trained / f"q{q}.pth.tar")
        assert (model.N, model.M) == (8, 8)
        assert model.entropy_bottleneck.has_tables
        record = json.loads((trained / f"q{q}.json").read_text())
        assert record["quality"] == q and record["steps"] == (2 if q == 4 else 1)
    assert not (trained / "state.pt").exists()


def test_train_failures(tmp_path, capsys):
    assert "no such folder" in _fails(capsys, ["train", str(tmp_path / "nodata"), "--out", str(tmp_path / "o")])
    data = tmp_path / "small"
    _png(data / "a.png", 32, 32)
    line = _fails(capsys, ["train", str(data), "--out", str(tmp_path / "o"), "--crop", "64", "--steps", "1"])
    assert "smaller than" in line


def test_export_bundle_writes_a_loadable_manifest(tmp_path, capsys, trained):
    evals = tmp_path / "eval"
    _png(evals / "e.png", 48, 48, seed=7)
    dest = tmp_path / "bundle"
    assert main(["export-bundle", str(trained), "--eval", str(evals), "--dest", str(dest)]) == 0
    assert "exported 8 levels" in capsys.readouterr().out
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest["family"] == "bmshj2018-factorized" and manifest["metric"] == "mse"
    assert manifest["training_data"] == "wikimedia-commons-49 train split"
    levels = manifest["levels"]
    assert [level["quality"] for level in levels] == list(range(1, 9))
    for level in levels:
        assert level["file"] == f"q{level['quality']}.safetensors"
        assert (level["N"], level["M"]) == (8, 8) and level["steps"] >= 1 and len(level["sha256"]) == 64
        assert set(level["eval"]) == {"bpp", "psnr", "ms_ssim"} and level["eval"]["bpp"] > 0
    assert levels[2]["lambda"] == pytest.approx(0.0067)
    source = open_weight_source(str(dest))
    assert source.qualities() == list(range(1, 9))
    loaded = BundledSource(dest).load(4)
    assert loaded.info.lmbda == pytest.approx(0.0130)
    # the float16 bundle still encodes and decodes through the CLI
    img = _png(tmp_path / "x.png", 32, 48)
    assert main(["encode", str(img), "-o", str(tmp_path / "x.lci"), "-q", "4", "--weights", str(dest)]) == 0
    assert main(["decode", str(tmp_path / "x.lci"), "-o", str(tmp_path / "y.png"), "--weights", str(dest)]) == 0


def test_export_bundle_needs_finished_levels(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    assert "no finished levels" in _fails(
        capsys, ["export-bundle", str(tmp_path / "run"), "--dest", str(tmp_path / "d")]
    )


def test_train_resumes_from_a_bundled_safetensors_level(tmp_path, capsys):
    from lci_studio.codec.weights import write_bundled_level

    start = tmp_path / "q4.safetensors"
    write_bundled_level(make_model(N=8, M=8, seed=5), start)
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    out = tmp_path / "run"
    argv = ["train", str(data), "--out", str(out), "-q", "4", "--steps", "2", "--crop", "32", "--batch", "2"]
    assert main([*argv, "--threads", "1", "--resume", str(start)]) == 0
    assert "trained q4" in capsys.readouterr().out
    model = load_checkpoint(out / "q4.pth.tar")
    assert (model.N, model.M) == (8, 8)
    assert "missing.pth.tar" in _fails(capsys, [*argv, "--resume", str(tmp_path / "missing.pth.tar")])


def test_train_widens_a_resumed_level_to_m_with_a_warm_up(tmp_path, capsys):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=50)
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    out = tmp_path / "run"
    argv = ["train", str(data), "--out", str(out), "-q", "8", "--steps", "4", "--crop", "32", "--batch", "1"]
    argv += ["--threads", "1", "--resume", str(shipped), "--M", "12"]
    assert main([*argv, "--warmup-steps", "2"]) == 0
    assert "trained q8" in capsys.readouterr().out
    assert (load_checkpoint(out / "q8.pth.tar").M) == 12
    lrs = [h["lr"] for h in json.loads((out / "q8.json").read_text())["history"]]
    # the last of 4 steps is halfway down the cosine that follows the 2 warm-up steps
    assert lrs[-1] == pytest.approx((3e-4 + 2e-5) / 2)
    for bad in ("-1", "x"):
        assert main([*argv, "--warmup-steps", bad]) == 2
        assert "--warmup-steps" in capsys.readouterr().err


def test_ladder_training_resumes_every_level_from_its_own_weights(tmp_path, capsys):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=10)
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    out = tmp_path / "run"
    argv = ["train", str(data), "--out", str(out), "--ladder", "--warm-steps", "1", "--level-steps", "1"]
    argv += ["--crop", "32", "--batch", "1", "--lr", "1e-7", "--level-lr", "1e-7", "--threads", "1"]
    assert main([*argv, "--resume", str(shipped)]) == 0
    for q in (1, 3, 8):
        trained = load_checkpoint(out / f"q{q}.pth.tar").state_dict()["g_s.0.weight"]
        own = make_model(N=8, M=8, seed=10 + q).state_dict()["g_s.0.weight"]
        other = make_model(N=8, M=8, seed=10 + (q % 8) + 1).state_dict()["g_s.0.weight"]
        assert (trained - own).abs().max() < 1e-3 < (trained - other).abs().max()


def test_train_levels_picks_part_of_the_ladder(tmp_path, capsys):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=30)
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    out = tmp_path / "run"
    argv = ["train", str(data), "--out", str(out), "--ladder", "--level-steps", "1", "--crop", "32"]
    argv += ["--batch", "1", "--threads", "1", "--resume", str(shipped)]
    assert main([*argv, "--levels", "2,7-8"]) == 0
    assert "trained q2, q7, q8" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("q*.pth.tar")) == ["q2.pth.tar", "q7.pth.tar", "q8.pth.tar"]
    for bad in ("9", "8-5", "x"):
        assert main([*argv, "--levels", bad]) == 2
        assert "--levels" in capsys.readouterr().err
    fresh = ["train", str(data), "--out", str(tmp_path / "fresh"), "--ladder", "--levels", "8", "--crop", "32"]
    assert "q8 is fine-tuned from q7" in _fails(capsys, fresh)


def test_training_on_from_an_exported_bundle_counts_all_its_steps(tmp_path, capsys, trained):
    first = tmp_path / "first"
    assert main(["export-bundle", str(trained), "--dest", str(first)]) == 0
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    again = tmp_path / "again"
    argv = ["train", str(data), "--out", str(again), "--ladder", "--levels", "3", "--level-steps", "2"]
    assert main([*argv, "--crop", "32", "--batch", "1", "--threads", "1", "--resume", str(first)]) == 0
    record = json.loads((again / "q3.json").read_text())
    assert record["steps"] == 2 and record["total_steps"] == 3 and record["resumed_from"] == f"{first} q3"
    second = tmp_path / "second"
    assert main(["export-bundle", str(again), "--dest", str(second)]) == 0
    level = json.loads((second / "manifest.json").read_text())["levels"][0]
    assert level["quality"] == 3 and level["steps"] == 3
    earlier = json.loads((first / "manifest.json").read_text())["levels"][2]
    assert level["training_seconds"] >= earlier["training_seconds"]


def test_export_bundle_of_some_levels_updates_the_bundle_and_keeps_the_rest(tmp_path, capsys, trained):
    bundle = tmp_path / "bundle"
    assert main(["export-bundle", str(trained), "--dest", str(bundle)]) == 0
    before = {level["quality"]: level for level in json.loads((bundle / "manifest.json").read_text())["levels"]}
    data = tmp_path / "data"
    _png(data / "a.png", 64, 64)
    part = tmp_path / "part"
    argv = ["train", str(data), "--out", str(part), "--ladder", "--levels", "3,7", "--level-steps", "2"]
    assert main([*argv, "--crop", "32", "--batch", "1", "--threads", "1", "--resume", str(bundle)]) == 0
    (bundle / "q5.safetensors").write_bytes(b"damaged")
    capsys.readouterr()
    evals = tmp_path / "eval"
    _png(evals / "e.png", 48, 48, seed=7)
    assert main(["export-bundle", str(part), "--dest", str(bundle), "--eval", str(evals)]) == 0
    out = capsys.readouterr().out
    assert "dropping q5" in out and "exported 7 levels" in out and "kept q1, q2, q4, q6, q8 as they were" in out
    after = {level["quality"]: level for level in json.loads((bundle / "manifest.json").read_text())["levels"]}
    assert sorted(after) == [1, 2, 3, 4, 6, 7, 8]
    assert not (bundle / "q5.safetensors").exists()
    for q in (1, 2, 4, 6, 8):
        assert after[q]["sha256"] == before[q]["sha256"] and after[q]["steps"] == before[q]["steps"]
    for q in (3, 7):
        assert after[q]["sha256"] != before[q]["sha256"] and after[q]["steps"] == before[q]["steps"] + 2
    assert all(level["eval"]["bpp"] > 0 for level in after.values())  # the whole bundle is measured again
    source = BundledSource(bundle)
    assert source.qualities() == [1, 2, 3, 4, 6, 7, 8]
    source.load(8)
