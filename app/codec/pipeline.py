"""Image ↔ `.lci` bytes with one loaded model: pad, analyse, quantize, entropy-code, and back.

Large images run the transforms in overlapping tiles: every tile carries a margin wider
than the transform's receptive field and only its centre is kept, so the result matches
a whole-image run (up to float rounding) while memory stays bounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from lci_studio.codec.entropy_coding import CdfTables, EntropyCodingError, decode_symbols, encode_symbols
from lci_studio.codec.lci_format import LciFormatError, LciHeader, centred_padding, pack_lci, unpack_lci
from lci_studio.codec.model import FAMILY, FactorizedPrior, LoadedModel, ModelInfo

TILE = 1024  # input pixels per tile side (a multiple of 16)
TILE_MARGIN = 64  # input pixels of context on each side; the analysis field is ±30 px
LATENT_MARGIN = 4  # latent pixels of context for synthesis; its field is about ±2
_SOURCE_KINDS = {"bundled": "bundled", "compressai": "compressai"}


class WeightsMismatchError(Exception):
    """A `.lci` file was made with other weights than the ones offered for decoding it."""


@dataclass
class EncodedImage:
    lci: bytes
    header: LciHeader
    symbols: np.ndarray  # (M, h, w) int32, what was coded
    bit_map: np.ndarray  # (M, h, w) float32, -log2 p of each latent element under the model


def source_kind(info: ModelInfo) -> str:
    """The header's weight-source code for a model's source label."""
    if info.source in _SOURCE_KINDS:
        return info.source
    return "folder" if not info.source.endswith((".tar", ".pth", ".pt", ".safetensors")) else "file"


def to_tensor(pixels: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].to(torch.float32).div_(255.0)


def to_pixels(x_hat: torch.Tensor) -> np.ndarray:
    """Float (1,3,H,W) → uint8 H×W×3, clamped and rounded."""
    return x_hat[0].clamp(0, 1).mul(255).round_().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def _spans(size: int, tile: int, margin: int):
    """(outer_start, outer_end, inner_start, inner_end) windows covering 0..size."""
    for start in range(0, size, tile):
        end = min(size, start + tile)
        yield max(0, start - margin), min(size, end + margin), start, end


def _transform(layers: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run g_a or g_s on channels-last data: oneDNN's CPU convolutions are 1.5-2× faster on it.

    A fresh copy, because `contiguous` keeps a size-1 batch dimension's stray stride (as `to_tensor`
    makes), which sends every convolution back to the NCHW path.
    """
    return layers(x.clone(memory_format=torch.channels_last))


