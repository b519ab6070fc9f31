"""Lossless coding of integer latents with the model's 16-bit CDF tables (rANS via constriction).

Each channel's symbols are coded with that channel's categorical distribution. A value
outside the channel's table is coded as the escape symbol followed by its exact value in
4-bit nibbles (a count, then the nibbles), as CompressAI does, so nothing is ever clamped.
Decoding order is channel by channel: the channel's symbols, then its escapes; the ANS
coder is a stack, so encoding walks the same sequence backwards.

A stream is decoded only when it can honestly hold the latent it is said to hold: every symbol
costs at least -log2 of its channel's most probable bin, so a payload shorter than that floor is
refused before anything is allocated, and again whenever the bits left fall below what the
channels still to come need; and it must end exactly with the last symbol (docs/lci-format.md,
"Limits").
"""

from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np
import torch

from lci_studio.codec.cancel import CancelCheck, CancelledError, stop_if_cancelled

_NIBBLE = 15
_MAX_NIBBLES = 9  # enough for any int32 escape value; bounds a decoder fed garbage
_UNIFORM16 = constriction.stream.model.Uniform(16)
_CDF_TOTAL = 1 << 16
# A payload must hold at least this share of the bits its symbols cost at the least (the rest is
# room for how constriction's 24-bit models round the 16-bit tables), less the coder's final state.
FLOOR_SHARE = 0.5
FLOOR_SLACK_BITS = 64
_ESCAPES_PER_CANCEL_CHECK = 4096
_INT32 = np.iinfo(np.int32)


class EntropyCodingError(ValueError):
    """The payload does not decode under the given tables."""


@dataclass(frozen=True)
class CdfTables:
    """The integer CDF tables of a model, as numpy arrays (CompressAI's buffer layout)."""

    cdf: np.ndarray  # (C, Lmax+2) int32, each row 0 … 65536 then zero padding
    cdf_length: np.ndarray  # (C,) int32 = pmf length + 2 (the last real bin is the escape)
    offset: np.ndarray  # (C,) int32: symbol value of bin 0

    @classmethod
    def from_bottleneck(cls, bottleneck) -> CdfTables:
        return cls(
            bottleneck._quantized_cdf.cpu().numpy().astype(np.int64),
            bottleneck._cdf_length.cpu().numpy().astype(np.int64),
            bottleneck._offset.cpu().numpy().astype(np.int64),
        )

    def frequencies(self, channel: int) -> np.ndarray:
        row = self.cdf[channel, : self.cdf_length[channel]]
        return np.diff(row)

    def model(self, channel: int):
        return constriction.stream.model.Categorical(self.frequencies(channel).astype(np.float64), perfect=False)

    def check(self) -> None:
        """Raise ValueError unless these are coding tables as CompressAI builds them.

        Every row rises strictly from 0 to 65536 (each bin, the escape included, has a
        frequency), is at least one bin and the escape long, and its offset puts the median
        (symbol 0) inside the row; a table that breaks this is damaged, not merely different.
        """
        cdf, length, offset = self.cdf, self.cdf_length, self.offset
        if cdf.ndim != 2 or length.shape != (cdf.shape[0],) or offset.shape != (cdf.shape[0],):
            raise ValueError(f"CDF tables of mismatched shapes {cdf.shape}, {length.shape}, {offset.shape}")
        for channel in range(cdf.shape[0]):
            n = int(length[channel])
            if not 3 <= n <= cdf.shape[1]:
                raise ValueError(f"channel {channel}'s CDF length {n} is outside 3…{cdf.shape[1]}")
            row = cdf[channel, :n]
            if row[0] != 0 or row[-1] != _CDF_TOTAL or not np.all(np.diff(row) > 0):
                raise ValueError(f"channel {channel}'s CDF does not rise strictly from 0 to {_CDF_TOTAL}")
            if not -(n - 3) <= int(offset[channel]) <= 0:
                raise ValueError(f"channel {channel}'s offset {int(offset[channel])} puts its median outside its table")

    def least_bits(self) -> np.ndarray:
        """(C,) the fewest bits one symbol of each channel can cost: -log2 of its most probable bin."""
        return np.array(
            [-np.log2(self.frequencies(c).max() / _CDF_TOTAL) for c in range(len(self.cdf_length))], dtype=np.float64
        )


