"""What the window says about a quality in plain words: the explanation panel's paragraphs, the refined
encoder's and the λ band's.

Every number in these sentences is measured (`QualityResult`s), written through `number_format`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lci_studio.codec.bit_maps import busiest_area_share, channels_for_half, latest_by_quality
from lci_studio.codec.ladder import ACTIVE_CHANNEL_BITS, QualityResult
from lci_studio.codec.metrics import METRICS, values_text
from lci_studio.codec.model import FactorizedPrior
from lci_studio.codec.number_format import format_kb, format_percent, format_ratio, format_times

PSNR = METRICS["psnr"]

INTRO_TITLE = "What you are looking at"
INTRO = (
    "A learned image codec is a pair of neural networks, an encoder and a decoder, trained together to "
    "squeeze photos into as few bits as possible while keeping them looking right. This one (the "
    "factorized-prior model of Ballé et al. 2018, which CompressAI calls bmshj2018-factorized) comes in "
    "8 quality levels, each trained separately: from tiny, blurry files (quality 1) to large, faithful "
    "ones (quality 8).",
    "Open an image and the app compresses it at every level, for real: it writes the file, reads it "
    "back and measures the size and the picture quality. Pick a quality to see how many bits it "
    "spends, where in the picture they go, and why.",
)


HOW_IT_WORKS = "How it works"


@dataclass(frozen=True)
class Explanation:
    """Plain-language sentences about one quality level, grouped by topic: first what a viewer sees (the
    size, the ratio, what is lost, where the bits go), then, under `HOW_IT_WORKS`, the model's terms
    (λ, N, M, channels), which a non-programmer only has a reason to read once the first part made them care."""

    title: str
    training: str  # what the quality level is: its λ
    network: str  # what the network makes of the picture: N, M, the latent grid
    channels: str  # how many latent channels carry bits
    size: str  # file size and ratios
    fidelity: str  # how close the picture is, and what is lost
    where: str  # where in the picture the bits go
    comparison: str  # against the neighbouring computed quality ("" when there is none)
    why: str  # why quality controls the file size
    extra: tuple[str, ...] = field(default_factory=tuple)

    def seen(self) -> list[str]:
        """What a viewer sees, in their words."""
        return [p for p in (self.size, self.fidelity, self.where) if p]

    def how_it_works(self) -> list[str]:
        """The model's side: λ, N, M, the channels, the step from the quality below, and why."""
        parts = (self.training, self.network, self.channels, self.comparison, self.why, *self.extra)
        return [p for p in parts if p]

    def paragraphs(self) -> list[str]:
        return [*self.seen(), *self.how_it_works()]

    def text(self) -> str:
        return "\n\n".join([self.title, *self.seen(), HOW_IT_WORKS, *self.how_it_works()])


def _training_sentence(result: QualityResult) -> str:
    info = result.info
    q = info.quality
    if info.lmbda is None:
        return f"Quality {q}: the λ (lambda) it was trained with is not recorded."
    lam = f"{info.lmbda:g}"
    start = (
        f"Quality {q} was trained with λ = {lam}. In training, every bit it wrote had a price and so did "
        f"every error; λ is the exchange rate between the two:"
    )
    if info.metric == "ms-ssim":
        sentence = f"{start} losing 0.01 of MS-SSIM similarity cost as much as {info.lmbda * 0.01:.3g} bits per pixel."
    else:
        sentence = (
            f"{start} making the average squared pixel error (pixels counted 0–255) 1 smaller was worth "
            f"{info.lmbda:.3g} more bits per pixel."
        )
    return sentence + _joint_sentence(info.quality, info.trained_with)


def _joint_sentence(quality: int, trained_with: Sequence[int]) -> str:
    """Says so when a level was not trained on its own, so that "its own model" is not read literally."""
    others = [q for q in trained_with if q != quality]
    if not others:
        return ""
    names = ", ".join(str(q) for q in others[:-1]) + (" and " if len(others) > 1 else "") + str(others[-1])
    level = "quality" if len(others) == 1 else "qualities"
    return (
        f" It was not trained on its own but together with {level} {names}: they share one encoder and one "
        f"decoder, and each level has its own λ, its own scale on every latent channel (which sets how "
        f"coarsely that channel is rounded) and its own entropy model. Its weights file has those scales "
        f"built into the encoder's last layer and the decoder's first, so it runs as a model of its own."
    )


