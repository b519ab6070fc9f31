"""The `lci` command line: encode, decode, inspect, compare, benchmark, train and ship.

Every failure is reported as one line on stderr (``lci: error: …``) with exit status 2 for
usage mistakes and 1 for everything else (130 when interrupted), never a traceback, so the
command is safe in scripts. Outputs are written through a temp file and renamed, so a failed
run never leaves a partial file. Set ``LCI_DEBUG=1`` to get tracebacks of unexpected errors.

Outputs are checked before any work (their folder exists and takes a file, they are not a folder,
not an input): a mistake costs a second, not the minutes of a big picture. One overwrite rule for
every command: an existing output is replaced, unless ``--no-clobber`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lci_studio import __version__
from lci_studio.codec import image_io
from lci_studio.codec.baselines import BENCH_CODECS, BaselinePoint, available_codecs
from lci_studio.codec.bdrate import bracket
from lci_studio.codec.bundle import TRAINING_DATA
from lci_studio.codec.decoding import NoMatchingWeightsError, candidate_sources, decode_file
from lci_studio.codec.errors import USER_ERRORS
from lci_studio.codec.image_io import IMAGE_SUFFIXES, RgbImage, atomic_write, encode_png, load_rgb
from lci_studio.codec.insight import format_bpp
from lci_studio.codec.lci_format import HEADER_SIZE, unpack_lci
from lci_studio.codec.metrics import METRICS as IMAGE_METRICS  # model.METRICS: what weights are trained for
from lci_studio.codec.metrics import Metric
from lci_studio.codec.model import FAMILY, METRICS, QUALITIES, LoadedModel
from lci_studio.codec.pipeline import WeightsMismatchError, decode_lci, encode_image
from lci_studio.codec.refinement import EFFORTS, MAX_STEPS, Encoder, encoder_for, refined_encode
from lci_studio.codec.report import json_text, number_text
from lci_studio.codec.weights import (
    MIRROR_ENV,
    BundledSource,
    CompressAISource,
    DownloadFailedError,
    MetricNotBundledError,
    NoBundledWeightsError,
    UnknownWeightsError,
    WeightsError,
    WeightSource,
    compressai_cache_dir,
    level_checkpoint,
    open_weight_source,
)

PROG = "lci"


class CliError(Exception):
    """A failure the user can act on; printed as one line, exit status 1."""


class UsageError(Exception):
    """A mistake in the command line; printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so `main` reports one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# ------------------------------------------------------------------------------------------- helpers


def _say(text: str = "") -> None:
    print(text, flush=True)


def _is_main_rank() -> bool:
    """Only rank 0 of a torchrun job talks."""
    return int(os.environ.get("RANK", "0")) == 0


def _tty() -> bool:
    return sys.stderr.isatty()


def _read(path: str | os.PathLike) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def _write(path: str | os.PathLike, data: bytes) -> None:
    """Atomic write with a one-line reason on failure (missing folder, full disk, permission)."""
    path = Path(path)
    if path.is_dir():
        raise CliError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise CliError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


OVERWRITE_RULE = "an existing output is replaced unless --no-clobber is given"


def check_outputs(outputs: Sequence[str | os.PathLike | None], inputs: Sequence[str | os.PathLike] = (),
                  no_clobber: bool = False) -> None:
    """Refuse, before any work, outputs that can't be written where they are asked for.

    Each named output must not be a folder, not be one of `inputs` (the picture would be lost), not
    be named twice, and its folder must exist and take a new file (tried with a temp file, which is
    what the final atomic write does); with `no_clobber`, it must not exist yet.
    """
    named = [Path(o) for o in outputs if o is not None]
    seen: set[Path] = set()
    for path in named:
        full = Path(os.path.abspath(path))
        if full in seen:
            raise CliError(f"{path} is named as two outputs; choose a name for each")
        seen.add(full)
        if path.is_dir():
            raise CliError(f"cannot write {path}: it is a folder")
        if path.exists():
            for source in inputs:
                with contextlib.suppress(OSError):
                    if os.path.samefile(path, source):
                        raise CliError(f"cannot write {path}: it is the input file; choose another output name")
            if no_clobber:
                raise CliError(f"{path} exists (--no-clobber); remove it or choose another output name")
        folder = path.parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise CliError(f"cannot write {path}: {folder} {what}")
        problem = _cannot_create_in(folder)
        if problem:
            raise CliError(f"cannot write {path}: folder {folder}: {problem}")


