"""`python -m lci_studio.cli …` (what `torchrun … -m lci_studio.cli train …` runs): the `lci` command."""

import sys

from lci_studio.cli import main

sys.exit(main())
