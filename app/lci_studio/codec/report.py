"""Rate-distortion data as text: the one CompressAI-style JSON writer, CSV, and how numbers are spelled.

No Qt here. Every JSON document LCI Studio writes (`lci compare --json`, `lci bench --json`,
the window's Export JSON, the bundle manifest) goes through `json_text`, and every curve in
it through `curve_json`, the shape CompressAI's evaluation writes (and its plot script
reads): ``{"name", "description", "results": {"bpp", "psnr-rgb", "ms-ssim-rgb", …,
"encoding_time", "decoding_time"}}`` (a list per metric of `metrics.METRICS`, under its JSON key),
one list entry per point in increasing quality.

Non-finite numbers have one spelling each way: `finite` turns them into JSON null (JSON has
no infinity; an identical reconstruction's PSNR is infinite), `number_text` writes "inf" in
tables and CSV (what `float()` reads back). To add an export format, add a function here
that takes the same inputs as `comparison_json`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lci_studio.codec.baselines import BaselinePoint
from lci_studio.codec.bdrate import bracket
from lci_studio.codec.comparison import BenchSummary, Curve, by_codec, compare_results, latest_by_quality
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.model import FAMILY

# The CSV's columns; each metric's (`Metric.column`: "psnr_db", "ms_ssim", …) come after bpp_estimated.
CSV_HEAD = ("codec", "quality", "setting", "metric", "lambda", "N", "M", "bpp", "bpp_estimated")
CSV_TAIL = (
    "file_bytes",
    "ratio_to_raw",
    "ratio_to_input",
    "encode_seconds",
    "decode_seconds",
    "active_channels",
    "weights",
    "fingerprint",
    "encoder",
    "effort",
    "steps",
    # a refined row's `Encoder.record` beyond the three above (empty for the plain encoder): appended, so the
    # columns before them stay where they were
    "method",
    "seed",
    "encoder_lambda",
)


def csv_columns() -> tuple[str, ...]:
    """The CSV's header row: the fixed columns with one per metric of the table between them."""
    return (*CSV_HEAD, *(metric.column for metric in METRICS.values()), *CSV_TAIL)


def metric_lists(values: Callable[[str], Iterable[float]]) -> dict[str, list[float | None]]:
    """Each metric's list under its JSON key, from `values(key)` (non-finite and unmeasured: null)."""
    return {metric.json_key: [finite(v) for v in values(key)] for key, metric in METRICS.items()}


def finite(value: float | None) -> float | None:
    """A number as JSON may hold it: non-finite values (an identical reconstruction's PSNR) become null."""
    return None if value is None or not math.isfinite(value) else float(value)


def number_text(value: float, spec: str = ".6g") -> str:
    """A number for a table or CSV cell: `format(value, spec)`, with "inf", "-inf" or "nan" where not finite."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return format(value, spec)


def json_text(document: dict[str, Any]) -> str:
    """The one serialization: indented, newline-terminated, and refusing NaN/Infinity tokens."""
    return json.dumps(document, indent=2, allow_nan=False) + "\n"


def curve_json(name: str, description: str, curve: Curve, times: bool = True) -> dict[str, Any]:
    """One curve in CompressAI's `results/image/<dataset>/*.json` shape."""
    results: dict[str, list[float | None]] = {"bpp": [float(v) for v in curve.bpp], **metric_lists(curve.values)}
    if times:
        results["encoding_time"] = [float(v) for v in curve.encode_seconds]
        results["decoding_time"] = [float(v) for v in curve.decode_seconds]
    return {"name": name, "description": description, "results": results}


def encoder_record(results: Sequence[QualityResult]) -> dict[str, Any] | None:
    """The encoder that made a ladder's files (`refinement.Encoder.record`): name, effort, steps; None for
    no results. A ladder whose qualities were made by different encoders lists each quality's in its details
    and is recorded here as "mixed"."""
    encoders = {r.encoder for r in results}
    if not encoders:
        return None
    if len(encoders) == 1:
        return next(iter(encoders)).record()
    return {"name": "mixed", "effort": None, "steps": None}


