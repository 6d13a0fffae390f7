"""User-supplied PSFs, ``--method user``.

The ``psf`` option says where the PSFs come from:

* a **callable** ``psf(detector, x, y, size)`` (``detector`` a
  `~spike.psf.base.DetectorInfo`, ``x, y`` 0-based detector position, ``size`` the odd
  stamp width in detector pixels) returning either a 2-D array of shape
  ``(size * psf_oversampling, size * psf_oversampling)`` holding an oversampled effective
  PSF centred on the array centre, or a photutils ``ImagePSF`` / ``GriddedPSFModel``;
* a photutils **ImagePSF** (used as is for every exposure and position) or
  **GriddedPSFModel** (evaluated at each source position, bilinear between its grid
  points, on its own oversampled grid);
* a **directory** of per-exposure FITS files, matched by exposure file name root:
  ``jw..._nrca1_cal.fits`` -> ``jw..._nrca1_psf.fits`` (the ``suffix`` option), else the
  single other ``<root>*.fits`` file (a name containing "psf" wins among several);
* a single **FITS file** used for all exposures.

FITS files hold either a 2-D oversampled ePSF in the primary HDU (or the first image HDU
with data), centred on the array centre, with its oversampling in header keyword
``OVERSAMP``, ``OVERSAMPLE`` (a HIERARCH card) or ``DET_SAMP`` (read in that order; the
``psf_oversampling`` option, when given, takes precedence), or a 3-D PSF grid readable by
``photutils.psf.GriddedPSFModel.read`` (STDPSF or STPSF/WebbPSF gridded-library files).

Normalisation and resampling: with ``normalize=True`` (default) each user array is first
rescaled to sum to ``psf_oversampling**2`` (i.e. it is assumed to contain the whole PSF),
then cut or zero-padded to the requested stamp around its centre, so the result follows
`spike.psf.base` (sum = ``oversampling**2`` x fraction inside the stamp). With
``normalize=False`` the user's normalisation is kept. When the user's oversampling differs
from the requested one, or its centre falls between output samples, the ePSF is resampled
with cubic splines and rescaled to conserve the flux fraction it held.
"""

import logging
import os
from pathlib import Path

import numpy as np

from spike.exceptions import PSFMethodError
from spike.psf._epsf import check_psf_array, check_size, render_epsf
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["UserPSFMethod", "UserPSFModel", "find_psf_file", "read_psf_file"]

log = logging.getLogger(__name__)

#: FITS header keywords read, in order, for the oversampling of a 2-D PSF file.
OVERSAMPLING_KEYWORDS = ("OVERSAMP", "OVERSAMPLE", "DET_SAMP")
#: Product suffixes stripped from exposure names to get the root.
_PRODUCT_SUFFIXES = {
    "cal", "crf", "rate", "rateints", "calints", "uncal", "i2d", "s2d",
    "flt", "flc", "drz", "drc", "c0m", "c0f", "c1m", "raw", "ima", "psf",
}


def _photutils_kind(obj):
    from photutils.psf import GriddedPSFModel, ImagePSF

    if isinstance(obj, ImagePSF):
        return "image"
    if isinstance(obj, GriddedPSFModel):
        return "gridded"
    return None


def _model_oversampling(model, what):
    over = np.atleast_1d(np.asarray(model.oversampling)).astype(int)
    if over.size == 2 and over[0] != over[1]:
        msg = f"{what} has different oversampling along y and x ({over.tolist()}); not supported"
        raise PSFMethodError(msg)
    return int(over[0])


def _image_psf_array(model, what):
    """Return ``(data, oversampling, origin)`` of a photutils ImagePSF."""
    data = check_psf_array(model.data, what=what)
    return data, _model_oversampling(model, what), tuple(float(v) for v in model.origin)


