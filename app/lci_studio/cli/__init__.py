"""The `lci` command line: encode, decode, inspect, compare, benchmark, train and ship.

Every failure is reported as one line on stderr (``lci: error: …``) with exit status 2 for
usage mistakes and 1 for everything else (130 when interrupted), never a traceback, so the
command is safe in scripts. Outputs are written through a temp file and renamed, so a failed
run never leaves a partial file. Set ``LCI_DEBUG=1`` to get tracebacks of unexpected errors.

Outputs are checked before any work (their folder exists and takes a file, they are not a folder,
not an input): a mistake costs a second, not the minutes of a big picture. One overwrite rule for
every command: an existing output is replaced, unless ``--no-clobber`` is given.

The package: `parser` (the grammar), one module per group of subcommands (`encode`: encode, decode,
info; `bench`: compare, bench; `train`: train, export-bundle; `fetch`: fetch-weights and the weights
every command opens), and what they share (`files`: reads, writes, output checks; `terminal`: what is
printed while working; `failures`: the errors and their command-line wording). `main` is here.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from lci_studio.cli.failures import CliError, UsageError, error_text, one_line
from lci_studio.cli.parser import PROG, build_parser
from lci_studio.codec.errors import USER_ERRORS

__all__ = ["build_parser", "error_text", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `lci` command; return its exit status (0 ok, 1 failure, 2 usage, 130 interrupted)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help / --version
            return int(exc.code or 0)
        return args.handler(args)
    except UsageError as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except (CliError, *USER_ERRORS) as exc:
        print(f"{PROG}: error: {one_line(error_text(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: {where}{one_line(exc.strerror or str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("LCI_DEBUG"):
            raise
        print(f"{PROG}: error: unexpected {type(exc).__name__}: {one_line(str(exc))}", file=sys.stderr)
        return 1
