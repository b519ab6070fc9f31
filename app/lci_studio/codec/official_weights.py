"""CompressAI's official checkpoints, downloaded on first use into torch.hub's cache (import them from `weights`).

A download goes into one `.NAME.part` per file (locked while written), resumed with HTTP Range, and is
renamed into place only after the SHA-256 prefix in the official name matches: no failure leaves a
partial file under a checkpoint's name.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from lci_studio.codec.model import FAMILY, LAMBDAS, QUALITIES
from lci_studio.codec.weight_source import (
    Cancel,
    DamagedDownloadError,
    DownloadCancelledError,
    DownloadFailedError,
    Progress,
    WeightsError,
    WeightSource,
    _check_metric,
    _check_quality,
    _short,
    _verify_prefix,
    load_checkpoint,
)

COMPRESSAI_URL_ROOT = "https://compressai.s3.amazonaws.com/models/v1"
_CHUNK = 64 * 1024
_CANCEL_POLL_S = 0.1

# The 8 hex digits are the first 8 of each file's SHA-256 (CompressAI's zoo, v1).
_COMPRESSAI_HASHES = {
    "mse": ("446d5c7f", "87279a02", "5c6f152b", "1ed4405a", "866ba797", "9b02ea3a", "6dfd6734", "5232faa3"),
    "ms-ssim": ("9781d705", "4a584386", "5352f123", "4f91b847", "b3a88897", "ee028763", "8c265a29", "8811bd14"),
}
_NAME_METRIC = {"mse": "prior", "ms-ssim": "ms-ssim"}


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
