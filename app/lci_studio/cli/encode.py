"""`lci encode`, `lci decode` and `lci info`: one picture to a .lci file and back, and what a file says."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lci_studio.cli.failures import UsageError
from lci_studio.cli.fetch import load_quality, open_source
from lci_studio.cli.files import check_outputs, read_file, write_file
from lci_studio.cli.terminal import big_picture_progress, refine_progress, say
from lci_studio.codec.decoding import candidate_sources, decode_file
from lci_studio.codec.image_io import encode_png, load_rgb
from lci_studio.codec.lci_format import HEADER_SIZE, unpack_lci
from lci_studio.codec.number_format import format_bpp
from lci_studio.codec.pipeline import decode_lci, encode_image
from lci_studio.codec.refinement import Encoder, RefinementError, encoder_for, lambda_band, refined_encode
from lci_studio.codec.report import number_text


def chosen_encoder(args: argparse.Namespace) -> Encoder:
    """The encoder `--effort`, `--steps` (and encode's `--lambda`) name; refinement is for MSE-trained weights
    (a usage error otherwise)."""
    try:
        encoder = encoder_for(args.effort, args.steps, lmbda=getattr(args, "lmbda", None))
    except ValueError as exc:
        raise UsageError(f"--lambda: {exc}") from None
    if encoder.refines and getattr(args, "metric", "mse") != "mse":
        raise UsageError(
            f"--effort {args.effort} refines the latents for MSE-trained weights; with --metric {args.metric} "
            "use --effort fast"
        )
    return encoder


def cmd_encode(args: argparse.Namespace) -> int:
    from lci_studio.codec.metrics import psnr_rgb

    check_outputs([args.output], [args.image], args.no_clobber)
    encoder = chosen_encoder(args)
    image = load_rgb(args.image)
    source = open_source(args.weights, args.metric, quality_label=args.quality)
    loaded = load_quality(source, args.quality)
    if encoder.lmbda is not None:
        try:
            lambda_band(loaded.info).check(encoder.lmbda)
        except RefinementError as exc:
            raise UsageError(f"--lambda: {exc}") from None
    tiles = big_picture_progress(image.name, image.width, image.height)
    encoding = (lambda done, total: tiles(f"q{args.quality} encode", done, total)) if tiles else None
    decoding = (lambda done, total: tiles(f"q{args.quality} decode", done, total)) if tiles else None
    started = time.perf_counter()
    note = ""
    if encoder.refines:
        refining = refine_progress(encoder, f"q{args.quality} refine")
        refined = refined_encode(loaded, image.pixels, encoder, encoding=encoding, refining=refining)
        encoded = refined.encoded
        change = refined.objective / refined.plain_objective - 1
        note = (
            "; kept the plain latents: refinement did not lower R + λ·D"
            if refined.kept_plain
            else f"; R + λ·D {refined.plain_objective:.4f} → {refined.objective:.4f} ({change:+.1%}) against plain"
        )
    else:
        encoded = encode_image(loaded, image.pixels, with_bit_map=False, progress=encoding)
    seconds = time.perf_counter() - started
    write_file(args.output, encoded.lci)
    psnr = psnr_rgb(image.pixels, decode_lci(encoded.lci, loaded, progress=decoding))
    size = len(encoded.lci)
    say(
        f"{args.output}: {size:,} bytes, {format_bpp(size * 8 / (image.width * image.height))}, "
        f"PSNR {number_text(psnr, '.2f')} dB (quality {args.quality}, {source.describe()}, {encoder.describe()}, "
        f"encoded in {seconds:.2f} s{note}" + (f"; {image.name}: {image.note})" if image.note else ")")
    )
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    check_outputs([args.output], [args.file], args.no_clobber)
    data = read_file(args.file)
    header, _ = unpack_lci(data)
    # Which weights decode it is the codec's rule (codec/decoding.py); named weights are the only ones tried.
    offered = [open_source(args.weights, header.metric, quality_label=header.quality)] if args.weights else []
    candidates = candidate_sources(header, offered, own_kind=args.weights is None, download=True)
    tiles = big_picture_progress(Path(args.file).name, header.width, header.height)
    decoding = (lambda done, total: tiles("decode", done, total)) if tiles else None
    decoded = decode_file(data, candidates, load=load_quality, progress=decoding)
    write_file(args.output, encode_png(decoded.pixels))
    say(
        f"{args.output}: {header.width}x{header.height} PNG, quality {header.quality}, "
        f"decoded in {decoded.seconds:.2f} s"
    )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    data = read_file(args.file)
    header, payload = unpack_lci(data)
    pixels = header.width * header.height
    sizes = f"{len(data):,} bytes ({HEADER_SIZE} header, {len(payload):,} payload, 4 CRC-32)"
    say(f"{args.file}: .lci v{header.version}, {sizes}")
    say(f"  model    {header.family} {header.metric} quality {header.quality} (N={header.N}, M={header.M})")
    say(f"  weights  {header.source_kind}, fingerprint {header.fingerprint}")
    say(
        f"  image    {header.width}x{header.height}, padded to {header.padded_size[1]}x{header.padded_size[0]} "
        f"(offset {header.pad_left},{header.pad_top})"
    )
    say(f"  latent   {header.M}x{header.latent_height}x{header.latent_width}")
    say(f"  rate     {format_bpp(len(data) * 8 / pixels)}, ratio {pixels * 3 / len(data):.1f}:1 to raw 24-bit RGB")
    return 0
