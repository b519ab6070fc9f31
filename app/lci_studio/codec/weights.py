"""Where model weights come from: the bundled ladder, CompressAI's official checkpoints, a folder, a file.

Every source answers the same questions (which qualities, load one) and hands back a
`LoadedModel` in eval mode with CDF tables, so the CLI and the window never care where the
weights live. Checkpoints are read with ``torch.load(weights_only=True)`` or safetensors:
no arbitrary object is ever unpickled. Downloads go through a temp file that is renamed into
place only after its SHA-256 matches, so no failure leaves a partial file in the cache under a
checkpoint's name; what a lost connection or a killed process leaves is resumed by the next try.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from lci_studio.codec.entropy_coding import CdfTables
from lci_studio.codec.image_io import atomic_write
from lci_studio.codec.model import (
    FAMILY,
    LAMBDAS,
    METRICS,
    QUALITIES,
    FactorizedPrior,
    LoadedModel,
    ModelInfo,
    weights_fingerprint,
)

Progress = Callable[[int, int | None], None]
Cancel = Callable[[], bool]

COMPRESSAI_URL_ROOT = "https://compressai.s3.amazonaws.com/models/v1"
MANIFEST_NAME = "manifest.json"
_CHUNK = 64 * 1024
_CANCEL_POLL_S = 0.1

# The 8 hex digits are the first 8 of each file's SHA-256 (CompressAI's zoo, v1).
_COMPRESSAI_HASHES = {
    "mse": ("446d5c7f", "87279a02", "5c6f152b", "1ed4405a", "866ba797", "9b02ea3a", "6dfd6734", "5232faa3"),
    "ms-ssim": ("9781d705", "4a584386", "5352f123", "4f91b847", "b3a88897", "ee028763", "8c265a29", "8811bd14"),
}
_NAME_METRIC = {"mse": "prior", "ms-ssim": "ms-ssim"}
_OFFICIAL_NAME = re.compile(
    r"^bmshj2018-factorized-(prior|ms-ssim)-([1-8])(?:-([0-9a-f]{8}))?\.(?:pth\.tar|pth|pt)$", re.IGNORECASE
)
_Q_NAME = re.compile(r"^q([1-8])\.(?:pth\.tar|pth|pt|safetensors)$", re.IGNORECASE)
_TABLE_KEYS = ("_offset", "_quantized_cdf", "_cdf_length")


def level_checkpoint(folder: Path, quality: int) -> Path:
    """`q{n}.pth.tar` in a run folder: what `lci train` writes per level, `export-bundle` and a folder source read."""
    return Path(folder) / f"q{quality}.pth.tar"


def level_record(folder: Path, quality: int) -> Path:
    """`q{n}.json` beside a level's checkpoint: its training record (steps, λ, time, where it resumed from)."""
    return Path(folder) / f"q{quality}.json"
# Tensors kept in float32 by `write_bundled_level`: their tiny constants (1e-9, 2^-36) vanish in
# float16, and the medians in `quantiles` decide quantization and were used to build the tables.
_KEEP_FLOAT32 = re.compile(r"(quantiles|pedestal|\.bound|\.target)$")
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


# ------------------------------------------------------------------------- compressai (official downloads)

MIRROR_ENV = "LCI_WEIGHTS_URL"
_URL_SCHEMES = ("http", "https", "file")
_STALE_PART_S = 120.0  # a temp file nobody has written for this long belongs to a killed download

# Bytes of each official file, q1…q8, the same for both metrics: the float32 parameters and buffers of
# the official architecture (N=128, M=192 for q1-5; N=192, M=320 for q6-8) at 4 bytes each, as
# FactorizedPrior counts them (tests check). The files were never opened here, so their CDF tables
# and container are not counted: this is what a download is announced at, until the server's
# Content-Length tells the real size.
OFFICIAL_SIZES = (11_992_700,) * 5 + (28_122_236,) * 3

# BD-rate against JPEG (PSNR-RGB) as README.md states them (a test reads them back from it): the
# bundled ladder's on the 9 held-out photos, CompressAI's official mse ladder's on Kodak.
BUNDLED_BD_RATE = -20.4
OFFICIAL_BD_RATE = -44.0


