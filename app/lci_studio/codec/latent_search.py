"""The search behind the refined encoder (`refinement`): Adam on one picture's latents for R + λ·D with
g_s and the entropy model frozen, judged by the true objective.

`refine_symbols` starts from g_a(x), runs Adam on y for a few dozen steps and returns the best *discrete*
latents it found: the real rounded symbols, their bits under the model's integer CDF tables
(`entropy_coding.SymbolCost`), and the reconstruction's squared error on the 8-bit picture. Where it does not lower
R + λ·D, the plain latents are kept.

The ways through the rounding, chosen by measurement (docs/results.md, "Refined encoder"):

- ``"ste"``: the rate on y plus uniform noise, the distortion on straight-through rounded y;
- ``"sga"``: stochastic Gumbel annealing (Yang et al. 2020): y rounded softly up or down at random,
  the temperature annealed towards hard rounding; rate and distortion on that soft value;
- ``"polish"`` (the `best` effort): one ``"ste"`` run, then the rest of the budget on discrete moves of
  single symbols by ±1, each judged exactly (`_refine_tile`'s ``polish``), which keeps finding gains
  where more Adam steps find none.

Large pictures are refined in tiles (block coordinate descent): a tile's latents are optimized with
the latents around it held at their current (rounded) values, and its distortion counts every pixel
its latents reach, so a tile's gain is exact and tiles refined one after another only ever lower the
picture's objective. g_s runs under bfloat16 autocast during the steps where the CPU has native
bfloat16 (`native_bf16`); candidates are judged in float32. Deterministic for a given seed on a given
machine. `cancel` is polled between the layers of each forward and backward pass.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from lci_studio.codec.entropy_coding import CdfTables, SymbolCost
from lci_studio.codec.entropy_model import EntropyBottleneck
from lci_studio.codec.model import FactorizedPrior, LoadedModel
from lci_studio.codec.pipeline import analysis

if TYPE_CHECKING:
    from lci_studio.codec.refinement import Encoder

METHODS = ("ste", "sga", "polish")
METHOD = "ste"  # the default, chosen by measurement (docs/results.md, "Refined encoder")
LEARNING_RATE = 0.004  # Adam's peak, decayed to 0 along a cosine; 0.02 made every level worse
SGA_TAU = (0.5, 0.05)  # SGA's temperature, annealed geometrically from the first to the second
SGA_EVERY = 5  # SGA: a hard candidate is judged every this many steps (STE judges one at each step)
RUN_STEPS = 50  # a larger budget makes several runs of up to this many steps (`runs`)
# The latent area (elements per channel) of the window g_s runs on in each step, at N=96 (the bundled
# ladder); a wider model gets (96/N)² of it. Memory: the gradients hold several activations of the window
# (N=192, M=320: a 40×32 window peaked at 1.14 GB for the whole process). Stop: no layer of a step can be
# interrupted, and at N=192 a 40×40 window's largest backward layer held a cancel poll 0.8-1.4 s on two
# quiet cores. A picture whose latent fits the area is refined in one piece (768×512 is 1536), a larger
# one in square tiles whose windows (CONTEXT more on each side) fit it (`tile_latent`).
WINDOW_AREA = 40 * 40
WINDOW_AREA_N = 96
# How far a latent reaches into the picture: output block j is made from latents j-1 … j+2, so latent
# i changes blocks i-2 … i+1 (`REACH`), and those blocks need latents up to `CONTEXT` away from the tile.
REACH = 2
CONTEXT = 4



def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512-BF16 or AMX), where autocast pays (~2×).

    Elsewhere bfloat16 is emulated and slower than float32. Read from /proc/cpuinfo (Linux); False
    where it can't be read.
    """
    return _cpu_flags() & {"avx512_bf16", "amx_bf16"} != set()


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()



