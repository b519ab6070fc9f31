"""The classical codecs at the selected quality's size as pictures, decoded once and shared by the grid's
classical column and the split view (the window builds one and hands it to both)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lci_studio.codec.baselines import BaselinePoint, decode_classical
from lci_studio.session import Session


class ClassicalPictures:
    """The classical codecs at the selected quality's size as pictures, each file decoded once, for
    the grid and the split alike; `wanted` is told (codec, quality) of one that is not there yet."""

    def __init__(self, session: Session, wanted: Callable[[str, int], None]) -> None:
        self.session = session
        self.wanted = wanted
        self._decoded: dict[tuple[str, int], np.ndarray] = {}

    def get(self, codec: str, ask: bool = True) -> tuple[BaselinePoint, int, np.ndarray] | None:
        """(point, quality, pixels) of `codec` at the selected quality's size; None (asked for, with
        `ask`) while it is not measured, or when the selected quality has no result to match."""
        session, quality = self.session, self.session.selected
        result = session.results.get(quality) if quality is not None else None
        if result is None or quality is None:
            return None
        point = session.classical.get((codec, quality))
        if point is None:
            if ask:
                self.wanted(codec, quality)
            return None
        key = (codec, quality)
        if key not in self._decoded or self._decoded[key].shape[:2] != result.reconstruction.shape[:2]:
            self._decoded = {k: v for k, v in self._decoded.items() if k in session.classical}
            self._decoded[key] = decode_classical(point.data)
        return point, quality, self._decoded[key]
