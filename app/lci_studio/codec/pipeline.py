"""Image ↔ `.lci` bytes with one loaded model: pad, analyse, quantize, entropy-code, and back.

Large images run the transforms in overlapping tiles: every tile carries a margin wider
than the transform's receptive field and only its centre is kept, so the result matches
a whole-image run (up to float rounding) while memory stays bounded. Pictures up to `WHOLE`
pixels a side run in one piece (no margins to pay); larger ones in `TILE`-pixel tiles, small
enough that one layer of one tile keeps a cancel check waiting only a few tenths of a second.

Encoding and decoding take an optional cancel check, polled between tiles, between the layers
of each transform and between entropy-coded channels, so a Stop or a closed window ends even
one quality of a large picture promptly (`CancelledError`); and an optional progress callback
that counts the transform's tiles, for pictures large enough to take a while.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.entropy_coding import CdfTables, EntropyCodingError, decode_symbols, encode_symbols
from lci_studio.codec.lci_format import LciFormatError, LciHeader, centred_padding, pack_lci, unpack_lci
from lci_studio.codec.model import FAMILY, FactorizedPrior, LoadedModel, ModelInfo

WHOLE = 1024  # a padded picture with both sides within this runs in one piece (a multiple of 16)
# Input pixels per tile side of a larger picture (a multiple of 16). Small enough that no torch layer,
# which nothing can interrupt, keeps a Stop waiting long: at 1024 a layer ran 0.9-1.4 s under load, at
# 512 0.2-0.3 s. With margins just over the transforms' fields (not twice them, as before) the tiles
# cost no more per pixel than 1024-pixel ones did (docs/results.md, "Stop latency").
TILE = 512
TILE_MARGIN = 32  # input pixels of context on each side; a latent pixel sees 30 px before its block, 15 after
LATENT_MARGIN = 2  # latent pixels of context for synthesis; a block of output sees 1 latent pixel before, 2 after
# Pixels per band of the conversions before and after the transforms, and latent elements per chunk of
# the bit map, with a cancel poll between them: whole, each held a Stop 0.7-2 s on a 25 MP photo under load.
BAND_PIXELS = 1 << 20
BIT_MAP_ELEMENTS = 1 << 18
# The bit map looks each element up in a table of its channel's values when the latent has at least
# this many elements per value in its range (`latent_bits`); far outliers make it evaluate each element.
BIT_TABLE_SPAN = 4
_SOURCE_KINDS = {"bundled": "bundled", "compressai": "compressai"}

TileProgress = Callable[[int, int], None]  # (tiles done, tiles in all) of one transform


class WeightsMismatchError(Exception):
    """A `.lci` file was made with other weights than the ones offered for decoding it.

    `header` names the weights the file needs and `offered` the model that was refused (None
    when no model was tried), so each face can say in its own terms where to get the right ones.
    """

    def __init__(self, message: str, header: LciHeader | None = None, offered: ModelInfo | None = None) -> None:
        super().__init__(message)
        self.header = header
        self.offered = offered


@dataclass
class EncodedImage:
    lci: bytes
    header: LciHeader
    symbols: np.ndarray  # (M, h, w) int32, what was coded
    bit_map: np.ndarray  # (M, h, w) float32, -log2 p of each latent element under the model


def source_kind(info: ModelInfo) -> str:
    """The header's weight-source kind: the one its `WeightSource` has (a model made by hand, without one,
    is a single file unless its source names the bundled or official ladder)."""
    return info.kind or _SOURCE_KINDS.get(info.source, "file")


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].to(torch.float32).div_(255.0)


def to_pixels(x_hat: torch.Tensor) -> np.ndarray:
    """Float (1,3,H,W) → uint8 H×W×3, clamped and rounded."""
    return x_hat[0].clamp(0, 1).mul(255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def padded_input(
    pixels: np.ndarray, padding: tuple[int, int, int, int], cancel: CancelCheck | None = None
) -> torch.Tensor:
    """`to_tensor(pixels)` with its edge pixels repeated out to (left, right, top, bottom) padding.

    The same values as `pad(to_tensor(pixels), mode="replicate")`, made `BAND_PIXELS` at a time with
    `cancel` polled between bands, and channels-last as the transforms take it.
    """
    left, right, top, bottom = padding
    height, width = pixels.shape[:2]
    x = torch.empty(1, 3, top + height + bottom, left + width + right, memory_format=torch.channels_last)
    rows = max(1, BAND_PIXELS // max(1, width))
    for start in range(0, height, rows):
        stop_if_cancelled(cancel)
        band = x[:, :, top + start : top + min(height, start + rows)]
        band[:, :, :, left : left + width] = to_tensor(pixels[start : start + rows])
        band[:, :, :, :left] = band[:, :, :, left : left + 1]
        band[:, :, :, left + width :] = band[:, :, :, left + width - 1 : left + width]
    x[:, :, :top] = x[:, :, top : top + 1]
    x[:, :, top + height :] = x[:, :, top + height - 1 : top + height]
    return x


def cropped_pixels(x_hat: torch.Tensor, header: LciHeader, cancel: CancelCheck | None = None) -> np.ndarray:
    """`to_pixels` of the picture inside the padding the header declares, `BAND_PIXELS` at a time."""
    height, width, top, left = header.height, header.width, header.pad_top, header.pad_left
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, BAND_PIXELS // max(1, width))
    for start in range(0, height, rows):
        stop_if_cancelled(cancel)
        stop = min(height, start + rows)
        out[start:stop] = to_pixels(x_hat[:, :, top + start : top + stop, left : left + width])
    return out


def _spans(size: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(outer_start, outer_end, inner_start, inner_end) windows covering 0..size."""
    return [
        (max(0, start - margin), min(size, min(size, start + tile) + margin), start, min(size, start + tile))
        for start in range(0, size, tile)
    ]


