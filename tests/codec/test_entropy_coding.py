"""Entropy coding of latents: exact round trips (escapes included), coded size against the ideal,
CompressAI's integer CDF rule, and the table layout a model builds."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.entropy_coding import (
    CdfTables,
    EntropyCodingError,
    SymbolCost,
    decode_symbols,
    encode_symbols,
    payload_floor_bits,
)
from lci_studio.codec.entropy_model import EntropyBottleneck, pmf_to_quantized_cdf
from tests.conftest import make_model

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ----------------------------------------------------------------------------------------------- helpers


@functools.cache
def varied_bottleneck() -> EntropyBottleneck:
    """Six channels whose quantiles differ, so table rows have different lengths, offsets and medians."""
    torch.manual_seed(7)
    bottleneck = EntropyBottleneck(6).eval()
    quantiles = torch.tensor(
        [
            [-12.0, 0.3, 11.0],
            [-3.2, -0.4, 2.1],
            [-0.2, 0.1, 0.4],  # a nearly degenerate channel: very short table
            [-30.5, 5.0, 40.0],  # long table, median well away from zero
            [1.0, 1.5, 1.9],  # median above the lower quantile by only 0.5
            [-7.0, -6.6, -1.0],
        ]
    )
    with torch.no_grad():
        bottleneck.quantiles.copy_(quantiles[:, None, :])
    bottleneck.build_tables()
    return bottleneck


@functools.cache
def varied_tables() -> CdfTables:
    return CdfTables.from_bottleneck(varied_bottleneck())


@functools.cache
def model_tables() -> CdfTables:
    return CdfTables.from_bottleneck(make_model(16, 24).entropy_bottleneck)


@torch.no_grad()
def invert_cumulative(bottleneck: EntropyBottleneck, logits: torch.Tensor) -> torch.Tensor:
    """v with f(v) = logits for each channel (logits: (C, n)), by bisection on the monotone f."""
    low = torch.full_like(logits, -1e3)
    high = torch.full_like(logits, 1e3)
    for _ in range(45):
        middle = (low + high) / 2
        above = bottleneck._logits_cumulative(middle[:, None, :], stop_gradient=True)[:, 0, :] > logits
        high = torch.where(above, middle, high)
        low = torch.where(above, low, middle)
    return (low + high) / 2


@functools.cache
def peaked_bottleneck() -> EntropyBottleneck:
    """A trained-looking prior: densities of different widths, quantiles converged to their targets."""
    torch.manual_seed(5)
    channels = 16
    bottleneck = EntropyBottleneck(channels).eval()
    with torch.no_grad():
        sharpness = torch.logspace(0, 1.5, channels)  # slope of f from ~0.1 (wide) to ~3 (sharp)
        first = F_softplus_inverse(torch.nn.functional.softplus(bottleneck.matrices[0]) * sharpness[:, None, None])
        bottleneck.matrices[0].copy_(first)
        targets = bottleneck.target[None, :].repeat(channels, 1)  # (C, 3): -t, 0, t
        bottleneck.quantiles.copy_(invert_cumulative(bottleneck, targets)[:, None, :])
    bottleneck.build_tables()
    return bottleneck


def F_softplus_inverse(x: torch.Tensor) -> torch.Tensor:  # noqa: N802
    return x + torch.log(-torch.expm1(-x))


def round_trip(symbols: np.ndarray, tables: CdfTables) -> np.ndarray:
    data = encode_symbols(symbols, tables)
    assert len(data) % 4 == 0
    decoded = decode_symbols(data, symbols.shape, tables)
    assert decoded.dtype == np.int32
    assert decoded.shape == symbols.shape
    return decoded


def reference_quantized_cdf(pmf) -> list[int]:
    """CompressAI's pmf_to_quantized_cdf (ops.cpp) written straight from the reference text, in plain ints."""
    pmf = np.asarray(pmf, dtype=np.float32)
    freqs = [0]
    for p in pmf:
        scaled = float(np.float32(p) * np.float32(65536))  # float32 product
        freqs.append(math.floor(scaled + 0.5))  # std::round: half away from zero (all values ≥ 0)
    total = sum(freqs)
    cdf = [65536 * f // total for f in freqs]
    for i in range(1, len(cdf)):
        cdf[i] += cdf[i - 1]
    cdf[-1] = 65536
    n = len(cdf) - 1
    for i in range(n):
        if cdf[i] == cdf[i + 1]:
            best_freq, best = 1 << 31, -1
            for j in range(n):
                freq = cdf[j + 1] - cdf[j]
                if 1 < freq < best_freq:
                    best_freq, best = freq, j
            if best < i:
                for k in range(best + 1, i + 1):
                    cdf[k] -= 1
            else:
                for k in range(i + 1, best + 1):
                    cdf[k] += 1
    return cdf


# ----------------------------------------------------------------------------------------------- round trips


latent_values = st.one_of(
    st.integers(-40, 40),  # mostly inside the tables
    st.integers(-5000, 5000),  # moderate outliers
    st.integers(INT32_MIN, INT32_MAX),  # anything an int32 holds
)


@FAST
@given(
    height=st.integers(0, 5),
    width=st.integers(0, 6),
    data=st.data(),
)
def test_round_trip_is_exact_for_any_int32_latent(height, width, data):
    tables = varied_tables()
    symbols = data.draw(hnp.arrays(np.int32, (6, height, width), elements=latent_values))
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


def test_round_trip_int32_extremes_and_far_outliers():
    tables = model_tables()
    rng = np.random.default_rng(0)
    symbols = rng.integers(-3, 4, size=(24, 3, 5)).astype(np.int32)
    extremes = [
        INT32_MIN,
        INT32_MIN + 1,
        -(2**30),
        -(2**30) - 1,
        -1000,
        1000,
        2**30,
        2**30 + 1,
        INT32_MAX - 1,
        INT32_MAX,
    ]
    flat = symbols.reshape(-1)
    flat[: len(extremes)] = extremes
    flat[-len(extremes) :] = extremes[::-1]
    symbols[5, 1, :] = [-(2**30), 2**30, -(2**31), 2**31 - 1, 0]
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


def test_round_trip_every_table_edge():
    """Each channel's first and last real bin, the escape bin's own value, and one past either side."""
    tables = varied_tables()
    columns = []
    for channel in range(6):
        offset = int(tables.offset[channel])
        escape = int(tables.cdf_length[channel]) - 2
        columns.append([offset - 2, offset - 1, offset, offset + escape - 1, offset + escape, offset + escape + 1])
    symbols = np.asarray(columns, dtype=np.int32)[:, None, :]
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


def test_round_trip_all_escape_channel():
    tables = model_tables()
    rng = np.random.default_rng(1)
    symbols = rng.integers(-2, 3, size=(24, 8, 8)).astype(np.int32)
    symbols[3] = rng.integers(10**5, 10**7, size=(8, 8)) * rng.choice([-1, 1], size=(8, 8))  # every element escapes
    symbols[0] = INT32_MAX  # a whole channel at the int32 ceiling
    symbols[23] = INT32_MIN  # and one at the floor
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


@pytest.mark.parametrize("value", [0, 1, -1, 13, -14, 100, -100, 2**30, -(2**30), INT32_MAX, INT32_MIN])
def test_round_trip_single_element_latent(value):
    bottleneck = EntropyBottleneck(1).eval()
    bottleneck.build_tables()
    tables = CdfTables.from_bottleneck(bottleneck)
    symbols = np.full((1, 1, 1), value, dtype=np.int32)
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


@pytest.mark.parametrize("shape", [(24, 0, 0), (24, 0, 7), (24, 7, 0), (24, 1, 1), (24, 1, 9), (24, 9, 1)])
def test_round_trip_empty_and_thin_shapes(shape):
    tables = model_tables()
    symbols = np.arange(int(np.prod(shape)), dtype=np.int32).reshape(shape) - 3
    np.testing.assert_array_equal(round_trip(symbols, tables), symbols)


def test_decode_rejects_wrong_channel_count_and_partial_words():
    tables = model_tables()
    data = encode_symbols(np.zeros((24, 2, 2), dtype=np.int32), tables)
    with pytest.raises(EntropyCodingError, match="channels"):
        decode_symbols(data, (23, 2, 2), tables)
    with pytest.raises(EntropyCodingError, match="32-bit"):
        decode_symbols(data + b"\x00", (24, 2, 2), tables)


def test_garbage_payload_raises_only_entropy_coding_error_or_decodes():
    tables = model_tables()
    rng = np.random.default_rng(3)
    for _ in range(200):
        words = rng.integers(0, 2**32, size=int(rng.integers(0, 12)), dtype=np.uint64).astype("<u4")
        try:
            decoded = decode_symbols(words.tobytes(), (24, 2, 3), tables)
        except EntropyCodingError:
            continue
        assert decoded.shape == (24, 2, 3)


# ----------------------------------------------------------------------------------------------- coded size


def draw_from_tables(tables: CdfTables, per_channel: int, seed: int) -> np.ndarray:
    """Symbols distributed exactly as each channel's table says; escape draws land on real outliers."""
    rng = np.random.default_rng(seed)
    channels = len(tables.cdf_length)
    symbols = np.empty((channels, 1, per_channel), dtype=np.int64)
    for channel in range(channels):
        probabilities = tables.frequencies(channel) / 65536.0
        index = rng.choice(len(probabilities), size=per_channel, p=probabilities)
        escape = len(probabilities) - 1
        values = index + tables.offset[channel]
        escapes = index == escape
        # an escaped value lies outside the table: beyond either end, geometrically far
        distance = rng.geometric(0.05, size=int(escapes.sum()))
        below = rng.random(int(escapes.sum())) < 0.5
        low = tables.offset[channel] - distance
        high = tables.offset[channel] + escape - 1 + distance
        values[escapes] = np.where(below, low, high)
        symbols[channel, 0] = values
    return symbols.astype(np.int32)


@torch.no_grad()
def draw_from_density(bottleneck: EntropyBottleneck, per_channel: int, seed: int) -> np.ndarray:
    """Continuous latents sampled from the prior itself (inverse CDF), then quantized as the encoder does."""
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(bottleneck.channels, per_channel, generator=generator, dtype=torch.float64)
    u = u.clamp(1e-12, 1 - 1e-12)
    y = invert_cumulative(bottleneck, torch.log(u / (1 - u)).float())
    return bottleneck.quantize_symbols(y[:, None, :].permute(1, 0, 2)[:, :, None, :])[0].numpy()


@pytest.mark.parametrize("which", ["model", "varied", "peaked"])
def test_coded_size_within_one_percent_of_ideal(which):
    if which == "peaked":
        tables = CdfTables.from_bottleneck(peaked_bottleneck())
        symbols = draw_from_density(peaked_bottleneck(), per_channel=4000, seed=11)
    else:
        tables = model_tables() if which == "model" else varied_tables()
        symbols = draw_from_tables(tables, per_channel=-(-60_000 // len(tables.cdf_length)), seed=11)
    channels = len(tables.cdf_length)
    assert symbols.size >= 50_000
    data = encode_symbols(symbols, tables)
    ideal = SymbolCost(tables).total(torch.from_numpy(symbols)[None])
    real = len(data) * 8
    escapes = sum(
        int(np.sum((symbols[c] - tables.offset[c] < 0) | (symbols[c] - tables.offset[c] >= tables.cdf_length[c] - 2)))
        for c in range(channels)
    )
    print(
        f"[{which}] {symbols.size} symbols ({escapes} escaped): coded {real} bits, ideal {ideal:.0f} bits, "
        f"ratio {real / ideal:.5f}"
    )
    assert escapes > 0 or which == "peaked"
    assert ideal <= real <= 1.01 * ideal
    np.testing.assert_array_equal(decode_symbols(data, symbols.shape, tables), symbols)


def test_symbol_cost_counts_table_probabilities_and_escape_nibbles():
    tables = varied_tables()
    channel, value_bin = 1, 2
    frequencies = tables.frequencies(channel)
    symbols = np.zeros((6, 1, 10), dtype=np.int32)
    for c in range(6):
        symbols[c] = tables.offset[c]  # bin 0 everywhere
    symbols[channel] = tables.offset[channel] + value_bin
    expected = sum(10 * -math.log2(tables.frequencies(c)[0] / 65536) for c in range(6) if c != channel)
    expected += 10 * -math.log2(frequencies[value_bin] / 65536)
    assert SymbolCost(tables).total(torch.from_numpy(symbols)[None]) == pytest.approx(expected, rel=1e-12)
    # one escape of raw value 2·(v − e) = 2·17 = 34: escape bin, count nibble (2), two value nibbles
    escape = int(tables.cdf_length[0]) - 2
    symbols[0, 0, 0] = tables.offset[0] + escape + 17
    expected += -math.log2(tables.frequencies(0)[escape] / 65536) + 4 * 3 - -math.log2(tables.frequencies(0)[0] / 65536)
    assert SymbolCost(tables).total(torch.from_numpy(symbols)[None]) == pytest.approx(expected, rel=1e-12)


# ----------------------------------------------------------------------------------------------- CDF quantization


@pytest.mark.parametrize(
    ("pmf", "expected"),
    [
        # exact powers of two: frequencies are the probabilities × 65536
        ([0.5, 0.25, 0.25], [0, 32768, 49152, 65536]),
        # round(0.3·65536) = 19661 each, total 39322 → 65536·19661 // 39322 = 32768
        ([0.3, 0.3], [0, 32768, 65536]),
        # 2.5 rounds half away from zero to 3 (half-to-even would give 2 and a CDF of [0, 3, …]):
        # 3 and 32768 of 32771 → 5 and 65530, then the last entry is forced to 65536
        ([2.5 / 65536, 0.5], [0, 5, 65536]),
        # zero bin after the largest: borrow one from the nearest-smallest bin > 1 (bin 0, below) → decrement
        ([1.0, 0.0], [0, 65535, 65536]),
        # zero bin before: borrow from above → increment
        ([0.0, 1.0], [0, 1, 65536]),
        # tie between bins 0 and 2 (16384 each): the first one wins, so the repair decrements
        ([0.25, 0.0, 0.25, 0.5], [0, 16383, 16384, 32768, 65536]),
        # two zero bins in a row, both repaired from the only bin that can give
        ([0.0, 0.0, 1.0], [0, 1, 2, 65536]),
        # a tiny bin (rounds to 0) between two others
        ([0.5, 1e-9, 0.5], [0, 32767, 32768, 65536]),
    ],
)
def test_pmf_to_quantized_cdf_hand_computed(pmf, expected):
    cdf = pmf_to_quantized_cdf(np.asarray(pmf, dtype=np.float32))
    assert cdf.tolist() == expected
    assert reference_quantized_cdf(pmf) == expected


@FAST
@given(
    st.lists(
        st.one_of(st.just(0.0), st.floats(0, 1, width=32), st.floats(0, 2**-13, width=32)),
        min_size=1,
        max_size=80,
    ).filter(lambda p: sum(math.floor(x * 65536 + 0.5) for x in p) > 0)
)
def test_pmf_to_quantized_cdf_properties(pmf):
    cdf = pmf_to_quantized_cdf(np.asarray(pmf, dtype=np.float32))
    assert cdf.dtype == np.int32
    assert len(cdf) == len(pmf) + 1
    assert cdf[0] == 0
    assert cdf[-1] == 65536
    assert np.all(np.diff(cdf) >= 1), "every symbol, zero-probability ones included, needs a frequency ≥ 1"
    assert cdf.tolist() == reference_quantized_cdf(pmf)


@pytest.mark.parametrize("pmf", [[0.5, -0.1], [0.5, float("nan")], [float("inf"), 0.5], [0.0, 0.0], [1e-7, 1e-7]])
def test_pmf_to_quantized_cdf_rejects_invalid(pmf):
    with pytest.raises(ValueError):
        pmf_to_quantized_cdf(np.asarray(pmf, dtype=np.float32))


# ----------------------------------------------------------------------------------------------- tables


def test_build_tables_layout():
    bottleneck = varied_bottleneck()
    quantiles = bottleneck.quantiles.detach()[:, 0, :].double()
    medians = quantiles[:, 1]
    minima = torch.clamp(torch.ceil(medians - quantiles[:, 0]), min=0).to(torch.int32)
    maxima = torch.clamp(torch.ceil(quantiles[:, 2] - medians), min=0).to(torch.int32)
    pmf_length = minima + maxima + 1
    longest = int(pmf_length.max())

    cdf, cdf_length, offset = bottleneck._quantized_cdf, bottleneck._cdf_length, bottleneck._offset
    assert cdf.dtype == cdf_length.dtype == offset.dtype == torch.int32
    assert cdf.shape == (6, longest + 2)
    assert cdf_length.shape == offset.shape == (6,)
    assert torch.equal(cdf_length, pmf_length + 2)
    assert torch.equal(offset, -minima)
    assert len(set(cdf_length.tolist())) > 2, "the fixture should exercise rows of different lengths"
    for c in range(6):
        length = int(cdf_length[c])
        row = cdf[c].numpy()
        assert row[0] == 0 and row[length - 1] == 65536
        assert np.all(np.diff(row[:length]) >= 1)
        assert np.all(row[length:] == 0), "rows are zero-padded on the right"


@torch.no_grad()
def test_build_tables_follows_compressai_including_the_upper_tail_quirk():
    """Recompute the tables from the reference text: pmf on each channel's grid, tails at index 0 and Lmax−1."""
    bottleneck = varied_bottleneck()
    quantiles = bottleneck.quantiles[:, 0, :]
    medians = quantiles[:, 1]
    minima = torch.clamp(torch.ceil(medians - quantiles[:, 0]).to(torch.int32), min=0)
    maxima = torch.clamp(torch.ceil(quantiles[:, 2] - medians).to(torch.int32), min=0)
    pmf_length = minima + maxima + 1
    longest = int(pmf_length.max())
    samples = torch.arange(longest, dtype=torch.float32)[None, None, :] + (medians - minima)[:, None, None]
    lower = bottleneck._logits_cumulative(samples - 0.5, stop_gradient=True)
    upper = bottleneck._logits_cumulative(samples + 0.5, stop_gradient=True)
    pmf = (torch.sigmoid(upper) - torch.sigmoid(lower))[:, 0, :]
    tail = torch.sigmoid(lower[:, 0, 0]) + torch.sigmoid(-upper[:, 0, longest - 1])
    for c in range(6):
        probabilities = [*pmf[c, : int(pmf_length[c])].tolist(), float(tail[c])]
        expected = reference_quantized_cdf(probabilities)
        assert bottleneck._quantized_cdf[c, : len(expected)].tolist() == expected


@torch.no_grad()
def test_quantized_symbols_equal_eval_forward_bitwise():
    model = make_model(16, 24, seed=2)
    bottleneck = model.entropy_bottleneck
    with torch.no_grad():
        bottleneck.quantiles[:, 0, 1] = torch.linspace(-2.3, 1.7, 24)  # non-trivial medians
    x = torch.rand(1, 3, 64, 48)
    y = model.g_a(x) * 30
    # add exact ties (median + k + 0.5) so half-to-even rounding is exercised
    medians = bottleneck.medians.reshape(1, -1, 1, 1)
    y[:, :, 0, 0] = medians[:, :, 0, 0] + torch.arange(24).float() - 11.5
    y_hat, _ = bottleneck(y)
    symbols = bottleneck.quantize_symbols(y)
    assert symbols.dtype == torch.int32
    assert torch.equal(symbols, torch.round(y - medians).to(torch.int32))
    assert torch.equal(bottleneck.dequantize(symbols), y_hat), "decompress(compress(y)) == forward_eval(y)[0]"
    assert torch.equal((y_hat - medians).round().to(torch.int32), symbols)
    # and through the coder
    tables = CdfTables.from_bottleneck(bottleneck)
    decoded = decode_symbols(encode_symbols(symbols[0].numpy(), tables), tuple(symbols.shape[1:]), tables)
    assert torch.equal(bottleneck.dequantize(torch.from_numpy(decoded)[None]), y_hat)


# ----------------------------------------------------------------------------------------------- stream limits


def free_tail_tables() -> CdfTables:
    """Two channels; the second's likeliest bin is bin 0, which an empty coder codes for nothing."""
    cdf = np.array([[0, 30000, 60000, 65000, 65536], [0, 60000, 65000, 65536, 0]], dtype=np.int64)
    return CdfTables(cdf, np.array([5, 4]), np.array([-1, 0]))


def test_a_stream_whose_last_channel_cost_nothing_still_decodes():
    """Trailing bin-0 symbols leave the coder empty before the end; the floor must not refuse that real stream."""
    tables = free_tail_tables()
    tables.check()
    symbols = np.zeros((2, 40, 40), dtype=np.int32)
    symbols[0] = np.random.default_rng(0).integers(-1, 2, size=(40, 40))
    data = encode_symbols(symbols, tables)
    first_only = CdfTables(tables.cdf[:1], tables.cdf_length[:1], tables.offset[:1])
    assert data == encode_symbols(symbols[:1], first_only), "the last channel cost no bits at all"
    assert 0.5 * 1600 * tables.least_bits()[1] > 64, "and yet its floor, counted, is above the slack"
    np.testing.assert_array_equal(decode_symbols(data, symbols.shape, tables), symbols)


def test_words_left_over_or_missing_are_refused():
    tables = model_tables()
    symbols = draw_from_tables(tables, 64, seed=4).reshape(len(tables.cdf_length), 8, 8)
    data = encode_symbols(symbols, tables)
    with pytest.raises(EntropyCodingError, match="left after the last symbol"):
        decode_symbols(data[:4] + data, symbols.shape, tables)
    for missing in (4, len(data) // 8 * 4):  # words at the bottom of the stack, read last
        with pytest.raises(EntropyCodingError):
            decode_symbols(data[missing:], symbols.shape, tables)
    with pytest.raises(EntropyCodingError, match="cannot hold"):
        decode_symbols(b"", symbols.shape, tables)


def test_payload_floor_is_half_the_cheapest_coding_less_the_coder_state():
    tables = model_tables()
    floor = payload_floor_bits(tables, 100)
    assert floor.shape == (len(tables.cdf_length) + 1,) and floor[-1] == 0
    assert floor[0] == pytest.approx(0.5 * 100 * tables.least_bits().sum() - 64)
    assert np.all(np.diff(floor) <= 0)


def test_decode_polls_its_cancel_check_per_channel():
    tables = model_tables()
    symbols = draw_from_tables(tables, 16, seed=1).reshape(len(tables.cdf_length), 4, 4)
    data = encode_symbols(symbols, tables)
    calls = []
    decode_symbols(data, symbols.shape, tables, cancel=lambda: calls.append(1) and False)
    assert len(calls) == len(tables.cdf_length)
    with pytest.raises(CancelledError):
        decode_symbols(data, symbols.shape, tables, cancel=lambda: len(calls) > 30 or bool(calls.append(1)))
