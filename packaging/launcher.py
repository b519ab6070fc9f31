"""Entry point of the standalone build: one bundle, two commands.

The bundle holds one executable, `lci-studio`; `lci` is a symbolic link to it (torch and Qt are
~750 MB, so a second executable with its own copy of the Python archive would only add size).
The name it was started by chooses the command.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    if os.path.basename(sys.argv[0]) in {"lci", "lci.exe"}:
        from lci_studio.cli import main as cli_main

        return cli_main()
    from lci_studio.gui.main import main as studio_main

    return studio_main()


if __name__ == "__main__":
    sys.exit(main())