def payload_floor_bits(tables: CdfTables, positions: int) -> np.ndarray:
    """(C+1,) entry c: the fewest payload bits that can still hold channels c, c+1, … of a latent.

    `positions` is h·w, the symbols per channel. An empty coder codes bin 0 for free (its state
    stays 0), so trailing channels whose likeliest bin (or median) is bin 0 may cost nothing.
    """
    least = tables.least_bits() * positions
    free = (tables.offset == 0) | np.array([tables.frequencies(c).argmax() == 0 for c in range(len(least))])
    for channel in range(len(least) - 1, -1, -1):
        if not free[channel]:
            break
        least[channel] = 0.0
    suffix = np.concatenate([np.cumsum(least[::-1])[::-1], [0.0]])
    return np.maximum(FLOOR_SHARE * suffix - FLOOR_SLACK_BITS, 0.0)


def _escape_nibbles(raw: np.ndarray) -> np.ndarray:
    """Nibble sequence for a list of non-negative escape values: count (in 15-steps), then nibbles."""
    out: list[int] = []
    for value in raw.tolist():
        count = 0
        while (value >> (4 * count)) != 0:
            count += 1
        rest = count
        while rest >= _NIBBLE:
            out.append(_NIBBLE)
            rest -= _NIBBLE
        out.append(rest)
        out.extend((value >> (4 * j)) & 15 for j in range(count))
    return np.asarray(out, dtype=np.int32)


def _split(symbols: np.ndarray, tables: CdfTables, channel: int) -> tuple[np.ndarray, np.ndarray]:
    """(bin index per symbol, raw escape values) of one channel."""
    values = symbols.astype(np.int64) - tables.offset[channel]
    escape = int(tables.cdf_length[channel]) - 2
    low, high = values < 0, values >= escape
    raw = np.where(low, -2 * values - 1, 2 * (values - escape))[low | high]
    index = np.where(low | high, escape, values).astype(np.int32)
    return index, raw


def encode_symbols(symbols: np.ndarray, tables: CdfTables, cancel: CancelCheck | None = None) -> bytes:
    """Code int symbols of shape (C, H, W) into a little-endian uint32 word stream."""
    coder = constriction.stream.stack.AnsCoder()
    for channel in range(symbols.shape[0] - 1, -1, -1):
        stop_if_cancelled(cancel)
        index, raw = _split(symbols[channel].ravel(), tables, channel)
        if raw.size:
            coder.encode_reverse(_escape_nibbles(raw), _UNIFORM16)
        coder.encode_reverse(index, tables.model(channel))
    return coder.get_compressed().astype("<u4").tobytes()


def decode_symbols(
    data: bytes, shape: tuple[int, int, int], tables: CdfTables, cancel: CancelCheck | None = None
) -> np.ndarray:
    """Inverse of `encode_symbols`: exactly the integers that were encoded.

    Refuses (EntropyCodingError) a stream too short for the latent, before allocating it and
    whenever too few bits are left for the channels to come, and one with words left over.
    """
    channels, height, width = shape
    if channels != len(tables.cdf_length):
        raise EntropyCodingError(f"latent has {channels} channels but the model has {len(tables.cdf_length)}")
    if len(data) % 4:
        raise EntropyCodingError("payload length is not a whole number of 32-bit words")
    floor = payload_floor_bits(tables, height * width)
    if len(data) * 8 < floor[0]:
        raise EntropyCodingError(
            f"{len(data)} bytes cannot hold a {channels}×{height}×{width} latent, which needs at least "
            f"{-(-int(floor[0]) // 8)} bytes with these weights"
        )
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    out = np.empty((channels, height * width), dtype=np.int32)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        for channel in range(channels):
            stop_if_cancelled(cancel)
            if coder.num_valid_bits() < floor[channel]:
                raise EntropyCodingError(f"the stream ends before the latent does (in channel {channel} of {channels})")
            index = coder.decode(tables.model(channel), height * width).astype(np.int64)
            escape = int(tables.cdf_length[channel]) - 2
            values = index.copy()
            for count, position in enumerate(np.flatnonzero(index == escape)):
                if count % _ESCAPES_PER_CANCEL_CHECK == _ESCAPES_PER_CANCEL_CHECK - 1:
                    stop_if_cancelled(cancel)
                raw = _decode_escape(coder)
                values[position] = escape + (raw >> 1) if raw % 2 == 0 else -(raw >> 1) - 1
            values += tables.offset[channel]
            if values.size and not (_INT32.min <= values.min() and values.max() <= _INT32.max):
                raise EntropyCodingError("escape value is outside the int32 range of a latent")
            out[channel] = values
        if not coder.is_empty():
            raise EntropyCodingError(f"{coder.num_valid_bits()} bits of the stream are left after the last symbol")
    except (EntropyCodingError, CancelledError):
        raise
    except Exception as exc:  # constriction reports corrupt streams with assorted errors
        raise EntropyCodingError(f"payload does not decode: {exc}") from None
    return out.reshape(channels, height, width)


