"""Forged `.lci` files with valid checksums (findings 2 and 3 of issue 15): whatever the header declares and
whatever the payload holds, decoding gives a one-line LciFormatError or a correct decode, in time and memory
bounded by the payload, never by the declared picture size."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lci_studio.codec import pipeline
from lci_studio.codec.entropy_coding import CdfTables, decode_symbols, encode_symbols, payload_floor_bits
from lci_studio.codec.lci_format import LciFormatError, LciHeader, centred_padding, pack_lci, unpack_lci
from tests.codec.test_lci_format import encoded, loaded_model
from tests.conftest import make_photo

# Generous on purpose: the bounds say "proportional to the payload", with room for a slow, busy machine.
SECONDS_FIXED, SECONDS_PER_PAYLOAD_BYTE = 10.0, 0.005
TRACED_BYTES_FIXED, TRACED_BYTES_PER_PAYLOAD_BYTE = 32 << 20, 2048


@functools.cache
def other_payload() -> bytes:
    """A real payload of another picture under the same weights (a different latent size)."""
    return unpack_lci(pipeline.encode_image(encoded()[0], make_photo(70, 90, seed=5)).lci)[1]


def resized(header: LciHeader, width: int, height: int) -> LciHeader:
    """The header with another picture size, padded exactly as the encoder would (so only the payload can refuse it)."""
    left, right, top, bottom = centred_padding(height, width)
    return dataclasses.replace(
        header,
        width=width,
        height=height,
        pad_left=left,
        pad_top=top,
        latent_height=(height + top + bottom) // 16,
        latent_width=(width + left + right) // 16,
    )


@st.composite
def forged_files(draw) -> tuple[bytes, str]:
    header, payload = unpack_lci(encoded()[1])
    size = draw(
        st.sampled_from(["same", "same", "small", "large", "largest"]).flatmap(
            lambda kind: {
                "same": st.just((header.width, header.height)),
                "small": st.tuples(st.integers(1, 200), st.integers(1, 200)),
                "large": st.tuples(st.integers(200, 8192), st.integers(200, 8192)),
                "largest": st.just((16384, 16384)),
            }[kind]
        )
    )
    header = resized(header, *size)
    kind = draw(st.sampled_from(["intact", "empty", "truncated", "doubled", "random", "appended", "other", "words"]))
    if kind == "empty":
        payload = b""
    elif kind == "truncated":
        cut = draw(st.integers(1, len(payload)))
        payload = payload[cut:] if draw(st.booleans()) else payload[:-cut]
    elif kind == "doubled":
        payload = payload * 2
    elif kind == "random":
        payload = draw(st.binary(max_size=2 * len(payload)))
    elif kind == "appended":
        payload = payload + draw(st.binary(min_size=1, max_size=64))
    elif kind == "other":
        payload = other_payload()
    elif kind == "words":  # whole 32-bit words, the coder's own unit, flipped
        words = bytearray(payload)
        for position in draw(st.lists(st.integers(0, len(words) // 4 - 1), min_size=1, max_size=4)):
            words[4 * position : 4 * position + 4] = draw(st.binary(min_size=4, max_size=4))
        payload = bytes(words)
    return pack_lci(header, payload), f"{kind} payload of {len(payload)} bytes, picture {size[0]}×{size[1]}"


def decode_measured(data: bytes) -> tuple[np.ndarray | LciFormatError, float, int]:
    """Decode `data` (an image or the LciFormatError), with the seconds it took and tracemalloc's peak bytes."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcome: np.ndarray | LciFormatError = pipeline.decode_lci(data, encoded()[0])
    except LciFormatError as exc:
        outcome = exc
    finally:
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, seconds, peak


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(forged_files())
def test_a_forged_file_gives_a_clear_error_or_a_correct_decode_in_bounded_time_and_memory(forged):
    data, what = forged
    header, payload = unpack_lci(data)
    outcome, seconds, peak = decode_measured(data)
    if isinstance(outcome, LciFormatError):
        message = str(outcome)
        assert message and "\n" not in message, what
    else:
        # correct: the pixels of the declared size, from a latent whose canonical coding is exactly this payload
        assert outcome.shape == (header.height, header.width, 3) and outcome.dtype == np.uint8, what
        tables = CdfTables.from_bottleneck(encoded()[0].model.entropy_bottleneck)
        symbols = decode_symbols(payload, (header.M, header.latent_height, header.latent_width), tables)
        assert encode_symbols(symbols, tables) == payload, what
        if payload == unpack_lci(encoded()[1])[1] and (header.width, header.height) == (50, 40):
            np.testing.assert_array_equal(outcome, encoded()[2])
    assert seconds < SECONDS_FIXED + SECONDS_PER_PAYLOAD_BYTE * len(payload), (what, seconds)
    assert peak < TRACED_BYTES_FIXED + TRACED_BYTES_PER_PAYLOAD_BYTE * len(payload), (what, peak)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("empty", "cannot hold"), ("truncated", "corrupt"), ("doubled", "left after the last symbol"),
     ("a word under it", "left after the last symbol")],
)  # fmt: skip
def test_each_kind_of_forged_payload_is_refused_by_name(kind, expected):
    """Finding 3: empty, truncated, doubled payloads with a recomputed CRC used to decode to garbage with exit 0."""
    header, payload = unpack_lci(encoded()[1])
    forged = {
        "empty": b"",
        "truncated": payload[: len(payload) // 2],
        "doubled": payload * 2,
        "a word under it": payload[-4:] + payload,  # the coder is a stack read from the end
    }[kind]
    with pytest.raises(LciFormatError, match=expected) as caught:
        pipeline.decode_lci(pack_lci(header, forged), encoded()[0])
    assert "\n" not in str(caught.value)


def test_the_payload_floor_never_refuses_a_real_file():
    """Flat pictures cost the fewest bits; even they keep well above the floor (its share is 0.5)."""
    loaded = loaded_model()
    tables = CdfTables.from_bottleneck(loaded.model.entropy_bottleneck)
    for value in (0, 128, 255):
        data = pipeline.encode_image(loaded, np.full((200, 300, 3), value, np.uint8)).lci
        header, payload = unpack_lci(data)
        floor = payload_floor_bits(tables, header.latent_height * header.latent_width)[0]
        assert len(payload) * 8 > 1.5 * floor
        assert pipeline.decode_lci(data, loaded).shape == (200, 300, 3)


FORGED_DECODE = textwrap.dedent(
    """
    import resource, time
    from lci_studio.codec import pipeline
    from lci_studio.codec.lci_format import LciFormatError, pack_lci, unpack_lci
    from tests.codec.test_forged_files import resized
    from tests.codec.test_lci_format import encoded

    loaded, data, _ = encoded()
    for size in (8192, 16384):
        forged = pack_lci(resized(unpack_lci(data)[0], size, size), b"")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        try:
            pipeline.decode_lci(forged, loaded)
            print("decoded", flush=True)
        except LciFormatError as exc:
            print("refused:", exc, flush=True)
        seconds = time.perf_counter() - started
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(f"{len(forged)} bytes, {seconds:.3f} s, peak RSS grew {grown / 1024:.1f} MB", flush=True)
    """
)


def test_a_45_byte_file_declaring_a_huge_picture_is_refused_at_once():
    """Finding 2: a 45-byte file with a valid CRC declaring 8192² (or 16384²) decoded for minutes into gigabytes."""
    run = subprocess.run([sys.executable, "-c", FORGED_DECODE], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    print(run.stdout)
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 4
    for outcome, measured in zip(lines[::2], lines[1::2], strict=True):
        assert outcome.startswith("refused: ") and "cannot hold" in outcome
        assert measured.startswith("45 bytes")
        seconds = float(measured.split(", ")[1].removesuffix(" s"))
        grown_mb = float(measured.split("grew ")[1].removesuffix(" MB"))
        assert seconds < 5 and grown_mb < 200  # an honest decode of this size needs gigabytes
