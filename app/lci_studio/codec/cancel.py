"""Cooperative cancellation of long codec work.

Torch can't interrupt a convolution, so long work polls the caller's check between pieces small
enough to keep Stop and window close prompt (tiles, transform layers, entropy-coded channels) and
stops with `CancelledError`.
"""

from __future__ import annotations

from collections.abc import Callable

CancelCheck = Callable[[], bool]


class CancelledError(Exception):
    """The caller's cancel check said stop; the work was abandoned and nothing was produced."""


def stop_if_cancelled(cancel: CancelCheck | None) -> None:
    """Raise CancelledError when `cancel` (None: never) says stop."""
    if cancel is not None and cancel():
        raise CancelledError("cancelled")