def _transform(layers: torch.nn.Module, x: torch.Tensor, cancel: CancelCheck | None = None) -> torch.Tensor:
    """Run g_a or g_s on channels-last data: oneDNN's CPU convolutions are 1.5-2× faster on it.

    A fresh copy, because `contiguous` keeps a size-1 batch dimension's stray stride (as `to_tensor`
    makes), which sends every convolution back to the NCHW path. `cancel` is polled before each layer
    and between the bands of rows each GDN runs in (`layers.GDN`).
    """
    return layers(x.clone(memory_format=torch.channels_last), poll=lambda: stop_if_cancelled(cancel))


def _tiles(
    height: int, width: int, tile: int, margin: int, progress: TileProgress | None
) -> list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]]:
    """The (row span, column span) pairs of a tiled transform; reports 0 of them done."""
    tiles = [(rows, cols) for rows in _spans(height, tile, margin) for cols in _spans(width, tile, margin)]
    if progress is not None:
        progress(0, len(tiles))
    return tiles


def tile_side(height: int, width: int, tile: int | None = None) -> int:
    """The tile side for a padded picture of height×width: `tile` when given, else one piece up to `WHOLE`, else `TILE`.

    Read at call time, so that a bench can try other tile sizes by setting the module's constants.
    """
    if tile is not None:
        return tile
    return max(height, width) if height <= WHOLE and width <= WHOLE else TILE


