"""Training the factorized prior: one λ, or the whole 8-level ladder from a shared warm start.

Rate-distortion loss as CompressAI trains it: λ·255²·MSE + bpp (or λ·(1 − MS-SSIM) + bpp),
plus the quantile ("aux") loss with its own optimizer. A ladder run trains one warm-start
model at a middle λ, then walks outwards, fine-tuning each level from its neighbour, which
costs far less than eight runs from scratch. Runs under ``torchrun`` use
DistributedDataParallel (NCCL on CUDA, Gloo on CPU); a plain run uses one process.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import nn

from lci_studio.codec.image_io import IMAGE_SUFFIXES, load_rgb
from lci_studio.codec.metrics import ms_ssim_loss_value
from lci_studio.codec.model import LAMBDAS, FactorizedPrior
from lci_studio.codec.weights import (
    BundledSource,
    WeightSource,
    level_checkpoint,
    level_record,
    open_weight_source,
)

NEW_MODEL_N = 96
NEW_MODEL_M = 160


@dataclass
class TrainConfig:
    data: Path
    out: Path
    metric: str = "mse"
    # Transform channels of a new model (None: NEW_MODEL_N). A resumed level keeps its own, unless it
    # has fewer: then it is widened to N, function-preserving (`FactorizedPrior.with_hidden_channels`).
    N: int | None = None
    # Latent channels of a new model (None: NEW_MODEL_M). A resumed level keeps its own,
    # unless M is given and it has fewer: then it is widened to M, keeping what it learned.
    M: int | None = None
    crop: int = 128
    batch: int = 8
    lr: float = 1e-3
    min_lr: float = 2e-5
    # Linear ramp from min_lr to the peak before the cosine decay: a resumed level restarts
    # Adam with empty moments, and a full-size first step knocks a converged model back.
    warmup_steps: int = 0
    aux_lr: float = 1e-3
    clip: float = 1.0
    seed: int = 0
    threads: int = 0  # 0: leave torch's default
    # "bf16": the transforms run under bfloat16 autocast in channels-last layout (weights,
    # optimizer and the density model stay float32): 1.8x the steps/s of float32 on one
    # AVX-512-BF16 core. "fp32": everything in float32.
    precision: str = "fp32"
    # single-λ run
    quality: int = 4
    steps: int = 10_000
    # ladder run: warm start at `warm_quality`, then fine-tune outwards
    warm_steps: int = 10_000
    level_steps: int = 2_000
    level_lr: float = 3e-4
    warm_quality: int = 4
    # Train only these levels of the ladder (None: all 8); e.g. one process per core, each
    # with its own levels, writing into the same output folder.
    levels: tuple[int, ...] | None = None
    # Start from existing weights instead of random ones: "bundled", a ladder folder or a
    # checkpoint file (anything `open_weight_source` opens). Each level starts from the
    # source's weights of the same quality, so a shipped ladder keeps improving run by run.
    resume: str | None = None
    checkpoint_every_s: float = 300.0
    # Train each level for this many minutes of the process's CPU time instead of a step count
    # (the steps then only bound it): the cosine schedule runs over the budget, so two runs whose
    # steps cost differently (a widened level against today's width) get the same compute, however
    # busy the machine is. With --threads 1 a CPU minute is a minute of one core.
    level_cpu_minutes: float | None = None


@dataclass
class StepStats:
    step: int
    total: int
    loss: float
    bpp: float
    psnr: float
    lr: float


@dataclass
class LevelRecord:
    """One finished level. `steps`/`seconds` count this run; the totals add what the weights
    it resumed from had already had at this λ (from their manifest), so a ladder that keeps
    training run after run still says how much training each level has seen."""

    quality: int
    lmbda: float
    steps: int
    seconds: float
    history: list[dict] = field(default_factory=list)
    resumed_from: str | None = None
    total_steps: int = 0
    total_seconds: float = 0.0
    # "per-level": this level's own transforms; "joint": transforms shared with `trained_with`
    # (app/lci_studio/codec/gained.py), `steps` being the draws of this level among `joint_steps`.
    recipe: str = "per-level"
    trained_with: list[int] | None = None
    joint_steps: int | None = None


class CropStream:
    """Endless random crops with flips from every image of a folder, held in memory as uint8."""

    def __init__(self, folder: Path, crop: int, batch: int, seed: int) -> None:
        paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise FileNotFoundError(f"no training images in {folder}")
        self.images = [torch.from_numpy(load_rgb(p).pixels).permute(2, 0, 1).contiguous() for p in paths]
        self.images = [im for im in self.images if min(im.shape[1:]) >= crop]
        if not self.images:
            raise ValueError(f"every image in {folder} is smaller than the {crop}px crop")
        self.crop, self.batch = crop, batch
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[torch.Tensor]:
        while True:
            crops = []
            for _ in range(self.batch):
                image = self.rng.choice(self.images)
                _, h, w = image.shape
                top, left = self.rng.randrange(h - self.crop + 1), self.rng.randrange(w - self.crop + 1)
                patch = image[:, top : top + self.crop, left : left + self.crop]
                if self.rng.random() < 0.5:
                    patch = patch.flip(2)
                if self.rng.random() < 0.5:
                    patch = patch.flip(1)
                crops.append(patch)
            yield torch.stack(crops).float() / 255.0


def rate_distortion_loss(out: dict, x: torch.Tensor, lmbda: float, metric: str) -> tuple[torch.Tensor, float, float]:
    """(loss, bpp, psnr) of one batch."""
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = torch.log(out["likelihoods"]).sum() / (-math.log(2) * pixels)
    x_hat = out["x_hat"].float()  # bfloat16 under autocast
    mse = torch.mean((x_hat - x) ** 2)
    mse_loss = metric == "mse"
    distortion = lmbda * 255**2 * mse if mse_loss else lmbda * (1 - ms_ssim_loss_value(x, x_hat))
    psnr = -10 * math.log10(max(float(mse.detach()), 1e-10))
    return distortion + bpp, float(bpp.detach()), psnr


class _Distributed:
    """torchrun integration: rank, device, gradient averaging for the aux parameters."""

    def __init__(self) -> None:
        self.world = self.world_size()
        self.rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", "0"))
        cuda = torch.cuda.is_available()
        self.device = torch.device(f"cuda:{local}" if cuda else "cpu")
        if self.world > 1:
            if cuda:
                torch.cuda.set_device(self.device)
            torch.distributed.init_process_group("nccl" if cuda else "gloo")

    @staticmethod
    def world_size() -> int:
        """How many processes torchrun started (1 without it)."""
        return int(os.environ.get("WORLD_SIZE", "1"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module) -> nn.Module:
        if self.world == 1:
            return model
        ids = [self.device.index] if self.device.type == "cuda" else None
        # The quantiles only see the aux loss, whose gradient `average_grad` syncs by hand.
        nn.parallel.DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(
            model, ["entropy_bottleneck.quantiles"]
        )
        return nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def average_grad(self, parameter: torch.Tensor) -> None:
        if self.world > 1 and parameter.grad is not None:
            torch.distributed.all_reduce(parameter.grad)
            parameter.grad /= self.world

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world > 1:
            torch.distributed.destroy_process_group()


def learning_rate(step: int, steps: int, peak: float, cfg: TrainConfig, done: float | None = None) -> float:
    """Linear warm-up from `cfg.min_lr` over `cfg.warmup_steps`, then cosine decay back to it, over
    the steps or, when `done` is given, over that fraction of a CPU-time budget."""
    if step < cfg.warmup_steps:
        return cfg.min_lr + (peak - cfg.min_lr) * step / cfg.warmup_steps
    decay = min(done, 1.0) if done is not None else (step - cfg.warmup_steps) / max(steps - cfg.warmup_steps, 1)
    return cfg.min_lr + 0.5 * (peak - cfg.min_lr) * (1 + math.cos(math.pi * decay))


@dataclass
class CpuBudget:
    """A level's CPU-time budget (`TrainConfig.level_cpu_minutes`), counted across a stop and resume."""

    seconds: float
    spent_before: float = 0.0
    started: float = field(default_factory=time.process_time)

    def spent(self) -> float:
        return self.spent_before + time.process_time() - self.started

    def fraction(self) -> float:
        return self.spent() / self.seconds


