"""Everything the window writes out: .lci files, PNGs, the RD data (CSV, JSON) and the plot, and the clipboard.

Each export has a direct form (a path in, True/the paths written out; what scripts and tests call)
and a dialog form for the menus. Writes are atomic and asked about once when they would replace
files; a failure becomes a dialog and the window keeps running.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lci_studio.codec import image_io, report
from lci_studio.gui.panels.rd_plot import RdPlot
from lci_studio.gui.qimage import to_qimage
from lci_studio.session import Session
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget


class Exports:
    """The window's exports of its `session`; `say` puts a line in the status bar."""

    def __init__(
        self,
        parent: QWidget,
        session: Session,
        settings: QSettings,
        plot: RdPlot,
        say: Callable[[str], None],
        show_error: Callable[[str, str], None],
    ) -> None:
        self._parent, self._session, self._settings, self._plot = parent, session, settings, plot
        self._say, self._show_error = say, show_error

    # ------------------------------------------------------------------------------------ direct

    def selected_lci(self, path: str | Path) -> bool:
        result = self._session.selected_result
        if result is None:
            return False
        return bool(self._write([(Path(path), lambda p: image_io.atomic_write(p, result.lci))]))

    def all_lci(self, folder: str | Path) -> list[Path]:
        folder = Path(folder)
        writes = [
            (folder / f"{self.stem()}-q{r.quality}.lci", lambda p, r=r: image_io.atomic_write(p, r.lci))
            for r in self._session.ordered_results()
        ]
        return self._write(writes)

    def png(self, path: str | Path) -> bool:
        pixels = self._session.selected_pixels
        if pixels is None:
            return False
        return bool(self._write([(Path(path), lambda p: image_io.save_png(p, pixels))]))

    def csv(self, path: str | Path) -> bool:
        """What `lci compare --csv` writes for the same picture."""
        self._complete()
        text = report.comparison_csv(self._session.results.values(), self._session.baselines)
        return self._write_text(Path(path), text)

    def json(self, path: str | Path) -> bool:
        """What `lci compare --json` writes for the same picture and weights (but for the timings)."""
        session = self._session
        self._complete()
        weights = session.source.describe() if session.source is not None else "unknown weights"
        document = report.comparison_json(session.results.values(), session.baselines, session.image, weights)
        return self._write_text(Path(path), report.json_text(document))

    def _complete(self) -> None:
        """The MS-SSIM not measured yet (it is, only while shown), measured now: exports hold every number."""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self._session.complete_ms_ssim()
        finally:
            QApplication.restoreOverrideCursor()

    def plot(self, path: str | Path) -> bool:
        return bool(self._write([(Path(path), lambda p: self._plot.export_png(p))]))

    def copy_selected(self) -> None:
        pixels = self._session.selected_pixels
        if pixels is None:
            return
        QApplication.clipboard().setImage(to_qimage(pixels))
        self._say(f"Copied quality {self._session.selected} to the clipboard.")

    # ------------------------------------------------------------------------------------ dialogs

    def selected_lci_dialog(self) -> None:
        name = f"{self.stem()}-q{self._session.selected}.lci"
        path = self._save_path("Save quality as .lci", name, "LCI files (*.lci)")
        if path:
            self.selected_lci(path if path.suffix else path.with_suffix(".lci"))

    def all_lci_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Save every quality as .lci into…", self._export_dir())
        if folder:
            self._settings.setValue("export/dir", folder)
            self.all_lci(folder)

    def png_dialog(self) -> None:
        name = f"{self.stem()}-q{self._session.selected}.png"
        path = self._save_path("Save reconstruction as PNG", name, "PNG images (*.png)")
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
            self._parent,
            "Replace existing files?",
            f"{'This file already exists' if one else f'{len(existing)} files already exist'} "
            f"in {existing[0].parent}:\n\n{names}\n\nReplace {'it' if one else 'them'}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def _save_path(self, title: str, name: str, filters: str) -> Path | None:
        path, _ = QFileDialog.getSaveFileName(
            self._parent,
            title,
            str(Path(self._export_dir()) / name),
            filters,
            options=QFileDialog.Option.DontConfirmOverwrite,
        )
        if not path:
            return None
        self._settings.setValue("export/dir", str(Path(path).parent))
        return Path(path)

    def _write_text(self, path: Path, text: str) -> bool:
        return bool(self._write([(path, lambda p: image_io.atomic_write(p, text.encode("utf-8")))]))

    def _write(self, writes: list[tuple[Path, Callable[[Path], object]]]) -> list[Path]:
        """Run writers after one overwrite question; errors become a dialog. Returns what was written."""
        if not self.confirm_overwrite([p for p, _ in writes]):
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
            self._say(f"Saved {done[0]}" if len(done) == 1 else f"Saved {len(done)} files in {done[0].parent}")
        return done
