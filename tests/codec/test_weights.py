"""Weight sources: every CompressAI key layout, folder/file/bundled sources, and downloads against local servers."""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import torch

from lci_studio.codec import official_weights, weights
from lci_studio.codec.model import LAMBDAS, weights_fingerprint
from lci_studio.codec.weights import (
    BundledSource,
    CompressAISource,
    DamagedDownloadError,
    DownloadCancelledError,
    DownloadFailedError,
    FileSource,
    FolderSource,
    NoBundledWeightsError,
    WeightsError,
    compressai_cache_dir,
    compressai_filename,
    download_checkpoint,
    open_weight_source,
    partial_path,
    write_bundled_level,
)
from tests.conftest import make_model

TABLES = ("_offset", "_quantized_cdf", "_cdf_length")


# ----------------------------------------------------------------------------------------------- helpers


def layout(state: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    """The same weights under the keys one CompressAI era wrote."""
    out = {}
    for key, value in state.items():
        m = re.match(r"entropy_bottleneck\.(matrices|biases|factors)\.(\d+)$", key)
        if m and name in ("2020", "module"):
            key = f"entropy_bottleneck._{m.group(1)}.{m.group(2)}"
        elif m and name == "2021":
            singular = {"matrices": "matrix", "biases": "bias", "factors": "factor"}[m.group(1)]
            key = f"entropy_bottleneck._{singular}{m.group(2)}"
        if name == "module":
            key = "module." + key
        out[key] = value.clone()
    return out


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checkpoint_bytes(obj, tmp_path: Path) -> bytes:
    scratch = tmp_path / "scratch.pth"
    torch.save(obj, scratch)
    data = scratch.read_bytes()
    scratch.unlink()
    return data


def official_name(quality: int, metric: str, data: bytes) -> str:
    """An official-style file name that carries the real SHA-256 prefix of `data`."""
    word = "prior" if metric == "mse" else "ms-ssim"
    return f"bmshj2018-factorized-{word}-{quality}-{sha(data)[:8]}.pth.tar"


@torch.no_grad()
def outputs(model, x):
    out = model.eval()(x)
    return out["x_hat"], out["likelihoods"]


@pytest.fixture(scope="module")
def model():
    return make_model(N=16, M=24)


@pytest.fixture(scope="module")
def x():
    return torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    # a proxy from the environment must not intercept the local test servers
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


# ------------------------------------------------------------------------------------ key layouts


@pytest.mark.parametrize("era", ["current", "2020", "2021", "module"])
@pytest.mark.parametrize("via", ["folder", "file"])
def test_every_key_layout_loads_identically(tmp_path, model, x, era, via):
    state = layout(model.state_dict(), era)
    if era == "2020":
        assert "entropy_bottleneck._matrices.0" in state
    if era == "2021":
        assert "entropy_bottleneck._factor3" in state
    path = tmp_path / "q2.pth.tar"
    torch.save(state, path)
    source = open_weight_source(str(tmp_path) if via == "folder" else str(path), quality_label=2)
    assert source.kind == via
    loaded = source.load(2)
    assert not loaded.model.training
    assert loaded.model.entropy_bottleneck.has_tables
    ref_hat, ref_lik = outputs(model, x)
    got_hat, got_lik = outputs(loaded.model, x)
    assert torch.equal(ref_hat, got_hat)
    assert torch.equal(ref_lik, got_lik)
    assert loaded.info.fingerprint == weights_fingerprint(model)
    assert (loaded.info.quality, loaded.info.metric, loaded.info.N, loaded.info.M) == (2, "mse", 16, 24)
    assert loaded.info.lmbda == LAMBDAS["mse"][1]
    assert loaded.info.source == str(tmp_path.resolve() if via == "folder" else path.resolve())


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_wrapped_state_dict(tmp_path, model, x, wrapper):
    path = tmp_path / "ckpt.pth.tar"
    torch.save({wrapper: layout(model.state_dict(), "2020"), "epoch": 7}, path)
    loaded = FileSource(path).load(1)
    assert torch.equal(outputs(model, x)[0], outputs(loaded.model, x)[0])
    assert loaded.info.lmbda is None  # an unlabelled single file has no known λ


def test_checkpoint_without_tables_gets_them_built(tmp_path, model, x):
    state = {k: v for k, v in layout(model.state_dict(), "2020").items() if k.split(".")[-1] not in TABLES}
    torch.save(state, tmp_path / "q1.pth")
    loaded = FolderSource(tmp_path).load(1)
    eb = loaded.model.entropy_bottleneck
    assert eb.has_tables
    for name in TABLES:
        assert torch.equal(getattr(eb, name), getattr(model.entropy_bottleneck, name))
    assert loaded.info.fingerprint == weights_fingerprint(model)
    assert torch.equal(outputs(model, x)[0], outputs(loaded.model, x)[0])


def test_half_precision_checkpoint_is_loaded_as_float32(tmp_path, model):
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "q1.pt")
    loaded = FolderSource(tmp_path).load(1)
    assert loaded.model.g_a[0].weight.dtype == torch.float32
    assert torch.equal(loaded.model.g_a[0].weight, model.g_a[0].weight.half().float())