def _decode_escape(coder) -> int:
    count = 0
    while True:
        nibble = int(coder.decode(_UNIFORM16))
        count += nibble
        if nibble != _NIBBLE:
            break
        if count > _MAX_NIBBLES:
            raise EntropyCodingError("escape value is longer than any int32")
    if count > _MAX_NIBBLES:
        raise EntropyCodingError("escape value is longer than any int32")
    raw = 0
    for j in range(count):
        raw |= int(coder.decode(_UNIFORM16)) << (4 * j)
    if count and raw >> (4 * (count - 1)) == 0:
        raise EntropyCodingError("escape value is not written in its fewest nibbles")
    return raw


class SymbolCost:
    """Bits of integer symbols under a model's CDF tables, as the entropy coder spends them.

    A symbol in its channel's table costs -log2 of its frequency / 65536; one outside costs the
    escape bin plus its nibbles (docs/lci-format.md). The coder's own rounding adds a few bits per file.
    """

    def __init__(self, tables: CdfTables) -> None:
        channels = tables.cdf.shape[0]
        width = int(tables.cdf_length.max()) - 1
        cost = np.full((channels, width), np.inf)
        escape = np.zeros(channels)
        for c in range(channels):
            freqs = tables.frequencies(c).astype(np.float64)
            bits = -np.log2(freqs / 65536.0)
            cost[c, : len(bits) - 1] = bits[:-1]
            escape[c] = bits[-1]
        self.cost = torch.from_numpy(cost)
        self.escape = torch.from_numpy(escape)
        self.offset = torch.from_numpy(tables.offset.astype(np.int64))
        self.bins = torch.from_numpy(tables.cdf_length.astype(np.int64) - 2)  # the escape's bin

    def bits(self, symbols: torch.Tensor) -> torch.Tensor:
        """Bits of each symbol, (1, C, h, w) int → float64 of the same shape."""
        channels = symbols.shape[1]
        index = symbols.long() - self.offset.reshape(1, channels, 1, 1)
        bins = self.bins.reshape(1, channels, 1, 1)
        inside = (index >= 0) & (index < bins)
        flat = index.clamp(min=0).minimum(bins - 1).permute(1, 0, 2, 3).reshape(channels, -1)
        bits = torch.gather(self.cost, 1, flat).reshape(channels, *symbols.shape[:1], *symbols.shape[2:])
        bits = bits.permute(1, 0, 2, 3)
        if bool(inside.all()):
            return bits
        raw = torch.where(index < 0, -2 * index - 1, 2 * (index - bins))
        nibbles = torch.zeros_like(raw)
        rest = raw.clone()
        while bool((rest > 0).any()):
            nibbles += (rest > 0).long()
            rest >>= 4
        escaped = self.escape.reshape(1, channels, 1, 1) + 4.0 * (nibbles // _NIBBLE + 1 + nibbles)
        return torch.where(inside, bits, escaped)

    def total(self, symbols: torch.Tensor) -> float:
        return float(self.bits(symbols).sum())
