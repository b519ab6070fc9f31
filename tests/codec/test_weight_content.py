"""Weights are checked in content, not only by hash: non-finite or absurd values, wrong shapes and damaged CDF
tables are refused when loaded, and a manifest cannot name a file outside its folder (refused before any read)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from lci_studio.codec import weights
from lci_studio.codec.entropy_coding import CdfTables
from lci_studio.codec.weights import BundledSource, FolderSource, WeightsError, load_checkpoint, open_weight_source
from tests.codec.test_weights import write_ladder
from tests.conftest import make_model


@pytest.fixture(scope="module")
def model():
    return make_model(N=16, M=24)


def save_state(path, state) -> None:
    torch.save(state, path)


def assert_refused(path, *fragments: str) -> str:
    with pytest.raises(WeightsError) as caught:
        load_checkpoint(path)
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    for fragment in fragments:
        assert fragment in message, message
    return message


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_a_checkpoint_with_non_finite_values_is_refused(tmp_path, model, bad):
    """Finding 5: a checkpoint with NaNs used to encode (at 7.4 dB) with exit 0."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["g_s.2.weight"][0, 0, 0, 0] = bad
    save_state(tmp_path / "q3.pth.tar", state)
    assert_refused(tmp_path / "q3.pth.tar", "g_s.2.weight", "NaN or infinite")


def test_bytes_changed_inside_a_folder_sources_tensor_are_refused(tmp_path, model):
    """Finding 5: a flipped exponent bit in a folder source's tensor (no hash protects it) encoded silently."""
    path = tmp_path / "q2.pth.tar"
    save_state(path, model.state_dict())
    data = bytearray(path.read_bytes())
    weight = model.state_dict()["g_a.0.weight"].numpy()
    start = bytes(data).find(weight.tobytes()[:64])
    assert start > 0
    data[start + 3] ^= 0x40  # the high exponent bit of the first float32: ×2^128 or so
    path.write_bytes(bytes(data))
    changed = torch.load(path, weights_only=True)["g_a.0.weight"]
    assert not torch.equal(changed, model.state_dict()["g_a.0.weight"])  # the bytes really are the tensor's
    source = FolderSource(tmp_path)
    with pytest.raises(WeightsError, match=r"q2\.pth\.tar is damaged: g_a\.0\.weight holds .* far beyond|infinite"):
        source.load(2)


def test_values_in_the_trained_range_load(tmp_path, model):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["entropy_bottleneck.quantiles"][0, 0, 2] = 500.0  # large, but a plausible latent range
    save_state(tmp_path / "q1.pth.tar", state)
    assert load_checkpoint(tmp_path / "q1.pth.tar").M == 24


@pytest.mark.parametrize(
    ("name", "shape"),
    [("g_s.0.weight", (24, 16, 3, 3)), ("g_a.1.beta", (15,)), ("entropy_bottleneck.quantiles", (24, 1, 4))],
)
def test_a_tensor_of_the_wrong_shape_is_refused(tmp_path, model, name, shape):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state[name] = torch.rand(shape)
    save_state(tmp_path / "q1.pth.tar", state)
    assert_refused(tmp_path / "q1.pth.tar", "not a bmshj2018-factorized checkpoint")


def damaged_tables(model, change: str) -> dict[str, torch.Tensor]:
    state = {k: v.clone() for k, v in model.state_dict().items()}
    cdf = state["entropy_bottleneck._quantized_cdf"]
    length = state["entropy_bottleneck._cdf_length"]
    offset = state["entropy_bottleneck._offset"]
    n = int(length[5])
    if change == "not rising":
        cdf[5, 1], cdf[5, 2] = cdf[5, 2].clone(), cdf[5, 1].clone()
    elif change == "wrong end":
        cdf[5, n - 1] = 60000
    elif change == "zero frequency":
        cdf[5, 2] = cdf[5, 1]
    elif change == "length too long":
        length[5] = cdf.shape[1] + 1
    elif change == "length too short":
        length[5] = 2
    elif change == "offset past the table":
        offset[5] = -(n - 2)
    elif change == "positive offset":
        offset[5] = 1
    return state


@pytest.mark.parametrize(
    "change",
    [
        "not rising", "wrong end", "zero frequency", "length too long", "length too short",
        "offset past the table", "positive offset",
    ],
)  # fmt: skip
def test_implausible_cdf_tables_are_refused(tmp_path, model, change):
    save_state(tmp_path / "q1.pth.tar", damaged_tables(model, change))
    message = assert_refused(tmp_path / "q1.pth.tar", "CDF tables are implausible", "channel 5")
    print(message)


def test_real_tables_pass_the_check(model):
    CdfTables.from_bottleneck(model.entropy_bottleneck).check()
    for seed in range(3):
        CdfTables.from_bottleneck(make_model(24, 40, seed=seed).entropy_bottleneck).check()


def test_the_bundled_ladder_passes_the_content_checks():
    source = open_weight_source("bundled")
    for quality in source.qualities():
        loaded = source.load(quality)
        assert np.isfinite(CdfTables.from_bottleneck(loaded.model.entropy_bottleneck).least_bits()).all()


@pytest.mark.parametrize(
    "name", ["../../../etc/passwd", "/etc/passwd", "sub/q1.safetensors", "..", "C:q1.safetensors", "a\\..\\b"]
)
def test_a_manifest_naming_a_file_outside_its_folder_is_refused_before_any_read(tmp_path, model, monkeypatch, name):
    """Finding 5: `../../../etc/passwd` in a manifest used to be read and hashed before the hash check refused it."""
    manifest = write_ladder(tmp_path / "ladder", {1: model})
    manifest["levels"][0]["file"] = name
    (tmp_path / "ladder" / "manifest.json").write_text(json.dumps(manifest))
    reads = []
    monkeypatch.setattr(weights, "_sha256_file", lambda path: reads.append(path) or "0" * 64)
    with pytest.raises(WeightsError, match="is not a file name in its folder") as caught:
        BundledSource(tmp_path / "ladder")
    assert "\n" not in str(caught.value)
    assert reads == []


def test_a_weights_file_linking_outside_its_folder_is_refused(tmp_path, model):
    write_ladder(tmp_path / "ladder", {1: model})
    outside = tmp_path / "elsewhere.safetensors"
    os.replace(tmp_path / "ladder" / "q1.safetensors", outside)
    (tmp_path / "ladder" / "q1.safetensors").symlink_to(outside)
    with pytest.raises(WeightsError, match="links outside"):
        BundledSource(tmp_path / "ladder").load(1)
