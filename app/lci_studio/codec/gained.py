"""Joint training of several ladder levels: one pair of transforms, a channel gain per level.

Trained one at a time, each level's transforms learn only from the steps spent at its own λ.
Here every level shares g_a and g_s, and differs only in a per-channel gain on the latent, an
inverse gain before synthesis and its own entropy bottleneck (the gained variational
autoencoder of Cui et al., "Asymmetric Gained Deep Image Compression with Continuous Rate
Adaptation"). Each step draws one level and trains with that level's λ, so every step
improves the transforms that all levels use.

What ships stays eight ordinary `FactorizedPrior` checkpoints: g_a ends in a linear
convolution and g_s starts with a linear transposed convolution, so a level's gain folds
into the last convolution's output channels and its inverse gain into the first transposed
convolution's input channels, exactly (`GainedFactorizedPrior.fold`).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import cast

import torch
from torch import nn

from lci_studio.codec.entropy_model import EntropyBottleneck
from lci_studio.codec.model import LAMBDAS, FactorizedPrior
from lci_studio.codec.training import (
    NEW_MODEL_M,
    NEW_MODEL_N,
    CropStream,
    LevelRecord,
    LossWindow,
    StepStats,
    TrainConfig,
    _Distributed,
    _earlier_training,
    _save_state,
    learning_rate,
    rate_distortion_step,
    widened,
)
from lci_studio.codec.weights import level_checkpoint, level_record, open_weight_source

GAINED_KIND = "gained-factorized-prior"
STATE_NAME = "joint-state.pt"  # a stopped joint run goes on from here
FINISHED_NAME = "joint.pt"  # the finished gained model, which a later joint run may continue


class GainedFactorizedPrior(nn.Module):
    """Shared g_a / g_s; for each quality a latent gain, an inverse gain and an entropy bottleneck."""

    def __init__(self, N: int, M: int, qualities: Sequence[int]) -> None:
        super().__init__()
        self.N, self.M = N, M
        self.qualities = tuple(sorted(qualities))
        shared = FactorizedPrior(N, M)
        self.g_a, self.g_s = shared.g_a, shared.g_s
        self.bottlenecks = nn.ModuleList(EntropyBottleneck(M) for _ in self.qualities)
        # log-parametrized so that gains stay positive; one row per quality
        self.log_gain = nn.Parameter(torch.zeros(len(self.qualities), M))
        self.log_inverse_gain = nn.Parameter(torch.zeros(len(self.qualities), M))

    def _row(self, quality: int) -> int:
        if quality not in self.qualities:
            raise ValueError(f"q{quality} is not one of this model's levels ({self.qualities})")
        return self.qualities.index(quality)

    def bottleneck(self, quality: int) -> EntropyBottleneck:
        return cast(EntropyBottleneck, self.bottlenecks[self._row(quality)])

    def gains(self, quality: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(gain, inverse gain), each (M,), of one quality."""
        row = self._row(quality)
        return self.log_gain[row].exp(), self.log_inverse_gain[row].exp()

    def latent(self, x: torch.Tensor, quality: int) -> torch.Tensor:
        """The gained latent of one quality: what its bottleneck quantizes."""
        gain, _ = self.gains(quality)
        return self.g_a(x) * gain.reshape(1, -1, 1, 1)

    def forward(self, x: torch.Tensor, quality: int) -> dict[str, torch.Tensor]:
        _, inverse = self.gains(quality)
        y_hat, likelihoods = self.bottleneck(quality)(self.latent(x, quality))
        return {"x_hat": self.g_s(y_hat * inverse.reshape(1, -1, 1, 1)), "likelihoods": likelihoods}

    def aux_loss(self, quality: int) -> torch.Tensor:
        return self.bottleneck(quality).aux_loss()

    @torch.no_grad()
    def fold(self, quality: int) -> FactorizedPrior:
        """An ordinary FactorizedPrior (with integer CDF tables) that computes exactly this level."""
        gain, inverse = (g.detach().float().cpu() for g in self.gains(quality))
        level = FactorizedPrior(self.N, self.M)
        state = {f"g_a.{k}": v for k, v in self.g_a.state_dict().items()}
        state |= {f"g_s.{k}": v for k, v in self.g_s.state_dict().items()}
        state |= {f"entropy_bottleneck.{k}": v for k, v in self.bottleneck(quality).state_dict().items()}
        state = {k: v.detach().cpu().clone().contiguous() for k, v in state.items()}
        state["g_a.6.weight"] *= gain.reshape(-1, 1, 1, 1)
        state["g_a.6.bias"] *= gain
        state["g_s.0.weight"] *= inverse.reshape(-1, 1, 1, 1)  # transposed conv: (in = M, out = N, k, k)
        for key in ("_offset", "_quantized_cdf", "_cdf_length"):
            state.pop(f"entropy_bottleneck.{key}")
        level.load_state_dict(state)  # no tables in it: built from the density here
        return level.eval()

    @classmethod
    @torch.no_grad()
    def from_level(
        cls, start: FactorizedPrior, start_quality: int, qualities: Sequence[int], lambdas: Sequence[float]
    ) -> GainedFactorizedPrior:
        """Shared transforms from one trained level; every level's gain and density scaled from it.

        Quality q starts with gain sqrt(λ_q / λ_start) on every channel: at high rate the best
        quantizer step shrinks as 1/sqrt(λ), and a gain g is a step of 1/g. Its bottleneck
        starts as the start level's density of the latent scaled by that gain, so each level
        begins as the start level's coder at a finer or coarser step. The start level itself
        begins exactly as it was.
        """
        model = cls(start.N, start.M, qualities)
        model.g_a.load_state_dict(start.g_a.state_dict())
        model.g_s.load_state_dict(start.g_s.state_dict())
        for row, quality in enumerate(model.qualities):
            gain = math.sqrt(lambdas[quality - 1] / lambdas[start_quality - 1])
            model.log_gain[row].fill_(math.log(gain))
            model.log_inverse_gain[row].fill_(-math.log(gain))
            model.bottlenecks[row].load_state_dict(scaled_density(start.entropy_bottleneck, gain).state_dict())
        return model