def _network_sentence(result: QualityResult) -> str:
    info = result.info
    h, w = int(result.bit_map.shape[1]), int(result.bit_map.shape[2])
    block = FactorizedPrior.downsampling
    return (
        f"Its encoder (N = {info.N} filters per layer) turns the picture into M = {info.M} channels of numbers: "
        f"one number per channel for every {block} × {block} pixel square ({w} × {h} squares here). Those "
        f"numbers, packed by an entropy coder, are what the file stores."
    )


def _channels_sentence(result: QualityResult) -> str:
    total = result.bits_per_channel.shape[0]
    active = result.active_channels
    half = channels_for_half(result)
    idle = total - active
    if active == total:
        first = f"All {total} of its latent channels carry information."
    elif active == 0:
        first = f"None of its {total} latent channels carries information: every one has collapsed to a constant."
    else:
        first = (
            f"{active} of its {total} latent channels carry information; the other {idle} have collapsed "
            f"to a constant and cost almost nothing (under {ACTIVE_CHANNEL_BITS:g} bits per number)."
        )
    if half == 0:
        return first
    share = "Half of all the bits sit in just" if half * 4 <= total else "Half of all the bits sit in"
    noun = "channel" if half == 1 else "channels"
    return f"{first} {share} {half} {noun}."


def _size_sentence(result: QualityResult) -> str:
    raw_share = 1 / result.ratio_to_raw
    sentence = (
        f"The file is {format_kb(result.file_bytes)} ({result.bpp:.2f} bits per pixel): "
        f"{format_percent(raw_share)} of the raw pixels, a ratio of {format_ratio(result.ratio_to_raw)} against "
        f"storing every pixel as 3 bytes."
    )
    if result.ratio_to_input:
        r = result.ratio_to_input
        if r >= 1.05 or r <= 0.95:  # rounded as every ratio the window shows (format_times)
            sentence += f" It is {format_times(r)} than the file you opened."
        else:
            sentence += " It is about the size of the file you opened."
    return sentence


def _fidelity_sentence(result: QualityResult) -> str:
    identical = "" if math.isnan(result.metric("ms-ssim")) else "; MS-SSIM 1 would be identical"  # when shown
    score = (
        f"The picture it gives back scores {values_text(result.metrics, ', ')} against the original "
        f"(higher is closer{identical})."
    )
    return f"{score} {_loss_sentence(result.psnr)}"


# PSNR (dB) below which what is lost reads as the words beside it; above the last, hard to find at all
LOSS_WORDS = (
    (28.0, "Fine texture (hair, grass, fabric) is smoothed away and edges blur: visible at a glance."),
    (33.0, "Fine texture softens and small detail blurs: visible when you look closely or zoom in."),
    (38.0, "What is lost is hard to see without zooming in: the faintest texture and grain."),
)


def _loss_sentence(psnr: float) -> str:
    """What a viewer loses at this PSNR, in words (a rule of thumb; the difference view, D, shows where)."""
    if not math.isfinite(psnr):
        return "Nothing is lost: the picture comes back identical."
    for below, words in LOSS_WORDS:
        if psnr < below:
            return f"{words} The difference view (D) shows where."
    return "Differences are hard to find even zoomed in; the difference view (D) amplifies them."


def _where_sentence(result: QualityResult) -> str:
    share = busiest_area_share(result)
    if share <= 0:
        return ""
    return (
        f"The bits are not spread evenly: the busiest quarter of the picture takes {format_percent(share)} "
        f"of them, usually the detailed parts (edges, texture) rather than flat ones."
        if share >= 0.35
        else f"The bits are spread fairly evenly: the busiest quarter of the picture takes {format_percent(share)}."
    )


