"""A better encoder for the same decoder: refine one picture's latents for R + λ·D (issue 24).

The plain encoder takes g_a(x), a learned *guess* of the best latents. For one given picture the
latents can be optimized directly, with g_s and the entropy model held fixed (Campos et al. 2019;
Yang, Bamler & Mandt 2020): nothing about the file changes, so every decoder of the same weights
reads it. This module is what the faces use: the `Encoder` (plain, or refined at an effort and for a
λ), the band of λ a level can be refined for, and `refined_encode`, which checks the whole picture
once more from its real file and its real decode, so the result is never worse than plain. The
search itself (Adam on the latents, in tiles) is `latent_search`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.latent_search import METHOD, METHODS, Refinement, refine_symbols
from lci_studio.codec.lci_format import centred_padding
from lci_studio.codec.metrics import METRICS, measure, psnr_rgb, squared_error
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo
from lci_studio.codec.pipeline import (
    EncodedImage,
    analysis,
    decode_lci,
    encode_image,
    latent_bits,
    pack_symbols,
    padded_input,
)

MAX_STEPS = 5000


class RefinementError(ValueError):
    """These weights can't be refined (one sentence, for any face)."""


def _lambda(info: ModelInfo) -> float:
    """The λ these weights were trained for (RefinementError where refinement does not apply)."""
    if info.metric != "mse":
        raise RefinementError(
            f"refinement is built for MSE-trained weights; {info.metric} weights encode only with the plain encoder"
        )
    if info.lmbda is None:
        raise RefinementError(
            "refinement needs the λ these weights were trained for, and this checkpoint does not say it "
            "(name the file after its quality, e.g. q3.pth.tar)"
        )
    return float(info.lmbda)


# ------------------------------------------------------------------------------------------ encoders


@dataclass(frozen=True)
class Effort:
    name: str
    steps: int  # refinement steps per tile; 0 is the plain encoder
    meaning: str
    method: str = METHOD  # how the steps search (`latent_search.METHODS`)


EFFORTS = {
    effort.name: effort
    for effort in (
        Effort("fast", 0, "the plain encoder: g_a's latents as they come"),
        Effort("normal", 50, "50 refinement steps per tile"),
        Effort(
            "best",
            200,
            "normal's 50 steps, then 150 rounds of single-symbol moves, each judged exactly and kept where it helps",
            "polish",
        ),
    )
}
DEFAULT_EFFORT = "fast"


@dataclass(frozen=True)
class Encoder:
    """Which encoder makes a quality's file: the plain one (g_a), or g_a refined at an effort.

    The one value the faces pass around (`lci encode|compare|bench --effort`, the ladder, the
    window); a result records it (`QualityResult.encoder`), so a point on a plot or in a JSON says
    which encoder made it. Same decoder, same file format either way.
    """

    effort: str = DEFAULT_EFFORT
    steps: int = 0
    method: str = METHOD
    seed: int = 0
    precision: str = "auto"  # "auto" (bfloat16 where native), "fp32" or "bf16", for the steps only
    # The λ of R + λ·D the latents are refined for; None: each level's own trained λ. Another λ inside the
    # level's band (`lambda_band`) moves the file's size a little either way with the same decoder: a rate slider.
    lmbda: float | None = None

    @property
    def refines(self) -> bool:
        return self.steps > 0

    @property
    def name(self) -> str:
        """"plain", or "refined" (its effort and steps are fields of their own)."""
        return "refined" if self.refines else "plain"

    def describe(self) -> str:
        if not self.refines:
            return "plain encoder"
        own = EFFORTS[self.effort].method if self.effort in EFFORTS else METHOD
        method = "" if self.method == own else f", {self.method}"
        target = "" if self.lmbda is None else f", for λ={self.lmbda:g}"
        steps = f"{self.steps} step{'' if self.steps == 1 else 's'}"
        return f"refined encoder, effort {self.effort} ({steps}{method}{target})"

    def record(self) -> dict[str, object]:
        """What a JSON document says about the encoder; "lambda" null means each level's own trained λ."""
        return {
            "name": self.name,
            "effort": self.effort,
            "steps": self.steps,
            "method": self.method,
            "seed": self.seed,
            "lambda": self.lmbda,
        }

    def encode(
        self,
        loaded: LoadedModel,
        pixels: np.ndarray,
        cancel: CancelCheck | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> EncodedImage:
        """The `.lci` file of `pixels` by this encoder; `progress(stage, done, total)` hears "encode" tiles and
        "refine" steps."""
        encoding = (lambda done, total: progress("encode", done, total)) if progress else None
        if not self.refines:
            return encode_image(loaded, pixels, with_bit_map=False, cancel=cancel, progress=encoding)
        refining = (lambda done, total: progress("refine", done, total)) if progress else None
        return refined_encode(loaded, pixels, self, cancel, encoding, refining).encoded


PLAIN = Encoder()


def checked_steps(steps: int) -> int:
    """`steps` when a refinement may take that many (0 … MAX_STEPS); ValueError naming the range otherwise."""
    if not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"invalid step count {steps}: choose 0 to {MAX_STEPS}")
    return steps


