"""Small dialogs of the main window: weight settings, `.lci` file information, About."""

from __future__ import annotations

import importlib.metadata
import math
import platform
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

import lci_studio
from lci_studio.codec.glossary import glossary_html
from lci_studio.codec.lci_format import LciHeader
from lci_studio.codec.model import METRICS
from lci_studio.codec.number_format import format_ratio
from lci_studio.codec.weights import (
    COMPRESSAI_URL_ROOT,
    MIRROR_ENV,
    OFFICIAL_SIZES,
    WeightsError,
    official_base_url,
)


def about_megabytes(size: int) -> str:
    """"~145 MB": a download's size as the window announces it, rounded up to 5 MB (the sizes are estimates
    from the parameter count, which leaves out a file's CDF tables and container)."""
    return f"~{max(5, 5 * math.ceil(size / 5e6))} MB"


class SettingsDialog(QDialog):
    """Where the weights come from: bundled, CompressAI official (mse / ms-ssim, and from which address), or a
    folder."""

    def __init__(
        self, spec: str, metric: str, parent: QWidget | None = None, last_folder: str = "", mirror: str = ""
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings — Weights")
        self.setMinimumWidth(560)
        self.bundled = QRadioButton("Bundled ladder (trained for LCI Studio, works offline)")
        self.official = QRadioButton(
            f"CompressAI official weights (downloaded once, {about_megabytes(sum(OFFICIAL_SIZES))} per metric)"
        )
        self.mirror_edit = QLineEdit(mirror)
        self.mirror_edit.setPlaceholderText(_usual_address())
        self.mirror_edit.setToolTip(
            f"Another address for the official files, e.g. your institution's mirror (also ${MIRROR_ENV}). "
            "Empty: the usual one. Every file is checked against the official SHA-256 whatever its address."
        )
        self.folder = QRadioButton("A folder of checkpoints (q1.pth.tar … q8.pth.tar or CompressAI file names)")
        self.group = QButtonGroup(self)
        for button in (self.bundled, self.official, self.folder):
            self.group.addButton(button)
        self.metric_box = QComboBox()
        for m in METRICS:
            self.metric_box.addItem(
                {"mse": "MSE (tuned for PSNR)", "ms-ssim": "MS-SSIM (tuned for perceived structure)"}[m], m
            )
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData(metric)))
        self.path = QLineEdit(last_folder)
        self.path.setPlaceholderText("Folder with one checkpoint per quality")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        note = QLabel(
            "Files compressed with one set of weights can only be decoded with the same weights: each "
            ".lci file records which weights made it."
        )
        note.setWordWrap(True)

        grid = QGridLayout()
        grid.addWidget(self.bundled, 0, 0, 1, 3)
        grid.addWidget(self.official, 1, 0, 1, 3)
        grid.addWidget(QLabel("    Trained for:"), 2, 0)
        grid.addWidget(self.metric_box, 2, 1, 1, 2)
        grid.addWidget(QLabel("    Download from:"), 3, 0)
        grid.addWidget(self.mirror_edit, 3, 1, 1, 2)
        grid.addWidget(self.folder, 4, 0, 1, 3)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        grid.addWidget(QLabel("    Folder:"), 5, 0)
        grid.addLayout(row, 5, 1, 1, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(note)
        layout.addWidget(buttons)

        if spec == "bundled":
            self.bundled.setChecked(True)
        elif spec == "compressai":
            self.official.setChecked(True)
        else:
            self.folder.setChecked(True)
            self.path.setText(spec)
        self.group.buttonToggled.connect(self._sync_enabled)
        self._sync_enabled()

    def _sync_enabled(self, *_args) -> None:
        self.metric_box.setEnabled(not self.bundled.isChecked())
        self.mirror_edit.setEnabled(self.official.isChecked())
        self.path.setEnabled(self.folder.isChecked())

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of checkpoints", self.path.text() or str(Path.home()))
        if folder:
            self.path.setText(folder)
            self.folder.setChecked(True)

    def choice(self) -> tuple[str, str]:
        """(spec, metric) for `open_weight_source`."""
        if self.bundled.isChecked():
            return "bundled", "mse"
        if self.official.isChecked():
            return "compressai", self.metric_box.currentData()
        return self.path.text().strip(), self.metric_box.currentData()

    def mirror(self) -> str:
        """The address typed for the official files ("" for the usual one)."""
        return self.mirror_edit.text().strip()

    def accept(self) -> None:
        if self.folder.isChecked() and not self.path.text().strip():
            self.path.setFocus()
            self.path.setPlaceholderText("Choose a folder first (Browse…)")
            return
        if self.mirror():
            try:
                official_base_url(self.mirror())
            except WeightsError as exc:
                self.mirror_edit.setFocus()
                self.mirror_edit.setToolTip(str(exc))
                self.mirror_edit.selectAll()
                return
        super().accept()


def _usual_address() -> str:
    """Where the official files come from when no address is typed ($LCI_WEIGHTS_URL or CompressAI's)."""
    try:
        return official_base_url()
    except WeightsError:
        return COMPRESSAI_URL_ROOT


class LciInfoDialog(QDialog):
    """What an `.lci` file says about itself (non-modal, so the image stays usable)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About this .lci file")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)
        self.setMinimumWidth(480)

    def set_file(self, name: str, size: int, header: LciHeader, weights: str | None, seconds: float | None) -> None:
        pixels = header.width * header.height
        rows = [
            ("File", escape(name)),
            (
                "Size",
                f"{size:,} bytes ({size * 8 / pixels:.3f} bits per pixel, "
                f"{format_ratio(pixels * 3 / size)} against raw RGB)",
            ),
            ("Image", f"{header.width} × {header.height} pixels"),
            ("Model", f"{escape(header.family)}, trained for {escape(header.metric)}"),
            ("Quality", f"{header.quality} of 8 (N = {header.N}, M = {header.M} latent channels)"),
            ("Latent", f"{header.M} × {header.latent_height} × {header.latent_width} integers"),
            ("Weights", f"{escape(header.source_kind)}, fingerprint <code>{header.fingerprint}</code>"),
        ]
        if weights:
            rows.append(("Decoded with", escape(weights) + (f" in {seconds:.2f} s" if seconds is not None else "")))
        table = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in rows)
        self.label.setText(f"<table>{table}</table>")

    def text(self) -> str:
        return self.label.text()


def _version(dist: str, module: str | None = None) -> str:
    """The installed version; a library that has no version to tell (constriction in a build that left out
    its metadata: About said "constriction ?") is said to be installed, not questioned."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        try:
            return getattr(__import__(module or dist), "__version__", "installed (version not recorded)")
        except ImportError:
            return "not installed"


def about_html(weights: str) -> str:
    """The About box: versions, the weights in use, and what to cite."""
    import pyqtgraph
    import PySide6
    import torch

    versions = [
        ("LCI Studio", lci_studio.__version__),
        ("PyTorch", torch.__version__),
        ("PySide6 / Qt", f"{PySide6.__version__} / {PySide6.QtCore.qVersion()}"),
        ("pyqtgraph", pyqtgraph.__version__),
        ("constriction", _version("constriction")),
        ("Python", platform.python_version()),
    ]
    rows = "".join(f"<tr><td>{k}&nbsp;&nbsp;</td><td>{escape(v)}</td></tr>" for k, v in versions)
    return (
        "<h3>LCI Studio</h3>"
        "<p>See how learned image compression spends its bits: the Ballé et al. factorized-prior "
        "model (CompressAI's <i>bmshj2018-factorized</i>) at all eight quality levels.</p>"
        f"<table>{rows}</table>"
        f"<p><b>Weights in use:</b> {escape(weights)}</p>"
        "<p><b>Please cite:</b><br>"
        "J. Ballé, D. Minnen, S. Singh, S. J. Hwang, N. Johnston: “Variational image compression with a "
        "scale hyperprior”, ICLR 2018 (the factorized-prior model is its baseline).<br>"
        "J. Ballé, V. Laparra, E. P. Simoncelli: “End-to-end optimized image compression”, ICLR 2017.<br>"
        "J. Bégaint, F. Racapé, S. Feltman, A. Pushparaja: “CompressAI: a PyTorch library and evaluation "
        "platform for end-to-end compression research”, arXiv:2011.03029, 2020.</p>"
        "<p>Sample photos: NASA (public domain), Rachel Michetti (CC0), Stefan van der Walt (CC0), "
        "via scikit-image.</p>"
        "<p>Licensed under the Apache License 2.0.</p>"
    )


class GlossaryDialog(QDialog):
    """Help ▸ Glossary: bpp, PSNR, MS-SSIM, λ, N, M, ratio… in plain words (codec.glossary)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Glossary — LCI Studio")
        self.browser = QTextBrowser()
        self.browser.setHtml(glossary_html())
        self.browser.setOpenExternalLinks(False)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(560, 620)
