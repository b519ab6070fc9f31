"""Bjøntegaard delta rate and delta PSNR between two rate-distortion curves.

G. Bjøntegaard, "Calculation of average PSNR differences between RD-curves", ITU-T SG16/Q6
VCEG-M33, Austin, 2001 (and VCEG-AI11, 2008). Each curve is interpolated as log(rate) against
PSNR (for BD-rate) or PSNR against log(rate) (for BD-PSNR); the mean gap between the two
interpolants over the range both curves cover is the answer. BD-rate turns the mean
log-rate gap back into a percentage: the bits the test codec needs relative to the reference
at the same quality, negative when it saves bits.

Two interpolations are offered:

- ``"pchip"`` (default): piecewise cubic Hermite interpolation with Fritsch–Carlson slopes,
  the variant later common test conditions use (VCEG-AL22 / JCTVC-L0242 style); it stays
  monotone and local, so curves with many points (a JPEG sweep) fit without wiggles.
- ``"cubic"``: VCEG-M33's original least-squares cubic polynomial (degree lowered when a
  curve has fewer than four points).

Both are implemented here in numpy (a formula, not worth a dependency).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from lci_studio.codec.metrics import METRICS, Metric

METHODS = ("pchip", "cubic")

T = TypeVar("T")
# One RD curve: bpp, and each metric's values by `metrics.METRICS` key (parallel to bpp; NaN: not measured).
RdCurve = tuple[Sequence[float], Mapping[str, Sequence[float]]]


class BdError(ValueError):
    """The two curves cannot be compared (too few points, no overlap, non-finite values)."""


def bd_rate(
    rate_ref: Sequence[float],
    psnr_ref: Sequence[float],
    rate_test: Sequence[float],
    psnr_test: Sequence[float],
    method: str = "pchip",
) -> float:
    """Average bit-rate difference of test vs reference at equal quality, in percent (negative = test saves bits).

    Rates may be in any positive unit (bpp, kbit/s) as long as both curves use the same one;
    "psnr" may be any quality measure in dB (PSNR, MS-SSIM in dB).
    """
    log_ref, q_ref = _curve(rate_ref, psnr_ref, "reference")
    log_test, q_test = _curve(rate_test, psnr_test, "test")
    low, high = _overlap(q_ref, q_test, "quality")
    mean_ref = _mean_over(q_ref, log_ref, low, high, method)
    mean_test = _mean_over(q_test, log_test, low, high, method)
    return (math.exp(mean_test - mean_ref) - 1.0) * 100.0


def bd_psnr(
    rate_ref: Sequence[float],
    psnr_ref: Sequence[float],
    rate_test: Sequence[float],
    psnr_test: Sequence[float],
    method: str = "pchip",
) -> float:
    """Average quality difference of test vs reference at equal rate, in dB (positive = test is better)."""
    log_ref, q_ref = _curve(rate_ref, psnr_ref, "reference")
    log_test, q_test = _curve(rate_test, psnr_test, "test")
    low, high = _overlap(log_ref, log_test, "rate")
    return _mean_over(log_test, q_test, low, high, method) - _mean_over(log_ref, q_ref, low, high, method)


def psnr_gap_at_same_rate(
    rate_ref: Sequence[float],
    psnr_ref: Sequence[float],
    rate_test: Sequence[float],
    psnr_test: Sequence[float],
) -> list[float | None]:
    """Each test point's quality minus the reference's at the same rate, in dB (None outside its rates).

    BD figures average over a range; this says where along it the test codec wins or loses
    ("better than JPEG at every quality level" is a claim about each point). The reference
    is interpolated linearly in log-rate between the two measured points around each rate.
    """
    log_ref, q_ref = _curve(rate_ref, psnr_ref, "reference")
    order = np.argsort(log_ref)
    log_ref, q_ref = log_ref[order], q_ref[order]
    gaps: list[float | None] = []
    for rate, quality in zip(rate_test, psnr_test, strict=True):
        if not (rate > 0 and math.isfinite(rate) and math.isfinite(quality)):
            gaps.append(None)
            continue
        log_rate = math.log(rate)
        inside = log_ref[0] <= log_rate <= log_ref[-1]
        gaps.append(float(quality - np.interp(log_rate, log_ref, q_ref)) if inside else None)
    return gaps


def bracket(points: Sequence[T], low: float, high: float, key: Callable[[T], float]) -> list[T]:
    """Points with key in [low, high] plus the nearest one outside on each side (sorted by key).

    A reference curve is cut to these before a BD fit, so a long sweep's far ends (JPEG at
    quality 2 or 100) do not bend the interpolant over the range that is compared.
    """
    ordered = sorted(points, key=key)
    below = [p for p in ordered if key(p) < low]
    inside = [p for p in ordered if low <= key(p) <= high]
    above = [p for p in ordered if key(p) > high]
    return below[-1:] + inside + above[:1]


def bd_against(ladder: RdCurve, reference: RdCurve) -> dict[str, float | None]:
    """BD-rate for every metric of `metrics.METRICS` and BD-PSNR of the ladder vs a reference; None where undefined.

    Keys: each metric's JSON key ("psnr-rgb", "ms-ssim-rgb", …: BD-rate in %, fitted on its dB form,
    `Metric.score`) and "bd-psnr" (dB). A metric a curve lacks counts as not measured; non-finite
    points are dropped, and the reference is trimmed to the points that bracket the ladder's quality
    range before fitting.
    """

    def curve(rates: Sequence[float], qualities: Sequence[float]) -> tuple[list[float], list[float]]:
        pairs = [(r, q) for r, q in zip(rates, qualities, strict=True) if q is not None and math.isfinite(q) and r > 0]
        return [r for r, _ in pairs], [q for _, q in pairs]

    out: dict[str, float | None] = {}
    def scores(rd: RdCurve, metric: Metric) -> list[float]:
        values = rd[1].get(metric.key, [math.nan] * len(rd[0]))
        return [metric.score(v) if math.isfinite(v) else math.nan for v in values]

    for metric in METRICS.values():
        test_rate, test_q = curve(ladder[0], scores(ladder, metric))
        ref_rate, ref_q = curve(reference[0], scores(reference, metric))
        reference_points = list(zip(ref_rate, ref_q, strict=True))
        out[metric.json_key] = _bd_or_none(bd_rate, reference_points, test_rate, test_q, axis=1)  # equal quality
        if metric.key == "psnr":
            out["bd-psnr"] = _bd_or_none(bd_psnr, reference_points, test_rate, test_q, axis=0)  # equal rate
    return out


def _bd_or_none(
    formula: Callable[..., float],
    reference: list[tuple[float, float]],
    rate: list[float],
    quality: list[float],
    axis: int,
) -> float | None:
    """The formula on the reference points that bracket the test curve along `axis` (0 rate, 1 quality)."""
    if not rate:
        return None
    test_axis = rate if axis == 0 else quality
    kept = bracket(reference, min(test_axis), max(test_axis), key=lambda p: p[axis])
    try:
        return formula([p[0] for p in kept], [p[1] for p in kept], rate, quality)
    except BdError:
        return None


# ---------------------------------------------------------------------------------------- internals


def _curve(rate: Sequence[float], quality: Sequence[float], which: str) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rate, dtype=np.float64).ravel()
    q = np.asarray(quality, dtype=np.float64).ravel()
    if r.shape != q.shape:
        raise BdError(f"the {which} curve has {r.size} rates but {q.size} quality values")
    if r.size < 2:
        raise BdError(f"the {which} curve needs at least 2 points, it has {r.size}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(q))):
        raise BdError(f"the {which} curve holds non-finite values")
    if np.any(r <= 0):
        raise BdError(f"the {which} curve holds a rate that is not positive")
    return np.log(r), q


def _overlap(a: np.ndarray, b: np.ndarray, axis: str) -> tuple[float, float]:
    low, high = max(a.min(), b.min()), min(a.max(), b.max())
    if not high > low:
        raise BdError(f"the two curves do not overlap in {axis}")
    return float(low), float(high)


def _mean_over(x: np.ndarray, y: np.ndarray, low: float, high: float, method: str) -> float:
    """Mean of the interpolant y(x) over [low, high]."""
    if method == "cubic":
        degree = min(3, x.size - 1)
        if np.unique(x).size <= degree:
            raise BdError("a curve has too few distinct points for the fit")
        poly = np.polynomial.Polynomial.fit(x, y, degree)
        integral = poly.integ()
        return float((integral(high) - integral(low)) / (high - low))
    if method == "pchip":
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        if np.any(np.diff(xs) <= 0):
            raise BdError("a curve has two points at the same value; piecewise interpolation needs distinct ones")
        return _pchip_integral(xs, ys, low, high) / (high - low)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _pchip_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fritsch–Carlson derivatives at the knots (the same rule as scipy's PchipInterpolator)."""
    h = np.diff(x)
    delta = np.diff(y) / h
    if x.size == 2:
        return np.array([delta[0], delta[0]])
    d = np.zeros_like(y)
    w1 = 2 * h[1:] + h[:-1]
    w2 = h[1:] + 2 * h[:-1]
    same_sign = delta[:-1] * delta[1:] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        harmonic = (w1 + w2) / (w1 / delta[:-1] + w2 / delta[1:])
    d[1:-1] = np.where(same_sign, harmonic, 0.0)
    d[0] = _edge_slope(h[0], h[1], delta[0], delta[1])
    d[-1] = _edge_slope(h[-1], h[-2], delta[-1], delta[-2])
    return d