def checked_lambda(lmbda: float) -> float:
    """`lmbda` when it can be refined for at all (a positive number; the band is checked where the level is known)."""
    if not (math.isfinite(lmbda) and lmbda > 0):
        raise ValueError(f"invalid λ {lmbda!r}: choose a positive number inside the quality's band")
    return lmbda


def encoder_for(
    effort: str = DEFAULT_EFFORT,
    steps: int | None = None,
    method: str | None = None,
    seed: int = 0,
    lmbda: float | None = None,
) -> Encoder:
    """The encoder of an effort level, with its step budget replaced by `steps` when given, refining for
    `lmbda` instead of each level's own λ when given.

    ValueError, naming the allowed values, for an unknown effort or method, a step count out of
    0 … MAX_STEPS, or a λ that is not a positive number or comes without refinement steps. `steps` alone
    (a budget without an effort) refines at that budget. Whether λ is inside a level's band is
    checked where the level is known (`lambda_band`, and again by the refinement itself).
    """
    if effort not in EFFORTS:
        raise ValueError(f"invalid effort {effort!r}: choose {', '.join(EFFORTS)}")
    method = EFFORTS[effort].method if method is None else method
    if method not in METHODS:
        raise ValueError(f"invalid refinement method {method!r}: choose {', '.join(METHODS)}")
    count = EFFORTS[effort].steps if steps is None else checked_steps(steps)
    if lmbda is not None:
        checked_lambda(lmbda)
    if lmbda is not None and not count:
        raise ValueError("refining for another λ needs refinement steps: choose an effort other than fast")
    if not count:
        return Encoder(seed=seed)
    return Encoder("custom" if effort == "fast" else effort, count, method, seed, lmbda=lmbda)


# ------------------------------------------------------------------------------------ λ of a level


@dataclass(frozen=True)
class LambdaBand:
    """The λ one level's latents may be refined for: from the next lower level's trained λ to the next
    higher's (CompressAI's ladder spacing, about 1.9× a level, applied to this level's own λ; the ends
    of the ladder mirror their one neighbour).

    λ weighs distortion against bits, so a larger λ spends more bits on a better picture. The decoder
    of one level only reaches part of the way to its neighbours' sizes (about −10 % to +8 % of the
    bits on a photo, where the next level is +40 %): g_s and the entropy model were trained for one
    λ, and the latents alone can move its output only so far. So neighbouring bands don't meet;
    `band_reach` measures where a picture's band lies.
    """

    quality: int
    trained: float  # the level's own λ
    low: float
    high: float

    def contains(self, lmbda: float) -> bool:
        return self.low * (1 - 1e-9) <= lmbda <= self.high * (1 + 1e-9)

    def check(self, lmbda: float) -> float:
        """`lmbda` when inside the band; RefinementError naming the band otherwise."""
        if not self.contains(lmbda):
            raise RefinementError(
                f"λ {lmbda:g} is outside what quality {self.quality} can be refined for: choose {self.low:.4g} to "
                f"{self.high:.4g} (its own λ is {self.trained:g})"
            )
        return lmbda


def lambda_band(info: ModelInfo) -> LambdaBand:
    """The band of λ a level of MSE-trained weights can be refined for (RefinementError for weights
    refinement does not serve: MS-SSIM-trained, or without a known λ)."""
    own = _lambda(info)
    ladder = LAMBDAS["mse"]
    quality = min(max(info.quality, 1), len(ladder))
    below = ladder[quality - 2] / ladder[quality - 1] if quality > 1 else ladder[0] / ladder[1]
    above = ladder[quality] / ladder[quality - 1] if quality < len(ladder) else ladder[-1] / ladder[-2]
    return LambdaBand(info.quality, own, own * below, own * above)


def target_lambda(info: ModelInfo, encoder: Encoder) -> float:
    """The λ `encoder` refines a level's latents for: its own, or the encoder's (checked against the band)."""
    return _lambda(info) if encoder.lmbda is None else lambda_band(info).check(encoder.lmbda)


@dataclass(frozen=True)
class BandPoint:
    """One picture refined by one level for one λ: where it lands (from the real file and its decode), on every
    axis a plot offers: the real and the estimated bpp, every metric of `metrics.METRICS`."""

    lmbda: float
    bpp: float
    psnr: float
    kept_plain: bool  # refinement did not lower R + λ·D at this λ: the plain file's point
    bpp_estimated: float = math.nan  # from the model's likelihoods of the symbols written
    metrics: Mapping[str, float] = dataclasses.field(default_factory=dict)  # key → value, psnr included

    def metric(self, key: str) -> float:
        """The metric's value, NaN when it was not measured."""
        return self.metrics.get(key, math.nan)


