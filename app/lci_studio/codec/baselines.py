"""Classical codecs on the same image (JPEG, WebP, AVIF, JPEG XL where installed), really encoded.

Each point comes from bytes Pillow actually wrote and decoded again, so the comparison
with the learned codec is like for like: file size against 8-bit reconstruction.

`CLASSICAL_CODECS` is the table of codecs: each is declared once (its name, how Pillow writes it,
its setting range, its colour, whether this install has it), and everything downstream (the sweep,
the tables, JSON, BD, the RD plot, the split's and the grid's pictures at a quality's size) iterates
over the ones `available_codecs` finds. `SweepPlan` is the one rule for which settings are measured
and in what order: `sweep` / `sweeps` (`lci compare`, `lci bench`; several codecs, on threads) run it,
and the window's analysis job drives it a point at a time, between its other work.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import math
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, features

from lci_studio.codec import metrics as metrics_table
from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled

# Quality settings swept per codec: dense at the low end where curves bend.
SETTINGS = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
# Settings added to a sweep when SETTINGS don't reach the ladder's lowest or highest bpp.
LOW_EXTRA = (1, 2, 3)
HIGH_EXTRA = (98, 100)
# The fixed sweep `lci bench` averages over images (the same settings on every image, so means are
# curves): SETTINGS widened at both ends, and denser where the high levels' verdict falls
# (1.3-1.9 bpp lies between JPEG 80 and 90 on photos), so that the gap at the same bpp there
# is read off measured points, not off a straight line between two far-apart ones.
BENCH_SETTINGS = tuple(sorted({2, *SETTINGS, 75, 85, 98}))
BENCH_CODECS = ("JPEG", "WebP")
# libavif writes other bytes with one encoder thread than with two or more (the same for 2, 3, 8 and 16
# on eval photos), and Pillow's default is one per CPU: so a one-core machine would measure other AVIF
# points. Never fewer than two keeps every machine's AVIF curve the same.
AVIF_MIN_THREADS = 2


@dataclass(frozen=True)
class BaselinePoint:
    codec: str  # a name in CLASSICAL_CODECS
    setting: int  # the codec's own quality setting
    bpp: float
    metrics: dict[str, float] = field(hash=False)  # by `metrics.METRICS` key; an on-demand one absent until measured
    file_bytes: int
    data: bytes = field(default=b"", repr=False, compare=False)  # the file Pillow wrote: the picture on demand

    @property
    def psnr(self) -> float:
        """PSNR-RGB, measured with every point."""
        return self.metrics["psnr"]

    def metric(self, key: str) -> float:
        """The metric's value, NaN while it is not measured."""
        return self.metrics.get(key, math.nan)


@dataclass(frozen=True)
class ClassicalCodec:
    """A classical codec as every face shows it: one row of `CLASSICAL_CODECS`."""

    name: str  # as shown, and the key in tables and JSON
    pillow_format: str  # the format name Pillow saves it under
    colour: str  # its curve and legend colour (#rrggbb), the same wherever it is drawn
    available: Callable[[], bool]  # whether this Pillow (and its plugins) can write it
    options: Callable[[], dict] = dict  # extra save options, asked at each encode
    highest: int = 100  # the highest quality setting that is still a lossy encode


def _plugin_registered(module: str) -> Callable[[], bool]:
    """A Pillow plugin's availability: importing the module registers its format."""

    def available() -> bool:
        try:
            importlib.import_module(module)
        except ImportError:
            return False
        return True

    return available