def check_output_folder(folder: str | os.PathLike) -> None:
    """Refuse, before any work, an output folder that is a file or can't be made or written into."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"cannot write into {folder}: it is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CliError(f"cannot make {folder}: {existing} is not a folder")
    problem = _cannot_create_in(existing)
    if problem:
        raise CliError(f"cannot write into {folder}: {existing}: {problem}")


def _cannot_create_in(folder: Path) -> str | None:
    """Why a new file can't be made in `folder` (tried with a temp file, as the final atomic write does), or None."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lci-check-"):
            return None
    except OSError as exc:
        return str(exc.strerror or exc)


def _write_json(path: str | os.PathLike, document: dict[str, Any]) -> None:
    _write(path, json_text(document).encode())


def _fmt(value: float, spec: str) -> str:
    return number_text(value, spec)


def fetch_official(source: WeightSource, qualities: Sequence[int], *, every_file: bool = False) -> None:
    """Official weights not in the cache are fetched before any work, and said so on stderr, terminal or not.

    One line first (how many files, how large, from where, into which folder), then a bar per file on
    a terminal or a line per file elsewhere. Cached files are checked against their hash quietly
    (`every_file`: with a line each, as `lci fetch-weights` does); the missing ones come first, so an
    offline run fails at once. Other sources: nothing to do.
    """
    if not isinstance(source, CompressAISource):
        return
    missing = source.missing(qualities)
    order = missing + [q for q in qualities if q not in missing]
    host = (urllib.parse.urlsplit(source.url(order[0])).netloc or "the file system") if order else ""
    there = len(order) - len(missing)
    if missing:
        size = sum(source.expected_size(q) for q in missing) / 1e6
        plural = "s" if len(missing) > 1 else ""
        already = f" ({there} already there)" if there else ""
        _note(f"{source.describe()}: downloading {len(missing)} file{plural}, about {size:.1f} MB, from {host} "
              f"into {source.cache_dir}{already}")  # fmt: skip
    elif every_file:
        _note(f"{source.describe()}: all {len(order)} files are in {source.cache_dir}; checking them")
    for number, quality in enumerate(order, 1):
        report = _FileReport(f"q{quality} ({number} of {len(order)})", source.filename(quality))
        source.fetch(quality, progress=report.update)
        report.close(every_file)


