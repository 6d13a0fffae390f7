"""STDPSF library files: naming rules, directory look-up and reading (private).

Used by `spike.psf.stdpsf`; see its module docstring for the rules as users see them.
"""

import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError

__all__ = [
    "DEFAULT_LIBRARY_OVERSAMPLING",
    "DOWNLOAD_HINT",
    "MULTI_DETECTOR_LIBRARIES",
    "LibraryKey",
    "check_library",
    "find_library",
    "library_keys",
    "library_origin",
    "parse_library_name",
    "read_header",
    "read_library",
]

log = logging.getLogger(__name__)

#: Where STDPSF files come from (appended to "data missing" messages).
DOWNLOAD_HINT = (
    "STDPSF files (Jay Anderson's empirical PSF libraries, e.g. STDPSF_ACSWFC_F606W.fits, "
    "STDPSF_NRCA1_F200W.fits) are published on STScI's website: the HST1PASS and JWST1PASS "
    "library pages under https://www.stsci.edu/~jayander/ and the ACS, WFC3 and WFPC2 PSF "
    "pages. spike never downloads them (this machine may be offline): download the files "
    "for your instrument, detector and filter yourself and pass one file, or the directory "
    "holding them, as psf_path."
)

#: Detector tokens of the libraries that hold several detectors, with the number of PSFs
#: photutils expects in them (it splits a file by this count).
MULTI_DETECTOR_LIBRARIES = {"ACSWFC": 90, "WFC3UV": 56, "WFPC2": 36, "NRCSW": 200}
_PHOTUTILS_SPLIT_COUNTS = frozenset(MULTI_DETECTOR_LIBRARIES.values())
_FITS_EXTENSIONS = (".fits.gz", ".fits", ".fit", ".fts")
#: Oversampling of STDPSF files when neither the user nor the header says otherwise.
DEFAULT_LIBRARY_OVERSAMPLING = 4


@dataclass(frozen=True)
class LibraryKey:
    """One file-name detector token that can model an exposure.

    Parameters
    ----------
    token : str
        Detector token of the file name (``STDPSF_<token>_<FILTER>.fits``).
    detector_id : int or None
        photutils ``detector_id`` selecting the exposure's detector in a
        multi-detector library (`MULTI_DETECTOR_LIBRARIES`), else None.
    """

    token: str
    detector_id: int | None = None


def _chip_number(detector, prefix, allowed):
    """Chip number of an HST detector from its name (``WFC1``) and/or ``extra["chip"]``."""
    name = detector.detector.upper()
    rest = name[len(prefix):]
    from_name = int(rest) if name.startswith(prefix) and rest.isdigit() else None
    from_extra = detector.extra.get("chip")
    from_extra = None if from_extra is None else int(from_extra)
    if from_name is not None and from_extra is not None and from_name != from_extra:
        msg = (f"Exposure {detector.filename or detector.label()!r}: detector {name!r} "
               f"disagrees with its chip number extra['chip']={from_extra}")
        raise PSFMethodError(msg)
    chip = from_name if from_name is not None else from_extra
    if chip not in allowed:
        msg = (f"Exposure {detector.filename or detector.label()!r}: cannot tell the "
               f"{detector.instrument}/{prefix} chip from detector {name!r} and "
               f"extra['chip']={from_extra!r} (expected one of {sorted(allowed)})")
        raise PSFMethodError(msg)
    return chip


def _hst_keys(detector):
    inst, name = detector.instrument.upper(), detector.detector.upper()
    if inst == "ACS" and name.startswith("WFC"):
        # photutils: detector_id 1 is WFC2 (sci,1, lower half), 2 is WFC1 (sci,2)
        return (LibraryKey("ACSWFC", 3 - _chip_number(detector, "WFC", (1, 2))),)
    if inst == "ACS" and name in ("HRC", "SBC"):
        return (LibraryKey(f"ACS{name}"),)
    if inst == "WFC3" and name.startswith("UVIS"):
        return (LibraryKey("WFC3UV", 3 - _chip_number(detector, "UVIS", (1, 2))),)
    if inst == "WFC3" and name == "IR":
        return (LibraryKey("WFC3IR"),)
    if inst == "WFPC2":
        prefix = re.match(r"[A-Z]*", name).group()
        chip = _chip_number(detector, prefix, (1, 2, 3, 4))  # 1 PC1, 2-4 WF2-WF4
        return (LibraryKey("WFPC2", chip),)
    return ()