CLASSICAL_CODECS: dict[str, ClassicalCodec] = {
    codec.name: codec
    for codec in (
        ClassicalCodec("JPEG", "JPEG", "#4c6ef5", lambda: True),
        ClassicalCodec("WebP", "WEBP", "#37b24d", lambda: bool(features.check("webp"))),
        ClassicalCodec(
            "AVIF", "AVIF", "#ae3ec9", lambda: bool(features.check("avif")),
            options=lambda: {"max_threads": max(AVIF_MIN_THREADS, usable_cpus())},
        ),
        # pillow-jxl-plugin (libjxl at its default effort 7); quality 100 would ask for lossless mode,
        # which the plugin only gives with lossless=True: 99 is the highest lossy setting.
        ClassicalCodec("JPEG XL", "JXL", "#0c8599", _plugin_registered("pillow_jxl"), highest=99),
    )
}


def available_codecs() -> tuple[str, ...]:
    """The codecs of `CLASSICAL_CODECS` this install can write, in the table's order."""
    return tuple(name for name, codec in CLASSICAL_CODECS.items() if codec.available())


def encode_classical(pixels: np.ndarray, codec: str, setting: int) -> bytes:
    """Bytes of the image in a classical format at a quality setting (Pillow's defaults otherwise)."""
    spec = CLASSICAL_CODECS[codec]
    if not 0 <= setting <= spec.highest:
        raise ValueError(f"{codec} quality settings go from 0 to {spec.highest}, not {setting}")
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format=spec.pillow_format, quality=setting, **spec.options())
    return buffer.getvalue()


# Pillow's names of the files a classical codec writes, where re-encoding such a file with that codec lands on
# what its own earlier pass kept: a JPEG photo re-encoded as JPEG meets its own 8×8 blocks and scores up to
# ~57 dB at the same bpp, which is no verdict on the codec. A phone's JPEG with a depth or gain map is an MPO.
_OWN_OUTPUT = {"JPEG": "JPEG", "MPO": "JPEG"}


