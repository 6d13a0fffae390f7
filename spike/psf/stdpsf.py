"""STScI empirical PSF libraries (STDPSF files), ``--method stdpsf``.

STDPSF files are Jay Anderson's empirical effective-PSF (ePSF) libraries for HST (ACS,
WFC3, WFPC2) and JWST (NIRCam, NIRISS, MIRI): a FITS primary cube of ePSFs (typically
101 x 101 samples, 4 x oversampled) measured on a grid of detector positions given by the
header keywords ``NXPSFS``, ``NYPSFS``, ``IPSFXnn`` and ``JPSFYnn`` (1-based). They are
read with photutils (``GriddedPSFModel.read(..., format="stdpsf")``). spike does not ship
or download them; the ``psf_path`` option names one file or a directory of files the user
downloaded from STScI. Roman WFI is supported only with a user-made file in this format.

File names
----------
``STDPSF_<DET>_<FILTER>[_<tag>].fits`` (also ``.fits.gz``, ``.fit``, ``.fts``;
case-insensitive), ``<FILTER>`` the exposure's filter (``F606W``) and ``<DET>``:

==========================  =======================================================
Exposure (instrument/det.)  ``<DET>`` tokens accepted, preferred first
==========================  =======================================================
ACS/WFC1, ACS/WFC2          ``ACSWFC`` (one file holds both chips)
ACS/HRC, ACS/SBC            ``ACSHRC``, ``ACSSBC``
WFC3/UVIS1, WFC3/UVIS2      ``WFC3UV`` (one file holds both chips)
WFC3/IR                     ``WFC3IR``
WFPC2/PC1, WF2, WF3, WF4    ``WFPC2`` (one file holds the four chips)
NIRCAM/NRCA1 ... NRCB4      ``NRCA1`` ... ``NRCB4``, then ``NRCSW`` (all eight)
NIRCAM/NRCALONG, NRCBLONG   ``NRCAL``, ``NRCA5``, ``NRCALONG`` (``B`` likewise)
NIRISS/NIS                  ``NIRISS``, ``NIS``
MIRI/MIRIMAGE               ``MIRI``, ``MIRIMAGE``
WFI/WFI01 ... WFI18         ``WFI01`` ... ``WFI18``, ``SCA01`` ... ``SCA18``
==========================  =======================================================

In a **directory** the first token with a file for the exposure's filter wins; an
untagged name wins over a single tagged one (``_SM4``); several tagged files and no
untagged one is an error. A **file** named this way must name one of the exposure's
tokens and its filter; a file named otherwise is accepted, checked against its optional
``INSTRUME``, ``DETECTOR`` and ``FILTER`` header keywords (a warning is logged when it
has none). Multi-detector libraries must keep their STDPSF name.

Coordinates
-----------
The library grid is in the 0-based frame of one chip's full data array (the
``flt``/``flc``/``cal`` frame). For the two-chip ACS/WFC and WFC3/UVIS libraries, whose
grid spans both chips (chip 2, ``SCI,1``, below chip 1, ``SCI,2``), photutils'
``detector_id`` selects the chip (2 for WFC1/UVIS1, 1 for WFC2/UVIS2) and moves the grid
to that chip's own frame; likewise for WFPC2 (``detector_id`` = detector number) and
NIRCam ``NRCSW`` (1-4 = A1-A4, 5-8 = B1-B4). A subarray's origin on the full chip,
``extra["chip_origin"]`` (HST, 0-based) or ``extra["substrt1"/"substrt2"]`` (JWST,
1-based), is added to the source position first.

The ePSF at a position is photutils' bilinear interpolation between the four surrounding
grid ePSFs (the nearest edge ones beyond the grid), taken on the library's own samples,
rescaled to unit total flux (sum = ``oversampling**2``) and cut or zero-padded to the
stamp (`spike.psf._epsf.render_epsf`). Library samples lie *on* the ePSF centre; a stamp
of ``size * oversampling`` samples with even ``oversampling`` has its centre *between*
samples, so `render_epsf` shifts the library by half a sample with cubic splines; the
same function resamples when another output ``oversampling`` is asked for.

The libraries stop at their box (25 px for the usual 101-sample files): with
``wings="model"`` (the default) the ePSF is extended beyond it by the detector's physical
model, joined over an annulus inside the box (`spike.psf._wings`), and then holds the
model's enclosed fraction of the flux instead of unity.
"""

