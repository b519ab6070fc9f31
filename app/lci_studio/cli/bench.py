"""`lci compare` (one picture: every quality and the classical codecs) and `lci bench` (the mean over a
folder): their tables, one column per metric of `metrics.METRICS`, and BD lines."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from lci_studio.cli.encode import chosen_encoder
from lci_studio.cli.fetch import fetch_official, load_quality, open_source
from lci_studio.cli.files import check_outputs, image_paths, write_file, write_json
from lci_studio.cli.terminal import big_picture_progress, refine_progress, say, tty
from lci_studio.codec.baselines import BENCH_CODECS, BaselinePoint, available_codecs
from lci_studio.codec.bdrate import bracket
from lci_studio.codec.image_io import RgbImage, load_rgb
from lci_studio.codec.metrics import METRICS as IMAGE_METRICS  # model.METRICS: what weights are trained for
from lci_studio.codec.metrics import Metric
from lci_studio.codec.model import FAMILY
from lci_studio.codec.refinement import Encoder
from lci_studio.codec.report import number_text


def _metric_heads() -> str:
    """The metrics' column heads of the compare and bench tables, one per metric of the table."""
    return " ".join(f"{metric.name:>{_metric_width(metric)}}" for metric in IMAGE_METRICS.values())


def _metric_cells(value: Callable[[str], float]) -> str:
    """One row's metric cells, `value(key)` each ("nan": not measured)."""
    metrics = IMAGE_METRICS.items()
    cells = (f"{number_text(value(key), metric.spec):>{_metric_width(metric)}}" for key, metric in metrics)
    return " ".join(cells)


def _metric_width(metric: Metric) -> int:
    return max(7, len(metric.name) + 1)


def _table_head() -> str:
    return (
        f"{'quality':>10} {'bpp real':>9} {'bpp est.':>9} {_metric_heads()} {'kB':>9} {'ratio':>7} "
        f"{'enc s':>7} {'dec s':>7} {'active ch':>10}"
    )


def _ladder_row(r) -> str:
    return (
        f"{'q' + str(r.quality):>10} {r.bpp:>9.4f} {r.bpp_estimated:>9.4f} {_metric_cells(r.metric)} "
        f"{r.file_bytes / 1000:>9.2f} {r.ratio_to_raw:>7.1f} {r.encode_seconds:>7.3f} "
        f"{r.decode_seconds:>7.3f} {f'{r.active_channels}/{r.info.M}':>10}"
    )


def _baseline_row(p: BaselinePoint, raw_bytes: int) -> str:
    return (
        f"{f'{p.codec} {p.setting}':>10} {p.bpp:>9.4f} {'-':>9} {_metric_cells(p.metric)} "
        f"{p.file_bytes / 1000:>9.2f} {raw_bytes / p.file_bytes:>7.1f} {'-':>7} {'-':>7} {'-':>10}"
    )


def cmd_compare(args: argparse.Namespace) -> int:
    from lci_studio.codec.comparison import Curve, compare_results, measure_around
    from lci_studio.codec.ladder import encode_ladder
    from lci_studio.codec.report import comparison_csv, comparison_json, shown_baselines

    check_outputs([args.json, args.csv], [args.image], args.no_clobber)
    encoder = chosen_encoder(args)
    image: RgbImage = load_rgb(args.image)
    source = open_source(args.weights, args.metric)
    fetch_official(source, source.qualities())  # anything missing first, with its progress
    for quality in source.qualities():
        load_quality(source, quality)
    say(
        f"{image.name}: {image.width}x{image.height}, {source.describe()}, {encoder.describe()}"
        + (f"; {image.note}" if image.note else "")
    )
    progress = _ladder_progress(image.name, image.width, image.height, encoder)
    say(_table_head())
    # The codec alone first (its timings are the codec's own), then the on-demand metrics (MS-SSIM…) and
    # the classical codecs, several points at once (`measure_around`).
    ladder = list(encode_ladder(image, source, on_demand=False, progress=progress, encoder=encoder))
    results, sweeps = measure_around(image.pixels, ladder, available_codecs())
    for result in results:
        say(_ladder_row(result))
    raw = image.width * image.height * 3
    points = [p for sweep in sweeps.values() for p in sweep]
    for shown in shown_baselines(results, points).values():
        for point in shown:
            say(_baseline_row(point, raw))
    ladder = Curve.of_results(results)
    for codec, comparison in compare_results(ladder, {c: Curve.of_points(ps) for c, ps in sweeps.items()}).items():
        say(_bd_line(codec, comparison.bd))
    if args.json:
        weights = source.describe() + ("" if not encoder.refines else f", {encoder.describe()}")
        write_json(args.json, comparison_json(results, points, image, weights))
    if args.csv:
        write_file(args.csv, comparison_csv(results, points).encode())
    return 0