@torch.no_grad()
def scaled_density(bottleneck: EntropyBottleneck, scale: float) -> EntropyBottleneck:
    """A bottleneck whose density is `bottleneck`'s density of y, as a density of scale·y (no tables:
    it is for training; folding builds them).

    The cumulative's first layer multiplies its input by softplus(matrix): dividing that by
    `scale` gives f(v / scale) exactly; the tail and median quantiles move by `scale`.
    """
    scaled = EntropyBottleneck(bottleneck.channels, tail_mass=bottleneck.tail_mass)
    state = {k: v.clone() for k, v in bottleneck.state_dict().items() if not k.startswith("_")}
    factor = nn.functional.softplus(state["matrices.0"]) / scale
    state["matrices.0"] = torch.where(factor > 20, factor, torch.log(torch.expm1(factor)))
    state["quantiles"] *= scale
    scaled.load_state_dict(state, strict=False)
    return scaled


def _load_gained(path: Path) -> dict | None:
    """The payload of a gained checkpoint (joint.pt / joint-state.pt), or None for anything else."""
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception:  # not a torch file, or a plain state dict of another shape
        return None
    return payload if isinstance(payload, dict) and payload.get("kind") == GAINED_KIND else None


def is_gained_checkpoint(spec: str) -> bool:
    return _load_gained(Path(spec).expanduser()) is not None


def _model_from_payload(payload: dict) -> GainedFactorizedPrior:
    state = payload["model"]
    model = GainedFactorizedPrior(state["g_a.0.weight"].shape[0], state["g_a.6.weight"].shape[0], payload["qualities"])
    model.load_state_dict(state)
    return model


