"""The refined encoder (issue 24): never worse than plain, deterministic, cancellable, tiled ≈ whole,
and its files read by the unchanged decoder."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lci_studio.codec import latent_search, refinement
from lci_studio.codec.cancel import CancelledError
from lci_studio.codec.entropy_coding import CdfTables, SymbolCost
from lci_studio.codec.image_io import RgbImage
from lci_studio.codec.ladder import encode_ladder, measure_quality
from lci_studio.codec.latent_search import refine_symbols
from lci_studio.codec.lci_format import centred_padding, unpack_lci
from lci_studio.codec.metrics import psnr_rgb
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.pipeline import analysis, decode_lci, encode_image, padded_input, synthesis
from lci_studio.codec.refinement import (
    EFFORTS,
    PLAIN,
    Encoder,
    RefinementError,
    encoder_for,
    lambda_band,
    objective,
    refined_encode,
)
from lci_studio.codec.weights import BundledSource
from tests.conftest import make_model, make_photo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _loaded(quality: int, seed: int = 0, metric: str = "mse", lmbda: float | None = -1.0) -> LoadedModel:
    model = make_model(16, 24, seed=seed)
    lam = LAMBDAS[metric][quality - 1] if lmbda == -1.0 else lmbda
    info = ModelInfo("test", quality, metric, lam, 16, 24, weights_fingerprint(model))
    return LoadedModel(model, info)


def _real_objective(loaded: LoadedModel, pixels: np.ndarray, lci: bytes) -> float:
    return objective(loaded.info.lmbda, len(lci), pixels, decode_lci(lci, loaded))


FEW = Encoder("custom", 6)


@pytest.mark.parametrize("quality", [1, 4, 8])
def test_never_worse_than_plain_with_random_weights(quality):
    loaded = _loaded(quality, seed=quality)
    pixels = make_photo(48, 64, seed=quality)
    refined = refined_encode(loaded, pixels, FEW)
    plain = encode_image(loaded, pixels, with_bit_map=False)
    assert refined.plain_objective == pytest.approx(_real_objective(loaded, pixels, plain.lci), abs=1e-12)
    assert refined.objective == pytest.approx(_real_objective(loaded, pixels, refined.encoded.lci), abs=1e-12)
    assert refined.objective <= refined.plain_objective
    if refined.kept_plain:
        assert refined.encoded.lci == plain.lci


@pytest.mark.parametrize("quality", [1, 3, 5, 8])
def test_never_worse_than_plain_with_the_bundled_ladder_and_better_where_it_refines(quality):
    loaded = BundledSource().load(quality)
    pixels = make_photo(64, 80, seed=quality)
    refined = refined_encode(loaded, pixels, Encoder("custom", 8))
    assert refined.objective == pytest.approx(_real_objective(loaded, pixels, refined.encoded.lci), abs=1e-12)
    assert refined.objective <= refined.plain_objective
    if quality in (3, 5):  # trained weights on a photo-like picture: eight steps find something
        assert not refined.kept_plain and refined.objective < refined.plain_objective


def test_the_same_seed_gives_the_same_bytes():
    loaded = _loaded(4)
    pixels = make_photo(48, 64, seed=2)
    first = refined_encode(loaded, pixels, FEW).encoded.lci
    assert refined_encode(loaded, pixels, FEW).encoded.lci == first
    sga = Encoder("custom", 6, "sga")
    assert refined_encode(loaded, pixels, sga).encoded.lci == refined_encode(loaded, pixels, sga).encoded.lci


def test_the_file_is_an_ordinary_lci_that_the_plain_decoder_reads_to_the_reported_psnr():
    loaded = BundledSource().load(4)
    pixels = make_photo(64, 80, seed=4)
    refined = refined_encode(loaded, pixels, Encoder("custom", 8))
    assert not refined.kept_plain
    plain = encode_image(loaded, pixels, with_bit_map=False)
    header, _ = unpack_lci(refined.encoded.lci)
    assert header == plain.header  # the same header: nothing in the format says how the latents were chosen
    decoded = decode_lci(refined.encoded.lci, loaded)
    result = measure_quality(loaded, RgbImage(pixels, 0), encoder=Encoder("custom", 8))
    assert result.lci == refined.encoded.lci
    assert result.psnr == psnr_rgb(pixels, decoded)
    assert result.psnr > psnr_rgb(pixels, decode_lci(plain.lci, loaded))  # what it bought at q4 here
    assert result.encoder.name == "refined" and result.encoder.steps == 8


def test_cancel_mid_refinement_stops_with_nothing_made():
    loaded = _loaded(4)
    pixels = make_photo(48, 64, seed=3)
    steps: list[int] = []
    with pytest.raises(CancelledError):
        refined_encode(
            loaded, pixels, Encoder("custom", 50), cancel=lambda: len(steps) > 3, refining=lambda d, t: steps.append(d)
        )
    assert steps == [0, 1, 2, 3]  # stopped in the step after the cancel, not at the end
    # the check is polled between the layers of each step's backward pass too
    started: list[str] = []
    gradient = torch.autograd.grad

    def counted(*args, **kwargs):
        started.append("backward")
        return gradient(*args, **kwargs)

    steps.clear()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.autograd, "grad", counted)
        with pytest.raises(CancelledError):
            few = Encoder("custom", 5)
            refined_encode(loaded, pixels, few, cancel=lambda: bool(started), refining=lambda d, _: steps.append(d))
    assert started == ["backward"] and steps == [0]  # stopped inside the first step's backward pass


def _table_objective(loaded: LoadedModel, pixels: np.ndarray, symbols: torch.Tensor) -> float:
    """Bits under the tables + λ·255²/3·SSE of the 8-bit reconstruction, over the whole picture."""
    model = loaded.model
    cost = SymbolCost(CdfTables.from_bottleneck(model.entropy_bottleneck))
    height, width = pixels.shape[:2]
    left, _, top, _ = centred_padding(height, width)
    with torch.no_grad():
        x_hat = synthesis(model, model.entropy_bottleneck.dequantize(symbols))
    out = x_hat[0, :, top : top + height, left : left + width].clamp(0, 1).mul(255).round()
    want = torch.from_numpy(pixels).permute(2, 0, 1).float()
    return cost.total(symbols) + loaded.info.lmbda * 255**2 / 3 * float((((out - want) / 255) ** 2).sum())


def _refine(loaded: LoadedModel, pixels: np.ndarray, encoder: Encoder, tile: int | None):
    height, width = pixels.shape[:2]
    padding = centred_padding(height, width)
    x = padded_input(pixels, padding).contiguous()
    picture = (padding[2], padding[0], height, width)
    return refine_symbols(loaded, x, pixels, picture, encoder, loaded.info.lmbda, tile=tile)


def test_tiles_account_exactly_for_what_each_changes_and_match_the_whole_picture():
    loaded = BundledSource().load(3)
    pixels = make_photo(96, 144, seed=5)  # latent 6 × 9: tiles of 4 latents make 2 × 3 tiles
    encoder = Encoder("custom", 6)
    whole = _refine(loaded, pixels, encoder, None)
    tiled = _refine(loaded, pixels, encoder, 4)
    assert len(whole.tiles) == 1 and len(tiled.tiles) == 6
    with torch.no_grad():
        plain = loaded.model.entropy_bottleneck.quantize_symbols(
            analysis(loaded.model, padded_input(pixels, centred_padding(96, 144)).contiguous())
        )
    start = _table_objective(loaded, pixels, plain)
    for result in (whole, tiled):
        end = _table_objective(loaded, pixels, result.symbols)
        gained = sum(t.before - t.after for t in result.tiles)
        assert gained > 0
        # each tile's objective counts every pixel its latents reach, so the gains add up to the picture's
        assert start - end == pytest.approx(gained, rel=1e-3)
    gain_whole = start - _table_objective(loaded, pixels, whole.symbols)
    gain_tiled = start - _table_objective(loaded, pixels, tiled.symbols)
    assert gain_tiled == pytest.approx(gain_whole, rel=0.35)  # block by block finds about as much
    assert abs(gain_tiled - gain_whole) < 0.01 * start


def test_a_latent_reaches_only_the_four_by_four_blocks_polishing_judges_its_move_by():
    loaded = BundledSource().load(2)
    pixels = make_photo(128, 128, seed=11)  # latent 8 × 8, no padding
    model = loaded.model
    with torch.no_grad():
        symbols = model.entropy_bottleneck.quantize_symbols(analysis(model, padded_input(pixels, (0, 0, 0, 0))))
        before = synthesis(model, model.entropy_bottleneck.dequantize(symbols))
        for row, col in ((4, 3), (0, 7)):
            moved = symbols.clone()
            moved[0, 5, row, col] += 1
            after = synthesis(model, model.entropy_bottleneck.dequantize(moved))
            blocks = (after - before).abs().sum(1)[0].reshape(8, 16, 8, 16).sum((1, 3)) > 0
            rows, cols = blocks.nonzero(as_tuple=True)
            assert blocks.any()
            assert row - 2 <= int(rows.min()) and int(rows.max()) <= row + 1
            assert col - 2 <= int(cols.min()) and int(cols.max()) <= col + 1


@pytest.mark.parametrize("tile", [None, 4])
def test_polishing_adds_to_its_ste_run_by_moves_judged_exactly(monkeypatch, tile):
    monkeypatch.setattr(latent_search, "RUN_STEPS", 4)
    assert latent_search.split_budget("polish", 10) == (4, 6) and latent_search.split_budget("polish", 3) == (3, 0)
    assert latent_search.split_budget("ste", 10) == (10, 0)
    loaded = BundledSource().load(3)
    pixels = make_photo(96, 144, seed=5)
    with torch.no_grad():
        plain = loaded.model.entropy_bottleneck.quantize_symbols(
            analysis(loaded.model, padded_input(pixels, centred_padding(96, 144)).contiguous())
        )
    start = _table_objective(loaded, pixels, plain)
    ste = _refine(loaded, pixels, Encoder("custom", 4), tile)
    polished = _refine(loaded, pixels, Encoder("custom", 12, "polish"), tile)
    end = _table_objective(loaded, pixels, polished.symbols)
    assert start - end == pytest.approx(sum(t.before - t.after for t in polished.tiles), rel=1e-3)
    assert end < _table_objective(loaded, pixels, ste.symbols)  # eight rounds found moves the STE run missed
    changed = polished.symbols != ste.symbols
    assert int(changed.sum()) > 0 and int((polished.symbols - ste.symbols).abs().max()) <= 8
    again = _refine(loaded, pixels, Encoder("custom", 12, "polish"), tile)
    assert torch.equal(again.symbols, polished.symbols)  # the same seed: the same symbols


def test_cancel_while_polishing(monkeypatch):
    monkeypatch.setattr(latent_search, "RUN_STEPS", 2)
    loaded = _loaded(4)
    pixels = make_photo(48, 64, seed=3)
    steps: list[int] = []
    with pytest.raises(CancelledError):
        refined_encode(
            loaded,
            pixels,
            Encoder("custom", 20, "polish"),
            cancel=lambda: len(steps) > 5,
            refining=lambda d, _: steps.append(d),
        )
    assert steps == [0, 1, 2, 3, 4, 5]  # stopped in the polishing round after the cancel


def test_a_large_picture_is_refined_in_tiles_with_progress(monkeypatch):
    monkeypatch.setattr(latent_search, "WINDOW_AREA", 12 * 12)  # at N=16: tiles of 12 - 2·4 = 4 latents
    loaded = _loaded(5)
    pixels = make_photo(176, 224, seed=6)  # latent 11 × 14, over 144 → 3 × 4 tiles
    seen: list[tuple[int, int]] = []
    refined = refined_encode(loaded, pixels, Encoder("custom", 2), refining=lambda d, t: seen.append((d, t)))
    assert len(refined.refinement.tiles) == 12
    assert seen[0] == (0, 24) and seen[-1] == (24, 24) and [d for d, _ in seen] == list(range(25))
    assert refined.objective <= refined.plain_objective


def test_tiles_shrink_for_wider_models_so_a_step_stays_short():
    assert latent_search.tile_latent(32, 48, 96) == 48  # 768×512 in one piece with the bundled ladder
    assert latent_search.tile_latent(250, 375, 96) == 32  # 24 MP: windows of 40 × 40
    assert latent_search.tile_latent(250, 375, 192) == 12  # a quarter of the area at twice the channels
    assert latent_search.tile_latent(32, 48, 192) == 12
    assert latent_search.tile_latent(20, 20, 192) == 20
    assert latent_search.tile_latent(3, 3, 16) == 3


def test_effort_levels_and_their_errors():
    assert encoder_for() == PLAIN and not PLAIN.refines and PLAIN.name == "plain"
    assert list(EFFORTS) == ["fast", "normal", "best"]
    normal, best = encoder_for("normal"), encoder_for("best")
    assert 0 < normal.steps < best.steps and normal.name == best.name == "refined"
    assert (normal.method, best.method) == ("ste", "polish")  # best: normal's run, then polishing
    assert encoder_for("best", 100).method == "polish" and encoder_for("best", method="ste").method == "ste"
    assert encoder_for("fast", 7).method == "ste"
    assert encoder_for("normal", 7).steps == 7
    assert encoder_for("fast", 7) == Encoder("custom", 7)  # a budget alone refines
    assert encoder_for("best", 0) == PLAIN
    assert normal.record() == {
        "name": "refined", "effort": "normal", "steps": normal.steps, "method": "ste", "seed": 0, "lambda": None
    }
    with pytest.raises(ValueError, match="choose fast, normal, best"):
        encoder_for("max")
    with pytest.raises(ValueError, match="choose 0 to"):
        encoder_for("normal", refinement.MAX_STEPS + 1)
    with pytest.raises(ValueError, match="choose ste, sga, polish"):
        encoder_for("normal", method="adam")


def test_weights_it_cannot_refine_are_refused_in_one_sentence():
    pixels = make_photo(32, 32)
    with pytest.raises(RefinementError, match="MSE-trained"):
        refined_encode(_loaded(3, metric="ms-ssim"), pixels, FEW)
    with pytest.raises(RefinementError, match="λ"):
        refined_encode(_loaded(3, lmbda=None), pixels, FEW)
    encode_image(_loaded(3, lmbda=None), pixels)  # the plain encoder needs no λ


def test_the_ladder_records_which_encoder_made_each_result():
    class Ladder:
        def qualities(self):
            return (2, 6)

        def load(self, quality):
            return _loaded(quality, seed=quality)

    image = RgbImage(make_photo(32, 48, seed=7), 0)
    plain = list(encode_ladder(image, Ladder(), on_demand=False))
    refined = list(encode_ladder(image, Ladder(), on_demand=False, encoder=FEW))
    assert [r.encoder for r in plain] == [PLAIN, PLAIN] and [r.encoder for r in refined] == [FEW, FEW]
    for p, r in zip(plain, refined, strict=True):
        lam = p.info.lmbda
        assert r.bpp + lam * 255**2 * 10 ** (-r.psnr / 10) <= p.bpp + lam * 255**2 * 10 ** (-p.psnr / 10) + 1e-9


def test_symbol_cost_matches_the_coded_size():
    loaded = BundledSource().load(2)
    pixels = make_photo(96, 128, seed=8)
    encoded = encode_image(loaded, pixels, with_bit_map=False)
    cost = SymbolCost(CdfTables.from_bottleneck(loaded.model.entropy_bottleneck))
    bits = cost.total(torch.from_numpy(encoded.symbols)[None])
    payload = len(unpack_lci(encoded.lci)[1]) * 8
    assert bits <= payload + 64 and payload <= bits * 1.01 + 64
    far = torch.from_numpy(encoded.symbols)[None].clone()
    far[0, 0, 0, 0] = 1000  # outside the table: the escape and its nibbles
    assert cost.total(far) > bits + 12


def test_a_large_budget_makes_several_runs_and_keeps_the_best_of_all(monkeypatch):
    assert latent_search.runs(50) == [50] and latent_search.runs(7) == [7]
    assert latent_search.runs(200) == [50, 50, 50, 50] and latent_search.runs(101) == [34, 34, 33]
    monkeypatch.setattr(latent_search, "RUN_STEPS", 4)
    loaded = BundledSource().load(4)
    pixels = make_photo(48, 64, seed=9)
    one = refined_encode(loaded, pixels, Encoder("custom", 4))
    steps: list[int] = []
    two = refined_encode(loaded, pixels, Encoder("custom", 8), refining=lambda d, _: steps.append(d))
    assert steps == list(range(9))
    # the first run is the 4-step refinement itself, so two runs find no less
    assert two.objective <= one.objective < one.plain_objective


def test_adam_written_out_matches_torchs():
    torch.manual_seed(0)
    start = torch.randn(5, 7)
    ours, theirs = start.clone(), start.clone().requires_grad_(True)
    adam, reference = latent_search._Adam(ours), torch.optim.Adam([theirs], lr=0.01)
    adam.lr = 0.01
    for _ in range(5):
        grad = torch.randn(5, 7)
        adam.step(ours, grad)
        theirs.grad = grad.clone()
        reference.step()
    assert torch.allclose(ours, theirs.detach(), atol=1e-7)


# ------------------------------------------------------------------------ another λ (the rate slider)


def test_each_level_can_be_refined_for_the_lambdas_between_its_neighbours():
    ladder = LAMBDAS["mse"]
    for quality in range(2, 8):
        band = lambda_band(_loaded(quality).info)
        assert (band.low, band.trained, band.high) == pytest.approx(ladder[quality - 2 : quality + 1], rel=1e-12)
        assert band.contains(band.low) and band.contains(band.high) and band.contains(band.trained)
        assert not band.contains(band.low * 0.99) and not band.contains(band.high * 1.01)
    first, last = lambda_band(_loaded(1).info), lambda_band(_loaded(8).info)
    assert first.low == pytest.approx(ladder[0] ** 2 / ladder[1]) and first.high == pytest.approx(ladder[1])
    assert last.low == pytest.approx(ladder[6]) and last.high == pytest.approx(ladder[7] ** 2 / ladder[6])
    own = lambda_band(_loaded(4, lmbda=0.02).info)  # a level trained for another λ: the same spacing around it
    assert own.low == pytest.approx(0.02 * ladder[2] / ladder[3])
    assert own.high == pytest.approx(0.02 * ladder[4] / ladder[3])
    with pytest.raises(RefinementError, match=r"outside what quality 4 can be refined for: choose 0\.0067 to 0\.025"):
        lambda_band(_loaded(4).info).check(0.05)
    with pytest.raises(RefinementError, match="MSE-trained"):
        lambda_band(_loaded(4, metric="ms-ssim").info)


def test_an_encoder_for_another_lambda_says_so_and_needs_refinement_steps():
    encoder = encoder_for("normal", lmbda=0.02)
    assert encoder.lmbda == 0.02 and encoder.record()["lambda"] == 0.02 and "for λ=0.02" in encoder.describe()
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number"):
            encoder_for("normal", lmbda=bad)
    with pytest.raises(ValueError, match="needs refinement steps"):
        encoder_for("fast", lmbda=0.02)
    with pytest.raises(RefinementError, match="outside"):  # the refinement itself refuses a λ out of the band
        refined_encode(_loaded(4), make_photo(32, 32), Encoder("custom", 2, lmbda=0.1))


def test_a_larger_lambda_spends_more_bits_a_smaller_fewer_never_worse_than_plain_at_the_lambda_asked():
    loaded = BundledSource().load(6)
    pixels = make_photo(96, 128, seed=6)
    encoder = Encoder("custom", 25)
    low, high = refinement.band_reach(loaded, pixels, encoder)
    own = refined_encode(loaded, pixels, encoder)
    band = lambda_band(loaded.info)
    assert (low.lmbda, high.lmbda) == (band.low, band.high)
    own_bpp = len(own.encoded.lci) * 8 / (96 * 128)
    assert low.bpp < own_bpp < high.bpp and low.psnr < own.psnr < high.psnr
    plain = encode_image(loaded, pixels, with_bit_map=False)
    decoded = decode_lci(plain.lci, loaded)
    for point in (low, high):
        refined = refined_encode(loaded, pixels, dataclasses.replace(encoder, lmbda=point.lmbda))
        plain_objective = objective(point.lmbda, len(plain.lci), pixels, decoded)
        assert refined.plain_objective == pytest.approx(plain_objective, abs=1e-12)
        assert refined.objective < refined.plain_objective  # trained weights, 25 steps: lower at either end
        back = decode_lci(refined.encoded.lci, loaded)
        value = objective(point.lmbda, len(refined.encoded.lci), pixels, back)
        assert refined.objective == pytest.approx(value, abs=1e-12)
        assert psnr_rgb(pixels, back) == point.psnr


def test_band_reach_counts_the_steps_of_every_lambda_and_refuses_one_outside_the_band():
    loaded = _loaded(4, seed=4)
    pixels = make_photo(32, 48, seed=4)
    band = lambda_band(loaded.info)
    seen: list[tuple[int, int]] = []
    lambdas = (band.low, band.trained, band.high)
    points = refinement.band_reach(loaded, pixels, Encoder("custom", 2), lambdas, progress=lambda *a: seen.append(a))
    assert [p.lmbda for p in points] == [band.low, band.trained, band.high]
    assert {total for _, total in seen} == {6} and [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (6, 6)
    with pytest.raises(RefinementError, match="outside"):
        refinement.band_reach(loaded, pixels, Encoder("custom", 2), (band.high * 1.1,))
    with pytest.raises(ValueError, match="refinement steps"):
        refinement.band_reach(loaded, pixels, PLAIN)
