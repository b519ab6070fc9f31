"""Building blocks of the Ballé 2018 transforms, parameter-compatible with CompressAI.

GDN stores its *reparametrised* beta and gamma (plus four bound buffers) exactly as
CompressAI does, so checkpoints load without any conversion.
"""

from __future__ import annotations

from collections.abc import Callable

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

    bound: torch.Tensor

    def __init__(self, bound: float) -> None:
        super().__init__()
        self.register_buffer("bound", torch.tensor([float(bound)]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return _LowerBoundFn.apply(x, self.bound)
        return torch.max(x, self.bound)


class NonNegativeParametrizer(nn.Module):
    """Keeps a parameter non-negative through p_eff = max(p, bound)^2 - pedestal."""

    pedestal: torch.Tensor

    def __init__(self, minimum: float = 0.0, reparam_offset: float = 2**-18) -> None:
        super().__init__()
        pedestal = reparam_offset**2
        self.register_buffer("pedestal", torch.tensor([pedestal]))
        self.lower_bound = LowerBound((minimum + pedestal) ** 0.5)

    def init(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.max(x + self.pedestal, self.pedestal))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lower_bound(x) ** 2 - self.pedestal


class DerivedTensors:
    """Tensors computed from some source tensors, kept until a source is replaced or changed in place.

    Inference reuses them across calls; any load, optimizer step, ``copy_`` or ``.to()``
    changes a source's identity, version or storage, and the next call recomputes.
    """

    def __init__(self) -> None:
        self._sources: tuple[torch.Tensor, ...] = ()
        self._stamp: tuple[tuple[int, int], ...] = ()
        self._value: tuple[torch.Tensor, ...] | None = None

    def get(
        self, sources: tuple[torch.Tensor, ...], compute: Callable[[], tuple[torch.Tensor, ...]]
    ) -> tuple[torch.Tensor, ...]:
        if any(t.is_inference() for t in sources):  # no version counter to watch: never cache
            with torch.no_grad():
                return compute()
        stamp = tuple((t._version, t.data_ptr()) for t in sources)
        fresh = (
            self._value is not None
            and stamp == self._stamp
            and len(sources) == len(self._sources)
            and all(a is b for a, b in zip(sources, self._sources, strict=True))
        )
        if not fresh:
            with torch.no_grad():
                self._value = compute()
            self._sources, self._stamp = sources, stamp
        assert self._value is not None
        return self._value


Poll = Callable[[], None]  # run between the pieces of long work; raises to abandon it


class GDN(nn.Module):
    """Generalized divisive normalization (Ballé et al.); ``inverse=True`` gives IGDN.

    norm_i = beta_i + sum_j gamma[i, j] * x_j^2 (row i is the output channel).
    """

    _BAND_ELEMENTS = 3 << 20  # 12 MB of float32 per band at inference (measured best from 8 to 16)

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6, gamma_init: float = 0.1):
        super().__init__()
        self.inverse = inverse
        self.beta_reparam = NonNegativeParametrizer(minimum=beta_min)
        self.gamma_reparam = NonNegativeParametrizer()
        self.beta = nn.Parameter(self.beta_reparam.init(torch.ones(channels)))
        self.gamma = nn.Parameter(self.gamma_reparam.init(gamma_init * torch.eye(channels)))
        self._effective = DerivedTensors()

    def effective_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(beta, gamma as a C×C×1×1 kernel) after the non-negative reparametrization."""
        channels = self.beta.shape[0]
        beta = self.beta_reparam(self.beta)
        return beta, self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)

    def forward(self, x: torch.Tensor, inplace: bool = False, poll: Poll | None = None) -> torch.Tensor:
        """GDN of x; at inference, ``inplace=True`` writes the result over x (see `Transform`), `poll` runs
        between its bands."""
        if not torch.is_grad_enabled():
            return self._forward_inference(x, x if inplace else torch.empty_like(x), poll)
        beta, gamma = self.effective_parameters()
        norm = F.conv2d(x * x, gamma, beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)

    def _forward_inference(self, x: torch.Tensor, out: torch.Tensor, poll: Poll | None = None) -> torch.Tensor:
        """The same arithmetic with cached parameters, in bands of rows of a few MB.

        Band-sized temporaries are reused by the allocator, where activation-sized ones
        (50-75 MB) cost fresh, page-faulting memory on every call: about 2× faster than
        whole-tensor ops. Bands are no smaller because each costs four parallel regions, and
        on a busy machine every region waits for a descheduled thread.
        """
        sources = (self.beta, self.gamma, *self.buffers())
        beta, gamma = self._effective.get(sources, self.effective_parameters)
        rows = max(1, self._BAND_ELEMENTS // max(1, x.shape[0] * x.shape[1] * x.shape[3]))
        for top in range(0, x.shape[2], rows):
            if top and poll is not None:
                poll()
            band = x[:, :, top : top + rows]
            norm = F.conv2d(band * band, gamma, beta)
            norm = norm.sqrt_() if self.inverse else norm.rsqrt_()
            torch.mul(band, norm, out=out[:, :, top : top + rows])
        return out


class Transform(nn.Sequential):
    """``nn.Sequential`` whose inference lets each GDN overwrite the activation it normalizes.

    That activation is the previous layer's fresh output, which nothing else holds (unless a
    forward hook on that layer kept it), so no buffer of its size is needed for the result.
    """

    def forward(self, x: torch.Tensor, poll: Poll | None = None) -> torch.Tensor:
        """`poll` (the pipeline's cancel check) runs before each layer at inference, and between a GDN's bands."""
        if torch.is_grad_enabled():
            return super().forward(x)
        for index, layer in enumerate(self):
            if poll is not None:
                poll()
            x = layer(x, inplace=bool(index), poll=poll) if isinstance(layer, GDN) else layer(x)
        return x


class UpConv(nn.ConvTranspose2d):
    """5×5, stride-2 transposed convolution that doubles the spatial size exactly.

    With few output channels (the final RGB layer), inference runs it as the equivalent
    3×3 convolution to 4× the channels followed by a pixel shuffle: oneDNN does that
    ~2.5× faster than a transposed convolution with three outputs. Same parameters.
    """

    _SUBPIXEL_MAX_OUT = 16

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=5, stride=2, padding=2, output_padding=1)
        self._subpixel = DerivedTensors()

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if torch.is_grad_enabled() or output_size is not None or self.out_channels > self._SUBPIXEL_MAX_OUT:
            return super().forward(x, output_size)
        assert self.bias is not None
        weight, bias = self._subpixel.get((self.weight, self.bias), self.subpixel_parameters)
        return F.pixel_shuffle(F.conv2d(x, weight, bias, padding=1), 2)

    def subpixel_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(weight, bias) of the 3×3 convolution whose pixel shuffle equals this transposed convolution.

        Output row 2m + a gathers input rows m-1, m, m+1 through taps 4+a, 2+a, a of the
        5×5 kernel (tap 5 being zero): every other tap of the zero-padded, flipped kernel.
        """
        assert self.bias is not None
        cin, cout = self.in_channels, self.out_channels
        taps = F.pad(self.weight, (0, 1, 0, 1)).flip(-2, -1).reshape(cin, cout, 3, 2, 3, 2).flip(3, 5)
        weight = taps.permute(1, 3, 5, 0, 2, 4).reshape(4 * cout, cin, 3, 3).contiguous()
        return weight, self.bias.repeat_interleave(4)


def conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """5×5, stride-2 convolution that halves the spatial size (ceil)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=2, padding=2)


def deconv(in_channels: int, out_channels: int) -> UpConv:
    """5×5, stride-2 transposed convolution that doubles the spatial size exactly."""
    return UpConv(in_channels, out_channels)
