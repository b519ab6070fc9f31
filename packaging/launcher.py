"""Entry point of the standalone build: one bundle, two commands.

The bundle holds one executable, `lci-studio`; `lci` is a symbolic link to it (torch and Qt are
~750 MB, so a second executable with its own copy of the Python archive would only add size).
The name it was started by chooses the command.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    """The console scripts' own targets (pyproject.toml), so both builds behave alike (Ctrl-C included)."""
    from lci_studio import entry_points

    if os.path.basename(sys.argv[0]) in {"lci", "lci.exe"}:
        return entry_points.lci()
    return entry_points.lci_studio()


if __name__ == "__main__":
    sys.exit(main())