def official_saving_percent() -> float:
    """How much smaller the official ladder's files are than the bundled ladder's at the same PSNR, in %.

    The two BD-rates against JPEG chained: at equal PSNR a bundled file is 0.796 of JPEG's size and
    an official one 0.56, so the official one is 0.56 / 0.796 = 0.70 of the bundled one's (29.6 %
    smaller). BD-rates are means of log-rate gaps, so they chain; but they were measured on other
    photos (Kodak, our 9), so the window rounds this and says "about".
    """
    return 100.0 * (1.0 - (1.0 + OFFICIAL_BD_RATE / 100.0) / (1.0 + BUNDLED_BD_RATE / 100.0))


def official_base_url(base_url: str | None = None) -> str:
    """Where official files come from: `base_url`, else $LCI_WEIGHTS_URL (a mirror), else CompressAI's host.

    A mirror changes only the address: the file names and the SHA-256 prefixes they carry stay the
    official ones, and every file is checked against them, so a mirror cannot hand out other weights.
    """
    from_env = not base_url and bool(os.environ.get(MIRROR_ENV))
    url = (base_url or os.environ.get(MIRROR_ENV) or COMPRESSAI_URL_ROOT).strip().rstrip("/")
    if urllib.parse.urlsplit(url).scheme.lower() not in _URL_SCHEMES:
        where = f" ({MIRROR_ENV})" if from_env else ""
        raise WeightsError(f"The weights address {url!r}{where} is not an http://, https:// or file:// URL.")
    return url


def compressai_cache_dir() -> Path:
    """`$TORCH_HOME/hub/checkpoints`, TORCH_HOME defaulting as torch.hub does, so CompressAI's cache is shared."""
    torch_home = os.environ.get("TORCH_HOME")
    if not torch_home:
        torch_home = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "torch")
    return Path(os.path.expanduser(torch_home)) / "hub" / "checkpoints"


def compressai_filename(quality: int, metric: str) -> str:
    """Official file name, e.g. ``bmshj2018-factorized-prior-3-5c6f152b.pth.tar``."""
    quality, metric = _check_quality(quality), _check_metric(metric)
    return f"{FAMILY}-{_NAME_METRIC[metric]}-{quality}-{_COMPRESSAI_HASHES[metric][quality - 1]}.pth.tar"


def _hash_in_name(name: str) -> str | None:
    match = re.search(r"-([0-9a-f]{8})\.(?:pth\.tar|pth|pt)$", name, re.IGNORECASE)
    return match.group(1).lower() if match else None


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}".rstrip()
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        exc = exc.reason  # type: ignore[assignment]
    elif isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "the host name could not be resolved"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return _short(exc)


