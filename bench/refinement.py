"""The refined encoder against the plain one (issue 24): BD-rate, R + λ·D and time per quality.

    python bench/refinement.py ab --photos 041,045 --crop 512x384 --qualities 2,4,6,8 --steps 50
        A/B of the ways through the rounding (straight-through + noise against SGA) at one budget;
        `--methods ste,polish --steps 200` sets four STE runs against `best`'s run + polishing.
    python bench/refinement.py efforts --photos 041,044,047 --crop 768x512 --efforts normal,best
        BD-rate (PSNR-RGB) of each effort against plain over all 8 qualities, on the mean curves over
        the photos as `lci bench` averages them, and the time per quality.
    python bench/refinement.py band --photos 041 --crop 256x192 --qualities 4
        A level refined for the λ at its band's ends and its own (`refinement.band_reach`, `normal`):
        bpp and PSNR against the plain encoder, the reachable band a rate slider offers.
    python bench/refinement.py efforts --photos 041 --crop 256x192 --qualities 4 --efforts normal:200 \
            --peak-lr 0.001 --run-steps 200
        A schedule probe: the learning rate's peak and the longest run (`latent_search.LEARNING_RATE`,
        `RUN_STEPS`) replaced for the whole run.
    python bench/refinement.py large --size 6000x4000 --tiles 2 --steps 50
        A 24 MP synthetic photo (bench/large_photo.py's) through `refined_encode` at CompressAI's largest
        size (N=192, M=320, random weights): peak RSS of the whole run, and the longest stretch between
        two cancel polls while refining (what a Stop waits for at most). Only the first `--tiles` tiles
        are refined (each tile's memory is freed before the next), so the run takes minutes, not hours.

Photos are read from ../shared/data/eval (`--folder`); `--crop WxH` takes the centre of each (omit it
for whole photos). Every number comes from real files: the bytes written and the real decode's PSNR.
Times are wall seconds and, beside them, the process's CPU seconds over the cores it may use (what a
quiet machine would take: the shared machine's load is printed at the start and the end).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def load_photo(folder: Path, name: str, crop: tuple[int, int] | None) -> np.ndarray:
    from lci_studio.codec.image_io import load_rgb

    pixels = load_rgb(folder / f"{name}.png").pixels
    if crop is None:
        return pixels
    width, height = crop
    top, left = (pixels.shape[0] - height) // 2, (pixels.shape[1] - width) // 2
    return np.ascontiguousarray(pixels[top : top + height, left : left + width])


def measure(loaded, pixels: np.ndarray, encoder) -> dict:
    """One quality by one encoder: bpp, PSNR, R + λ·D from the real file and decode, seconds."""
    from lci_studio.codec.metrics import psnr_rgb
    from lci_studio.codec.pipeline import decode_lci
    from lci_studio.codec.refinement import objective

    wall, cpu = time.perf_counter(), time.process_time()
    encoded = encoder.encode(loaded, pixels)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    decoded = decode_lci(encoded.lci, loaded)
    count = pixels.shape[0] * pixels.shape[1]
    return {
        "bpp": len(encoded.lci) * 8 / count,
        "psnr": psnr_rgb(pixels, decoded),
        "objective": objective(loaded.info.lmbda, len(encoded.lci), pixels, decoded),
        "wall": wall,
        "cpu": cpu / max(1, len(os.sched_getaffinity(0))),
    }


def load_line() -> str:
    return "load average " + ", ".join(f"{v:.1f}" for v in os.getloadavg())


def bd(plain: list[dict], other: list[dict]) -> float:
    from lci_studio.codec.bdrate import bd_rate

    return bd_rate(
        [p["bpp"] for p in plain], [p["psnr"] for p in plain], [p["bpp"] for p in other], [p["psnr"] for p in other]
    )


def mean_curve(rows: list[list[dict]]) -> list[dict]:
    """Per quality, the mean over photos of bpp and PSNR (as `lci bench` averages)."""
    return [{k: float(np.mean([photo[i][k] for photo in rows])) for k in ("bpp", "psnr")} for i in range(len(rows[0]))]


def large(args: argparse.Namespace) -> None:
    import resource

    import torch

    from lci_studio.codec import latent_search
    from lci_studio.codec.refinement import Encoder, refined_encode

    sys.path.insert(0, str(ROOT / "bench"))
    from large_photo import largest_model, synthetic_photo

    width, height = (int(v) for v in args.size.split("x"))
    pixels = synthetic_photo(height, width)
    loaded = largest_model(192, 320)
    every = latent_search._tiles
    latent_search._tiles = lambda *a: every(*a)[: args.tiles]  # the first tiles only; the rest stay plain
    polls: list[float] = []
    steps: list[float] = []

    def check() -> bool:
        polls.append(time.perf_counter())
        return False

    side = latent_search.tile_latent(height // 16, width // 16, 192) * 16
    print(
        f"large: {width}x{height}, N=192 M=320, {args.tiles} tiles of {side} pixels, {args.steps} steps; {load_line()}",
        flush=True,
    )
    started = time.perf_counter()
    result = refined_encode(
        loaded, pixels, Encoder("custom", args.steps), check, refining=lambda d, t: steps.append(time.perf_counter())
    )
    seconds = time.perf_counter() - started
    inside = [t for t in polls if steps[0] <= t <= steps[-1]]
    gaps = np.diff(inside)
    worst = int(np.argmax(gaps))
    before = sum(1 for t in steps if t <= inside[worst])  # steps done when the longest gap began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    per_step = (steps[-1] - steps[0]) / max(1, len(steps) - 1)
    print(
        f"  {seconds:.0f} s in all, {per_step:.2f} s per step of a {side}-pixel tile, "
        f"peak RSS {peak / 1e9:.2f} GB (target 3 GB: {'PASS' if peak < 3e9 else 'FAIL'}); while refining "
        f"{len(inside)} polls, longest gap {gaps.max():.3f} s "
        f"(after {max(0, before - 1)} steps), 99th percentile {np.percentile(gaps, 99):.3f} s "
        f"(target 0.5 s: {'PASS' if gaps.max() <= 0.5 else 'FAIL'}); kept plain: {result.kept_plain}; "
        f"torch {torch.get_num_threads()} threads; {load_line()}",
        flush=True,
    )


def band(args: argparse.Namespace) -> None:
    from lci_studio.codec.refinement import PLAIN, band_reach, encoder_for, lambda_band
    from lci_studio.codec.weights import open_weight_source

    source = open_weight_source(args.weights, "mse")
    crop = tuple(int(v) for v in args.crop.split("x")) if args.crop else None
    print(f"band: {args.photos} ({args.crop or 'whole'}), q{args.qualities}, normal; {load_line()}", flush=True)
    for photo in args.photos.split(","):
        pixels = load_photo(Path(args.folder), photo, crop)
        for quality in (int(q) for q in args.qualities.split(",")):
            loaded = source.load(quality)
            plain = measure(loaded, pixels, PLAIN)
            limits = lambda_band(loaded.info)
            started = time.perf_counter()
            points = band_reach(loaded, pixels, encoder_for("normal"), (limits.low, limits.trained, limits.high))
            print(
                f"{photo} q{quality} plain {plain['bpp']:.4f} bpp / {plain['psnr']:.2f} dB; "
                + "; ".join(
                    f"λ {p.lmbda:.4g}: {p.bpp:.4f} ({p.bpp / plain['bpp'] - 1:+.1%}) / {p.psnr:.2f} dB"
                    + (" (plain kept)" if p.kept_plain else "")
                    for p in points
                )
                + f"; {time.perf_counter() - started:.0f} s",
                flush=True,
            )


def run(args: argparse.Namespace) -> None:
    import torch

    from lci_studio.codec import latent_search

    if args.peak_lr is not None:
        latent_search.LEARNING_RATE = args.peak_lr
    if args.run_steps is not None:
        latent_search.RUN_STEPS = args.run_steps

    from lci_studio.codec.latent_search import native_bf16
    from lci_studio.codec.refinement import PLAIN, Encoder, encoder_for
    from lci_studio.codec.weights import open_weight_source

    source = open_weight_source(args.weights, "mse")
    crop = tuple(int(v) for v in args.crop.split("x")) if args.crop else None
    photos = args.photos.split(",")
    qualities = [int(q) for q in args.qualities.split(",")]
    if args.mode == "ab":
        encoders = {method: Encoder("custom", args.steps, method, args.seed) for method in args.methods.split(",")}
    else:
        encoders = {}
        for effort in args.efforts.split(","):
            name, _, steps = effort.partition(":")
            encoders[effort] = encoder_for(name, int(steps) if steps else None, seed=args.seed)
    print(
        f"{args.mode}: photos {','.join(photos)} ({'whole' if crop is None else args.crop}), qualities "
        f"{','.join(map(str, qualities))}, {len(os.sched_getaffinity(0))} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, native bf16: {native_bf16()}; {load_line()}",
        flush=True,
    )
    results: dict[str, list[list[dict]]] = {name: [] for name in ("plain", *encoders)}
    for photo in photos:
        pixels = load_photo(Path(args.folder), photo, crop)
        for rows in results.values():
            rows.append([])
        for quality in qualities:
            loaded = source.load(quality)
            plain = measure(loaded, pixels, PLAIN)
            results["plain"][-1].append(plain)
            for name, encoder in encoders.items():
                r = measure(loaded, pixels, encoder)
                results[name][-1].append(r)
                print(
                    f"{photo} q{quality} {name:>12}: {plain['bpp']:.4f} → {r['bpp']:.4f} bpp "
                    f"({r['bpp'] / plain['bpp'] - 1:+.1%}), {plain['psnr']:.2f} → {r['psnr']:.2f} dB "
                    f"({r['psnr'] - plain['psnr']:+.2f}), R+λD {r['objective'] / plain['objective'] - 1:+.2%}, "
                    f"{r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU/core",
                    flush=True,
                )
    print(f"summary ({load_line()}):")
    plain_rows = results["plain"]
    for name, rows in results.items():
        if name == "plain":
            continue
        pairs = [(r, p) for ph, pp in zip(rows, plain_rows, strict=True) for r, p in zip(ph, pp, strict=True)]
        gains = [r["objective"] / p["objective"] - 1 for r, p in pairs]
        dpsnr = [r["psnr"] - p["psnr"] for r, p in pairs]
        dbpp = [r["bpp"] / p["bpp"] - 1 for r, p in pairs]
        per_photo = [bd(pp, ph) for ph, pp in zip(rows, plain_rows, strict=True)] if len(qualities) > 1 else []
        line = (
            f"  {name:>12}: R+λD {np.mean(gains):+.2%} mean (worst {max(gains):+.2%}), PSNR {np.mean(dpsnr):+.2f} dB, "
            f"bpp {np.mean(dbpp):+.1%}"
        )
        if per_photo:
            line += f", BD-rate {bd(mean_curve(plain_rows), mean_curve(rows)):+.1f}% on the mean curve"
            line += " (per photo " + ", ".join(f"{v:+.1f}%" for v in per_photo) + ")"
        walls = [r["wall"] for ph in rows for r in ph]
        cpus = [r["cpu"] for ph in rows for r in ph]
        line += f"; {np.mean(walls):.1f} s wall, {np.mean(cpus):.1f} s CPU/core per quality"
        print(line, flush=True)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("ab", "efforts", "band", "large"))
    parser.add_argument("--folder", default=str(ROOT.parent / "shared" / "data" / "eval"))
    parser.add_argument("--photos", default="041,042,043,044,045,046,047,048,049")
    parser.add_argument("--crop", default="768x512", help="WxH centre crop; '' for whole photos")
    parser.add_argument("--qualities", default="1,2,3,4,5,6,7,8")
    parser.add_argument("--weights", default="bundled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50, help="ab, large: steps of each refinement")
    parser.add_argument("--methods", default="ste,sga", help="ab: the methods compared")
    parser.add_argument("--efforts", default="normal,best", help="efforts: levels, or level:steps")
    parser.add_argument("--size", default="6000x4000", help="large: WxH of the synthetic photo")
    parser.add_argument("--tiles", type=int, default=2, help="large: tiles refined")
    parser.add_argument("--peak-lr", type=float, help="ab, efforts: Adam's peak learning rate instead of 0.004")
    parser.add_argument("--run-steps", type=int, help="ab, efforts: the longest run instead of 50 steps")
    args = parser.parse_args()
    {"large": large, "band": band}.get(args.mode, run)(args)


if __name__ == "__main__":
    main()
