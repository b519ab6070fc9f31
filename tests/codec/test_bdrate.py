"""Bjøntegaard delta rate / PSNR against cases that can be checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lci_studio.codec.bdrate import (
    METHODS,
    BdError,
    _pchip_integral,
    bd_against,
    bd_psnr,
    bd_rate,
    bracket,
    psnr_gap_at_same_rate,
)
from lci_studio.codec.metrics import ms_ssim_db

# A plausible reference RD curve (bpp, PSNR dB), like a JPEG sweep.
RATE = [0.15, 0.25, 0.4, 0.6, 0.9, 1.3, 1.9]
PSNR = [24.1, 26.3, 28.4, 30.2, 32.0, 33.9, 36.0]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("factor", [0.5, 0.8, 1.0, 1.25])
def test_constant_rate_factor_is_recovered_exactly(method, factor):
    """Test = reference with every rate × factor at the same PSNR: BD-rate is exactly (factor − 1)."""
    result = bd_rate(RATE, PSNR, [r * factor for r in RATE], PSNR, method=method)
    assert result == pytest.approx((factor - 1) * 100, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_constant_psnr_offset_is_recovered_exactly(method):
    assert bd_psnr(RATE, PSNR, RATE, [p + 1.5 for p in PSNR], method=method) == pytest.approx(1.5, abs=1e-9)
    assert bd_psnr(RATE, PSNR, RATE, [p - 0.7 for p in PSNR], method=method) == pytest.approx(-0.7, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_shift_with_partial_overlap_and_different_sampling(method):
    """Test sampled at other points of the same (linear in log-rate) curve, scaled by 0.7: still −30%."""

    def psnr_of(rate):  # PSNR linear in log rate: both interpolations reproduce it exactly
        return 30 + 6 * math.log2(rate / 0.5)

    ref_rates = [0.1, 0.2, 0.35, 0.6, 1.0]
    test_curve_rates = [0.15, 0.3, 0.5, 0.8, 1.4]  # the reference curve's own points…
    test_psnr = [psnr_of(r) for r in test_curve_rates]
    test_rates = [r * 0.7 for r in test_curve_rates]  # …delivered at 70% of the bits
    result = bd_rate(ref_rates, [psnr_of(r) for r in ref_rates], test_rates, test_psnr, method=method)
    assert result == pytest.approx(-30.0, abs=1e-9)


@pytest.mark.parametrize("method", METHODS)
def test_sign_and_monotonicity(method):
    """Fewer bits for the same quality → negative; more savings → more negative; symmetric in ratio."""
    savings = [bd_rate(RATE, PSNR, [r * f for r in RATE], PSNR, method=method) for f in (0.6, 0.8, 0.95)]
    assert savings[0] < savings[1] < savings[2] < 0
    better = bd_rate(RATE, PSNR, RATE, [p + 1 for p in PSNR], method=method)
    worse = bd_rate(RATE, PSNR, RATE, [p - 1 for p in PSNR], method=method)
    assert better < 0 < worse
    forward = bd_rate(RATE, PSNR, [r * 0.8 for r in RATE], PSNR, method=method)
    backward = bd_rate([r * 0.8 for r in RATE], PSNR, RATE, PSNR, method=method)
    assert (1 + forward / 100) * (1 + backward / 100) == pytest.approx(1.0)
    assert bd_psnr(RATE, PSNR, RATE, [p + 1 for p in PSNR], method=method) > 0


def test_order_of_points_does_not_matter():
    order = [3, 0, 6, 1, 5, 2, 4]
    shuffled_rate, shuffled_psnr = [RATE[i] for i in order], [PSNR[i] for i in order]
    test_rate = [r * 0.9 for r in RATE]
    assert bd_rate(shuffled_rate, shuffled_psnr, test_rate, PSNR) == pytest.approx(bd_rate(RATE, PSNR, test_rate, PSNR))


def test_pchip_matches_scipy_when_available():
    interpolate = pytest.importorskip("scipy.interpolate")
    x = np.array([24.1, 26.3, 28.4, 29.0, 32.0, 33.9, 36.0])
    y = np.log([0.15, 0.25, 0.4, 0.41, 0.9, 1.3, 1.9])
    reference = interpolate.PchipInterpolator(x, y).integrate(25.0, 35.0)
    assert _pchip_integral(x, y, 25.0, 35.0) == pytest.approx(float(reference), rel=1e-12)


def test_bad_inputs_raise_bderror():
    with pytest.raises(BdError, match="overlap"):
        bd_rate(RATE, PSNR, RATE, [p + 50 for p in PSNR])
    with pytest.raises(BdError, match="at least 2"):
        bd_rate(RATE, PSNR, [0.5], [30.0])
    with pytest.raises(BdError, match="positive"):
        bd_rate(RATE, PSNR, [0.0, *RATE[1:]], PSNR)
    with pytest.raises(BdError, match="non-finite"):
        bd_rate(RATE, PSNR, RATE, [math.inf, *PSNR[1:]])
    with pytest.raises(BdError):
        bd_rate(RATE, PSNR, [0.2, 0.3, 0.4], [30.0, 30.0, 31.0])
    with pytest.raises(ValueError, match="unknown method"):
        bd_rate(RATE, PSNR, RATE, PSNR, method="spline")


def test_psnr_gap_at_the_same_rate_is_read_off_the_reference_in_log_rate():
    ref_rate, ref_psnr = [0.5, 0.25, 1.0, 2.0], [32.0, 30.0, 35.0, 38.0]  # any order
    test_rate = [0.25, 0.5**0.5, 1.0, 3.0, 0.1, float("nan")]
    test_psnr = [31.0, 33.0, 34.5, 40.0, 29.0, 30.0]
    gaps = psnr_gap_at_same_rate(ref_rate, ref_psnr, test_rate, test_psnr)
    # on a measured point; halfway (in log-rate) between 0.5 and 1.0, where the reference has 33.5
    assert gaps[:3] == [pytest.approx(1.0), pytest.approx(-0.5), pytest.approx(-0.5)]
    assert gaps[3:] == [None, None, None]  # outside the reference's rates, or no rate
    with pytest.raises(BdError):
        psnr_gap_at_same_rate([1.0], [30.0], [1.0], [31.0])


# ------------------------------------------------------------- BD of a ladder against a codec's sweep


def test_bracket_keeps_one_point_beyond_each_end():
    points = [0.1, 0.2, 0.3, 0.5, 0.8, 1.3]
    assert bracket(points, 0.25, 0.6, key=float) == [0.2, 0.3, 0.5, 0.8]
    assert bracket(points, 0.01, 5.0, key=float) == points


def test_bd_against_uses_bracketing_reference_points():
    """A ladder at 75% of a reference's rate for the same quality: −25% on both metrics, gain in dB."""
    rates = [0.05, 0.1, 0.2, 0.35, 0.5, 0.8, 1.2, 2.0, 3.5]
    psnr = [20.0, 23.0, 26.5, 29.0, 30.5, 32.5, 34.5, 37.0, 40.0]
    ms_ssim = [0.80, 0.86, 0.91, 0.94, 0.955, 0.968, 0.978, 0.987, 0.994]
    reference = (rates, {"psnr": psnr, "ms-ssim": ms_ssim})
    whole = bd_against(([r * 0.75 for r in rates], {"psnr": psnr, "ms-ssim": ms_ssim}), reference)
    assert whole["psnr-rgb"] == pytest.approx(-25.0) and whole["ms-ssim-rgb"] == pytest.approx(-25.0)
    # a ladder covering the middle only: the reference is cut to the points around it (end slopes differ a little)
    part = bd_against(([r * 0.75 for r in rates[2:7]], {"psnr": psnr[2:7], "ms-ssim": ms_ssim[2:7]}), reference)
    assert part["psnr-rgb"] == pytest.approx(-25.0, abs=0.5)
    assert part["ms-ssim-rgb"] == pytest.approx(-25.0, abs=0.5)
    assert whole["bd-psnr"] > 0 and part["bd-psnr"] > 0
    assert bd_against(([0.1, 0.2], {"psnr": [50.0, 51.0], "ms-ssim": [0.999, 0.9995]}), reference)["psnr-rgb"] is None


def test_ms_ssim_db_is_the_scale_bd_uses():
    assert ms_ssim_db(0.9) == pytest.approx(10.0)
    assert ms_ssim_db(0.99) == pytest.approx(20.0)
    assert ms_ssim_db(1.0) == math.inf
