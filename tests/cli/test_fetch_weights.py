"""Official weights from the command line: `lci fetch-weights`, what a first download says, the advice
when offline or mismatched, and `lci --version`; against a local server standing in for CompressAI's host."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from lci_studio import __version__
from lci_studio.cli import build_parser, error_text, main
from lci_studio.codec import official_weights, weights
from lci_studio.codec.weights import compressai_filename


@pytest.fixture
def official(server, ladder, monkeypatch, tmp_path) -> dict[int, bytes]:
    """The test ladder served under official names (their hash prefixes made the ladder's) via LCI_WEIGHTS_URL."""
    files = {q: (ladder / f"q{q}.pth.tar").read_bytes() for q in range(1, 9)}
    prefixes = tuple(hashlib.sha256(files[q]).hexdigest()[:8] for q in range(1, 9))
    monkeypatch.setitem(official_weights._COMPRESSAI_HASHES, "mse", prefixes)
    for q, data in files.items():
        server.files["/models/" + compressai_filename(q, "mse")] = data
    monkeypatch.setenv("LCI_WEIGHTS_URL", server.url + "/models")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return files


def cache() -> Path:
    return weights.compressai_cache_dir()


def test_fetch_weights_says_what_where_and_each_file(capsys, official, server):
    assert main(["fetch-weights"]) == 0
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()  # stderr is not a terminal here: a line per file
    size = sum(weights.OFFICIAL_SIZES) / 1e6
    assert lines[0] == (
        f"CompressAI official (mse): downloading 8 files, about {size:.1f} MB, from {server.url[7:]} into {cache()}"
    )
    assert len(lines) == 9
    for q, line in enumerate(lines[1:], 1):
        name = compressai_filename(q, "mse")
        assert line == f"  q{q} ({q} of 8): {name}, {len(official[q]) / 1e6:.1f} MB, downloaded and verified"
        assert (cache() / name).read_bytes() == official[q]
    assert f"8 files, {sum(map(len, official.values())) / 1e6:.1f} MB, verified in {cache()}" in captured.out

    # again: nothing travels, every file is checked and said so
    requests = len(server.requests)
    assert main(["fetch-weights"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == f"CompressAI official (mse): all 8 files are in {cache()}; checking them"
    assert lines[3] == f"  q3 (3 of 8): {compressai_filename(3, 'mse')} already there, verified"
    assert len(server.requests) == requests


def test_a_first_use_download_is_announced_without_a_terminal(capsys, official, tmp_path, image):
    """`lci encode/compare --weights compressai` used to be silent for the whole download off a terminal."""
    (cache()).mkdir(parents=True)
    (cache() / compressai_filename(1, "mse")).write_bytes(official[1])
    assert main(["encode", str(image), "-o", str(tmp_path / "x.lci"), "-q", "3", "--weights", "compressai"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("CompressAI official (mse): downloading 1 file, about 12.0 MB, from 127.0.0.1:")
    assert lines[0].endswith(f" into {cache()}")
    assert lines[1] == f"  q3 (1 of 1): {compressai_filename(3, 'mse')}, {len(official[3]) / 1e6:.1f} MB, " \
        "downloaded and verified"  # fmt: skip


def test_fetch_weights_offline_fails_at_once(capsys, refused_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LCI_WEIGHTS_URL", refused_url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    started = time.monotonic()
    assert main(["fetch-weights", "--metric", "ms-ssim"]) == 1
    assert time.monotonic() - started < 2  # the target for the CLI offline
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("CompressAI official (ms-ssim): downloading 8 files")
    assert "connection was refused. Check the internet connection" in err[-1]
    assert not [p for p in cache().rglob("*") if p.is_file()]


def test_offline_advice_for_ms_ssim_does_not_send_you_round_in_circles(capsys, refused_url, monkeypatch, tmp_path,
                                                                         image):  # fmt: skip
    """Offline with --metric ms-ssim the advice was --weights bundled, which then advised compressai again."""
    monkeypatch.setenv("LCI_WEIGHTS_URL", refused_url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    out = tmp_path / "x.lci"
    encode = ["encode", str(image), "-o", str(out), "-q", "1"]
    assert main([*encode, "--weights", "compressai", "--metric", "ms-ssim"]) == 1
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.endswith("the bundled weights work, trained for mse only: --weights bundled --metric mse.")
    assert main([*encode, "--weights", "bundled", "--metric", "mse"]) == 0
    # with mse, the bundled ladder is the plain advice
    assert main([*encode, "--weights", "compressai"]) == 1
    assert capsys.readouterr().err.strip().endswith("Check the internet connection, or use --weights bundled.")


def test_the_mismatch_advice_for_official_files_is_a_decode_command_line():
    from lci_studio.codec.lci_format import unpack_lci
    from lci_studio.codec.model import LoadedModel, ModelInfo, weights_fingerprint
    from lci_studio.codec.pipeline import WeightsMismatchError, decode_lci, encode_image
    from tests.conftest import make_model, make_photo

    def loaded(seed: int) -> LoadedModel:
        model = make_model(seed=seed)
        return LoadedModel(model, ModelInfo("compressai", 2, "ms-ssim", 8.73, model.N, model.M,
                                            weights_fingerprint(model)))  # fmt: skip

    data = encode_image(loaded(1), make_photo(16, 16)).lci
    assert unpack_lci(data)[0].metric == "ms-ssim"
    with pytest.raises(WeightsMismatchError) as caught:
        decode_lci(data, loaded(2))
    advice = error_text(caught.value).rsplit("decode it with ", 1)[1].split()
    assert advice == ["--weights", "compressai"]
    build_parser().parse_args(["decode", "f.lci", "-o", "f.png", *advice])  # `lci decode` takes what it says


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lci {__version__}"


def test_fetch_weights_on_a_terminal_draws_a_bar_per_file(capsys, official, monkeypatch):
    from lci_studio.cli import fetch

    monkeypatch.setattr(fetch, "tty", lambda: True)
    assert main(["fetch-weights"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("CompressAI official (mse): downloading 8 files")
    for q in range(1, 9):
        assert f"q{q} ({q} of 8): " in err  # the bar's label, then the file's line once it is in
        assert f"  q{q} ({q} of 8): {compressai_filename(q, 'mse')}, " in err