def level_of_step(step: int, qualities: Sequence[int], seed: int) -> int:
    """The quality trained at `step`: every len(qualities) steps visit each level once, in a
    shuffled order that depends only on the seed and the step (so a resumed run draws the same)."""
    cycle = list(qualities)
    random.Random(f"{seed}-{step // len(cycle)}").shuffle(cycle)
    return cycle[step % len(cycle)]


def _starting_model(cfg: TrainConfig, qualities: tuple[int, ...]) -> tuple[GainedFactorizedPrior, dict]:
    """The model a new joint run starts from, and what each level's weights had had before
    ({"started_from", "steps": {q: n}, "seconds"})."""
    lambdas = LAMBDAS[cfg.metric]
    continued = _load_gained(Path(cfg.resume).expanduser()) if cfg.resume else None
    if continued is not None:
        if tuple(continued["qualities"]) != qualities:
            raise ValueError(
                f"{cfg.resume} trains levels {tuple(continued['qualities'])}; continue it with the same --levels"
            )
        earlier = {"started_from": str(cfg.resume), "steps": continued["total_steps"], "seconds": continued["seconds"]}
        return _model_from_payload(continued), earlier
    if cfg.resume:
        source = open_weight_source(cfg.resume, cfg.metric, quality_label=cfg.warm_quality)
        if cfg.warm_quality not in source.qualities():
            raise ValueError(f"--resume {cfg.resume} has no q{cfg.warm_quality} to start the shared transforms from")
        start = FactorizedPrior.from_state_dict(source.load(cfg.warm_quality).model.state_dict())
        before = _earlier_training(source, cfg.warm_quality)
        earlier = {
            "started_from": f"{cfg.resume} q{cfg.warm_quality}",
            "steps": {cfg.warm_quality: int(before.get("steps") or 0)},
            "seconds": float(before.get("training_seconds") or 0.0),
        }
    else:
        start = FactorizedPrior(cfg.N or NEW_MODEL_N, cfg.M or NEW_MODEL_M)
        earlier = {"started_from": None, "steps": {}, "seconds": 0.0}
    start = widened(start, cfg)
    return GainedFactorizedPrior.from_level(start, cfg.warm_quality, qualities, lambdas), earlier