def _comparison_sentence(result: QualityResult, others: Sequence[QualityResult]) -> str:
    lower = [r for r in others if r.quality < result.quality]
    if not lower:
        return ""
    prev = max(lower, key=lambda r: r.quality)
    parts = []
    d_active = result.active_channels - prev.active_channels
    if d_active > 0:
        parts.append(f"keeps {d_active} more channel{'s' if d_active != 1 else ''} awake")
    elif d_active < 0:
        parts.append(f"uses {-d_active} fewer active channel{'s' if d_active != -1 else ''}")
    else:
        parts.append("uses the same number of active channels")
    if prev.file_bytes > 0:
        growth = result.file_bytes / prev.file_bytes - 1
        change = "grows" if growth >= 0 else "shrinks"
        parts.append(
            f"the file {change} by {format_percent(abs(growth))} "
            f"({format_kb(prev.file_bytes)} → {format_kb(result.file_bytes)})"
        )
    if math.isfinite(result.psnr) and math.isfinite(prev.psnr):
        d_psnr = result.psnr - prev.psnr
        parts.append(f"for {abs(d_psnr):{PSNR.spec}} dB {'more' if d_psnr >= 0 else 'less'} PSNR")
    lam = ""
    if result.info.lmbda and prev.info.lmbda:
        lam = f" (λ {result.info.lmbda / prev.info.lmbda:.1f}× higher)"
    sentence = f"Compared with quality {prev.quality}{lam}, it {parts[0]}, " + ", ".join(parts[1:]) + "."
    return sentence + _width_sentence(result, prev)


def _width_sentence(result: QualityResult, prev: QualityResult) -> str:
    """Says so when two levels are networks of different sizes, so that a change in the channel
    count is not read as the work of λ alone (CompressAI's qualities 6-8 are wider, for one)."""
    now, before = result.info, prev.info
    if (now.N, now.M) == (before.N, before.M):
        return ""
    sizes = f"N = {now.N}, M = {now.M} where quality {prev.quality} has N = {before.N}, M = {before.M}"
    if now.M > before.M and now.N >= before.N:
        return f" It is also a wider network ({sizes}): it has {now.M - before.M} more channels to fill."
    return f" It is also a network of another size ({sizes})."


WHY = (
    "Why: a higher quality level was trained with a higher λ, so errors were more expensive than bits. "
    "It then pays the network to wake up more channels and describe finer detail, and every extra "
    "channel costs bits. At low λ bits are the expensive thing: channels switch off and the file shrinks."
)


def explain(result: QualityResult, all_results: Iterable[QualityResult] = ()) -> Explanation:
    """Plain-language account of one quality level, compared with the others computed so far."""
    others = [r for r in latest_by_quality(all_results).values() if r.quality != result.quality]
    return Explanation(
        title=f"Quality {result.quality} of 8",
        training=_training_sentence(result),
        network=_network_sentence(result),
        channels=_channels_sentence(result),
        size=_size_sentence(result),
        fidelity=_fidelity_sentence(result),
        where=_where_sentence(result),
        comparison=_comparison_sentence(result, others),
        why=WHY,
    )


# ------------------------------------------------------------------------------------ the second encoder

REFINED_TITLE = "A second encoder for the same decoder"


def rd_objective(result: QualityResult, lmbda: float | None = None) -> float | None:
    """R + λ·D (bits per pixel + λ·255²·MSE, `refinement.objective`) from the measured bpp and PSNR, at `lmbda`
    or else the λ the level was trained for; None without a λ."""
    lmbda = lmbda if lmbda is not None else result.info.lmbda
    if lmbda is None:
        return None
    mse = 0.0 if math.isinf(result.psnr) else 10 ** (-result.psnr / 10)  # on [0, 1] values
    return result.bpp + lmbda * 255.0**2 * mse


def refined_gain(plain: QualityResult, refined: QualityResult) -> str:
    """One line: what the refined file gives against the plain one ("0.31 dB closer, 1.2 % smaller")."""
    if refined.lci == plain.lci:
        return "no better numbers found: the plain file is kept"
    size = refined.file_bytes / plain.file_bytes - 1
    sized = f"{format_percent(-size)} smaller" if size <= 0 else f"{format_percent(size)} larger"
    dbs = refined.psnr - plain.psnr
    closer = f"{abs(dbs):.2f} dB {'closer' if dbs >= 0 else 'further'}"
    return f"{closer}, {sized}"


def refined_tag(plain: QualityResult, refined: QualityResult) -> str:
    """What a picture's label says of a refined file, beside the quality: "refined +0.41 dB, −0.3% size"; refined
    for another λ than the trained one (the rate slider): "refined for λ 0.025 +0.30 dB, +8.1% size"."""
    target = refined.encoder.lmbda
    name = "refined" if target is None else f"refined for λ {target:.2g}"
    if refined.lci == plain.lci:
        return f"{name}: the plain file kept"
    size = refined.file_bytes / plain.file_bytes - 1
    dbs = refined.psnr - plain.psnr
    return f"{name} {'+' if dbs >= 0 else '−'}{abs(dbs):.2f} dB, {_signed_percent(size)} size"


