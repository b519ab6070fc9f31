"""The `.lci` container (versions 1 and 2): header round trip, and fuzzing (truncations, flips, garbage, foreign and
future files) that must only ever raise `LciFormatError`; decoding with other weights names the ones needed."""

from __future__ import annotations

import dataclasses
import functools
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from lci_studio.codec import pipeline
from lci_studio.codec.entropy_coding import CdfTables, encode_symbols
from lci_studio.codec.lci_format import (
    CRC_SIZE,
    FAMILIES,
    HEADER_SIZE,
    MAGIC,
    METRIC_CODES,
    SOURCE_KINDS,
    VERSION,
    LciFormatError,
    LciHeader,
    centred_padding,
    pack_lci,
    unpack_lci,
)
from lci_studio.codec.model import LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.pipeline import WeightsMismatchError
from tests.conftest import make_model, make_photo

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------- fixtures


def loaded_model(seed: int = 0, quality: int = 3, metric: str = "mse", source: str = "bundled") -> LoadedModel:
    model = make_model(16, 24, seed=seed)
    with torch.no_grad():
        model.g_a[6].weight.mul_(40)  # spread the latents so the payload holds real symbols and escapes
    info = ModelInfo(source, quality, metric, 0.0067, 16, 24, weights_fingerprint(model))
    return LoadedModel(model, info)


@functools.cache
def encoded() -> tuple[LoadedModel, bytes, np.ndarray]:
    """A real small file: a 40×50 photo (padded to 48×64, latent 24×3×4) and its reconstruction."""
    loaded = loaded_model()
    data = pipeline.encode_image(loaded, make_photo(40, 50, seed=1)).lci
    return loaded, data, pipeline.decode_lci(data, loaded)


def with_crc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


def assert_rejected(data: bytes) -> LciFormatError:
    """Both the parser and the full decoder refuse `data` with LciFormatError and a one-line reason."""
    loaded = encoded()[0]
    with pytest.raises(LciFormatError) as parsed:
        unpack_lci(data)
    with pytest.raises(LciFormatError) as decoded:
        pipeline.decode_lci(data, loaded)
    for error in (parsed.value, decoded.value):
        message = str(error)
        assert message and "\n" not in message
    return parsed.value


def decode_or_format_error(data: bytes) -> np.ndarray | None:
    """Decode intact-looking bytes: an image or LciFormatError, nothing else (any other exception fails)."""
    try:
        return pipeline.decode_lci(data, encoded()[0])
    except LciFormatError:
        return None


HEADER = LciHeader(
    family="bmshj2018-factorized",
    metric="ms-ssim",
    quality=7,
    source_kind="compressai",
    N=192,
    M=320,
    fingerprint="0123456789abcdef",
    width=5990,
    height=3991,
    pad_left=5,
    pad_top=4,
    latent_height=250,
    latent_width=375,
)


# ----------------------------------------------------------------------------------------------- header


def test_header_round_trip_and_layout():
    payload = bytes(range(256)) * 3
    data = pack_lci(HEADER, payload)
    assert len(data) == HEADER_SIZE + len(payload) + CRC_SIZE == 41 + len(payload) + 4
    assert data[:4] == MAGIC == b"LCI\x1a"
    assert data[4] == VERSION == 2
    assert data[13:21] == bytes.fromhex(HEADER.fingerprint)
    assert struct.unpack(">IIHHHHI", data[21:41]) == (5990, 3991, 5, 4, 250, 375, len(payload))
    assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])
    header, out = unpack_lci(data)
    assert header == HEADER
    assert out == payload
    assert header.padded_size == (4000, 6000)
    assert "5990×3991" in header.describe()