def analysis(model: FactorizedPrior, x: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """g_a(x), tiled when x is larger than one tile. x: (1,3,H,W) with H, W multiples of 16."""
    _, _, height, width = x.shape
    if height <= tile and width <= tile:
        return _transform(model.g_a, x).contiguous()
    y = torch.empty(1, model.M, height // 16, width // 16)
    for top0, bottom0, top, bottom in _spans(height, tile, TILE_MARGIN):
        for left0, right0, left, right in _spans(width, tile, TILE_MARGIN):
            part = _transform(model.g_a, x[:, :, top0:bottom0, left0:right0])
            y[:, :, top // 16 : bottom // 16, left // 16 : right // 16] = part[
                :, :, (top - top0) // 16 : (bottom - top0) // 16, (left - left0) // 16 : (right - left0) // 16
            ]
    return y


def synthesis(model: FactorizedPrior, y_hat: torch.Tensor, tile: int = TILE) -> torch.Tensor:
    """g_s(y_hat), tiled in latent space when the output is larger than one tile."""
    _, _, lat_h, lat_w = y_hat.shape
    lat_tile = tile // 16
    if lat_h <= lat_tile and lat_w <= lat_tile:
        return _transform(model.g_s, y_hat)
    x_hat = torch.empty(1, 3, lat_h * 16, lat_w * 16, memory_format=torch.channels_last)
    for top0, bottom0, top, bottom in _spans(lat_h, lat_tile, LATENT_MARGIN):
        for left0, right0, left, right in _spans(lat_w, lat_tile, LATENT_MARGIN):
            part = _transform(model.g_s, y_hat[:, :, top0:bottom0, left0:right0])
            x_hat[:, :, top * 16 : bottom * 16, left * 16 : right * 16] = part[
                :, :, (top - top0) * 16 : (bottom - top0) * 16, (left - left0) * 16 : (right - left0) * 16
            ]
    return x_hat


@torch.no_grad()
def latent_bits(model: FactorizedPrior, symbols: torch.Tensor, chunk: int = 16) -> np.ndarray:
    """-log2 p of every latent element under the model's density (M, h, w), a few channels at a time."""
    bottleneck = model.entropy_bottleneck
    values = bottleneck.dequantize(symbols)[0]
    channels, height, width = values.shape
    out = np.empty((channels, height, width), dtype=np.float32)
    for start in range(0, channels, chunk):
        stop = min(channels, start + chunk)
        part = values[start:stop].reshape(stop - start, 1, -1)
        p = bottleneck.bin_likelihood(part, slice(start, stop))
        out[start:stop] = (-torch.log2(p)).reshape(stop - start, height, width).numpy()
    return out


@torch.inference_mode()
def encode_image(loaded: LoadedModel, pixels: np.ndarray, tile: int = TILE, with_bit_map: bool = True) -> EncodedImage:
    """Encode uint8 RGB pixels into a complete `.lci` file."""
    model, info = loaded.model, loaded.info
    height, width = pixels.shape[:2]
    left, right, top, bottom = centred_padding(height, width)
    # Repeating the edge pixels, not zeros: a black frame is a hard edge that costs bits and
    # rings back into the picture (see docs/lci-format.md for what it saved on the eval set).
    x = torch.nn.functional.pad(to_tensor(pixels), (left, right, top, bottom), mode="replicate")
    symbols = model.entropy_bottleneck.quantize_symbols(analysis(model, x, tile))
    coded = symbols[0].numpy()
    payload = encode_symbols(coded, CdfTables.from_bottleneck(model.entropy_bottleneck))
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
    bit_map = latent_bits(model, symbols) if with_bit_map else np.zeros(0, dtype=np.float32)
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
    hint = {"bundled": "--weights bundled", "compressai": f"--weights compressai --metric {header.metric}"}.get(
        header.source_kind, "--weights with the folder or checkpoint it was made with"
    )
    raise WeightsMismatchError(
        f"{needed_weights(header)}, "
        f"but the weights offered are {info.describe()} with fingerprint {info.fingerprint}; decode it with {hint}"
    )


@torch.inference_mode()
def decode_payload(loaded: LoadedModel, header: LciHeader, payload: bytes, tile: int = TILE) -> np.ndarray:
    """Entropy-decode and synthesise; returns uint8 RGB pixels of the original size."""
    check_weights(header, loaded.info)
    model = loaded.model
    tables = CdfTables.from_bottleneck(model.entropy_bottleneck)
    try:
        symbols = decode_symbols(payload, (header.M, header.latent_height, header.latent_width), tables)
    except EntropyCodingError as exc:
        raise LciFormatError(f"the .lci payload is corrupt ({exc})") from None
    y_hat = model.entropy_bottleneck.dequantize(torch.from_numpy(symbols)[None])
    x_hat = synthesis(model, y_hat, tile)
    full = to_pixels(x_hat)
    return full[header.pad_top : header.pad_top + header.height, header.pad_left : header.pad_left + header.width]


def read_header(data: bytes) -> LciHeader:
    return unpack_lci(data)[0]


def decode_lci(data: bytes, loaded: LoadedModel, tile: int = TILE) -> np.ndarray:
    header, payload = unpack_lci(data)
    return decode_payload(loaded, header, payload, tile)
