"""What a training step costs at each network width and crop size, before paying for a run.

Prints the multiply-accumulates of one step's forward pass (counted from the layer shapes,
so a busy machine does not change them) and the measured wall time of one forward + backward
pass of the rate-distortion loss (best of --repeat, the sizes interleaved so that load from
other processes falls on all of them alike; only the ratios travel between machines).

    .venv/bin/python bench/train_step_cost.py [--batch 8] [--repeat 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from lci_studio.codec.model import FactorizedPrior
from lci_studio.codec.training import rate_distortion_loss

# (N, M, crop): today's bundled widths, CompressAI's two widths, and a 256² crop phase
SIZES = ((96, 160, 128), (96, 192, 128), (128, 192, 128), (192, 320, 128), (96, 160, 256))


def forward_macs(N: int, M: int, crop: int) -> int:
    """Multiply-accumulates of g_a + g_s on one crop (5×5 kernels; GDN is a 1×1 convolution)."""
    sides = [crop // 2, crop // 4, crop // 8]  # outputs of g_a's first three layers
    analysis = sides[0] ** 2 * 25 * 3 * N + sum(s * s * (25 * N * N if i else 0) for i, s in enumerate(sides))
    analysis += sum(s * s * N * N for s in sides)  # three GDNs
    analysis += (crop // 16) ** 2 * 25 * N * M
    return 2 * analysis  # g_s mirrors g_a layer for layer (transposed convolutions, IGDNs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {size: FactorizedPrior(size[0], size[1]).train() for size in SIZES}
    seconds: dict[tuple[int, int, int], list[float]] = {size: [] for size in SIZES}
    for _ in range(args.repeat):
        for size, model in models.items():
            x = torch.rand(args.batch, 3, size[2], size[2])
            start = time.perf_counter()
            loss, _, _ = rate_distortion_loss(model(x), x, 0.01, "mse")
            loss.backward()
            seconds[size].append(time.perf_counter() - start)
            model.zero_grad(set_to_none=True)
    base_macs, base_s = forward_macs(*SIZES[0]) * args.batch, min(seconds[SIZES[0]])
    print(f"batch {args.batch}, {args.threads} thread(s), best of {args.repeat}")
    for size in SIZES:
        macs, best = forward_macs(*size) * args.batch, min(seconds[size])
        print(
            f"N={size[0]:3d} M={size[1]:3d} crop {size[2]}: {macs / 1e9:6.2f} GMAC forward (x{macs / base_macs:.2f}), "
            f"forward+backward {best:6.2f} s (x{best / base_s:.2f})"
        )


if __name__ == "__main__":
    main()
