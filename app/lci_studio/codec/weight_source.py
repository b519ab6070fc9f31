"""What every source of weights shares: the `WeightSource` base, the errors weights raise, and reading
one checkpoint file safely (`load_checkpoint`: ``torch.load(weights_only=True)`` or safetensors, so no
arbitrary object is ever unpickled, and values no training produces are refused).

The sources themselves and the one factory the faces use are in `weights` (which re-exports these
names); CompressAI's official downloads are in `official_weights`.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from lci_studio.codec.entropy_coding import CdfTables
from lci_studio.codec.model import (
    FAMILY,
    METRICS,
    QUALITIES,
    FactorizedPrior,
    LoadedModel,
    ModelInfo,
    weights_fingerprint,
)

Progress = Callable[[int, int | None], None]
Cancel = Callable[[], bool]


# No trained weight of this model comes near this magnitude (the bundled ladder's largest is 96,
# a quantile); a flipped exponent bit in a float lands far beyond it.
PLAUSIBLE_MAGNITUDE = 1e6


class WeightsError(Exception):
    """Weights could not be found, fetched or read; the message is one user-readable sentence."""


class DownloadCancelledError(WeightsError):
    """The caller's cancel() said stop; nothing was left behind."""


# The errors below say what went wrong in words that fit every face; what to do instead (a
# command-line flag, a Settings choice) is each face's to add: `cli.hint`, `gui.error_wording.readable`.


class NoBundledWeightsError(WeightsError):
    """This copy of LCI Studio has no bundled ladder installed."""


