"""What every mission adapter provides to the mission-independent code.

A mission adapter is the only code that knows a mission's datamodels, header keywords and
resample software. It opens the science exposures (never modifying them), describes each one
as a `~spike.psf.base.DetectorInfo`, works out the science mosaic's output grid, and
resamples PSF stamps with the mission's own resample code.
"""

import abc
import logging
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

__all__ = ["OutputGrid", "Stamp", "MissionAdapter", "check_duplicates", "report_unusable"]

log = logging.getLogger(__name__)


@dataclass
class OutputGrid:
    """The science mosaic's output grid and the resample parameters used to make it.

    Parameters
    ----------
    wcs : object
        The full mosaic WCS (0-based pixels → sky).
    shape : tuple of int
        ``(ny, nx)`` of the full mosaic.
    pixel_scale : float
        Output pixel scale in arcsec, as the resample code uses it.
    pixel_scale_ratio : float or None
        Output to input pixel-scale ratio, as the resample code uses it.
    source : str
        Where the grid came from: ``"reference_mosaic"``, ``"output_wcs"`` or ``"computed"``.
    reference : str or None
        File name of the reference mosaic or custom WCS file.
    pars : dict
        Resample parameters (``pixfrac``, ``kernel``, ``fillval``, ``weight_type``,
        ``good_bits``, ``pixmap_stepsize``, ``pixmap_order``).
    """

    wcs: Any
    shape: tuple
    pixel_scale: float
    pixel_scale_ratio: float | None
    source: str
    reference: str | None = None
    pars: dict = field(default_factory=dict)


@dataclass
class Stamp:
    """A detector-sampled PSF cutout of one exposure, ready to be resampled.

    Parameters
    ----------
    exposure : int
        Index of the exposure in the adapter.
    box : spike.stamps.geometry.Box
        Where the cutout sits in the exposure's data array.
    data : numpy.ndarray
        The PSF values on the cutout's pixels (zero away from the PSF stamp).
    """

    exposure: int
    box: Any
    data: Any


class MissionAdapter(abc.ABC):
    """Base class of the mission adapters (JWST, Roman, HST)."""

    #: Mission name, as in `~spike.psf.base.DetectorInfo.mission`.
    mission: ClassVar[str] = ""

    #: Name of the output product (association product name or derived from inputs).
    product_name: str = ""

    def _open_models(self, items, *, open_one, check_one):
        """Open and check every exposure; on any failure close what was opened and re-raise.

        Every model's WCS is checked for an inverse transform (`exposure_wcs`), and the
        same exposure may not be given twice (`check_duplicates`).

        Parameters
        ----------
        items : list
            Paths or already open models (from `spike.missions._inputs.expand_input`).
        open_one : callable
            ``open_one(item) -> model`` (returns ``item`` itself when already a model).
        check_one : callable
            ``check_one(model, name)`` raising for an unusable exposure.
        """
        from spike.stamps.wcs_inverse import with_fitted_inverse

        check_duplicates(items)
        self.models, self._opened, self._wcs, self._inverse_fits = [], [], [], []
        try:
            for item in items:
                model = open_one(item)
                if model is not item:
                    self._opened.append(model)
                name = getattr(model.meta, "filename", None) or str(item)
                check_one(model, name)
                self.models.append(model)
                # spike's own WCS object: a copy with a fitted inverse when it has none
                wcs, fit = with_fitted_inverse(model.meta.wcs, tuple(model.data.shape),
                                               name=name)
                self._wcs.append(wcs)
                self._inverse_fits.append(fit)
            self._check_single_band()
        except Exception:
            self.close()
            raise

    def exposure_wcs(self, index):
        """The WCS spike uses for exposure ``index`` (its own, with an inverse; see
        `spike.stamps.wcs_inverse`) and the `~spike.stamps.wcs_inverse.InverseFit` or None."""
        return self._wcs[index], self._inverse_fits[index]

    def _check_single_band(self):
        """Raise ValueError when the exposures mix instruments or filters."""
        bands = {}
        for e in range(self.n_exposures):
            det = self.detector_info(e)
            key = f"{det.instrument} {det.filter}" + (f"/{det.pupil}" if det.pupil else "")
            bands[key] = bands.get(key, 0) + 1
        if len(bands) > 1:
            listing = "; ".join(f"{key}: {n} exposure(s)" for key, n in bands.items())
            msg = ("The input mixes instruments or filters, but one drizzled product is made "
                   f"from one band ({listing}); give one association per filter, as the "
                   "pipelines' level-3 associations do")
            raise ValueError(msg)

    def close(self):
        """Close the exposures this adapter opened (models passed in stay open)."""
        for model in getattr(self, "_opened", []):
            model.close()
        self._opened = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @property
    @abc.abstractmethod
    def n_exposures(self):
        """Number of exposures (chips count separately)."""

    @abc.abstractmethod
    def detector_info(self, index):
        """Return the `~spike.psf.base.DetectorInfo` of exposure ``index``."""

    @abc.abstractmethod
    def output_grid(self, *, reference_mosaic=None, output_wcs=None, **pars):
        """Return the science mosaic's `OutputGrid`."""

    @abc.abstractmethod
    def resample_stamps(self, stamps, grid, box):
        """Resample ``stamps`` onto the cutout ``box`` of ``grid`` with the mission's code.

        Parameters
        ----------
        stamps : list of Stamp
            One stamp per contributing exposure.
        grid : OutputGrid
            The full output grid.
        box : spike.stamps.geometry.Box
            The (padded) output cutout.

        Returns
        -------
        data, wht : numpy.ndarray
            Resampled PSF and weight on ``box``.
        con : numpy.ndarray
            Context bit planes ``(n_planes, ny, nx)`` in which bit ``j`` stands for
            ``stamps[j]``.
        """


def report_unusable(adapter):
    """Warn about exposures with no usable pixel (data all NaN or every pixel flagged).

    Such an exposure contributes no weight anywhere: a drizzled PSF made only from such
    exposures is empty (see `spike.coadd.check_contributions`).

    Parameters
    ----------
    adapter : MissionAdapter
        The exposures; each `~spike.psf.base.DetectorInfo.pixels` gives the good-pixel mask
        (finite data, DQ flags the mission's resample code keeps).

    Returns
    -------
    list of int
        Indices of the unusable exposures.
    """
    bad = []
    for e in range(adapter.n_exposures):
        det = adapter.detector_info(e)
        if det.pixels is None:
            continue
        pixels = det.pixels()
        if np.any(pixels.good):
            continue
        data = np.asarray(pixels.data)
        why = ("its data are all NaN" if not np.isfinite(data).any()
               else "every pixel is flagged in its DQ array")
        log.warning("Exposure %s (%s) has no usable pixel: %s; it contributes nothing",
                    det.filename, det.label(), why)
        bad.append(e)
    return bad


def check_duplicates(items):
    """Raise ValueError when the same exposure is given twice.

    Files are compared by resolved path, open models by identity: an exposure listed twice
    would count twice in the drizzled PSF.

    Parameters
    ----------
    items : list
        Paths or models, as given.
    """
    from pathlib import Path

    seen = {}
    for k, item in enumerate(items):
        if isinstance(item, (str, Path)):
            key = ("path", str(Path(item).resolve()))
            label = str(item)
        else:
            key = ("model", id(item))
            label = str(getattr(item.meta, "filename", None) or f"model {k}")
        if key in seen:
            msg = (f"Exposure {label} is given twice (inputs {seen[key] + 1} and {k + 1}); "
                   "each exposure counts once in a drizzled PSF: remove the repeat from the "
                   "association or list")
            raise ValueError(msg)
        seen[key] = k
