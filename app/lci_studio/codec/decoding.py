"""Which weights decode a given `.lci` file: the one rule that `lci decode` and the window both follow.

A file's header names the weights it was made with (family, metric, quality, N, M, kind of
source, fingerprint). The weights offered (`--weights`, the window's current source) are tried
first, in order, where they hold that metric and quality. When none of them is of the file's
own kind, its own kind is tried next where it can be had: the bundled ladder if this copy has
it, the official CompressAI weights if they are cached or downloading is allowed. A folder or a
single checkpoint cannot be guessed, so those files decode only with the weights offered.
Every candidate must then match the fingerprint (`pipeline.check_weights`).

To change which weights decode a file, change `candidate_sources`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.lci_format import LciHeader, unpack_lci
from lci_studio.codec.model import LoadedModel, ModelInfo
from lci_studio.codec.pipeline import TileProgress, WeightsMismatchError, decode_lci, needed_weights
from lci_studio.codec.weights import BundledSource, CompressAISource, WeightsError, WeightSource

Loader = Callable[[WeightSource, int], LoadedModel]


class NoMatchingWeightsError(WeightsMismatchError):
    """None of the candidate weights can decode the file; `tried` describes the sources that were offered."""

    def __init__(self, header: LciHeader, tried: Sequence[str], name: str | None = None) -> None:
        offered = ", ".join(tried) or "no weights at all"
        subject = f"{name} needs" if name else "this file needs"
        needed = needed_weights(header).removeprefix("this file needs")
        super().__init__(f"{subject}{needed}, but the weights offered are {offered}", header)
        self.tried = list(tried)


@dataclass(frozen=True)
class DecodedFile:
    """A decoded `.lci`: its header, the pixels, the weights that decoded it and how long it took."""

    header: LciHeader
    pixels: np.ndarray
    info: ModelInfo
    seconds: float


def candidate_sources(
    header: LciHeader,
    offered: Sequence[WeightSource],
    *,
    own_kind: bool = True,
    download: bool = False,
) -> list[WeightSource]:
    """The sources to try for `header`, in order (see the module docstring for the rule).

    The offered sources are all kept, so an error can name them; `decode_file` skips those
    without the file's metric and quality. `own_kind` False keeps to the weights offered (a
    user who named weights gets those or an error); `download` lets the official weights be
    fetched when the file names them.
    """
    candidates = list(offered)
    if not own_kind or any(s.kind == header.source_kind for s in offered):
        return candidates
    own: WeightSource | None = None
    try:
        if header.source_kind == "compressai":
            official = CompressAISource(header.metric)
            if download or official.is_cached(header.quality):  # never a surprise download
                own = official
        elif header.source_kind == "bundled":
            bundled = BundledSource()
            if bundled.metric == header.metric:  # one without the quality is still named in the error
                own = bundled
    except WeightsError:  # no bundled ladder installed, no cache folder: nothing more to try
        own = None
    return candidates if own is None else [*candidates, own]


def decode_file(
    data: bytes,
    candidates: Sequence[WeightSource],
    *,
    load: Loader | None = None,
    cancel: CancelCheck | None = None,
    name: str | None = None,
    progress: TileProgress | None = None,
) -> DecodedFile:
    """Decode with the first candidate whose weights match the file (`progress`: its synthesis tiles).

    Raises the fingerprint mismatch of the last candidate tried, or `NoMatchingWeightsError`
    when no candidate holds the file's metric and quality. The bundled ladder is never tried on
    an official file nor the reverse: their header says they cannot match.
    """
    header = unpack_lci(data)[0]
    load = load or (lambda source, quality: source.load(quality, cancel=cancel))
    mismatch: WeightsMismatchError | None = None
    for source in candidates:
        if header.quality not in source.qualities() or source.metric != header.metric:
            continue
        if {source.kind, header.source_kind} == {"bundled", "compressai"}:
            # neither ever made the other's files: the header says so, no download needed to find out
            mismatch = WeightsMismatchError(
                f"{needed_weights(header)}, but the weights offered are {source.describe()}", header
            )
            continue
        loaded = load(source, header.quality)
        stop_if_cancelled(cancel)
        started = time.perf_counter()
        try:
            pixels = decode_lci(data, loaded, cancel=cancel, progress=progress)
        except WeightsMismatchError as exc:
            mismatch = exc
            continue
        return DecodedFile(header, pixels, loaded.info, time.perf_counter() - started)
    if mismatch is not None:
        raise mismatch
    raise NoMatchingWeightsError(header, [s.describe() for s in candidates], name)
