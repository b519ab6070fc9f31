"""LCI Studio's data files (bundled weights, sample photos, icons), installed as `lci_studio.resources`.

`root()` is the one place that locates them, for the weights, the samples, the icon and the
self-test alike: the folder of this very file, which is `resources/` in a source checkout, the
package folder in a wheel, and `_internal/lci_studio/resources` in the frozen bundle, where
PyInstaller collects the data files next to the module's `__file__`. (`importlib.resources.files`
is no `Path` there, and the fallbacks that assumed one looked in a folder that does not exist:
the installed app's Samples menu was empty.)
"""

from __future__ import annotations

from pathlib import Path


def root() -> Path:
    """The folder holding `weights/`, `samples/` and `icons/`."""
    return Path(__file__).resolve().parent


def sample_photos() -> list[Path]:
    """The shipped sample photos (their licences are in samples/LICENSES.md), sorted by name."""
    from lci_studio.codec.image_io import IMAGE_SUFFIXES

    folder = root() / "samples"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def icon_path() -> Path:
    """The application icon (SVG): the window's, the desktop entry's and the self-test's."""
    return root() / "icons" / "lci-studio.svg"
