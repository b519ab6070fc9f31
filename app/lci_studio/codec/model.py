"""The Ballé 2018 factorized-prior model (CompressAI's ``bmshj2018-factorized``) in plain PyTorch.

It loads CompressAI checkpoints unchanged: every key layout CompressAI has written is
mapped to the current one, N and M are read from tensor shapes, and stored integer CDF
tables are used exactly as stored.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from lci_studio.codec.entropy_model import EntropyBottleneck
from lci_studio.codec.layers import GDN, Transform, conv, deconv

FAMILY = "bmshj2018-factorized"
METRICS = ("mse", "ms-ssim")
QUALITIES = tuple(range(1, 9))
# CompressAI's training λ per quality (index 0 = quality 1), for each metric.
LAMBDAS = {
    "mse": (0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800),
    "ms-ssim": (2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00),
}
# CompressAI's (N, M) per quality.
COMPRESSAI_SIZES = {q: (128, 192) if q <= 5 else (192, 320) for q in QUALITIES}


class FactorizedPrior(nn.Module):
    """g_a (analysis) → quantize + factorized prior → g_s (synthesis)."""

    downsampling = 16

    def __init__(self, N: int = 128, M: int = 192) -> None:
        super().__init__()
        self.N, self.M = N, M
        self.g_a = Transform(conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M))
        self.g_s = Transform(
            deconv(M, N),
            GDN(N, inverse=True),
            deconv(N, N),
            GDN(N, inverse=True),
            deconv(N, N),
            GDN(N, inverse=True),
            deconv(N, 3),
        )
        self.entropy_bottleneck = EntropyBottleneck(M)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.g_a(x)
        y_hat, likelihoods = self.entropy_bottleneck(y)
        return {"x_hat": self.g_s(y_hat), "likelihoods": likelihoods}

    def aux_loss(self) -> torch.Tensor:
        return self.entropy_bottleneck.aux_loss()

    @torch.no_grad()
    def with_latent_channels(self, M: int, generator: torch.Generator | None = None) -> FactorizedPrior:
        """A copy with M ≥ self.M latent channels whose reconstruction is exactly this model's.

        Lets a trained level grow where its channels run out (at the high λ every channel
        carries bits) instead of training a wider one from scratch. Each new channel is a
        random projection of g_a's features at the scale of the trained ones, so it varies
        across several integers from the first step and g_s gets a first-order gradient for
        it; g_s starts with zero weights for it, so decoding is unchanged until training
        finds a use, and the rate term silences any channel it does not. (New channels that
        start silent never wake: rounding hides them from g_s, and the rate keeps them so.)
        """
        if M < self.M:
            raise ValueError(f"cannot narrow the latent from {self.M} to {M} channels")
        extra = M - self.M
        wide = FactorizedPrior(self.N, M).to(next(self.g_a.parameters()).device)
        fresh = EntropyBottleneck(extra).state_dict()
        old = self.state_dict()
        for name, value in wide.state_dict().items():
            source = old[name]
            key = name.removeprefix("entropy_bottleneck.")
            if key.startswith("_"):  # integer tables: rebuilt below for all M channels
                continue
            if key in fresh and fresh[key].shape[:1] == (extra,):  # per-channel density parameters
                source = torch.cat([source, fresh[key].to(source)])
            elif name == "g_a.6.weight":
                scale = source.flatten(1).std(dim=1).median()
                noise = torch.randn(extra, *source.shape[1:], generator=generator).to(source)
                source = torch.cat([source, scale * noise])
            elif name in ("g_a.6.bias", "g_s.0.weight"):
                source = torch.cat([source, source.new_zeros(extra, *source.shape[1:])])
            value.copy_(source)
        wide.entropy_bottleneck.build_tables()
        return wide

    def with_hidden_channels(self, N: int, generator: torch.Generator | None = None) -> FactorizedPrior:
        """A copy with N ≥ self.N channels between the layers of g_a and g_s, decoding as this model does.

        The capacity counterpart of `with_latent_channels` (CompressAI's q6-q8 use N = 192). Each new
        hidden channel starts as a near replica of a trained one (Net2Net's widening): it receives what
        that channel receives from the old channels (its weights with 5 % noise, its bias, its GDN β
        and γ row), so it works at the trained scale: random weights with a fresh GDN (β = 1, γ = 0.1)
        grew by orders of magnitude through g_s's inverse GDNs and the first training steps blew up.
        What it sends on, and what the old channels take from it (weights, γ cross terms), starts at
        zero, so the latents and the reconstruction are this model's (up to GDN's reparametrization
        floor of ~1e-11 on a cross term) until training finds a use for it.
        """
        if N < self.N:
            raise ValueError(f"cannot narrow the transforms from {self.N} to {N} channels")
        wide = FactorizedPrior(N, self.M).to(next(self.g_a.parameters()).device)
        old = self.state_dict()
        n = self.N
        order = torch.randperm(n, generator=generator)
        replicated = order[torch.arange(N - n) % n].to(next(self.g_a.parameters()).device)  # new channel → its source
        for name, value in wide.state_dict().items():
            source = old[name]
            if name.startswith("entropy_bottleneck."):
                continue  # the latent is unchanged: its entropy model is copied whole, tables included
            if value.shape == source.shape:
                value.copy_(source)
                continue
            owner, key = name.rsplit(".", 1)
            if isinstance(wide.get_submodule(owner), GDN) and key == "gamma":  # (N, N), stored reparametrized
                value.copy_(wide.get_submodule(owner).gamma_reparam.init(torch.zeros_like(value)))
                value[:n, :n] = source
                value[n:, :n] = source[replicated]
                continue
            if value.dim() == 1:  # a bias or GDN's β
                value[:n], value[n:] = source, source[replicated]
                continue
            # a conv's weight is (out, in, k, k), a transposed conv's (in, out, k, k): the rows it produces
            # for new channels copy their sources' (from old inputs), what it takes from new inputs is zero
            produced = 0 if name.startswith("g_a") else 1
            consumed = 1 - produced
            value.zero_()
            keep = [slice(None)] * 4
            keep[produced], keep[consumed] = slice(0, source.shape[produced]), slice(0, source.shape[consumed])
            value[tuple(keep)] = source
            if value.shape[produced] > source.shape[produced]:
                rows = source.index_select(produced, replicated)
                spread = rows.transpose(0, produced).flatten(1).std(dim=1)
                shape = [1, 1, 1, 1]
                shape[produced] = -1
                noise = torch.randn(rows.shape, generator=generator).to(value)
                new = [slice(None)] * 4
                new[produced], new[consumed] = slice(n, None), slice(0, source.shape[consumed])
                value[tuple(new)] = rows + 0.05 * spread.reshape(shape) * noise
        wide.entropy_bottleneck = copy.deepcopy(self.entropy_bottleneck)
        return wide

    @classmethod
    def from_state_dict(cls, state_dict: Mapping[str, torch.Tensor]) -> FactorizedPrior:
        """Build a model of the checkpoint's size and load it (any CompressAI key layout)."""
        state = normalize_state_dict(state_dict)
        try:
            N = state["g_a.0.weight"].shape[0]
            M = state["g_a.6.weight"].shape[0]
        except KeyError as exc:
            raise ValueError(f"not a factorized-prior checkpoint: missing {exc.args[0]}") from None
        model = cls(N, M)
        model.load_state_dict(state)
        return model

    def load_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True, assign: bool = False):
        state = normalize_state_dict(state_dict)
        table = state.get("entropy_bottleneck._quantized_cdf")
        if table is not None and table.numel() > 0:
            self.entropy_bottleneck.resize_tables(table.shape[1])
        else:
            for key in ("_offset", "_quantized_cdf", "_cdf_length"):
                state.pop(f"entropy_bottleneck.{key}", None)
            strict_tables = {f"entropy_bottleneck.{k}" for k in ("_offset", "_quantized_cdf", "_cdf_length")}
            result = super().load_state_dict(state, strict=False, assign=assign)
            missing = [k for k in result.missing_keys if k not in strict_tables]
            if strict and (missing or result.unexpected_keys):
                raise RuntimeError(f"checkpoint does not fit: missing {missing}, unexpected {result.unexpected_keys}")
            self.entropy_bottleneck.build_tables()
            return result
        return super().load_state_dict(state, strict=strict, assign=assign)


