"""Time the real encode + decode path of all eight qualities on one 768×512 photo-like image.

Each quality runs ``pipeline.encode_image`` (pad → g_a → quantize → rANS → `.lci` bytes)
and ``pipeline.decode_lci`` (bytes → rANS → g_s → 8-bit pixels) with a model of
CompressAI's size (q1-5: N=128, M=192; q6-8: N=192, M=320). Weights are random, but the
latents are scaled to realistic spreads and the CDF tables are 21-61 bins wide, so the
entropy coder does realistic work. Nothing is downloaded.

    PYTHONPATH=. .venv/bin/python bench/ladder_speed.py [--threads N] [--repeat R] [--reference FILE]

``--reference FILE`` writes the bitstreams and reconstructions on the first run and
checks later runs against them: bytes, differing latent symbols, largest pixel difference
(compare runs with the same ``--threads``: the thread count changes float rounding).

Besides wall time it prints CPU seconds (all threads), which a busy machine inflates less.
PyTorch's own ``THP_MEM_ALLOC_ENABLE=1`` (set before torch starts) backs large tensors with
2 MB pages; on Linux with THP in ``madvise`` mode that saves most of the page-fault time
of the 50-75 MB activations.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lci_studio.codec.entropy_coding import CdfTables, decode_symbols
from lci_studio.codec.lci_format import unpack_lci
from lci_studio.codec.model import (
    COMPRESSAI_SIZES,
    QUALITIES,
    FactorizedPrior,
    LoadedModel,
    ModelInfo,
    weights_fingerprint,
)
from lci_studio.codec.pipeline import decode_lci, encode_image

WIDTH, HEIGHT = 768, 512


def make_photo(height: int = HEIGHT, width: int = WIDTH, seed: int = 0) -> np.ndarray:
    """Smooth shading, hard edges, fine texture and sensor noise: a stand-in for a photo."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack(
        [
            110 + 70 * np.sin(xx / 61.0) * np.cos(yy / 47.0),
            120 + 60 * np.cos((xx - yy) / 83.0),
            100 + 50 * np.sin((xx + 2 * yy) / 97.0),
        ],
        axis=2,
    )
    for _ in range(12):  # flat-shaded discs with sharp edges
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(20, 120)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        image[inside] = 0.5 * image[inside] + 0.5 * rng.uniform(0, 255, 3)
    image += 18 * np.sin(xx / 2.7)[..., None] * (yy > height * 0.6)[..., None]  # striped "fabric"
    image += rng.normal(0, 4, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _plain(layers: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The training-path arithmetic, so that the weights made here never depend on inference fast paths."""
    with torch.enable_grad():
        return layers(x).detach()


def _coarse(t: torch.Tensor) -> torch.Tensor:
    """Rounded to 8 significant bits, so that the weights made here do not depend on the thread count."""
    return t.to(torch.bfloat16).to(torch.float32)


@torch.no_grad()
def make_model(quality: int, pixels: np.ndarray) -> LoadedModel:
    """A CompressAI-sized model whose latents and priors look like a trained one's."""
    from lci_studio.codec.pipeline import to_tensor

    N, M = COMPRESSAI_SIZES[quality]
    torch.manual_seed(quality)
    model = FactorizedPrior(N, M).eval()
    y = _plain(model.g_a, to_tensor(pixels))[0].reshape(M, -1)
    # Log-uniform per-channel spreads from 0.05 up to q/2: many idle channels, more busy ones as q grows.
    spread = torch.exp(torch.empty(M).uniform_(math.log(0.05), math.log(quality / 2)))
    gain = _coarse(spread / y.std(dim=1))
    last = model.g_a[-1]
    last.weight.mul_(gain[:, None, None, None])
    last.bias.copy_(last.bias * gain - _coarse(y.mean(dim=1)) * gain)  # centre every channel at 0
    bottleneck = model.entropy_bottleneck
    # A linear cumulative (zero biases and factors) is a logistic density; scale it to the spread.
    for p in (*bottleneck.biases, *bottleneck.factors):
        p.zero_()
    unit = bottleneck._logits_cumulative(torch.ones(M, 1, 1), stop_gradient=True)[:, 0, 0]
    logistic_scale = spread * math.sqrt(3) / math.pi
    softplus0 = torch.nn.functional.softplus(bottleneck.matrices[0]) / (unit * logistic_scale)[:, None, None]
    bottleneck.matrices[0].copy_(torch.log(torch.expm1(softplus0)))
    half = torch.clamp(torch.ceil(7 * spread), 10, 30)  # tables 21 … 61 bins wide
    bottleneck.quantiles.copy_(torch.stack([-half, torch.zeros(M), half], dim=1)[:, None, :])
    bottleneck.build_tables()
    # Let the reconstruction span mid-grey ± 0.2 rather than clip, so pixel checks mean something.
    y_hat = bottleneck.dequantize(bottleneck.quantize_symbols(_plain(model.g_a, to_tensor(pixels))))
    x_hat = _plain(model.g_s, y_hat)[0].reshape(3, -1)
    gain = _coarse(0.2 / x_hat.std(dim=1))
    last = model.g_s[-1]  # ConvTranspose2d weight: (in, out, k, k)
    last.weight.mul_(gain[None, :, None, None])
    last.bias.copy_((last.bias - _coarse(x_hat.mean(dim=1))) * gain + 0.5)
    info = ModelInfo("bench", quality, "mse", None, N, M, weights_fingerprint(model))
    return LoadedModel(model, info)


def transform_macs(model: FactorizedPrior, height: int, width: int) -> tuple[int, int]:
    """Multiply-accumulates of (g_a, g_s) on an image of this size: convolutions and GDN's 1×1 mixing."""

    def walk(layers, h: int, w: int) -> tuple[int, int, int]:
        macs = 0
        for layer in layers:
            if isinstance(layer, torch.nn.Conv2d):
                h, w = -(-h // 2), -(-w // 2)
                macs += layer.weight.numel() * h * w
            elif isinstance(layer, torch.nn.ConvTranspose2d):
                macs += layer.weight.numel() * h * w  # every input pixel scatters one full kernel
                h, w = 2 * h, 2 * w
            else:  # GDN / IGDN: a C×C 1×1 convolution of x²
                macs += layer.gamma.numel() * h * w
        return macs, h, w

    analysis, lat_h, lat_w = walk(model.g_a, height, width)
    synthesis, _, _ = walk(model.g_s, lat_h, lat_w)
    return analysis, synthesis


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's own)")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the ladder; the best counts")
    parser.add_argument("--reference", type=Path, default=None, help="write, or check against, bytes and pixels")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, image {WIDTH}×{HEIGHT}")

    pixels = make_photo()
    models = {q: make_model(q, pixels) for q in QUALITIES}
    flops = {q: 2 * sum(transform_macs(models[q].model, HEIGHT, WIDTH)) for q in QUALITIES}

    for loaded in models.values():  # warm-up: one-off allocations, oneDNN primitive caches
        decode_lci(encode_image(loaded, pixels, with_bit_map=False).lci, loaded)

    best_enc = dict.fromkeys(QUALITIES, math.inf)
    best_dec = dict.fromkeys(QUALITIES, math.inf)
    best_cpu = dict.fromkeys(QUALITIES, math.inf)
    best_total = total_cpu = math.inf
    outputs: dict[int, tuple[bytes, np.ndarray]] = {}
    for _ in range(args.repeat):
        total = 0.0
        cpu_started = time.process_time()
        for q, loaded in models.items():
            cpu = time.process_time()
            started = time.perf_counter()
            lci = encode_image(loaded, pixels, with_bit_map=False).lci
            encoded = time.perf_counter()
            pixels_out = decode_lci(lci, loaded)
            decoded = time.perf_counter()
            best_enc[q] = min(best_enc[q], encoded - started)
            best_dec[q] = min(best_dec[q], decoded - encoded)
            best_cpu[q] = min(best_cpu[q], time.process_time() - cpu)
            total += decoded - started
            outputs[q] = (lci, pixels_out)
        if total < best_total:
            best_total, total_cpu = total, time.process_time() - cpu_started

    heads = ("q", "N", "M", "bytes", "bpp", "encode s", "decode s", "cpu s", "GFLOP", "GFLOP/s")
    print(" ".join(f"{h:>{w}}" for h, w in zip(heads, (2, 4, 4, 7, 6, 9, 9, 6, 6, 8), strict=True)))
    for q in QUALITIES:
        N, M = COMPRESSAI_SIZES[q]
        size = len(outputs[q][0])
        seconds = best_enc[q] + best_dec[q]
        print(
            f"{q:>2} {N:>4} {M:>4} {size:>7} {size * 8 / (WIDTH * HEIGHT):>6.3f} {best_enc[q]:>9.3f} "
            f"{best_dec[q]:>9.3f} {best_cpu[q]:>6.3f} {flops[q] / 1e9:>6.1f} {flops[q] / 1e9 / seconds:>8.1f}"
        )
    all_flops = sum(flops.values()) / 1e9
    print(
        f"ladder: best pass {best_total:.3f} s (sum of per-step bests {sum(best_enc.values()):.3f} encode + "
        f"{sum(best_dec.values()):.3f} decode; {total_cpu:.3f} CPU s), {all_flops:.0f} GFLOP, "
        f"{all_flops / best_total:.1f} GFLOP/s"
    )
    if args.reference is not None:
        check_reference(args.reference, outputs, models)


def check_reference(path: Path, outputs: dict[int, tuple[bytes, np.ndarray]], models: dict[int, LoadedModel]) -> None:
    """Save outputs the first time; afterwards report how far bytes, symbols and pixels moved."""
    if not path.exists():
        arrays = {f"lci{q}": np.frombuffer(lci, np.uint8) for q, (lci, _) in outputs.items()}
        arrays |= {f"pix{q}": pix for q, (_, pix) in outputs.items()}
        np.savez_compressed(path, **arrays)
        print(f"reference written to {path}")
        return
    saved = np.load(path)
    for q, (lci, pix) in outputs.items():
        old = saved[f"lci{q}"].tobytes()
        symbols = "identical bytes" if old == lci else f"{_differing_symbols(old, lci, models[q])} symbols differ"
        diff = np.abs(saved[f"pix{q}"].astype(np.int16) - pix).max()
        print(f"q{q}: {symbols}, max pixel difference {diff}")


def _differing_symbols(old: bytes, new: bytes, loaded: LoadedModel) -> int:
    tables = CdfTables.from_bottleneck(loaded.model.entropy_bottleneck)
    decoded = []
    for data in (old, new):
        header, payload = unpack_lci(data)
        decoded.append(decode_symbols(payload, (header.M, header.latent_height, header.latent_width), tables))
    return int(np.sum(decoded[0] != decoded[1]))


if __name__ == "__main__":
    main()
