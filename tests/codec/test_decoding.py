"""Which weights decode a `.lci` file: the one rule `lci decode` and the window's worker share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lci_studio.codec import weights
from lci_studio.codec.decoding import NoMatchingWeightsError, candidate_sources, decode_file
from lci_studio.codec.lci_format import unpack_lci
from lci_studio.codec.model import LoadedModel, ModelInfo
from lci_studio.codec.pipeline import WeightsMismatchError, decode_lci, encode_image
from lci_studio.codec.weights import BundledSource, CompressAISource, FolderSource, write_bundled_level
from tests.conftest import make_model, make_photo, save_ladder

PHOTO = make_photo(32, 48, seed=3)


@pytest.fixture(scope="module")
def ladder(tmp_path_factory) -> Path:
    return save_ladder(tmp_path_factory.mktemp("ladder"))


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> Path:
    return save_ladder(tmp_path_factory.mktemp("other"), seed=40)


@pytest.fixture
def bundle(tmp_path, monkeypatch) -> Path:
    """A two-level bundled ladder installed as this copy's bundled weights."""
    levels = []
    for quality in (2, 3):
        model = make_model(seed=quality)
        digest = write_bundled_level(model.state_dict(), tmp_path / f"q{quality}.safetensors")
        levels.append({"quality": quality, "file": f"q{quality}.safetensors", "lambda": 0.001, "N": model.N,
                       "M": model.M, "steps": 1, "sha256": digest})  # fmt: skip
    manifest = {"family": "bmshj2018-factorized", "metric": "mse", "training_data": "test", "levels": levels}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(weights, "bundled_weights_dir", lambda: tmp_path)
    return tmp_path


def test_the_offered_weights_decode_their_own_file(ladder, other):
    data = encode_image(FolderSource(ladder).load(3), PHOTO).lci
    header = unpack_lci(data)[0]
    candidates = candidate_sources(header, [FolderSource(other), FolderSource(ladder)])
    assert len(candidates) == 2  # a folder's file cannot be guessed: nothing is added
    decoded = decode_file(data, candidates)
    assert decoded.info.source == str(ladder) and decoded.header == header
    assert np.array_equal(decoded.pixels, decode_lci(data, FolderSource(ladder).load(3)))


def test_a_wrong_fingerprint_is_the_error_when_every_candidate_mismatches(ladder, other):
    data = encode_image(FolderSource(ladder).load(3), PHOTO).lci
    with pytest.raises(WeightsMismatchError) as caught:
        decode_file(data, [FolderSource(other)])
    assert not isinstance(caught.value, NoMatchingWeightsError)
    assert caught.value.header.fingerprint in str(caught.value)


def test_no_source_with_the_quality_is_a_structured_error(ladder, tmp_path):
    data = encode_image(FolderSource(ladder).load(3), PHOTO).lci
    header = unpack_lci(data)[0]
    single = tmp_path / "q5.pth.tar"
    single.write_bytes((ladder / "q5.pth.tar").read_bytes())
    source = weights.FileSource(single, "mse")
    with pytest.raises(NoMatchingWeightsError) as caught:
        decode_file(data, candidate_sources(header, [source]), name="photo.lci")
    assert caught.value.header == header and caught.value.tried == [source.describe()]
    assert str(caught.value).startswith("photo.lci needs") and "quality 3" in str(caught.value)
    with pytest.raises(NoMatchingWeightsError, match="no weights at all"):
        decode_file(data, [])


def test_a_bundled_file_decodes_with_the_bundled_ladder_unless_weights_were_named(bundle, other):
    data = encode_image(BundledSource().load(2), PHOTO).lci
    header = unpack_lci(data)[0]
    assert header.source_kind == "bundled"
    offered = [FolderSource(other)]
    candidates = candidate_sources(header, offered)
    assert [s.kind for s in candidates] == ["folder", "bundled"]
    assert decode_file(data, candidates).info.source == "bundled"
    assert candidate_sources(header, offered, own_kind=False) == offered


def test_official_weights_are_not_fetched_for_a_bundled_file(bundle, tmp_path):
    """The header says the bundled ladder made it: no download of q2 to learn that the official one didn't."""
    data = encode_image(BundledSource().load(2), PHOTO).lci
    official = CompressAISource("mse", cache_dir=tmp_path / "cache", base_url="http://127.0.0.1:9")
    loads = []
    with pytest.raises(WeightsMismatchError) as caught:
        decode_file(data, [official], load=lambda source, quality: loads.append(quality))
    assert loads == [] and not (tmp_path / "cache").exists()
    assert caught.value.header.source_kind == "bundled"
    assert str(caught.value).endswith("but the weights offered are CompressAI official (mse)")


def test_official_weights_are_added_only_when_cached_or_downloads_are_allowed(tmp_path, monkeypatch, ladder):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    loaded = FolderSource(ladder).load(3)
    info = ModelInfo("compressai", 3, "mse", loaded.info.lmbda, loaded.info.N, loaded.info.M,
                             loaded.info.fingerprint)  # fmt: skip
    header = unpack_lci(encode_image(LoadedModel(loaded.model, info), PHOTO).lci)[0]
    assert candidate_sources(header, []) == []  # never a surprise download
    [official] = candidate_sources(header, [], download=True)
    assert isinstance(official, CompressAISource) and official.metric == "mse"
    cached = CompressAISource("mse").cached_path(3)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")
    assert [s.kind for s in candidate_sources(header, [])] == ["compressai"]
