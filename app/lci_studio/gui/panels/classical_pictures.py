"""The classical codecs at the selected quality's size as pictures, shared by the grid's classical column and
the split view (the window builds one and hands it to both). The pictures are decoded in the worker
(`ClassicalJob`) and kept here as they come (`keep`), before their points reach the session."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lci_studio.codec.baselines import BaselinePoint
from lci_studio.session import Session


class ClassicalPictures:
    """The classical codecs at the selected quality's size as pictures, for the grid and the split alike;
    `wanted` is told (codec, quality) of one that is not there yet, `keep` is given its picture."""

    def __init__(self, session: Session, wanted: Callable[[str, int], None]) -> None:
        self.session = session
        self.wanted = wanted
        self._pictures: dict[tuple[str, int], np.ndarray] = {}

    def keep(self, codec: str, quality: int, pixels: np.ndarray) -> None:
        """The picture of (codec, quality), decoded in the worker; those of earlier pictures go."""
        self._pictures = {k: v for k, v in self._pictures.items() if k in self.session.classical}
        self._pictures[(codec, quality)] = pixels

    def get(self, codec: str, ask: bool = True) -> tuple[BaselinePoint, int, np.ndarray] | None:
        """(point, quality, pixels) of `codec` at the selected quality's size; None (asked for, with
        `ask`) while it is not measured, or when the selected quality has no result to match."""
        session, quality = self.session, self.session.selected
        result = session.results.get(quality) if quality is not None else None
        if result is None or quality is None:
            return None
        point = session.classical.get((codec, quality))
        pixels = self._pictures.get((codec, quality))
        if point is None or pixels is None or pixels.shape[:2] != result.reconstruction.shape[:2]:
            if ask and point is None:
                self.wanted(codec, quality)
            return None
        return point, quality, pixels
