"""The factorized density model ("EntropyBottleneck") and its integer CDF tables.

Each latent channel has its own learned, monotone cumulative function f (a tiny
1→3→3→3→3→1 network); the probability of an integer bin is
sigmoid(f(v + 0.5)) - sigmoid(f(v - 0.5)). For coding, the density is frozen into
16-bit integer CDF tables so that encoder and decoder agree bit for bit on every
machine: tables stored in a checkpoint are used as they are.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from lci_studio.codec.layers import LowerBound

CDF_PRECISION = 16
_FILTERS = (3, 3, 3, 3)


class EntropyBottleneck(nn.Module):
    """Per-channel learned prior with CompressAI's parameter and buffer names."""

    target: torch.Tensor  # buffers, declared for the type checker (nn.Module's __getattr__ is untyped)
    def __init__(self, channels: int, init_scale: float = 10.0, tail_mass: float = 1e-9) -> None:
        super().__init__()
        self.channels = channels
        self.tail_mass = tail_mass
        dims = (1, *_FILTERS, 1)
        scale = init_scale ** (1 / (len(_FILTERS) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for i in range(len(_FILTERS) + 1):
            init = math.log(math.expm1(1 / scale / dims[i + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[i + 1], dims[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[i + 1], 1) - 0.5))
            if i < len(_FILTERS):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[i + 1], 1)))
        self.quantiles = nn.Parameter(torch.tensor([-init_scale, 0.0, init_scale]).repeat(channels, 1, 1))
        target = math.log(2 / tail_mass - 1)
        self.register_buffer("target", torch.tensor([-target, 0.0, target]))
        self.likelihood_lower_bound = LowerBound(1e-9)
        self.register_buffer("_offset", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_quantized_cdf", torch.zeros(0, dtype=torch.int32))
        self.register_buffer("_cdf_length", torch.zeros(0, dtype=torch.int32))

    # ----------------------------------------------------------------- density
    def _logits_cumulative(self, v: torch.Tensor, stop_gradient: bool, channels: slice = slice(None)) -> torch.Tensor:
        """f(v) for v of shape (C, 1, L), C being the channels selected by `channels`."""
        for i, matrix in enumerate(self.matrices):
            matrix = F.softplus(matrix[channels].detach() if stop_gradient else matrix[channels])
            bias = self.biases[i][channels]
            v = torch.matmul(matrix, v) + (bias.detach() if stop_gradient else bias)
            if i < len(self.factors):
                factor = self.factors[i][channels]
                v = v + torch.tanh(factor.detach() if stop_gradient else factor) * torch.tanh(v)
        return v

    def _likelihood(self, v: torch.Tensor, stop_gradient: bool = False, channels: slice = slice(None)):
        lower = self._logits_cumulative(v - 0.5, stop_gradient, channels)
        upper = self._logits_cumulative(v + 0.5, stop_gradient, channels)
        return torch.sigmoid(upper) - torch.sigmoid(lower), lower, upper

    def bin_likelihood(self, values: torch.Tensor, channels: slice = slice(None)) -> torch.Tensor:
        """Probability (≥ 1e-9, as in training) of each dequantized value's bin; values: (C, 1, L)."""
        return self._likelihood(values, stop_gradient=True, channels=channels)[0].clamp_min(1e-9)

    @property
    def medians(self) -> torch.Tensor:
        return self.quantiles[:, 0, 1].detach()

    def forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Median-centred rounding (likelihoods of noisy values while training); returns (y_hat, likelihoods).

        Always float32, even under autocast: bin probabilities are differences of sigmoids
        that bfloat16 would round to zero or to garbage, and rounding needs the exact latent.
        """
        with torch.autocast(y.device.type, enabled=False):
            return self._forward(y.float())

    def _forward(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        batch, channels, height, width = y.shape
        values = y.permute(1, 0, 2, 3).reshape(channels, 1, -1)
        medians = self.quantiles[:, :, 1:2].detach()
        rounded = torch.round(values - medians) + medians
        if self.training:
            noisy = values + torch.empty_like(values).uniform_(-0.5, 0.5)
            likelihood = self.likelihood_lower_bound(self._likelihood(noisy)[0])
            # The decoder trains on the rounded latents it will decode (gradients pass straight
            # through the rounding); only the rate sees CompressAI's uniform noise.
            out = values + (rounded - values).detach()
        else:
            out = rounded
            likelihood = self.likelihood_lower_bound(self._likelihood(out)[0])

        def back(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(channels, batch, height, width).permute(1, 0, 2, 3)

        return back(out), back(likelihood)

    def aux_loss(self) -> torch.Tensor:
        """Pulls ``quantiles`` to the tail_mass/2, median and 1 - tail_mass/2 points of each channel."""
        logits = self._logits_cumulative(self.quantiles, stop_gradient=True)
        return torch.abs(logits - self.target).sum()

    # ----------------------------------------------------------------- coding
    def quantize_symbols(self, y: torch.Tensor) -> torch.Tensor:
        """Integer symbols round(y - median), int32, shape of y (half to even, never clamped)."""
        return torch.round(y - self.medians.reshape(1, -1, 1, 1)).to(torch.int32)

    def dequantize(self, symbols: torch.Tensor) -> torch.Tensor:
        return symbols.to(torch.float32) + self.medians.reshape(1, -1, 1, 1)

    @property
    def has_tables(self) -> bool:
        return self._offset.numel() > 0

    def resize_tables(self, length: int) -> None:
        """Allocate int32 table buffers of a checkpoint's shape before loading into them."""
        self._offset = torch.zeros(self.channels, dtype=torch.int32)
        self._cdf_length = torch.zeros(self.channels, dtype=torch.int32)
        self._quantized_cdf = torch.zeros(self.channels, length, dtype=torch.int32)

    @torch.no_grad()
    def build_tables(self) -> None:
        """Freeze the density into integer CDF tables (CompressAI's ``update(force=True)``)."""
        medians = self.quantiles[:, 0, 1]
        minima = torch.clamp(torch.ceil(medians - self.quantiles[:, 0, 0]).to(torch.int32), min=0)
        maxima = torch.clamp(torch.ceil(self.quantiles[:, 0, 2] - medians).to(torch.int32), min=0)
        pmf_start = medians - minima
        pmf_length = minima + maxima + 1
        longest = int(pmf_length.max())
        samples = torch.arange(longest, dtype=torch.float32)[None, :] + pmf_start[:, None]
        pmf, lower, upper = self._likelihood(samples[:, None, :], stop_gradient=True)
        pmf = pmf[:, 0, :]
        tail = torch.sigmoid(lower[:, 0, :1]) + torch.sigmoid(-upper[:, 0, -1:])
        table = np.zeros((self.channels, longest + 2), dtype=np.int32)
        for c in range(self.channels):
            length = int(pmf_length[c])
            probabilities = torch.cat([pmf[c, :length], tail[c]]).numpy().astype(np.float32)
            table[c, : length + 2] = pmf_to_quantized_cdf(probabilities)
        self._offset = (-minima).to(torch.int32)
        self._quantized_cdf = torch.from_numpy(table)
        self._cdf_length = (pmf_length + 2).to(torch.int32)


def pmf_to_quantized_cdf(pmf: np.ndarray, precision: int = CDF_PRECISION) -> np.ndarray:
    """Integer CDF (len(pmf)+1 entries, 0 … 2^precision) in which every symbol has frequency ≥ 1.

    Follows CompressAI's rule step by step so that rebuilt tables match its own.
    """
    pmf = np.asarray(pmf, dtype=np.float32)
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError("probabilities must be finite and non-negative")
    total_scale = 1 << precision
    # float32 product (exact: a power-of-two scale), rounded half away from zero
    freqs = np.floor((pmf * np.float32(total_scale)).astype(np.float64) + 0.5)
    cdf = np.zeros(len(pmf) + 1, dtype=np.uint64)
    cdf[1:] = freqs.astype(np.uint64)
    total = int(cdf.sum())
    if total == 0:
        raise ValueError("probabilities sum to zero")
    cdf = (np.uint64(total_scale) * cdf) // np.uint64(total)
    cdf = np.cumsum(cdf)
    cdf[-1] = total_scale
    cdf = cdf.astype(np.int64)
    n = len(cdf) - 1
    for i in range(n):
        if cdf[i] == cdf[i + 1]:
            best_freq, best = None, None
            for j in range(n):
                freq = cdf[j + 1] - cdf[j]
                if freq > 1 and (best_freq is None or freq < best_freq):
                    best_freq, best = freq, j
            if best is None:
                raise ValueError("cannot give every symbol a non-zero frequency")
            if best < i:
                cdf[best + 1 : i + 1] -= 1
            else:
                cdf[i + 1 : best + 1] += 1
    return cdf.astype(np.int32)
