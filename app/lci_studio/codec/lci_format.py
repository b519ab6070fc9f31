"""The `.lci` file format, version 2 (byte layout documented in docs/lci-format.md).

A file names the exact weights that made it (family, metric, quality, N, M and a
fingerprint of the weights), so it is never silently decoded with other weights; a CRC-32
over everything catches corruption before any decoding is attempted.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

MAGIC = b"LCI\x1a"
VERSION = 2  # what this program writes; it reads every version in PAD_MULTIPLES
FAMILIES = ("bmshj2018-factorized",)
METRIC_CODES = ("mse", "ms-ssim")
SOURCE_KINDS = ("bundled", "compressai", "folder", "file")

# magic, version, family, metric, quality, source kind, N, M, fingerprint,
# width, height, pad left, pad top, latent height, latent width, payload length
_HEADER = struct.Struct(">4sBBBBBHH8sIIHHHHI")
HEADER_SIZE = _HEADER.size
CRC_SIZE = 4
# The picture is padded, centred, to a multiple of this many pixels. Version 1 padded to 64
# as CompressAI's evaluation does; the factorized prior needs only its own downsampling (16),
# and every padded pixel costs bits, so version 2 pads to 16. The layout is otherwise the same.
PAD_MULTIPLES = {1: 64, 2: 16}
PAD_MULTIPLE = PAD_MULTIPLES[VERSION]
MAX_PIXELS = 1 << 28  # 268 megapixels: a bound on what a (crafted) header can make us allocate


class LciFormatError(Exception):
    """The bytes are not a valid `.lci` file: truncated, corrupt, foreign or of an unsupported version."""


@dataclass(frozen=True)
class LciHeader:
    family: str
    metric: str
    quality: int
    source_kind: str
    N: int
    M: int
    fingerprint: str  # 16 hex digits
    width: int
    height: int
    pad_left: int
    pad_top: int
    latent_height: int
    latent_width: int
    version: int = VERSION

    @property
    def padded_size(self) -> tuple[int, int]:
        return self.latent_height * 16, self.latent_width * 16

    def describe(self) -> str:
        return (
            f"{self.family} {self.metric} quality {self.quality} (N={self.N}, M={self.M}), "
            f"{self.source_kind} weights {self.fingerprint}; image {self.width}×{self.height}, "
            f"latent {self.M}×{self.latent_height}×{self.latent_width}"
        )


def centred_padding(height: int, width: int, multiple: int = PAD_MULTIPLE) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding up to a multiple, centred like CompressAI."""
    full_h = -(-height // multiple) * multiple
    full_w = -(-width // multiple) * multiple
    left, top = (full_w - width) // 2, (full_h - height) // 2
    return left, full_w - width - left, top, full_h - height - top


def pack_lci(header: LciHeader, payload: bytes) -> bytes:
    """Header + payload + CRC-32 of both."""
    if header.version not in PAD_MULTIPLES:
        raise ValueError(f"there is no .lci version {header.version}")
    try:
        head = _HEADER.pack(
            MAGIC, header.version, FAMILIES.index(header.family), METRIC_CODES.index(header.metric), header.quality,
            SOURCE_KINDS.index(header.source_kind), header.N, header.M, bytes.fromhex(header.fingerprint),
            header.width, header.height, header.pad_left, header.pad_top, header.latent_height, header.latent_width,
            len(payload),
        )
    except (struct.error, ValueError) as exc:
        raise ValueError(f"header does not fit the .lci v{header.version} layout: {exc}") from None
    body = head + payload
    return body + struct.pack(">I", zlib.crc32(body))


def unpack_lci(data: bytes) -> tuple[LciHeader, bytes]:
    """Parse and verify a whole file; raise LciFormatError with a one-sentence reason."""
    if len(data) < len(MAGIC) or data[: len(MAGIC)] != MAGIC:
        raise LciFormatError("not an .lci file (the file does not start with the LCI signature)")
    if len(data) < 5:
        raise LciFormatError("the .lci file is truncated (it ends inside the header)")
    version = data[4]
    if version not in PAD_MULTIPLES:
        readable = " and ".join(str(v) for v in PAD_MULTIPLES)
        raise LciFormatError(f"unsupported .lci version {version} (this program reads versions {readable})")
    if len(data) < HEADER_SIZE + CRC_SIZE:
        raise LciFormatError("the .lci file is truncated (it ends inside the header)")
    fields = _HEADER.unpack_from(data)
    payload_length = fields[-1]
    expected = HEADER_SIZE + payload_length + CRC_SIZE
    if len(data) < expected:
        raise LciFormatError(f"the .lci file is truncated ({len(data)} of {expected} bytes)")
    if len(data) > expected:
        raise LciFormatError(f"the .lci file has {len(data) - expected} unexpected bytes after its end")
    (crc,) = struct.unpack_from(">I", data, expected - CRC_SIZE)
    if zlib.crc32(data[: expected - CRC_SIZE]) != crc:
        raise LciFormatError("the .lci file is corrupt (checksum mismatch)")
    (_, _, family, metric, quality, source, N, M, fingerprint) = fields[:9]
    (width, height, pad_left, pad_top, lat_h, lat_w) = fields[9:15]
    if family >= len(FAMILIES) or metric >= len(METRIC_CODES) or source >= len(SOURCE_KINDS):
        raise LciFormatError("the .lci header names an unknown model family, metric or weight source")
    header = LciHeader(
        FAMILIES[family], METRIC_CODES[metric], quality, SOURCE_KINDS[source], N, M, fingerprint.hex(),
        width, height, pad_left, pad_top, lat_h, lat_w, version,
    )
    if not (1 <= quality <= 8 and N > 0 and M > 0 and width > 0 and height > 0):
        raise LciFormatError("the .lci header holds impossible values")
    if width * height > MAX_PIXELS:
        raise LciFormatError(f"the .lci header claims {width}×{height} pixels, more than this program decodes")
    left, right, top, bottom = centred_padding(height, width, PAD_MULTIPLES[version])
    if header.padded_size != (height + top + bottom, width + left + right) or (pad_left, pad_top) != (left, top):
        raise LciFormatError("the .lci header's image size does not fit its latent size")
    return header, data[HEADER_SIZE : HEADER_SIZE + payload_length]
