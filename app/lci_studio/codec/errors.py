"""The core's errors that a person can act on, in one tuple for every face.

Each is one sentence that fits any face, shown as it is (the CLI and the window add their own advice,
`cli/failures.error_text` and `gui/error_wording.readable`); any other exception is a fault and is shown with its type.
"""

from __future__ import annotations

from lci_studio.codec.bundle import BundleError
from lci_studio.codec.image_io import ImageReadError
from lci_studio.codec.lci_format import LciFormatError
from lci_studio.codec.pipeline import WeightsMismatchError
from lci_studio.codec.refinement import RefinementError
from lci_studio.codec.weights import WeightsError

USER_ERRORS: tuple[type[Exception], ...] = (
    ImageReadError, LciFormatError, WeightsMismatchError, WeightsError, BundleError, RefinementError
)
