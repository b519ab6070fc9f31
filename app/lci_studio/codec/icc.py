"""A matrix/curve ICC profile from colour primaries and a transfer curve.

HEIF files often describe their colour with an nclx box (code points for primaries and transfer,
ISO/IEC 23091-2) instead of an embedded ICC profile; a Display P3 photo from an Android phone is
one. `image_io` turns such a description into a profile made here, so that ImageCms converts it to
sRGB by the same rule as an embedded profile. Version 4 profile: XYZ colorants adapted to the
D50 connection space with Bradford's matrix, as ICC.1:2022 asks; parametric curves.
"""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)  # the ICC connection space's white, as its header states it
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])

# Parametric curves of type 3 (ICC.1 10.18): Y = (aX + b)^g for X ≥ d, else cX; (g, a, b, c, d).
SRGB_CURVE = (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
BT709_CURVE = (1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081)  # BT.601/709/2020 camera curve

Xy = tuple[float, float]


def _xyz(xy: Xy) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def rgb_to_xyz_d50(red: Xy, green: Xy, blue: Xy, white: Xy) -> np.ndarray:
    """3×3 matrix from linear RGB to XYZ in the D50 connection space (columns: the colorants)."""
    primaries = np.column_stack([_xyz(red), _xyz(green), _xyz(blue)])
    to_xyz = primaries * np.linalg.solve(primaries, _xyz(white))  # RGB (1, 1, 1) is the white
    cone_white, cone_d50 = _BRADFORD @ _xyz(white), _BRADFORD @ np.array(D50)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(cone_d50 / cone_white) @ _BRADFORD
    return adapt @ to_xyz


def _s15(values) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _tag_xyz(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(xyz)


def _tag_text(text: str) -> bytes:
    encoded = text.encode("utf-16-be")
    return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(encoded), 28) + encoded


def _tag_curve(curve: tuple[float, float, float, float, float]) -> bytes:
    return b"para\0\0\0\0" + struct.pack(">HH", 3, 0) + _s15(curve)


def matrix_profile(name: str, red: Xy, green: Xy, blue: Xy, white: Xy, curve=SRGB_CURVE) -> bytes:
    """The bytes of an RGB display profile with these primaries, white point (CIE xy) and curve."""
    colorants = rgb_to_xyz_d50(red, green, blue, white)
    tags = [
        (b"desc", _tag_text(name)),
        (b"cprt", _tag_text("No copyright, use freely")),
        (b"wtpt", _tag_xyz(D50)),
        (b"rXYZ", _tag_xyz(colorants[:, 0])),
        (b"gXYZ", _tag_xyz(colorants[:, 1])),
        (b"bXYZ", _tag_xyz(colorants[:, 2])),
        (b"rTRC", _tag_curve(curve)),
        (b"gTRC", _tag_curve(curve)),
        (b"bTRC", _tag_curve(curve)),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for signature, body in tags:
        body += b"\0" * (-len(body) % 4)  # every tag starts on a 4-byte boundary
        table += struct.pack(">4sII", signature, offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\0" * 4, 0x04300000, b"mntr", b"RGB ", b"XYZ ")
        + b"\0" * 12  # creation date: none
        + b"acsp"
        + b"\0" * 24  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual intent
        + _s15(D50)
        + b"\0" * 48  # creator, profile ID, reserved
    )
    assert len(header) == 128
    return header + table + data
