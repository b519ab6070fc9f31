"""Peak memory and time of a 24-megapixel photo (6000×4000) through the codec at the largest model size.

    nice .venv/bin/python bench/large_photo.py            # encode + decode, PASS/FAIL against 3 GB
    nice .venv/bin/python bench/large_photo.py --full     # also the bit map and the metrics the window shows

The image is synthetic and photo-like (smooth gradients, edges, texture, sensor noise), made in
memory; the model has random weights at CompressAI's largest size (N=192, M=320) with its CDF
tables built, and runs through the tiled pipeline exactly as `lci encode` / `lci decode` do.
Each phase runs in a fresh subprocess, so `ru_maxrss` is that phase's own peak resident size
(image and model included). Nothing is asserted: the script prints the numbers and PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_BYTES = 3 * 10**9  # "peak RSS under 3 GB"
LATENT_GAIN = 25.0
PHASES = ("setup", "encode", "decode")
FULL_PHASES = ("bitmap", "metrics")


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def synthetic_photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB image built strip by strip (no full-size float temporaries)."""
    rng = np.random.default_rng(seed)
    out = np.empty((height, width, 3), dtype=np.uint8)
    xx = np.arange(width, dtype=np.float32)[None, :]
    centres = rng.uniform(0, 1, size=(12, 2)) * (height, width)
    radii = rng.uniform(0.03, 0.15, size=12) * min(height, width)
    colours = rng.uniform(-70, 70, size=(12, 3)).astype(np.float32)
    strip = 256
    for top in range(0, height, strip):
        rows = min(strip, height - top)
        yy = np.arange(top, top + rows, dtype=np.float32)[:, None]
        sky = 1.0 - yy / height  # vertical light falloff
        base = np.empty((rows, width, 3), dtype=np.float32)
        base[..., 0] = 90 + 90 * sky + 25 * np.sin(xx / 310.0 + yy / 870.0)
        base[..., 1] = 100 + 70 * sky + 20 * np.cos(xx / 530.0 - yy / 410.0)
        base[..., 2] = 120 + 60 * sky + 30 * np.sin((xx + yy) / 690.0)
        for (cy, cx), radius, colour in zip(centres, radii, colours, strict=True):  # hard-edged "objects"
            inside = ((yy - cy) ** 2 + (xx - cx) ** 2) < radius**2
            base += inside[..., None] * colour
        texture = 12 * np.sin(xx / 3.7) * np.sin(yy / 5.3)  # fine periodic detail (foliage, fabric)
        base += texture[..., None]
        base += rng.normal(0, 4, size=base.shape).astype(np.float32)  # sensor noise
        np.clip(base, 0, 255, out=base)
        out[top : top + rows] = base.astype(np.uint8)
    return out


def largest_model(N: int, M: int):
    import torch

    from lci_studio.codec.model import FactorizedPrior, LoadedModel, ModelInfo, weights_fingerprint

    torch.manual_seed(0)
    model = FactorizedPrior(N, M).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    # a random g_a gives latents of ~0.06, all quantizing to 0; scale them to a trained model's few units
    model.g_a[6].weight.mul_(LATENT_GAIN)
    model.entropy_bottleneck.build_tables()
    info = ModelInfo("bundled", 8, "mse", 0.18, N, M, weights_fingerprint(model))
    return LoadedModel(model, info)