import logging
import math
from pathlib import Path

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._epsf import check_psf_array, check_size, render_epsf
from spike.psf._stdpsf_files import (
    DEFAULT_LIBRARY_OVERSAMPLING,
    DOWNLOAD_HINT,
    check_library,
    find_library,
    library_keys,
    library_origin,
    read_header,
    read_library,
)
from spike.psf._wings import check_wings, join_wings, wing_model
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["STDPSFMethod", "STDPSFModel"]

log = logging.getLogger(__name__)

#: Grid (px) on which the physical model supplying the wings is evaluated.
WINGS_STEP = 128.0


def _positive_int_or_none(value, name):
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or int(value) != value or value < 1:
        msg = f"{name} must be a positive integer or None, got {value!r}"
        raise ValueError(msg)
    return int(value)


class STDPSFModel(PSFModel):
    """A STDPSF library prepared for one exposure (chip); see `STDPSFMethod`.

    Parameters
    ----------
    grid : `~photutils.psf.GriddedPSFModel`
        The chip's PSF grid, positions in the chip's 0-based frame.
    oversampling : int
        Oversampling of the arrays `evaluate` returns.
    origin : tuple of float
        ``(x0, y0)`` added to exposure positions to get chip-frame positions.
    path : pathlib.Path
        The library file (for messages and provenance).
    wings : spike.psf._wings.WingModel or None, optional
        Physical model whose wings extend the library ePSFs beyond their box
        (`spike.psf._wings.join_wings`); None: they stop at the box.

    Attributes
    ----------
    library_oversampling : int
        Oversampling of the library's samples.
    diagnostics : dict
        Plain JSON-able values (library file, grid size, wings), recorded per exposure.
    """

    def __init__(self, grid, *, oversampling, origin, path, wings=None):
        self.grid = grid
        self.library_oversampling = int(grid.oversampling[0])
        self.oversampling = int(oversampling)
        self.origin = (float(origin[0]), float(origin[1]))
        self.path = Path(path)
        self.wings = wings
        ny = grid.data.shape[1]
        self.support = ((ny - 1) / 2) / self.library_oversampling
        self.diagnostics = {"library": self.path.name, "n_grid": int(len(grid.data)),
                            "support_px": self.support,
                            "wings": None if wings is None else wings.name}

    def library_epsf(self, x, y):
        """Return the library ePSF interpolated at exposure position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's data array.

        Returns
        -------
        numpy.ndarray
            The ePSF on the library's own samples (shape of one library PSF), centred on
            the array centre, with the library's normalisation.
        """
        xl, yl = float(x) + self.origin[0], float(y) + self.origin[1]
        ny, nx = self.grid.data.shape[1:]
        over = self.library_oversampling
        gx, gy = np.meshgrid(xl + (np.arange(nx) - (nx - 1) / 2) / over,
                             yl + (np.arange(ny) - (ny - 1) / 2) / over)
        data = self.grid.evaluate(gx, gy, 1.0, xl, yl)
        return check_psf_array(data, what=f"STDPSF ePSF from {self.path.name} at "
                                          f"({xl:.2f}, {yl:.2f})")

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's data array.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 ePSF, centred on the
            array centre, summing to ``oversampling**2`` times the library flux inside the
            stamp (the library normalised to unit total).
        """
        size = check_size(size)
        if self.wings is None:
            return render_epsf(self.library_epsf(x, y),
                               psf_oversampling=self.library_oversampling,
                               oversampling=self.oversampling, size=size, normalize=True)
        box = 2 * math.ceil(self.support) + 1
        core = render_epsf(self.library_epsf(x, y), psf_oversampling=self.library_oversampling,
                           oversampling=self.oversampling, size=box, normalize=True)
        joined, _ = join_wings(core, self.wings.at(x, y), self.oversampling,
                               support=self.support)
        return render_epsf(joined, psf_oversampling=self.oversampling,
                           oversampling=self.oversampling, size=size, normalize=False)


class STDPSFMethod(PSFMethod):
    """Empirical PSFs from STScI's STDPSF libraries (HST, JWST; Roman with a user file).

    Parameters
    ----------
    psf_path : str or os.PathLike
        A STDPSF file, or a directory of them, named as the module docstring describes.
    oversampling : int or None, optional
        Oversampling of the ePSFs produced; None (default) keeps the library's (no
        resampling). Another value resamples with `~spike.psf._epsf.render_epsf`.
    library_oversampling : int or None, optional
        Oversampling of the library files; None (default) reads header keyword
        ``OVERSAMP`` and otherwise assumes 4, the STDPSF convention.
    wings : {"model", None}, optional
        ``"model"`` (default): extend the library ePSFs (typically 25 px wide) with the
        wings of the detector's physical model (`spike.psf._wings`), as for ``epsf`` and
        ``psfex``; None: they stop at their box.
    wings_size : int, optional
        Odd width (px) of the extended ePSFs (default 81).

    Raises
    ------
    ValueError
        If ``psf_path`` is missing or an oversampling is not a positive integer.
    """

    name = "stdpsf"
    missions = ("hst", "jwst", "roman")

    def __init__(self, *, psf_path=None, oversampling=None, library_oversampling=None,
                 wings="model", wings_size=81):
        if psf_path is None or str(psf_path) == "":
            msg = f"method 'stdpsf' needs psf_path, a STDPSF file or directory. {DOWNLOAD_HINT}"
            raise ValueError(msg)
        oversampling = _positive_int_or_none(oversampling, "oversampling")
        library_oversampling = _positive_int_or_none(library_oversampling,
                                                     "library_oversampling")
        wings = check_wings(wings)
        if (isinstance(wings_size, bool) or not isinstance(wings_size, (int, np.integer))
                or wings_size < 3 or wings_size % 2 != 1):
            msg = f"wings_size must be an odd integer >= 3, got {wings_size!r}"
            raise ValueError(msg)
        super().__init__(oversampling=oversampling or 1, psf_path=str(psf_path),
                         library_oversampling=library_oversampling, wings=wings,
                         wings_size=int(wings_size))
        self.oversampling = oversampling
        self.psf_path = Path(psf_path)
        self._headers = {}
        self._grids = {}

    def _resolve(self, detector):
        """Return ``(path, LibraryKey, header)`` of the library for ``detector``."""
        path = self.psf_path
        if path.is_dir():
            path, key = find_library(path, detector)
            header = self._header(path)
            check_library(path, header, detector)  # header keywords, if any
            return path, key, header
        if not path.exists():
            msg = f"STDPSF path {str(path)!r} does not exist. {DOWNLOAD_HINT}"
            raise PSFDataUnavailableError(msg)
        if not path.is_file():
            msg = f"STDPSF path {str(path)!r} is neither a file nor a directory"
            raise PSFMethodError(msg)
        header = self._header(path)
        return path, check_library(path, header, detector), header

    def _header(self, path):
        key = str(path.resolve())
        if key not in self._headers:
            self._headers[key] = read_header(path)
        return self._headers[key]

    def _library_oversampling(self, path, header):
        if self.params["library_oversampling"] is not None:
            return self.params["library_oversampling"]
        value = header.get("OVERSAMP")
        if value is None:
            return DEFAULT_LIBRARY_OVERSAMPLING
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or int(value) != value or value < 1:
            msg = (f"STDPSF file {str(path)!r}: header OVERSAMP={value!r} is not a positive "
                   "integer; pass library_oversampling")
            raise PSFMethodError(msg)
        return int(value)

    def prepare(self, detector):
        """Read (once, cached) the library of one exposure (chip) and return its model.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure (chip).

        Returns
        -------
        STDPSFModel

        Raises
        ------
        spike.exceptions.PSFDataUnavailableError
            If ``psf_path`` does not exist, or a directory holds no file for the exposure.
        spike.exceptions.PSFMethodError
            For an unsupported mission or detector, a file for another detector or filter,
            or an unreadable file.
        """
        if not self.supports(detector):
            msg = (f"PSF method 'stdpsf' supports missions {', '.join(self.missions)}, "
                   f"not {detector.mission!r}")
            raise PSFMethodError(msg)
        library_keys(detector)  # unknown detectors fail before any file access
        path, key, header = self._resolve(detector)
        over = self._library_oversampling(path, header)
        cache_key = (str(path.resolve()), key.token, key.detector_id, over)
        if cache_key not in self._grids:
            self._grids[cache_key] = read_library(path, header, key, oversampling=over)
        log.info("%s (%s): STDPSF library %s%s", detector.filename or "exposure",
                 detector.label(), path.name,
                 "" if key.detector_id is None else f" (detector_id={key.detector_id})")
        grid = self._grids[cache_key]
        wings = None
        if self.params["wings"] == "model":
            box = grid.data.shape[1] // over
            wings = wing_model(detector, oversampling=self.oversampling or over,
                               size=max(self.params["wings_size"], box + 2), step=WINGS_STEP)
        return STDPSFModel(grid, oversampling=self.oversampling or over,
                           origin=library_origin(detector), path=path, wings=wings)
