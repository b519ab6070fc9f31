"""Lossless coding of integer latents with the model's 16-bit CDF tables (rANS via constriction).

Each channel's symbols are coded with that channel's categorical distribution. A value
outside the channel's table is coded as the escape symbol followed by its exact value in
4-bit nibbles (a count, then the nibbles), as CompressAI does, so nothing is ever clamped.
Decoding order is channel by channel: the channel's symbols, then its escapes; the ANS
coder is a stack, so encoding walks the same sequence backwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import constriction
import numpy as np

_NIBBLE = 15
_MAX_NIBBLES = 9  # enough for any int32 escape value; bounds a decoder fed garbage
_UNIFORM16 = constriction.stream.model.Uniform(16)


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


def encode_symbols(symbols: np.ndarray, tables: CdfTables) -> bytes:
    """Code int symbols of shape (C, H, W) into a little-endian uint32 word stream."""
    coder = constriction.stream.stack.AnsCoder()
    for channel in range(symbols.shape[0] - 1, -1, -1):
        index, raw = _split(symbols[channel].ravel(), tables, channel)
        if raw.size:
            coder.encode_reverse(_escape_nibbles(raw), _UNIFORM16)
        coder.encode_reverse(index, tables.model(channel))
    return coder.get_compressed().astype("<u4").tobytes()


def decode_symbols(data: bytes, shape: tuple[int, int, int], tables: CdfTables) -> np.ndarray:
    """Inverse of `encode_symbols`: exactly the integers that were encoded."""
    channels, height, width = shape
    if channels != len(tables.cdf_length):
        raise EntropyCodingError(f"latent has {channels} channels but the model has {len(tables.cdf_length)}")
    if len(data) % 4:
        raise EntropyCodingError("payload length is not a whole number of 32-bit words")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    out = np.empty((channels, height * width), dtype=np.int32)
    try:
        coder = constriction.stream.stack.AnsCoder(words)
        for channel in range(channels):
            index = coder.decode(tables.model(channel), height * width).astype(np.int64)
            escape = int(tables.cdf_length[channel]) - 2
            values = index.copy()
            for position in np.flatnonzero(index == escape):
                raw = _decode_escape(coder)
                values[position] = escape + (raw >> 1) if raw % 2 == 0 else -(raw >> 1) - 1
            out[channel] = values + tables.offset[channel]
    except EntropyCodingError:
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
    return raw


def ideal_bits(symbols: np.ndarray, tables: CdfTables) -> float:
    """Σ -log2 p over the quantized tables, escapes at 4 bits a nibble: the size a perfect coder reaches."""
    total = 0.0
    for channel in range(symbols.shape[0]):
        index, raw = _split(symbols[channel].ravel(), tables, channel)
        freqs = tables.frequencies(channel).astype(np.float64)
        total += float(np.sum(-np.log2(freqs[index] / 65536.0)))
        total += 4.0 * len(_escape_nibbles(raw))
    return total
