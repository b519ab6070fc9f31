"""Measured results that tests of what the window says about them share (bit maps, explanations)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from tests.conftest import make_model, make_photo


def loaded(quality: int, N: int = 16, M: int = 24, metric: str = "mse") -> LoadedModel:
    model = make_model(N, M, seed=quality)
    info = ModelInfo("bundled", quality, metric, LAMBDAS[metric][quality - 1], N, M, weights_fingerprint(model))
    return LoadedModel(model, info)


@pytest.fixture(scope="module")
def results():
    """Qualities 1 and 2 with M = 24, quality 3 with a wider latent (M = 32), as CompressAI's 6-8 are."""
    image = RgbImage(make_photo(96, 128), 20000)
    return [measure_quality(loaded(q, M=24 if q < 3 else 32), image) for q in (1, 2, 3)]


def silence(result, channels: list[int]):
    """The same result with some channels collapsed to (almost) no bits, as trained models have."""
    bit_map = result.bit_map.copy()
    bit_map[channels] = 1e-6
    return dataclasses.replace(
        result, bit_map=bit_map, bits_per_channel=bit_map.reshape(bit_map.shape[0], -1).sum(axis=1).astype(np.float64)
    )
