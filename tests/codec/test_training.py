"""The training core: what the decoder sees while training, which levels a run trains, and
runs over disjoint levels sharing one output folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lci_studio.codec.entropy_model import EntropyBottleneck
from lci_studio.codec.training import TrainConfig, learning_rate, train, training_plan
from lci_studio.codec.weights import load_checkpoint
from tests.conftest import make_model, save_ladder


def test_training_decoder_sees_rounded_latents_and_gradients_pass_straight_through():
    torch.manual_seed(0)
    bottleneck = EntropyBottleneck(4)
    with torch.no_grad():
        bottleneck.quantiles[:, 0, 1] = torch.tensor([0.0, 0.3, -0.25, 1.1])  # medians
    bottleneck.train()
    y = (torch.randn(2, 4, 5, 6) * 3).requires_grad_()
    y_hat, likelihoods = bottleneck(y)
    medians = bottleneck.medians.reshape(1, -1, 1, 1)
    # what the decoder gets is exactly what decoding an .lci file gives it
    assert torch.equal(y_hat.detach(), torch.round(y.detach() - medians) + medians)
    (y_hat * 2.0).sum().backward()
    assert torch.equal(y.grad, torch.full_like(y, 2.0))
    # the rate is still measured on noisy values: two draws give different likelihoods
    again = bottleneck(y.detach())[1]
    assert likelihoods.shape == y.shape and not torch.equal(likelihoods.detach(), again)
    bottleneck.eval()
    eval_hat, eval_likelihoods = bottleneck(y.detach())
    assert torch.equal(eval_hat, y_hat.detach())
    assert torch.equal(eval_likelihoods, bottleneck(y.detach())[1])


def _config(tmp_path: Path, **changes) -> TrainConfig:
    return TrainConfig(data=tmp_path, out=tmp_path, **changes)


def test_training_plan_orders_levels_outwards_from_the_warm_one(tmp_path):
    cfg = _config(tmp_path, warm_quality=5, warm_steps=9, level_steps=2)
    assert training_plan(cfg, ladder=True) == [(5, 9), (6, 2), (7, 2), (8, 2), (4, 2), (3, 2), (2, 2), (1, 2)]
    cfg.levels = (2, 3, 8)
    assert training_plan(cfg, ladder=True) == [(8, 2), (3, 2), (2, 2)]
    assert training_plan(_config(tmp_path, quality=6, steps=7), ladder=False) == [(6, 7)]


@pytest.fixture
def photos(tmp_path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(data / "a.png")
    return data


def _tiny(data: Path, out: Path, **changes) -> TrainConfig:
    return TrainConfig(
        data=data, out=out, N=8, M=8, crop=32, batch=1, warm_steps=1, level_steps=1, threads=1,
        lr=1e-7, level_lr=1e-7, **changes,
    )


def test_disjoint_level_runs_share_one_folder(tmp_path, photos):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=20)
    out = tmp_path / "run"
    assert sorted(train(_tiny(photos, out, levels=(6, 7, 8), resume=str(shipped)), ladder=True)) == [6, 7, 8]
    assert sorted(p.name for p in out.glob("q*.pth.tar")) == ["q6.pth.tar", "q7.pth.tar", "q8.pth.tar"]
    assert sorted(train(_tiny(photos, out, levels=(1, 2, 3, 4, 5), resume=str(shipped)), ladder=True)) == [
        1, 2, 3, 4, 5,
    ]
    assert not list(out.glob("state-*"))
    for q in (1, 7):  # each level started from its own shipped weights
        trained = load_checkpoint(out / f"q{q}.pth.tar").state_dict()["g_a.0.weight"]
        assert (trained - make_model(N=8, M=8, seed=20 + q).state_dict()["g_a.0.weight"]).abs().max() < 1e-3


def test_a_level_without_its_starting_point_is_refused_before_training(tmp_path, photos):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match="q7 is fine-tuned from q6"):
        train(_tiny(photos, out, warm_quality=5, levels=(7, 8)), ladder=True)
    assert not out.exists()
    # with its neighbour finished in the folder, the same run goes ahead
    out.mkdir()
    torch.save(make_model(N=8, M=8, seed=3).state_dict(), out / "q6.pth.tar")
    assert sorted(train(_tiny(photos, out, warm_quality=5, levels=(7, 8)), ladder=True)) == [7, 8]


def test_a_stopped_level_resumes_from_its_own_state_file(tmp_path, photos):
    out = tmp_path / "run"
    out.mkdir()
    model = make_model(N=8, M=8, seed=9)
    optimizer = torch.optim.Adam([p for n, p in model.named_parameters() if not n.endswith("quantiles")])
    aux = torch.optim.Adam([model.entropy_bottleneck.quantiles])
    state = {"quality": 3, "step": 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
             "aux_optimizer": aux.state_dict(), "seconds": 100.0, "history": [{"step": 1, "loss": 9.0}]}
    torch.save(state, out / "state-q3.pt")
    train(_tiny(photos, out, quality=3, steps=2), ladder=False)
    record = json.loads((out / "q3.json").read_text())
    assert [h["step"] for h in record["history"]] == [1, 2] and record["history"][0]["loss"] == 9.0
    assert record["seconds"] >= 100.0 and not (out / "state-q3.pt").exists()
    trained = load_checkpoint(out / "q3.pth.tar").state_dict()["g_s.0.weight"]
    assert (trained - model.state_dict()["g_s.0.weight"]).abs().max() < 1e-3


def test_a_single_quality_resume_starts_from_that_quality(tmp_path, photos):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=40)
    out = tmp_path / "run"
    train(_tiny(photos, out, quality=6, steps=1, resume=str(shipped)), ladder=False)
    trained = load_checkpoint(out / "q6.pth.tar").state_dict()["g_s.0.weight"]
    assert (trained - make_model(N=8, M=8, seed=46).state_dict()["g_s.0.weight"]).abs().max() < 1e-3
    assert json.loads((out / "q6.json").read_text())["resumed_from"] == f"{shipped} q6"


def test_the_density_model_stays_float32_under_bfloat16_autocast():
    torch.manual_seed(2)
    bottleneck = EntropyBottleneck(6).eval()
    y = (torch.randn(1, 6, 4, 5) * 4).bfloat16()  # what a transform gives under autocast
    expected = bottleneck(y.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_hat, likelihoods = bottleneck(y)
    assert y_hat.dtype == likelihoods.dtype == torch.float32
    assert torch.equal(y_hat, expected[0]) and torch.equal(likelihoods, expected[1])


def test_a_bfloat16_run_trains_and_saves_plain_float32_weights(tmp_path, photos):
    start = make_model(N=8, M=8, seed=5)
    torch.save(start.state_dict(), tmp_path / "start.pth.tar")
    runs = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        cfg = _tiny(photos, out, quality=8, steps=3, precision=precision, resume=str(tmp_path / "start.pth.tar"))
        cfg.level_lr = 1e-3
        train(cfg, ladder=False)
        runs[precision] = json.loads((out / "q8.json").read_text())["history"][-1]["loss"]
        saved = torch.load(out / "q8.pth.tar", weights_only=True)
        # what ships (safetensors) needs plain float32 tensors in the default layout
        assert all(t.is_contiguous() for t in saved.values())
        assert all(t.dtype in (torch.float32, torch.int32) for t in saved.values())
        assert not torch.equal(saved["g_a.0.weight"], start.state_dict()["g_a.0.weight"])
    # the same start, crops and steps give nearly the same loss in either precision
    assert runs["bf16"] == pytest.approx(runs["fp32"], rel=0.05)


def test_learning_rate_warms_up_linearly_then_decays_on_a_cosine(tmp_path):
    cfg = _config(tmp_path, min_lr=1e-5, warmup_steps=100)
    rates = [learning_rate(step, 1100, 1e-3, cfg) for step in range(1100)]
    assert rates[0] == pytest.approx(1e-5) and rates[50] == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert np.all(np.diff(rates[:101]) > 0) and np.all(np.diff(rates[100:]) < 0)
    assert rates[100] == pytest.approx(1e-3) and rates[600] == pytest.approx(0.5 * (1e-3 + 1e-5))
    assert rates[-1] == pytest.approx(1e-5, rel=1e-3)
    # without a warm-up the first step is the peak, as before
    assert learning_rate(0, 1100, 1e-3, _config(tmp_path, min_lr=1e-5)) == 1e-3


def test_a_level_resumed_with_fewer_latent_channels_is_widened(tmp_path, photos):
    shipped = save_ladder(tmp_path / "shipped", N=8, M=8, seed=60)
    out = tmp_path / "run"
    cfg = _tiny(photos, out, quality=8, steps=1, resume=str(shipped))
    cfg.M = 12
    train(cfg, ladder=False)
    trained = load_checkpoint(out / "q8.pth.tar")
    assert (trained.N, trained.M) == (8, 12)
    start = make_model(N=8, M=8, seed=68).state_dict()
    # what the level had learned is kept: its own channels start where the shipped weights were
    assert (trained.state_dict()["g_s.0.weight"][:8] - start["g_s.0.weight"]).abs().max() < 1e-3
    assert trained.entropy_bottleneck._quantized_cdf.shape[0] == 12


def test_a_cpu_budget_ends_the_level_and_its_learning_rate_decay(tmp_path, photos):
    out = tmp_path / "run"
    cfg = _tiny(photos, out, quality=3, steps=1_000_000, level_cpu_minutes=0.02)  # 1.2 s of CPU
    cfg.lr = 1e-3
    started = time.process_time()
    train(cfg, ladder=False)
    assert time.process_time() - started < 30  # the budget, not the million steps, ended it
    record = json.loads((out / "q3.json").read_text())
    assert 1 < record["steps"] < 1_000_000
    rates = [entry["lr"] for entry in record["history"]]
    assert rates[-1] < 0.2 * cfg.lr  # the cosine ran over the budget: it ends near its floor
    # the rate follows the fraction of the budget spent, whatever the step
    assert learning_rate(5, 10**6, 1e-3, cfg, done=0.5) == pytest.approx(0.5 * (1e-3 + cfg.min_lr))
    assert learning_rate(5, 10**6, 1e-3, cfg, done=2.0) == pytest.approx(cfg.min_lr)


def test_a_cpu_budget_is_refused_under_torchrun(tmp_path, photos, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # refused before any process group is set up
    with pytest.raises(ValueError, match="under torchrun use --level-steps"):
        train(_tiny(photos, tmp_path / "run", quality=3, level_cpu_minutes=1.0), ladder=False)
