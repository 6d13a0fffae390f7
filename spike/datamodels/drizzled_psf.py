"""Drizzled PSF cutouts of the requested sources on one mosaic's pixel grid."""

import logging

import numpy as np
from astropy.modeling.models import Shift
from gwcs import WCS

from ._base import SourceTableMixin, SpikeDataModel

__all__ = ["DrizzledPSFModel"]

log = logging.getLogger(__name__)


class DrizzledPSFModel(SourceTableMixin, SpikeDataModel):
    """
    Every source's drizzled PSF cutout on one science mosaic's pixel grid.

    Attributes
    ----------
    data, wht : numpy.ndarray
        float32 ``(n_sources, ny, nx)`` drizzled PSF and weight (SCI, WHT).
    con : numpy.ndarray
        int32 ``(n_sources, n_planes, ny, nx)`` context bit planes (CON).
    sources : numpy.ndarray
        Structured table (SOURCES), one row per cutout: ``id``, ``ra``,
        ``dec`` (deg), ``x``, ``y`` (0-based position in the full mosaic),
        ``xstart``, ``ystart`` (0-based mosaic pixel of the cutout's
        ``[0, 0]`` pixel), ``n_exposures`` and ``psf_sum``.
    exposures : numpy.ndarray
        Structured table (EXPOSURES), one row per input exposure:
        ``filename``, ``instrument``, ``detector``, ``filter``, ``pupil``.
    contributions : numpy.ndarray
        uint8 ``(n_sources, n_exposures)``, 1 where the exposure contributed
        to the source's PSF (CONTRIB).
    meta.wcs : gwcs.WCS
        WCS of the full mosaic.
    """

    schema_url = "asdf://spike-psf.org/spike/schemas/drizzled_psf-1.0.0"

    def cutout_wcs(self, i):
        """
        Get the WCS of one source's cutout.

        The mosaic pipeline with ``Shift(xstart) & Shift(ystart)`` prepended
        to its first transform, so cutout pixel ``(0, 0)`` is mosaic pixel
        ``(xstart, ystart)``. Frames are the mosaic's.

        Parameters
        ----------
        i : int
            Index of the source (plane of ``data``, row of ``sources``).

        Returns
        -------
        gwcs.WCS
            The cutout WCS, with a bounding box and ``array_shape`` of the
            cutout.

        Raises
        ------
        ValueError
            If the model has no ``meta.wcs`` or no ``data``.
        """
        mosaic_wcs = self.meta.wcs
        if mosaic_wcs is None or self.data is None:
            msg = "cutout_wcs needs both meta.wcs and data."
            raise ValueError(msg)
        row = self._source_row(i)
        shift = Shift(int(row["xstart"])) & Shift(int(row["ystart"]))
        steps = [(step.frame, step.transform) for step in mosaic_wcs.pipeline]
        steps[0] = (steps[0][0], shift | steps[0][1])
        cutout = WCS(steps)
        ny, nx = self.data.shape[-2:]
        cutout.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
        cutout.array_shape = (ny, nx)
        return cutout

    def normalized(self, i):
        """
        Get one source's drizzled PSF divided by its ``psf_sum``.

        Parameters
        ----------
        i : int
            Index of the source.

        Returns
        -------
        numpy.ndarray
            float32 ``(ny, nx)`` PSF cutout normalized to unit sum.

        Raises
        ------
        ValueError
            If ``psf_sum`` of the source is zero or not finite.
        """
        psf_sum = float(self._source_row(i)["psf_sum"])
        if psf_sum == 0 or not np.isfinite(psf_sum):
            msg = f"Cannot normalize source {i}: psf_sum is {psf_sum}."
            raise ValueError(msg)
        return (self.data[i] / psf_sum).astype(np.float32)