def _ladder_progress(name: str, width: int, height: int, encoder: Encoder):
    """`encode_ladder`'s progress for the faces: a big picture's tiles, and a refined encoder's steps on a terminal."""
    tiles = big_picture_progress(name, width, height)
    refining: dict[int, Callable[[int, int], None] | None] = {}

    def progress(quality: int, stage: str, done: int, total: int) -> None:
        if stage == "refine":
            if quality not in refining:
                refining[quality] = refine_progress(encoder, f"q{quality} refine")
            bar = refining[quality]
            if bar is not None:
                bar(done, total)
        elif tiles is not None:
            tiles(f"q{quality} {stage}", done, total)

    return progress if tiles is not None or (encoder.refines and tty()) else None


def cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from lci_studio.codec.comparison import bench_folder, compare_results
    from lci_studio.codec.report import bench_json

    paths = image_paths(args.folder)
    check_outputs([args.json], paths, args.no_clobber)
    encoder = chosen_encoder(args)
    source = open_source(args.weights, args.metric)
    fetch_official(source, source.qualities())
    for quality in source.qualities():
        load_quality(source, quality)
    codecs = [c for c in BENCH_CODECS if c in available_codecs()] if args.baselines else []
    total = len(paths) * (len(source.qualities()) + len(codecs))
    with tqdm(total=total, desc="bench", unit="run", file=sys.stderr, disable=not tty(), leave=False) as bar:

        def step(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update()

        summary = bench_folder(source, paths, codecs, step, encoder)
    ladder = summary.ladder
    say(f"{args.folder}: {len(paths)} images, {source.describe()}, {encoder.describe()} (mean over images)")
    say(f"{'quality':>8} {'bpp':>8} {'bpp est.':>9} {_metric_heads()} {'enc s':>7} {'dec s':>7}")
    for i, quality in enumerate(ladder.points):
        say(
            f"{'q' + str(quality):>8} {ladder.bpp[i]:>8.4f} {ladder.bpp_estimated[i]:>9.4f} "
            f"{_metric_cells(lambda key, i=i: ladder.values(key)[i])} {ladder.encode_seconds[i]:>7.3f} "
            f"{ladder.decode_seconds[i]:>7.3f}"
        )
    comparisons = compare_results(ladder, summary.baselines)
    low, high = min(ladder.bpp), max(ladder.bpp)
    for codec, curve in summary.baselines.items():
        for j in bracket(range(len(curve.bpp)), low, high, key=lambda j, curve=curve: curve.bpp[j]):
            cells = _metric_cells(lambda key, j=j, curve=curve: curve.values(key)[j])
            say(f"{f'{codec} {curve.points[j]}':>8} {curve.bpp[j]:>8.4f} {'-':>9} {cells}")
    for codec, comparison in comparisons.items():
        say(_bd_line(codec, comparison.bd))
    for codec, comparison in comparisons.items():
        pairs = zip(ladder.points, comparison.gaps, strict=True)
        shown = ", ".join(f"q{q} " + ("n/a" if g is None else f"{g:+.2f}") for q, g in pairs)
        say(f"PSNR vs {codec} at the same bpp (dB): {shown}")
    description = (
        f"LCI Studio, {source.describe()}, {encoder.describe()}, "
        f"mean over {len(paths)} images of {Path(args.folder).name}"
    )
    write_json(args.json, bench_json(summary, args.name or FAMILY, description))
    say(f"wrote {args.json}")
    return 0


def _bd_line(codec: str, bd: dict[str, float | None]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.1f}%"

    psnr = "n/a" if bd.get("bd-psnr") is None else f"{bd['bd-psnr']:+.2f} dB"
    rates = ", ".join(f"{pct(bd.get(metric.json_key))} ({metric.name})" for metric in IMAGE_METRICS.values())
    return f"BD-rate vs {codec}: {rates}; BD-PSNR {psnr}"
