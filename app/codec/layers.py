"""Building blocks of the Ballé 2018 transforms, parameter-compatible with CompressAI.

GDN stores its *reparametrised* beta and gamma (plus four bound buffers) exactly as
CompressAI does, so checkpoints load without any conversion.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class _LowerBoundFn(torch.autograd.Function):
    """max(x, bound) whose gradient still flows when it pushes x back above the bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, bound)
        return torch.max(x, bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        x, bound = ctx.saved_tensors
        passes = (x >= bound) | (grad < 0)
        return passes.to(grad.dtype) * grad, None


class LowerBound(nn.Module):
    """Lower-bounds its input; the bound is a buffer named ``bound`` (a checkpoint key)."""

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _LowerBoundFn.apply(x, self.bound)
        return torch.max(x, self.bound)


class NonNegativeParametrizer(nn.Module):
    """Keeps a parameter non-negative through p_eff = max(p, bound)^2 - pedestal."""

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2**-18) -> None:
        super().__init__()
        pedestal = reparam_offset**2
        self.register_buffer("pedestal", torch.tensor([pedestal]))
        self.lower_bound = LowerBound((minimum + pedestal) ** 0.5)

    def init(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(x) ** 2 - self.pedestal


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al.); ``inverse=True`` gives IGDN.

    norm_i = beta_i + sum_j gamma[i, j] * x_j^2 (row i is the output channel).
    """

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.shape[1]
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        norm = F.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


def conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """5×5, stride-2 convolution that halves the spatial size (ceil)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=2, padding=2)


def deconv(in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
    """5×5, stride-2 transposed convolution that doubles the spatial size exactly."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size=5, stride=2, padding=2, output_padding=1)
