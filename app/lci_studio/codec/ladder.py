"""Run every quality level on one image and report what each costs and gives.

`encode_ladder` is the one place where a full measurement happens (encode → bytes →
decode → metrics); the CLI, the benchmark and the window all consume its results.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lci_studio.codec import metrics as metrics_table
from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.cancel import CancelledError as CancelledError  # what encode_ladder raises on cancel
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.lci_format import LciHeader
from lci_studio.codec.model import ModelInfo
from lci_studio.codec.pipeline import decode_lci, latent_bits
from lci_studio.codec.refinement import PLAIN, Encoder

# A channel "carries information" when it spends more than this share of a bit per element.
ACTIVE_CHANNEL_BITS = 0.01


@dataclass
class QualityResult:
    """Everything measured for one quality level on one image."""

    info: ModelInfo
    lci: bytes
    reconstruction: np.ndarray  # H×W×3 uint8, decoded from `lci`
    bpp: float  # real: file bytes (header included) × 8 / pixels
    bpp_estimated: float  # from the model's likelihoods
    metrics: dict[str, float]  # by `metrics.METRICS` key; an on-demand one absent until measured (`with_metrics`)
    encode_seconds: float
    decode_seconds: float
    ratio_to_raw: float  # raw 24-bit RGB bytes / file bytes
    ratio_to_input: float | None  # input file bytes / file bytes
    bits_per_channel: np.ndarray  # (M,) Σ -log2 p of each latent channel
    bit_map: np.ndarray  # (M, h, w) -log2 p per latent element
    header: LciHeader  # what the encoder wrote at the head of `lci` (where the picture sits in the padding)
    encoder: Encoder = PLAIN  # which encoder chose the latents (plain g_a, or refined at an effort)

    @property
    def quality(self) -> int:
        return self.info.quality

    @property
    def file_bytes(self) -> int:
        return len(self.lci)

    @property
    def psnr(self) -> float:
        """PSNR-RGB, measured with every result (what the tiles, BD-PSNR and the explanation speak of)."""
        return self.metrics["psnr"]

    def metric(self, key: str) -> float:
        """The metric's value, NaN while it is not measured."""
        return self.metrics.get(key, math.nan)

    @property
    def active_channels(self) -> int:
        elements = self.bit_map.shape[1] * self.bit_map.shape[2]
        return int(np.sum(self.bits_per_channel / max(elements, 1) > ACTIVE_CHANNEL_BITS))


# ("encode" | "decode", tiles done, tiles in all), or ("refine", steps done, steps in all) for a refined encoder
StageProgress = Callable[[str, int, int], None]


def reconstruct_quality(
    loaded,
    image: RgbImage,
    cancel: CancelCheck | None = None,
    progress: StageProgress | None = None,
    encoder: Encoder = PLAIN,
) -> QualityResult:
    """Encode with `encoder`, decode from the bytes and measure one quality level, all but the on-demand metrics.

    What a picture needs before it can be shown: the window draws it at once and measures
    the on-demand metrics (MS-SSIM…) later, only when they are shown (`with_metrics`). `cancel` is polled all along;
    `progress` hears each transform tile (what a big picture's faces show while it works).
    """
    pixels = image.pixels
    decoding = (lambda done, total: progress("decode", done, total)) if progress else None
    started = time.perf_counter()
    encoded = encoder.encode(loaded, pixels, cancel, progress)
    encode_seconds = time.perf_counter() - started
    started = time.perf_counter()
    reconstruction = decode_lci(encoded.lci, loaded, cancel=cancel, progress=decoding)
    decode_seconds = time.perf_counter() - started
    # The bit map is analysis for display, measured outside the timed encode (a few % of it).
    bit_map = latent_bits(loaded.model, torch.from_numpy(encoded.symbols)[None], cancel=cancel)
    stop_if_cancelled(cancel)
    measured = metrics_table.measure(pixels, reconstruction, metrics_table.always_measured(), cancel)
    stop_if_cancelled(cancel)  # PSNR takes a few tenths of a second on a big picture under load
    pixel_count = image.width * image.height
    size = len(encoded.lci)
    return QualityResult(
        info=loaded.info,
        lci=encoded.lci,
        reconstruction=reconstruction,
        bpp=size * 8 / pixel_count,
        bpp_estimated=float(bit_map.sum()) / pixel_count,
        metrics=measured,
        encode_seconds=encode_seconds,
        decode_seconds=decode_seconds,
        ratio_to_raw=pixel_count * 3 / size,
        ratio_to_input=(image.source_bytes / size) if image.source_bytes else None,
        bits_per_channel=bit_map.reshape(bit_map.shape[0], -1).sum(axis=1).astype(np.float64),
        bit_map=bit_map,
        header=encoded.header,
        encoder=encoder,
    )


def with_metrics(
    result: QualityResult, pixels: np.ndarray, keys: Iterable[str] | None = None, cancel: CancelCheck | None = None
) -> QualityResult:
    """`result` with the metrics `keys` (default: every one) measured against the original `pixels` where
    missing (a new object; `result` is left as it is)."""
    lacking = metrics_table.missing(result.metrics, keys)
    if not lacking:
        return result
    measured = metrics_table.measure(pixels, result.reconstruction, lacking, cancel)
    return dataclasses.replace(result, metrics={**result.metrics, **measured})


def measure_quality(
    loaded,
    image: RgbImage,
    cancel: CancelCheck | None = None,
    progress: StageProgress | None = None,
    encoder: Encoder = PLAIN,
) -> QualityResult:
    """Encode with `encoder`, decode from the bytes, and measure one quality level, every metric included."""
    return with_metrics(reconstruct_quality(loaded, image, cancel, progress, encoder), image.pixels, cancel=cancel)


def encode_ladder(
    image: RgbImage,
    source,
    qualities: Iterable[int] | None = None,
    should_cancel: Callable[[], bool] = lambda: False,
    *,
    on_demand: bool = True,
    progress: Callable[[int, str, int, int], None] | None = None,
    encoder: Encoder = PLAIN,
) -> Iterator[QualityResult]:
    """Yield each quality's result as soon as it is done; when cancelled, stop even inside a quality.

    `on_demand=False` leaves the on-demand metrics (MS-SSIM…) unmeasured, for a face that measures them later.
    `progress(quality, stage, done, in all)` follows each quality tile by tile (and step by step
    while `encoder` refines). Every quality is encoded by `encoder`.
    """
    measure = measure_quality if on_demand else reconstruct_quality
    for quality in source.qualities() if qualities is None else qualities:
        stop_if_cancelled(should_cancel)
        loaded = source.load(quality)
        stop_if_cancelled(should_cancel)
        tiles = (lambda stage, done, total, q=quality: progress(q, stage, done, total)) if progress else None
        yield measure(loaded, image, should_cancel, tiles, encoder)
