"""How large a widened level's new hidden channels are, layer by layer, against the trained ones.

    python bench/widening_scale.py --quality 7 --N 192 --M 320 --photo ../shared/data/train/001.png

Prints the mean |activation| of the old and the new channels after every layer of g_a and g_s on a
256×256 crop, for the shipped level widened by `FactorizedPrior.with_hidden_channels` /
`with_latent_channels` (issue 23): a new channel far above the old ones' scale is one the first
training steps that give it outgoing weights will blow up on (docs/bundled-ladder.md, Round 3).
"""

from __future__ import annotations

import argparse

import torch

from lci_studio.codec import pipeline
from lci_studio.codec.image_io import load_rgb
from lci_studio.codec.model import FactorizedPrior
from lci_studio.codec.weights import BundledSource


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quality", type=int, default=7)
    parser.add_argument("--N", type=int, default=192)
    parser.add_argument("--M", type=int, default=320)
    parser.add_argument("--photo", default="../shared/data/train/001.png")
    parser.add_argument("--seed", type=int, default=71)
    args = parser.parse_args()
    torch.set_num_threads(1)
    narrow = FactorizedPrior.from_state_dict(BundledSource().load(args.quality).model.state_dict())
    n = narrow.N
    wide = narrow.with_hidden_channels(args.N, torch.Generator().manual_seed(args.seed))
    wide = wide.with_latent_channels(args.M, torch.Generator().manual_seed(args.seed)).eval()
    x = pipeline.to_tensor(load_rgb(args.photo).pixels[:256, :256])
    print(f"q{args.quality}: N {n} → {wide.N}, M {narrow.M} → {wide.M}; mean |activation|, old channels / new")
    with torch.no_grad():
        hidden = x
        for name, transform in (("g_a", wide.g_a), ("g_s", wide.g_s)):
            if name == "g_s":
                hidden = torch.round(hidden)
            for index, layer in enumerate(transform):
                hidden = layer(hidden)
                if hidden.shape[1] > n and not (name == "g_a" and index == len(transform) - 1):
                    old, new = hidden[:, :n].abs().mean(), hidden[:, n:].abs().mean()
                    print(f"{name}[{index}] {type(layer).__name__:8s} {float(old):8.4f} {float(new):8.4f}")


if __name__ == "__main__":
    main()
