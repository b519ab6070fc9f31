"""Everything the window writes out: .lci files, PNGs, the RD data (CSV, JSON) and the plot, and the clipboard.

Each export has a direct form (a path in, True/the paths written out; what scripts and tests call)
and a dialog form for the menus. Writes are atomic and asked about once when they would replace
files; a failure becomes a dialog and the window keeps running. No codec or metric work runs on the
GUI thread: the RD data holds every metric (MS-SSIM…), and what is missing is measured by the worker first
(`complete`, with the meter; Stop writes nothing); PNGs are compressed and written by the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
from PySide6.QtCore import QObject, QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from lci_studio.codec import image_io, report
from lci_studio.codec.ladder import QualityResult
from lci_studio.codec.metrics import METRICS, on_demand
from lci_studio.gui.jobs import WriteJob
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.gui.qimage import from_qimage, to_qimage
from lci_studio.gui.worker import CodecWorker
from lci_studio.session import Session


class Exports(QObject):
    """The window's exports of its `session`; `say` puts a line in the status bar, `complete(then)` calls
    `then` once the worker has measured every missing metric (`ViewJobs.complete_metrics`); PNGs are
    compressed and written by `worker`. Its Qt parent is the window its dialogs are centred on."""

    def __init__(
        self,
        parent: QWidget,
        session: Session,
        settings: QSettings,
        plot: RdPlot,
        say: Callable[[str], None],
        show_error: Callable[[str, str], None],
        complete: Callable[[Callable[[], None]], None],
        worker: CodecWorker,
    ) -> None:
        super().__init__(parent)
        self._session, self._settings, self._plot = session, settings, plot
        self._say, self._show_error, self._complete = say, show_error, complete
        self._worker = worker
        self._writing: dict[int, tuple[Path, str]] = {}  # PNGs being written in the worker: job id → path, note
        worker.failed.connect(self._on_write_failed)
        worker.jobFinished.connect(self._on_write_finished)

    # ------------------------------------------------------------------------------------ direct

    def selected_lci(self, path: str | Path) -> bool:
        """The selected quality's file: the refined encoder's when there is one (`Session.file_result`)."""
        result = self._session.file_result(self._session.selected)
        if result is None:
            return False
        write = (Path(path), lambda p: image_io.atomic_write(p, result.lci))
        return bool(self._write([write], note=_made_by([result])))

    def all_lci(self, folder: str | Path) -> list[Path]:
        """Every quality's file into `folder`, each the refined one where there is one."""
        folder = Path(folder)
        results = [self._session.file_result(q) for q in sorted(self._session.results)]
        writes = [
            (folder / f"{self.stem()}-q{r.quality}.lci", lambda p, r=r: image_io.atomic_write(p, r.lci))
            for r in results
            if r is not None
        ]
        return self._write(writes, note=_made_by([r for r in results if r is not None]))

    def png(self, path: str | Path) -> bool:
        """The selected picture as a PNG (the refined file's picture when there is one), compressed and written
        in the worker (True: on its way)."""
        pixels = self._session.selected_pixels
        if pixels is None:
            return False
        result = self._session.file_result(self._session.selected)
        return self._write_png(Path(path), pixels, note=_made_by([result] if result is not None else []))

    def csv(self, path: str | Path) -> bool:
        """What `lci compare --csv` writes for the same picture (see `_when_measured`)."""
        session = self._session

        def text() -> str:
            return report.comparison_csv(session.results.values(), session.baselines, session.refined.values())

        return self._when_measured(Path(path), text)

    def json(self, path: str | Path) -> bool:
        """What `lci compare --json` writes for the same picture and weights, but for the timings (see
        `_when_measured`)."""
        session = self._session

        def text() -> str:
            weights = session.source.describe() if session.source is not None else "unknown weights"
            document = report.comparison_json(session.results.values(), session.baselines, session.image, weights)
            if session.refined:  # the second encoder's points beside the plain ladder, each with its encoder
                document["refined"] = report.refined_json(session.refined.values())
            return report.json_text(document)

        return self._when_measured(Path(path), text)

    def _when_measured(self, path: Path, text: Callable[[], str]) -> bool:
        """Write `text()` to `path` once every metric is measured: at once when none is missing, else after
        the worker has measured it (the meter counts it; Stop writes nothing). The overwrite question
        comes first. True when written or on its way, False when the question was declined."""
        if not self.confirm_overwrite([path]):
            return False
        if self._session.missing_metrics():
            names = " and ".join(METRICS[key].name for key in on_demand())
            self._say(f"Measuring {names} for {path.name}: it is written when that is done (Esc stops).")
        self._complete(lambda: self._write_text(path, text(), asked=True))
        return True

    def plot(self, path: str | Path) -> bool:
        """The RD plot as a PNG: drawn here, compressed and written in the worker (True: on its way)."""
        if not self.confirm_overwrite([Path(path)]):
            return False
        opaque = self._plot.render().convertToFormat(QImage.Format.Format_RGB888)  # the plot has a background
        return self._write_png(Path(path), from_qimage(opaque, "plot").pixels, asked=True)

    def copy_selected(self) -> None:
        pixels = self._session.selected_pixels
        if pixels is None:
            return
        QApplication.clipboard().setImage(to_qimage(pixels))
        result = self._session.file_result(self._session.selected)
        self._say(f"Copied quality {self._session.selected} to the clipboard{_made_by([result] if result else [])}.")

    # ------------------------------------------------------------------------------------ dialogs

    def selected_lci_dialog(self) -> None:
        name = f"{self.stem()}-q{self._session.selected}.lci"
        path = self._save_path(f"Save quality as .lci{self._refined_title()}", name, "LCI files (*.lci)")
        if path:
            self.selected_lci(path if path.suffix else path.with_suffix(".lci"))

    def all_lci_dialog(self) -> None:
        refined = len(self._session.refined)
        which = f" ({refined} of them the refined encoder's files)" if refined else ""
        title = f"Save every quality as .lci{which} into…"
        folder = QFileDialog.getExistingDirectory(self._dialog_parent(), title, self._export_dir())
        if folder:
            self._settings.setValue("export/dir", folder)
            self.all_lci(folder)

    def png_dialog(self) -> None:
        name = f"{self.stem()}-q{self._session.selected}.png"
        path = self._save_path(f"Save reconstruction as PNG{self._refined_title()}", name, "PNG images (*.png)")
        if path:
            self.png(path if path.suffix else path.with_suffix(".png"))

    def data_dialog(self, kind: str) -> None:
        """"csv", "json" (the RD data) or "plot" (the RD plot as PNG)."""
        title, suffix, filters, write = {
            "csv": ("Save RD data as CSV", "csv", "CSV files (*.csv)", self.csv),
            "json": ("Save RD data as JSON", "json", "JSON files (*.json)", self.json),
            "plot": ("Save the RD plot as PNG", "png", "PNG images (*.png)", self.plot),
        }[kind]
        path = self._save_path(title, f"{self.stem()}-rd.{suffix}", filters)
        if path:
            write(path if path.suffix else path.with_suffix(f".{suffix}"))

    # ------------------------------------------------------------------------------------ internals

    def _refined_title(self) -> str:
        """What a save dialog's title adds when the selected quality's file is the refined encoder's."""
        return " (the refined encoder's file)" if self._session.selected in self._session.refined else ""

    def stem(self) -> str:
        """The file-name stem of what is shown ("photo" for photo.png)."""
        session = self._session
        if session.image is not None:
            return Path(session.image.name).stem.replace(" ", "-") or "image"
        if session.decoded is not None:
            return Path(session.decoded.name).stem
        return "image"

    def _export_dir(self) -> str:
        path = self._session.image_path
        return str(self._settings.value("export/dir", "") or (path.parent if path else Path.home()))

    def confirm_overwrite(self, paths: list[Path]) -> bool:
        existing = [p for p in paths if p.exists()]
        if not existing:
            return True
        names = "\n".join(p.name for p in existing[:8]) + ("\n…" if len(existing) > 8 else "")
        one = len(existing) == 1
        answer = QMessageBox.question(
            self._dialog_parent(),
            "Replace existing files?",
            f"{'This file already exists' if one else f'{len(existing)} files already exist'} "
            f"in {existing[0].parent}:\n\n{names}\n\nReplace {'it' if one else 'them'}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save_path(self, title: str, name: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self._dialog_parent(),
            title,
            str(Path(self._export_dir()) / name),
            filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return None
        self._settings.setValue("export/dir", str(Path(path).parent))
        return Path(path)

    def _write_png(self, path: Path, pixels: np.ndarray, asked: bool = False, note: str = "") -> bool:
        """Compress and write a PNG in the worker (seconds for a big picture); the status bar says when it is
        saved (and `note`: whose picture it is), a dialog why not."""
        if not asked and not self.confirm_overwrite([path]):
            return False
        self._writing[self._worker.start(WriteJob(path, lambda p: image_io.save_png(p, pixels)))] = (path, note)
        return True

    def _on_write_failed(self, job_id: int, _title: str, message: str) -> None:
        path, _note = self._writing.pop(job_id, (None, ""))
        if path is not None:
            self._show_error("Could not save", f"{path}: {message}")

    def _on_write_finished(self, job_id: int, outcome: str) -> None:
        path, note = self._writing.pop(job_id, (None, ""))
        if path is not None and outcome == "done":
            self._say(f"Saved {path}{note}")

    def _write_text(self, path: Path, text: str, asked: bool = False) -> bool:
        return bool(self._write([(path, lambda p: image_io.atomic_write(p, text.encode("utf-8")))], asked))

    def _write(
        self, writes: list[tuple[Path, Callable[[Path], object]]], asked: bool = False, note: str = ""
    ) -> list[Path]:
        """Run writers after one overwrite question (unless `asked` already); errors become a dialog, the status
        bar says what was saved (and `note`). Returns what was written."""
        if not asked and not self.confirm_overwrite([p for p, _ in writes]):
            return []
        done: list[Path] = []
        for path, writer in writes:
            try:
                writer(path)
            except OSError as exc:
                self._show_error("Could not save", f"{path}: {exc.strerror or exc}")
                break
            done.append(path)
        if done:
            saved = f"Saved {done[0]}" if len(done) == 1 else f"Saved {len(done)} files in {done[0].parent}"
            self._say(saved + note)
        return done

    def _dialog_parent(self) -> QWidget:
        return cast(QWidget, self.parent())


def _made_by(results: list[QualityResult]) -> str:
    """What a status line adds when files written are the refined encoder's: which, and that it is the same
    decoder ("" when all are the plain encoder's)."""
    refined = [r for r in results if r.encoder.refines]
    if not refined:
        return ""
    which = refined[0].encoder.describe() if len(results) == 1 else f"{len(refined)} of them by the refined encoder"
    return f" ({which}: the same decoder, better numbers chosen for this photo)"