def _gridded_psf_array(model, x, y, what):
    """Evaluate a GriddedPSFModel at detector (x, y) on its own oversampled grid."""
    over = _model_oversampling(model, what)
    ny, nx = model.data.shape[1:]
    ox, oy = (nx - 1) / 2, (ny - 1) / 2  # photutils: grid PSFs are centred
    xx = x + (np.arange(nx) - ox) / over
    yy = y + (np.arange(ny) - oy) / over
    gx, gy = np.meshgrid(xx, yy)
    data = model.evaluate(gx, gy, 1.0, float(x), float(y))
    return check_psf_array(data, what=what), over, (ox, oy)


def _root(filename):
    return _split(Path(filename).name)[0]


def _split(name):
    """Return ``(stem, product suffix or '')`` of a file name."""
    for ext in (".gz", ".fits", ".fit", ".asdf"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    stem, sep, last = name.rpartition("_")
    if sep and last.lower() in _PRODUCT_SUFFIXES:
        return stem, last.lower()
    return name, ""


def _matches_root(name, root):
    """True for a FITS file named ``<root>[_.-]...`` that is not a science product."""
    lower = name.lower()
    if not (lower.endswith((".fits", ".fits.gz", ".fit")) and name.startswith(root)):
        return False
    rest = name[len(root):]
    if rest[:1] not in ("_", ".", "-"):
        return False
    suffix = _split(name)[1]
    return suffix in ("", "psf")


def find_psf_file(directory, exposure, *, suffix="_psf"):
    """Return the PSF file of an exposure in ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        Directory holding PSF files.
    exposure : str
        Exposure file name (any directory part is ignored).
    suffix : str, optional
        Preferred PSF suffix: ``<root><suffix>.fits`` is tried first.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    spike.exceptions.PSFMethodError
        If the directory is missing, or no (or more than one) file matches.
    """
    directory = Path(directory)
    if not directory.is_dir():
        msg = f"PSF directory {str(directory)!r} does not exist"
        raise PSFMethodError(msg)
    if not exposure:
        msg = f"Cannot match a PSF file in {str(directory)!r}: the exposure has no file name"
        raise PSFMethodError(msg)
    base = Path(exposure).name
    root = _root(base)
    preferred = directory / f"{root}{suffix}.fits"
    if preferred.is_file():
        return preferred
    candidates = sorted(
        p for p in directory.iterdir()
        if p.is_file() and p.name != base and _matches_root(p.name, root)
    )
    if len(candidates) > 1:
        with_psf = [p for p in candidates if "psf" in p.name.lower()]
        candidates = with_psf or candidates
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        msg = (f"No PSF file for exposure {base!r} in {str(directory)!r}: expected "
               f"{preferred.name!r} or another '{root}*.fits' file")
    else:
        msg = (f"Several PSF files match exposure {base!r} in {str(directory)!r}: "
               f"{', '.join(p.name for p in candidates)}; name one '{preferred.name}'")
    raise PSFMethodError(msg)


def read_psf_file(path, *, psf_oversampling=None):
    """Read a user PSF file.

    Parameters
    ----------
    path : str or os.PathLike
        FITS file with a 2-D ePSF or a 3-D photutils-readable PSF grid.
    psf_oversampling : int or None, optional
        Oversampling of a 2-D PSF; overrides the header keywords
        (`OVERSAMPLING_KEYWORDS`).

    Returns
    -------
    tuple
        ``("array", data, oversampling)`` or ``("gridded", GriddedPSFModel, None)``.

    Raises
    ------
    spike.exceptions.PSFMethodError
        For a missing or unreadable file, no image data, wrong dimensions, non-finite
        values or an unknown oversampling.
    """
    from astropy.io import fits

    path = Path(path)
    what = f"PSF file {str(path)!r}"
    try:
        with fits.open(path) as hdul:
            hdu = next((h for h in hdul if getattr(h, "data", None) is not None
                        and getattr(h, "is_image", False)), None)
            if hdu is None:
                msg = f"{what} has no image HDU with data"
                raise PSFMethodError(msg)
            data = np.array(hdu.data, dtype=float)
            header = hdu.header.copy()
            primary = hdul[0].header.copy()
    except OSError as exc:
        msg = f"Cannot read {what}: {exc}"
        raise PSFMethodError(msg) from exc
    if data.ndim == 3:
        return "gridded", _read_grid(path, what), None
    data = check_psf_array(data, what=what)
    found = next(((key, hdr[key]) for key in OVERSAMPLING_KEYWORDS for hdr in (header, primary)
                  if key in hdr), None)
    if psf_oversampling is not None:
        if found is not None and found[1] != psf_oversampling:
            log.info("%s: header %s=%s overridden by psf_oversampling=%d",
                     what, found[0], found[1], psf_oversampling)
        return "array", data, int(psf_oversampling)
    if found is None:
        msg = (f"{what} does not give its oversampling: add header keyword "
               f"{' or '.join(OVERSAMPLING_KEYWORDS)}, or pass psf_oversampling")
        raise PSFMethodError(msg)
    over = int(found[1])
    if over < 1 or over != found[1]:
        msg = f"{what}: header {found[0]}={found[1]!r} is not a positive integer"
        raise PSFMethodError(msg)
    return "array", data, over


def _read_grid(path, what):
    from photutils.psf import GriddedPSFModel

    try:
        return GriddedPSFModel.read(str(path))
    except Exception as exc:  # noqa: BLE001 - photutils raises many types for bad files
        msg = (f"{what} holds a 3-D array that photutils cannot read as a PSF grid "
               f"(STDPSF or STPSF gridded library): {exc}")
        raise PSFMethodError(msg) from exc


class UserPSFModel(PSFModel):
    """User PSFs for one exposure (see `UserPSFMethod`).

    Parameters
    ----------
    kind : str
        ``"array"``, ``"image"``, ``"gridded"`` or ``"callable"``.
    source : object
        The array, photutils model or callable.
    detector : `~spike.psf.base.DetectorInfo`
        The exposure (passed to callables).
    oversampling : int
        Output oversampling.
    psf_oversampling : int or None
        Oversampling of user arrays.
    normalize : bool
        Rescale user arrays to sum to ``psf_oversampling**2`` first.
    what : str
        Description for messages.
    """

    def __init__(self, kind, source, detector, *, oversampling, psf_oversampling, normalize,
                 what):
        self.kind = kind
        self.source = source
        self.detector = detector
        self.oversampling = int(oversampling)
        self.psf_oversampling = psf_oversampling
        self.normalize = bool(normalize)
        self.what = what

    def _array(self, x, y, size):
        """Return ``(data, oversampling, origin)`` for the source at (x, y)."""
        if self.kind == "array":
            return self.source, self.psf_oversampling, None
        if self.kind == "image":
            return _image_psf_array(self.source, self.what)
        if self.kind == "gridded":
            return _gridded_psf_array(self.source, x, y, self.what)
        result = self.source(self.detector, x, y, size)
        exposure = self.detector.filename or self.detector.label()
        what = f"{self.what} at ({x:.2f}, {y:.2f}) for {exposure}"
        kind = _photutils_kind(result)
        if kind == "image":
            return _image_psf_array(result, what)
        if kind == "gridded":
            return _gridded_psf_array(result, x, y, what)
        if not isinstance(result, np.ndarray):
            msg = (f"{what} returned {type(result).__name__}; expected a 2-D numpy array, "
                   "an ImagePSF or a GriddedPSFModel")
            raise PSFMethodError(msg)
        data = check_psf_array(result, what=what)
        n = size * self.psf_oversampling
        if data.shape != (n, n):
            msg = (f"{what} returned shape {data.shape}; expected {(n, n)} "
                   f"(size={size} x psf_oversampling={self.psf_oversampling})")
            raise PSFMethodError(msg)
        return data, self.psf_oversampling, None

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 ePSF.
        """
        size = check_size(size)
        data, over, origin = self._array(float(x), float(y), size)
        return render_epsf(data, psf_oversampling=over, oversampling=self.oversampling,
                           size=size, origin=origin, normalize=self.normalize)


def _describe(psf):
    if isinstance(psf, (str, os.PathLike)):
        return str(psf)
    kind = _photutils_kind(psf)
    if kind is not None:
        return f"{type(psf).__name__} shape={tuple(np.shape(psf.data))}"
    return f"callable {getattr(psf, '__module__', '?')}.{getattr(psf, '__qualname__', repr(psf))}"


class UserPSFMethod(PSFMethod):
    """PSFs supplied by the user: a callable, a photutils model, a directory or a file.

    Parameters
    ----------
    psf : callable, `~photutils.psf.ImagePSF`, `~photutils.psf.GriddedPSFModel`, str or os.PathLike
        Where the PSFs come from (see the module docstring).
    oversampling : int, optional
        Oversampling of the ePSFs produced (default 4).
    psf_oversampling : int or None, optional
        Oversampling of the user's arrays: required for callables returning arrays
        (default: ``oversampling``); for FITS files it overrides the header keywords.
    normalize : bool, optional
        Rescale each user array to sum to ``psf_oversampling**2`` before cutting it to the
        stamp (default True); False keeps the user's normalisation.
    suffix : str, optional
        Suffix of per-exposure PSF files in a directory (default ``"_psf"``).
    """

    name = "user"
    missions = ("jwst", "roman", "hst")

    def __init__(self, *, psf, oversampling=4, psf_oversampling=None, normalize=True,
                 suffix="_psf"):
        if psf_oversampling is not None:
            if isinstance(psf_oversampling, bool) or int(psf_oversampling) != psf_oversampling \
                    or psf_oversampling < 1:
                msg = ("psf_oversampling must be a positive integer or None, "
                       f"got {psf_oversampling!r}")
                raise ValueError(msg)
            psf_oversampling = int(psf_oversampling)
        if isinstance(psf, (str, os.PathLike)):
            self._kind = "path"
        elif _photutils_kind(psf) is not None:
            self._kind = _photutils_kind(psf)
        elif callable(psf):
            self._kind = "callable"
        else:
            msg = ("psf must be a callable, a photutils ImagePSF or GriddedPSFModel, or the "
                   f"path of a directory or FITS file; got {type(psf).__name__}")
            raise TypeError(msg)
        super().__init__(oversampling=oversampling, psf=_describe(psf),
                         psf_oversampling=psf_oversampling, normalize=bool(normalize),
                         suffix=str(suffix))
        self.source = psf
        self._files = {}

    def _load(self, path):
        key = str(Path(path).resolve())
        if key not in self._files:
            self._files[key] = read_psf_file(path, psf_oversampling=self.params["psf_oversampling"])
        return self._files[key]

    def prepare(self, detector):
        """Return the user PSF model of one exposure.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure.

        Returns
        -------
        UserPSFModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For an unsupported mission, a missing directory or file, no file for the
            exposure, or an unusable file.
        """
        if not self.supports(detector):
            msg = (f"PSF method 'user' supports missions {', '.join(self.missions)}, "
                   f"not {detector.mission!r}")
            raise PSFMethodError(msg)
        psf_over = self.params["psf_oversampling"] or self.oversampling
        kind, source, what = self._kind, self.source, self.params["psf"]
        if kind == "path":
            path = Path(source)
            if path.is_dir():
                path = find_psf_file(path, detector.filename, suffix=self.params["suffix"])
            elif not path.exists():
                is_file = path.suffix.lower() in (".fits", ".fit", ".gz")
                msg = f"PSF {'file' if is_file else 'directory'} {str(path)!r} does not exist"
                raise PSFMethodError(msg)
            elif not path.is_file():
                msg = f"PSF path {str(path)!r} is neither a directory nor a file"
                raise PSFMethodError(msg)
            kind, source, over = self._load(path)
            psf_over = over or psf_over
            what = f"PSF file {str(path)!r}"
            log.debug("%s: using %s", detector.filename or detector.label(), path)
        elif kind == "callable":
            what = f"PSF callable {what}"
        return UserPSFModel(kind, source, detector, oversampling=self.oversampling,
                            psf_oversampling=psf_over, normalize=self.params["normalize"],
                            what=what)