class LossWindow:
    """Means of loss, bpp and PSNR over every 50 steps (and the last one): the training history."""

    size = 50

    def __init__(self) -> None:
        self.values: list[tuple[float, float, float]] = []

    def add(
        self, loss: float, bpp: float, psnr: float, step: int, total: int, lr: float, last: bool
    ) -> StepStats | None:
        self.values.append((loss, bpp, psnr))
        return self.flush(step, total, lr) if len(self.values) >= self.size or last else None

    def flush(self, step: int, total: int, lr: float) -> StepStats | None:
        """The mean of what was added since the last StepStats (None when nothing was)."""
        if not self.values:
            return None
        mean = np.mean(self.values, axis=0)
        self.values.clear()
        return StepStats(step, total, float(mean[0]), float(mean[1]), float(mean[2]), lr)


def rate_distortion_step(
    forward: Callable[[torch.Tensor], dict],
    x: torch.Tensor,
    lmbda: float,
    cfg: TrainConfig,
    optimizer: torch.optim.Optimizer,
    aux_optimizer: torch.optim.Optimizer,
    main_params: list[nn.Parameter],
    aux_loss: Callable[[], torch.Tensor],
    sync_aux: Callable[[], None] = lambda: None,
) -> tuple[float, float, float]:
    """One optimizer step of the rate-distortion loss, then one of the aux loss; (loss, bpp, psnr)."""
    optimizer.zero_grad(set_to_none=True)
    aux_optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=cfg.precision == "bf16"):
        out = forward(x)
    loss, bpp, psnr = rate_distortion_loss(out, x, lmbda, cfg.metric)
    loss.backward()
    if cfg.clip > 0:
        nn.utils.clip_grad_norm_(main_params, cfg.clip)
    optimizer.step()
    aux_loss().backward()
    sync_aux()
    aux_optimizer.step()
    return float(loss.detach()), bpp, psnr


