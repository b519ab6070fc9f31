"""Image-quality metrics on 8-bit RGB, the way CompressAI's evaluation reports them, and `METRICS`, their table.

A metric is declared once, as one `Metric` row of `METRICS`: the results carry a mapping of its key to
its value, and BD-rate, the `lci compare`/`bench` tables, CSV and JSON, the window's plot and its menu,
and the glossary iterate over the table. Adding a metric is a row here, its function, and a test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from pytorch_msssim import ms_ssim as _ms_ssim

from lci_studio.codec.cancel import CancelCheck, stop_if_cancelled

_BAND = 256  # rows per step of the PSNR sum and of each MS-SSIM scale
_WINDOW = 11
_K = (0.01, 0.03)
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # pytorch_msssim's defaults (Wang et al. 2003)


def squared_error(original: np.ndarray, reconstruction: np.ndarray) -> int:
    """The sum of squared differences over all three channels of two uint8 H×W×3 arrays.

    Summed exactly in integers, a band of rows at a time, so a 24-MP photo needs no full-size
    float copies.
    """
    if original.shape != reconstruction.shape:
        raise ValueError(f"image shapes differ: {original.shape} and {reconstruction.shape}")
    total = 0
    for top in range(0, original.shape[0], _BAND):
        diff = (original[top : top + _BAND].astype(np.int32) - reconstruction[top : top + _BAND]).ravel()
        total += int(np.einsum("i,i->", diff, diff, dtype=np.int64))
    return total


def psnr_rgb(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """PSNR in dB over all three channels of two uint8 H×W×3 arrays (inf when identical)."""
    total = squared_error(original, reconstruction)
    if total == 0:
        return math.inf
    mse = total / original.size
    return 20 * math.log10(255.0) - 10 * math.log10(mse)


# BT.709's luma weights (Kr, Kb), and the weights of the Y, Cb and Cr PSNRs in PSNR-YUV (JPEG AI's 6:1:1)
_KR, _KB = 0.2126, 0.0722
_YUV_WEIGHTS = (6.0, 1.0, 1.0)
# full-range BT.709 RGB → Y'CbCr on 0-255 values, as a matrix: the 128 offsets cancel in a difference
_RGB_TO_YCBCR = np.array(
    [
        [_KR, 1 - _KR - _KB, _KB],
        [-_KR / (2 - 2 * _KB), -(1 - _KR - _KB) / (2 - 2 * _KB), 0.5],
        [0.5, -(1 - _KR - _KB) / (2 - 2 * _KR), -_KB / (2 - 2 * _KR)],
    ]
)


def psnr_yuv(original: np.ndarray, reconstruction: np.ndarray, cancel: CancelCheck | None = None) -> float:
    """PSNR-YUV 6:1:1 in dB of two uint8 H×W×3 RGB arrays: (6·PSNR-Y + PSNR-Cb + PSNR-Cr) / 8.

    As the JPEG AI common test conditions weigh it: each plane's PSNR (peak 255) after converting both
    pictures to full-range BT.709 Y'CbCr 4:4:4, here in float64 from the 8-bit values (no rounding to
    integer planes); inf when a plane is identical. A band of rows at a time, `cancel` polled per band.
    """
    if original.shape != reconstruction.shape:
        raise ValueError(f"image shapes differ: {original.shape} and {reconstruction.shape}")
    sums = np.zeros(3)
    for top in range(0, original.shape[0], _BAND):
        stop_if_cancelled(cancel)
        diff = (original[top : top + _BAND].astype(np.float64) - reconstruction[top : top + _BAND]).reshape(-1, 3)
        planes = diff @ _RGB_TO_YCBCR.T
        sums += np.einsum("ij,ij->j", planes, planes)
    mse = sums / (original.shape[0] * original.shape[1])
    psnrs = [math.inf if m == 0 else 10 * math.log10(255.0**2 / m) for m in mse]
    return sum(w * p for w, p in zip(_YUV_WEIGHTS, psnrs, strict=True)) / sum(_YUV_WEIGHTS)


def ms_ssim_rgb(original: np.ndarray, reconstruction: np.ndarray, cancel: CancelCheck | None = None) -> float:
    """MS-SSIM (5 scales, 11-tap Gaussian, σ=1.5, data range 255) of two uint8 H×W×3 arrays.

    The value of `pytorch_msssim.ms_ssim` (the mean of the per-channel values), computed in
    float32 with bounded memory: within 1e-5 of the float64 value and 3-4× faster (768×512,
    one thread: 0.09 s instead of 0.30-0.35 s), which is what made the demo wait for its
    numbers. Pixels are centred on their band's mean before the local moments are taken, so
    the variances lose little precision to cancellation. Each scale's SSIM and contrast terms
    are means of local maps, summed one channel and one band of rows at a time: a 24-MP photo
    needs a few hundred MB instead of about 9 GB.

    Images too small for five scales (under 161 px on a side) are reflected up to that size
    so that small thumbnails still get a number instead of an error. `cancel` is polled per band.
    """
    if original.shape != reconstruction.shape:
        raise ValueError(f"image shapes differ: {original.shape} and {reconstruction.shape}")
    values = []
    with torch.no_grad():
        for channel in range(3):
            x = _plane(original[:, :, channel])
            y = _plane(reconstruction[:, :, channel])
            short = min(x.shape[-2:])
            if short <= 160:
                pad = (161 - short + 1) // 2 + 1
                x = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
                y = torch.nn.functional.pad(y, (pad, pad, pad, pad), mode="replicate")
            terms = []
            for level in range(len(_MS_SSIM_WEIGHTS)):
                ssim, cs = _banded_ssim(x, y, cancel)
                if level < len(_MS_SSIM_WEIGHTS) - 1:
                    terms.append(max(cs, 0.0))
                    padding = [size % 2 for size in x.shape[2:]]
                    x = torch.nn.functional.avg_pool2d(x, kernel_size=2, padding=padding)
                    y = torch.nn.functional.avg_pool2d(y, kernel_size=2, padding=padding)
            terms.append(max(ssim, 0.0))
            values.append(math.prod(term**weight for term, weight in zip(terms, _MS_SSIM_WEIGHTS, strict=True)))
    return sum(values) / 3


def _gaussian_taps() -> torch.Tensor:
    offsets = torch.arange(_WINDOW, dtype=torch.float64) - _WINDOW // 2
    taps = torch.exp(-(offsets**2) / (2 * 1.5**2))
    return (taps / taps.sum()).float()


_TAPS = _gaussian_taps()
_TAP_VALUES = [float(tap) for tap in _TAPS]


def _plane(plane: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(plane)).float()[None, None]


def _gaussian_filter(planes: torch.Tensor) -> torch.Tensor:
    """The separable Gaussian over the last two dimensions, without padding (a "valid" convolution).

    As eleven shifted multiply-adds per direction rather than a grouped conv2d: oneDNN's
    depthwise path for an 11-tap kernel took 5-20 ms of CPU per band of 5 × 266 × 768 where this
    takes 4-5 ms, and it splits across torch's threads (same sums, the same values to float32).
    """
    rows = planes.shape[-2] - (_WINDOW - 1)
    vertical = planes[..., 0:rows, :] * _TAP_VALUES[0]
    for k in range(1, _WINDOW):
        vertical.add_(planes[..., k : k + rows, :], alpha=_TAP_VALUES[k])
    columns = planes.shape[-1] - (_WINDOW - 1)
    out = vertical[..., 0:columns] * _TAP_VALUES[0]
    for k in range(1, _WINDOW):
        out.add_(vertical[..., k : k + columns], alpha=_TAP_VALUES[k])
    return out


def _banded_ssim(x: torch.Tensor, y: torch.Tensor, cancel: CancelCheck | None) -> tuple[float, float]:
    """Means of the SSIM and contrast-structure maps of one channel, a band of output rows at a time.

    The five local moments (means, second moments, cross moment) go through one separable
    Gaussian filter together (`_gaussian_filter`), without padding, as pytorch_msssim filters.
    """
    c1 = (_K[0] * 255.0) ** 2
    c2 = (_K[1] * 255.0) ** 2
    rows = x.shape[-2] - (_WINDOW - 1)
    ssim_total = cs_total = 0.0
    for top in range(0, rows, _BAND):
        stop_if_cancelled(cancel)
        count = min(_BAND, rows - top)
        # Centred on the band's mean: a variance is E[x²] − E[x]², and in float32 that difference
        # loses about 6e-8 × (x − centre)², which must stay small against C2 = 58.5 in flat areas.
        # (Per band, not per plane: the scales' average pooling pads with zeros of the pixels.)
        xb = x[:, :, top : top + count + _WINDOW - 1]
        yb = y[:, :, top : top + count + _WINDOW - 1]
        centre = float(xb.mean(dtype=torch.float64) + yb.mean(dtype=torch.float64)) / 2
        # The five planes written in place and the maps computed in place (the same operations in
        # the same order, so the same values): each band-sized temporary costs a pass over memory.
        planes = torch.empty((1, 5, *xb.shape[-2:]))
        xb = torch.sub(xb, centre, out=planes[:, 0:1])
        yb = torch.sub(yb, centre, out=planes[:, 1:2])
        torch.mul(xb, xb, out=planes[:, 2:3])
        torch.mul(yb, yb, out=planes[:, 3:4])
        torch.mul(xb, yb, out=planes[:, 4:5])
        mx, my, xx, yy, xy = _gaussian_filter(planes).unbind(dim=1)
        sigma_x = xx.sub_(mx * mx)
        sigma_y = yy.sub_(my * my)
        sigma_xy = xy.sub_(mx * my)
        cs_map = sigma_xy.mul_(2).add_(c2).div_(sigma_x.add_(sigma_y).add_(c2))
        mx, my = mx.add_(centre), my.add_(centre)
        numerator = mx.mul(2).mul_(my).add_(c1)
        ssim_map = numerator.div_(torch.mul(mx, mx).add_(my.mul_(my)).add_(c1)).mul_(cs_map)
        ssim_total += float(ssim_map.sum(dtype=torch.float64))
        cs_total += float(cs_map.sum(dtype=torch.float64))
    elements = rows * (x.shape[-1] - (_WINDOW - 1))
    return ssim_total / elements, cs_total / elements


def ms_ssim_loss_value(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Differentiable MS-SSIM of float images in [0, 1] (for training the ms-ssim ladder)."""
    return _ms_ssim(x, x_hat.clamp(0, 1), data_range=1.0, size_average=True)


