"""Weights for a command: a weight source opened, official files fetched before any work (with their
progress on stderr), and `lci fetch-weights`."""

from __future__ import annotations

import argparse
import sys
import urllib.parse
from collections.abc import Sequence
from typing import Any

from lci_studio.cli.failures import CliError
from lci_studio.cli.terminal import note, say, tty
from lci_studio.codec.model import LoadedModel
from lci_studio.codec.weights import CompressAISource, WeightSource, open_weight_source


def open_source(spec: str, metric: str = "mse", quality_label: int | None = None) -> WeightSource:
    return open_weight_source(spec, metric, quality_label=quality_label)


def load_quality(source: WeightSource, quality: int) -> LoadedModel:
    fetch_official(source, [quality])
    return source.load(quality)


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
        note(f"{source.describe()}: downloading {len(missing)} file{plural}, about {size:.1f} MB, from {host} "
              f"into {source.cache_dir}{already}")  # fmt: skip
    elif every_file:
        note(f"{source.describe()}: all {len(order)} files are in {source.cache_dir}; checking them")
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
        if not tty():
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
                note(f"  {self.label}: {self.name} already there, verified")
            return
        resumed = f", resumed at {self.first[0] / 1e6:.1f} MB" if self.first[0] else ""
        note(f"  {self.label}: {self.name}, {(self.size or 0) / 1e6:.1f} MB{resumed}, downloaded and verified")


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    source = open_source("compressai", args.metric)
    if not isinstance(source, CompressAISource):  # open_weight_source gives one for "compressai"
        raise CliError("no official weights source")
    fetch_official(source, source.qualities(), every_file=True)
    size = sum(source.expected_size(q) for q in source.qualities()) / 1e6
    flags = "--weights compressai" + (f" --metric {source.metric}" if source.metric != "mse" else "")
    say(
        f"{source.describe()}: {len(source.qualities())} files, {size:.1f} MB, verified in {source.cache_dir}; "
        f"{flags} works offline now"
    )
    return 0
