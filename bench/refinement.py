"""The refined encoder against the plain one (issue 24): BD-rate, R + λ·D and time per quality.

    python bench/refinement.py ab --photos 041,045 --crop 512x384 --qualities 2,4,6,8 --steps 50
        A/B of the ways through the rounding (straight-through + noise against SGA) at one budget.
    python bench/refinement.py efforts --photos 041,044,047 --crop 768x512 --efforts normal,best
        BD-rate (PSNR-RGB) of each effort against plain over all 8 qualities, on the mean curves over
        the photos as `lci bench` averages them, and the time per quality.

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


def run(args: argparse.Namespace) -> None:
    import torch
    from lci_studio.codec.refinement import PLAIN, Encoder, encoder_for, native_bf16
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
    parser.add_argument("mode", choices=("ab", "efforts"))
    parser.add_argument("--folder", default=str(ROOT.parent / "shared" / "data" / "eval"))
    parser.add_argument("--photos", default="041,042,043,044,045,046,047,048,049")
    parser.add_argument("--crop", default="768x512", help="WxH centre crop; '' for whole photos")
    parser.add_argument("--qualities", default="1,2,3,4,5,6,7,8")
    parser.add_argument("--weights", default="bundled")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=50, help="ab: steps of each method")
    parser.add_argument("--methods", default="ste,sga", help="ab: the methods compared")
    parser.add_argument("--efforts", default="normal,best", help="efforts: levels, or level:steps")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