def train_level(
    model: FactorizedPrior,
    crops: Iterator[torch.Tensor],
    lmbda: float,
    steps: int,
    lr: float,
    cfg: TrainConfig,
    dist: _Distributed,
    on_step: Callable[[StepStats], None] | None = None,
    checkpoint: Callable[[int, dict], None] | None = None,
    start_state: dict | None = None,
    history: list[dict] | None = None,
) -> int:
    """Train `model` at one λ for `steps` steps (warm-up, then cosine learning-rate decay).

    With `cfg.level_cpu_minutes` it stops when that much CPU time is spent (counting what a resumed
    `start_state` had spent) and `steps` only bounds it. The loss history (every 50 steps) is appended
    to `history`, so a checkpoint taken mid-level carries it. Returns the steps reached."""
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    aux_params = [model.entropy_bottleneck.quantiles]
    optimizer = torch.optim.Adam(main_params, lr=lr)
    aux_optimizer = torch.optim.Adam(aux_params, lr=cfg.aux_lr)
    first = 0
    if start_state:
        optimizer.load_state_dict(start_state["optimizer"])
        aux_optimizer.load_state_dict(start_state["aux_optimizer"])
        first = start_state["step"]
    reached = first
    budget = None
    if cfg.level_cpu_minutes:
        budget = CpuBudget(cfg.level_cpu_minutes * 60.0, float((start_state or {}).get("cpu_seconds") or 0.0))
    layout = torch.channels_last if cfg.precision == "bf16" else torch.contiguous_format
    model.to(memory_format=layout)  # type: ignore[call-overload]  # torch's stubs lack Module.to(memory_format=)
    net = dist.wrap(model)
    model.train()
    history = [] if history is None else history
    window = LossWindow()
    last_save = time.monotonic()
    for step in range(first, steps):
        done = budget.fraction() if budget else None
        step_lr = learning_rate(step, steps, lr, cfg, done)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        x = next(crops).to(dist.device, non_blocking=True).contiguous(memory_format=layout)
        loss, bpp, psnr = rate_distortion_step(
            net, x, lmbda, cfg, optimizer, aux_optimizer, main_params, model.aux_loss,
            sync_aux=lambda: dist.average_grad(model.entropy_bottleneck.quantiles),
        )
        reached = step + 1
        over = budget is not None and budget.fraction() >= 1.0
        stats = window.add(loss, bpp, psnr, reached, steps, step_lr, last=step == steps - 1 or over)
        if stats:
            history.append(asdict(stats))
            if on_step:
                on_step(stats)
        if over:
            break
        if checkpoint and time.monotonic() - last_save > cfg.checkpoint_every_s:
            optim = {"optimizer": optimizer.state_dict(), "aux_optimizer": aux_optimizer.state_dict()}
            checkpoint(reached, {**optim, "cpu_seconds": budget.spent() if budget else None})
            last_save = time.monotonic()
    model.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]  # plain strides for checkpoints
    model.eval()
    return reached