def shown_baselines(
    results: Iterable[QualityResult], baselines: Iterable[BaselinePoint]
) -> dict[str, list[BaselinePoint]]:
    """Per codec, the points that bracket the ladder's bpp range (what tables, CSV and JSON list)."""
    bpps = [r.bpp for r in latest_by_quality(results)]
    grouped = by_codec(baselines)
    if not bpps:
        return grouped
    low, high = min(bpps), max(bpps)
    return {codec: bracket(points, low, high, key=lambda p: p.bpp) for codec, points in grouped.items()}


def comparison_json(
    results: Iterable[QualityResult],
    baselines: Iterable[BaselinePoint],
    image: RgbImage | None,
    weights: str,
    name: str = FAMILY,
) -> dict[str, Any]:
    """The document of `lci compare --json` and the window's Export JSON: one image, the ladder, the codecs.

    `results` are the ladder's results on `image` (any order; the latest per quality counts),
    `baselines` every classical-codec point measured on it (`baselines.sweep`), `weights` the
    weight source's description. The ladder is CompressAI's shape at the top level; each codec's
    points that bracket the ladder's bpp range are listed, and BD figures use its whole sweep.
    """
    ordered = latest_by_quality(results)
    points = list(baselines)
    ladder = Curve.of_results(ordered)
    grouped = by_codec(points)
    comparisons = compare_results(ladder, {codec: Curve.of_points(ps) for codec, ps in grouped.items()})
    where = image.name if image is not None else "an .lci file"
    document = curve_json(name, f"LCI Studio, {weights}, on {where}", ladder)
    if image is not None:
        document["image"] = {
            "name": image.name,
            "width": image.width,
            "height": image.height,
            "bytes": image.source_bytes,
        }
    document["qualities"] = ladder.points
    document["encoder"] = encoder_record(ordered)
    document["details"] = [
        {
            "quality": r.quality,
            "bpp_estimated": r.bpp_estimated,
            "file_bytes": r.file_bytes,
            "ratio_to_raw": r.ratio_to_raw,
            "active_channels": r.active_channels,
            "lambda": r.info.lmbda,
            "N": r.info.N,
            "M": r.info.M,
            "fingerprint": r.info.fingerprint,
            "encoder": r.encoder.name,
            "effort": r.encoder.effort,
            "steps": r.encoder.steps,
        }
        for r in ordered
    ]
    document["baselines"] = {
        codec: {
            "name": codec,
            "description": f"Pillow {codec}, settings bracketing the ladder's bpp range",
            "settings": [p.setting for p in shown],
            "results": {
                "bpp": [p.bpp for p in shown],
                **metric_lists(Curve.of_points(shown).values),
                "file_bytes": [p.file_bytes for p in shown],
            },
        }
        for codec, shown in shown_baselines(ordered, points).items()
    }
    document["bd_rate"] = {codec: {k: finite(v) for k, v in c.bd_rate.items()} for codec, c in comparisons.items()}
    document["bd_psnr"] = {codec: finite(c.bd["bd-psnr"]) for codec, c in comparisons.items()}
    return document


def refined_json(results: Iterable[QualityResult]) -> list[dict[str, Any]]:
    """Qualities also written by the refined encoder, beside the plain ladder (the window's Export JSON): one
    point each, in increasing quality, with the encoder that made it (`Encoder.record`)."""
    return [
        {
            "quality": r.quality,
            "bpp": r.bpp,
            **{metric.json_key: finite(r.metric(key)) for key, metric in METRICS.items()},
            "file_bytes": r.file_bytes,
            "bpp_estimated": r.bpp_estimated,
            "encoding_time": r.encode_seconds,
            "encoder": r.encoder.record(),
        }
        for r in sorted(results, key=lambda r: r.quality)
    ]


