"""Draw an `lci bench` JSON as an RD plot PNG (learned ladder vs JPEG vs WebP), offscreen.

usage: python bench/plot_rd.py BENCH.json OUT.png [--title TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtWidgets import QApplication

STYLES = {"ladder": ("#1f77b4", "o"), "JPEG": ("#d62728", "s"), "WebP": ("#2ca02c", "t"), "AVIF": ("#9467bd", "d")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bench_json")
    parser.add_argument("out_png")
    parser.add_argument("--title", default="")
    args = parser.parse_args()
    with open(args.bench_json) as handle:
        document = json.load(handle)
    app = QApplication.instance() or QApplication(sys.argv)
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    plot = pg.PlotWidget(title=args.title or document.get("description", ""))
    plot.resize(1200, 830)
    plot.show()  # laid out at the exported size: a rescaled export lets the axis label drift onto the ticks
    plot.addLegend(offset=(-10, -60))
    plot.showGrid(x=True, y=True, alpha=0.3)
    plot.setLabel("bottom", "bits per pixel (real file size)")
    plot.setLabel("left", "PSNR-RGB (dB)")
    curves = [("LCI bundled ladder (q1…q8)", "ladder", document["results"])]
    curves += [(f"Pillow {codec}", codec, c["results"]) for codec, c in document.get("baselines", {}).items()]
    top = max(document["results"]["bpp"]) * 1.25
    for label, style, results in curves:
        pairs = zip(results["bpp"], results["psnr-rgb"], strict=True)
        points = [(b, p) for b, p in pairs if p is not None and b <= top]
        colour, symbol = STYLES.get(style, ("#555555", "o"))
        plot.plot(
            [b for b, _ in points],
            [p for _, p in points],
            name=label,
            pen=pg.mkPen(colour, width=2),
            symbol=symbol,
            symbolBrush=colour,
            symbolPen=colour,
            symbolSize=8,
        )
    app.processEvents()
    exporter = ImageExporter(plot.getPlotItem())
    exporter.parameters()["width"] = 1200
    tmp = args.out_png + ".part.png"
    exporter.export(tmp)
    os.replace(tmp, args.out_png)
    app.processEvents()
    print(f"wrote {args.out_png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