def ladder_order(warm_quality: int) -> list[int]:
    """Warm level first, then outwards: up to 8 from the warm level, then down to 1."""
    return [warm_quality, *range(warm_quality + 1, 9), *range(warm_quality - 1, 0, -1)]


def neighbour(quality: int, warm_quality: int) -> int:
    """The level a fine-tune starts from."""
    return quality - 1 if quality > warm_quality else quality + 1


def _earlier_training(source: WeightSource, quality: int) -> dict:
    """What a manifest says the weights a level resumes from had already had (empty when unknown)."""
    return source.level(quality) if isinstance(source, BundledSource) else {}


def _save_level_state(
    path: Path, quality: int, model: FactorizedPrior, started: float, history: list[dict], step: int, optim: dict
) -> None:
    """Everything a stopped level needs to go on: weights, optimizer moments, time and history so far."""
    payload = {"quality": quality, "step": step, "model": model.state_dict(), **optim}
    _save_state(path, {**payload, "seconds": time.monotonic() - started, "history": history})


def _save_state(path: Path, payload: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def training_plan(cfg: TrainConfig, ladder: bool) -> list[tuple[int, int]]:
    """[(quality, steps)] in training order: one level, or the ladder (or `cfg.levels` of it)."""
    if not ladder:
        return [(cfg.quality, cfg.steps)]
    order = [q for q in ladder_order(cfg.warm_quality) if cfg.levels is None or q in cfg.levels]
    return [(q, cfg.warm_steps if q == cfg.warm_quality else cfg.level_steps) for q in order]


def widened(model: FactorizedPrior, cfg: TrainConfig) -> FactorizedPrior:
    """`model` grown to the run's --N and --M where it is narrower (a level that outgrew its capacity),
    keeping what it learned: both widenings decode exactly as before until training uses the new channels."""
    if cfg.N and model.N < cfg.N:
        model = model.with_hidden_channels(cfg.N, torch.Generator().manual_seed(cfg.seed))
    if cfg.M and model.M < cfg.M:
        model = model.with_latent_channels(cfg.M, torch.Generator().manual_seed(cfg.seed))
    return model


def _starting_point(cfg: TrainConfig, ladder: bool, quality: int, available: list[int]) -> int | Path | None:
    """Where a level starts: a quality of the `--resume` weights, the finished checkpoint of its
    ladder neighbour, or None for random weights. (A stopped level's own state file wins over all.)"""
    if cfg.resume and (quality in available or not ladder):
        return quality if quality in available else available[0]
    if ladder and quality != cfg.warm_quality:
        return level_checkpoint(cfg.out, neighbour(quality, cfg.warm_quality))
    return None


def _state_path(out: Path, quality: int) -> Path:
    """One resume file per level, so runs over disjoint levels can share an output folder."""
    return out / f"state-q{quality}.pt"


def train(cfg: TrainConfig, ladder: bool, progress: Callable[[str, StepStats], None] | None = None) -> dict[int, Path]:
    """Run a single-λ or ladder training; return {quality: finished checkpoint path}.

    Every finished level is written to ``out/q{n}.pth.tar`` (a plain CompressAI-layout state
    dict with integer CDF tables) and ``out/q{n}.json`` (its training record); a level that
    is stopped resumes from ``out/state-q{n}.pt``.
    """
    plan = training_plan(cfg, ladder)
    resume_source = open_weight_source(cfg.resume, cfg.metric, quality_label=cfg.quality) if cfg.resume else None
    available = resume_source.qualities() if resume_source else []
    planned = {q for q, _ in plan}
    for quality, _ in plan:
        start = _starting_point(cfg, ladder, quality, available)
        previous = neighbour(quality, cfg.warm_quality)
        if isinstance(start, Path) and previous not in planned and not start.exists():
            raise ValueError(
                f"q{quality} is fine-tuned from q{previous}, which is neither trained in this run "
                f"nor finished in {cfg.out}: add it to the levels or resume from weights that have q{quality}"
            )
    if cfg.level_cpu_minutes and _Distributed.world_size() > 1:
        # each rank counts its own CPU time, so they would stop at different steps and leave the others
        # waiting in the gradient average
        raise ValueError("--level-cpu-minutes budgets one process's CPU time; under torchrun use --level-steps")
    dist = _Distributed()
    torch.manual_seed(cfg.seed + dist.rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    cfg.out.mkdir(parents=True, exist_ok=True)
    crops = iter(CropStream(cfg.data, cfg.crop, cfg.batch, cfg.seed + 1000 * dist.rank))
    lambdas = LAMBDAS[cfg.metric]
    finished: dict[int, Path] = {}
    for quality, steps in plan:
        done = level_checkpoint(cfg.out, quality)
        if done.exists():
            finished[quality] = done
            continue
        state_path = _state_path(cfg.out, quality)
        start_state = torch.load(state_path, weights_only=True) if state_path.exists() else None
        start = _starting_point(cfg, ladder, quality, available)
        # an int start is a quality of the --resume weights (so resume_source is open)
        resumed = isinstance(start, int)
        earlier = _earlier_training(resume_source, start) if isinstance(start, int) and resume_source else {}
        if start_state:
            model = FactorizedPrior.from_state_dict(start_state["model"])
        elif isinstance(start, int) and resume_source is not None:
            model = FactorizedPrior.from_state_dict(resume_source.load(start).model.state_dict())
        elif isinstance(start, Path):
            model = FactorizedPrior.from_state_dict(torch.load(start, weights_only=True))
        else:
            model = FactorizedPrior(cfg.N or NEW_MODEL_N, cfg.M or NEW_MODEL_M)
        model = widened(model, cfg)
        model.to(dist.device)
        lr = cfg.level_lr if start is not None else cfg.lr

        started = time.monotonic() - (start_state or {}).get("seconds", 0.0)
        history: list[dict] = list((start_state or {}).get("history", []))

        checkpoint = partial(_save_level_state, state_path, quality, model, started, history) if dist.main else None
        steps = train_level(
            model, crops, lambdas[quality - 1], steps, lr, cfg, dist,
            on_step=partial(progress, f"q{quality}") if progress and dist.main else None,
            checkpoint=checkpoint, start_state=start_state, history=history,
        )
        if dist.main:
            model.cpu()
            model.entropy_bottleneck.build_tables()
            _save_state(done, model.state_dict())
            seconds = time.monotonic() - started
            record = LevelRecord(
                quality, lambdas[quality - 1], steps, seconds, history,
                resumed_from=f"{cfg.resume} q{start}" if resumed else None,
                total_steps=steps + int(earlier.get("steps") or 0),
                total_seconds=round(seconds + float(earlier.get("training_seconds") or 0.0), 1),
            )
            level_record(cfg.out, quality).write_text(json.dumps(asdict(record), indent=1))
            state_path.unlink(missing_ok=True)
        dist.barrier()  # the next level may start from this one's file, on every rank
        finished[quality] = done
    dist.close()
    return finished