@contextlib.contextmanager
def _shut_on_cancel(response, cancel: Cancel | None) -> Iterator[None]:
    """While the body is read, poll `cancel`; once it says stop, shut the connection's socket.

    A read blocked on a stalled server would otherwise wait out the whole read timeout before
    the cancel is seen; shutting the socket down makes that read return at once.
    """
    if cancel is None:
        yield
        return
    finished = threading.Event()

    def watch() -> None:
        while not finished.wait(_CANCEL_POLL_S):
            if cancel():
                with contextlib.suppress(OSError, ValueError):  # not a socket (file://), or closed already
                    sock = socket.socket(fileno=response.fileno())
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    finally:
                        sock.detach()  # the response still owns (and closes) the descriptor
                return

    watcher = threading.Thread(target=watch, name="download-cancel", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        finished.set()
        watcher.join()  # before the response closes its descriptor


def partial_path(dest: Path) -> Path:
    """The one partial file of a download: a fixed name beside `dest`, so that a later try resumes it."""
    return dest.with_name(f".{dest.name}.part")


def _remove_stale_temps(dest: Path) -> None:
    """Remove `.NAME.RANDOM.part` files: earlier versions' temp files (one per try), left by killed downloads."""
    now = time.time()
    for stale in dest.parent.glob(f".{glob.escape(dest.name)}.*.part"):
        with contextlib.suppress(OSError):
            if now - stale.stat().st_mtime > _STALE_PART_S:
                stale.unlink()


def _lock(handle) -> bool:
    """Hold the partial file for this download alone; False when another process holds it (no lock on Windows)."""
    try:
        import fcntl
    except ImportError:  # two downloads at once then end in a hash mismatch, never in a wrong file
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class _Transfer:
    """One download into an open partial file: resumed where the file has bytes and the server allows it."""

    def __init__(self, url: str, dest: Path, out, timeout: float, progress: Progress | None, cancel: Cancel | None):
        self.url, self.dest, self.out, self.timeout = url, dest, out, timeout
        self.progress, self.cancel = progress, cancel
        parts = urllib.parse.urlsplit(url)
        self.host = parts.hostname or (parts.path if parts.scheme == "file" else url)

    def stop_if_cancelled(self) -> None:
        if self.cancel is not None and self.cancel():
            raise DownloadCancelledError(f"Download of {self.dest.name} cancelled.")

    def failed(self, exc: BaseException) -> DownloadFailedError:
        """The network's failure in words: a missing file is not a connection problem."""
        where = f"Could not download {self.dest.name} from {self.host}"
        if isinstance(exc, urllib.error.HTTPError):
            status = exc.code
            if status in (404, 410):
                text = f"{where}: the server has no such file (HTTP {status} {exc.reason}) at {self.url}."
            else:
                text = f"{where}: {_reason(exc, self.timeout)}; try again later."
            return DownloadFailedError(text, status=status)
        return DownloadFailedError(f"{where}: {_reason(exc, self.timeout)}. Check the internet connection.")

    def open(self, offset: int):
        """The response to a request for the bytes from `offset` on (all of them at 0)."""
        headers = {"User-Agent": "lci-studio"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        try:
            return urllib.request.urlopen(urllib.request.Request(self.url, headers=headers), timeout=self.timeout)
        except Exception as exc:  # refused, DNS, HTTP status, timeout, bad URL
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
                if exc.code == 416 and offset:  # the partial file is not a prefix of this file: start over
                    return None
            raise self.failed(exc) from None

    @staticmethod
    def continues_at(response, offset: int) -> tuple[bool, int | None]:
        """(whether the body continues the partial file at `offset`, the whole file's size if known)."""
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        if offset and getattr(response, "status", None) == 206:
            match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.headers.get("Content-Range", "").strip())
            if match and int(match.group(1)) == offset:
                whole = match.group(3)
                return True, int(whole) if whole.isdigit() else (offset + size if size is not None else None)
            return False, None
        return False, size

    def run(self) -> str:
        """Fill the partial file to the end; its SHA-256 (over all of it, earlier bytes included)."""
        out = self.out
        offset = os.fstat(out.fileno()).st_size
        response = self.open(offset)
        if response is None:
            offset, response = 0, self.open(0)
        resumed, total = self.continues_at(response, offset)
        if offset and not resumed and getattr(response, "status", None) == 206:  # another part than asked for
            response.close()
            response = self.open(0)
            resumed, total = self.continues_at(response, 0)
        if not resumed:  # a server that ignores Range sends the whole file: it starts over
            offset = 0
        with response, _shut_on_cancel(response, self.cancel):
            out.truncate(offset)
            digest = hashlib.sha256()
            out.seek(0)
            for block in iter(lambda: out.read(1 << 20), b""):
                digest.update(block)
            received = offset
            if self.progress is not None:
                self.progress(received, total)
            # read1: what has arrived, up to a chunk; read would wait for a whole chunk, and a stall
            # would lose the bytes before it
            read = getattr(response, "read1", response.read)
            while True:
                self.stop_if_cancelled()
                try:
                    block = read(_CHUNK)
                except Exception as exc:  # stalled (timeout), reset, IncompleteRead, or shut by a cancel
                    self.stop_if_cancelled()
                    raise self.failed(exc) from None
                if not block:
                    self.stop_if_cancelled()  # a cancel that shut the socket ends the body early
                    break
                try:
                    out.write(block)
                    out.flush()  # a killed process leaves every byte received for the next try
                except OSError as exc:
                    raise WeightsError(f"Cannot write {self.dest} ({_reason(exc, self.timeout)}).") from None
                digest.update(block)
                received += len(block)
                if self.progress is not None:
                    self.progress(received, total)
        if total is not None and received != total:
            raise self.failed(ConnectionError(f"the connection ended after {received} of {total} bytes"))
        os.fsync(out.fileno())
        return digest.hexdigest()


def download_checkpoint(
    url: str,
    dest: Path,
    sha256_prefix: str | None,
    *,
    timeout: float = 30.0,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> Path:
    """Fetch `url` to `dest` through `partial_path(dest)`; rename it into place only when the hash prefix matches.

    What an earlier try left in the partial file (connection lost, process killed) is resumed with
    an HTTP Range request; a server that ignores Range sends the whole file, which then starts over.
    `timeout` bounds the connect and every read. A network failure keeps the bytes received for the
    next try; any other failure (bad hash, cancel, an exception in a callback, a full disk) removes
    them. Raises WeightsError: DownloadCancelledError on cancel, DownloadFailedError for the network,
    DamagedDownloadError for a bad hash (after one fresh try when the file was resumed).
    """
    dest = Path(dest)
    part = partial_path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(dest)
        fd = os.open(part, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        raise WeightsError(f"Cannot write to {dest.parent} ({_reason(exc, timeout)}).") from None
    keep = done = False
    with os.fdopen(fd, "r+b") as out:
        if not _lock(out):
            raise WeightsError(
                f"{dest.name} is being downloaded into {dest.parent} by another program; try again when it is done."
            )
        try:
            transfer = _Transfer(url, dest, out, timeout, progress, cancel)
            resumed = os.fstat(out.fileno()).st_size > 0
            actual = transfer.run()
            if sha256_prefix and not actual.startswith(sha256_prefix.lower()) and resumed:
                out.truncate(0)  # the earlier bytes may be the damaged ones: once more from the start
                actual = transfer.run()
            if sha256_prefix and not actual.startswith(sha256_prefix.lower()):
                raise DamagedDownloadError(
                    f"The download of {dest.name} from {transfer.host} is damaged (SHA-256 starts with "
                    f"{actual[:8]}, expected {sha256_prefix.lower()}); try again later."
                )
            if os.name == "nt":  # Windows renames no open file; POSIX renames it still locked
                out.close()
            os.replace(part, dest)
            done = True
            return dest
        except DownloadFailedError as exc:
            keep = not isinstance(exc, DamagedDownloadError)
            raise
        finally:
            if not done:
                with contextlib.suppress(OSError):
                    if not keep or part.stat().st_size == 0:
                        part.unlink()


class FetchTally:
    """One progress over several downloads, as one bar shows it: files done of all, bytes of the total.

    Each file counts at its expected size (`CompressAISource.expected_size`) until its download
    says the real one; a file that turns out damaged in the cache joins the tally when it starts.
    """

    def __init__(self, sizes: Mapping[int, int]) -> None:
        self._sizes = dict(sizes)
        self._received = dict.fromkeys(self._sizes, 0)
        self.files_done = 0

    def update(self, quality: int, received: int, total: int | None) -> None:
        # no Content-Length: the estimate, or what has arrived once it is more
        self._sizes[quality] = total if total is not None else max(self._sizes.get(quality, 0), received)
        self._received[quality] = received

    def finish(self, quality: int) -> None:
        if quality in self._sizes:
            self._received[quality] = self._sizes[quality]
            self.files_done += 1

    @property
    def files(self) -> int:
        return len(self._sizes)

    @property
    def received(self) -> int:
        return sum(self._received.values())

    @property
    def total(self) -> int:
        return sum(self._sizes.values())

    def text(self) -> str:
        """E.g. "file 3 of 8, 40.2 of 144.3 MB"."""
        current = min(self.files_done + 1, self.files)
        return f"file {current} of {self.files}, {self.received / 1e6:.1f} of {self.total / 1e6:.1f} MB"


class CompressAISource(WeightSource):
    """CompressAI's 16 official checkpoints, downloaded on first use into (and reused from) torch.hub's cache.

    Every file is checked against the SHA-256 prefix its official name carries, once per source
    (and again when it changes on disk); a cached file that fails is moved aside and fetched again.
    """

    kind = "compressai"

    def __init__(
        self,
        metric: str = "mse",
        *,
        timeout: float = 30.0,
        base_url: str | None = None,
        cache_dir: Path | None = None,
        filenames: Mapping[int, str] | None = None,
    ) -> None:
        super().__init__(metric)
        self.timeout = timeout
        self.base_url = official_base_url(base_url)
        self.mirror: str | None = None  # the window's Settings choice of address, used before base_url
        self.cache_dir = Path(cache_dir) if cache_dir is not None else compressai_cache_dir()
        # `filenames` replaces the official table (tests serve files whose names carry their own hashes)
        self._filenames = dict(filenames) if filenames else {q: compressai_filename(q, self.metric) for q in QUALITIES}
        self._checked: dict[Path, tuple[int, int]] = {}  # file → (size, mtime) when its hash last matched

    def qualities(self) -> list[int]:
        return sorted(self._filenames)

    def describe(self) -> str:
        return f"CompressAI official ({self.metric})"

    @property
    def label(self) -> str:
        return "compressai"

    def filename(self, quality: int) -> str:
        return self._filenames[quality]

    def url(self, quality: int) -> str:
        base = official_base_url(self.mirror) if self.mirror else self.base_url
        return f"{base}/{self._filenames[quality]}"

    def cached_path(self, quality: int) -> Path:
        return self.cache_dir / self._filenames[quality]

    def is_cached(self, quality: int) -> bool:
        """Whether `load(quality)` will work without the network (file present; its hash is checked on load)."""
        return self.cached_path(quality).is_file()

    def missing(self, qualities: Iterable[int] | None = None) -> list[int]:
        """The qualities (of `qualities`, default all) whose file is not in the cache: what a fetch downloads."""
        return [q for q in (self.qualities() if qualities is None else qualities) if not self.is_cached(q)]

    def expected_size(self, quality: int) -> int:
        """Bytes of the file of `quality`: its size in the cache, else the official architecture's (OFFICIAL_SIZES)."""
        with contextlib.suppress(OSError):
            return self.cached_path(quality).stat().st_size
        return OFFICIAL_SIZES[quality - 1]

    def _checks_out(self, path: Path, prefix: str | None) -> bool:
        stat = path.stat()
        key = (stat.st_size, stat.st_mtime_ns)
        if self._checked.get(path) == key:
            return True
        if prefix is not None and not _verify_prefix(path, prefix):
            return False
        self._checked[path] = key
        return True

    def fetch(self, quality: int, progress: Progress | None = None, cancel: Cancel | None = None) -> Path:
        """The verified file of `quality` in the cache: checked if there, else downloaded (resumed where begun).

        A cached file whose hash does not match its name is moved aside (``NAME.damaged``, removed
        once a good copy is in) and fetched again; when that fails the error names it.
        """
        path = self.cached_path(quality)
        prefix = _hash_in_name(path.name)
        aside = path.with_name(path.name + ".damaged")
        damaged = False
        try:
            if path.is_file():
                if self._checks_out(path, prefix):
                    return path
                os.replace(path, aside)
                damaged = True
        except OSError as exc:
            raise WeightsError(f"Cannot check {path} ({_reason(exc, self.timeout)}).") from None
        try:
            download_checkpoint(self.url(quality), path, prefix, timeout=self.timeout, progress=progress, cancel=cancel)
        except DownloadFailedError as exc:
            text = str(exc)
            if damaged:
                text = (
                    f"The cached {path.name} was damaged (its SHA-256 does not start with {prefix}) and is moved "
                    f"aside to {aside}. {text}"
                )
            raise type(exc)(text, status=exc.status, metric=self.metric) from None
        with contextlib.suppress(OSError):  # moved aside by this try or an earlier one
            aside.unlink()
        self._checks_out(path, None)  # just checked while it arrived
        return path

    def _load(self, quality: int, progress: Progress | None, cancel: Cancel | None):
        path = self.fetch(quality, progress, cancel)
        return load_checkpoint(path), self.metric, LAMBDAS[self.metric][quality - 1]


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