@dataclass
class _Tile:
    """One piece of the latent being refined, in latent pixels: the latents it changes (`inner`), the
    blocks of picture they reach (`reach`) and the latents g_s needs to make those (`window`)."""

    inner: tuple[int, int, int, int]  # top, bottom, left, right
    reach: tuple[int, int, int, int]
    window: tuple[int, int, int, int]


def _tiles(height: int, width: int, tile: int) -> list[_Tile]:
    out = []
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(height, top + tile), min(width, left + tile)

            def grow(a: int, b: int, by: int, size: int) -> tuple[int, int]:
                return max(0, a - by), min(size, b + by)

            rows, cols = grow(top, bottom, REACH, height), grow(left, right, REACH, width)
            wrows, wcols = grow(top, bottom, CONTEXT, height), grow(left, right, CONTEXT, width)
            out.append(_Tile((top, bottom, left, right), (*rows, *cols), (*wrows, *wcols)))
    return out


def tile_latent(height: int, width: int, N: int) -> int:
    """The side, in latent pixels, of the tiles a latent of height×width is refined in with a g_s of N
    channels: the whole latent when it fits the window area (`WINDOW_AREA`), else the largest square
    whose window fits it (at least one latent pixel)."""
    area = WINDOW_AREA * (WINDOW_AREA_N / max(N, WINDOW_AREA_N)) ** 2
    if height * width <= area:
        return max(height, width)
    return max(1, math.isqrt(int(area)) - 2 * CONTEXT)


@dataclass
class TileOutcome:
    steps: int
    kept_plain: bool
    before: float  # the tile's exact objective (bits + λ·255²·SSE/3 on its reach) before and after
    after: float


@dataclass
class Refinement:
    """What `refine_symbols` found: the symbols, and per tile how it went."""

    symbols: torch.Tensor  # (1, M, h, w) int32
    tiles: list[TileOutcome] = field(default_factory=list)
    bf16: bool = False


class _Frozen:
    """g_s with its parameters frozen (a copy: the shared model is left alone), run layer by layer with
    `poll` between the layers of the forward pass and, through hooks, of the backward pass."""

    def __init__(self, model: FactorizedPrior) -> None:
        self.g_s = copy.deepcopy(model.g_s).requires_grad_(False)

    def __call__(self, y: torch.Tensor, poll: Callable[[], None]) -> torch.Tensor:
        x = y.contiguous(memory_format=torch.channels_last)
        for layer in self.g_s:
            poll()
            x = layer(x)
            if x.requires_grad:
                x.register_hook(lambda grad: poll())
        poll()
        return x