def ms_ssim_db(ms_ssim: float) -> float:
    """MS-SSIM as dB (−10·log10(1 − MS-SSIM)), the scale BD and CompressAI's plots use for it."""
    return math.inf if ms_ssim >= 1 else -10 * math.log10(1 - ms_ssim)


# (original, reconstruction, cancel) → value; both H×W×3 uint8
MeasureFunction = Callable[[np.ndarray, np.ndarray, "CancelCheck | None"], float]


@dataclass(frozen=True)
class Metric:
    """One image-quality metric as every face shows it: one row of `METRICS`."""

    key: str  # the results' mapping key and the plot's choice ("psnr", "ms-ssim")
    name: str  # as shown: plot button, menu, table head, glossary term
    measure: MeasureFunction
    json_key: str  # its list in CompressAI's JSON ("psnr-rgb") and its BD-rate's key
    column: str  # its CSV column
    axis_label: str  # the plot's y axis
    glossary: str  # what it means, in plain words (Help ▸ Glossary, the plot button's tooltip)
    short: str  # one line for a tooltip on a caption that shows it
    spec: str = ".2f"  # how a value is written in captions and tables
    unit: str = " dB"  # written after a value ("" for a 0-1 score)
    to_db: Callable[[float], float] | None = None  # its dB form, which BD-rate fits and the plot draws (None: in dB)
    higher_is_better: bool = True
    on_demand: bool = False  # measured only when shown or written (it costs a moment); else with every result
    plot_range: tuple[float, float] = (20.0, 40.0)  # the plot's y range (its dB form) before any point

    def text(self, value: float) -> str:
        """The value as captions and hover texts write it ("PSNR 31.20 dB"; "inf" for an identical picture)."""
        number = "inf" if math.isinf(value) else format(value, self.spec)
        return f"{self.name} {number}{self.unit}"

    def db(self, value: float) -> float:
        """The value as the plot draws it: its dB form (NaN, not measured, stays NaN)."""
        return value if self.to_db is None or math.isnan(value) else self.to_db(value)

    @property
    def plotted_name(self) -> str:
        """What the plot's title calls it: "PSNR", "MS-SSIM (dB)" (a score drawn in its dB form)."""
        return self.name if self.to_db is None else f"{self.name} (dB)"

    def score(self, value: float) -> float:
        """What BD-rate fits: its dB form, turned so that higher is better."""
        scaled = self.db(value)
        return scaled if self.higher_is_better else -scaled


