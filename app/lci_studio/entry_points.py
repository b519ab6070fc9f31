"""Console-script targets: Ctrl-C gives one line and exit status 130 from the first instant.

`lci_studio.cli` and the window import torch, which takes seconds; a Ctrl-C during that import
used to print a KeyboardInterrupt traceback. These targets import nothing heavy themselves and
catch the interrupt around the import; once running, `cli.main` and the window handle it.
Only the interpreter's own start-up, before any project code runs (tens of milliseconds, longer
on a loaded machine), still ends with Python's traceback: nothing in Python can catch it.
"""

from __future__ import annotations

import sys


def lci() -> int:
    try:
        from lci_studio.cli import main
    except KeyboardInterrupt:
        print("lci: interrupted", file=sys.stderr)
        return 130
    return main()


def lci_studio() -> int:
    try:
        from lci_studio.gui.quitting import note_ctrl_c  # light: Qt is imported later

        note_ctrl_c()
        from lci_studio.gui.main import main

        return main()
    except KeyboardInterrupt:
        print("lci-studio: interrupted", file=sys.stderr)
        return 130
