"""number_format: how sizes, bits per pixel, ratios and curve names are written for people."""

from __future__ import annotations

import math

from lci_studio.codec.number_format import format_bpp, format_kb, format_ratio, format_times, model_label


def test_formatting():
    assert format_kb(12_345) == "12.3 kB"
    assert format_kb(123_456) == "123 kB"
    assert format_ratio(47.4) == "47:1"
    assert format_ratio(3.21) == "3.2:1"
    assert (format_times(62.4), format_times(3.21)) == ("62× smaller", "3.2× smaller")
    assert format_times(3 / 53) == "18× larger"  # a 1×1 picture's 53-byte file against its 3 raw bytes
    assert (format_kb(3), format_kb(53), format_kb(999.4)) == ("3 bytes", "53 bytes", "999 bytes")
    assert format_kb(999.6) == "1.0 kB"
    assert (format_bpp(0.36412), format_bpp(12.44), format_bpp(424.0)) == ("0.364 bpp", "12.4 bpp", "424 bpp")
    assert model_label("bundled", "mse") == "LCI (bundled)"
    assert model_label("/home/me/weights/", "ms-ssim") == "LCI (weights, ms-ssim)"
    assert math.isfinite(float(format_kb(0).split()[0]))
