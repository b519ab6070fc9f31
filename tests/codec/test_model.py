"""Growing a trained level, its latent (M) or its transforms (N): what it must keep, what new channels must be."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lci_studio.codec import pipeline
from lci_studio.codec.model import LoadedModel, ModelInfo, weights_fingerprint
from tests.conftest import make_model, make_photo


def _loaded(model) -> LoadedModel:
    return LoadedModel(model, ModelInfo("bundled", 8, "mse", 0.18, model.N, model.M, weights_fingerprint(model)))


def assert_decodes_alike(before, narrow, after, wide) -> None:
    """The same picture back from both files (each decoded by its model), but that oneDNN sums a wider
    layer in another order: a pixel that sits on a rounding boundary may land one level away."""
    back = pipeline.decode_lci(after.lci, _loaded(wide)).astype(int)
    reference = pipeline.decode_lci(before.lci, _loaded(narrow)).astype(int)
    assert np.abs(back - reference).max() <= 1
    assert np.count_nonzero(back != reference) <= back.size // 1000


def test_a_widened_model_decodes_every_picture_exactly_as_before():
    narrow = make_model(N=16, M=24, seed=3)
    with torch.no_grad():
        narrow.g_a[6].weight.mul_(40)  # latents of a few units, so the payload carries real information
    narrow.entropy_bottleneck.build_tables()
    wide = narrow.with_latent_channels(32, torch.Generator().manual_seed(0)).eval()
    assert (wide.N, wide.M) == (16, 32)
    pixels = make_photo(48, 64, seed=5)
    before = pipeline.encode_image(_loaded(narrow), pixels)
    after = pipeline.encode_image(_loaded(wide), pixels)
    # the old channels quantize to the same symbols under the same tables ...
    assert np.array_equal(after.symbols[:24], before.symbols)
    old_tables = narrow.entropy_bottleneck._quantized_cdf
    assert torch.equal(wide.entropy_bottleneck._quantized_cdf[:24, : old_tables.shape[1]], old_tables)
    # ... and the picture that comes back is the same: the zero g_s weights add exact zeros, but
    # oneDNN sums 32 input channels in another order than 24, so a pixel that sits on a rounding
    # boundary may land one level away (seen: 1 pixel of 9,216)
    assert_decodes_alike(before, narrow, after, wide)


def test_new_channels_carry_a_projection_at_the_trained_scale_that_g_s_ignores():
    narrow = make_model(N=16, M=24, seed=4)
    wide = narrow.with_latent_channels(40, torch.Generator().manual_seed(1)).eval()
    x = pipeline.to_tensor(make_photo(64, 64, seed=6))
    with torch.no_grad():
        y = wide.g_a(x)
        y_old = narrow.g_a(x)
    assert torch.allclose(y[:, :24], y_old, atol=1e-5)
    old_spread, new_spread = y_old.std(dim=(0, 2, 3)).median(), y[:, 24:].std(dim=(0, 2, 3))
    # every new channel varies (a silent one would never wake: rounding hides it from g_s)
    assert bool((new_spread > 0.2 * old_spread).all()) and bool((new_spread < 5 * old_spread).all())
    # distinct channels, not copies of one
    assert torch.corrcoef(y[0, 24:].flatten(1)).fill_diagonal_(0).abs().max() < 0.99
    # g_s ignores them until training finds a use
    assert torch.count_nonzero(wide.g_s[0].weight[24:]) == 0
    # the same generator seed gives the same model
    again = narrow.with_latent_channels(40, torch.Generator().manual_seed(1))
    assert torch.equal(again.g_a[6].weight, wide.g_a[6].weight)


def test_a_latent_cannot_be_narrowed():
    with pytest.raises(ValueError, match="cannot narrow the latent from 24 to 16"):
        make_model(N=16, M=24).with_latent_channels(16)


# ------------------------------------------------------------------------- growing the transforms (N)


def test_widened_transforms_give_the_same_latents_and_pictures():
    narrow = make_model(N=16, M=24, seed=3)
    with torch.no_grad():
        narrow.g_a[6].weight.mul_(40)  # latents of a few units, so the payload carries real information
    narrow.entropy_bottleneck.build_tables()
    wide = narrow.with_hidden_channels(40, torch.Generator().manual_seed(0)).eval()
    assert (wide.N, wide.M) == (40, 24)
    x = pipeline.to_tensor(make_photo(64, 64, seed=6))
    with torch.no_grad():
        assert torch.allclose(wide.g_a(x), narrow.g_a(x), atol=1e-5)
        y_hat = torch.round(narrow.g_a(x))
        assert torch.allclose(wide.g_s(y_hat), narrow.g_s(y_hat), atol=1e-5)
    # the file's symbols, tables and decoded pixels (oneDNN may sum the wider layers in another order:
    # a pixel on a rounding boundary may land one level away)
    pixels = make_photo(48, 64, seed=5)
    before = pipeline.encode_image(_loaded(narrow), pixels)
    after = pipeline.encode_image(_loaded(wide), pixels)
    assert np.array_equal(after.symbols, before.symbols)
    assert torch.equal(wide.entropy_bottleneck._quantized_cdf, narrow.entropy_bottleneck._quantized_cdf)
    assert_decodes_alike(before, narrow, after, wide)


def test_new_hidden_channels_are_active_and_learn_from_the_first_step():
    narrow = make_model(N=16, M=24, seed=4)
    wide = narrow.with_hidden_channels(40, torch.Generator().manual_seed(1))
    # what a new channel sends on starts at zero (so the output is unchanged) ...
    for sends in (wide.g_a[2].weight[:16, 16:], wide.g_a[6].weight[:, 16:], wide.g_s[6].weight[16:],
                  wide.g_s[2].weight[16:, :16]):
        assert torch.count_nonzero(sends) == 0
    # ... what it receives is a near copy of what a trained channel receives, so it works at the
    # trained scale through every layer (random weights under a fresh GDN grew a thousandfold in g_s)
    x = pipeline.to_tensor(make_photo(64, 64, seed=6))
    latents = 4 * torch.randn(1, 24, 4, 4, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        for transform, start in ((wide.g_a, x), (wide.g_s, latents)):
            hidden = start
            for layer in list(transform)[:-1]:
                hidden = layer(hidden)
                old_spread, new_spread = hidden[:, :16].std(dim=(0, 2, 3)), hidden[:, 16:].std(dim=(0, 2, 3))
                assert 0.5 < float(new_spread.median() / old_spread.median()) < 2
                assert bool((new_spread > 0).all())
    # ... and its outgoing weights get a gradient from the first step
    out = wide.train()(x)
    loss = (out["x_hat"] - x).pow(2).mean() - 1e-3 * out["likelihoods"].log2().mean()
    loss.backward()
    assert wide.g_a[6].weight.grad[:, 16:].abs().sum() > 0 and wide.g_s[6].weight.grad[16:].abs().sum() > 0
    # GDN: the old channels take nothing from the new; a new channel normalizes as its source does
    gamma = wide.g_a[1].effective_parameters()[1][..., 0, 0]
    assert gamma[:16, 16:].abs().max() < 1e-9 and gamma[16:, 16:].abs().max() < 1e-9
    sources = [int((gamma[:16, :16] - row).abs().sum(dim=1).argmin()) for row in gamma[16:, :16]]
    assert torch.allclose(gamma[16:, :16], gamma[sources, :16])
    assert len(set(sources)) == 16  # 24 new channels over 16 old: every old one is copied before any twice
    # the same generator seed gives the same model
    again = narrow.with_hidden_channels(40, torch.Generator().manual_seed(1))
    assert torch.equal(again.g_a[0].weight, wide.g_a[0].weight)


def test_transforms_cannot_be_narrowed():
    with pytest.raises(ValueError, match="cannot narrow the transforms from 16 to 8"):
        make_model(N=16, M=24).with_hidden_channels(8)
