"""The worker's refinement job: qualities already shown, encoded again by the refined encoder (issue 24).

Refinement is a second encoder for the same decoder (`codec/refinement.py`): it starts from g_a's
latents and spends tens of seconds per quality choosing better ones for this one picture. That is far
too long for the GUI thread, so it runs as a job of the worker's codec thread, with the meter and Stop
like the ladder: the codec polls the job's cancel check between the layers of every step, and a
cancelled quality emits nothing (the plain result stays the one shown; no partial file exists).

Both are job kinds as gui/jobs.py describes them (a frozen dataclass with its `run`: `EachQuality`'s loop over
the qualities, each job only its `work` on one), on the "refine" lane of the codec thread. Signals (the
worker's own, see `gui/worker.py`): jobStarted(id, "refine", qualities), progress(id, done, qualities, text)
with a fraction of a quality while its steps run, resultReady(id, QualityResult) once per quality (its
`encoder` says refined), then jobFinished. A `BandJob` (where each level's band of λ takes the picture) emits
resultReady(id, LevelBand) per quality instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from lci_studio.codec.cancel import stop_if_cancelled
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import QualityResult, measure_quality
from lci_studio.codec.refinement import BandPoint, Encoder, band_reach
from lci_studio.gui.jobs import JobSignals, Running

if TYPE_CHECKING:
    from lci_studio.codec.model import LoadedModel
    from lci_studio.codec.weights import WeightSource

# the share of a quality's meter each stage fills: g_a's tiles are quick, the steps are nearly all of it
_STAGE_SHARE = {"encode": (0.0, 0.05), "refine": (0.05, 0.9), "decode": (0.95, 0.05)}


# how far a quality's work is, as a fraction of that quality, and in words
Report = Callable[[float, str], None]


@dataclass(frozen=True)
class EachQuality:
    """A job of the refine lane: `work` on each of `qualities` of `source` for `image`, by `encoder`, one
    result out per quality (resultReady) unless cancelled; cancel polled between qualities."""

    image: RgbImage
    source: WeightSource
    qualities: tuple[int, ...]
    encoder: Encoder
    kind: ClassVar[str]
    lane: ClassVar[str] = "refine"
    title: ClassVar[str]

    def work(self, loaded: LoadedModel, report: Report, run: Running) -> object:
        """One quality's result, `report` told how far it is within the quality."""
        raise NotImplementedError

    def run(self, run: Running, signals: JobSignals) -> None:
        total = len(self.qualities)
        signals.jobStarted.emit(run.job_id, self.kind, total)
        for index, quality in enumerate(self.qualities):
            stop_if_cancelled(run.cancel)
            signals.progress.emit(run.job_id, index, total, f"q{quality}: loading its weights")
            loaded = self.source.load(quality, cancel=run.cancel)

            def report(fraction: float, words: str, index: int = index, quality: int = quality) -> None:
                signals.progress.emit(run.job_id, index + fraction, total, f"q{quality}: {words}")

            result = self.work(loaded, report, run)
            stop_if_cancelled(run.cancel)
            signals.resultReady.emit(run.job_id, result)
            signals.progress.emit(run.job_id, index + 1, total, "")


@dataclass(frozen=True)
class RefineJob(EachQuality):
    """Encode `image` at `qualities` of `source` with `encoder` (a refining one), decode from the bytes and
    measure each (MS-SSIM included: a refinement costs seconds, MS-SSIM a fraction of that)."""

    kind: ClassVar[str] = "refine"
    title: ClassVar[str] = "Could not refine"

    def work(self, loaded: LoadedModel, report: Report, run: Running) -> QualityResult:
        def stage(name: str, done: int, count: int) -> None:
            start, share = _STAGE_SHARE.get(name, (0.0, 0.0))
            words = f"refining, step {done} of {count}" if name == "refine" else f"{name} tile {done} of {count}"
            report(start + share * done / max(count, 1), words)

        return measure_quality(loaded, self.image, run.cancel, stage, self.encoder)


@dataclass(frozen=True)
class LevelBand:
    """One level's reachable band on one picture: where refining for the λ at the band's ends lands."""

    quality: int
    points: tuple[BandPoint, ...]


@dataclass(frozen=True)
class BandJob(EachQuality):
    """Measure each of `qualities`' band on `image`: refined by `encoder` for the lowest and the highest λ its
    decoder may be refined for (`refinement.band_reach`), from the real files and their decodes."""

    kind: ClassVar[str] = "band"
    title: ClassVar[str] = "Could not measure the bands"

    def work(self, loaded: LoadedModel, report: Report, run: Running) -> LevelBand:
        def steps(done: int, count: int) -> None:
            report(done / max(count, 1), f"the ends of its band, step {done} of {count}")

        points = band_reach(loaded, self.image.pixels, self.encoder, cancel=run.cancel, progress=steps)
        return LevelBand(loaded.info.quality, tuple(points))