@settings(max_examples=80, deadline=None)
@given(
    family=st.sampled_from(FAMILIES),
    metric=st.sampled_from(METRIC_CODES),
    quality=st.integers(1, 8),
    source=st.sampled_from(SOURCE_KINDS),
    N=st.integers(1, 65535),
    M=st.integers(1, 65535),
    fingerprint=st.binary(min_size=8, max_size=8),
    size=st.tuples(st.integers(1, 16000), st.integers(1, 16000)),
    payload=st.binary(max_size=64),
)
def test_header_round_trip_any_valid_values(family, metric, quality, source, N, M, fingerprint, size, payload):
    height, width = size
    padded_h, padded_w = -(-height // 16) * 16, -(-width // 16) * 16
    header = LciHeader(
        family,
        metric,
        quality,
        source,
        N,
        M,
        fingerprint.hex(),
        width,
        height,
        (padded_w - width) // 2,
        (padded_h - height) // 2,
        padded_h // 16,
        padded_w // 16,
    )
    assert unpack_lci(pack_lci(header, payload)) == (header, payload)


@torch.no_grad()
def test_a_version_1_file_padded_to_64_still_decodes():
    """Version 1 framed the picture in zeros to a multiple of 64; those files keep decoding."""
    loaded = loaded_model()
    model, pixels = loaded.model, make_photo(40, 50, seed=1)
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255
    left, right, top, bottom = centred_padding(40, 50, multiple=64)
    framed = torch.nn.functional.pad(x, (left, right, top, bottom))  # version 1 framed in zeros
    symbols = model.entropy_bottleneck.quantize_symbols(model.g_a(framed))
    coded = symbols[0].numpy()
    payload = encode_symbols(coded, CdfTables.from_bottleneck(model.entropy_bottleneck))
    info = loaded.info
    header = LciHeader(
        "bmshj2018-factorized", info.metric, info.quality, info.source, info.N, info.M, info.fingerprint,
        50, 40, left, top, *coded.shape[1:],
    )
    with pytest.raises(LciFormatError, match="does not fit"):  # 64-padding is not what version 2 writes
        unpack_lci(pack_lci(header, payload))
    header = dataclasses.replace(header, version=1)
    data = pack_lci(header, payload)
    assert data[4] == 1 and unpack_lci(data)[0] == header and header.padded_size == (64, 64)
    full = pipeline.to_pixels(model.g_s(model.entropy_bottleneck.dequantize(symbols)))
    np.testing.assert_array_equal(pipeline.decode_lci(data, loaded), full[top : top + 40, left : left + 50])


def test_a_version_2_layout_under_a_version_1_byte_is_rejected():
    header, payload = unpack_lci(encoded()[1])
    assert header.version == 2
    error = assert_rejected(pack_lci(dataclasses.replace(header, version=1), payload))  # v1 never padded to 16
    assert "does not fit" in str(error)


@pytest.mark.parametrize(
    "change",
    [
        {"version": 3}, {"N": 70000}, {"quality": 300}, {"width": -1},
        {"fingerprint": "abc"}, {"metric": "psnr"}, {"source_kind": "web"},
    ],
)
def test_pack_refuses_values_outside_the_layout(change):
    with pytest.raises(ValueError):
        pack_lci(LciHeader(**{**HEADER.__dict__, **change}), b"")


# ----------------------------------------------------------------------------------------------- fuzzing


def test_the_real_file_decodes():
    _, data, reconstruction = encoded()
    header, payload = unpack_lci(data)
    assert (header.width, header.height, header.M) == (50, 40, 24)
    assert reconstruction.shape == (40, 50, 3)
    assert len(payload) > 16


def test_every_truncation_is_rejected():
    data = encoded()[1]
    reasons = set()
    for length in range(len(data)):
        reasons.add(str(assert_rejected(data[:length])).split(" (")[0])
    print(f"{len(data)} truncations rejected; reasons: {sorted(reasons)}")
    assert any("truncated" in reason for reason in reasons)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=8))
def test_random_byte_flips_are_rejected(flips):
    data = encoded()[1]
    corrupt = bytearray(data)
    for position, mask in flips:
        corrupt[position % len(data)] ^= mask
    assume(bytes(corrupt) != data)  # flips can cancel out
    assert_rejected(bytes(corrupt))


@FUZZ
@given(st.binary(max_size=300))
def test_random_garbage_is_rejected(garbage):
    assert_rejected(garbage)


@FUZZ
@given(st.binary(max_size=300))
def test_garbage_behind_a_valid_signature_is_rejected(garbage):
    assert_rejected(MAGIC + bytes([VERSION]) + garbage)


@FUZZ
@given(st.binary(min_size=1, max_size=64))
def test_appended_bytes_are_rejected(extra):
    error = assert_rejected(encoded()[1] + extra)
    assert "after its end" in str(error)


@pytest.mark.parametrize(
    "magic", [b"\x89PNG", b"LCI\x00", b"lci\x1a", b"\x00\x00\x00\x00", b"LCJ\x1a", b"\xff\xd8\xff\xe0"]
)
def test_a_different_magic_is_rejected(magic):
    data = encoded()[1]
    error = assert_rejected(magic + data[4:])
    assert "not an .lci file" in str(error)


@pytest.mark.parametrize("version", [0, 3, 255])
def test_another_version_is_rejected_by_name(version):
    data = bytearray(encoded()[1])
    data[4] = version
    error = assert_rejected(with_crc(bytes(data[:-4])))  # even with a matching checksum
    assert f"version {version}" in str(error)


@pytest.mark.parametrize(
    ("offset", "value", "reason"),
    [
        (5, b"\x07", "unknown"),  # family
        (6, b"\x02", "unknown"),  # metric
        (8, b"\x09", "unknown"),  # weight source
        (7, b"\x00", "impossible"),  # quality 0
        (7, b"\x09", "impossible"),  # quality 9
        (21, struct.pack(">I", 0), "impossible"),  # width 0
        (25, struct.pack(">I", 0), "impossible"),  # height 0
        (21, struct.pack(">I", 65), "does not fit"),  # wider than the 64-pixel-wide latent
        (29, struct.pack(">H", 20), "does not fit"),  # padding pushes the image out of the latent
        (33, struct.pack(">H", 0), "does not fit"),  # zero latent height
    ],
)
def test_impossible_header_values_with_a_valid_checksum_are_rejected(offset, value, reason):
    data = bytearray(encoded()[1])
    data[offset : offset + len(value)] = value
    error = assert_rejected(with_crc(bytes(data[:-4])))
    assert reason in str(error)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=6))