def _jwst_keys(detector):
    inst, name = detector.instrument.upper(), detector.detector.upper()
    if inst == "NIRCAM":
        match = re.fullmatch(r"NRC([AB])([1-5]|LONG)", name)
        if match is None:
            return ()
        module, number = match.groups()
        if number in ("5", "LONG"):
            return tuple(LibraryKey(f"NRC{module}{n}") for n in ("L", "5", "LONG"))
        # photutils' NRCSW files: detector_id 1-4 are A1-A4, 5-8 are B1-B4
        sw_id = int(number) + (4 if module == "B" else 0)
        return (LibraryKey(f"NRC{module}{number}"), LibraryKey("NRCSW", sw_id))
    if inst == "NIRISS" and name == "NIS":
        return (LibraryKey("NIRISS"), LibraryKey("NIS"))
    if inst == "MIRI" and name == "MIRIMAGE":
        return (LibraryKey("MIRI"), LibraryKey("MIRIMAGE"))
    return ()


def _roman_keys(detector):
    match = re.fullmatch(r"(?:WFI|SCA)(\d{1,2})", detector.detector.upper())
    if detector.instrument.upper() != "WFI" or match is None:
        return ()
    number = int(match.group(1))
    return (LibraryKey(f"WFI{number:02d}"), LibraryKey(f"SCA{number:02d}"))


def library_keys(detector):
    """Return the file-name detector tokens that can model ``detector``, preferred first.

    Parameters
    ----------
    detector : `~spike.psf.base.DetectorInfo`
        The exposure (chip).

    Returns
    -------
    tuple of LibraryKey

    Raises
    ------
    spike.exceptions.PSFMethodError
        If no STDPSF library is known for the instrument/detector, or the HST chip
        cannot be told.
    """
    finder = {"hst": _hst_keys, "jwst": _jwst_keys, "roman": _roman_keys}.get(detector.mission)
    keys = finder(detector) if finder else ()
    if not keys:
        msg = (f"No STDPSF library is known for {detector.mission.upper()} "
               f"{detector.instrument}/{detector.detector} (exposure "
               f"{detector.filename or detector.label()!r}); STDPSF libraries exist for "
               "HST ACS/WFC, ACS/HRC, ACS/SBC, WFC3/UVIS, WFC3/IR and WFPC2, JWST NIRCam, "
               "NIRISS (NIS) and MIRI (MIRIMAGE) imaging, and Roman WFI with a user file")
        raise PSFMethodError(msg)
    return keys


def library_origin(detector):
    """Return the 0-based ``(x0, y0)`` of the exposure's array on the library's frame.

    HST adapters give ``extra["chip_origin"]`` (0-based); JWST ones give the 1-based
    ``extra["substrt1"]``/``["substrt2"]`` of a subarray. Default ``(0, 0)``.
    """
    extra = detector.extra or {}
    if extra.get("chip_origin") is not None:
        x0, y0 = extra["chip_origin"]
        return float(x0), float(y0)
    return float((extra.get("substrt1") or 1) - 1), float((extra.get("substrt2") or 1) - 1)


