"""The window's one wording of an exception for a person: the core's errors as they are, with this
window's advice ("choose … in Settings"); anything else (a fault) with its type. The command line's
counterpart is `cli.error_text`."""

from __future__ import annotations

from lci_studio.codec.errors import USER_ERRORS
from lci_studio.codec.pipeline import WeightsMismatchError
from lci_studio.codec.weights import DownloadFailedError, MetricNotBundledError, NoBundledWeightsError


def readable(exc: BaseException) -> str:
    """One sentence for a dialog: the codec's own errors already are (with what to do in this window's
    terms); anything else gets its type."""
    known = isinstance(exc, USER_ERRORS)
    text = str(exc) if known else f"{type(exc).__name__}: {exc}"
    text = text.strip() or type(exc).__name__
    if isinstance(exc, NoBundledWeightsError):
        text = f"{text.rstrip('.')}; choose CompressAI's official weights or a folder of checkpoints in Settings."
    elif isinstance(exc, MetricNotBundledError):
        text = f"{text.rstrip('.')}; choose CompressAI's official weights for {exc.metric} in Settings."
    elif isinstance(exc, DownloadFailedError):
        text = f"{text.rstrip('.')}, or choose the bundled weights in Settings."
    elif isinstance(exc, WeightsMismatchError) and exc.header is not None:
        text = f"{text}; choose the weights it was made with in Settings"
    first = text.split(" ", 1)[0]
    # "the .lci file is corrupt" → "The .lci file…"; file names ("q4.pth.tar …") stay as they are
    return text[0].upper() + text[1:] if first.isalpha() and first.islower() else text
