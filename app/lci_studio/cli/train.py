"""`lci train` (one quality, the ladder, or the joint recipe) and `lci export-bundle` (a finished run →
the bundled weights)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

from lci_studio.cli.failures import CliError
from lci_studio.cli.files import check_output_folder, image_paths
from lci_studio.cli.terminal import is_main_rank, say, tty
from lci_studio.codec.weights import level_checkpoint, open_weight_source


def training_missing() -> str | None:
    """Why this install cannot train, or None. The standalone build leaves out torch's compiler stack
    (torch._dynamo, with sympy: over 100 MB) to stay small, and torch's optimizers load it."""
    if importlib.util.find_spec("torch._dynamo") is None:
        return (
            "lci train is not part of the standalone build (it leaves out torch's compiler stack, which "
            "training needs); train from a pip install of LCI Studio (README: Set up and run)"
        )
    return None


def cmd_train(args: argparse.Namespace) -> int:
    if problem := training_missing():
        raise CliError(problem)
    from lci_studio.codec import gained, training

    data = Path(args.data)
    if not data.is_dir():
        raise CliError(f"{data}: no such folder")
    out = Path(args.out)
    if args.joint and args.ladder:
        raise CliError("--joint and --ladder are two recipes: choose one")
    if args.joint and args.level_cpu_minutes:
        raise CliError(
            "--level-cpu-minutes budgets each level of a per-level run; --joint trains them together: use --steps"
        )
    check_output_folder(out)
    if args.resume and not (args.joint and gained.is_gained_checkpoint(args.resume)):
        # any weights the app reads, checked before hours of training
        open_weight_source(args.resume, args.metric, quality_label=args.quality).qualities()
    cfg = training.TrainConfig(
        data=data,
        out=out,
        metric=args.metric,
        N=args.N,
        M=args.M,
        crop=args.crop,
        batch=args.batch,
        lr=args.lr,
        seed=args.seed,
        threads=args.threads,
        precision=args.precision,
        quality=args.quality,
        steps=args.steps,
        warm_steps=args.warm_steps,
        level_steps=args.level_steps,
        level_lr=args.level_lr,
        warmup_steps=args.warmup_steps,
        warm_quality=args.warm_quality,
        levels=args.levels,
        resume=args.resume,
        level_cpu_minutes=args.level_cpu_minutes,
    )
    if args.joint:
        total = args.steps
    else:
        plan = training.training_plan(cfg, args.ladder)
        total = sum(steps for q, steps in plan if not level_checkpoint(out, q).exists())
    talk = is_main_rank()
    progress, close = _train_progress(total, talk)
    started = time.monotonic()
    try:
        finished = gained.train_joint(cfg, progress) if args.joint else training.train(cfg, args.ladder, progress)
    except ValueError as exc:  # e.g. every image smaller than the crop
        raise CliError(str(exc)) from None
    finally:
        close()
    if talk:
        qualities = ", ".join(f"q{q}" for q in sorted(finished))
        say(f"trained {qualities} in {time.monotonic() - started:.0f} s; checkpoints in {out}")
    return 0


def _train_progress(total: int, talk: bool):
    """(progress callback, close) drawing a tqdm bar on a terminal, or a plain line every 30 s otherwise."""
    if not talk:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, unit="step", desc="train", file=sys.stderr, dynamic_ncols=True) if tty() else None
    state = {"label": None, "step": 0, "printed": 0.0}

    def progress(label: str, stats) -> None:
        if label.split()[0] != state["label"]:  # a new level of a ladder; "joint qN" counts one run
            state["label"], state["step"] = label.split()[0], 0
        advance, state["step"] = stats.step - state["step"], stats.step
        text = f"loss {stats.loss:.4f} bpp {stats.bpp:.3f} PSNR {stats.psnr:.2f} lr {stats.lr:.1e}"
        if bar is not None:
            bar.set_postfix_str(f"{label} {text}", refresh=False)
            bar.update(advance)
        elif time.monotonic() - state["printed"] > 30 or stats.step == stats.total:
            state["printed"] = time.monotonic()
            say(f"[{label} {stats.step}/{stats.total}] {text}")

    return progress, (bar.close if bar is not None else lambda: None)


def cmd_export_bundle(args: argparse.Namespace) -> int:
    from lci_studio.codec.bundle import export_bundle, finished_levels

    run = Path(args.run_dir)
    finished_levels(run)  # before the eval folder is looked at: a run with nothing to ship is the first error
    if args.dest:
        check_output_folder(args.dest)
    eval_paths = image_paths(args.eval) if args.eval else None
    exported = export_bundle(
        run,
        Path(args.dest) if args.dest else None,
        eval_paths=eval_paths,
        metric=args.metric,
        training_data=args.training_data,
        eval_folder=Path(args.eval).name if args.eval else None,
    )
    for note in exported.notes:
        say(note)
    kept = exported.kept
    kept_note = f", kept q{', q'.join(str(q) for q in kept)} as they were" if kept else ""
    say(
        f"exported {len(exported.levels)} levels ({exported.metric}, {exported.size_bytes / 1e6:.1f} MB) "
        f"to {exported.dest}{kept_note}"
    )
    for level in exported.levels:
        ev = level.get("eval")
        tail = f": {ev['bpp']:.4f} bpp, {ev['psnr']:.2f} dB, MS-SSIM {ev['ms_ssim']:.4f}" if ev and ev["psnr"] else ""
        say(f"  q{level['quality']} N={level['N']} M={level['M']} λ={level['lambda']:g}{tail}")
    return 0