def analysis(
    model: FactorizedPrior,
    x: torch.Tensor,
    tile: int | None = None,
    cancel: CancelCheck | None = None,
    progress: TileProgress | None = None,
) -> torch.Tensor:
    """g_a(x), tiled when x is larger than one tile (`tile_side`). x: (1,3,H,W) with H, W multiples of 16."""
    _, _, height, width = x.shape
    tile = tile_side(height, width, tile)
    if height <= tile and width <= tile:
        y = _transform(model.g_a, x, cancel).contiguous()
        if progress is not None:
            progress(1, 1)
        return y
    y = torch.empty(1, model.M, height // 16, width // 16)
    tiles = _tiles(height, width, tile, TILE_MARGIN, progress)
    for done, ((top0, bottom0, top, bottom), (left0, right0, left, right)) in enumerate(tiles, 1):
        part = _transform(model.g_a, x[:, :, top0:bottom0, left0:right0], cancel)
        y[:, :, top // 16 : bottom // 16, left // 16 : right // 16] = part[
            :, :, (top - top0) // 16 : (bottom - top0) // 16, (left - left0) // 16 : (right - left0) // 16
        ]
        if progress is not None:
            progress(done, len(tiles))
    return y


def synthesis(
    model: FactorizedPrior,
    y_hat: torch.Tensor,
    tile: int | None = None,
    cancel: CancelCheck | None = None,
    progress: TileProgress | None = None,
) -> torch.Tensor:
    """g_s(y_hat), tiled in latent space when the output is larger than one tile (`tile_side`)."""
    _, _, lat_h, lat_w = y_hat.shape
    lat_tile = tile_side(lat_h * 16, lat_w * 16, tile) // 16
    if lat_h <= lat_tile and lat_w <= lat_tile:
        x_hat = _transform(model.g_s, y_hat, cancel)
        if progress is not None:
            progress(1, 1)
        return x_hat
    x_hat = torch.empty(1, 3, lat_h * 16, lat_w * 16, memory_format=torch.channels_last)
    tiles = _tiles(lat_h, lat_w, lat_tile, LATENT_MARGIN, progress)
    for done, ((top0, bottom0, top, bottom), (left0, right0, left, right)) in enumerate(tiles, 1):
        part = _transform(model.g_s, y_hat[:, :, top0:bottom0, left0:right0], cancel)
        x_hat[:, :, top * 16 : bottom * 16, left * 16 : right * 16] = part[
            :, :, (top - top0) * 16 : (bottom - top0) * 16, (left - left0) * 16 : (right - left0) * 16
        ]
        if progress is not None:
            progress(done, len(tiles))
    return x_hat


@torch.no_grad()
def latent_bits(
    model: FactorizedPrior, symbols: torch.Tensor, chunk: int = 16, cancel: CancelCheck | None = None
) -> np.ndarray:
    """-log2 p of every latent element under the model's density (M, h, w), a few channels at a time.

    At most `chunk` channels and `BIT_MAP_ELEMENTS` elements (at least one channel) between two polls.
    A symbol's probability depends only on its channel and value, so when the latent's range of
    values is small against its size (as it is: a 768×512 picture's spans a few dozen values), the
    density is evaluated once per channel and value and looked up for each element (the same
    numbers; ~12k evaluations instead of ~300k there, 0.05-0.15 s → a few ms per quality).
    """
    bottleneck = model.entropy_bottleneck
    values = bottleneck.dequantize(symbols)[0]
    channels, height, width = values.shape
    chunk = max(1, min(chunk, BIT_MAP_ELEMENTS // max(1, height * width)))
    out = np.empty((channels, height, width), dtype=np.float32)
    low = int(symbols.min()) if symbols.numel() else 0
    span = int(symbols.max()) - low + 1 if symbols.numel() else 0
    table = None
    if 0 < span * BIT_TABLE_SPAN <= height * width:  # a few ms: no poll of its own
        every = torch.arange(low, low + span, dtype=torch.int32).expand(1, channels, 1, span)
        table = -torch.log2(bottleneck.bin_likelihood(bottleneck.dequantize(every)[0]))[:, 0]  # (M, span)
    for start in range(0, channels, chunk):
        stop_if_cancelled(cancel)
        stop = min(channels, start + chunk)
        if table is not None:
            index = (symbols[0, start:stop] - low).long().reshape(stop - start, -1)
            out[start:stop] = torch.gather(table[start:stop], 1, index).reshape(stop - start, height, width).numpy()
            continue
        part = values[start:stop].reshape(stop - start, 1, -1)
        p = bottleneck.bin_likelihood(part, slice(start, stop))
        out[start:stop] = (-torch.log2(p)).reshape(stop - start, height, width).numpy()
    return out


@torch.inference_mode()
def encode_image(
    loaded: LoadedModel,
    pixels: np.ndarray,
    tile: int | None = None,
    with_bit_map: bool = True,
    cancel: CancelCheck | None = None,
    progress: TileProgress | None = None,
) -> EncodedImage:
    """Encode uint8 RGB pixels into a complete `.lci` file."""
    model = loaded.model
    height, width = pixels.shape[:2]
    left, right, top, bottom = centred_padding(height, width)
    # Repeating the edge pixels, not zeros: a black frame is a hard edge that costs bits and
    # rings back into the picture (see docs/lci-format.md for what it saved on the eval set).
    x = padded_input(pixels, (left, right, top, bottom), cancel)
    symbols = model.entropy_bottleneck.quantize_symbols(analysis(model, x, tile, cancel, progress))
    return pack_symbols(loaded, symbols, width, height, (left, right, top, bottom), cancel, with_bit_map)


def pack_symbols(
    loaded: LoadedModel,
    symbols: torch.Tensor,
    width: int,
    height: int,
    padding: tuple[int, int, int, int],
    cancel: CancelCheck | None = None,
    with_bit_map: bool = False,
) -> EncodedImage:
    """Entropy-code integer symbols (1, M, h, w) of a picture of width×height, padded by (left, right, top,
    bottom), into a complete `.lci` file: what every encoder writes, whichever chose the symbols."""
    model, info = loaded.model, loaded.info
    left, _, top, _ = padding
    coded = symbols[0].numpy()
    payload = encode_symbols(coded, CdfTables.from_bottleneck(model.entropy_bottleneck), cancel)
    header = LciHeader(
        FAMILY,
        info.metric,
        info.quality,
        source_kind(info),
        info.N,
        info.M,
        info.fingerprint,
        width,
        height,
        left,
        top,
        coded.shape[1],
        coded.shape[2],
    )
    bit_map = latent_bits(model, symbols, cancel=cancel) if with_bit_map else np.zeros(0, dtype=np.float32)
    return EncodedImage(pack_lci(header, payload), header, coded, bit_map)


def needed_weights(header: LciHeader) -> str:
    """The sentence start that names the weights a file was made with, for every mismatch error."""
    return (
        f"this file needs {header.family} {header.metric} quality {header.quality} weights "
        f"(N={header.N}, M={header.M}, fingerprint {header.fingerprint}, {header.source_kind})"
    )


def check_weights(header: LciHeader, info: ModelInfo) -> None:
    """Refuse to decode with other weights than the file names, saying which weights it needs."""
    if (header.metric, header.quality, header.N, header.M, header.fingerprint) == (
        info.metric,
        info.quality,
        info.N,
        info.M,
        info.fingerprint,
    ):
        return
    raise WeightsMismatchError(
        f"{needed_weights(header)}, but the weights offered are {info.describe()} with fingerprint {info.fingerprint}",
        header,
        info,
    )


@torch.inference_mode()
def decode_payload(
    loaded: LoadedModel,
    header: LciHeader,
    payload: bytes,
    tile: int | None = None,
    cancel: CancelCheck | None = None,
    progress: TileProgress | None = None,
) -> np.ndarray:
    """Entropy-decode and synthesise; returns uint8 RGB pixels of the original size.

    A payload too short for the latent its header declares, or one with words left over, is
    refused (LciFormatError) before the picture's memory is allocated (docs/lci-format.md, "Limits").
    """
    check_weights(header, loaded.info)
    model = loaded.model
    tables = CdfTables.from_bottleneck(model.entropy_bottleneck)
    try:
        symbols = decode_symbols(payload, (header.M, header.latent_height, header.latent_width), tables, cancel)
    except EntropyCodingError as exc:
        raise LciFormatError(f"the .lci payload is corrupt ({exc})") from None
    y_hat = model.entropy_bottleneck.dequantize(torch.from_numpy(symbols)[None])
    x_hat = synthesis(model, y_hat, tile, cancel, progress)
    return cropped_pixels(x_hat, header, cancel)


def read_header(data: bytes) -> LciHeader:
    return unpack_lci(data)[0]


def decode_lci(
    data: bytes,
    loaded: LoadedModel,
    tile: int | None = None,
    cancel: CancelCheck | None = None,
    progress: TileProgress | None = None,
) -> np.ndarray:
    header, payload = unpack_lci(data)
    return decode_payload(loaded, header, payload, tile, cancel, progress)
