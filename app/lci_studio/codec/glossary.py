"""The words the window uses, in plain language: the Help ▸ Glossary page and the tooltips.

One entry per term, written for someone who has never read a compression paper. The window's
tooltips take their text from here, so the glossary and the tooltips never disagree. The metrics'
entries come from their table (`metrics.METRICS`: `Metric.glossary` and `Metric.short`).
"""

from __future__ import annotations

from lci_studio.codec.metrics import METRICS
from lci_studio.codec.number_format import format_ratio

# The terms other than the metrics (which `terms` puts after bpp).
GLOSSARY: dict[str, str] = {
    "bpp": (
        "Bits per pixel: how many bits the file spends on each pixel, on average. The file's size "
        "in bits divided by the number of pixels. An uncompressed photo uses 24 (8 each for red, "
        "green and blue); 0.5 bpp is 48 times smaller. Lower is a smaller file."
    ),
    "λ (lambda)": (
        "The trade-off each quality level was trained with: how much the network was punished for "
        "errors compared with file size. A small λ gives small files with visible flaws; a large λ "
        "gives faithful pictures in bigger files. Each quality level is the same network trained "
        "with its own λ."
    ),
    "N": (
        "The width of the network's inner layers (how many feature maps each layer computes). "
        "More is a bigger, slower network that can describe more."
    ),
    "M": (
        "The number of latent channels: the separate 'layers of description' the encoder writes "
        "for every 16 × 16 block of the picture. At low qualities many channels stay silent and "
        "cost almost nothing; the heatmap shows which ones carry bits."
    ),
    "ratio": (
        "How many times smaller the file is than something else, written like 47:1. Against raw, "
        "it compares with storing every pixel as 3 bytes (24 bpp, so the ratio is 24 ÷ bpp); "
        "against the original file, with the file you opened. Ratios are rounded the same way "
        f"everywhere: whole numbers from 10:1 up ({format_ratio(93.4)}), one decimal below ({format_ratio(9.46)})."
    ),
    "quality": (
        "One of the 8 settings of the learned codec, 1 (smallest file) to 8 (most faithful). Each "
        "is its own trained model; the tiles show all eight side by side."
    ),
    "refined encoder": (
        "A second, slower way to write the same kind of file: the same decoder, better numbers chosen for "
        "this photo. The usual encoder is a network that guesses, in one pass, the numbers (latents) the "
        "decoder turns back into the picture. Refining starts from that guess and improves the numbers for "
        "this one photo step by step, each time checking the bits they cost and how close the decoded "
        "picture comes. The decoder and the file format stay the same, so every decoder of the same weights "
        "reads the file. Effort normal takes 50 steps, best 200 (about four times as long); where no step "
        "finds anything better the first guess is kept, so a refined file is never worse. On the plot its "
        "points are stars beside the plain encoder's."
    ),
    "λ band": (
        "How far one quality's file can move with its own decoder: refining can choose the numbers for any λ "
        "between the neighbouring qualities' λ, trading a little size for a little quality (the Any size tab's "
        "slider). The decoder and its probability tables stay those trained for the level's own λ, so the file "
        "moves only a few per cent either way while the next quality is tens of per cent larger: the bands of "
        "neighbouring levels don't meet, and only another trained decoder covers the ground between them."
    ),
    "difference view": (
        "The error between two pictures made visible: black where they are identical, brighter "
        "where they differ, multiplied by the gain so small errors show. The legend under it says "
        "which error a given brightness means."
    ),
}


# One line each, for tooltips on numbers (the full entries are in GLOSSARY); the metrics' in their table.
SHORT: dict[str, str] = {
    "bpp": "bpp: bits per pixel, the file's size per pixel (24 = uncompressed; lower is smaller)",
    "kB": "kB: the file's size in kilobytes (1 kB = 1000 bytes)",
    "%": "% of …: the file's size as a share of the original file (or of the raw pixels)",
    "ratio": "47:1: the file is 47 times smaller (against raw: 24 bpp ÷ the file's bpp)",
}


def caption_tip(caption: str) -> str:
    """A tooltip for a caption: the caption, then one line for each measure it shows."""
    shorts = {**{key: SHORT[key] for key in ("bpp", "kB", "%")}, **{m.name: m.short for m in METRICS.values()}}
    lines = [line for key, line in shorts.items() if key in caption]
    return caption.strip() + ("\n\n" + "\n".join(lines) if lines else "") + "\n(Help ▸ Glossary says more)"


def glossary_html() -> str:
    """The glossary as one HTML page (term in bold, then its explanation)."""
    rows = "".join(
        f"<dt><b>{term}</b></dt><dd style='margin-bottom:8px'>{text}</dd>"
        for term, text in terms().items()
    )
    return f"<h3>What the words mean</h3><dl>{rows}</dl>"


def terms() -> dict[str, str]:
    """Every term's entry in the glossary's order: bpp, each metric of the table, then the rest."""
    first, *rest = GLOSSARY.items()
    return dict([first, *((metric.name, metric.glossary) for metric in METRICS.values()), *rest])


def tip(term: str) -> str:
    """A term's entry, for a tooltip."""
    return terms()[term]