def band_reach(
    loaded: LoadedModel,
    pixels: np.ndarray,
    encoder: Encoder,
    lambdas: tuple[float, ...] | None = None,
    cancel: CancelCheck | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[BandPoint]:
    """Where `pixels` lands when `loaded`'s level is refined by `encoder` for each of `lambdas` (default:
    the two ends of its band): the reachable band a plot draws. `progress(steps done, steps in all)`."""
    if not encoder.refines:
        raise ValueError("a band is reached by refinement: give an encoder with refinement steps")
    band = lambda_band(loaded.info)
    targets = (band.low, band.high) if lambdas is None else tuple(band.check(value) for value in lambdas)
    points = []
    for index, value in enumerate(targets):

        def steps(done: int, total: int, base: int = index) -> None:
            if progress is not None:
                progress(base * total + done, len(targets) * total)

        refined = refined_encode(loaded, pixels, dataclasses.replace(encoder, lmbda=value), cancel, refining=steps)
        points.append(_band_point(loaded, pixels, value, refined, cancel))
    return points


def _band_point(
    loaded: LoadedModel, pixels: np.ndarray, lmbda: float, refined: RefinedImage, cancel: CancelCheck | None
) -> BandPoint:
    """Where a refined file lands on every axis: its real and estimated bpp, each metric of the table measured
    on its real decode (the one `refined_encode` judged it by)."""
    count = pixels.shape[0] * pixels.shape[1]
    encoded = refined.encoded
    bits = latent_bits(loaded.model, torch.from_numpy(encoded.symbols)[None], cancel=cancel)
    values = measure(pixels, refined.decoded, METRICS, cancel)
    bpp = len(encoded.lci) * 8 / count
    return BandPoint(lmbda, bpp, refined.psnr, refined.kept_plain, float(bits.sum()) / count, values)


# ----------------------------------------------------------------------------------- whole pictures


@dataclass
class RefinedImage:
    """A refined encode, with the plain one it was judged against (exact numbers from the real files)."""

    encoded: EncodedImage  # the file written: refined, or plain where refinement did not help
    kept_plain: bool
    plain_objective: float  # bpp + λ·255²·MSE of the plain file and of the one returned, at the λ refined for
    objective: float
    refinement: Refinement
    psnr: float  # PSNR-RGB of the returned file's real decode
    decoded: np.ndarray  # that decode (H×W×3 uint8), for a caller that measures more than PSNR


def objective(lmbda: float, file_bytes: int, pixels: np.ndarray, decoded: np.ndarray) -> float:
    """R + λ·D as the ladder was trained for it: bits per pixel of the real file + λ·255²·MSE of the real decode."""
    height, width = pixels.shape[:2]
    mse = squared_error(pixels, decoded) / pixels.size / 255.0**2
    return file_bytes * 8 / (height * width) + lmbda * 255.0**2 * mse


def refined_encode(
    loaded: LoadedModel,
    pixels: np.ndarray,
    encoder: Encoder,
    cancel: CancelCheck | None = None,
    encoding: Callable[[int, int], None] | None = None,
    refining: Callable[[int, int], None] | None = None,
    tile: int | None = None,
) -> RefinedImage:
    """Encode `pixels` with latents refined for `encoder`'s λ (the level's own unless it names one); the
    plain file when refinement did not lower R + λ·D at that λ.

    Both files are decoded by the real decode path and measured, so the result is never worse than
    plain by the true objective (file bytes, the 8-bit decode's MSE).
    """
    lmbda = target_lambda(loaded.info, encoder)
    model = loaded.model
    height, width = pixels.shape[:2]
    padding = centred_padding(height, width)
    left, _, top, _ = padding
    with torch.inference_mode():
        x = padded_input(pixels, padding, cancel)
        y = analysis(model, x, cancel=cancel, progress=encoding)
    plain = pack_symbols(loaded, model.entropy_bottleneck.quantize_symbols(y), width, height, padding, cancel)
    picture = (top, left, height, width)
    refinement = refine_symbols(loaded, x, pixels, picture, encoder, lmbda, y, tile, cancel, refining)
    del x, y  # the decodes below need their memory on a large picture

    def judged(encoded: EncodedImage) -> tuple[float, float, np.ndarray]:
        """R + λ·D and PSNR of a file from its real bytes, and its real decode."""
        decoded = decode_lci(encoded.lci, loaded, cancel=cancel)
        return objective(lmbda, len(encoded.lci), pixels, decoded), psnr_rgb(pixels, decoded), decoded

    plain_objective, plain_psnr, plain_decoded = judged(plain)
    kept = RefinedImage(plain, True, plain_objective, plain_objective, refinement, plain_psnr, plain_decoded)
    if all(t.kept_plain for t in refinement.tiles):
        return kept
    refined = pack_symbols(loaded, refinement.symbols, width, height, padding, cancel)
    value, psnr, decoded = judged(refined)
    stop_if_cancelled(cancel)
    if value >= plain_objective:
        return kept
    return RefinedImage(refined, False, plain_objective, value, refinement, psnr, decoded)