class _FileReport:
    """One file's download on stderr: a byte bar on a terminal, one line once it is in elsewhere."""

    def __init__(self, label: str, name: str) -> None:
        self.label, self.name = label, name
        self.bar: Any = None
        self.first: tuple[int, int | None] | None = None  # (bytes already there, size) at the first update
        self.size: int | None = None

    def update(self, done: int, total: int | None) -> None:
        if self.first is None:
            self.first = (done, total)
        self.size = total if total is not None else done
        if not _tty():
            return
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, desc=self.label, file=sys.stderr,
                            leave=False)  # fmt: skip
        self.bar.update(done - self.bar.n)

    def close(self, every_file: bool) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.first is None:  # it was in the cache, and its hash matched
            if every_file:
                _note(f"  {self.label}: {self.name} already there, verified")
            return
        resumed = f", resumed at {self.first[0] / 1e6:.1f} MB" if self.first[0] else ""
        _note(f"  {self.label}: {self.name}, {(self.size or 0) / 1e6:.1f} MB{resumed}, downloaded and verified")


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def big_picture_progress(name: str, width: int, height: int) -> Callable[[str, int, int], None] | None:
    """For a picture over `image_io.LARGE_IMAGE_PIXELS`: one line on stderr that says how large it is,
    then its progress tile by tile, as (what, tiles done, tiles in all): a bar on a terminal, a line
    as each transform ends elsewhere. None (and nothing said) for a smaller picture."""
    if not image_io.is_large(width, height):
        return None
    print(
        f"{name}: {image_io.describe_size(width, height)}, over {image_io.LARGE_IMAGE_PIXELS / 1e6:.0f} MP: "
        "each quality takes a while; progress is shown tile by tile",
        file=sys.stderr,
        flush=True,
    )
    bar: Any = None

    def step(what: str, done: int, total: int) -> None:
        nonlocal bar
        if not _tty():
            if done >= total:
                print(f"  {what}: {total} of {total} tiles", file=sys.stderr, flush=True)
            return
        if bar is None or bar.desc != what:
            from tqdm import tqdm

            if bar is not None:
                bar.close()
            bar = tqdm(total=total, desc=what, unit="tile", file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            bar = None

    return step


def open_source(spec: str, metric: str = "mse", quality_label: int | None = None) -> WeightSource:
    return open_weight_source(spec, metric, quality_label=quality_label)


def load_quality(source: WeightSource, quality: int) -> LoadedModel:
    fetch_official(source, [quality])
    return source.load(quality)


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside a folder (not recursive), in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CliError(f"{folder}: no such folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise CliError(f"{folder}: no images in it ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid quality {text!r}: choose 1 to 8") from None
    if value not in QUALITIES:
        raise argparse.ArgumentTypeError(f"invalid quality {value}: choose 1 to 8")
    return value


def _positive(kind: type) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not positive")
        return value

    return parse


def _levels(text: str) -> tuple[int, ...]:
    """'5-8' or '1,3,5' (ranges and lists mix): the ladder levels one run trains."""
    levels: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        low, high = _quality(first), _quality(last or first)
        if low > high:
            raise argparse.ArgumentTypeError(f"invalid range {part.strip()!r}")
        levels.update(range(low, high + 1))
    return tuple(sorted(levels))


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _crop(text: str) -> int:
    value = int(_positive(int)(text))
    if value % 16:
        raise argparse.ArgumentTypeError(f"crop {value} is not a multiple of 16 (the model downsamples by 16)")
    return value


def _steps(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid step count {text!r}: choose 0 to {MAX_STEPS}") from None
    if not 0 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"invalid step count {value}: choose 0 to {MAX_STEPS}")
    return value


def chosen_encoder(args: argparse.Namespace) -> Encoder:
    """The encoder `--effort` and `--steps` name; refinement is for MSE-trained weights (a usage error otherwise)."""
    encoder = encoder_for(args.effort, args.steps)
    if encoder.refines and getattr(args, "metric", "mse") != "mse":
        raise UsageError(
            f"--effort {args.effort} refines the latents for MSE-trained weights; with --metric {args.metric} "
            "use --effort fast"
        )
    return encoder


def refine_progress(encoder: Encoder, label: str) -> Callable[[int, int], None] | None:
    """A bar of refinement steps on a terminal (a refined quality takes seconds to minutes); None otherwise."""
    if not encoder.refines or not _tty():
        return None
    bar: Any = None

    def step(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=label, unit="step", file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
            bar = None

    return step


# --------------------------------------------------------------------------------------- subcommands


def cmd_encode(args: argparse.Namespace) -> int:
    from lci_studio.codec.metrics import psnr_rgb

    check_outputs([args.output], [args.image], args.no_clobber)
    encoder = chosen_encoder(args)
    image = load_rgb(args.image)
    source = open_source(args.weights, args.metric, quality_label=args.quality)
    loaded = load_quality(source, args.quality)
    tiles = big_picture_progress(image.name, image.width, image.height)
    encoding = (lambda done, total: tiles(f"q{args.quality} encode", done, total)) if tiles else None
    decoding = (lambda done, total: tiles(f"q{args.quality} decode", done, total)) if tiles else None
    started = time.perf_counter()
    note = ""
    if encoder.refines:
        refining = refine_progress(encoder, f"q{args.quality} refine")
        refined = refined_encode(loaded, image.pixels, encoder, encoding=encoding, refining=refining)
        encoded = refined.encoded
        change = refined.objective / refined.plain_objective - 1
        note = (
            "; kept the plain latents: refinement did not lower R + λ·D"
            if refined.kept_plain
            else f"; R + λ·D {refined.plain_objective:.4f} → {refined.objective:.4f} ({change:+.1%}) against plain"
        )
    else:
        encoded = encode_image(loaded, image.pixels, with_bit_map=False, progress=encoding)
    seconds = time.perf_counter() - started
    _write(args.output, encoded.lci)
    psnr = psnr_rgb(image.pixels, decode_lci(encoded.lci, loaded, progress=decoding))
    size = len(encoded.lci)
    _say(
        f"{args.output}: {size:,} bytes, {format_bpp(size * 8 / (image.width * image.height))}, "
        f"PSNR {_fmt(psnr, '.2f')} dB (quality {args.quality}, {source.describe()}, {encoder.describe()}, "
        f"encoded in {seconds:.2f} s{note}" + (f"; {image.name}: {image.note})" if image.note else ")")
    )
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    check_outputs([args.output], [args.file], args.no_clobber)
    data = _read(args.file)
    header, _ = unpack_lci(data)
    # Which weights decode it is the codec's rule (codec/decoding.py); named weights are the only ones tried.
    offered = [open_source(args.weights, header.metric, quality_label=header.quality)] if args.weights else []
    candidates = candidate_sources(header, offered, own_kind=args.weights is None, download=True)
    tiles = big_picture_progress(Path(args.file).name, header.width, header.height)
    decoding = (lambda done, total: tiles("decode", done, total)) if tiles else None
    decoded = decode_file(data, candidates, load=load_quality, progress=decoding)
    _write(args.output, encode_png(decoded.pixels))
    _say(
        f"{args.output}: {header.width}x{header.height} PNG, quality {header.quality}, "
        f"decoded in {decoded.seconds:.2f} s"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    data = _read(args.file)
    header, payload = unpack_lci(data)
    pixels = header.width * header.height
    sizes = f"{len(data):,} bytes ({HEADER_SIZE} header, {len(payload):,} payload, 4 CRC-32)"
    _say(f"{args.file}: .lci v{header.version}, {sizes}")
    _say(f"  model    {header.family} {header.metric} quality {header.quality} (N={header.N}, M={header.M})")
    _say(f"  weights  {header.source_kind}, fingerprint {header.fingerprint}")
    _say(
        f"  image    {header.width}x{header.height}, padded to {header.padded_size[1]}x{header.padded_size[0]} "
        f"(offset {header.pad_left},{header.pad_top})"
    )
    _say(f"  latent   {header.M}x{header.latent_height}x{header.latent_width}")
    _say(f"  rate     {format_bpp(len(data) * 8 / pixels)}, ratio {pixels * 3 / len(data):.1f}:1 to raw 24-bit RGB")
    return 0


def _metric_heads() -> str:
    """The metrics' column heads of the compare and bench tables, one per metric of the table."""
    return " ".join(f"{metric.name:>{_metric_width(metric)}}" for metric in IMAGE_METRICS.values())


def _metric_cells(value: Callable[[str], float]) -> str:
    """One row's metric cells, `value(key)` each ("nan": not measured)."""
    cells = (f"{_fmt(value(key), metric.spec):>{_metric_width(metric)}}" for key, metric in IMAGE_METRICS.items())
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
    _say(
        f"{image.name}: {image.width}x{image.height}, {source.describe()}, {encoder.describe()}"
        + (f"; {image.note}" if image.note else "")
    )
    progress = _ladder_progress(image.name, image.width, image.height, encoder)
    _say(_table_head())
    # The codec alone first (its timings are the codec's own), then the on-demand metrics (MS-SSIM…) and
    # the classical codecs, several points at once (`measure_around`).
    ladder = list(encode_ladder(image, source, on_demand=False, progress=progress, encoder=encoder))
    results, sweeps = measure_around(image.pixels, ladder, available_codecs())
    for result in results:
        _say(_ladder_row(result))
    raw = image.width * image.height * 3
    points = [p for sweep in sweeps.values() for p in sweep]
    for shown in shown_baselines(results, points).values():
        for point in shown:
            _say(_baseline_row(point, raw))
    ladder = Curve.of_results(results)
    for codec, comparison in compare_results(ladder, {c: Curve.of_points(ps) for c, ps in sweeps.items()}).items():
        _say(_bd_line(codec, comparison.bd))
    if args.json:
        weights = source.describe() + ("" if not encoder.refines else f", {encoder.describe()}")
        _write_json(args.json, comparison_json(results, points, image, weights))
    if args.csv:
        _write(args.csv, comparison_csv(results, points).encode())
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

    return progress if tiles is not None or (encoder.refines and _tty()) else None


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
    with tqdm(total=total, desc="bench", unit="run", file=sys.stderr, disable=not _tty(), leave=False) as bar:

        def step(label: str) -> None:
            bar.set_postfix_str(label, refresh=False)
            bar.update()

        summary = bench_folder(source, paths, codecs, step, encoder)
    ladder = summary.ladder
    _say(f"{args.folder}: {len(paths)} images, {source.describe()}, {encoder.describe()} (mean over images)")
    _say(f"{'quality':>8} {'bpp':>8} {'bpp est.':>9} {_metric_heads()} {'enc s':>7} {'dec s':>7}")
    for i, quality in enumerate(ladder.points):
        _say(
            f"{'q' + str(quality):>8} {ladder.bpp[i]:>8.4f} {ladder.bpp_estimated[i]:>9.4f} "
            f"{_metric_cells(lambda key, i=i: ladder.values(key)[i])} {ladder.encode_seconds[i]:>7.3f} "
            f"{ladder.decode_seconds[i]:>7.3f}"
        )
    comparisons = compare_results(ladder, summary.baselines)
    low, high = min(ladder.bpp), max(ladder.bpp)
    for codec, curve in summary.baselines.items():
        for j in bracket(range(len(curve.bpp)), low, high, key=lambda j, curve=curve: curve.bpp[j]):
            cells = _metric_cells(lambda key, j=j, curve=curve: curve.values(key)[j])
            _say(f"{f'{codec} {curve.points[j]}':>8} {curve.bpp[j]:>8.4f} {'-':>9} {cells}")
    for codec, comparison in comparisons.items():
        _say(_bd_line(codec, comparison.bd))
    for codec, comparison in comparisons.items():
        pairs = zip(ladder.points, comparison.gaps, strict=True)
        shown = ", ".join(f"q{q} " + ("n/a" if g is None else f"{g:+.2f}") for q, g in pairs)
        _say(f"PSNR vs {codec} at the same bpp (dB): {shown}")
    description = (
        f"LCI Studio, {source.describe()}, {encoder.describe()}, "
        f"mean over {len(paths)} images of {Path(args.folder).name}"
    )
    _write_json(args.json, bench_json(summary, args.name or FAMILY, description))
    _say(f"wrote {args.json}")
    return 0


def _bd_line(codec: str, bd: dict[str, float | None]) -> str:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:+.1f}%"

    psnr = "n/a" if bd.get("bd-psnr") is None else f"{bd['bd-psnr']:+.2f} dB"
    rates = ", ".join(f"{pct(bd.get(metric.json_key))} ({metric.name})" for metric in IMAGE_METRICS.values())
    return f"BD-rate vs {codec}: {rates}; BD-PSNR {psnr}"


def training_missing() -> str | None:
    """Why this install cannot train, or None. The standalone build leaves out torch's compiler stack
    (torch._dynamo, with sympy: over 100 MB) to stay small, and torch's optimizers load it."""
    if importlib.util.find_spec("torch._dynamo") is None:
        return (
            "lci train is not part of the standalone build (it leaves out torch's compiler stack, which "
            "training needs); train from a pip install of LCI Studio (README: Set up and run)"
        )
    return None


def cmd_train(args: argparse.Namespace) -> int:
    if problem := training_missing():
        raise CliError(problem)
    from lci_studio.codec import gained, training

    data = Path(args.data)
    if not data.is_dir():
        raise CliError(f"{data}: no such folder")
    out = Path(args.out)
    if args.joint and args.ladder:
        raise CliError("--joint and --ladder are two recipes: choose one")
    if args.joint and args.level_cpu_minutes:
        raise CliError(
            "--level-cpu-minutes budgets each level of a per-level run; --joint trains them together: use --steps"
        )
    check_output_folder(out)
    if args.resume and not (args.joint and gained.is_gained_checkpoint(args.resume)):
        # any weights the app reads, checked before hours of training
        open_weight_source(args.resume, args.metric, quality_label=args.quality).qualities()
    cfg = training.TrainConfig(
        data=data,
        out=out,
        metric=args.metric,
        N=args.N,
        M=args.M,
        crop=args.crop,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        precision=args.precision,
        quality=args.quality,
        steps=args.steps,
        warm_steps=args.warm_steps,
        level_steps=args.level_steps,
        level_lr=args.level_lr,
        warmup_steps=args.warmup_steps,
        warm_quality=args.warm_quality,
        levels=args.levels,
        resume=args.resume,
        level_cpu_minutes=args.level_cpu_minutes,
    )
    if args.joint:
        total = args.steps
    else:
        plan = training.training_plan(cfg, args.ladder)
        total = sum(steps for q, steps in plan if not level_checkpoint(out, q).exists())
    talk = _is_main_rank()
    progress, close = _train_progress(total, talk)
    started = time.monotonic()
    try:
        finished = gained.train_joint(cfg, progress) if args.joint else training.train(cfg, args.ladder, progress)
    except ValueError as exc:  # e.g. every image smaller than the crop
        raise CliError(str(exc)) from None
    finally:
        close()
    if talk:
        qualities = ", ".join(f"q{q}" for q in sorted(finished))
        _say(f"trained {qualities} in {time.monotonic() - started:.0f} s; checkpoints in {out}")
    return 0


def _train_progress(total: int, talk: bool):
    """(progress callback, close) drawing a tqdm bar on a terminal, or a plain line every 30 s otherwise."""
    if not talk:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="step", desc="train", file=sys.stderr, dynamic_ncols=True) if _tty() else None
    state = {"label": None, "step": 0, "printed": 0.0}

    def progress(label: str, stats) -> None:
        if label.split()[0] != state["label"]:  # a new level of a ladder; "joint qN" counts one run
            state["label"], state["step"] = label.split()[0], 0
        advance, state["step"] = stats.step - state["step"], stats.step
        text = f"loss {stats.loss:.4f} bpp {stats.bpp:.3f} PSNR {stats.psnr:.2f} lr {stats.lr:.1e}"
        if bar is not None:
            bar.set_postfix_str(f"{label} {text}", refresh=False)
            bar.update(advance)
        elif time.monotonic() - state["printed"] > 30 or stats.step == stats.total:
            state["printed"] = time.monotonic()
            _say(f"[{label} {stats.step}/{stats.total}] {text}")

    return progress, (bar.close if bar is not None else lambda: None)


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    source = open_source("compressai", args.metric)
    if not isinstance(source, CompressAISource):  # open_weight_source gives one for "compressai"
        raise CliError("no official weights source")
    fetch_official(source, source.qualities(), every_file=True)
    size = sum(source.expected_size(q) for q in source.qualities()) / 1e6
    flags = "--weights compressai" + (f" --metric {source.metric}" if source.metric != "mse" else "")
    _say(
        f"{source.describe()}: {len(source.qualities())} files, {size:.1f} MB, verified in {source.cache_dir}; "
        f"{flags} works offline now"
    )
    return 0


def cmd_export_bundle(args: argparse.Namespace) -> int:
    from lci_studio.codec.bundle import export_bundle, finished_levels

    run = Path(args.run_dir)
    finished_levels(run)  # before the eval folder is looked at: a run with nothing to ship is the first error
    if args.dest:
        check_output_folder(args.dest)
    eval_paths = image_paths(args.eval) if args.eval else None
    exported = export_bundle(
        run,
        Path(args.dest) if args.dest else None,
        eval_paths=eval_paths,
        metric=args.metric,
        training_data=args.training_data,
        eval_folder=Path(args.eval).name if args.eval else None,
    )
    for note in exported.notes:
        _say(note)
    kept = exported.kept
    kept_note = f", kept q{', q'.join(str(q) for q in kept)} as they were" if kept else ""
    _say(
        f"exported {len(exported.levels)} levels ({exported.metric}, {exported.size_bytes / 1e6:.1f} MB) "
        f"to {exported.dest}{kept_note}"
    )
    for level in exported.levels:
        ev = level.get("eval")
        tail = f": {ev['bpp']:.4f} bpp, {ev['psnr']:.2f} dB, MS-SSIM {ev['ms_ssim']:.4f}" if ev and ev["psnr"] else ""
        _say(f"  q{level['quality']} N={level['N']} M={level['M']} λ={level['lambda']:g}{tail}")
    return 0


# --------------------------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="LCI Studio's learned image codec (Ballé 2018 factorized prior, CompressAI-compatible).",
        epilog="--weights takes: bundled (default), compressai (official weights, downloaded on first use), "
        "a folder of checkpoints (q1.pth.tar … or CompressAI's file names), or one checkpoint file.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def weights(p: argparse.ArgumentParser, metric: bool = True) -> None:
        if metric:
            p.add_argument("--weights", default="bundled", metavar="SRC", help="bundled | compressai | FOLDER | FILE")
        else:
            p.add_argument(
                "--weights", metavar="SRC", help="bundled | compressai | FOLDER | FILE (default: as the file says)"
            )
        if metric:
            p.add_argument("--metric", default="mse", choices=METRICS, help="weights trained for this metric")

    def no_clobber(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--no-clobber",
            action="store_true",
            help=f"refuse to replace an existing output (default: {OVERWRITE_RULE.split(' unless')[0]}); "
            "an output is never allowed to be the input",
        )

    def effort(p: argparse.ArgumentParser) -> None:
        levels = "; ".join(f"{e.name}: {e.meaning}" for e in EFFORTS.values())
        p.add_argument(
            "--effort",
            default="fast",
            choices=tuple(EFFORTS),
            help=f"how hard the encoder works for this picture ({levels}); the same decoder reads every file "
            "(default fast)",
        )
        p.add_argument(
            "--steps",
            type=_steps,
            metavar="N",
            help=f"refinement steps per tile instead of the effort's own (0 to {MAX_STEPS}; 0 is the plain encoder)",
        )

    p = sub.add_parser("encode", help="compress an image into a .lci file", epilog=f"Outputs: {OVERWRITE_RULE}.")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.lci")
    no_clobber(p)
    p.add_argument("-q", "--quality", required=True, type=_quality, metavar="Q", help="1 (smallest) … 8 (best)")
    weights(p)
    effort(p)
    p.set_defaults(handler=cmd_encode)

    p = sub.add_parser("decode", help="decompress a .lci file into a PNG", epilog=f"Outputs: {OVERWRITE_RULE}.")
    p.add_argument("file", metavar="FILE.lci")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    no_clobber(p)
    weights(p, metric=False)
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser("info", help="describe a .lci file")
    p.add_argument("file", metavar="FILE.lci")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser(
        "compare", help="every quality plus JPEG/WebP/AVIF/JPEG XL on one image", epilog=f"Outputs: {OVERWRITE_RULE}."
    )
    p.add_argument("image", metavar="IMAGE")
    no_clobber(p)
    weights(p)
    p.add_argument("--json", metavar="OUT.json", help="write RD points in CompressAI's JSON shape")
    p.add_argument("--csv", metavar="OUT.csv", help="write every measured number as CSV")
    effort(p)
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser(
        "bench", help="mean RD over a folder of images, CompressAI JSON", epilog=f"Outputs: {OVERWRITE_RULE}."
    )
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--json", required=True, metavar="OUT.json")
    no_clobber(p)
    weights(p)
    p.add_argument(
        "--baselines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also JPEG/WebP mean curves and BD-rate against them (default: on)",
    )
    p.add_argument("--name", help="the JSON's name field (default: bmshj2018-factorized)")
    effort(p)
    p.set_defaults(handler=cmd_bench)

    from lci_studio.codec.training import NEW_MODEL_M, NEW_MODEL_N

    defaults = _train_defaults()
    p = sub.add_parser(
        "train",
        help="train one quality or the 8-level ladder",
        epilog="Multi-GPU / multi-machine: torchrun --nproc_per_node=K -m lci_studio.cli train … (only rank 0 prints).",
    )
    p.add_argument("data", metavar="DATA", help="folder of training images")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoints q{n}.pth.tar + q{n}.json go here")
    p.add_argument(
        "--ladder", action="store_true", help="all 8 λ: warm start at --warm-quality, then fine-tune outwards"
    )
    p.add_argument(
        "--joint",
        action="store_true",
        help="train --levels (default all 8) together for --steps steps: shared transforms, a latent gain "
        "and an entropy model per level, exported as one ordinary checkpoint per level; --resume WEIGHTS "
        "starts the shared transforms from --warm-quality's level, --resume OUT/joint.pt continues a joint run",
    )
    p.add_argument("--metric", default="mse", choices=METRICS)
    p.add_argument("-q", "--quality", type=_quality, default=defaults.quality, help="λ of this quality (single run)")
    for flag, kind, name, meaning in (
        ("--steps", _positive(int), "steps", "steps of a single-quality or --joint run"),
        ("--warm-steps", _positive(int), "warm_steps", "ladder: steps of the --warm-quality level, resumed or not"),
        ("--level-steps", _positive(int), "level_steps", "ladder: steps of every other level"),
        ("--crop", _crop, "crop", "random crop size in pixels"),
        ("--batch", _positive(int), "batch", "crops per step"),
        ("--lr", _positive(float), "lr", "peak learning rate of a model trained from scratch"),
        ("--level-lr", _positive(float), "level_lr", "peak learning rate of fine-tunes and resumed levels"),
    ):
        default = getattr(defaults, name)
        p.add_argument(flag, type=kind, dest=name, default=default, help=f"{meaning} (default {default})")
    p.add_argument(
        "--N",
        type=_positive(int),
        help=f"transform channels of new models (default {NEW_MODEL_N}); a resumed level keeps its own, "
        "unless it has fewer than a given N: then it is widened to N, keeping what it learned",
    )
    p.add_argument(
        "--M",
        type=_positive(int),
        help=f"latent channels of new models (default {NEW_MODEL_M}); a resumed level keeps its own, "
        "unless it has fewer than a given M: then it is widened to M, keeping what it learned",
    )
    p.add_argument(
        "--level-cpu-minutes",
        type=_positive(float),
        metavar="MINUTES",
        help="train each level for this much CPU time of this process instead of a step count (the steps then "
        "only bound it; the learning rate decays over the budget): equal compute for runs whose steps cost "
        "differently, however busy the machine; with --threads 1, minutes of one core",
    )
    p.add_argument(
        "--warmup-steps",
        type=_non_negative_int,
        default=defaults.warmup_steps,
        help="steps of each level's linear learning-rate warm-up before the cosine decay; "
        f"worth a few hundred when resuming trained weights (default {defaults.warmup_steps})",
    )
    p.add_argument(
        "--warm-quality",
        type=_quality,
        default=defaults.warm_quality,
        help=f"ladder: the level trained first, that the others start from (default {defaults.warm_quality})",
    )
    p.add_argument(
        "--levels",
        type=_levels,
        metavar="LIST",
        help="with --ladder or --joint, train only these levels, e.g. 5-8 or 1,2 (default: all 8); "
        "runs over disjoint levels may share --out",
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="seeds weights and crops (default 0)")
    p.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: torch's default)")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default=defaults.precision,
        help="bf16: transforms under bfloat16 autocast, weights and rates float32; "
        "about 1.8x faster on CPUs with AVX-512-BF16 and on recent GPUs (default fp32)",
    )
    p.add_argument(
        "--resume", metavar="WEIGHTS", help="start each level from these weights: bundled, a ladder folder or a file"
    )
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser(
        "fetch-weights",
        help="download and check CompressAI's official weights ahead of time, for use without a network",
        epilog=f"Into $TORCH_HOME/hub/checkpoints (here {compressai_cache_dir()}), shared with CompressAI; from "
        f"${MIRROR_ENV} when it is set (a mirror: the files are checked against the official hashes), "
        "else from CompressAI's host. An interrupted download resumes where it stopped.",
    )
    p.add_argument("--metric", default="mse", choices=METRICS, help="the weights trained for this metric")
    p.set_defaults(handler=cmd_fetch_weights)

    p = sub.add_parser("export-bundle", help="turn a finished ladder run into the bundled weights + manifest")
    p.add_argument("run_dir", metavar="TRAIN_OUT_DIR")
    p.add_argument("--eval", metavar="DIR", help="measure each level on these images for the manifest")
    p.add_argument("--dest", metavar="DIR", help="default: the package's bundled weights folder")
    p.add_argument("--metric", choices=METRICS, help="default: inferred from the training records' λ")
    p.add_argument("--training-data", default=TRAINING_DATA, help=f"default: {TRAINING_DATA!r}")
    p.set_defaults(handler=cmd_export_bundle)
    return parser


def _train_defaults():
    from lci_studio.codec.training import TrainConfig

    return TrainConfig(data=Path("."), out=Path("."))


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unknown error"


def error_text(exc: BaseException) -> str:
    """The codec's sentence plus what to do about it in command-line terms (the window says it in its own)."""
    text = str(exc).strip()
    if isinstance(exc, UnknownWeightsError):
        return f"--weights {text}"
    if isinstance(exc, DownloadFailedError):
        return f"{text.rstrip('.')}{_offline_hint(exc.metric)}"
    hint = _hint(exc)
    return f"{text.rstrip('.')}; {hint}" if hint else text


def _offline_hint(metric: str | None) -> str:
    """What works without the network: the bundled ladder, said with its own metric (not one it lacks)."""
    try:
        bundled = BundledSource().metric
    except WeightsError:
        return "."
    if metric in (None, bundled):
        return ", or use --weights bundled."
    return f"; without it, the bundled weights work, trained for {bundled} only: --weights bundled --metric {bundled}."


def _hint(exc: BaseException) -> str | None:
    if isinstance(exc, NoBundledWeightsError):
        return (
            "use --weights compressai (downloads the official CompressAI weights) or --weights FOLDER, "
            "or train them with `lci train --ladder`."
        )
    if isinstance(exc, MetricNotBundledError):
        return f"use --weights compressai --metric {exc.metric}."
    if isinstance(exc, WeightsMismatchError) and exc.header is not None:
        kind = exc.header.source_kind
        if isinstance(exc, NoMatchingWeightsError) and kind in ("folder", "file") and not exc.tried:
            return "pass that folder or checkpoint with --weights"
        return "decode it with " + {
            "bundled": "--weights bundled",
            "compressai": "--weights compressai",  # decode takes the metric from the file
        }.get(kind, "--weights with the folder or checkpoint it was made with")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `lci` command; return its exit status (0 ok, 1 failure, 2 usage, 130 interrupted)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        return args.handler(args)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except (CliError, *USER_ERRORS) as exc:
        print(f"{PROG}: error: {_one_line(error_text(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: {where}{_one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("LCI_DEBUG"):
            raise
        print(f"{PROG}: error: unexpected {type(exc).__name__}: {_one_line(str(exc))}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
