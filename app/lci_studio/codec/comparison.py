"""The ladder against classical codecs: RD curves, BD figures, and the mean over a folder of images.

No Qt and no printing: `lci compare`, `lci bench`, `lci export-bundle` and the window's exports
all take their numbers from here, so a figure means the same wherever it is shown.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lci_studio.codec import baselines
from lci_studio.codec.baselines import BENCH_SETTINGS, BaselinePoint, available_codecs, sweep, sweeps
from lci_studio.codec.bdrate import BdError, RdCurve, bd_against, psnr_gap_at_same_rate
from lci_studio.codec.cancel import stop_if_cancelled
from lci_studio.codec.image_io import is_large, load_rgb
from lci_studio.codec.ladder import QualityResult, measure_quality, with_metrics
from lci_studio.codec.metrics import METRICS
from lci_studio.codec.refinement import PLAIN, Encoder
from lci_studio.codec.weights import WeightSource


@dataclass
class Curve:
    """RD values, one entry per quality (ladder) or per setting (classical codec); means in a bench."""

    points: list[int]  # qualities or codec settings
    bpp: list[float]
    metrics: dict[str, list[float]]  # by `metrics.METRICS` key, parallel to bpp (NaN: not measured)
    encode_seconds: list[float] = field(default_factory=list)
    decode_seconds: list[float] = field(default_factory=list)
    bpp_estimated: list[float] = field(default_factory=list)

    def values(self, key: str) -> list[float]:
        """One metric's values along the curve (NaN where it is not measured)."""
        return self.metrics.get(key, [math.nan] * len(self.bpp))

    def rd(self) -> RdCurve:
        return self.bpp, self.metrics

    @classmethod
    def of_results(cls, results: Iterable[QualityResult]) -> Curve:
        """The ladder's curve in increasing quality (the latest result of a quality counts)."""
        ordered = latest_by_quality(results)
        return cls(
            [r.quality for r in ordered],
            [float(r.bpp) for r in ordered],
            {key: [float(r.metric(key)) for r in ordered] for key in METRICS},
            encode_seconds=[float(r.encode_seconds) for r in ordered],
            decode_seconds=[float(r.decode_seconds) for r in ordered],
            bpp_estimated=[float(r.bpp_estimated) for r in ordered],
        )

    @classmethod
    def of_points(cls, points: Sequence[BaselinePoint]) -> Curve:
        """One classical codec's sweep, in the order it was measured."""
        return cls(
            [p.setting for p in points],
            [float(p.bpp) for p in points],
            {key: [float(p.metric(key)) for p in points] for key in METRICS},
        )


@dataclass(frozen=True)
class Comparison:
    """The ladder against one reference curve.

    `bd` has BD-rate in % for each metric's JSON key ("psnr-rgb", "ms-ssim-rgb"…) and BD-PSNR in dB for "bd-psnr";
    `gaps` is each level's PSNR minus the reference's at the same bpp (None outside its rates).
    """

    bd: dict[str, float | None]
    gaps: list[float | None]

    @property
    def bd_rate(self) -> dict[str, float | None]:
        return {k: v for k, v in self.bd.items() if k != "bd-psnr"}


@dataclass
class BenchSummary:
    """Means over a folder: the ladder and each classical codec at BENCH_SETTINGS."""

    ladder: Curve
    baselines: dict[str, Curve]
    images: list[str]
    encoder: Encoder = PLAIN  # which encoder made the ladder's files


def latest_by_quality(results: Iterable[QualityResult]) -> list[QualityResult]:
    """One result per quality, in increasing quality; a later result of a quality replaces an earlier one."""
    latest: dict[int, QualityResult] = {}
    for result in results:
        latest[result.quality] = result
    return [latest[q] for q in sorted(latest)]


def by_codec(points: Iterable[BaselinePoint]) -> dict[str, list[BaselinePoint]]:
    """Classical-codec points grouped per codec, codecs in the order they first appear."""
    grouped: dict[str, list[BaselinePoint]] = {}
    for point in points:
        grouped.setdefault(point.codec, []).append(point)
    return grouped


def compare_results(ladder: Curve, references: Mapping[str, Curve]) -> dict[str, Comparison]:
    """BD figures and per-level gaps of the ladder against each reference curve."""
    out = {}
    for codec, curve in references.items():
        try:
            gaps = psnr_gap_at_same_rate(curve.bpp, curve.values("psnr"), ladder.bpp, ladder.values("psnr"))
        except BdError:  # a reference of one point, or one holding an identical (infinite-PSNR) reconstruction
            gaps = [None] * len(ladder.bpp)
        out[codec] = Comparison(bd_against(ladder.rd(), curve.rd()), gaps)
    return out


