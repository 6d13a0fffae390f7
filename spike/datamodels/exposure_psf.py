"""Model PSF stamps of the requested sources in one exposure."""

import logging

from ._base import SourceTableMixin, SpikeDataModel

__all__ = ["ExposurePSFModel"]

log = logging.getLogger(__name__)


class ExposurePSFModel(SourceTableMixin, SpikeDataModel):
    """
    The model PSF stamps of every requested source in one exposure.

    Attributes
    ----------
    data : numpy.ndarray
        float32 ``(n_sources, ny, nx)`` oversampled effective-PSF cube (SCI).
    sources : numpy.ndarray
        Structured table (SOURCES), one row per plane of ``data``: ``id``,
        ``ra``, ``dec`` (deg), ``x``, ``y`` (0-based detector position),
        ``xstart``, ``ystart`` (0-based detector pixel where the
        detector-sampled stamp starts) and ``psf_sum`` (fraction of the
        flux inside the stamp).
    meta.oversampling, meta.stamp_size : int
        Oversampling factor of ``data`` and stamp size in detector pixels.
    meta.exposure : object
        ``filename``, ``exposure_type`` and ``chip`` of the exposure.
    """

    schema_url = "asdf://spike-psf.org/spike/schemas/exposure_psf-1.0.0"

    @property
    def oversampling(self):
        """int: ``meta.oversampling``, else ``meta.psf.oversampling``, else 1."""
        return self.meta.oversampling or self.meta.psf.oversampling or 1

    def to_imagepsf(self, i):
        """
        Get the PSF of one source as a photutils model at its detector position.

        Parameters
        ----------
        i : int
            Index of the source (plane of ``data``, row of ``sources``).

        Returns
        -------
        photutils.psf.ImagePSF
            The PSF with ``x_0``, ``y_0`` at the source's detector position.
        """
        from photutils.psf import ImagePSF

        row = self._source_row(i)
        return ImagePSF(
            self.data[i],
            oversampling=self.oversampling,
            x_0=float(row["x"]),
            y_0=float(row["y"]),
        )
