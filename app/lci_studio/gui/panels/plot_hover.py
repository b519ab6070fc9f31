"""What hovering a point of the rate-distortion plot says: its series, size, every measured metric.

Plain text, no Qt: the plot only places it beside the point (and `RdPlot.hover_text_at` returns it to tests).
"""

from __future__ import annotations

import math

from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.number_format import format_kb


def metrics_text(item: QualityResult | BaselinePoint) -> str:
    """Each measured metric in the table's order ("PSNR 31.20 dB   MS-SSIM 0.9712 (15.4 dB)")."""
    parts = []
    for key, metric in METRICS.items():
        value = item.metric(key)
        if not math.isnan(value):
            parts.append(metric.text(value) + ("" if metric.to_db is None else f" ({metric.db(value):.1f} dB)"))
    return "   ".join(parts)


def hover_text(series: str, source: QualityResult | BaselinePoint, encoder_note: str = "") -> str:
    """A learned point (`series` its curve's name, `encoder_note` the refined encoder's line) or a classical one."""
    if isinstance(source, QualityResult):
        encoder = f"\n{encoder_note}" if encoder_note else ""
        return (
            f"{series}  quality {source.quality}\n"
            f"{source.bpp:.3f} bpp real, {source.bpp_estimated:.3f} estimated\n"
            f"{metrics_text(source)}\n"
            f"{format_kb(source.file_bytes)}{encoder}"
        )
    return (
        f"{source.codec} quality setting {source.setting}\n"
        f"{source.bpp:.3f} bpp\n"
        f"{metrics_text(source)}\n"
        f"{format_kb(source.file_bytes)}"
    )
