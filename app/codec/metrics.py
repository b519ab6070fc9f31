"""Image-quality metrics on 8-bit RGB, the way CompressAI's evaluation reports them."""

from __future__ import annotations

import math

import numpy as np
import torch
from pytorch_msssim import ms_ssim as _ms_ssim


def psnr_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB over all three channels of two uint8 H×W×3 arrays (inf when identical)."""
    diff = original.astype(np.float64) - reconstruction.astype(np.float64)
    mse = float(np.mean(diff * diff))
    return math.inf if mse == 0 else 20 * math.log10(255.0) - 10 * math.log10(mse)


def ms_ssim_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """MS-SSIM (5 scales, 11-tap Gaussian, σ=1.5) of two uint8 H×W×3 arrays.

    Images too small for five scales (under 161 px on a side) are reflected up to that size
    so that small thumbnails still get a number instead of an error.
    """
    a, b = _to_tensor(original), _to_tensor(reconstruction)
    short = min(a.shape[-2:])
    if short <= 160:
        pad = (161 - short + 1) // 2 + 1
        a = torch.nn.functional.pad(a, (pad, pad, pad, pad), mode="replicate")
        b = torch.nn.functional.pad(b, (pad, pad, pad, pad), mode="replicate")
    with torch.no_grad():
        return float(_ms_ssim(a, b, data_range=255.0))


def ms_ssim_loss_value(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Differentiable MS-SSIM of float images in [0, 1] (for training the ms-ssim ladder)."""
    return _ms_ssim(x, x_hat.clamp(0, 1), data_range=1.0, size_average=True)


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image, dtype=np.float64)).permute(2, 0, 1)[None]
