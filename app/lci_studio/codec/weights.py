"""Where model weights come from: the bundled ladder, CompressAI's official checkpoints, a folder, a file.

Every source answers the same questions (which qualities, load one) and hands back a
`LoadedModel` in eval mode with CDF tables, so the CLI and the window never care where the
weights live. This module is the one import path of the weights API for the rest of the code:
the local sources and `open_weight_source` live here; what every source shares (the base class,
the errors, `load_checkpoint`) in `weight_source`; CompressAI's downloads in `official_weights`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from lci_studio.codec.image_io import atomic_write
from lci_studio.codec.model import FAMILY, LAMBDAS, METRICS, QUALITIES, FactorizedPrior
from lci_studio.codec.official_weights import (
    BUNDLED_BD_RATE,
    COMPRESSAI_URL_ROOT,
    MIRROR_ENV,
    OFFICIAL_BD_RATE,
    OFFICIAL_SIZES,
    CompressAISource,
    FetchTally,
    _hash_in_name,
    compressai_cache_dir,
    compressai_filename,
    download_checkpoint,
    official_base_url,
    official_saving_percent,
    partial_path,
)
from lci_studio.codec.weight_source import (
    PLAUSIBLE_MAGNITUDE,
    Cancel,
    DamagedDownloadError,
    DownloadCancelledError,
    DownloadFailedError,
    MetricNotBundledError,
    NoBundledWeightsError,
    Progress,
    UnknownWeightsError,
    WeightsError,
    WeightSource,
    _check_metric,
    _check_quality,
    _is_plain_name,
    _sha256_file,
    _short,
    _verify_prefix,
    load_checkpoint,
)

__all__ = [
    "BUNDLED_BD_RATE",
    "COMPRESSAI_URL_ROOT",
    "MANIFEST_NAME",
    "MIRROR_ENV",
    "OFFICIAL_BD_RATE",
    "OFFICIAL_SIZES",
    "PLAUSIBLE_MAGNITUDE",
    "BundledSource",
    "CompressAISource",
    "DamagedDownloadError",
    "DownloadCancelledError",
    "DownloadFailedError",
    "FetchTally",
    "FileSource",
    "FolderSource",
    "MetricNotBundledError",
    "NoBundledWeightsError",
    "UnknownWeightsError",
    "WeightSource",
    "WeightsError",
    "bundled_weights_dir",
    "compressai_cache_dir",
    "compressai_filename",
    "download_checkpoint",
    "level_checkpoint",
    "level_record",
    "load_checkpoint",
    "official_base_url",
    "official_saving_percent",
    "open_weight_source",
    "partial_path",
    "write_bundled_level",
]


MANIFEST_NAME = "manifest.json"
_OFFICIAL_NAME = re.compile(
    r"^bmshj2018-factorized-(prior|ms-ssim)-([1-8])(?:-([0-9a-f]{8}))?\.(?:pth\.tar|pth|pt)$", re.IGNORECASE
)
_Q_NAME = re.compile(r"^q([1-8])\.(?:pth\.tar|pth|pt|safetensors)$", re.IGNORECASE)


def level_checkpoint(folder: Path, quality: int) -> Path:
    """`q{n}.pth.tar` in a run folder: what `lci train` writes per level, `export-bundle` and a folder source read."""
    return Path(folder) / f"q{quality}.pth.tar"


def level_record(folder: Path, quality: int) -> Path:
    """`q{n}.json` beside a level's checkpoint: its training record (steps, λ, time, where it resumed from)."""
    return Path(folder) / f"q{quality}.json"


# Tensors kept in float32 by `write_bundled_level`: their tiny constants (1e-9, 2^-36) vanish in
# float16, and the medians in `quantiles` decide quantization and were used to build the tables.
_KEEP_FLOAT32 = re.compile(r"(quantiles|pedestal|\.bound|\.target)$")


# ------------------------------------------------------------------ bundled (safetensors ladder + manifest)


def bundled_weights_dir() -> Path:
    """`weights/` of the resources folder (`lci_studio.resources.root`: checkout, wheel or frozen bundle)."""
    # resources/ is installed as lci_studio.resources but lies outside app/, where mypy looks
    from lci_studio import resources  # type: ignore[attr-defined]

    return resources.root() / "weights"


def write_bundled_level(state_dict: Mapping[str, torch.Tensor] | nn.Module, path: str | os.PathLike) -> str:
    """Save one ladder level as safetensors (float → float16, ints as they are), atomically; return its SHA-256.

    Buffers with tiny constants and the entropy model's quantiles stay float32 (float16 would
    turn 1e-9 into 0 and move the medians the CDF tables were built from).
    """
    from safetensors.torch import save

    if isinstance(state_dict, nn.Module):
        state_dict = state_dict.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        t = value.detach().cpu()
        if t.is_floating_point():
            half = t.to(torch.float16)
            overflow = not bool(torch.isfinite(half).all())
            t = t.to(torch.float32) if _KEEP_FLOAT32.search(key) or overflow else half
        tensors[key] = t.contiguous()
    data = save(tensors, metadata={"family": FAMILY})
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


