"""What `lci` prints while it works: results on stdout, notes and progress (bars on a terminal, lines
elsewhere) on stderr, and only from rank 0 of a torchrun job."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from lci_studio.codec import image_io
from lci_studio.codec.refinement import Encoder


def say(text: str = "") -> None:
    print(text, flush=True)


def note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def is_main_rank() -> bool:
    """Only rank 0 of a torchrun job talks."""
    return int(os.environ.get("RANK", "0")) == 0


def tty() -> bool:
    return sys.stderr.isatty()


def big_picture_progress(name: str, width: int, height: int) -> Callable[[str, int, int], None] | None:
    """For a picture over `image_io.LARGE_IMAGE_PIXELS`: one line on stderr that says how large it is,
    then its progress tile by tile, as (what, tiles done, tiles in all): a bar on a terminal, a line
    as each transform ends elsewhere. None (and nothing said) for a smaller picture."""
    if not image_io.is_large(width, height):
        return None
    print(
        f"{name}: {image_io.describe_size(width, height)}, over {image_io.LARGE_IMAGE_PIXELS / 1e6:.0f} MP: "
        "each quality takes a while; progress is shown tile by tile",
        file=sys.stderr,
        flush=True,
    )
    bars = _StepBars("tile")

    def step(what: str, done: int, total: int) -> None:
        if not tty():
            if done >= total:
                print(f"  {what}: {total} of {total} tiles", file=sys.stderr, flush=True)
            return
        bars.step(what, done, total)

    return step


def refine_progress(encoder: Encoder, label: str) -> Callable[[int, int], None] | None:
    """A bar of refinement steps on a terminal (a refined quality takes seconds to minutes); None otherwise."""
    if not encoder.refines or not tty():
        return None
    bars = _StepBars("step")
    return lambda done, total: bars.step(label, done, total)


class _StepBars:
    """tqdm bars on stderr, one at a time: made at a step of a new description (tqdm imported only then),
    closed at the last step."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        self.bar: Any = None

    def step(self, description: str, done: int, total: int) -> None:
        if self.bar is not None and self.bar.desc != description:
            self.bar.close()
            self.bar = None
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=description, unit=self.unit, file=sys.stderr, leave=False)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()
            self.bar = None
