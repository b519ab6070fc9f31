"""The one place numbers are written for people: sizes, bits per pixel, ratios, shares, curve names (a
metric's value: `metrics.Metric.text`, its table row's precision and unit).

The window's captions, the explanations and `lci encode`/`lci info` all write numbers through these, so a
size or a ratio reads the same wherever it appears.
"""

from __future__ import annotations


def format_kb(size_bytes: float) -> str:
    """File size in kilobytes (1 kB = 1000 bytes), e.g. "12.3 kB"; under a kilobyte in bytes ("53 bytes":
    a 1×1 picture's 3 raw bytes read "0 kB")."""
    if size_bytes < 999.5:
        return f"{size_bytes:.0f} bytes"
    kb = size_bytes / 1000
    return f"{kb:.1f} kB" if kb < 100 else f"{kb:,.0f} kB"


def format_bpp(bpp: float) -> str:
    """Bits per pixel with as many decimals as say something: "0.364 bpp", "12.4 bpp", "424 bpp" (a 1×1
    picture's file is mostly header); the window's captions and `lci encode`/`lci info` spell it alike."""
    decimals = 3 if bpp < 10 else 1 if bpp < 100 else 0
    return f"{bpp:.{decimals}f} bpp"


def _ratio_number(ratio: float) -> str:
    """The one rounding of a ratio: whole from ten up, one decimal below."""
    return f"{ratio:.0f}" if ratio >= 10 else f"{ratio:.1f}"


def format_ratio(ratio: float) -> str:
    """A compression ratio as "47:1" (or "3.2:1" below ten)."""
    return f"{_ratio_number(ratio)}:1"


def format_times(ratio: float) -> str:
    """A compression ratio as a reader says it: "62× smaller"; a file larger than what it is compared with
    (a 1×1 picture's header alone is 18 times its 3 raw bytes) is "18× larger", never "0.1× smaller"."""
    if ratio >= 1:
        return f"{_ratio_number(ratio)}× smaller"
    return f"{_ratio_number(1 / ratio)}× larger" if ratio > 0 else "larger"


def format_percent(share: float) -> str:
    """A share in [0, 1] as a percentage with sensible precision: "2.1%", "35%"."""
    pct = share * 100
    if pct >= 10:
        return f"{pct:.0f}%"
    if pct >= 0.1:
        return f"{pct:.1f}%"
    return f"{pct:.2f}%"


def model_label(source: str, metric: str) -> str:
    """Legend name of a learned-codec curve: "LCI (bundled)", "LCI (compressai, ms-ssim)"."""
    name = source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or source
    return f"LCI ({name})" if metric == "mse" else f"LCI ({name}, {metric})"