MAX_ANALYSIS_WORKERS = 4  # threads that measure points at once; each holds a decoded picture and MS-SSIM's bands


def analysis_workers(pixels: np.ndarray) -> int:
    """Threads for `measure_around`: one per usable core (`baselines.usable_cpus`, at most
    MAX_ANALYSIS_WORKERS), one for a large picture."""
    height, width = pixels.shape[:2]
    return 1 if is_large(width, height) else max(1, min(baselines.usable_cpus(), MAX_ANALYSIS_WORKERS))


def measure_around(
    pixels: np.ndarray,
    results: Sequence[QualityResult],
    codecs: Iterable[str] | None = None,
    cancel: Callable[[], bool] | None = None,
    workers: int | None = None,
) -> tuple[list[QualityResult], dict[str, list[BaselinePoint]]]:
    """The ladder's results with every metric, and every codec swept around their bpp range (`sweeps`).

    What `lci compare` measures after the timed ladder, on `workers` threads at once (default
    `analysis_workers`), each with one torch thread: the points are independent, and Pillow's
    encoders, the metrics' small tensor steps each keep about one core busy, so on two cores
    this takes about half the time of one point after another. The sweeps are `baselines.sweeps`
    given the pool's submit: the same points, values and order as `sweep` one after another. The
    ladder's missing metrics are queued first, then the codecs' settings, the slowest codec (the last) first.
    """
    codecs = tuple(available_codecs() if codecs is None else codecs)
    low = min((r.bpp for r in results), default=None)
    high = max((r.bpp for r in results), default=None)
    stop = threading.Event()

    def stopped() -> bool:
        return stop.is_set() or (cancel is not None and cancel())

    def measured(result: QualityResult) -> QualityResult:
        stop_if_cancelled(stopped)
        return with_metrics(result, pixels, cancel=stopped)

    caller_threads = torch.get_num_threads()
    pool = ThreadPoolExecutor(workers or analysis_workers(pixels), "lci-measure", torch.set_num_threads, (1,))
    try:
        ladder = [pool.submit(measured, r) for r in results]
        swept = sweeps(pixels, reversed(codecs), low, high, cancel=stopped, submit=pool.submit)
        return [f.result() for f in ladder], {c: swept[c] for c in codecs}
    except BaseException:
        stop.set()  # Ctrl-C, a cancel or a failed point: the running points stop at their next check
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)
        # a worker's set_num_threads(1) also became the default of threads started later: put back the caller's
        torch.set_num_threads(caller_threads)


def bench_folder(
    source: WeightSource,
    paths: Sequence[Path],
    baselines: Iterable[str] = (),
    progress: Callable[[str], None] | None = None,
    encoder: Encoder = PLAIN,
) -> BenchSummary:
    """Mean over images of every quality, encoded by `encoder` (and of classical codecs at BENCH_SETTINGS).

    Metrics are averaged per image, as CompressAI's evaluation does, so the JSON compares
    like for like with its published curves.
    """
    qualities = source.qualities()
    codecs = [c for c in baselines if c in available_codecs()]
    keys = tuple(METRICS)
    # columns: bpp, every metric in table order, then (the ladder's only) encode s, decode s, estimated bpp
    sums = np.zeros((len(qualities), len(keys) + 4))
    base_sums = {c: np.zeros((len(BENCH_SETTINGS), len(keys) + 1)) for c in codecs}
    for path in paths:
        image = load_rgb(path)
        for i, quality in enumerate(qualities):
            r = measure_quality(source.load(quality), image, encoder=encoder)
            metric_values = [r.metric(key) for key in keys]
            sums[i] += (r.bpp, *metric_values, r.encode_seconds, r.decode_seconds, r.bpp_estimated)
            if progress:
                progress(f"{image.name} q{quality}")
        for codec in codecs:
            for j, p in enumerate(sweep(image.pixels, codec, settings=BENCH_SETTINGS)):
                base_sums[codec][j] += (p.bpp, *(p.metric(key) for key in keys))
            if progress:
                progress(f"{image.name} {codec}")

    def mean_curve(points: list[int], table: np.ndarray) -> Curve:
        mean = table / len(paths)
        values = {key: mean[:, 1 + k].tolist() for k, key in enumerate(keys)}
        return Curve(points, mean[:, 0].tolist(), values)

    ladder = mean_curve(list(qualities), sums)
    ladder.encode_seconds, ladder.decode_seconds, ladder.bpp_estimated = (sums[:, -3:] / len(paths)).T.tolist()
    curves = {codec: mean_curve(list(BENCH_SETTINGS), table) for codec, table in base_sums.items()}
    return BenchSummary(ladder, curves, [p.name for p in paths], encoder)
