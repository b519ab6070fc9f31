"""How OpenMP's wait policy changes the analysis and codec work, quiet and beside a busy process.

torch's OpenMP threads spin for a while after each parallel region by default
(`OMP_WAIT_POLICY=ACTIVE` behaviour); when another process wants the same cores, the spinning
threads steal its time and each other's. `lci_studio` sets `OMP_WAIT_POLICY=PASSIVE` unless the
user set a value. Each policy runs in a fresh interpreter (the variable is read when OpenMP
starts), with torch's default thread count, on a 768×512 crop of an eval photo (or a synthetic
photo-like image when ../shared is absent):

    .venv/bin/python bench/thread_policy.py [--repeat 3] [--busy 0|1|both]

It prints, per policy and load: MS-SSIM of one picture pair, and encode + decode of the
bundled quality 3, best of --repeat. `--busy 1` runs one CPU-bound process beside it (a
Python loop, the way a video call or a compile keeps a core busy).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

_PROBE = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from lci_studio.codec.image_io import load_rgb
from lci_studio.codec.metrics import ms_ssim_rgb
from lci_studio.codec.pipeline import decode_lci, encode_image
from lci_studio.codec.weights import open_weight_source
repeat = int(sys.argv[1])
photo = Path(sys.argv[2])
if photo.is_file():
    pixels = load_rgb(photo).pixels[:512, :768]
else:
    rng = np.random.default_rng(0)
    pixels = np.clip(np.cumsum(rng.normal(0, 4, (512, 768, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
noisy = np.clip(pixels.astype(int) + np.random.default_rng(1).integers(-8, 9, pixels.shape), 0, 255).astype(np.uint8)
loaded = open_weight_source("bundled").load(3)
def best(work):
    times = []
    for _ in range(repeat):
        started = time.perf_counter(); work(); times.append(time.perf_counter() - started)
    return min(times)
ms_ssim = best(lambda: ms_ssim_rgb(pixels, noisy))
codec = best(lambda: decode_lci(encode_image(loaded, pixels).lci, loaded))
print(json.dumps({"ms_ssim_s": ms_ssim, "codec_s": codec}))
"""


def _busy() -> None:
    while True:
        pass


def measure(policy: str, busy: bool, repeat: int, photo: Path) -> dict[str, float]:
    env = dict(os.environ, OMP_WAIT_POLICY=policy)
    hog = multiprocessing.Process(target=_busy, daemon=True) if busy else None
    if hog:
        hog.start()
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(repeat), str(photo)], env=env, capture_output=True, text=True, check=True
        )
    finally:
        if hog:
            hog.terminate()
            hog.join()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--busy", choices=("0", "1", "both"), default="both")
    parser.add_argument("--photo", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/eval/041.png")
    args = parser.parse_args()
    loads = {"0": (False,), "1": (True,), "both": (False, True)}[args.busy]
    print(f"{'load':<14}{'policy':<9}{'MS-SSIM s':>11}{'encode+decode q3 s':>21}")
    for busy in loads:
        for policy in ("ACTIVE", "PASSIVE"):
            numbers = measure(policy, busy, args.repeat, args.photo)
            label = "one busy proc" if busy else "quiet"
            print(f"{label:<14}{policy:<9}{numbers['ms_ssim_s']:>11.3f}{numbers['codec_s']:>21.3f}", flush=True)


if __name__ == "__main__":
    main()