class _Trap:
    """Pickles as "create a file": a safe loader must refuse it instead of running it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("kind", ["text", "empty", "pickle", "shapes", "no-tensors"])
def test_wrong_file_is_a_clear_error(tmp_path, model, kind):
    path = tmp_path / "q3.pth.tar"
    marker = tmp_path / "pwned"
    if kind == "text":
        path.write_text("hello, not a checkpoint\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "pickle":
        torch.save({"g_a.0.weight": _Trap(marker)}, path)
    elif kind == "shapes":
        state = model.state_dict()
        state["g_s.0.weight"] = state["g_s.0.weight"][:, :5]
        torch.save(state, path)
    else:
        torch.save({"epoch": 3, "note": "nothing here"}, path)
    source = FolderSource(tmp_path)
    with pytest.raises(WeightsError, match=r"q3\.pth\.tar is not a bmshj2018-factorized checkpoint") as info:
        source.load(3)
    assert "\n" not in str(info.value)
    assert not marker.exists()


# ------------------------------------------------------------------------------------ folder and file


def test_folder_recognizes_official_and_q_names(tmp_path, model):
    data_mse = checkpoint_bytes(layout(model.state_dict(), "2020"), tmp_path)
    other = make_model(N=16, M=24, seed=5)
    data_ssim = checkpoint_bytes(layout(other.state_dict(), "2020"), tmp_path)
    (tmp_path / official_name(2, "mse", data_mse)).write_bytes(data_mse)
    (tmp_path / official_name(3, "ms-ssim", data_ssim)).write_bytes(data_ssim)
    for name in ("q1.pth.tar", "q4.pth", "q5.pt"):
        torch.save(model.state_dict(), tmp_path / name)
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / "q9.pth").write_text("ignored: no such quality")

    mse = open_weight_source(str(tmp_path), "mse")
    assert isinstance(mse, FolderSource) and mse.describe() == f"folder {tmp_path.resolve()}"
    assert mse.qualities() == [1, 2, 4, 5]
    assert mse.load(2).info.fingerprint == weights_fingerprint(model)
    assert mse.load(2) is mse.load(2)  # memoized
    with pytest.raises(WeightsError, match="Quality 3 is not available"):
        mse.load(3)

    ssim = open_weight_source(str(tmp_path), "ms-ssim")
    assert ssim.qualities() == [1, 3, 4, 5]
    info = ssim.load(3).info
    assert (info.metric, info.lmbda, info.fingerprint) == ("ms-ssim", LAMBDAS["ms-ssim"][2], weights_fingerprint(other))


def test_folder_of_one_metric_takes_it_from_the_names(tmp_path, model):
    data = checkpoint_bytes(model.state_dict(), tmp_path)
    (tmp_path / official_name(6, "ms-ssim", data)).write_bytes(data)
    source = FolderSource(tmp_path, "mse")
    assert source.metric == "ms-ssim" and source.qualities() == [6]
    assert source.load(6).info.metric == "ms-ssim"


def test_official_name_with_wrong_hash_is_refused(tmp_path, model):
    data = checkpoint_bytes(model.state_dict(), tmp_path)
    wrong = "0" * 8 if not sha(data).startswith("0" * 8) else "f" * 8
    (tmp_path / f"bmshj2018-factorized-prior-1-{wrong}.pth.tar").write_bytes(data)
    with pytest.raises(WeightsError, match="damaged"):
        FolderSource(tmp_path).load(1)


@pytest.mark.parametrize("content", ["empty", "unrelated"])
def test_folder_without_checkpoints(tmp_path, content):
    if content == "unrelated":
        (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(WeightsError, match="No checkpoints found"):
        open_weight_source(str(tmp_path))


def test_file_source_labels(tmp_path, model):
    path = tmp_path / "mine.pth.tar"
    torch.save(model.state_dict(), path)
    labelled = open_weight_source(str(path), "mse", quality_label=5)
    assert isinstance(labelled, FileSource) and labelled.qualities() == [5]
    info = labelled.load(5).info
    assert (info.quality, info.lmbda, info.source) == (5, LAMBDAS["mse"][4], str(path.resolve()))
    assert open_weight_source(str(path)).qualities() == [1]

    data = path.read_bytes()
    named = tmp_path / official_name(7, "ms-ssim", data)
    named.write_bytes(data)
    source = open_weight_source(str(named))
    assert source.qualities() == [7] and source.metric == "ms-ssim"
    assert source.load(7).info.lmbda == LAMBDAS["ms-ssim"][6]


def test_open_weight_source_errors(tmp_path):
    with pytest.raises(WeightsError, match="not 'bundled', 'compressai'"):
        open_weight_source(str(tmp_path / "missing"))
    with pytest.raises(WeightsError, match="Unknown metric"):
        open_weight_source("compressai", "psnr")


# -------------------------------------------------------------------------------------------- bundled


def write_ladder(directory: Path, models: dict[int, torch.nn.Module], metric: str = "mse") -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    levels = []
    for quality, m in models.items():
        digest = write_bundled_level(m.state_dict(), directory / f"q{quality}.safetensors")
        levels.append({
            "quality": quality, "file": f"q{quality}.safetensors", "lambda": 0.001 * quality,
            "N": m.N, "M": m.M, "steps": 10, "sha256": digest, "eval": {"psnr": 20.0},
        })  # fmt: skip
    manifest = {"family": "bmshj2018-factorized", "metric": metric, "training_data": "test", "levels": levels}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_bundled_round_trip(tmp_path, model, x, monkeypatch):
    second = make_model(N=16, M=24, seed=1)
    write_ladder(tmp_path / "weights", {1: model, 2: second})
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: tmp_path / "weights")

    from safetensors.torch import load_file

    stored = load_file(str(tmp_path / "weights" / "q1.safetensors"))
    assert stored["g_a.0.weight"].dtype == torch.float16
    assert stored["entropy_bottleneck.quantiles"].dtype == torch.float32
    assert stored["entropy_bottleneck._quantized_cdf"].dtype == torch.int32

    source = open_weight_source("bundled")
    assert (source.kind, source.label, source.describe()) == ("bundled", "bundled", "bundled ladder")
    assert source.qualities() == [1, 2]
    loaded = source.load(1)
    again = BundledSource(tmp_path / "weights").load(1)
    assert loaded.info.fingerprint == again.info.fingerprint
    assert loaded.info.fingerprint != source.load(2).info.fingerprint
    assert (loaded.info.source, loaded.info.lmbda, loaded.info.N, loaded.info.M) == ("bundled", 0.001, 16, 24)
    m = loaded.model
    assert not m.training and m.g_a[0].weight.dtype == torch.float32
    assert torch.equal(m.g_a[0].weight, model.g_a[0].weight.half().float())
    assert torch.equal(m.entropy_bottleneck.quantiles, model.entropy_bottleneck.quantiles)
    for name in TABLES:
        assert torch.equal(getattr(m.entropy_bottleneck, name), getattr(model.entropy_bottleneck, name))
    # tiny constants survive (1e-9 and 2^-36 would be 0 in float16)
    ref_state = model.state_dict()
    for key, value in m.state_dict().items():
        if key.endswith(("pedestal", ".bound", ".target")):
            assert torch.equal(value, ref_state[key]), key
    ref_hat, got_hat = outputs(model, x)[0], outputs(m, x)[0]
    assert (ref_hat - got_hat).abs().max() < 1e-2 * ref_hat.abs().max()


def test_bundled_hash_mismatch(tmp_path, model):
    manifest = write_ladder(tmp_path, {1: model, 2: model})
    manifest["levels"][0]["sha256"] = "0" * 64
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    source = BundledSource(tmp_path)
    with pytest.raises(WeightsError, match=r"q1\.safetensors does not match its manifest"):
        source.load(1)
    data = bytearray((tmp_path / "q2.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "q2.safetensors").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="does not match its manifest"):
        source.load(2)


def test_no_bundled_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: tmp_path / "nothing")
    with pytest.raises(NoBundledWeightsError, match=r"No bundled weights are installed") as info:
        open_weight_source()
    assert "\n" not in str(info.value)
    assert "--weights" not in str(info.value)  # each face words what to do (tests/cli, tests/gui)


def test_bundled_manifest_problems(tmp_path, model):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(WeightsError, match=r"manifest .* is damaged"):
        BundledSource(tmp_path)
    write_ladder(tmp_path, {1: model}, metric="mse")
    (tmp_path / "q1.safetensors").unlink()
    with pytest.raises(WeightsError, match="missing"):
        BundledSource(tmp_path).load(1)


def test_bundled_metric_must_match(tmp_path, model, monkeypatch):
    write_ladder(tmp_path, {1: model})
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: tmp_path)
    with pytest.raises(WeightsError, match="trained for mse only"):
        open_weight_source("bundled", "ms-ssim")


def test_trained_ladder_folder_reads_like_bundled(tmp_path, model):
    write_ladder(tmp_path, {3: model})
    source = open_weight_source(str(tmp_path))
    assert isinstance(source, BundledSource) and source.kind == "folder"
    assert source.load(3).info.source == str(tmp_path.resolve())


def test_bundled_weights_dir_default():
    assert weights.bundled_weights_dir().parts[-2:] == ("resources", "weights")


# ------------------------------------------------------------------------------------ compressai names


def test_compressai_names_and_cache_dir(tmp_path, monkeypatch):
    assert compressai_filename(3, "mse") == "bmshj2018-factorized-prior-3-5c6f152b.pth.tar"
    assert compressai_filename(3, "ms-ssim") == "bmshj2018-factorized-ms-ssim-3-5352f123.pth.tar"
    assert compressai_filename(8, "ms-ssim") == "bmshj2018-factorized-ms-ssim-8-8811bd14.pth.tar"
    names = {compressai_filename(q, m) for q in range(1, 9) for m in ("mse", "ms-ssim")}
    assert len(names) == 16
    for name in names:
        assert weights._recognize(name) is not None
    with pytest.raises(WeightsError):
        compressai_filename(9, "mse")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert compressai_cache_dir() == tmp_path / "th" / "hub" / "checkpoints"
    monkeypatch.delenv("TORCH_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert compressai_cache_dir() == tmp_path / "xdg" / "torch" / "hub" / "checkpoints"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert compressai_cache_dir() == tmp_path / "home" / ".cache" / "torch" / "hub" / "checkpoints"

    source = CompressAISource("ms-ssim", cache_dir=tmp_path)
    assert source.qualities() == list(range(1, 9))
    assert source.describe() == "CompressAI official (ms-ssim)" and source.label == "compressai"
    assert (
        source.url(1) == "https://compressai.s3.amazonaws.com/models/v1/bmshj2018-factorized-ms-ssim-1-9781d705.pth.tar"
    )
    assert not source.is_cached(1)


# ---------------------------------------------------------------------------------- local HTTP servers


@pytest.fixture
def served(server, model, tmp_path):
    """A legacy-layout checkpoint served under an official-style name carrying its real hash prefix."""
    data = checkpoint_bytes(layout(model.state_dict(), "2020"), tmp_path)
    name = official_name(3, "mse", data)
    server.files["/" + name] = data
    return name, data


def test_download_good_file(server, served, tmp_path):
    name, data = served
    cache = tmp_path / "cache" / "hub" / "checkpoints"
    calls = []
    path = download_checkpoint(
        f"{server.url}/{name}", cache / name, sha(data)[:8], timeout=5, progress=lambda d, t: calls.append((d, t))
    )
    assert path == cache / name and path.read_bytes() == data
    assert calls[0] == (0, len(data)) and calls[-1] == (len(data), len(data))
    assert [p.name for p in cache.iterdir()] == [name]


def test_compressai_source_downloads_then_reuses_cache(server, served, refused_url, tmp_path, model, x):
    name, data = served
    cache = tmp_path / "cache"
    source = CompressAISource("mse", base_url=server.url, cache_dir=cache, filenames={3: name}, timeout=5)
    assert not source.is_cached(3)
    calls = []
    loaded = source.load(3, progress=lambda d, t: calls.append((d, t)))
    assert calls and calls[-1] == (len(data), len(data))
    assert source.is_cached(3) and (cache / name).read_bytes() == data
    assert (loaded.info.source, loaded.info.quality, loaded.info.lmbda) == ("compressai", 3, LAMBDAS["mse"][2])
    assert loaded.info.fingerprint == weights_fingerprint(model)
    assert torch.equal(outputs(model, x)[0], outputs(loaded.model, x)[0])
    assert len(server.requests) == 1

    # an existing cache is used without the network
    offline = CompressAISource("mse", base_url=refused_url, cache_dir=cache, filenames={3: name}, timeout=2)
    assert offline.load(3).info.fingerprint == loaded.info.fingerprint

    # a damaged cache file is fetched again
    (cache / name).write_bytes(b"damaged")
    CompressAISource("mse", base_url=server.url, cache_dir=cache, filenames={3: name}, timeout=5).load(3)
    assert (cache / name).read_bytes() == data and len(server.requests) == 2


def test_download_bad_hash_leaves_nothing(server, served, tmp_path):
    name, data = served
    wrong = "0" * 8 if not sha(data).startswith("0" * 8) else "f" * 8
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError, match="damaged") as info:
        download_checkpoint(f"{server.url}/{name}", cache / name, wrong, timeout=5)
    assert "\n" not in str(info.value)
    assert list(cache.iterdir()) == []


@pytest.mark.parametrize("path", ["/missing.pth.tar", "/short"])
def test_download_http_error_and_truncation_leave_no_checkpoint(server, tmp_path, path):
    cache = tmp_path / "cache"
    with pytest.raises(WeightsError, match=r"Could not download x\.pth\.tar from 127\.0\.0\.1") as info:
        download_checkpoint(server.url + path, cache / "x.pth.tar", None, timeout=5)
    assert ("404" in str(info.value)) == (path != "/short")
    # a 404 leaves nothing; a cut connection leaves what arrived, for the next try to resume
    kept = [p.name for p in cache.iterdir()]
    assert kept == ([] if path != "/short" else [".x.pth.tar.part"])


def test_download_refused(refused_url, tmp_path):
    cache = tmp_path / "cache"
    source = CompressAISource("mse", base_url=refused_url, cache_dir=cache, timeout=2)
    with pytest.raises(WeightsError, match=r"Could not download .* refused\. Check the internet connection") as info:
        source.load(1)
    assert compressai_filename(1, "mse") in str(info.value)
    assert list(cache.iterdir()) == []


def test_download_stalled_server_times_out(stalled_url, tmp_path):
    cache = tmp_path / "cache"
    start = time.monotonic()
    with pytest.raises(WeightsError, match="no answer within 1 s"):
        download_checkpoint(f"{stalled_url}/x.pth.tar", cache / "x.pth.tar", None, timeout=1)
    assert time.monotonic() - start < 5
    assert list(cache.iterdir()) == []


def test_download_cancel_leaves_nothing(server, tmp_path):
    data = bytes(range(256)) * 2048  # 512 KiB: several chunks
    server.files["/big.pth.tar"] = data
    cache = tmp_path / "cache"
    calls = []
    with pytest.raises(DownloadCancelledError, match="cancelled"):
        download_checkpoint(
            f"{server.url}/big.pth.tar",
            cache / "big.pth.tar",
            sha(data)[:8],
            timeout=5,
            progress=lambda d, t: calls.append(d),
            cancel=lambda: any(calls),
        )
    assert 0 < calls[-1] < len(data)
    assert list(cache.iterdir()) == []


def test_cancel_during_a_stalled_read_stops_at_once(server, tmp_path):
    """The server goes silent inside the body; a cancel must not wait out the 60 s read timeout."""
    cache = tmp_path / "cache"
    cancel_at: list[float] = []

    def started(done: int, total: int | None) -> None:  # the headers are in: the body read comes next
        cancel_at.append(time.monotonic() + 0.5)

    with pytest.raises(DownloadCancelledError, match="cancelled"):
        download_checkpoint(
            f"{server.url}/stall", cache / "x.pth.tar", None, timeout=60,
            progress=started, cancel=lambda: bool(cancel_at) and time.monotonic() >= cancel_at[0],
        )
    assert time.monotonic() - cancel_at[0] < 10
    assert list(cache.iterdir()) == []


def test_download_file_url(tmp_path):
    data = b"some checkpoint bytes" * 100
    origin = tmp_path / "origin.bin"
    origin.write_bytes(data)
    dest = tmp_path / "cache" / "copy.bin"
    calls = []
    download_checkpoint(origin.as_uri(), dest, sha(data)[:8], progress=lambda d, t: calls.append((d, t)))
    assert dest.read_bytes() == data and calls[-1] == (len(data), len(data))
    with pytest.raises(WeightsError, match="Could not download"):
        download_checkpoint((tmp_path / "absent.bin").as_uri(), tmp_path / "cache" / "absent.bin", None)
    assert [p.name for p in dest.parent.iterdir()] == ["copy.bin"]


# ------------------------------------------------------------------------------ resume, clean-up, mirrors


def blob(size: int = 512 * 1024, seed: int = 7) -> bytes:
    """Bytes no two tests share, many chunks long."""
    return hashlib.sha256(str(seed).encode()).digest() * (size // 32)


def test_download_cut_at_half_resumes_with_range(server, tmp_path):
    data = blob()
    server.files["/w.pth.tar"] = data
    server.cut["/w.pth.tar"] = len(data) // 2
    dest = tmp_path / "cache" / "w.pth.tar"
    with pytest.raises(DownloadFailedError, match=r"connection ended after 262144 of 524288 bytes\. Check the"):
        download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    assert partial_path(dest).stat().st_size == len(data) // 2 and not dest.exists()

    del server.cut["/w.pth.tar"]
    calls = []
    url = f"{server.url}/w.pth.tar"
    download_checkpoint(url, dest, sha(data)[:8], timeout=5, progress=lambda d, t: calls.append((d, t)))
    assert dest.read_bytes() == data and not partial_path(dest).exists()
    resumed_with, sent = server.transfers[-1]
    assert resumed_with == f"bytes={len(data) // 2}-"
    assert sent <= 0.55 * len(data)  # the target: a download cut at 50 % fetches ≤ 55 % again
    assert calls[0] == (len(data) // 2, len(data)) and calls[-1] == (len(data), len(data))


def test_server_that_ignores_range_restarts_cleanly(server, tmp_path):
    data = blob(seed=8)
    server.files["/w.pth.tar"] = data
    server.cut["/w.pth.tar"] = len(data) // 3
    server.ranges = False
    dest = tmp_path / "cache" / "w.pth.tar"
    with pytest.raises(DownloadFailedError):
        download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    del server.cut["/w.pth.tar"]
    download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    asked, sent = server.transfers[-1]
    assert asked == f"bytes={len(data) // 3}-"  # it was asked to resume, and sent everything instead
    assert sent == len(data) and dest.read_bytes() == data  # not the first third twice
    assert [p.name for p in dest.parent.iterdir()] == ["w.pth.tar"]


def test_a_damaged_partial_file_is_fetched_again_from_the_start(server, tmp_path):
    data = blob(seed=9)
    server.files["/w.pth.tar"] = data
    dest = tmp_path / "cache" / "w.pth.tar"
    dest.parent.mkdir()
    partial_path(dest).write_bytes(b"\0" * 1000)  # not the file's first bytes
    download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    assert dest.read_bytes() == data and server.range_headers == ["bytes=1000-", None]
    # a partial file longer than the file itself: the server answers 416, the download starts over
    partial_path(dest).write_bytes(b"\0" * (len(data) + 10))
    dest.unlink()
    download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    assert dest.read_bytes() == data and [p.name for p in dest.parent.iterdir()] == ["w.pth.tar"]


def test_corrupted_download_is_refused_and_not_kept(server, tmp_path):
    data = blob(seed=10)
    server.files["/w.pth.tar"] = data[:-1] + b"!"  # one byte off: the name's hash prefix is the real file's
    dest = tmp_path / "cache" / "w.pth.tar"
    with pytest.raises(DamagedDownloadError, match=r"w\.pth\.tar .* is damaged \(SHA-256 starts with"):
        download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    assert list(dest.parent.iterdir()) == []


def test_a_stall_in_the_body_is_bounded_by_the_timeout_and_kept_for_resuming(server, tmp_path):
    dest = tmp_path / "cache" / "x.pth.tar"
    start = time.monotonic()
    with pytest.raises(DownloadFailedError, match="no answer within 1 s"):
        download_checkpoint(f"{server.url}/stall", dest, None, timeout=1)
    assert time.monotonic() - start < 20  # generous: bounded by the timeout, not by the server
    assert partial_path(dest).stat().st_size == 1000


def test_404_is_worded_as_a_missing_file_not_as_a_connection_problem(server, tmp_path):
    with pytest.raises(DownloadFailedError) as info:
        download_checkpoint(f"{server.url}/nothing.pth.tar", tmp_path / "nothing.pth.tar", None, timeout=5)
    text = str(info.value)
    assert "HTTP 404" in text and f"no such file (HTTP 404 Not Found) at {server.url}/nothing.pth.tar" in text
    assert "internet connection" not in text and info.value.status == 404


_KILLED_DOWNLOAD = """
import sys
from pathlib import Path
from lci_studio.codec.weights import download_checkpoint
download_checkpoint(sys.argv[1], Path(sys.argv[2]), None, timeout=30)
"""


def test_a_killed_download_is_resumed_and_its_part_file_removed(server, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    data = blob(size=4 * 1024 * 1024, seed=11)  # 4 MiB at 16 kB / 50 ms: ~13 s if left alone
    server.files["/w.pth.tar"] = data
    server.slow.add("/w.pth.tar")
    dest = tmp_path / "cache" / "w.pth.tar"
    dest.parent.mkdir()
    legacy = dest.parent / ".w.pth.tar.k3j2h1.part"  # what earlier versions left, one per killed try
    legacy.write_bytes(b"old")
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    child = subprocess.Popen([sys.executable, "-c", _KILLED_DOWNLOAD, f"{server.url}/w.pth.tar", str(dest)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (
            partial_path(dest).exists() and partial_path(dest).stat().st_size >= 256 * 1024
        ):
            assert child.poll() is None, "the download ended before it could be killed"
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    kept = partial_path(dest).stat().st_size
    assert 0 < kept < len(data) and not dest.exists()

    server.slow.clear()
    download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
    assert dest.read_bytes() == data
    assert server.transfers[-1] == [f"bytes={kept}-", len(data) - kept]  # only the rest travelled again
    assert [p.name for p in dest.parent.iterdir()] == ["w.pth.tar"]  # the stale temp file went too


def test_a_download_in_progress_elsewhere_is_left_alone(server, tmp_path):
    fcntl = pytest.importorskip("fcntl")
    data = blob(seed=12)
    server.files["/w.pth.tar"] = data
    dest = tmp_path / "cache" / "w.pth.tar"
    dest.parent.mkdir()
    with open(partial_path(dest), "wb") as other:
        other.write(b"abc")
        other.flush()
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(WeightsError, match=r"is being downloaded into .* by another program"):
            download_checkpoint(f"{server.url}/w.pth.tar", dest, sha(data)[:8], timeout=5)
        assert partial_path(dest).read_bytes() == b"abc"
    assert server.requests == []


def test_mirror_from_the_environment_and_the_hash_still_decides(server, served, tmp_path, monkeypatch, model):
    name, _ = served
    monkeypatch.setenv("LCI_WEIGHTS_URL", server.url + "/")
    source = CompressAISource("mse", cache_dir=tmp_path / "cache", filenames={3: name}, timeout=5)
    assert source.url(3) == f"{server.url}/{name}"
    assert source.load(3).info.fingerprint == weights_fingerprint(model)
    # the window's Settings choice comes before the environment
    source.mirror = "http://127.0.0.1:9/mirror"
    assert source.url(3) == f"http://127.0.0.1:9/mirror/{name}"

    # a mirror that serves other bytes under an official name is refused, and nothing is kept
    other = CompressAISource("mse", cache_dir=tmp_path / "other", filenames={3: name}, timeout=5)
    server.files["/" + name] = checkpoint_bytes(make_model(N=16, M=24, seed=9).state_dict(), tmp_path)
    with pytest.raises(DamagedDownloadError, match="is damaged"):
        other.load(3)
    assert list((tmp_path / "other").iterdir()) == []

    monkeypatch.setenv("LCI_WEIGHTS_URL", "ftp://mirror.example/models")
    with pytest.raises(WeightsError, match=r"'ftp://mirror.example/models' \(LCI_WEIGHTS_URL\) is not an http"):
        CompressAISource("mse")
    monkeypatch.delenv("LCI_WEIGHTS_URL")
    assert CompressAISource("mse").base_url == weights.COMPRESSAI_URL_ROOT


def test_damaged_cache_file_is_named_moved_aside_and_fetched_again(server, served, refused_url, tmp_path, model):
    name, data = served
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / name).write_bytes(data[:-100])
    offline = CompressAISource("mse", base_url=refused_url, cache_dir=cache, filenames={3: name}, timeout=2)
    with pytest.raises(DownloadFailedError) as info:
        offline.load(3)
    text = str(info.value)
    assert f"The cached {name} was damaged" in text and f"moved aside to {cache / name}.damaged" in text
    assert "Check the internet connection" in text and info.value.metric == "mse"
    assert not (cache / name).exists() and (cache / f"{name}.damaged").exists()

    online = CompressAISource("mse", base_url=server.url, cache_dir=cache, filenames={3: name}, timeout=5)
    assert online.load(3).info.fingerprint == weights_fingerprint(model)
    assert [p.name for p in cache.iterdir()] == [name]


def test_fetch_checks_a_file_once_and_again_when_it_changes(server, served, tmp_path, monkeypatch):
    name, data = served
    source = CompressAISource("mse", base_url=server.url, cache_dir=tmp_path, filenames={3: name}, timeout=5)
    assert source.missing() == [3] and source.expected_size(3) == weights.OFFICIAL_SIZES[2]
    path = source.fetch(3)
    assert source.missing() == [] and source.expected_size(3) == len(data)
    hashed = []
    monkeypatch.setattr(official_weights, "_verify_prefix", lambda p, prefix: hashed.append(p) or True)
    source.fetch(3)
    assert hashed == []  # checked as it arrived
    time.sleep(0.01)
    path.write_bytes(data)  # touched: checked again
    source.fetch(3)
    assert hashed == [path]


def test_official_sizes_are_the_architectures_parameters():
    from lci_studio.codec.model import FactorizedPrior

    for quality, (N, M) in ((1, (128, 192)), (6, (192, 320))):
        state = FactorizedPrior(N, M).state_dict()
        floats = sum(t.numel() * 4 for t in state.values() if t.is_floating_point())
        assert weights.OFFICIAL_SIZES[quality - 1] == floats
    assert round(sum(weights.OFFICIAL_SIZES) / 1e6) == 144  # "~145 MB" in the issue, 144.3 here


def test_the_saving_figure_comes_from_the_readme():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    bundled = re.search(r"BD-rate against Pillow JPEG: −([\d.]+) % \(PSNR\)", readme)
    official = re.search(r"official ladder \(−([\d.]+) % on Kodak\)", readme)
    assert bundled and official
    assert -float(bundled.group(1)) == weights.BUNDLED_BD_RATE
    assert -float(official.group(1)) == weights.OFFICIAL_BD_RATE
    assert weights.official_saving_percent() == pytest.approx(29.6, abs=0.05)


def test_fetch_tally_is_one_progress_over_all_files():
    tally = weights.FetchTally({1: 10_000_000, 6: 30_000_000})
    assert tally.text() == "file 1 of 2, 0.0 of 40.0 MB"
    tally.update(1, 2_000_000, 12_000_000)  # the server tells the real size
    assert tally.text() == "file 1 of 2, 2.0 of 42.0 MB"
    tally.finish(1)
    tally.update(6, 1_000_000, None)  # no Content-Length: the estimate stays
    assert tally.text() == "file 2 of 2, 13.0 of 42.0 MB"
    tally.update(6, 31_000_000, None)
    tally.update(3, 500_000, 12_000_000)  # a cached file found damaged joins
    assert (tally.files, tally.received, tally.total) == (3, 43_500_000, 55_000_000)
    tally.finish(6)
    tally.finish(3)
    assert tally.text() == "file 3 of 3, 55.0 of 55.0 MB"