def train_joint(cfg: TrainConfig, progress: Callable[[str, StepStats], None] | None = None) -> dict[int, Path]:
    """Train `cfg.levels` (default all 8) jointly for `cfg.steps` steps; return {quality: folded checkpoint}.

    Writes what a ladder run writes (``q{n}.pth.tar`` + ``q{n}.json`` per level, so `lci
    export-bundle` ships it as it is) plus ``joint.pt``, the gained model a later joint run
    continues with ``--resume out/joint.pt``. A stopped run goes on from ``joint-state.pt``.
    With ``--resume WEIGHTS`` the shared transforms start from that ladder's ``--warm-quality``
    level (widened to ``--M`` if given).
    """
    qualities = tuple(sorted(cfg.levels or range(1, 9)))
    out = cfg.out
    if (out / FINISHED_NAME).exists() and all(level_checkpoint(out, q).exists() for q in qualities):
        return {q: level_checkpoint(out, q) for q in qualities}
    dist = _Distributed()
    if dist.world > 1:
        raise ValueError("joint training runs in one process (one GPU or CPU)")
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE_NAME
    state = _load_gained(state_path)
    if state is not None:
        model, earlier = _model_from_payload(state), state["earlier"]
        if model.qualities != qualities:
            raise ValueError(f"{state_path} trains levels {model.qualities}, not {qualities}")
    else:
        model, earlier = _starting_model(cfg, qualities)
    crops = iter(CropStream(cfg.data, cfg.crop, cfg.batch, cfg.seed))
    lambdas = LAMBDAS[cfg.metric]
    peak = cfg.level_lr if earlier["started_from"] else cfg.lr
    model.to(dist.device)
    main_params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
    optimizer = torch.optim.Adam(main_params, lr=peak)
    aux_optimizer = torch.optim.Adam([model.bottleneck(q).quantiles for q in model.qualities], lr=cfg.aux_lr)
    first, history = 0, []
    draws = dict.fromkeys(qualities, 0)
    started = time.monotonic()
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        aux_optimizer.load_state_dict(state["aux_optimizer"])
        first, history, draws = state["step"], state["history"], state["draws"]
        started -= state["seconds"]

    def payload(step: int) -> dict:
        return {
            "kind": GAINED_KIND, "qualities": list(qualities), "model": model.state_dict(), "step": step,
            "draws": draws, "seconds": time.monotonic() - started, "history": history, "earlier": earlier,
        }

    fast = cfg.precision == "bf16"
    layout = torch.channels_last if fast else torch.contiguous_format
    model.to(memory_format=layout)  # type: ignore[call-overload]  # torch's stubs lack Module.to(memory_format=)
    model.train()
    windows = {q: LossWindow() for q in qualities}
    last_save = time.monotonic()
    for step in range(first, cfg.steps):
        quality = level_of_step(step, qualities, cfg.seed)
        step_lr = learning_rate(step, cfg.steps, peak, cfg)
        for group in optimizer.param_groups:
            group["lr"] = step_lr
        x = next(crops).to(dist.device, non_blocking=True).contiguous(memory_format=layout)
        loss, bpp, psnr = rate_distortion_step(
            partial(model, quality=quality), x, lambdas[quality - 1], cfg, optimizer, aux_optimizer, main_params,
            aux_loss=partial(model.aux_loss, quality),
        )
        draws[quality] += 1
        last = step == cfg.steps - 1
        for q in qualities if last else (quality,):  # the last step closes every level's window
            stats = windows[q].add(loss, bpp, psnr, step + 1, cfg.steps, step_lr, last) if q == quality else (
                windows[q].flush(step + 1, cfg.steps, step_lr)
            )
            if stats:
                history.append({"quality": q, **asdict(stats)})
                if progress:
                    progress(f"joint q{q}", stats)
        if time.monotonic() - last_save > cfg.checkpoint_every_s:
            _save_state(state_path, {**payload(step + 1), "optimizer": optimizer.state_dict(),
                                     "aux_optimizer": aux_optimizer.state_dict()})
            last_save = time.monotonic()
    model.to(memory_format=torch.contiguous_format).cpu().eval()  # type: ignore[call-overload]
    finished = _write_levels(out, model, payload(cfg.steps), cfg)
    state_path.unlink(missing_ok=True)
    return finished


def _write_levels(out: Path, model: GainedFactorizedPrior, payload: dict, cfg: TrainConfig) -> dict[int, Path]:
    """Folded checkpoints and training records of every level, then ``joint.pt`` (written last:
    its presence says the run finished)."""
    earlier, draws, seconds = payload["earlier"], payload["draws"], payload["seconds"]
    total_steps = {q: draws[q] + int(earlier["steps"].get(q, 0)) for q in model.qualities}
    finished = {}
    for quality in model.qualities:
        path = level_checkpoint(out, quality)
        _save_state(path, model.fold(quality).state_dict())
        record = LevelRecord(
            quality, LAMBDAS[cfg.metric][quality - 1], draws[quality], round(seconds, 1),
            [h for h in payload["history"] if h["quality"] == quality],
            resumed_from=earlier["started_from"],
            total_steps=total_steps[quality],
            total_seconds=round(seconds + earlier["seconds"], 1),
            recipe="joint",
            trained_with=list(model.qualities),
            joint_steps=payload["step"],
        )
        level_record(out, quality).write_text(json.dumps(asdict(record), indent=1))
        finished[quality] = path
    _save_state(out / FINISHED_NAME, {**payload, "total_steps": total_steps, "seconds": seconds + earlier["seconds"]})
    return finished