def run_phase(args) -> dict:
    """One phase in this (fresh) process; returns its numbers."""
    from lci_studio.codec import pipeline

    started = time.perf_counter()
    pixels = synthetic_photo(args.height, args.width)
    loaded = largest_model(args.N, args.M)
    result: dict = {"phase": args.phase, "setup_s": time.perf_counter() - started, "setup_rss": peak_rss()}
    lci_path = Path(args.work) / "large.lci"
    if args.phase == "encode":
        started = time.perf_counter()
        encoded = pipeline.encode_image(loaded, pixels, tile=args.tile, with_bit_map=False)
        result["seconds"] = time.perf_counter() - started
        result["bytes"] = len(encoded.lci)
        result["latent"] = list(encoded.symbols.shape)
        lci_path.write_bytes(encoded.lci)
    elif args.phase == "decode":
        data = lci_path.read_bytes()
        started = time.perf_counter()
        reconstruction = pipeline.decode_lci(data, loaded, tile=args.tile)
        result["seconds"] = time.perf_counter() - started
        result["shape"] = list(reconstruction.shape)
        np.save(Path(args.work) / "reconstruction.npy", reconstruction)
    elif args.phase == "bitmap":
        import torch

        from lci_studio.codec.lci_format import unpack_lci

        header, payload = unpack_lci(lci_path.read_bytes())
        from lci_studio.codec.entropy_coding import CdfTables, decode_symbols

        tables = CdfTables.from_bottleneck(loaded.model.entropy_bottleneck)
        symbols = decode_symbols(payload, (header.M, header.latent_height, header.latent_width), tables)
        started = time.perf_counter()
        bit_map = pipeline.latent_bits(loaded.model, torch.from_numpy(symbols)[None])
        result["seconds"] = time.perf_counter() - started
        result["estimated_bytes"] = float(bit_map.sum()) / 8
    elif args.phase == "metrics":
        from lci_studio.codec.metrics import ms_ssim_rgb, psnr_rgb

        decoded = Path(args.work) / "reconstruction.npy"
        # without a decode in this run, compare against the image moved by one pixel (same cost)
        reconstruction = np.load(decoded) if decoded.exists() else np.roll(pixels, 1, axis=1)
        started = time.perf_counter()
        result["psnr"] = psnr_rgb(pixels, reconstruction)
        result["ms_ssim"] = ms_ssim_rgb(pixels, reconstruction)
        result["seconds"] = time.perf_counter() - started
    result["peak_rss"] = peak_rss()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--N", type=int, default=192)
    parser.add_argument("--M", type=int, default=320)
    parser.add_argument("--tile", type=int, default=None, help="tile side in pixels (default: the pipeline's)")
    parser.add_argument("--full", action="store_true", help="also time the bit map and the metrics")
    parser.add_argument(
        "--phases", help="comma-separated phases to run instead (of: " + ",".join(PHASES + FULL_PHASES) + ")"
    )
    parser.add_argument("--phase", choices=PHASES + FULL_PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.tile is None:
        from lci_studio.codec.pipeline import TILE

        args.tile = TILE

    if args.phase:
        print(json.dumps(run_phase(args)))
        return 0

    import torch

    print(
        f"{args.width}×{args.height} photo ({args.width * args.height / 1e6:.1f} MP), N={args.N}, M={args.M}, "
        f"tile {args.tile}, torch {torch.__version__} with {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; each phase in a fresh process"
    )
    results = {}
    with tempfile.TemporaryDirectory() as work:
        phases = args.phases.split(",") if args.phases else PHASES + (FULL_PHASES if args.full else ())
        for phase in phases:
            command = [
                sys.executable,
                __file__,
                "--phase",
                phase,
                "--work",
                work,
                "--width",
                str(args.width),
                "--height",
                str(args.height),
                "--N",
                str(args.N),
                "--M",
                str(args.M),
                "--tile",
                str(args.tile),
            ]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"phase {phase} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
                return 1
            results[phase] = result = json.loads(done.stdout.strip().splitlines()[-1])
            extra = {k: v for k, v in result.items() if k not in ("phase", "setup_s", "setup_rss", "peak_rss")}
            print(
                f"  {phase:8s} peak RSS {result['peak_rss'] / 2**20:7.0f} MiB "
                f"(after setup {result['setup_rss'] / 2**20:5.0f} MiB)  {json.dumps(extra)}"
            )

    if "encode" not in results or "decode" not in results:
        return 0
    encode, decode = results["encode"], results["decode"]
    pixels = args.width * args.height
    print(
        f"encode {encode['seconds']:.1f} s, decode {decode['seconds']:.1f} s, "
        f"{encode['bytes']} bytes ({encode['bytes'] * 8 / pixels:.4f} bpp), latent {encode['latent']}"
    )
    worst = max(results.values(), key=lambda r: r["peak_rss"])
    verdict = "PASS" if max(encode["peak_rss"], decode["peak_rss"]) < TARGET_BYTES else "FAIL"
    print(
        f"peak RSS: encode {encode['peak_rss'] / 1e9:.2f} GB, decode {decode['peak_rss'] / 1e9:.2f} GB "
        f"(highest phase: {worst['phase']} {worst['peak_rss'] / 1e9:.2f} GB); target < 3 GB: {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