_LEGACY_EB = re.compile(r"^entropy_bottleneck\.(?:_(biases|matrices|factors)\.|_(bias|matrix|factor))(\d+)$")
_PLURAL = {"bias": "biases", "matrix": "matrices", "factor": "factors"}


def normalize_state_dict(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map every CompressAI key layout to the current one.

    Handles a ``module.`` (DataParallel) prefix, the 2020 ``_matrices.K`` lists and the
    2021-2024 ``_matrixK`` attributes; the current ``matrices.K`` passes unchanged.
    """
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        if key.startswith("module."):
            key = key[len("module.") :]
        match = _LEGACY_EB.match(key)
        if match:
            family = match.group(1) or _PLURAL[match.group(2)]
            key = f"entropy_bottleneck.{family}.{match.group(3)}"
        out[key] = value
    return out


def weights_fingerprint(model: nn.Module) -> str:
    """16 hex digits of SHA-256 over every tensor (name, dtype, shape, bytes) of the state dict.

    Written into each `.lci` file so a file is never decoded with other weights than made it.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(name.encode())
        digest.update(str(t.dtype).encode())
        digest.update(str(tuple(t.shape)).encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class ModelInfo:
    """Who a loaded model is: enough to label results and to name the weights a file needs."""

    source: str  # "bundled", "compressai", or a path
    quality: int
    metric: str
    lmbda: float | None
    N: int
    M: int
    fingerprint: str
    # The qualities whose levels were trained together with this one (shared transforms, own
    # gains and entropy model; app/lci_studio/codec/gained.py); empty when it was trained on its own.
    trained_with: tuple[int, ...] = ()
    # The weight source's kind ("bundled" | "compressai" | "folder" | "file": `WeightSource.kind`),
    # which the .lci header records; "" for a model made by hand, named by `source` alone.
    kind: str = ""

    def describe(self) -> str:
        lam = f", λ={self.lmbda:g}" if self.lmbda is not None else ""
        return f"{FAMILY} {self.metric} q{self.quality} (N={self.N}, M={self.M}{lam}) from {self.source}"


@dataclass
class LoadedModel:
    model: FactorizedPrior
    info: ModelInfo
