"""What `lci` reads and writes: files read with one-line reasons, outputs written atomically, and every
output checked before any work (`check_outputs`, `check_output_folder`: one overwrite rule)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lci_studio.cli.failures import CliError
from lci_studio.codec.image_io import IMAGE_SUFFIXES, atomic_write
from lci_studio.codec.report import json_text


def read_file(path: str | os.PathLike) -> bytes:
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CliError(f"{path}: is a folder, not a file") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None


def write_file(path: str | os.PathLike, data: bytes) -> None:
    """Atomic write with a one-line reason on failure (missing folder, full disk, permission)."""
    path = Path(path)
    if path.is_dir():
        raise CliError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir():
        raise CliError(f"cannot write {path}: folder {path.parent} does not exist")
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


OVERWRITE_RULE = "an existing output is replaced unless --no-clobber is given"


def check_outputs(
    outputs: Sequence[str | os.PathLike | None], inputs: Sequence[str | os.PathLike] = (), no_clobber: bool = False
) -> None:
    """Refuse, before any work, outputs that can't be written where they are asked for.

    Each named output must not be a folder, not be one of `inputs` (the picture would be lost), not
    be named twice, and its folder must exist and take a new file (tried with a temp file, which is
    what the final atomic write does); with `no_clobber`, it must not exist yet.
    """
    named = [Path(o) for o in outputs if o is not None]
    seen: set[Path] = set()
    for path in named:
        full = Path(os.path.abspath(path))
        if full in seen:
            raise CliError(f"{path} is named as two outputs; choose a name for each")
        seen.add(full)
        if path.is_dir():
            raise CliError(f"cannot write {path}: it is a folder")
        if path.exists():
            for source in inputs:
                with contextlib.suppress(OSError):
                    if os.path.samefile(path, source):
                        raise CliError(f"cannot write {path}: it is the input file; choose another output name")
            if no_clobber:
                raise CliError(f"{path} exists (--no-clobber); remove it or choose another output name")
        folder = path.parent
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise CliError(f"cannot write {path}: {folder} {what}")
        problem = _cannot_create_in(folder)
        if problem:
            raise CliError(f"cannot write {path}: folder {folder}: {problem}")


def check_output_folder(folder: str | os.PathLike) -> None:
    """Refuse, before any work, an output folder that is a file or can't be made or written into."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"cannot write into {folder}: it is a file, not a folder")
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CliError(f"cannot make {folder}: {existing} is not a folder")
    problem = _cannot_create_in(existing)
    if problem:
        raise CliError(f"cannot write into {folder}: {existing}: {problem}")


def _cannot_create_in(folder: Path) -> str | None:
    """Why a new file can't be made in `folder` (tried with a temp file, as the final atomic write does), or None."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".lci-check-"):
            return None
    except OSError as exc:
        return str(exc.strerror or exc)


def write_json(path: str | os.PathLike, document: dict[str, Any]) -> None:
    write_file(path, json_text(document).encode())


def image_paths(folder: str | os.PathLike) -> list[Path]:
    """The images directly inside a folder (not recursive), in name order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CliError(f"{folder}: no such folder")
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise CliError(f"{folder}: no images in it ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths
