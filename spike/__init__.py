"""spike: the correctly co-added (drizzled) PSF of HST, JWST and Roman mosaics.

spike models the PSF of every exposure at a source's detector position and pushes
those PSFs through the same resampling that made the science mosaic.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spike")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["__version__"]