def comparison_csv(
    results: Iterable[QualityResult], baselines: Iterable[BaselinePoint], refined: Iterable[QualityResult] = ()
) -> str:
    """The CSV of `lci compare --csv` and the window's Export CSV: every level, then the qualities also written by
    the refined encoder beside a plain ladder (the window's; the JSON's "refined"), then the codec points
    `comparison_json` lists."""
    ordered = latest_by_quality(results)
    return rd_csv(ordered, [p for shown in shown_baselines(ordered, baselines).values() for p in shown], refined)


def bench_json(summary: BenchSummary, name: str, description: str) -> dict[str, Any]:
    """The document of `lci bench --json`: mean curves over a folder, and the ladder against each codec."""
    ladder = summary.ladder
    document = curve_json(name, description, ladder)
    document["qualities"] = ladder.points
    document["encoder"] = summary.encoder.record()
    document["bpp_estimated"] = ladder.bpp_estimated
    document["images"] = summary.images
    if summary.baselines:
        comparisons = compare_results(ladder, summary.baselines)
        document["baselines"] = {
            codec: {
                **curve_json(codec, f"Pillow {codec}, mean over the same images", curve, times=False),
                "settings": curve.points,
            }
            for codec, curve in summary.baselines.items()
        }
        document["bd_rate"] = {codec: {k: finite(v) for k, v in c.bd_rate.items()} for codec, c in comparisons.items()}
        document["bd_psnr"] = {codec: finite(c.bd["bd-psnr"]) for codec, c in comparisons.items()}
        document["psnr_gap_at_same_bpp"] = {codec: [finite(g) for g in c.gaps] for codec, c in comparisons.items()}
    return document


def _fmt(value: float | int | None, digits: int = 6) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    return number_text(value, f".{digits}g")


def rd_csv(
    results: Iterable[QualityResult], baselines: Sequence[BaselinePoint] = (), refined: Iterable[QualityResult] = ()
) -> str:
    """One row per quality with every measured number, then one per `refined` result (in increasing quality; its
    encoder columns say which), then one row per classical-codec point."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = csv_columns()
    writer.writerow(columns)

    def metric_cells(item: QualityResult | BaselinePoint) -> dict[str, str]:
        return {metric.column: _fmt(item.metric(key)) for key, metric in METRICS.items()}

    def encoder_cells(r: QualityResult) -> dict[str, object]:
        """Which encoder made the file (its `record`); a refined one's method, seed and λ (empty: the level's own)."""
        encoder = r.encoder
        cells: dict[str, object] = {"encoder": encoder.name, "effort": encoder.effort, "steps": encoder.steps}
        if encoder.refines:
            cells.update(method=encoder.method, seed=encoder.seed, encoder_lambda=_fmt(encoder.lmbda))
        return cells

    for r in [*latest_by_quality(results), *sorted(refined, key=lambda r: r.quality)]:
        info = r.info
        row = {
            "codec": "LCI",
            "quality": r.quality,
            "metric": info.metric,
            "lambda": _fmt(info.lmbda),
            "N": info.N,
            "M": info.M,
            "bpp": _fmt(r.bpp),
            "bpp_estimated": _fmt(r.bpp_estimated),
            **metric_cells(r),
            "file_bytes": r.file_bytes,
            "ratio_to_raw": _fmt(r.ratio_to_raw),
            "ratio_to_input": _fmt(r.ratio_to_input),
            "encode_seconds": _fmt(r.encode_seconds),
            "decode_seconds": _fmt(r.decode_seconds),
            "active_channels": r.active_channels,
            "weights": info.source,
            "fingerprint": info.fingerprint,
            **encoder_cells(r),
        }
        writer.writerow([row.get(column, "") for column in columns])
    for p in baselines:
        row = {"codec": p.codec, "setting": p.setting, "bpp": _fmt(p.bpp), **metric_cells(p)}
        row["file_bytes"] = p.file_bytes
        writer.writerow([row.get(column, "") for column in columns])
    return buffer.getvalue()