def parse_library_name(name):
    """Split ``STDPSF_<DET>_<FILTER>[_<tag>].fits`` into upper-case parts.

    Parameters
    ----------
    name : str
        File name (any directory part is ignored); case-insensitive. Extensions
        ``.fits``, ``.fits.gz``, ``.fit`` and ``.fts`` are accepted.

    Returns
    -------
    tuple or None
        ``(detector_token, filter, tag)`` (``tag`` None when absent), or None when the
        name does not follow the convention.

    Examples
    --------
    >>> parse_library_name("STDPSF_ACSWFC_F606W_SM4.fits")
    ('ACSWFC', 'F606W', 'SM4')
    >>> parse_library_name("my_psf.fits") is None
    True
    """
    name = Path(name).name
    lower = name.lower()
    ext = next((e for e in _FITS_EXTENSIONS if lower.endswith(e)), None)
    if ext is None:
        return None
    parts = name[: -len(ext)].upper().split("_")
    if len(parts) < 3 or parts[0] != "STDPSF" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2], "_".join(parts[3:]) or None


def _exposure(detector):
    return f"exposure {detector.filename or '<unnamed>'!r} ({detector.label()})"


def find_library(directory, detector):
    """Return the library file of ``detector`` in ``directory`` and the key it matched.

    Keys are tried in `library_keys` order; for the first key with a file,
    ``STDPSF_<DET>_<FILTER>.fits`` is preferred over a single tagged
    ``STDPSF_<DET>_<FILTER>_<tag>.fits``.

    Parameters
    ----------
    directory : pathlib.Path
        Directory holding STDPSF files.
    detector : `~spike.psf.base.DetectorInfo`
        The exposure (chip).

    Returns
    -------
    tuple
        ``(path, LibraryKey)``.

    Raises
    ------
    spike.exceptions.PSFDataUnavailableError
        If no file matches (the message lists the names looked for).
    spike.exceptions.PSFMethodError
        If several tagged files match and none is untagged.
    """
    keys = library_keys(detector)
    filt = detector.filter.upper()
    found = {}
    for path in sorted(directory.iterdir()):
        parsed = parse_library_name(path.name) if path.is_file() else None
        if parsed is not None and parsed[1] == filt:
            found.setdefault(parsed[0], []).append((parsed[2], path))
    for key in keys:
        files = found.get(key.token, [])
        exact = [p for tag, p in files if tag is None]
        if exact or len(files) == 1:
            path = (exact or [files[0][1]])[0]
            log.debug("%s: STDPSF library %s", _exposure(detector), path)
            return path, key
        if files:
            msg = (f"Several STDPSF files in {str(directory)!r} match {_exposure(detector)}: "
                   f"{', '.join(p.name for _, p in files)}; pass the one to use as psf_path")
            raise PSFMethodError(msg)
    wanted = ", ".join(f"STDPSF_{k.token}_{filt}[_<tag>].fits" for k in keys)
    msg = (f"No STDPSF file for {_exposure(detector)} in {str(directory)!r}: looked for "
           f"{wanted} (case-insensitive). {DOWNLOAD_HINT}")
    raise PSFDataUnavailableError(msg)


def _norm(value):
    return re.sub(r"[^A-Z0-9]", "", str(value).upper())


def _header_mismatches(header, detector, keys):
    """Compare optional INSTRUME/DETECTOR/FILTER header keywords with the exposure."""
    problems = []
    filt = header.get("FILTER")
    if filt is not None and _norm(filt) != _norm(detector.filter):
        problems.append(f"header FILTER={filt!r}, the exposure has {detector.filter!r}")
    inst = header.get("INSTRUME")
    if inst is not None and _norm(str(inst).split("/")[-1]) != _norm(detector.instrument):
        problems.append(f"header INSTRUME={inst!r}, the exposure has {detector.instrument!r}")
    det = header.get("DETECTOR")
    if det is not None:
        name = _norm(detector.detector)
        ok = {name, name.rstrip("0123456789")} | {_norm(k.token) for k in keys}
        if _norm(det) not in ok:
            problems.append(f"header DETECTOR={det!r}, the exposure has {detector.detector!r}")
    return problems


