"""Ship a finished training run as the bundled weights: float16 safetensors per level plus `manifest.json`.

A run over some levels (``lci train --levels 6-8``) replaces just those levels of an existing
bundle and keeps the rest, so a bundle is updated, not cut down. With eval images the whole
ladder is measured again on exactly what ships, through the same code as `lci bench`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lci_studio.codec.comparison import bench_folder
from lci_studio.codec.image_io import atomic_write
from lci_studio.codec.model import FAMILY, LAMBDAS, METRICS, QUALITIES
from lci_studio.codec.report import finite, json_text
from lci_studio.codec.weights import (
    MANIFEST_NAME,
    BundledSource,
    WeightsError,
    bundled_weights_dir,
    level_checkpoint,
    level_record,
    load_checkpoint,
    write_bundled_level,
)

TRAINING_DATA = "wikimedia-commons-49 train split"


class BundleError(Exception):
    """The run cannot be exported (no finished levels, unreadable record, unwritable folder); one sentence."""


@dataclass
class BundleExport:
    """What an export wrote: the manifest's levels, which of them were kept from before, and why others were not."""

    dest: Path
    metric: str
    levels: list[dict[str, Any]]
    kept: list[int]
    notes: list[str] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        return sum((self.dest / level["file"]).stat().st_size for level in self.levels)


def finished_levels(run: Path) -> dict[int, Path]:
    """The checkpoints `lci train` finished in a run folder, by quality."""
    if not run.is_dir():
        raise BundleError(f"{run}: no such folder")
    found = {q: level_checkpoint(run, q) for q in QUALITIES if level_checkpoint(run, q).is_file()}
    if not found:
        raise BundleError(f"{run}: no finished levels (q1.pth.tar … q8.pth.tar) in it")
    return found


def export_bundle(
    run: Path,
    dest: Path | None = None,
    *,
    eval_paths: Sequence[Path] | None = None,
    metric: str | None = None,
    training_data: str = TRAINING_DATA,
    eval_folder: str | None = None,
) -> BundleExport:
    """Write the run's levels (and the intact levels already in `dest` it does not replace) as a bundle."""
    run = Path(run)
    found = finished_levels(run)
    dest = Path(dest) if dest is not None else bundled_weights_dir()
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BundleError(f"cannot create {dest}: {exc.strerror or exc}") from None
    records = {quality: _record(level_record(run, quality)) for quality in found}
    metric = metric or metric_of(records)
    levels = []
    for quality, path in found.items():
        model = load_checkpoint(path)
        record = records[quality]
        name = f"q{quality}.safetensors"
        try:
            sha256 = write_bundled_level(model.state_dict(), dest / name)
        except OSError as exc:
            raise BundleError(f"cannot write {dest / name}: {exc.strerror or exc}") from None
        level = {
            "quality": quality,
            "file": name,
            "lambda": record.get("lmbda", LAMBDAS[metric][quality - 1]),
            "N": model.N,
            "M": model.M,
            # all the steps these weights have had at this λ, earlier runs they resumed from included
            "steps": record.get("total_steps") or record.get("steps"),
            "sha256": sha256,
        }
        if "seconds" in record:
            level["training_seconds"] = round(float(record.get("total_seconds") or record["seconds"]), 1)
        if record.get("recipe") == "joint":  # the window says so when it explains the level
            level["trained_with"] = record["trained_with"]
        levels.append(level)
        del model
    notes: list[str] = []
    kept = levels_kept(dest, metric, replaced=set(found), note=notes.append)
    levels = sorted([*levels, *kept], key=lambda level: level["quality"])
    for stale in dest.glob("q[1-8].safetensors"):
        if stale.name not in {level["file"] for level in levels}:
            stale.unlink()
    manifest: dict[str, Any] = {"family": FAMILY, "metric": metric, "training_data": training_data, "levels": levels}
    _write_manifest(dest, manifest)
    if eval_paths:
        # Measured on exactly what ships (float16 safetensors), through the same code path as `lci bench`.
        summary = bench_folder(BundledSource(dest), eval_paths)
        ladder = summary.ladder
        columns = (levels, ladder.bpp, ladder.values("psnr"), ladder.values("ms-ssim"))
        for level, bpp, psnr, ms_ssim in zip(*columns, strict=True):
            level["eval"] = {"bpp": round(bpp, 5), "psnr": finite(round(psnr, 4)), "ms_ssim": round(ms_ssim, 6)}
        folder = eval_folder if eval_folder is not None else Path(eval_paths[0]).parent.name
        manifest["eval_data"] = {"folder": folder, "images": len(eval_paths)}
        _write_manifest(dest, manifest)
    return BundleExport(dest, metric, levels, [level["quality"] for level in kept], notes)


def levels_kept(
    dest: Path, metric: str, replaced: set[int], note: Callable[[str], None] = lambda text: None
) -> list[dict[str, Any]]:
    """The levels of the ladder already in `dest` that this run does not replace.

    Only intact levels of the same metric are kept (`note` hears why others are not); their old
    eval is dropped, since the export measures the whole ladder again.
    """
    if not (dest / MANIFEST_NAME).is_file():
        return []
    try:
        existing = BundledSource(dest)
    except WeightsError as exc:
        note(f"not keeping the levels already in {dest}: {exc}")
        return []
    if existing.metric != metric:
        note(f"not keeping the levels already in {dest}: they are trained for {existing.metric}, this run for {metric}")
        return []
    kept = []
    for quality in existing.qualities():
        if quality in replaced:
            continue
        try:
            existing.verified_file(quality)
        except WeightsError as exc:
            note(f"dropping q{quality} of {dest}: {exc}")
            continue
        level = existing.level(quality)
        level.pop("eval", None)
        kept.append(level)
    return kept


def metric_of(records: dict[int, dict[str, Any]]) -> str:
    """The metric whose λ table the training records' λ values come from (mse when unknown)."""
    for metric in METRICS:
        if (
            records
            and all(
                r.get("lmbda") is None or math.isclose(r["lmbda"], LAMBDAS[metric][q - 1]) for q, r in records.items()
            )
            and any(r.get("lmbda") is not None for r in records.values())
        ):
            return metric
    return "mse"


def _record(path: Path) -> dict[str, Any]:
    """A level's training record (`qN.json`), or {} when the run wrote none."""
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_bytes())
    except OSError as exc:
        raise BundleError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BundleError(f"{path}: not a training record ({exc})") from None
    if not isinstance(record, dict):
        raise BundleError(f"{path}: not a training record (not a JSON object)")
    return record


def _write_manifest(dest: Path, manifest: dict[str, Any]) -> None:
    try:
        atomic_write(dest / MANIFEST_NAME, json_text(manifest).encode())
    except OSError as exc:
        raise BundleError(f"cannot write {dest / MANIFEST_NAME}: {exc.strerror or exc}") from None