def reencodes_itself(path: str | os.PathLike | None) -> str | None:
    """The classical codec that the original file already came out of ("JPEG" for a JPEG photo), whose curve
    on it is flattered; None for any other file, or none (a pasted picture), or one that cannot be read."""
    if path is None:
        return None
    try:
        with Image.open(path) as image:  # the header only
            return _OWN_OUTPUT.get(image.format or "")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one, as Pillow counts them for
    its default thread count): a container or `taskset` limits it below `os.cpu_count()`, and every
    thread count in the core (AVIF's encoder threads, `comparison.analysis_workers`) comes from here."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def decode_classical(data: bytes) -> np.ndarray:
    """The 8-bit RGB picture a classical file decodes to."""
    with Image.open(io.BytesIO(data)) as decoded:
        return np.asarray(decoded.convert("RGB"))


def baseline_point(
    pixels: np.ndarray, codec: str, setting: int, *, on_demand: Iterable[str] | None = None
) -> BaselinePoint:
    """One classical-codec point measured from the bytes Pillow writes at `setting`.

    Every always-measured metric, and of the on-demand ones (`metrics.on_demand`) those in `on_demand`
    (default: all): a face that measures them only when shown passes the ones shown.
    """
    data = encode_classical(pixels, codec, setting)
    reconstruction = decode_classical(data)
    height, width = pixels.shape[:2]
    keys = (*metrics_table.always_measured(), *(metrics_table.on_demand() if on_demand is None else on_demand))
    measured = metrics_table.measure(pixels, reconstruction, keys)
    return BaselinePoint(codec, setting, len(data) * 8 / (height * width), measured, len(data), data)


def with_metrics(
    pixels: np.ndarray, point: BaselinePoint, keys: Iterable[str] | None = None, cancel: CancelCheck | None = None
) -> BaselinePoint:
    """`point` with the metrics `keys` (default: every one) measured where missing (decoded again from its
    bytes; a new point)."""
    lacking = metrics_table.missing(point.metrics, keys)
    if not lacking:
        return point
    if not point.data:
        raise ValueError(f"{point.codec} {point.setting} carries no bytes to measure")
    measured = metrics_table.measure(pixels, decode_classical(point.data), lacking, cancel)
    return dataclasses.replace(point, metrics={**point.metrics, **measured})


def extra_settings(
    points: Sequence[BaselinePoint], low_bpp: float | None, high_bpp: float | None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Settings a sweep adds (before, after) when its `points` miss the ladder's [low_bpp, high_bpp]."""
    if not points:
        return (), ()
    low = LOW_EXTRA if low_bpp is not None and min(p.bpp for p in points) > low_bpp else ()
    high = HIGH_EXTRA if high_bpp is not None and max(p.bpp for p in points) < high_bpp else ()
    return low, high


def sweep(
    pixels: np.ndarray,
    codec: str,
    low_bpp: float | None = None,
    high_bpp: float | None = None,
    *,
    settings: Sequence[int] = SETTINGS,
    cancel: CancelCheck | None = None,
) -> list[BaselinePoint]:
    """A codec's RD points around a ladder: `settings`, extended where they miss [low_bpp, high_bpp].

    With a bpp range (the ladder's on this image), LOW_EXTRA / HIGH_EXTRA are added when the
    sweep's ends don't reach it (`extra_settings`), so BD-rate can bracket every level. Without
    one the settings are kept as given: `lci bench` needs the same settings on every image to
    average them. Measured one point after another (`settings`, then the extras) and returned by
    rising setting (low extras, settings, high extras); `SweepPlan` holds the rule, `sweeps` runs
    it for several codecs and threads.
    """
    return sweeps(pixels, (codec,), low_bpp, high_bpp, settings=settings, cancel=cancel)[codec]


# How `sweeps` has a point measured: `submit(fn, *args)` runs `fn(*args)` now or later and returns its
# Future, as `Executor.submit` does.
Submit = Callable[..., "Future[BaselinePoint]"]


class SweepPlan:
    """Which settings each codec's sweep measures and in what order: the one rule that `sweeps` (CLI,
    one point after another or on a pool) and the window's analysis job (a point at a time beside the
    ladder) both follow, however their points arrive.

    A codec hands out its `settings` first; once they are all measured and the ladder's bpp range is
    known, `decide` adds its range extras (`extra_settings`), handed out next. `points` lists what is
    measured in sweep order (low extras, settings, high extras: rising settings). A point added again
    (with an on-demand metric measured later) replaces the first.
    """

    def __init__(self, codecs: Iterable[str], settings: Sequence[int] = SETTINGS) -> None:
        self.codecs = tuple(codecs)
        self._settings = tuple(settings)
        self._measured: dict[str, dict[int, BaselinePoint]] = {codec: {} for codec in self.codecs}
        self._extras: dict[str, tuple[tuple[int, ...], tuple[int, ...]] | None] = dict.fromkeys(self.codecs)
        self._handed = dict.fromkeys(self.codecs, 0)  # settings handed out so far, in `_sequence` order

    def _sequence(self, codec: str) -> tuple[int, ...]:
        """The order settings are handed out: the codec's settings, then its low and high extras."""
        before, after = self._extras[codec] or ((), ())
        return (*self._settings, *before, *after)

    def next_setting(self, codec: str) -> int | None:
        """The codec's next setting to measure, or None while nothing more can be handed out; a setting
        `add`ed before it was handed out (the window resuming a stopped sweep) is not measured again."""
        sequence, handed = self._sequence(codec), self._handed[codec]
        while handed < len(sequence) and sequence[handed] in self._measured[codec]:
            handed += 1
        if handed == len(sequence):
            return None
        self._handed[codec] = handed + 1
        return sequence[handed]

    def add(self, point: BaselinePoint) -> None:
        self._measured[point.codec][point.setting] = point

    def settled(self, codec: str) -> bool:
        """All the codec's settings are measured: its extras can be decided."""
        return all(s in self._measured[codec] for s in self._settings)

    def undecided(self, codec: str) -> bool:
        return self._extras[codec] is None

    def decide(self, codec: str, low_bpp: float | None, high_bpp: float | None) -> None:
        """Fix the codec's extras from its settings' points and the ladder's bpp range (None: no extras)."""
        measured = self._measured[codec]
        before, after = extra_settings([measured[s] for s in self._settings], low_bpp, high_bpp)
        fresh = self._settings  # (a setting both in `settings` and an extra is measured once)
        highest = CLASSICAL_CODECS[codec].highest if codec in CLASSICAL_CODECS else max(HIGH_EXTRA)
        self._extras[codec] = (
            tuple(s for s in before if s not in fresh),
            tuple(s for s in after if s not in fresh and s <= highest),
        )

    def complete(self, codec: str) -> bool:
        """Extras decided and every setting of the codec measured."""
        return not self.undecided(codec) and all(s in self._measured[codec] for s in self._sequence(codec))

    def points(self, codec: str) -> list[BaselinePoint]:
        """What is measured of the codec, by rising setting: the sweep's order, as the extras lie beyond
        both ends of the settings (and a curve drawn through them in this order doesn't double back)."""
        measured = self._measured[codec]
        return [measured[s] for s in sorted(measured)]


def sweeps(
    pixels: np.ndarray,
    codecs: Iterable[str],
    low_bpp: float | None = None,
    high_bpp: float | None = None,
    *,
    settings: Sequence[int] = SETTINGS,
    cancel: CancelCheck | None = None,
    submit: Submit | None = None,
) -> dict[str, list[BaselinePoint]]:
    """`sweep` of each of `codecs` (keyed in their order), its points measured by `submit` (`SweepPlan`'s rule).

    Without `submit` each point is measured at once, one after another, as `sweep` does. With an
    executor's submit (`comparison.measure_around`, for `lci compare`) every codec's `settings` are
    queued first, in the order of `codecs`, and a codec's extras as soon as its own settings are
    measured (they decide them): the same points, values and order as one after another. `cancel`
    is checked before each point, in whichever thread measures it; a point's error is raised here.
    """
    submit = submit or _measure_now
    plan = SweepPlan(codecs, settings)

    def point(codec: str, setting: int) -> BaselinePoint:
        stop_if_cancelled(cancel)
        return baseline_point(pixels, codec, setting)

    pending: set[Future[BaselinePoint]] = set()
    while True:
        for codec in plan.codecs:
            if plan.settled(codec) and plan.undecided(codec):
                plan.decide(codec, low_bpp, high_bpp)
            while (setting := plan.next_setting(codec)) is not None:
                pending.add(submit(point, codec, setting))
        if not pending:
            return {codec: plan.points(codec) for codec in plan.codecs}
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            plan.add(future.result())


def _measure_now(fn: Callable[..., BaselinePoint], *args: object) -> Future[BaselinePoint]:
    """`Submit` without threads: measures in the caller's thread, and its errors (a cancel) propagate from here."""
    future: Future[BaselinePoint] = Future()
    future.set_result(fn(*args))
    return future


def at_size(pixels: np.ndarray, codec: str, target_bytes: int, cancel: CancelCheck | None = None) -> BaselinePoint:
    """The codec's setting (1 to its highest) whose file is nearest `target_bytes`, measured (no on-demand metric).

    File size grows with the setting, so a bisection finds it in about seven encodes; the nearest
    of the two settings around the target wins (ties: the smaller file).
    """
    tried: dict[int, BaselinePoint] = {}

    def point(setting: int) -> BaselinePoint:
        stop_if_cancelled(cancel)
        if setting not in tried:
            tried[setting] = baseline_point(pixels, codec, setting, on_demand=())
        return tried[setting]

    lo, hi = 1, CLASSICAL_CODECS[codec].highest
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if point(mid).file_bytes <= target_bytes:
            lo = mid
        else:
            hi = mid
    candidates = [point(lo), point(hi)]
    return min(candidates, key=lambda p: (abs(p.file_bytes - target_bytes), p.file_bytes))
