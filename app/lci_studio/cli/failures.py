"""How `lci` words its failures: the two errors of the command line, and the codec's errors with the
command-line advice (`error_text`; the window says the same in its own terms, `gui/worker.readable`)."""

from __future__ import annotations

from lci_studio.codec.decoding import NoMatchingWeightsError
from lci_studio.codec.pipeline import WeightsMismatchError
from lci_studio.codec.weights import (
    BundledSource,
    DownloadFailedError,
    MetricNotBundledError,
    NoBundledWeightsError,
    UnknownWeightsError,
    WeightsError,
)


class CliError(Exception):
    """A failure the user can act on; printed as one line, exit status 1."""


class UsageError(Exception):
    """A mistake in the command line; printed as one line, exit status 2."""


def one_line(text: str) -> str:
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