def check_library(path, header, detector):
    """Check that the library file ``path`` is meant for ``detector``; return its key.

    The name ``STDPSF_<DET>_<FILTER>[_<tag>].fits`` must name one of the exposure's
    `library_keys` and its filter; optional header keywords ``INSTRUME``, ``DETECTOR``
    and ``FILTER`` must agree with the exposure. A file identified by neither is used
    with a logged warning.

    Parameters
    ----------
    path : pathlib.Path
        The library file.
    header : astropy.io.fits.Header
        Its primary header.
    detector : `~spike.psf.base.DetectorInfo`
        The exposure (chip).

    Returns
    -------
    LibraryKey

    Raises
    ------
    spike.exceptions.PSFMethodError
        If the file is for another detector or filter.
    """
    keys = library_keys(detector)
    parsed = parse_library_name(path.name)
    key = keys[0]
    if parsed is not None:
        token, filt, _ = parsed
        key = next((k for k in keys if k.token == token), None)
        if key is None:
            wanted = " or ".join(f"STDPSF_{k.token}_..." for k in keys)
            msg = (f"STDPSF file {str(path)!r} is for detector {token}, not for "
                   f"{_exposure(detector)}, which needs {wanted}")
            raise PSFMethodError(msg)
        if filt != detector.filter.upper():
            msg = (f"STDPSF file {str(path)!r} is for filter {filt}, not for "
                   f"{_exposure(detector)}, which needs filter {detector.filter.upper()}")
            raise PSFMethodError(msg)
    problems = _header_mismatches(header, detector, keys)
    if problems:
        msg = (f"STDPSF file {str(path)!r} is not for {_exposure(detector)}: "
               f"{'; '.join(problems)}")
        raise PSFMethodError(msg)
    if parsed is None and not any(k in header for k in ("FILTER", "DETECTOR")):
        log.warning("Cannot check that %s is meant for %s: its name is not "
                    "STDPSF_<DET>_<FILTER>.fits and its header has no FILTER/DETECTOR",
                    path, _exposure(detector))
    return key


def read_header(path):
    """Return the primary header of a library file, or raise `PSFMethodError`."""
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    try:
        with warnings.catch_warnings():
            # real STDPSF files carry a non-standard SIMPLE card
            warnings.simplefilter("ignore", VerifyWarning)
            with fits.open(path, ignore_missing_end=True) as hdul:
                return hdul[0].header.copy()
    except (OSError, ValueError, IndexError) as exc:
        msg = f"Cannot read STDPSF file {str(path)!r}: {exc}"
        raise PSFMethodError(msg) from exc


def _grid_from_header(path, header):
    """Build a single-detector GriddedPSFModel without photutils' splitting."""
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning
    from astropy.nddata import NDData
    from photutils.psf import GriddedPSFModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        data = np.asarray(fits.getdata(path, ignore_missing_end=True), dtype=float)
    if data.ndim == 2:
        data = data[np.newaxis]
    nx, ny = int(header.get("NXPSFS", 1)), int(header.get("NYPSFS", 1))
    if nx * ny == 1:
        xypos = [(0.0, 0.0)]
    else:
        xs = [float(header[f"IPSFX{i:02d}"]) - 1 for i in range(1, nx + 1)]  # 1-based
        ys = [float(header[f"JPSFY{j:02d}"]) - 1 for j in range(1, ny + 1)]
        xypos = [(x, y) for y in ys for x in xs]
    return GriddedPSFModel(NDData(data, meta={"grid_xypos": xypos, "oversampling": 4}))


def _check_single_psf(path, what):
    """Refuse a 2-D image without STDPSF keywords unless it looks like one centred PSF.

    A single PSF is square, finite, positive in sum, and brightest near its centre; a
    science image or anything else given by mistake is not.
    """
    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        data = np.asarray(fits.getdata(path, ignore_missing_end=True), dtype=float)
    ny, nx = data.shape
    problem = None
    if ny != nx:
        problem = f"it is {ny} x {nx} pixels, not square"
    elif not np.all(np.isfinite(data)):
        problem = "it holds NaN or infinite values"
    elif not data.sum() > 0:
        problem = "its sum is not positive"
    else:
        iy, ix = np.unravel_index(np.argmax(data), data.shape)
        centre = (nx - 1) / 2
        if max(abs(ix - centre), abs(iy - centre)) > max(2.0, 0.1 * nx):
            problem = (f"its brightest pixel is at (x, y) = ({ix}, {iy}), far from the centre "
                       f"({centre:g}, {centre:g})")
    if problem is not None:
        msg = (f"{what} is a plain 2-D image, not a STDPSF library: {problem}. A STDPSF file "
               "holds a cube of PSFs with NXPSFS/NYPSFS/IPSFXnn/JPSFYnn keywords (or one "
               "centred PSF)")
        raise PSFMethodError(msg)