METRICS: dict[str, Metric] = {
    metric.key: metric
    for metric in (
        Metric(
            "psnr", "PSNR", lambda original, reconstruction, cancel: psnr_rgb(original, reconstruction),
            json_key="psnr-rgb", column="psnr_db", axis_label="PSNR (dB)",
            glossary=(
                "Peak signal-to-noise ratio, in decibels (dB): how close the compressed picture is to the "
                "original, pixel by pixel. Higher is closer; every 3 dB halves the average squared error. "
                "Around 30 dB small flaws show when you look closely; above 40 dB they are hard to find."
            ),
            short="PSNR: closeness to the original in dB (higher is closer; 3 dB halves the error)",
        ),
        Metric(
            "ms-ssim", "MS-SSIM", ms_ssim_rgb,
            json_key="ms-ssim-rgb", column="ms_ssim", axis_label="MS-SSIM (dB)",
            glossary=(
                "Multi-scale structural similarity: how alike the two pictures' structure (edges, textures, "
                "contrast) is at several sizes, closer to what people notice than PSNR. 1 means identical. "
                "The plot shows it in dB, −10·log10(1 − MS-SSIM), so 0.99 is 20 dB and 0.999 is 30 dB; "
                "higher is closer. It is measured only when you ask for it (it takes a moment)."
            ),
            short="MS-SSIM: structural likeness, 1 = identical (the plot shows it in dB)",
            spec=".4f", unit="", to_db=ms_ssim_db, on_demand=True, plot_range=(5.0, 25.0),
        ),
        Metric(
            "psnr-yuv", "PSNR-YUV", psnr_yuv,
            json_key="psnr-yuv", column="psnr_yuv_db", axis_label="PSNR-YUV 6:1:1 (dB)",
            glossary=(
                "PSNR measured on brightness and colour apart (BT.709 Y, Cb and Cr) and averaged with "
                "brightness counted six times, as the JPEG AI standard's tests report it: the eye sees "
                "errors in brightness far more than in colour, so this forgives a codec that spends fewer "
                "bits on colour, as JPEG, WebP and AVIF do. Higher is closer; measured only when you ask for it."
            ),
            short="PSNR-YUV: PSNR weighted 6:1:1 over brightness and the two colour planes (higher is closer)",
            on_demand=True,
        ),
    )
}  # fmt: skip