def _edge_slope(h0: float, h1: float, m0: float, m1: float) -> float:
    """One-sided three-point end slope, kept shape-preserving."""
    d = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
    if np.sign(d) != np.sign(m0):
        return 0.0
    if np.sign(m0) != np.sign(m1) and abs(d) > abs(3 * m0):
        return 3 * m0
    return float(d)


def _pchip_integral(x: np.ndarray, y: np.ndarray, low: float, high: float) -> float:
    """Exact integral of the piecewise cubic Hermite interpolant over [low, high] ⊆ [x0, xn]."""
    d = _pchip_slopes(x, y)
    total = 0.0
    for k in range(x.size - 1):
        a, b = max(low, x[k]), min(high, x[k + 1])
        if b <= a:
            continue
        h = x[k + 1] - x[k]
        slope = (y[k + 1] - y[k]) / h
        c2 = (3 * slope - 2 * d[k] - d[k + 1]) / h
        c3 = (d[k] + d[k + 1] - 2 * slope) / (h * h)

        def antiderivative(t: float, k: int = k, c2: float = c2, c3: float = c3) -> float:
            return y[k] * t + d[k] * t**2 / 2 + c2 * t**3 / 3 + c3 * t**4 / 4

        total += antiderivative(b - x[k]) - antiderivative(a - x[k])
    return float(total)