def refined_paragraphs(plain: QualityResult, refined: QualityResult) -> list[str]:
    """What the refined encoder did to one quality, in plain words, with its measured gain."""
    q = plain.quality
    how = (
        f"Quality {q} was also written by a second, slower encoder ({refined.encoder.describe()}). It uses "
        "the same decoder and the same file format: the same decoder, better numbers chosen for this photo. "
        "The usual encoder is a network that guesses the latent numbers in one pass. The second one starts "
        "from that guess and adjusts the numbers step by step, each time checking how many bits they cost "
        "and how close the decoded picture comes, and keeps the best file it found."
    )
    target, trained = refined.encoder.lmbda, plain.info.lmbda
    if target is not None and trained:
        way = "more bits for a closer picture" if target > trained else "a smaller file for a little less detail"
        how += (
            f" It chose them for λ = {target:.4g} instead of the trained {trained:.4g} ({target / trained:.2f} ×): "
            f"{way}, with the decoder trained for {trained:.4g}."
        )
    if refined.lci == plain.lci:
        outcome = (
            "Here it found nothing better than the first guess, so the file is the plain one: a refined file "
            "is never worse."
        )
    else:
        outcome = (
            f"The refined file is {format_kb(refined.file_bytes)} against {format_kb(plain.file_bytes)} and "
            f"scores {PSNR.text(refined.psnr)} against {PSNR.text(plain.psnr)} "
            f"({refined_gain(plain, refined)}): what the one-pass guess left on the table."
        )
        target = refined.encoder.lmbda
        before, after = rd_objective(plain, target), rd_objective(refined, target)
        measure = f"quality {q} was trained for" if target is None else f"it was refined for (λ = {target:.4g})"
        if before is not None and after is not None and before > 0 and after <= before:
            gain = format_percent(1 - after / before)
            outcome += f" By the measure {measure} (bits + λ × error) it is {gain} better."
    where = (
        f"Any program that decodes quality {q} with these weights reads the refined file. The exports of "
        f"quality {q} (.lci, PNG, copy) now write it, and its tile and the split show it; the split's "
        "'Plain encoder' side (P) puts the plain file's picture beside it."
    )
    return [how, outcome, where]


BANDS_TITLE = "Any size near a level, and why the bands don't meet"


def band_paragraphs(
    plain: QualityResult, reach: Sequence[tuple[float, float]] = (), above: QualityResult | None = None
) -> list[str]:
    """Why one level's file size moves only a little with its λ, in plain words: `reach` is where refining for
    the lowest and the highest λ of its band took this picture ((bpp, PSNR) each, when measured), `above` the
    next quality's result (its size is the gap the band does not bridge)."""
    q = plain.quality
    first = (
        f"Refining takes a λ: the exchange rate between bits and error it optimizes for. Quality {q}'s numbers can "
        f"be chosen for any λ between those of its neighbours, so its file grows or shrinks a little, still "
        "read by the same decoder. The mark in the middle is the λ it was trained for."
    )
    second = (
        "The bands don't meet because the decoder and its probability tables were trained for one λ. Refining "
        "changes only the numbers written into the file: it can trade a little size for a little quality, but it "
        "cannot draw the finer detail the next level's decoder learned, nor describe the picture as coarsely "
        "and cheaply as the level below. The ground between the bands belongs to another trained decoder."
    )
    if len(reach) >= 2 and plain.bpp > 0:
        low, high = reach[0][0] / plain.bpp - 1, reach[-1][0] / plain.bpp - 1
        second += (
            f" On this picture quality {q} reaches {_signed_percent(low)} to {_signed_percent(high)} of its plain "
            "file's size"
        )
        if above is not None:
            second += f", where quality {above.quality} is {_signed_percent(above.bpp / plain.bpp - 1)}"
        second += "."
    return [first, second]


def _signed_percent(share: float) -> str:
    return ("+" if share >= 0 else "−") + format_percent(abs(share))