def refine_symbols(
    loaded: LoadedModel,
    x: torch.Tensor,
    target: np.ndarray,
    picture: tuple[int, int, int, int],
    encoder: Encoder,
    lmbda: float,
    y: torch.Tensor | None = None,
    tile: int | None = None,
    cancel: CancelCheck | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Refinement:
    """Refined symbols for the padded picture `x` (1,3,H,W) and its 8-bit pixels `target` (H×W×3 of
    the picture inside the padding, at `picture` = (top, left, height, width) in x).

    `lmbda` is the λ of R + λ·D to refine for. `y` is g_a(x) when the caller has it. `tile` is the side of
    a refinement tile in latent pixels (default `tile_latent`). `progress(steps done, steps in all)`.
    """
    model = loaded.model
    poll = functools.partial(stop_if_cancelled, cancel)
    if y is None:
        with torch.inference_mode():
            y = analysis(model, x, cancel=cancel)
    y = y.detach().clone()  # out of inference mode: each tile's steps start from it
    bottleneck = model.entropy_bottleneck
    medians = bottleneck.medians.reshape(1, -1, 1, 1).detach().clone()
    symbols = torch.round(y - medians).to(torch.int32)
    _, _, lat_h, lat_w = y.shape
    if tile is None:
        tile = tile_latent(lat_h, lat_w, model.N)
    tiles = _tiles(lat_h, lat_w, tile)
    cost = SymbolCost(CdfTables.from_bottleneck(bottleneck))
    g_s = _Frozen(model)
    bf16 = encoder.precision == "bf16" or (encoder.precision == "auto" and native_bf16())
    scale = lmbda * 255.0**2 / 3.0  # SSE over the three channels of [0, 1] values → λ·255²·MSE·pixels
    total = len(tiles) * encoder.steps
    if progress is not None:
        progress(0, total)
    problem = _Problem(y, symbols, medians, x, target, picture, g_s, bottleneck, cost, scale, encoder, bf16, poll)
    outcome = Refinement(symbols, bf16=bf16)
    for index, piece in enumerate(tiles):

        def steps_done(step: int, base: int = index * encoder.steps) -> None:
            if progress is not None:
                progress(base + step, total)

        generator = torch.Generator().manual_seed(encoder.seed * 1_000_003 + index)
        outcome.tiles.append(_refine_tile(problem, piece, generator, steps_done))
    return outcome


@dataclass
class _Problem:
    """What every tile of one refinement shares."""

    y: torch.Tensor  # g_a(x), where each tile's steps start
    symbols: torch.Tensor  # the current symbols, refined tile by tile in place
    medians: torch.Tensor  # (1, M, 1, 1)
    x: torch.Tensor  # the padded picture, [0, 1]
    target: np.ndarray  # the picture's 8-bit pixels (H×W×3), without the padding
    picture: tuple[int, int, int, int]  # where they sit in x: top, left, height, width

    def targets(self, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x's values, the 8-bit values, 1 inside the picture / 0 in the padding) over a window of x's pixels."""
        top, left, height, width = self.picture
        shape = (1, 3, rows[1] - rows[0], cols[1] - cols[0])
        values = torch.zeros(shape)
        weight = torch.zeros(1, 1, *shape[2:])
        r0, r1 = max(rows[0], top), min(rows[1], top + height)
        c0, c1 = max(cols[0], left), min(cols[1], left + width)
        if r0 < r1 and c0 < c1:
            inside = self.target[r0 - top : r1 - top, c0 - left : c1 - left]
            at = (slice(None), slice(None), slice(r0 - rows[0], r1 - rows[0]), slice(c0 - cols[0], c1 - cols[0]))
            values[at] = torch.from_numpy(np.ascontiguousarray(inside)).permute(2, 0, 1)[None].float()
            weight[at] = 1.0
        return self.x[:, :, rows[0] : rows[1], cols[0] : cols[1]].float().clone(), values, weight
    g_s: _Frozen
    bottleneck: EntropyBottleneck
    cost: SymbolCost
    scale: float  # λ·255²/3: SSE of [0, 1] values over the three channels → bits
    encoder: Encoder
    bf16: bool
    poll: Callable[[], None]


def _refine_tile(
    problem: _Problem, piece: _Tile, generator: torch.Generator, progress: Callable[[int], None]
) -> TileOutcome:
    """Refine the problem's symbols inside one tile in place (kept only where the exact objective falls)."""
    y, symbols, medians = problem.y, problem.symbols, problem.medians
    g_s, bottleneck, cost, scale, encoder, bf16, poll = (
        problem.g_s, problem.bottleneck, problem.cost, problem.scale, problem.encoder, problem.bf16, problem.poll
    )
    top, bottom, left, right = piece.inner
    wtop, wbottom, wleft, wright = piece.window
    rtop, rbottom, rleft, rright = piece.reach
    inner = (slice(None), slice(None), slice(top, bottom), slice(left, right))
    at = (top - wtop, bottom - wtop, left - wleft, right - wleft)  # the inner rectangle inside the window
    reach = (  # the reached pixels inside the window's output
        slice(None),
        slice(None),
        slice((rtop - wtop) * 16, (rbottom - wtop) * 16),
        slice((rleft - wleft) * 16, (rright - wleft) * 16),
    )
    want, want8, weight = problem.targets((rtop * 16, rbottom * 16), (rleft * 16, rright * 16))
    context = symbols[:, :, wtop:wbottom, wleft:wright].float() + medians

    def window_with(values: torch.Tensor) -> torch.Tensor:
        """The window's latents with the inner ones replaced by `values` (autograd sees through it)."""
        rows = [context[:, :, : at[0]], None, context[:, :, at[1] :]]
        middle = torch.cat([context[:, :, at[0] : at[1], : at[2]], values, context[:, :, at[0] : at[1], at[3] :]], 3)
        rows[1] = middle
        return torch.cat([r for r in rows if r is not None], 2)

    @torch.no_grad()
    def exact(candidate: torch.Tensor) -> float:
        """The tile's true objective: table bits of its symbols + λ·255²/3 · SSE of the 8-bit reached pixels."""
        poll()
        out = g_s(window_with(candidate.float() + medians), poll)[reach]
        rounded = out.clamp(0, 1).mul(255).round()
        sse = float((((rounded - want8) / 255.0) ** 2 * weight).sum())
        poll()
        return cost.total(candidate) + scale * sse

    plain = symbols[inner].clone()
    before = exact(plain)
    if encoder.steps == 0:
        return TileOutcome(0, True, before, before)
    med = medians
    best, best_value = plain, math.inf
    tau0, tau1 = SGA_TAU
    values_shape = (y.shape[1], 1, -1)

    def one_step(variable: torch.Tensor, optimizer: _Adam, step: int, length: int) -> None:
        """One Adam step on the tile's latents, keeping the best candidate (symbols and their proxy objective)."""
        nonlocal best, best_value
        rounded = torch.round(variable.detach() - med)
        if encoder.method != "sga":
            noisy = variable + torch.rand(variable.shape, generator=generator) - 0.5
            hard = variable + (rounded + med - variable).detach()
            rate_values, decoded = noisy, hard
        else:
            tau = tau0 * (tau1 / tau0) ** (step / max(1, length - 1))
            centred = variable - med
            floor = torch.floor(centred.detach())
            frac = centred - floor
            eps = 1e-5
            logits = torch.stack(
                [-torch.atanh(frac.clamp(-1 + eps, 1 - eps)), -torch.atanh((1 - frac).clamp(-1 + eps, 1 - eps))], -1
            ) / tau
            gumbel = -torch.log(-torch.log(torch.rand(logits.shape, generator=generator).clamp(1e-10, 1 - 1e-7)))
            weights = torch.softmax((logits + gumbel) / tau, -1)
            soft = floor + weights[..., 1] + med
            rate_values, decoded = soft, soft
        likelihood = bottleneck._likelihood(
            rate_values[0].reshape(values_shape).float(), stop_gradient=True
        )[0].clamp_min(1e-9)
        bits = -torch.log2(likelihood).sum()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = g_s(window_with(decoded), poll)
        sse = (((out[reach].float() - want) ** 2) * weight).sum()
        loss = (bits + scale * sse) / float(weight.sum().clamp_min(1.0))
        if encoder.method != "sga":  # the forward pass reconstructed exactly the rounded candidate
            value = cost.total(rounded.to(torch.int32)) + scale * float(sse.detach())
            if value < best_value:
                best, best_value = rounded.to(torch.int32), value
        (grad,) = torch.autograd.grad(loss, variable)
        optimizer.step(variable, grad)
        if encoder.method == "sga" and ((step + 1) % SGA_EVERY == 0 or step + 1 == length):
            candidate = torch.round(variable.detach() - med).to(torch.int32)
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = g_s(window_with(candidate.float() + med), poll)
            value = cost.total(candidate) + scale * float((((out[reach].float() - want) ** 2) * weight).sum())
            if value < best_value:
                best, best_value = candidate, value

    candidates: list[torch.Tensor] = []
    done = 0
    searching, polishing = split_budget(encoder.method, encoder.steps)
    for length in runs(searching):  # each from g_a's latents, with the generator's next noise
        variable = y[inner].clone().requires_grad_(True)
        optimizer = _Adam(variable)
        best, best_value = plain, math.inf
        for step in range(length):
            poll()
            optimizer.lr = LEARNING_RATE * 0.5 * (1 + math.cos(math.pi * step / length))
            one_step(variable, optimizer, step, length)
            done += 1
            progress(done)
        final = torch.round(variable.detach() - med).to(torch.int32)
        for candidate in (best, final):  # the best by the steps' own scores, and where the run ended
            if not any(torch.equal(candidate, c) for c in candidates):
                candidates.append(candidate)
    after, chosen = before, plain
    for candidate in candidates:
        value = exact(candidate)
        if value < after:
            after, chosen = value, candidate

    @torch.no_grad()
    def block_errors(candidate: torch.Tensor) -> torch.Tensor:
        """Squared error of the 8-bit reached pixels per 16×16 block (float64, blocks of the reach)."""
        out = g_s(window_with(candidate.float() + medians), poll)[reach]
        rounded = out.clamp(0, 1).mul(255).round()
        error = ((((rounded - want8) / 255.0) ** 2) * weight).sum(1)[0].double()
        rows, cols = error.shape
        return error.reshape(rows // 16, 16, cols // 16, 16).sum((1, 3))

    def polish(start: torch.Tensor, value: float) -> tuple[torch.Tensor, float]:
        """Discrete moves of single symbols by ±1, judged exactly and each on its own.

        The rate is separable (each symbol's bits come from its channel's table) and a latent reaches only
        the 4×4 blocks around it, so moves on a lattice 4 latents apart change disjoint blocks: one decode
        of all of them gives each move's exact change of R + λ·D, and only the moves that lower it are kept.
        Which move to try at each lattice point (the channel and the sign) is predicted from the table's
        Δbits, the distortion's gradient at the current symbols, and its curvature per channel. The lattice
        steps through its 16 offsets round by round; a move that failed is not tried again until a move
        near it is kept.
        """
        nonlocal done
        current = start.clone()

        def gradient(values: torch.Tensor) -> torch.Tensor:
            point = values.requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = g_s(window_with(point), poll)
            sse = (((out[reach].float() - want) ** 2) * weight).sum()
            return torch.autograd.grad(scale * sse, point)[0].double()

        _, _, height, width = current.shape
        rows = torch.arange(height).reshape(height, 1)
        cols = torch.arange(width).reshape(1, width)
        first = (top - rtop, left - rleft)  # the inner latents' first block row and column in the reach
        failed = torch.zeros(current.shape, dtype=torch.bool)
        errors = block_errors(current)
        grad = gradient(current.float() + med)
        # The distortion's second derivative along each symbol, per channel: the change of the gradient under
        # a random ±1/2 move of every symbol, times the move (Hutchinson), averaged over the positions.
        signs = torch.randint(0, 2, current.shape, generator=generator).double() * 2 - 1
        moved = gradient(current.float() + med + 0.5 * signs.float())
        curvature = ((moved - grad) * signs / 0.5).mean(dim=(0, 2, 3), keepdim=True).clamp_min(0)
        for round_ in range(polishing):
            poll()
            if round_:
                grad = gradient(current.float() + med)
            done += 1
            progress(done)
            bits = cost.bits(current)
            up = cost.bits(current + 1) - bits + grad + curvature / 2
            down = cost.bits(current - 1) - bits - grad + curvature / 2
            predicted = torch.minimum(up, down).masked_fill(failed, math.inf)
            hope, channel = predicted[0].min(0)  # (height, width): the best move at each latent position
            phase_row, phase_col = divmod(round_ % 16, 4)
            tried = (hope < 0) & (rows % 4 == phase_row) & (cols % 4 == phase_col)
            if not bool(tried.any()):
                continue
            sign = torch.where(up < down, 1, -1).to(torch.int32)
            move = torch.zeros_like(current)
            at_rows, at_cols = tried.nonzero(as_tuple=True)
            at_channels = channel[at_rows, at_cols]
            move[0, at_channels, at_rows, at_cols] = sign[0, at_channels, at_rows, at_cols]
            trial = current + move
            trial_errors = block_errors(trial)
            change = torch.nn.functional.pad(trial_errors - errors, (2, 2, 2, 2))
            windows = torch.nn.functional.avg_pool2d(change[None, None], 4, stride=1)[0, 0] * 16
            delta_bits = (cost.bits(trial) - bits)[0, at_channels, at_rows, at_cols]
            gain = delta_bits + scale * windows[at_rows + first[0], at_cols + first[1]]
            kept = gain < 0
            failed[0, at_channels[~kept], at_rows[~kept], at_cols[~kept]] = True
            for r, c in zip(at_rows[kept].tolist(), at_cols[kept].tolist(), strict=True):
                current[0, :, r, c] = trial[0, :, r, c]
                b0, c0 = r + first[0] - 2, c + first[1] - 2  # its blocks, now as the trial made them
                b1, c1 = max(0, b0), max(0, c0)
                errors[b1 : b0 + 4, c1 : c0 + 4] = trial_errors[b1 : b0 + 4, c1 : c0 + 4]
                failed[0, :, max(0, r - 3) : r + 4, max(0, c - 3) : c + 4] = False
        polished = exact(current)  # the moves' gains are exact; this confirms them in one more decode
        return (current, polished) if polished < value else (start, value)

    if polishing:
        chosen, after = polish(chosen, after)
    symbols[inner] = chosen
    return TileOutcome(encoder.steps, chosen is plain, before, after)


class _Adam:
    """Adam (Kingma & Ba) on one tensor, as `torch.optim.Adam` computes it with its defaults.

    Written out because torch's optimizers import its compiler stack on first use (1.3 s, a pause no
    cancel poll can break) and the standalone build leaves that stack out.
    """

    def __init__(self, param: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.lr = LEARNING_RATE
        self.betas, self.eps, self.steps = betas, eps, 0
        self.mean = torch.zeros_like(param, memory_format=torch.preserve_format).detach()
        self.square = torch.zeros_like(self.mean)

    @torch.no_grad()
    def step(self, param: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        self.steps += 1
        self.mean.lerp_(grad, 1 - beta1)
        self.square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        correction1 = 1 - beta1**self.steps
        correction2 = 1 - beta2**self.steps
        denominator = (self.square.sqrt() / math.sqrt(correction2)).add_(self.eps)
        param.addcdiv_(self.mean, denominator, value=-self.lr / correction1)


def split_budget(method: str, steps: int) -> tuple[int, int]:
    """(Adam steps, polishing rounds) of a budget: "polish" spends one STE run and polishes with the rest."""
    if method != "polish":
        return steps, 0
    searching = min(steps, RUN_STEPS)
    return searching, steps - searching


def runs(steps: int) -> list[int]:
    """The lengths of the runs a budget of `steps` makes: one run up to RUN_STEPS, else as many runs of
    about equal length as it takes, each from g_a's latents with other noise, the best of all kept.

    One run's learning rate decays from LEARNING_RATE to 0 along a cosine, and its best candidate comes
    near the end of the decay; longer decays drift away from good discrete points at moderate rates
    (a 256×192 crop of eval photo 041 at q4: 50 steps −4.07 % R + λ·D, one 100-step cosine −3.06 %; 384×256
    at q2: 50 steps −3.35 %, one 200-step cosine −1.91 %; restarting Adam from the best candidate at half
    the rate lost it at once and never came back below it).
    """
    count = max(1, math.ceil(steps / RUN_STEPS))
    return [steps // count + (1 if r < steps % count else 0) for r in range(count)]