class BundledSource(WeightSource):
    """The ladder trained for LCI Studio: `manifest.json` plus one safetensors file per quality."""

    kind = "bundled"

    def __init__(self, directory: Path | None = None, *, label: str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else bundled_weights_dir()
        self._label = label or "bundled"
        manifest_path = self.directory / MANIFEST_NAME
        if not manifest_path.is_file():
            raise NoBundledWeightsError("No bundled weights are installed in this copy of LCI Studio.")
        self.manifest, self._levels = self._read_manifest(manifest_path)
        super().__init__(self.manifest.get("metric", "mse"))
        if self._label != "bundled":
            self.kind = "folder"

    @staticmethod
    def _read_manifest(path: Path) -> tuple[dict, dict[int, dict]]:
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(manifest, dict):
                raise ValueError("not a JSON object")
            if manifest.get("family", FAMILY) != FAMILY:
                raise ValueError(f"family is {manifest.get('family')!r}, not {FAMILY}")
            if manifest.get("metric", "mse") not in METRICS:
                raise ValueError(f"unknown metric {manifest.get('metric')!r}")
            levels: dict[int, dict] = {}
            for level in manifest["levels"]:
                quality = int(level["quality"])
                if quality not in QUALITIES or quality in levels:
                    raise ValueError(f"bad or repeated quality {quality}")
                if not isinstance(level["file"], str) or not re.fullmatch(r"[0-9a-f]{64}", str(level["sha256"])):
                    raise ValueError(f"level {quality} needs a file name and a 64-hex sha256")
                if not _is_plain_name(level["file"]):
                    raise ValueError(f"level {quality}'s file {level['file']!r} is not a file name in its folder")
                levels[quality] = level
            if not levels:
                raise ValueError("no levels")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WeightsError(f"The weights manifest {path} is damaged ({_short(exc)}).") from None
        return manifest, dict(sorted(levels.items()))

    def qualities(self) -> list[int]:
        return list(self._levels)

    def describe(self) -> str:
        where = "bundled ladder" if self._label == "bundled" else f"ladder in {self.directory}"
        return f"{where} ({self.metric})" if self.metric != "mse" else where

    @property
    def label(self) -> str:
        return self._label

    def level(self, quality: int) -> dict:
        """The manifest entry of one quality (λ, N, M, steps, eval, …), for display."""
        return dict(self._levels[quality])

    def _trained_with(self, quality: int) -> tuple[int, ...]:
        return tuple(int(q) for q in self._levels[quality].get("trained_with", ()))

    def verified_file(self, quality: int) -> Path:
        """The weights file of one quality, after checking it is there and matches the manifest's SHA-256."""
        level = self._levels[quality]
        path = self.directory / level["file"]
        if path.is_symlink() and self.directory.resolve() not in path.resolve().parents:
            raise WeightsError(f"The weights file {path.name} for quality {quality} links outside {self.directory}.")
        if not path.is_file():
            raise WeightsError(f"The weights file {path.name} for quality {quality} is missing from {self.directory}.")
        if _sha256_file(path) != level["sha256"].lower():
            raise WeightsError(
                f"The weights file {path.name} does not match its manifest (SHA-256 differs); "
                "it is damaged or was replaced."
            )
        return path

    def _load(self, quality: int, progress: Progress | None, cancel: Cancel | None):
        level = self._levels[quality]
        model = load_checkpoint(self.verified_file(quality))
        lmbda = level.get("lambda")
        return model, self.metric, float(lmbda) if lmbda is not None else LAMBDAS[self.metric][quality - 1]


# ------------------------------------------------------------------------------------ folder and file


def _recognize(name: str) -> tuple[int, str | None] | None:
    """(quality, metric or None) from an official CompressAI name or a plain ``q{n}`` name."""
    match = _OFFICIAL_NAME.match(name)
    if match:
        return int(match.group(2)), "mse" if match.group(1).lower() == "prior" else "ms-ssim"
    match = _Q_NAME.match(name)
    if match:
        return int(match.group(1)), None
    return None


class FolderSource(WeightSource):
    """A folder with one checkpoint per quality, named like CompressAI's files or ``q1.pth.tar`` … ``q8.pth.tar``.

    Official names carry their metric; ``q{n}`` files take the requested one. When the folder
    holds official files of the other metric only, that metric is used (the names say so).
    """

    kind = "folder"

    def __init__(self, folder: str | os.PathLike, metric: str = "mse") -> None:
        super().__init__(metric)
        self.folder = Path(folder).expanduser().resolve()
        if not self.folder.is_dir():
            raise WeightsError(f"Weights folder {self.folder} does not exist.")
        official: dict[str, dict[int, Path]] = {m: {} for m in METRICS}
        plain: dict[int, Path] = {}
        for entry in sorted(self.folder.iterdir()):
            found = _recognize(entry.name) if entry.is_file() else None
            if found is None:
                continue
            quality, name_metric = found
            if name_metric is None:
                plain.setdefault(quality, entry)
            else:
                official[name_metric].setdefault(quality, entry)
        if not official[self.metric] and not plain:
            others = [m for m in METRICS if official[m]]
            if len(others) == 1:
                self.metric = others[0]
        self._files: dict[int, tuple[Path, str]] = {q: (p, self.metric) for q, p in plain.items()}
        self._files.update({q: (p, self.metric) for q, p in official[self.metric].items()})
        self._files = dict(sorted(self._files.items()))
        if not self._files:
            raise WeightsError(
                f"No checkpoints found in {self.folder}; name them like CompressAI's files "
                f"({compressai_filename(3, 'mse')}) or q1.pth.tar … q8.pth.tar."
            )

    def qualities(self) -> list[int]:
        return list(self._files)

    def describe(self) -> str:
        return f"folder {self.folder}"

    @property
    def label(self) -> str:
        return str(self.folder)

    def path(self, quality: int) -> Path:
        return self._files[quality][0]

    def _load(self, quality: int, progress: Progress | None, cancel: Cancel | None):
        path, metric = self._files[quality]
        return _load_named(path), metric, LAMBDAS[metric][quality - 1]


def _load_named(path: Path) -> FactorizedPrior:
    """Load a checkpoint, first checking the SHA-256 prefix its official name promises."""
    prefix = _hash_in_name(path.name) if _OFFICIAL_NAME.match(path.name) else None
    if prefix is not None and path.is_file() and not _verify_prefix(path, prefix):
        raise WeightsError(f"{path.name} is damaged: its SHA-256 does not start with {prefix} as its name says.")
    return load_checkpoint(path)


class FileSource(WeightSource):
    """A single checkpoint; `quality_label` (or an official file name) says which quality it is."""

    kind = "file"

    def __init__(self, path: str | os.PathLike, metric: str = "mse", quality_label: int | None = None) -> None:
        super().__init__(metric)
        self.path = Path(path).expanduser().resolve()
        if not self.path.is_file():
            raise WeightsError(f"Checkpoint {self.path} does not exist.")
        found = _recognize(self.path.name)
        if found is not None and found[1] is not None:
            self.metric = found[1]
        if quality_label is not None:
            self.quality = _check_quality(quality_label)
            self._lmbda: float | None = LAMBDAS[self.metric][self.quality - 1]
        elif found is not None:
            self.quality = found[0]
            self._lmbda = LAMBDAS[self.metric][self.quality - 1]
        else:
            self.quality, self._lmbda = 1, None  # unlabelled: shown as q1, λ unknown

    def qualities(self) -> list[int]:
        return [self.quality]

    def describe(self) -> str:
        return f"file {self.path}"

    @property
    def label(self) -> str:
        return str(self.path)

    def _load(self, quality: int, progress: Progress | None, cancel: Cancel | None):
        return _load_named(self.path), self.metric, self._lmbda


# ------------------------------------------------------------------------------------------ factory


def open_weight_source(
    spec: str = "bundled",
    metric: str = "mse",
    *,
    quality_label: int | None = None,
    timeout: float = 30.0,
    base_url: str | None = None,
    cache_dir: Path | None = None,
) -> WeightSource:
    """The source named by a ``--weights`` value: "bundled", "compressai", a folder, or one checkpoint file.

    A folder holding a `manifest.json` (what `lci train --ladder` writes) is read like the bundled ladder.
    """
    _check_metric(metric)
    if spec == "bundled":
        source: WeightSource = BundledSource()
        if metric != source.metric:
            raise MetricNotBundledError(f"The bundled weights are trained for {source.metric} only.", metric)
        return source
    if spec == "compressai":
        return CompressAISource(metric, timeout=timeout, base_url=base_url, cache_dir=cache_dir)
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / MANIFEST_NAME).is_file():
            return BundledSource(path.resolve(), label=str(path.resolve()))
        return FolderSource(path, metric)
    if path.is_file():
        return FileSource(path, metric, quality_label)
    raise UnknownWeightsError(f"{spec}: not 'bundled', 'compressai', a folder or a checkpoint file.", spec)