def test_corrupt_payload_with_a_valid_checksum_never_crashes(flips):
    """Beyond the CRC: a payload the rANS decoder cannot make sense of is LciFormatError, or decodes to an image."""
    data = encoded()[1]
    payload_length = len(data) - HEADER_SIZE - CRC_SIZE
    corrupt = bytearray(data[:-4])
    for position, mask in flips:
        corrupt[HEADER_SIZE + position % payload_length] ^= mask
    result = decode_or_format_error(with_crc(bytes(corrupt)))
    if result is not None:
        assert result.shape == (40, 50, 3) and result.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=200).filter(lambda b: len(b) % 4 == 0))
def test_any_payload_with_a_valid_checksum_never_crashes(payload):
    header = unpack_lci(encoded()[1])[0]
    result = decode_or_format_error(pack_lci(header, payload))
    if result is not None:
        assert result.shape == (40, 50, 3)


def test_payload_of_partial_words_is_a_format_error():
    header = unpack_lci(encoded()[1])[0]
    with pytest.raises(LciFormatError, match="corrupt"):
        pipeline.decode_lci(pack_lci(header, b"\x01\x02\x03\x04\x05"), encoded()[0])


# ----------------------------------------------------------------------------------------------- weights


def assert_names_needed_weights(error: WeightsMismatchError, header: LciHeader) -> None:
    message = str(error)
    for needed in (header.metric, f"quality {header.quality}", f"N={header.N}", f"M={header.M}", header.fingerprint):
        assert needed in message, f"{needed!r} missing from: {message}"
    assert "\n" not in message


def test_other_weights_raise_mismatch_naming_the_needed_weights():
    _, data, _ = encoded()
    header = unpack_lci(data)[0]
    other = loaded_model(seed=1)  # same size, label and metric: only the weights differ
    assert other.info.fingerprint != header.fingerprint
    with pytest.raises(WeightsMismatchError) as caught:
        pipeline.decode_lci(data, other)
    assert_names_needed_weights(caught.value, header)
    assert other.info.fingerprint in str(caught.value)
    # structured, so each face can say where the right weights are (tests/cli: "--weights bundled")
    assert caught.value.header == header and caught.value.offered == other.info
    assert "--weights" not in str(caught.value)


@pytest.mark.parametrize(
    "other",
    [
        {"quality": 4},  # same weights labelled as another quality
        {"metric": "ms-ssim"},
        {"N": 32},
        {"M": 32},
    ],
)
def test_any_identity_difference_is_a_mismatch(other):
    loaded, data, _ = encoded()
    header = unpack_lci(data)[0]
    impostor = LoadedModel(loaded.model, ModelInfo(**{**loaded.info.__dict__, **other}))
    with pytest.raises(WeightsMismatchError) as caught:
        pipeline.decode_lci(data, impostor)
    assert_names_needed_weights(caught.value, header)


def test_mismatch_hint_names_compressai_weights():
    loaded = loaded_model(source="compressai", metric="ms-ssim", quality=2)
    data = pipeline.encode_image(loaded, make_photo(16, 16)).lci
    header = unpack_lci(data)[0]
    assert header.source_kind == "compressai"
    with pytest.raises(WeightsMismatchError) as caught:
        pipeline.decode_lci(data, loaded_model(seed=4))
    assert_names_needed_weights(caught.value, header)
    assert caught.value.header.source_kind == "compressai" and caught.value.header.metric == "ms-ssim"


def test_a_crafted_header_cannot_make_the_decoder_allocate_unbounded_memory():
    header = LciHeader("bmshj2018-factorized", "mse", 1, "bundled", 16, 24, "00" * 8, 65535, 65535, 0, 0, 4096, 4096)
    with pytest.raises(LciFormatError, match="more than this program decodes"):
        unpack_lci(pack_lci(header, b""))


def test_a_header_whose_padding_is_not_the_v1_padding_is_refused():
    header = LciHeader("bmshj2018-factorized", "mse", 1, "bundled", 16, 24, "00" * 8, 100, 60, 0, 0, 8, 8)
    with pytest.raises(LciFormatError, match="does not fit"):
        unpack_lci(pack_lci(header, b""))


@pytest.mark.parametrize(("name", "kind"), [("model.ckpt", "file"), ("q2.pth.tar", "file"), ("run.pt", "folder")])
def test_the_header_records_the_weight_sources_own_kind(tmp_path, name, kind):
    """The kind comes from the `WeightSource` that loaded the model, not from the look of its name: a
    checkpoint named `.ckpt` is a file, a folder named `run.pt` a folder."""
    from lci_studio.codec.weights import open_weight_source

    state = make_model(seed=2).state_dict()
    if kind == "folder":
        (tmp_path / name).mkdir()
        torch.save(state, tmp_path / name / "q2.pth.tar")
    else:
        torch.save(state, tmp_path / name)
    source = open_weight_source(str(tmp_path / name), quality_label=2)
    loaded = source.load(2)
    assert source.kind == kind and loaded.info.kind == kind
    header = unpack_lci(pipeline.encode_image(loaded, make_photo(32, 48)).lci)[0]
    assert header.source_kind == kind