def always_measured() -> tuple[str, ...]:
    """The keys measured with every result (cheap beside an encode)."""
    return tuple(key for key, metric in METRICS.items() if not metric.on_demand)


def on_demand() -> tuple[str, ...]:
    """The keys measured only when shown or written."""
    return tuple(key for key, metric in METRICS.items() if metric.on_demand)


def following(key: str) -> str:
    """The table's key after `key`, round to the first (what the window's M shows next)."""
    keys = list(METRICS)
    return keys[(keys.index(key) + 1) % len(keys)]


def measure(
    original: np.ndarray, reconstruction: np.ndarray, keys: Iterable[str], cancel: CancelCheck | None = None
) -> dict[str, float]:
    """The metrics `keys` of a reconstruction, by key (cancel polled between them and inside the slow ones)."""
    values = {}
    for key in keys:
        stop_if_cancelled(cancel)
        values[key] = METRICS[key].measure(original, reconstruction, cancel)
    return values


def values_text(values: Mapping[str, float], separator: str) -> str:
    """Each measured metric as captions write it, in the table's order ("PSNR 31.20 dB · MS-SSIM 0.9712")."""
    return separator.join(
        metric.text(values[key]) for key, metric in METRICS.items() if not math.isnan(values.get(key, math.nan))
    )


def missing(values: Mapping[str, float], keys: Iterable[str] | None = None) -> tuple[str, ...]:
    """Which of `keys` (default: the whole table) `values` lacks: absent or NaN is not measured yet."""
    wanted = METRICS if keys is None else keys
    return tuple(key for key in wanted if math.isnan(values.get(key, math.nan)))
