"""The RD plot's layers for the second encoder: each refined quality as a star beside its plain point, and
each level's measured band (`LevelBands`: how far refining for another λ moves it).

The refined encoder (issue 24) writes a quality's file again with the same decoder and better numbers
for this photo; on the plot a thin line leads from the plain point (g_a's one-pass guess) to the star,
so a viewer sees how much the guess left on the table. The layer owns its items and legend row; the plot
draws it over the session's `refined` results (`draw`) and adds its rows to what hovering and clicking find.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from lci_studio.codec.explanation import refined_gain
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.refinement import BandPoint

REFINED_SYMBOL = "star"
REFINED_SERIES = "LCI, refined"
BANDS_SERIES = "LCI, reach of λ band"
STAR_COLOUR = "#ffd43b"


class RefinedPoints:
    """Stars and plain → refined links on `plot` (a pyqtgraph PlotItem), with a row in `legend` while shown."""

    def __init__(self, plot: pg.PlotItem, legend: pg.LegendItem, colour: str) -> None:
        link = pg.mkPen(colour, width=1.2, style=Qt.PenStyle.DotLine)
        self._links = pg.PlotDataItem([], [], connect="pairs", pen=link)
        # gold with a dark rim: apart from the plain series' orange dots even where a star sits on one
        self._stars = pg.ScatterPlotItem(
            [], [], symbol=REFINED_SYMBOL, size=19, brush=pg.mkBrush(STAR_COLOUR), pen=pg.mkPen("#202020", width=1.2)
        )
        for item, z in ((self._links, 8), (self._stars, 12)):
            item.setZValue(z)
            plot.addItem(item)
        self._row = _LegendRow(legend, self._stars, REFINED_SERIES)
        self._plain: dict[int, QualityResult] = {}

    def draw(
        self,
        plain: Mapping[int, QualityResult],
        refined: Mapping[int, QualityResult],
        where: Callable[[QualityResult], tuple[float, float] | None],
    ) -> list[tuple[int, float, float, QualityResult]]:
        """Draw the refined results that have a plain one and a place (`where`: x, y or None); returns
        (quality, x, y, result) of each star drawn."""
        stars: list[tuple[int, float, float, QualityResult]] = []
        links: list[float] = []
        link_ys: list[float] = []
        self._plain = dict(plain)
        for quality in sorted(refined):
            result, before = refined[quality], plain.get(quality)
            at, start = where(result), where(before) if before is not None else None
            if at is None or start is None:
                continue
            stars.append((quality, *at, result))
            links.extend((start[0], at[0]))
            link_ys.extend((start[1], at[1]))
        self._stars.setData([s[1] for s in stars], [s[2] for s in stars])
        self._links.setData(links, link_ys)
        self._row.show(bool(stars))
        return stars

    def describe(self, result: QualityResult) -> str:
        """The hover text's lines for a refined point: which encoder, and its gain over the plain file."""
        plain = self._plain.get(result.quality)
        gain = f"\n{refined_gain(plain, result)} (against the plain encoder)" if plain is not None else ""
        return f"{result.encoder.describe()}\nthe same decoder, better numbers chosen for this photo{gain}"


class LevelBands:
    """Each measured level's band on `plot`: a wide translucent bar from where refining for its band's lowest
    λ takes the picture to where its highest λ does; the gaps between the bars are what no refinement of one
    level reaches. A legend row while any is shown."""

    def __init__(self, plot: pg.PlotItem, legend: pg.LegendItem, colour: str) -> None:
        wash = QColor(colour)
        wash.setAlpha(90)
        pen = pg.mkPen(wash, width=11)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        self._bars = pg.PlotDataItem([], [], connect="pairs", pen=pen)
        self._bars.setZValue(5)
        plot.addItem(self._bars)
        self._row = _LegendRow(legend, self._bars, BANDS_SERIES)

    def draw(
        self, bands: Mapping[int, tuple[BandPoint, ...]], place: Callable[[BandPoint], tuple[float, float] | None]
    ) -> int:
        """Draw the bands that have a place on the plot now (`place`: None on another axis); returns how many."""
        xs: list[float] = []
        ys: list[float] = []
        for quality in sorted(bands):
            ends = [place(point) for point in (bands[quality][0], bands[quality][-1])]
            if None in ends:
                continue
            for x, y in ends:  # type: ignore[misc]
                xs.append(x)
                ys.append(y)
        self._bars.setData(xs, ys)
        shown = len(xs) // 2
        self._row.show(bool(shown))
        return shown

    def data(self) -> tuple[list[float], list[float]]:
        """The bars' ends as drawn (x, y lists; pairs)."""
        xs, ys = self._bars.getData()
        return ([] if xs is None else list(xs)), ([] if ys is None else list(ys))


class _LegendRow:
    """A layer's row in the plot's legend, there only while the layer draws something."""

    def __init__(self, legend: pg.LegendItem, item: pg.GraphicsObject, name: str) -> None:
        self._legend, self._item, self._name, self._shown = legend, item, name, False

    def show(self, shown: bool) -> None:
        if shown and not self._shown:
            self._legend.addItem(self._item, self._name)
        elif not shown and self._shown:
            self._legend.removeItem(self._item)
        self._shown = shown
