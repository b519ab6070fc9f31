"""Image-quality metrics on 8-bit RGB, the way CompressAI's evaluation reports them."""

from __future__ import annotations

import math

import numpy as np
import torch
from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled
from pytorch_msssim import ms_ssim as _ms_ssim
from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

_BAND = 256  # rows per step of the PSNR sum and of each MS-SSIM scale
_WINDOW = 11
_K = (0.01, 0.03)
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # pytorch_msssim's defaults (Wang et al. 2003)


def psnr_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB over all three channels of two uint8 H×W×3 arrays (inf when identical).

    The squared error is summed exactly in integers, a band of rows at a time, so a 24-MP
    photo needs no full-size float copies.
    """
    if original.shape != reconstruction.shape:
        raise ValueError(f"image shapes differ: {original.shape} and {reconstruction.shape}")
    total = 0
    for top in range(0, original.shape[0], _BAND):
        diff = (original[top : top + _BAND].astype(np.int32) - reconstruction[top : top + _BAND]).ravel()
        total += int(np.einsum("i,i->", diff, diff, dtype=np.int64))
    if total == 0:
        return math.inf
    mse = total / original.size
    return 20 * math.log10(255.0) - 10 * math.log10(mse)


def ms_ssim_rgb(original: np.ndarray, reconstruction: np.ndarray, cancel: CancelCheck | None = None) -> float:
    """MS-SSIM (5 scales, 11-tap Gaussian, σ=1.5) of two uint8 H×W×3 arrays.

    The value of `pytorch_msssim.ms_ssim` in float64 (data range 255), computed with bounded
    memory: the RGB value is the mean of the per-channel values, and each scale's SSIM and
    contrast terms are means of local maps, so they are summed one channel and one band of
    rows at a time. A 24-MP photo then needs a few hundred MB instead of about 9 GB.

    Images too small for five scales (under 161 px on a side) are reflected up to that size
    so that small thumbnails still get a number instead of an error. `cancel` is polled per band.
    """
    window = _fspecial_gauss_1d(_WINDOW, 1.5).reshape(1, 1, 1, _WINDOW)
    values = []
    for channel in range(3):
        x = _to_tensor(original[:, :, channel : channel + 1])
        y = _to_tensor(reconstruction[:, :, channel : channel + 1])
        short = min(x.shape[-2:])
        if short <= 160:
            pad = (161 - short + 1) // 2 + 1
            x = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
            y = torch.nn.functional.pad(y, (pad, pad, pad, pad), mode="replicate")
        terms = []
        with torch.no_grad():
            for level in range(len(_MS_SSIM_WEIGHTS)):
                ssim, cs = _banded_ssim(x, y, window, cancel)
                if level < len(_MS_SSIM_WEIGHTS) - 1:
                    terms.append(max(cs, 0.0))
                    padding = [size % 2 for size in x.shape[2:]]
                    x = torch.nn.functional.avg_pool2d(x, kernel_size=2, padding=padding)
                    y = torch.nn.functional.avg_pool2d(y, kernel_size=2, padding=padding)
            terms.append(max(ssim, 0.0))
        values.append(math.prod(term**weight for term, weight in zip(terms, _MS_SSIM_WEIGHTS, strict=True)))
    return sum(values) / 3


def _banded_ssim(
    x: torch.Tensor, y: torch.Tensor, window: torch.Tensor, cancel: CancelCheck | None
) -> tuple[float, float]:
    """Means of the SSIM and contrast-structure maps of one channel, a band of output rows at a time."""
    rows = x.shape[-2] - (_WINDOW - 1)  # the Gaussian filter is applied without padding
    ssim_total = cs_total = 0.0
    for top in range(0, rows, _BAND):
        stop_if_cancelled(cancel)
        count = min(_BAND, rows - top)
        band = slice(top, top + count + _WINDOW - 1)
        ssim, cs = _ssim(x[:, :, band], y[:, :, band], data_range=255.0, win=window, size_average=False, K=_K)
        ssim_total += float(ssim) * count
        cs_total += float(cs) * count
    return ssim_total / rows, cs_total / rows


def ms_ssim_loss_value(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Differentiable MS-SSIM of float images in [0, 1] (for training the ms-ssim ladder)."""
    return _ms_ssim(x, x_hat.clamp(0, 1), data_range=1.0, size_average=True)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.float64)).permute(2, 0, 1)[None]
