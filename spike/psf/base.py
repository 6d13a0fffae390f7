"""The interface every PSF back-end implements.

A PSF back-end ("method") is prepared **once per exposure (or chip)** and then evaluated at
any number of detector positions. Back-ends know optics or empirical models; they never
resample.

Conventions shared by all back-ends
-----------------------------------
* Detector coordinates are 0-based pixel indices of the exposure's data array, ``x`` along
  columns and ``y`` along rows; the centre of the first pixel is ``(0, 0)``.
* `PSFModel.evaluate` returns an *oversampled effective PSF* (ePSF): samples of the PSF
  already integrated over the detector pixel response, on a grid ``oversampling`` times finer
  than the detector pixels and aligned with the detector axes. The PSF centre (the point
  whose image it is) lies at the array centre ``((n - 1) / 2, (n - 1) / 2)``.
* Normalisation follows `photutils.psf.ImagePSF`: the array sums to ``oversampling**2`` times
  the fraction of the source flux that falls inside the stamp, so
  ``ImagePSF(array, oversampling=oversampling)`` evaluated on detector pixels sums to that
  fraction (about 1).
"""

import abc
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

__all__ = ["DetectorInfo", "ExposurePixels", "PSFModel", "PSFMethod"]


@dataclass(frozen=True)
class DetectorInfo:
    """What a PSF back-end may know about one exposure (or one chip of it).

    Parameters
    ----------
    mission : str
        ``"jwst"``, ``"roman"`` or ``"hst"``.
    instrument : str
        Instrument name as the mission writes it (``"NIRCAM"``, ``"WFI"``, ``"ACS"``).
    detector : str
        Detector / SCA / chip name (``"NRCA1"``, ``"WFI01"``, ``"HRC"``).
    filter : str
        Optical element that defines the band (for NIRCam, a narrow-band pupil-wheel filter
        such as ``F405N`` is passed here, not the wide filter it is crossed with).
    pupil : str or None
        Pupil element as written by the mission (``"CLEAR"``), or `None`.
    wcs : object
        The exposure's WCS: a `gwcs.wcs.WCS` (JWST, Roman) or `astropy.wcs.WCS` (HST) taking
        0-based detector ``(x, y)`` to sky ``(ra, dec)`` in degrees. JWST gwcs objects have
        the frames ``detector``, ``v2v3`` and ``world``.
    shape : tuple of int
        ``(ny, nx)`` of the exposure's data array.
    filename : str
        Name of the exposure file (for messages and provenance).
    extra : dict
        Mission specific extras (e.g. ``exposure_time``, ``chip``); never required by the
        generic code.
    pixels : callable or None
        ``pixels() -> ExposurePixels``: loads the exposure's (chip's) science pixels, for
        empirical methods that build the PSF from the exposure's own stars. Set by the
        mission adapters; None when the pixels are not available (e.g. a hand-made
        `DetectorInfo`).
    """

    mission: str
    instrument: str
    detector: str
    filter: str
    pupil: str | None
    wcs: Any
    shape: tuple[int, int]
    filename: str = ""
    extra: dict = field(default_factory=dict)
    pixels: Any = field(default=None, repr=False, compare=False)

    def label(self):
        """Return a short human readable label, e.g. ``'NIRCAM/NRCA1 F200W'``."""
        return f"{self.instrument}/{self.detector} {self.filter}"


@dataclass(frozen=True)
class ExposurePixels:
    """The science pixels of one exposure (or chip), as empirical PSF methods need them.

    Parameters
    ----------
    data : numpy.ndarray
        2-D science array in the exposure's own units (NaN allowed). A read-only view
        of the exposure: never modify it.
    good : numpy.ndarray
        Boolean array, True where the pixel is usable: finite data and no DQ flag outside
        the mission's (or the run's) good bits.
    saturated : numpy.ndarray or None
        Boolean array, True where the mission's DQ marks saturation (JWST/Roman
        ``SATURATED``, HST 256 and 2048); None when unknown.
    err : numpy.ndarray or None
        1-sigma uncertainty array in the units of ``data``, or None.
    """

    data: np.ndarray
    good: np.ndarray
    saturated: np.ndarray | None = None
    err: np.ndarray | None = None


class PSFModel(abc.ABC):
    """A PSF prepared for one exposure, evaluated at detector positions.

    Attributes
    ----------
    oversampling : int
        Oversampling factor of the arrays returned by `evaluate`.
    diagnostics : mapping
        What the back-end wants recorded about this exposure's model in the products
        (``meta.psf.diagnostics`` of the exposure PSFs, ``meta.psf.exposures`` of the
        drizzled PSFs): plain values only (numbers, strings, booleans, lists and dicts of
        them), e.g. the number of stars a model was built or fitted from, fitted
        parameters with their errors, residuals. Empty by default; back-ends assign a new
        dict in `PSFMethod.prepare`.
    """

    oversampling: int = 4
    diagnostics: ClassVar = MappingProxyType({})

    @abc.abstractmethod
    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position of the source.
        size : int
            Odd stamp width and height in *detector* pixels.

        Returns
        -------
        psf : `numpy.ndarray`
            Array of shape ``(size * oversampling, size * oversampling)``, float64,
            normalised as described in the module docstring.
        """


class PSFMethod(abc.ABC):
    """A named way to make PSFs (a back-end), registered in `spike.psf.registry`.

    Subclasses set `name` and `missions`, take their options as keyword arguments and
    implement `prepare`.

    Parameters
    ----------
    oversampling : int, optional
        Oversampling factor of the PSFs produced.
    **params
        Method specific options (see each method).
    """

    #: Registry name (the value of ``--method``).
    name: ClassVar[str] = ""
    #: Missions this method supports.
    missions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, oversampling=4, **params):
        oversampling = int(oversampling)
        if oversampling < 1:
            msg = f"oversampling must be a positive integer, got {oversampling}"
            raise ValueError(msg)
        self.oversampling = oversampling
        self.params = dict(params)

    def supports(self, detector):
        """Return True when this method can model ``detector`` (a `DetectorInfo`)."""
        return detector.mission in self.missions

    def describe(self):
        """Return the method's name and parameters, as recorded in output products.

        Returns
        -------
        dict
            ``{"method": name, "oversampling": int, **params}`` with plain values.
        """
        out = {"method": self.name, "oversampling": self.oversampling}
        for key, value in self.params.items():
            if isinstance(value, (str, int, float, bool)) or value is None:
                out[key] = value
            elif isinstance(value, np.generic):
                out[key] = value.item()
            else:
                out[key] = repr(value)
        return out

    @abc.abstractmethod
    def prepare(self, detector):
        """Do the per-exposure work once and return a `PSFModel`.

        Parameters
        ----------
        detector : `DetectorInfo`
            The exposure (or chip) to model.

        Returns
        -------
        `PSFModel`

        Raises
        ------
        spike.exceptions.PSFMethodError
            When the method cannot model this detector / filter.
        spike.exceptions.PSFDataUnavailableError
            When data or programs the method needs are not installed.
        """