class DownloadFailedError(WeightsError):
    """Official weights could not be downloaded, or arrived damaged; the bundled ladder still works offline.

    `status` is the server's HTTP status where it answered with one, `metric` the weights asked for
    (the advice differs: the bundled ladder has one metric only).
    """

    def __init__(self, message: str, *, status: int | None = None, metric: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.metric = metric


class DamagedDownloadError(DownloadFailedError):
    """A download arrived whole but its SHA-256 does not match the official prefix; nothing of it is kept."""


class MetricNotBundledError(WeightsError):
    """The bundled ladder is trained for another metric than the one asked for."""

    def __init__(self, message: str, metric: str) -> None:
        super().__init__(message)
        self.metric = metric


class UnknownWeightsError(WeightsError):
    """A weights choice that is neither a known name nor an existing folder or file."""

    def __init__(self, message: str, spec: str) -> None:
        super().__init__(message)
        self.spec = spec



# --------------------------------------------------------------------------------------------- helpers


def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise WeightsError(f"Unknown metric {metric!r}; choose one of {', '.join(METRICS)}.")
    return metric


def _check_quality(quality: int) -> int:
    if quality not in QUALITIES:
        raise WeightsError(f"Quality {quality!r} is out of range; choose 1 to 8.")
    return int(quality)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _short(exc: BaseException, limit: int = 160) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    # torch's load_state_dict message is a header line ending in ":" followed by the real problem
    text = lines[1] if len(lines) > 1 and lines[0].endswith(":") else lines[0]
    text = text.rstrip(".")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _float32(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Float tensors to float32 (checkpoints may be half precision); integer CDF tables as they are."""
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _unwrap(obj: object) -> Mapping[str, torch.Tensor] | None:
    """The state dict inside what torch.load returned: plain, or under "state_dict"/"model"."""
    if not isinstance(obj, Mapping):
        return None
    for key in ("state_dict", "model"):
        inner = obj.get(key)
        if isinstance(inner, Mapping) and any(isinstance(v, torch.Tensor) for v in inner.values()):
            return {k: v for k, v in inner.items() if isinstance(v, torch.Tensor)}
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    return tensors or None


def _check_values(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Refuse weights whose values no training produces: a hash proves a file unchanged, not sound."""
    for name, tensor in state.items():
        if not tensor.is_floating_point() or tensor.numel() == 0:
            continue
        if not bool(torch.isfinite(tensor).all()):
            raise WeightsError(f"{path.name} is damaged: {name} holds NaN or infinite values.")
        largest = float(tensor.abs().max())
        if largest > PLAUSIBLE_MAGNITUDE:
            raise WeightsError(
                f"{path.name} is damaged: {name} holds {largest:.3g}, far beyond any trained weight "
                f"(at most {PLAUSIBLE_MAGNITUDE:g})."
            )


def _build_model(state: Mapping[str, torch.Tensor], path: Path) -> FactorizedPrior:
    state = _float32(state)
    _check_values(state, path)
    try:
        model = FactorizedPrior.from_state_dict(state)
    except Exception as exc:  # missing keys, wrong shapes, wrong dtypes: all mean "not this model"
        raise WeightsError(f"{path.name} is not a {FAMILY} checkpoint ({_short(exc)}).") from None
    if not model.entropy_bottleneck.has_tables:
        model.entropy_bottleneck.build_tables()
    try:
        CdfTables.from_bottleneck(model.entropy_bottleneck).check()
    except ValueError as exc:
        raise WeightsError(f"{path.name} is damaged: its CDF tables are implausible ({exc}).") from None
    return model.eval()


def load_checkpoint(path: str | os.PathLike) -> FactorizedPrior:
    """Read a `.pth`/`.pth.tar`/`.pt` (safe torch.load) or `.safetensors` checkpoint into an eval-mode model."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Checkpoint {path} does not exist.")
    try:
        if path.name.lower().endswith(".safetensors"):
            from safetensors.torch import load_file

            state: Mapping[str, torch.Tensor] | None = load_file(str(path), device="cpu")
        else:
            state = _unwrap(torch.load(path, map_location="cpu", weights_only=True))
    except Exception as exc:  # not a torch file, a pickle of arbitrary objects, truncated, …
        why = "cannot read it as a PyTorch or safetensors file"
        if "weights only load failed" in str(exc).lower():
            why = "it holds objects other than tensors, which are never unpickled"
        raise WeightsError(f"{path.name} is not a {FAMILY} checkpoint ({why}).") from None
    if not state:
        raise WeightsError(f"{path.name} is not a {FAMILY} checkpoint (it holds no tensors).")
    return _build_model(state, path)


def _is_plain_name(name: str) -> bool:
    """A file name that stays in its folder: no separator, no "..", not absolute, on any OS."""
    return bool(name) and name not in (".", "..") and not re.search(r"[/\\:\x00]", name)


def _verify_prefix(path: Path, prefix: str) -> bool:
    return _sha256_file(path).startswith(prefix.lower())



# --------------------------------------------------------------------------------------------- sources


class WeightSource(ABC):
    """One place weights come from; `load` memoizes per quality so a worker can keep calling it."""

    kind: str
    metric: str

    def __init__(self, metric: str) -> None:
        self.metric = _check_metric(metric)
        self._models: dict[int, LoadedModel] = {}
        self._lock = threading.Lock()

    @abstractmethod
    def qualities(self) -> list[int]:
        """Qualities this source can load (for compressai: all 8, whether cached or not)."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description, e.g. "CompressAI official (mse)"."""

    @property
    @abstractmethod
    def label(self) -> str:
        """What `ModelInfo.source` records: "bundled", "compressai", or a path."""

    @abstractmethod
    def _load(
        self, quality: int, progress: Progress | None, cancel: Cancel | None
    ) -> tuple[FactorizedPrior, str, float | None]:
        """Model, metric and λ of one quality (the model in eval mode with tables)."""

    def load(self, quality: int, progress: Progress | None = None, cancel: Cancel | None = None) -> LoadedModel:
        """The model of `quality`, in eval mode with CDF tables; loaded once per source instance."""
        available = self.qualities()
        if quality not in available:
            have = ", ".join(map(str, available)) or "none"
            raise WeightsError(f"Quality {quality} is not available from {self.describe()} (available: {have}).")
        with self._lock:
            cached = self._models.get(quality)
            if cached is not None:
                return cached
            model, metric, lmbda = self._load(quality, progress, cancel)
            model.eval()
            info = ModelInfo(
                source=self.label,
                quality=quality,
                metric=metric,
                lmbda=lmbda,
                N=model.N,
                M=model.M,
                fingerprint=weights_fingerprint(model),
                trained_with=self._trained_with(quality),
                kind=self.kind,
            )
            loaded = LoadedModel(model=model, info=info)
            self._models[quality] = loaded
            return loaded

    def _trained_with(self, quality: int) -> tuple[int, ...]:
        """The levels `quality` was trained jointly with, where the source records it (a manifest)."""
        return ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
