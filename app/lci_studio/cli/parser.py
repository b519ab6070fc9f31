"""The `lci` command line's grammar: every subcommand, its options and their checks (`build_parser`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from lci_studio import __version__
from lci_studio.cli.bench import cmd_bench, cmd_compare
from lci_studio.cli.encode import cmd_decode, cmd_encode, cmd_info
from lci_studio.cli.failures import UsageError
from lci_studio.cli.fetch import cmd_fetch_weights
from lci_studio.cli.files import OVERWRITE_RULE
from lci_studio.cli.train import cmd_export_bundle, cmd_train
from lci_studio.codec.bundle import TRAINING_DATA
from lci_studio.codec.model import METRICS, QUALITIES
from lci_studio.codec.refinement import EFFORTS, MAX_STEPS, checked_lambda, checked_steps
from lci_studio.codec.weights import MIRROR_ENV, compressai_cache_dir

PROG = "lci"


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so `main` reports one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid quality {text!r}: choose 1 to 8") from None
    if value not in QUALITIES:
        raise argparse.ArgumentTypeError(f"invalid quality {value}: choose 1 to 8")
    return value


def _positive(kind: type) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not positive")
        return value

    return parse


def _levels(text: str) -> tuple[int, ...]:
    """'5-8' or '1,3,5' (ranges and lists mix): the ladder levels one run trains."""
    levels: set[int] = set()
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        low, high = _quality(first), _quality(last or first)
        if low > high:
            raise argparse.ArgumentTypeError(f"invalid range {part.strip()!r}")
        levels.update(range(low, high + 1))
    return tuple(sorted(levels))


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def _crop(text: str) -> int:
    value = int(_positive(int)(text))
    if value % 16:
        raise argparse.ArgumentTypeError(f"crop {value} is not a multiple of 16 (the model downsamples by 16)")
    return value


def _steps(text: str) -> int:
    try:
        return checked_steps(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid step count {text!r}: choose 0 to {MAX_STEPS}") from None


def _lambda_value(text: str) -> float:
    try:
        return checked_lambda(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid λ {text!r}: a positive number") from None


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description="LCI Studio's learned image codec (Ballé 2018 factorized prior, CompressAI-compatible).",
        epilog="--weights takes: bundled (default), compressai (official weights, downloaded on first use), "
        "a folder of checkpoints (q1.pth.tar … or CompressAI's file names), or one checkpoint file.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def weights(p: argparse.ArgumentParser, metric: bool = True) -> None:
        if metric:
            p.add_argument("--weights", default="bundled", metavar="SRC", help="bundled | compressai | FOLDER | FILE")
        else:
            p.add_argument(
                "--weights", metavar="SRC", help="bundled | compressai | FOLDER | FILE (default: as the file says)"
            )
        if metric:
            p.add_argument("--metric", default="mse", choices=METRICS, help="weights trained for this metric")

    def no_clobber(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--no-clobber",
            action="store_true",
            help=f"refuse to replace an existing output (default: {OVERWRITE_RULE.split(' unless')[0]}); "
            "an output is never allowed to be the input",
        )

    def effort(p: argparse.ArgumentParser) -> None:
        levels = "; ".join(f"{e.name}: {e.meaning}" for e in EFFORTS.values())
        p.add_argument(
            "--effort",
            default="fast",
            choices=tuple(EFFORTS),
            help=f"how hard the encoder works for this picture ({levels}); the same decoder reads every file "
            "(default fast)",
        )
        p.add_argument(
            "--steps",
            type=_steps,
            metavar="N",
            help=f"refinement steps per tile instead of the effort's own (0 to {MAX_STEPS}; 0 is the plain encoder)",
        )

    p = sub.add_parser("encode", help="compress an image into a .lci file", epilog=f"Outputs: {OVERWRITE_RULE}.")
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.lci")
    no_clobber(p)
    p.add_argument("-q", "--quality", required=True, type=_quality, metavar="Q", help="1 (smallest) … 8 (best)")
    weights(p)
    effort(p)
    p.add_argument(
        "--lambda",
        dest="lmbda",
        type=_lambda_value,
        metavar="λ",
        help="refine the latents for this λ of R + λ·D instead of the quality's own: a little smaller (lower λ) or "
        "larger file from the same decoder; between the neighbouring qualities' λ (needs --effort normal or best)",
    )
    p.set_defaults(handler=cmd_encode)

    p = sub.add_parser("decode", help="decompress a .lci file into a PNG", epilog=f"Outputs: {OVERWRITE_RULE}.")
    p.add_argument("file", metavar="FILE.lci")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    no_clobber(p)
    weights(p, metric=False)
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser("info", help="describe a .lci file")
    p.add_argument("file", metavar="FILE.lci")
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser(
        "compare", help="every quality plus JPEG/WebP/AVIF/JPEG XL on one image", epilog=f"Outputs: {OVERWRITE_RULE}."
    )
    p.add_argument("image", metavar="IMAGE")
    no_clobber(p)
    weights(p)
    p.add_argument("--json", metavar="OUT.json", help="write RD points in CompressAI's JSON shape")
    p.add_argument("--csv", metavar="OUT.csv", help="write every measured number as CSV")
    effort(p)
    p.set_defaults(handler=cmd_compare)

    p = sub.add_parser(
        "bench", help="mean RD over a folder of images, CompressAI JSON", epilog=f"Outputs: {OVERWRITE_RULE}."
    )
    p.add_argument("folder", metavar="DIR")
    p.add_argument("--json", required=True, metavar="OUT.json")
    no_clobber(p)
    weights(p)
    p.add_argument(
        "--baselines",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also JPEG/WebP mean curves and BD-rate against them (default: on)",
    )
    p.add_argument("--name", help="the JSON's name field (default: bmshj2018-factorized)")
    effort(p)
    p.set_defaults(handler=cmd_bench)

    from lci_studio.codec.training import NEW_MODEL_M, NEW_MODEL_N

    defaults = _train_defaults()
    p = sub.add_parser(
        "train",
        help="train one quality or the 8-level ladder",
        epilog="Multi-GPU / multi-machine: torchrun --nproc_per_node=K -m lci_studio.cli train … (only rank 0 prints).",
    )
    p.add_argument("data", metavar="DATA", help="folder of training images")
    p.add_argument("--out", required=True, metavar="DIR", help="checkpoints q{n}.pth.tar + q{n}.json go here")
    p.add_argument(
        "--ladder", action="store_true", help="all 8 λ: warm start at --warm-quality, then fine-tune outwards"
    )
    p.add_argument(
        "--joint",
        action="store_true",
        help="train --levels (default all 8) together for --steps steps: shared transforms, a latent gain "
        "and an entropy model per level, exported as one ordinary checkpoint per level; --resume WEIGHTS "
        "starts the shared transforms from --warm-quality's level, --resume OUT/joint.pt continues a joint run",
    )
    p.add_argument("--metric", default="mse", choices=METRICS)
    p.add_argument("-q", "--quality", type=_quality, default=defaults.quality, help="λ of this quality (single run)")
    for flag, kind, name, meaning in (
        ("--steps", _positive(int), "steps", "steps of a single-quality or --joint run"),
        ("--warm-steps", _positive(int), "warm_steps", "ladder: steps of the --warm-quality level, resumed or not"),
        ("--level-steps", _positive(int), "level_steps", "ladder: steps of every other level"),
        ("--crop", _crop, "crop", "random crop size in pixels"),
        ("--batch", _positive(int), "batch", "crops per step"),
        ("--lr", _positive(float), "lr", "peak learning rate of a model trained from scratch"),
        ("--level-lr", _positive(float), "level_lr", "peak learning rate of fine-tunes and resumed levels"),
    ):
        default = getattr(defaults, name)
        p.add_argument(flag, type=kind, dest=name, default=default, help=f"{meaning} (default {default})")
    p.add_argument(
        "--N",
        type=_positive(int),
        help=f"transform channels of new models (default {NEW_MODEL_N}); a resumed level keeps its own, "
        "unless it has fewer than a given N: then it is widened to N, keeping what it learned",
    )
    p.add_argument(
        "--M",
        type=_positive(int),
        help=f"latent channels of new models (default {NEW_MODEL_M}); a resumed level keeps its own, "
        "unless it has fewer than a given M: then it is widened to M, keeping what it learned",
    )
    p.add_argument(
        "--level-cpu-minutes",
        type=_positive(float),
        metavar="MINUTES",
        help="train each level for this much CPU time of this process instead of a step count (the steps then "
        "only bound it; the learning rate decays over the budget): equal compute for runs whose steps cost "
        "differently, however busy the machine; with --threads 1, minutes of one core",
    )
    p.add_argument(
        "--warmup-steps",
        type=_non_negative_int,
        default=defaults.warmup_steps,
        help="steps of each level's linear learning-rate warm-up before the cosine decay; "
        f"worth a few hundred when resuming trained weights (default {defaults.warmup_steps})",
    )
    p.add_argument(
        "--warm-quality",
        type=_quality,
        default=defaults.warm_quality,
        help=f"ladder: the level trained first, that the others start from (default {defaults.warm_quality})",
    )
    p.add_argument(
        "--levels",
        type=_levels,
        metavar="LIST",
        help="with --ladder or --joint, train only these levels, e.g. 5-8 or 1,2 (default: all 8); "
        "runs over disjoint levels may share --out",
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="seeds weights and crops (default 0)")
    p.add_argument("--threads", type=int, default=defaults.threads, help="torch threads (0: torch's default)")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default=defaults.precision,
        help="bf16: transforms under bfloat16 autocast, weights and rates float32; "
        "about 1.8x faster on CPUs with AVX-512-BF16 and on recent GPUs (default fp32)",
    )
    p.add_argument(
        "--resume", metavar="WEIGHTS", help="start each level from these weights: bundled, a ladder folder or a file"
    )
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser(
        "fetch-weights",
        help="download and check CompressAI's official weights ahead of time, for use without a network",
        epilog=f"Into $TORCH_HOME/hub/checkpoints (here {compressai_cache_dir()}), shared with CompressAI; from "
        f"${MIRROR_ENV} when it is set (a mirror: the files are checked against the official hashes), "
        "else from CompressAI's host. An interrupted download resumes where it stopped.",
    )
    p.add_argument("--metric", default="mse", choices=METRICS, help="the weights trained for this metric")
    p.set_defaults(handler=cmd_fetch_weights)

    p = sub.add_parser("export-bundle", help="turn a finished ladder run into the bundled weights + manifest")
    p.add_argument("run_dir", metavar="TRAIN_OUT_DIR")
    p.add_argument("--eval", metavar="DIR", help="measure each level on these images for the manifest")
    p.add_argument("--dest", metavar="DIR", help="default: the package's bundled weights folder")
    p.add_argument("--metric", choices=METRICS, help="default: inferred from the training records' λ")
    p.add_argument("--training-data", default=TRAINING_DATA, help=f"default: {TRAINING_DATA!r}")
    p.set_defaults(handler=cmd_export_bundle)
    return parser


def _train_defaults():
    from lci_studio.codec.training import TrainConfig

    return TrainConfig(data=Path("."), out=Path("."))
