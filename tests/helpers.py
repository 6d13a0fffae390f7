"""Test helpers: an analytic Gaussian PSF method and file digests."""

import hashlib
import shutil

import numpy as np
import pytest

from spike.psf.base import PSFMethod, PSFModel

__all__ = ["GaussianPSFMethod", "GaussianPSFModel", "file_digests", "needs_psfex"]

#: Skip marker for tests that run Source Extractor and PSFEx (Debian packages).
needs_psfex = pytest.mark.skipif(
    shutil.which("psfex") is None
    or (shutil.which("source-extractor") is None and shutil.which("sex") is None),
    reason="Source Extractor and PSFEx are not installed (Debian packages source-extractor "
           "and psfex: apt-get install source-extractor psfex)")


class GaussianPSFModel(PSFModel):
    """A circular Gaussian ePSF (an analytic PSF, not a mock of any component)."""

    def __init__(self, sigma, oversampling):
        self.sigma = sigma
        self.oversampling = oversampling

    def evaluate(self, x, y, *, size):  # noqa: ARG002 - position independent
        n = size * self.oversampling
        c = (n - 1) / 2
        yy, xx = np.mgrid[0:n, 0:n]
        s = self.sigma * self.oversampling
        g = np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * s**2))
        return g / g.sum() * self.oversampling**2


class GaussianPSFMethod(PSFMethod):
    """Analytic Gaussian PSF method used where the PSF shape does not matter (fast)."""

    name = "test_gaussian"
    missions = ("jwst",)

    def __init__(self, *, sigma=1.0, oversampling=4):
        super().__init__(oversampling=oversampling, sigma=sigma)
        self.sigma = sigma

    def prepare(self, detector):  # noqa: ARG002
        return GaussianPSFModel(self.sigma, self.oversampling)


def file_digests(directory):
    """Return {name: sha256} of every file in ``directory`` (to prove inputs unchanged)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}
