"""Joint training of the ladder (app/lci_studio/codec/gained.py): folding, the starting point, and runs
that stop, go on and ship as ordinary per-level checkpoints."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lci_studio.cli import main
from lci_studio.codec import pipeline
from lci_studio.codec.explanation import explain
from lci_studio.codec.gained import (
    FINISHED_NAME,
    STATE_NAME,
    GainedFactorizedPrior,
    level_of_step,
    scaled_density,
    train_joint,
)
from lci_studio.codec.image_io import RgbImage, load_rgb
from lci_studio.codec.ladder import measure_quality
from lci_studio.codec.model import LAMBDAS, LoadedModel, ModelInfo, weights_fingerprint
from lci_studio.codec.training import LossWindow, TrainConfig
from lci_studio.codec.weights import BundledSource, load_checkpoint
from tests.conftest import make_model, make_photo, save_ladder

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def _gained_from_shipped(qualities=(3, 7)) -> GainedFactorizedPrior:
    """The shipped q7 as shared transforms, with uneven per-channel gains (not just the start's scalar)."""
    start = BundledSource().load(7).model
    model = GainedFactorizedPrior.from_level(start, 7, qualities, LAMBDAS["mse"])
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        model.log_gain.add_(0.3 * torch.randn(model.log_gain.shape, generator=generator))
        model.log_inverse_gain.add_(0.3 * torch.randn(model.log_inverse_gain.shape, generator=generator))
    return model.eval()


def _loaded(level, quality: int) -> LoadedModel:
    return LoadedModel(level, ModelInfo("run", quality, "mse", None, level.N, level.M, weights_fingerprint(level)))


def test_a_folded_level_codes_real_photos_as_the_gained_model_does():
    model = _gained_from_shipped()
    levels = {q: _loaded(model.fold(q), q) for q in (3, 7)}
    for sample in ("coffee.png", "astronaut.png"):
        pixels = load_rgb(SAMPLES / sample).pixels[:160, :224]
        x = pipeline.to_tensor(pixels)
        sizes = {}
        for quality, loaded in levels.items():
            bottleneck = model.bottleneck(quality)
            with torch.no_grad():
                gained_latent = model.latent(x, quality)
                folded_latent = loaded.model.g_a(x)
                # the same latents, up to float rounding
                assert (folded_latent - gained_latent).abs().max() <= 1e-5 * gained_latent.abs().max()
                # what the gained model gives back from its own rounded latents ...
                symbols = bottleneck.quantize_symbols(gained_latent)
                _, inverse = model.gains(quality)
                expected = pipeline.to_pixels(model.g_s(bottleneck.dequantize(symbols) * inverse.reshape(1, -1, 1, 1)))
            # ... is what the folded checkpoint writes into a real .lci file and decodes from it
            encoded = pipeline.encode_image(loaded, pixels, with_bit_map=False)
            decoded = pipeline.decode_lci(encoded.lci, loaded)
            assert np.abs(decoded.astype(int) - expected.astype(int)).max() <= 1, (sample, quality)
            assert np.mean(encoded.symbols == symbols[0].numpy()) > 0.999  # a rare latent may sit on a rounding edge
            sizes[quality] = len(encoded.lci)
        # the gains are the only difference between the levels: the coarse one writes far fewer bits
        assert sizes[3] < 0.6 * sizes[7], sample


def test_a_scaled_density_is_the_density_of_the_scaled_latent():
    torch.manual_seed(4)
    original = make_model(N=8, M=6, seed=4).entropy_bottleneck
    with torch.no_grad():
        for parameter in original.parameters():
            parameter.add_(0.2 * torch.randn_like(parameter))
    for scale in (0.25, 3.0):
        scaled = scaled_density(original, scale)
        v = torch.linspace(-30, 30, 121).repeat(6, 1, 1)
        with torch.no_grad():
            expected = original._logits_cumulative(v / scale, stop_gradient=True)
            assert torch.allclose(scaled._logits_cumulative(v, stop_gradient=True), expected, atol=1e-4, rtol=1e-4)
        assert torch.allclose(scaled.quantiles, original.quantiles * scale)
        assert not scaled.has_tables  # a training-time density: folding builds the tables


def test_the_start_level_begins_exactly_as_it_was_and_the_others_at_their_own_step():
    start = make_model(N=8, M=6, seed=6)
    lambdas = LAMBDAS["mse"]
    model = GainedFactorizedPrior.from_level(start, 6, (2, 6), lambdas)
    same = model.fold(6).state_dict()
    for name, value in start.state_dict().items():
        assert torch.allclose(same[name].float(), value.float(), atol=1e-6), name
    gain, inverse = model.gains(2)
    assert torch.allclose(gain, torch.full((6,), math.sqrt(lambdas[1] / lambdas[5])))
    assert torch.allclose(gain * inverse, torch.ones(6))


def test_every_cycle_of_steps_visits_each_level_once_in_a_seeded_order():
    levels = (1, 3, 5, 8)
    drawn = [level_of_step(step, levels, seed=7) for step in range(40)]
    for cycle in range(10):
        assert sorted(drawn[4 * cycle : 4 * cycle + 4]) == list(levels)
    assert drawn == [level_of_step(step, levels, seed=7) for step in range(40)]  # a resumed run draws the same
    assert drawn != [level_of_step(step, levels, seed=8) for step in range(40)]


@pytest.fixture
def photos(tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    Image.open(SAMPLES / "coffee.png").convert("RGB").crop((0, 0, 96, 96)).save(data / "a.png")
    return data


def _tiny(data: Path, out: Path, **changes) -> TrainConfig:
    settings = dict(N=8, M=8, crop=32, batch=2, steps=6, threads=1, lr=1e-3, level_lr=1e-3, levels=(2, 6),
                    warm_quality=6, checkpoint_every_s=1e9)
    return TrainConfig(data=data, out=out, **{**settings, **changes})


def test_a_joint_run_ships_ordinary_checkpoints_with_records_that_say_how_they_were_trained(tmp_path, photos):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=30)
    out = tmp_path / "run"
    finished = train_joint(_tiny(photos, out, resume=str(shipped)))
    assert sorted(finished) == [2, 6] and (out / FINISHED_NAME).exists() and not (out / STATE_NAME).exists()
    for quality in (2, 6):
        level = load_checkpoint(out / f"q{quality}.pth.tar")
        assert (level.N, level.M) == (8, 8) and level.entropy_bottleneck.has_tables
        record = json.loads((out / f"q{quality}.json").read_text())
        assert record["recipe"] == "joint" and record["trained_with"] == [2, 6]
        assert record["steps"] == 3 and record["joint_steps"] == 6 and record["seconds"] > 0
        assert record["resumed_from"] == f"{shipped} q6"
        assert record["lmbda"] == LAMBDAS["mse"][quality - 1]
        assert record["history"][-1]["step"] == 6  # every level's history runs to the end of the run
    # the shared transforms started from the shipped q6, and both levels share them
    q2, q6 = (load_checkpoint(out / f"q{q}.pth.tar").state_dict() for q in (2, 6))
    assert torch.equal(q2["g_a.0.weight"], q6["g_a.0.weight"])
    assert (q6["g_a.0.weight"] - make_model(N=8, M=8, seed=36).state_dict()["g_a.0.weight"]).abs().max() < 0.02


def test_a_stopped_joint_run_goes_on_from_its_state_and_a_finished_one_continues(tmp_path, photos, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setattr(LossWindow, "size", 1)
    seen = []

    def stop_after_four(label: str, stats) -> None:
        seen.append((label, stats.step))
        if stats.step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # stopped during step 4: the state holds steps 1-3
        train_joint(_tiny(photos, out, checkpoint_every_s=0.0), stop_after_four)
    assert (out / STATE_NAME).exists() and not list(out.glob("q*.pth.tar"))
    before = list(seen)
    seen.clear()
    train_joint(_tiny(photos, out), lambda label, stats: seen.append((label, stats.step)))
    assert [step for _, step in seen] == [4, 5, 6]  # goes on, not from the start
    assert {label for label, _ in before + seen} == {"joint q2", "joint q6"}
    record = json.loads((out / "q2.json").read_text())
    drawn = [step for label, step in before[:3] + seen if label == "joint q2"]
    assert record["steps"] == 3 and [h["step"] for h in record["history"]] == drawn
    assert not (out / STATE_NAME).exists()
    # a later run continues the finished gained model; the records count every step each level had
    again = tmp_path / "again"
    train_joint(_tiny(photos, again, steps=4, resume=str(out / FINISHED_NAME)))
    assert json.loads((again / "q6.json").read_text())["total_steps"] == 3 + 2
    before, after = (load_checkpoint(d / "q6.pth.tar").state_dict()["g_s.0.weight"] for d in (out, again))
    assert 0 < (after - before).abs().max() < 0.05


def test_joint_training_lowers_the_loss_of_every_level(tmp_path, photos, monkeypatch):
    monkeypatch.setattr(LossWindow, "size", 10)
    train_joint(_tiny(photos, tmp_path / "run", steps=120, batch=4, lr=3e-3, N=16, M=12))
    for quality in (2, 6):
        history = json.loads((tmp_path / "run" / f"q{quality}.json").read_text())["history"]
        assert history[-1]["loss"] < 0.7 * history[0]["loss"], quality
    low, high = (json.loads((tmp_path / "run" / f"q{q}.json").read_text())["history"][-1] for q in (2, 6))
    assert low["bpp"] < 0.8 * high["bpp"]  # λ orders the levels by rate


def test_a_shipped_joint_ladder_says_in_its_explanation_how_it_was_trained(tmp_path, photos):
    out, dest = tmp_path / "run", tmp_path / "bundle"
    train_joint(_tiny(photos, out, steps=2))
    assert main(["export-bundle", str(out), "--dest", str(dest)]) == 0
    manifest = json.loads((dest / "manifest.json").read_text())
    assert [level["trained_with"] for level in manifest["levels"]] == [[2, 6], [2, 6]]
    source = BundledSource(dest)
    image = RgbImage(make_photo(64, 64), 10000)
    joint = explain(measure_quality(source.load(2), image)).training
    assert source.load(2).info.trained_with == (2, 6)
    assert "λ = 0.0035" in joint and "together with quality 6: they share one encoder and one decoder" in joint
    # a level trained on its own (the official ladder, every earlier bundle) says nothing of the kind
    info = ModelInfo("bundled", 2, "mse", 0.0035, 8, 8, "0" * 16)
    alone = measure_quality(LoadedModel(make_model(8, 8), info), image)
    assert "together" not in explain(alone).training
