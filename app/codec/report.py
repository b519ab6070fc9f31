"""Rate-distortion data as text: CompressAI-style JSON and a flat CSV, shared by the window and the CLI.

No Qt here. `rd_json` returns the shape CompressAI's evaluation writes (and its plot script
reads): ``{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim-rgb",
"encoding_time", "decoding_time"}}``, one list entry per quality in increasing quality.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence

from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.ladder import QualityResult

CSV_COLUMNS = (
    "codec",
    "quality",
    "setting",
    "metric",
    "lambda",
    "N",
    "M",
    "bpp",
    "bpp_estimated",
    "psnr_db",
    "ms_ssim",
    "file_bytes",
    "ratio_to_raw",
    "ratio_to_input",
    "encode_seconds",
    "decode_seconds",
    "active_channels",
    "weights",
    "fingerprint",
)


def _by_quality(results: Iterable[QualityResult]) -> list[QualityResult]:
    latest: dict[int, QualityResult] = {}
    for result in results:
        latest[result.quality] = result
    return [latest[q] for q in sorted(latest)]


def _number(value: float) -> float | None:
    """JSON has no infinity or NaN: an identical reconstruction's PSNR is written as null."""
    return None if value is None or not math.isfinite(value) else float(value)


def rd_json(
    results: Iterable[QualityResult], name: str = "bmshj2018-factorized", description: str | None = None
) -> dict:
    """RD points of a ladder in CompressAI's results shape (a dict ready for `json.dumps`)."""
    ordered = _by_quality(results)
    if description is None:
        if ordered:
            info = ordered[0].info
            description = f"LCI Studio, {info.metric} weights from {info.source}, qualities " + ", ".join(
                str(r.quality) for r in ordered
            )
        else:
            description = "LCI Studio (no results)"
    return {
        "name": name,
        "description": description,
        "results": {
            "bpp": [float(r.bpp) for r in ordered],
            "psnr-rgb": [_number(r.psnr) for r in ordered],
            "ms-ssim-rgb": [_number(r.ms_ssim) for r in ordered],
            "encoding_time": [float(r.encode_seconds) for r in ordered],
            "decoding_time": [float(r.decode_seconds) for r in ordered],
        },
    }


def rd_json_text(
    results: Iterable[QualityResult], name: str = "bmshj2018-factorized", description: str | None = None
) -> str:
    return json.dumps(rd_json(results, name, description), indent=2) + "\n"


def _fmt(value: float | int | None, digits: int = 6) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "inf"
    if math.isnan(value):
        return ""
    return f"{value:.{digits}g}"


def rd_csv(results: Iterable[QualityResult], baselines: Sequence[BaselinePoint] = ()) -> str:
    """One row per quality with every measured number, then one row per classical-codec point."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in _by_quality(results):
        info = r.info
        writer.writerow(
            [
                "LCI",
                r.quality,
                "",
                info.metric,
                _fmt(info.lmbda),
                info.N,
                info.M,
                _fmt(r.bpp),
                _fmt(r.bpp_estimated),
                _fmt(r.psnr),
                _fmt(r.ms_ssim),
                r.file_bytes,
                _fmt(r.ratio_to_raw),
                _fmt(r.ratio_to_input),
                _fmt(r.encode_seconds),
                _fmt(r.decode_seconds),
                r.active_channels,
                info.source,
                info.fingerprint,
            ]
        )
    for p in baselines:
        writer.writerow(
            [
                p.codec,
                "",
                p.setting,
                "",
                "",
                "",
                "",
                _fmt(p.bpp),
                "",
                _fmt(p.psnr),
                _fmt(p.ms_ssim),
                p.file_bytes,
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return buffer.getvalue()
