"""Shared fixtures: small real models (random weights) and small test images made here."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

pytest_plugins = ["tests.weights_server"]  # local stand-ins for CompressAI's host: server, refused_url, …


def ctrl_c_reaches_it() -> None:
    """`preexec_fn` for a child that a test interrupts: SIGINT at its default, as for a command in a
    terminal's foreground, even when the test run itself was started with SIGINT ignored (`… &`)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def make_model(N: int = 16, M: int = 24, seed: int = 0):
    """A small factorized-prior model with random weights and freshly built CDF tables."""
    from lci_studio.codec.model import FactorizedPrior

    torch.manual_seed(seed)
    model = FactorizedPrior(N, M).eval()
    with torch.no_grad():
        # spread the densities so the tables are non-trivial
        model.entropy_bottleneck.quantiles.copy_(torch.tensor([-12.0, 0.3, 11.0]).repeat(M, 1, 1))
    model.entropy_bottleneck.build_tables()
    return model


def save_ladder(folder, N: int = 16, M: int = 24, seed: int = 0):
    """A folder of eight checkpoints q1…q8 with distinct random weights (quality q uses seed + q)."""
    folder.mkdir(parents=True, exist_ok=True)
    for q in range(1, 9):
        torch.save(make_model(N=N, M=M, seed=seed + q).state_dict(), folder / f"q{q}.pth.tar")
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny pictures run fastest on one torch thread, don't fight a busy machine, and give the same
    bytes for the same seed; a module asks for it with `pytestmark`, and gets the count restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth, photo-like uint8 RGB image with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([
        128 + 80 * np.sin(xx / 13.0 + seed),
        128 + 70 * np.cos(yy / 17.0),
        128 + 60 * np.sin((xx + yy) / 23.0),
    ], axis=2)
    noise = rng.normal(0, 6, size=base.shape)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def small_model():
    return make_model()


@pytest.fixture
def photo():
    return make_photo()