def read_library(path, header, key, *, oversampling):
    """Read one detector's PSF grid from a STDPSF file.

    Multi-detector libraries (`MULTI_DETECTOR_LIBRARIES`) are read with
    ``GriddedPSFModel.read(path, format="stdpsf", detector_id=key.detector_id)``, which
    also moves the grid positions to that chip's own 0-based frame. Single-detector
    files are read with the same reader, except when their number of PSFs is one photutils
    would split (or the file holds a single 2-D PSF): those are built from the same
    header keywords without splitting.

    Parameters
    ----------
    path : pathlib.Path
        The library file.
    header : astropy.io.fits.Header
        Its primary header.
    key : LibraryKey
        The detector token the file was matched with (`check_library`, `find_library`).
    oversampling : int
        Oversampling of the library.

    Returns
    -------
    photutils.psf.GriddedPSFModel

    Raises
    ------
    spike.exceptions.PSFMethodError
        If the file is not a readable STDPSF grid or does not hold the expected layout.
    """
    from photutils.psf import GriddedPSFModel

    what = f"STDPSF file {str(path)!r}"
    naxis = header.get("NAXIS", 0)
    npsf = header.get("NAXIS3", 1) if naxis == 3 else (1 if naxis == 2 else 0)
    if naxis not in (2, 3) or (naxis == 2 and header.get("NXPSFS", 1) * header.get("NYPSFS", 1)
                               != 1):
        msg = (f"Cannot read {what}: expected a 3-D cube of PSFs (or one 2-D PSF) in the "
               f"primary HDU, found NAXIS={naxis}")
        raise PSFMethodError(msg)
    if naxis == 2 and "NXPSFS" not in header:
        _check_single_psf(path, what)
    multi = key.token in MULTI_DETECTOR_LIBRARIES
    expected = MULTI_DETECTOR_LIBRARIES.get(key.token)
    if multi and npsf != expected and parse_library_name(path.name) is not None:
        msg = (f"{what} holds {npsf} PSFs; a STDPSF_{key.token} library holds {expected} "
               f"(the grids of all its detectors), which photutils needs to split it")
        raise PSFMethodError(msg)
    try:
        if multi and npsf == expected:
            grid = GriddedPSFModel.read(str(path), format="stdpsf",
                                        detector_id=key.detector_id)
        elif npsf in _PHOTUTILS_SPLIT_COUNTS or naxis == 2:
            grid = _grid_from_header(path, header)
        else:
            grid = GriddedPSFModel.read(str(path), format="stdpsf")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        msg = (f"Cannot read {what} as a STDPSF PSF grid (a 3-D primary cube with "
               f"NXPSFS, NYPSFS, IPSFXnn and JPSFYnn header keywords): {exc}")
        if multi and parse_library_name(path.name) is None:
            msg += f" (a multi-detector library must be named STDPSF_{key.token}_<FILTER>.fits)"
        raise PSFMethodError(msg) from exc
    sums = grid.data.sum(axis=(1, 2))
    if not np.all(sums > 0):
        msg = f"{what}: {int(np.sum(~(sums > 0)))} PSF(s) of the grid have no positive sum"
        raise PSFMethodError(msg)
    grid.oversampling = oversampling
    grid.fill_value = None  # samples sit on the library grid; avoid round-off clipping
    log.debug("%s: %d PSFs of %s samples for detector_id=%s, oversampling %d", what,
              grid.data.shape[0], grid.data.shape[1:], key.detector_id, oversampling)
    return grid
