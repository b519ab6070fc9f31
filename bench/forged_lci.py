"""Time and peak memory of decoding forged `.lci` files with the bundled ladder (issue 15, findings 2 and 3).

    nice .venv/bin/python bench/forged_lci.py

Each case runs in a fresh subprocess, so `ru_maxrss` is that decode's own peak resident size (Python,
torch and the model included; the "baseline" line is that floor with nothing decoded). Cases: the 45-byte
file of the issue (valid CRC, empty payload) declaring 8192² and 16384² pixels, and the worst a forger can
do within the rules: random payloads exactly as long as the payload floor allows for that size (the most
pixels a payload may declare). Nothing is asserted; the script prints one line per case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = [
    ("baseline", 1, 0, "none"),
    ("45-byte file, 8192²", 1, 8192, "empty"),
    ("45-byte file, 16384²", 1, 16384, "empty"),
    ("45-byte file, 16384², q8", 8, 16384, "empty"),
    ("random payload at the floor, 2048², q1", 1, 2048, "floor"),
    ("random payload at the floor, 8192², q1", 1, 8192, "floor"),
    ("random payload at the floor, 2048², q8", 8, 2048, "floor"),
]


def run_case(quality: int, size: int, payload_kind: str) -> dict:
    import numpy as np

    from lci_studio.codec.entropy_coding import CdfTables, payload_floor_bits
    from lci_studio.codec.lci_format import LciFormatError, LciHeader, centred_padding, pack_lci
    from lci_studio.codec.model import FAMILY
    from lci_studio.codec.pipeline import decode_lci, source_kind
    from lci_studio.codec.weights import open_weight_source

    loaded = open_weight_source("bundled").load(quality)
    if payload_kind == "none":
        return {"outcome": "nothing decoded", "seconds": 0.0, "payload": 0, "peak_mb": peak_mb()}
    info = loaded.info
    left, right, top, _ = centred_padding(size, size)
    lat = (size + left + right) // 16
    header = LciHeader(FAMILY, info.metric, quality, source_kind(info), info.N, info.M, info.fingerprint,
                       size, size, left, top, lat, lat)  # fmt: skip
    if payload_kind == "empty":
        payload = b""
    else:
        floor = payload_floor_bits(CdfTables.from_bottleneck(loaded.model.entropy_bottleneck), lat * lat)[0]
        words = int(-(-floor // 32))
        rng = np.random.default_rng(0)
        payload = rng.integers(1, 2**32, size=words, dtype=np.uint32).astype("<u4").tobytes()
    data = pack_lci(header, payload)
    started = time.perf_counter()
    try:
        decode_lci(data, loaded)
        outcome = "decoded"
    except LciFormatError as exc:
        outcome = f"refused: {exc}"
    return {"outcome": outcome, "seconds": time.perf_counter() - started, "payload": len(payload), "peak_mb": peak_mb()}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(run_case(*CASES[args.case][1:])))
        return
    for index, (name, quality, _, _) in enumerate(CASES):
        started = time.perf_counter()
        run = subprocess.run(
            [sys.executable, __file__, "--case", str(index)], capture_output=True, text=True, env=os.environ.copy()
        )
        if run.returncode:
            print(f"{name}: failed\n{run.stderr}")
            continue
        result = json.loads(run.stdout.strip().splitlines()[-1])
        outcome = result["outcome"] if len(result["outcome"]) < 150 else result["outcome"][:147] + "…"
        print(
            f"{name} (q{quality}, payload {result['payload']} B): decode {result['seconds']:.3f} s, "
            f"process peak RSS {result['peak_mb']:.0f} MB, wall {time.perf_counter() - started:.1f} s; {outcome}"
        )


if __name__ == "__main__":
    main()
