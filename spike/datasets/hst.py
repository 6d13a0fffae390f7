"""Real HST exposures for offline tests: ACS/HRC dithers, AstroDrizzle runs, WFPC2 files.

Two real calibrated HST exposures ship inside installed packages (see `hst_example_path`):
an ACS/HRC ``_flt`` of 47 Tuc (``spherical_geometry``) and a WFPC2 ``_c0f`` of omega Cen
(``stsci.tools``). This module turns them into data sets that ``drizzlepac`` drizzles
without network access, reference files or CRDS:

- `make_acs_hrc_dithers` writes sub-pixel dithered copies of the ACS/HRC exposure (scene
  shifted, detector defects kept in place, WCS moved so that the sky stays put, fresh
  cosmic rays) and an HST association for them;
- `run_astrodrizzle` runs ``AstroDrizzle`` as a science run would, on copies;
- `prepare_wfpc2` converts the waivered WFPC2 file into a four-chip ``_flt`` file.
"""

import contextlib
import functools
import gc
import importlib.util
import logging
import math
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.table import Table, vstack
from astropy.time import Time
from astropy.utils.exceptions import AstropyDeprecationWarning
from astropy.wcs import WCS
from scipy import ndimage

from spike.datasets._wfpc2 import (
    WFPC2_CHIPS,
    fix_wfpc2_errors,
    waivered_to_mef,
    wfpc2_rootname,
)
from spike.exceptions import SpikeError, SpikeWarning

__all__ = [
    "ACS_DQ",
    "HstDithers",
    "hst_example_path",
    "make_acs_hrc_dithers",
    "prepare_wfpc2",
    "run_astrodrizzle",
    "write_hst_association",
]

log = logging.getLogger(__name__)

#: Files shipped as test data of installed packages: name -> (package, path in package).
_EXAMPLES = {
    "acs_hrc": ("spherical_geometry", "tests/data/j8bt06nyq_flt.fits"),
    "wfpc2_c0f": ("stsci.tools", "tests/data/u40x010hm_c0f.fits"),
}

#: ACS data-quality bits used here (ACS Instrument Handbook, table of DQ flags).
ACS_DQ = {
    "FILL": 2,  # data replaced by fill value
    "BAD_DETECTOR": 4,
    "APERTURE_MASK": 8,  # masked by an aperture feature (HRC occulting finger)
    "HOT": 16,
    "WARM": 64,
    "BAD_COLUMN": 128,
    "SATURATED": 256,  # full-well saturation
    "BAD_FLAT": 512,
    "ATOD_SATURATED": 2048,
    "CR_DRIZZLE": 4096,  # cosmic ray flagged by AstroDrizzle
    "CR_REJECT": 8192,  # cosmic ray flagged by CR-SPLIT rejection
}
#: Flags that belong to the scene (they move with the sky from one dither to the next).
_SCENE_BITS = (
    ACS_DQ["SATURATED"] | ACS_DQ["ATOD_SATURATED"] | ACS_DQ["CR_DRIZZLE"] | ACS_DQ["CR_REJECT"]
)
#: Detector defects whose pixel values stay on the detector (hot pixels, finger shadow...).
_DEFECT_BITS = (
    ACS_DQ["BAD_DETECTOR"] | ACS_DQ["APERTURE_MASK"] | ACS_DQ["HOT"] | ACS_DQ["WARM"]
    | ACS_DQ["BAD_COLUMN"]
)
#: Small defects replaced by their surroundings before the scene is shifted.
_INPAINT_BITS = _DEFECT_BITS & ~ACS_DQ["APERTURE_MASK"]
_DEFAULT_OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25), (4.25, -2.0))
#: HST cosmic-ray rate (events per cm^2 per s) and ACS/HRC pixel size (cm).
_CR_RATE = 1.2
_HRC_PIXEL_CM = 21e-4
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
#: AstroDrizzle settings of a science run done offline (the user may override them).
_SCIENCE_PARS = {
    "updatewcs": False,  # no IDCTAB/NPOL/D2IM reference files offline
    "clean": False,  # keep <root>_sci?_final_mask.fits, needed to drizzle PSFs alike
    "build": True,
    "context": True,
    "preserve": False,
    "restore": False,
    "in_memory": False,
    "num_cores": 1,
    "static": True,
    "skysub": True,
    "driz_separate": True,
    "median": True,
    "blot": True,
    "driz_cr": True,
    "driz_combine": True,
}


# --------------------------------------------------------------------------- examples


def hst_example_path(name):
    """Return the path of a real HST exposure shipped inside an installed package.

    Parameters
    ----------
    name : {"acs_hrc", "wfpc2_c0f"}
        ``"acs_hrc"``: ACS/HRC F606W ``j8bt06nyq_flt.fits`` (47 Tuc, 1024x1024, electrons),
        test data of ``spherical_geometry``. ``"wfpc2_c0f"``: WFPC2 F555W
        ``u40x010hm_c0f.fits`` (omega Cen, waivered FITS, 4 chips of 800x800, DN), test
        data of ``stsci.tools``.

    Returns
    -------
    `~pathlib.Path`

    Raises
    ------
    ValueError
        For an unknown ``name``.
    FileNotFoundError
        If the package is not installed or was installed without its test data.
    """
    if name not in _EXAMPLES:
        msg = f"name must be one of {sorted(_EXAMPLES)}, got {name!r}"
        raise ValueError(msg)
    package, relative = _EXAMPLES[name]
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        msg = f"HST example {name!r} needs the package {package!r}, which is not installed"
        raise FileNotFoundError(msg)
    for location in spec.submodule_search_locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    msg = (
        f"HST example {name!r}: {relative} is missing from the installed {package!r} "
        f"({', '.join(spec.submodule_search_locations)}); reinstall it with its test data"
    )
    raise FileNotFoundError(msg)


# --------------------------------------------------------------------------- dithers


@dataclass(frozen=True)
class HstDithers:
    """Output of `make_acs_hrc_dithers`.

    Attributes
    ----------
    files : list of `~pathlib.Path`
        The dithered ``_flt.fits`` files, in time order.
    asn : `~pathlib.Path`
        HST association table ``<asn_id>_asn.fits`` (MEMNAME/MEMTYPE/MEMPRSNT).
    list_file : `~pathlib.Path`
        The same members as a text list (one file name per line; AstroDrizzle reads it as
        ``"@<list_file>"``).
    offsets : `~astropy.table.Table`
        One row per file: ``filename``, ``rootname``, ``dx``, ``dy`` (px: where the scene
        moved on the detector relative to the original exposure), ``crval1``, ``crval2``
        (deg), ``expstart`` (MJD) and ``n_cosmic_rays`` (injected events).
    cosmic_rays : `~astropy.table.Table`
        Pixels hit by the injected cosmic rays: ``filename``, ``x``, ``y`` (0-based) and
        ``electrons`` (charge added to SCI).
    sky : float
        Sky level (electrons) used to fill the pixels no longer covered by the scene.
    """

    files: list
    asn: Path
    list_file: Path
    offsets: Table
    cosmic_rays: Table
    sky: float


def _check_offsets(offsets, shape):
    offsets = np.asarray(offsets, float)
    if offsets.ndim != 2 or offsets.shape[1] != 2 or len(offsets) == 0:
        msg = f"offsets must be a sequence of (dx, dy) pairs, got {offsets.tolist()}"
        raise ValueError(msg)
    if not np.all(np.isfinite(offsets)) or np.abs(offsets).max() > min(shape) / 4:
        msg = f"offsets must be finite and below {min(shape) / 4:g} px, got {offsets.tolist()}"
        raise ValueError(msg)
    if len(offsets) > 36:
        msg = f"at most 36 offsets are supported (one rootname each), got {len(offsets)}"
        raise ValueError(msg)
    return offsets


def _find_cosmic_rays(sci, err, dq, *, sigclip=5.0, objlim=5.0, contrast=3.0):
    """Boolean mask of cosmic rays in a single exposure (L.A.Cosmic-like, one pass).

    A seed pixel is a local maximum whose positive Laplacian exceeds ``sigclip`` times the
    noise and ``objlim`` times the local fine structure, and which rises above the local
    background more than ``contrast`` times the mean of its 4-connected neighbours (the
    ACS/HRC PSF core is sharp, but not that sharp). Seeds within 8 px of saturated pixels
    are ignored (diffraction spikes, bleeding). The mask then grows twice to 8-connected
    neighbours whose significance exceeds ``sigclip / 2``.
    """
    usable = dq == 0
    laplace = np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])
    fine_grid = np.kron(sci, np.ones((2, 2), sci.dtype))
    lap = np.clip(ndimage.convolve(fine_grid, laplace, mode="nearest"), 0, None)
    lap = lap.reshape(sci.shape[0], 2, sci.shape[1], 2).mean(axis=(1, 3))
    noise = np.maximum(err, np.nanmedian(err[usable]) * 0.1)
    significance = lap / (2 * noise)
    significance -= ndimage.median_filter(significance, 5)
    med3 = ndimage.median_filter(sci, 3)
    background = ndimage.median_filter(med3, 7)
    fine = np.maximum(med3 - background, 0.01 * noise)
    cross = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], float) / 4
    neighbours = ndimage.convolve(sci, cross, mode="nearest")
    peak = sci >= ndimage.maximum_filter(sci, 3, mode="nearest")
    saturated = (dq & (ACS_DQ["SATURATED"] | ACS_DQ["ATOD_SATURATED"])) != 0
    near_saturation = ndimage.binary_dilation(saturated, iterations=8)
    cosmic = (significance > sigclip) & (lap / fine > objlim) & peak & usable & ~near_saturation
    cosmic &= sci - background > contrast * (neighbours - background)
    for _ in range(2):
        grown = ndimage.binary_dilation(cosmic, np.ones((3, 3), bool))
        cosmic |= grown & (significance > sigclip / 2) & usable
    return cosmic


def _inpaint(sci, bad, *, sigma=1.5):
    """Replace ``bad`` pixels by the Gaussian-weighted mean of the good ones around them."""
    good = (~bad).astype(float)
    num = ndimage.gaussian_filter(np.where(bad, 0.0, sci), sigma)
    den = ndimage.gaussian_filter(good, sigma)
    filled = np.where(den > 1e-3, num / np.maximum(den, 1e-3), np.median(sci[~bad]))
    return np.where(bad, filled, sci)


def _interpolation_power(fx, fy):
    """Sum of squared weights of the cubic-spline interpolation kernel at shift (fx, fy)."""
    impulse = np.zeros((33, 33))
    impulse[16, 16] = 1.0
    weights = ndimage.shift(impulse, (fy, fx), order=3, mode="constant")
    return float(np.sum(weights**2))


def _cosmic_ray_hits(rng, shape, count):
    """``count`` cosmic-ray events: (y, x, electrons) of the pixels they hit."""
    ny, nx = shape
    ys, xs, charge = [], [], []
    for _ in range(count):
        y0, x0 = rng.uniform(0, ny), rng.uniform(0, nx)
        length = rng.exponential(2.0)
        angle = rng.uniform(0, 2 * np.pi)
        steps = max(1, math.ceil(length * 2))
        t = np.linspace(0, length, steps)
        y = np.clip(np.round(y0 + t * np.sin(angle)).astype(int), 0, ny - 1)
        x = np.clip(np.round(x0 + t * np.cos(angle)).astype(int), 0, nx - 1)
        pixels = np.unique(np.stack([y, x]), axis=1)
        energy = rng.lognormal(np.log(1500.0), 0.7)  # electrons per pixel
        ys.append(pixels[0])
        xs.append(pixels[1])
        charge.append(energy * rng.uniform(0.5, 1.0, pixels.shape[1]))
    if not ys:
        return np.array([], int), np.array([], int), np.array([])
    return np.concatenate(ys), np.concatenate(xs), np.concatenate(charge)


def _shift_exposure(source, *, dx, dy, sky, read_noise, rng, n_cosmic_rays):
    """SCI, ERR and DQ of the exposure seen after the scene moved by (dx, dy) pixels."""
    clean, err, dq = source["clean"], source["err"], source["dq"]
    shape = clean.shape
    fx, fy = dx - round(dx), dy - round(dy)
    sci = ndimage.shift(clean, (dy, dx), order=3, mode="nearest")
    new_err = ndimage.shift(err, (dy, dx), order=1, mode="nearest")
    # spline interpolation smooths the noise; give back the variance it removed
    lost = 1.0 - _interpolation_power(fx, fy)
    if lost > 0:
        sci += rng.normal(0.0, 1.0, shape) * new_err * math.sqrt(lost)
    fixed = dq & ~_SCENE_BITS
    scene = ndimage.shift(dq & _SCENE_BITS, (round(dy), round(dx)), order=0, mode="constant")
    new_dq = fixed | scene
    # detector defects keep their own values at their own place
    defects = (dq & _DEFECT_BITS) != 0
    sci[defects] = source["sci"][defects]
    new_err[defects] = err[defects]
    # pixels the shifted scene no longer covers: sky plus noise, flagged as fill
    yy, xx = np.indices(shape)
    uncovered = (xx < dx) | (xx - dx > shape[1] - 1) | (yy < dy) | (yy - dy > shape[0] - 1)
    sky_noise = math.sqrt(max(sky, 0.0) + read_noise**2)
    sci[uncovered] = sky + rng.normal(0.0, sky_noise, int(uncovered.sum()))
    new_err[uncovered] = sky_noise
    new_dq[uncovered] |= ACS_DQ["FILL"]
    # fresh cosmic rays (left unflagged, as in a single calibrated exposure)
    ys, xs, charge = _cosmic_ray_hits(rng, shape, n_cosmic_rays)
    np.add.at(sci, (ys, xs), charge)
    new_err[ys, xs] = np.sqrt(new_err[ys, xs] ** 2 + charge)
    hits = Table({"x": xs, "y": ys, "electrons": charge})
    return sci.astype(np.float32), new_err.astype(np.float32), new_dq.astype(dq.dtype), hits


def _prepare_source(hdul, *, clean_cosmic_rays, read_noise):
    """Arrays of the original exposure plus ``clean``: SCI with small defects inpainted."""
    sci = hdul["SCI", 1].data.astype(float)
    err = hdul["ERR", 1].data.astype(float)
    dq = hdul["DQ", 1].data
    bad = (dq & _INPAINT_BITS) != 0
    n_found = 0
    if clean_cosmic_rays:
        cosmic = _find_cosmic_rays(sci, err, dq)
        n_found = int(cosmic.sum())
        bad |= cosmic
    clean = _inpaint(sci, bad)
    replaced = bad & ((dq & _DEFECT_BITS) == 0)  # defects get their own values back later
    err = np.where(replaced, np.sqrt(np.clip(clean, 0, None) + read_noise**2), err)
    log.debug("inpainted %d defect and %d cosmic-ray pixels", int(bad.sum()) - n_found, n_found)
    return {"sci": sci, "err": err, "dq": dq, "clean": clean}


def _read_noise(header):
    """Largest amplifier read noise (electrons) of an ACS/WFC3 header (4.7 if absent)."""
    values = [float(header.get(f"READNSE{amp}", 0.0) or 0.0) for amp in "ABCD"]
    return max(values) or 4.7


def _rootname(original, index):
    """``j8bt06nyq`` -> ``j8bt06d0q``, ``j8bt06d1q``...: same visit, new exposure ids."""
    return f"{original[:6]}d{_BASE36[index]}{original[8:9] or 'q'}"


def _update_headers(hdul, *, rootname, asn_id, crval, cd, start, duration, step, n_steps, note):
    primary = hdul[0].header
    primary["ROOTNAME"] = rootname
    primary["FILENAME"] = f"{rootname}_flt.fits"
    time = Time(start, format="mjd", scale="utc")
    primary["DATE-OBS"], primary["TIME-OBS"] = time.isot[:10], time.isot[11:19]
    primary["EXPSTART"] = start
    primary["EXPEND"] = start + duration
    primary["PATTSTEP"] = step
    primary["P1_NPTS"] = n_steps
    primary["ASN_ID"] = (asn_id.upper(), "unique identifier assigned to association")
    primary["ASN_TAB"] = (f"{asn_id}_asn.fits", "name of the association table")
    primary["ASN_MTYP"] = ("EXP-DTH", "Role of the Member in the Association")
    primary.add_history(note)
    for hdu in hdul[1:]:
        hdu.header["EXPNAME"] = rootname
        if "CRVAL1" in hdu.header:
            hdu.header["CRVAL1"], hdu.header["CRVAL2"] = crval
            for (i, j), value in np.ndenumerate(cd):
                hdu.header[f"CD{i + 1}_{j + 1}"] = float(value)
        if "RA_APER" in hdu.header:
            hdu.header["RA_APER"], hdu.header["DEC_APER"] = crval


def _dithered_wcs(header, dx, dy):
    """CRVAL and CD that keep the sky in place once the scene moved by (dx, dy) pixels.

    HST keeps CRPIX at the aperture reference: the new CRVAL is the sky position the
    original WCS gives at ``CRPIX - (dx, dy)``. Moving the tangent point turns the sky
    slightly (meridian convergence, ~1e-3 px over the array for a few pixels); the CD
    matrix is refitted on a grid so that ``new(p + d) == old(p)`` to ~1e-6 px.
    """
    old = WCS(header)
    if dx == 0 and dy == 0:
        return (float(old.wcs.crval[0]), float(old.wcs.crval[1])), old.wcs.cd.copy()
    crpix = old.wcs.crpix.copy()
    crval = old.all_pix2world([[crpix[0] - dx, crpix[1] - dy]], 1)[0]
    ny, nx = header["NAXIS2"], header["NAXIS1"]
    yy, xx = np.mgrid[1 : ny : 16j, 1 : nx : 16j]
    pixels = np.column_stack([xx.ravel(), yy.ravel()])
    sky = old.all_pix2world(pixels, 1)
    unit = WCS(naxis=2)  # same projection, CD = identity: pixel = intermediate world (deg)
    unit.wcs.ctype, unit.wcs.crval, unit.wcs.crpix = list(old.wcs.ctype), crval, [0.0, 0.0]
    iwc = unit.all_world2pix(sky, 1)
    target = pixels + [dx, dy] - crpix  # where each sky position must land, minus CRPIX
    inverse_cd = np.linalg.lstsq(iwc, target, rcond=None)[0].T
    return (float(crval[0]), float(crval[1])), np.linalg.inv(inverse_cd)


def write_hst_association(rootnames, directory, *, asn_id, instrument="ACS", detector="HRC"):
    """Write an HST association table ``<asn_id>_asn.fits`` for dithered exposures.

    Parameters
    ----------
    rootnames : sequence of str
        Member rootnames (``EXP-DTH``); their files are ``<rootname>_flt.fits``.
    directory : str or `~pathlib.Path`
        Output directory (created if needed).
    asn_id : str
        Association id, also the name of the product (``PROD-DTH``): AstroDrizzle names its
        output ``<asn_id>_drz.fits`` unless told otherwise.
    instrument, detector : str, optional
        Copied to the primary header.

    Returns
    -------
    `~pathlib.Path`
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = [r.upper() for r in rootnames] + [asn_id.upper()]
    types = ["EXP-DTH"] * len(rootnames) + ["PROD-DTH"]
    columns = [
        fits.Column(name="MEMNAME", format="14A", array=np.array(names)),
        fits.Column(name="MEMTYPE", format="14A", array=np.array(types)),
        fits.Column(name="MEMPRSNT", format="L", array=np.ones(len(names), bool)),
    ]
    table = fits.BinTableHDU.from_columns(columns, name="ASN")
    primary = fits.PrimaryHDU()
    primary.header["FILENAME"] = f"{asn_id}_asn.fits"
    primary.header["FILETYPE"] = "ASN_TABLE"
    primary.header["TELESCOP"] = "HST"
    primary.header["INSTRUME"] = instrument
    primary.header["DETECTOR"] = detector
    primary.header["ROOTNAME"] = asn_id
    primary.header["ASN_ID"] = asn_id.upper()
    primary.header["ASN_TAB"] = f"{asn_id}_asn.fits"
    path = directory / f"{asn_id}_asn.fits"
    fits.HDUList([primary, table]).writeto(path, overwrite=True)
    return path


def make_acs_hrc_dithers(
    directory,
    *,
    offsets=_DEFAULT_OFFSETS,
    seed=0,
    cosmic_rays=True,
    clean_cosmic_rays=True,
    asn_id=None,
    source=None,
):
    """Write sub-pixel dithered copies of the real ACS/HRC exposure and their association.

    Each copy sees the scene of ``j8bt06nyq_flt.fits`` moved by ``(dx, dy)`` detector
    pixels: the star at sky position (ra, dec), at pixel ``(x, y)`` in the original, is at
    ``(x + dx, y + dy)`` in the copy, and the copy's WCS gives that same sky position there
    (to 1e-7 px): ``CRPIX`` is kept, as in real HST dithers, ``CRVAL`` moves and the CD
    matrix is refitted for the new tangent point (a ~1e-7 change).

    Parameters
    ----------
    directory : str or `~pathlib.Path`
        Output directory (created if needed). The original file is only read.
    offsets : sequence of (float, float), optional
        ``(dx, dy)`` in pixels for each copy (at most 36, each below 256 px).
    seed : int, optional
        Seed of `numpy.random.default_rng`: injected cosmic rays, fill noise and the noise
        restoring the variance removed by interpolation.
    cosmic_rays : bool, optional
        Inject a fresh set of cosmic rays (1.2 events cm^-2 s^-1 over EXPTIME, 1-5 px
        tracks, unflagged as in a single ``_flt``) into every copy, so that AstroDrizzle's
        ``driz_cr`` has real work to do.
    clean_cosmic_rays : bool, optional
        Detect (one L.A.Cosmic iteration) and inpaint the cosmic rays of the original
        before shifting, so that they do not reappear at the same sky position in every
        copy.
    asn_id : str, optional
        Association id and drizzled product name (default: first 6 characters of the
        original rootname + ``"d10"``, e.g. ``j8bt06d10``).
    source : str or `~pathlib.Path`, optional
        Single-chip ``_flt`` to use instead of the shipped ACS/HRC exposure.

    Returns
    -------
    HstDithers

    Raises
    ------
    ValueError
        For bad ``offsets``.

    Notes
    -----
    The scene (SCI) is moved with a cubic spline after small detector defects (DQ 4, 16,
    64, 128) and cosmic rays are inpainted; Gaussian noise restores the variance the
    interpolation removed; ERR moves by linear interpolation. Detector-fixed flags stay on
    the detector and defect pixels (including the occulting-finger shadow, DQ 8) keep
    their original values; scene flags (saturation 256/2048, cosmic rays 4096/8192) move
    by the nearest whole pixel. Pixels the scene no longer covers hold sky plus noise and
    DQ 2 (fill). Each copy gets its own ROOTNAME/EXPNAME/FILENAME, EXPSTART/EXPEND,
    DATE-OBS/TIME-OBS, PATTSTEP and ASN_ID; ``IDCTAB`` is left as it is (``jref$`` cannot be
    resolved offline: drizzle with ``updatewcs=False``).
    """
    directory = Path(directory)
    source_path = Path(source) if source is not None else hst_example_path("acs_hrc")
    rng = np.random.default_rng(seed)
    with fits.open(source_path) as original:
        hdul = fits.HDUList([hdu.copy() for hdu in original])
    primary = hdul[0].header
    shape = hdul["SCI", 1].data.shape
    offsets = _check_offsets(offsets, shape)
    original_root = primary["ROOTNAME"].strip().lower()
    asn_id = asn_id or f"{original_root[:6]}d10"
    read_noise = _read_noise(primary)
    prepared = _prepare_source(hdul, clean_cosmic_rays=clean_cosmic_rays, read_noise=read_noise)
    usable = prepared["dq"] == 0
    _, sky, _ = sigma_clipped_stats(prepared["clean"][usable], sigma=3.0, maxiters=10)
    exptime = float(primary["EXPTIME"])
    duration = float(primary["EXPEND"]) - float(primary["EXPSTART"])
    area = shape[0] * shape[1] * _HRC_PIXEL_CM**2
    directory.mkdir(parents=True, exist_ok=True)
    files, rows, hit_tables = [], [], []
    for index, (dx, dy) in enumerate(offsets):
        rootname = _rootname(original_root, index)
        n_cr = int(rng.poisson(_CR_RATE * area * exptime)) if cosmic_rays else 0
        sci, err, dq, hits = _shift_exposure(
            prepared, dx=dx, dy=dy, sky=float(sky), read_noise=read_noise, rng=rng,
            n_cosmic_rays=n_cr,
        )
        copy = fits.HDUList([hdu.copy() for hdu in hdul])
        copy["SCI", 1].data, copy["ERR", 1].data, copy["DQ", 1].data = sci, err, dq
        crval, cd = _dithered_wcs(hdul["SCI", 1].header, dx, dy)
        start = float(primary["EXPSTART"]) + index * (duration + 120.0 / 86400)
        _update_headers(
            copy, rootname=rootname, asn_id=asn_id, crval=crval, cd=cd, start=start,
            duration=duration, step=index + 1, n_steps=len(offsets),
            note=f"spike: {original_root} with the scene moved by ({dx:g}, {dy:g}) px",
        )
        path = directory / f"{rootname}_flt.fits"
        copy.writeto(path, overwrite=True)
        files.append(path)
        rows.append((path.name, rootname, dx, dy, crval[0], crval[1], start, n_cr))
        hits.add_column(path.name, name="filename", index=0)
        hit_tables.append(hits)
        log.debug("wrote %s (scene moved by %g, %g px)", path, dx, dy)
    asn = write_hst_association(
        [r[1] for r in rows], directory, asn_id=asn_id,
        instrument=primary.get("INSTRUME", "ACS").strip(),
        detector=primary.get("DETECTOR", "HRC").strip(),
    )
    list_file = directory / f"{asn_id}_files.lis"
    list_file.write_text("".join(f"{p.name}\n" for p in files))
    names = ("filename", "rootname", "dx", "dy", "crval1", "crval2", "expstart", "n_cosmic_rays")
    table = Table(rows=rows, names=names)
    log.info("wrote %d dithered ACS/HRC exposures and %s", len(files), asn.name)
    return HstDithers(
        files=files, asn=asn, list_file=list_file, offsets=table,
        cosmic_rays=vstack(hit_tables), sky=float(sky),
    )


# --------------------------------------------------------------------------- drizzlepac


@contextlib.contextmanager
def _quiet_drizzlepac():
    """Silence the known warnings that drizzlepac, stwcs and stsci.tools code emit.

    - ``PyparsingDeprecationWarning`` ('leaveWhitespace' deprecated): ``stregion``,
      imported by ``stwcs`` and ``drizzlepac``, uses pyparsing 2 names;
    - ``UserWarning`` 'IDCSCALE is missing, computing it from CD matrix.' (stwcs): headers
      without a distortion model, as expected offline with ``updatewcs=False``;
    - ``VerifyWarning`` 'Card is too long, comment will be truncated.': drizzlepac writes
      long header comments;
    - ``ResourceWarning`` 'unclosed file': drizzlepac, ``stsci.tools.check_files`` and
      ``wfpc2_to_flt`` leave files open;
    - ``VerifyWarning`` on the waivered WFPC2 table (TDISPn 'L' in an ASCII table);
    - ``AstropyDeprecationWarning`` 'chararray is deprecated': ``stsci.tools.asnutil`` reads
      association tables with chararray methods;
    - ``RuntimeWarning`` 'invalid value encountered in cast' from ``stsci.image.combine``
      (median step): its C code receives an uninitialised ``np.empty_like`` output array and
      warns now and then, depending on the memory's former content.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=r"'\w+' deprecated - use", category=DeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="IDCSCALE is missing, computing it from CD matrix",
            category=UserWarning,
        )
        warnings.filterwarnings(
            "ignore", message="Card is too long, comment will be truncated",
            category=fits.verify.VerifyWarning,
        )
        warnings.filterwarnings(
            "ignore", message=r".*Column disp option \(TDISPn\)", category=fits.verify.VerifyWarning
        )
        warnings.filterwarnings("ignore", message="unclosed file", category=ResourceWarning)
        warnings.filterwarnings(
            "ignore", message="chararray is deprecated", category=AstropyDeprecationWarning
        )
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in cast", category=RuntimeWarning,
            module=r"stsci\.image",
        )
        try:
            yield
        finally:
            gc.collect()  # the unclosed files warn when collected: do it here


@contextlib.contextmanager
def _contained_run(workdir):
    """Run drizzlepac code in ``workdir`` and undo what it does to the interpreter.

    drizzlepac's logging (``stsci.tools.logutil``) adds a file handler to the root logger,
    sets the root level, swaps ``sys.stdout``/``sys.stderr`` and deletes
    ``sys.excepthook``; all are put back here, and its log file is closed.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    streams = sys.stdout, sys.stderr, sys.excepthook
    try:
        with contextlib.chdir(workdir), _quiet_drizzlepac():
            try:
                yield
            finally:
                util = sys.modules.get("drizzlepac.util")
                handler = getattr(util, "_log_file_handler", None)
                if handler is not None:
                    handler.close()
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(level)
        sys.stdout, sys.stderr, sys.excepthook = streams


@functools.cache
def _astrodrizzle_parameters():
    """Names of the parameters ``AstroDrizzle`` accepts (from its TEAL configuration)."""
    with _quiet_drizzlepac():
        import drizzlepac.astrodrizzle  # noqa: F401 - registers the task with teal
        from stsci.tools import teal

        config = teal.load("astrodrizzle", defaults=True)

    def names(section):
        for key, value in section.items():
            if isinstance(value, dict):
                yield from names(value)
            elif not key.startswith("_"):
                yield key

    return frozenset(names(config)) | {"updatewcs"}


def _check_parameters(options, final_pars):
    known = _astrodrizzle_parameters()
    wrong = sorted(k for k in final_pars if not k.startswith("final_") or k not in known)
    if wrong:
        expected = sorted(k for k in known if k.startswith("final_"))
        msg = f"unknown final drizzle parameter(s) {wrong}; expected some of {expected}"
        raise TypeError(msg)
    wrong = sorted(k for k in options if k not in known or k in ("input", "output"))
    if wrong:
        msg = f"options holds unknown or reserved AstroDrizzle parameter(s) {wrong}"
        raise ValueError(msg)


def _asn_members(asn):
    table = Table.read(asn, hdu=1)
    members = []
    for name, kind, present in zip(
        table["MEMNAME"], table["MEMTYPE"], table["MEMPRSNT"], strict=True
    ):
        if str(kind).strip().upper().startswith("EXP") and bool(present):
            root = str(name).strip().lower()
            candidates = [asn.parent / f"{root}_{suffix}.fits" for suffix in ("flt", "flc")]
            found = [c for c in candidates if c.is_file()]
            if not found:
                msg = f"association {asn.name}: no _flt/_flc file for member {root} in {asn.parent}"
                raise FileNotFoundError(msg)
            members.append(found[0])
    return members


def _resolve_inputs(files, workdir):
    """Return (files to copy into ``workdir``, AstroDrizzle input naming the copies)."""
    if isinstance(files, (str, Path)):
        text = str(files)
        if text.startswith("@"):
            # copy the members (and IVM maps, 2nd column) and rewrite the list with their
            # bare names; its own name must not contain "_asn", which drizzlepac reads as ASN
            list_file = Path(text[1:])
            rows = [line.split() for line in list_file.read_text().splitlines() if line.strip()]
            members = [list_file.parent / name for row in rows for name in row[:2]]
            new_list = workdir / "spike_input_files.lis"
            lines = (" ".join(Path(name).name for name in row[:2]) for row in rows)
            new_list.write_text("".join(f"{line}\n" for line in lines))
            return members, f"@{new_list.name}"
        path = Path(files)
        if path.name.endswith("_asn.fits"):
            return _asn_members(path) + [path], path.name
        files = [path]
    paths = [Path(f) for f in files]
    if not paths:
        msg = "files must name at least one exposure"
        raise ValueError(msg)
    return paths, [p.name for p in paths]


def run_astrodrizzle(files, output, *, workdir, options=None, **final_pars):
    """Drizzle HST exposures with ``drizzlepac.astrodrizzle.AstroDrizzle``, offline, on copies.

    The exposures (and association or list file) are copied into ``workdir`` and
    AstroDrizzle runs there, with ``workdir`` as current directory, as a science run would:
    static mask, sky subtraction, separate drizzling, median, blot, ``driz_cr`` and final
    drizzling, but ``updatewcs=False`` (no distortion reference files offline) and
    ``clean=False`` (the ``<root>_sci?_final_mask.fits`` masks stay in ``workdir``).
    The original files are never opened for writing.

    Parameters
    ----------
    files : str, `~pathlib.Path` or sequence of them
        Exposures (``_flt``/``_flc``), an HST association table (``*_asn.fits``, members
        found beside it) or ``"@<list file>"`` (one file name per line, beside the list).
    output : str
        Rootname of the product: AstroDrizzle writes ``<output>_drz.fits`` (``_drc`` for
        ``_flc`` inputs, ``_drw`` for WFPC2, as drizzlepac names them).
    workdir : str or `~pathlib.Path`
        Working directory (created if needed); must not hold the input files themselves.
        Earlier copies and products of the same name there are replaced.
    options : dict, optional
        Other AstroDrizzle parameters overriding the science-run settings (e.g.
        ``{"driz_cr": False}`` or ``{"num_cores": 2}``).
    **final_pars
        Parameters of the final drizzling (``final_pixfrac``, ``final_kernel``,
        ``final_scale``, ``final_rot``, ``final_refimage``, ``final_wht_type``,
        ``final_bits``...). A custom-WCS parameter (``final_refimage``, ``final_scale``,
        ``final_rot``, ``final_outnx``...) turns ``final_wcs`` on, as AstroDrizzle does.

    Returns
    -------
    `~pathlib.Path`
        The product ``<workdir>/<output>_drz.fits`` (``_drc``/``_drw``), with extensions
        SCI, WHT and CTX.

    Raises
    ------
    TypeError
        For a keyword argument that is not a ``final_*`` parameter of AstroDrizzle.
    ValueError
        For an unknown parameter in ``options`` (or ``input``/``output`` there), if
        ``workdir`` holds an input file or ``files`` is empty.
    SpikeError
        If AstroDrizzle finishes without writing the product.
    """
    options = dict(options or {})
    _check_parameters(options, final_pars)
    output = str(output).removesuffix(".fits")
    for suffix in ("_drz", "_drc", "_drw"):
        output = output.removesuffix(suffix)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sources, drizzle_input = _resolve_inputs(files, workdir)
    for source in sources:
        if not source.is_file():
            msg = f"input file {source} does not exist"
            raise FileNotFoundError(msg)
        target = workdir / source.name
        if target.exists() and target.samefile(source):
            msg = f"workdir {workdir} holds the input {source.name}; AstroDrizzle would edit it"
            raise ValueError(msg)
        shutil.copyfile(source, target)
    products = [workdir / f"{output}_{suffix}.fits" for suffix in ("drz", "drc", "drw")]
    for stale in products:
        stale.unlink(missing_ok=True)
    pars = _SCIENCE_PARS | options | final_pars
    log.debug("AstroDrizzle(%r, output=%r) in %s with %s", drizzle_input, output, workdir, pars)
    with _contained_run(workdir):
        from drizzlepac import astrodrizzle

        astrodrizzle.AstroDrizzle(input=drizzle_input, output=output, **pars)
    products = [p for p in products if p.is_file()]
    if not products:
        msg = f"AstroDrizzle wrote no {output}_drz.fits in {workdir}; see its astrodrizzle.log"
        raise SpikeError(msg)
    product = products[0]
    log.info("AstroDrizzle wrote %s", product)
    return product


# --------------------------------------------------------------------------- WFPC2


def prepare_wfpc2(c0f_path, directory):
    """Turn a waivered WFPC2 ``_c0f`` exposure into a four-chip ``_flt`` file drizzlepac reads.

    The ``_c0f`` (and the ``_c1f`` data-quality file beside it, when present) is converted
    to multi-extension ``<root>_c0m.fits`` (``_c1m``) with the primary ``FILENAME`` keyword
    in ``directory``, then ``drizzlepac.wfpc2Data.wfpc2_to_flt`` builds
    ``<root>_flt.fits``: SCI, DQ and ERR for PC1, WF2, WF3 and WF4, each chip with its own
    WCS (CD matrix; distortion tables are unavailable offline, so drizzle it with
    ``updatewcs=False``). The input file is only read.

    Parameters
    ----------
    c0f_path : str or `~pathlib.Path`
        WFPC2 ``*_c0f.fits`` file, e.g. ``hst_example_path("wfpc2_c0f")``.
    directory : str or `~pathlib.Path`
        Output directory (created if needed).

    Returns
    -------
    `~pathlib.Path`
        ``<directory>/<root>_flt.fits``.

    Warns
    -----
    SpikeWarning
        When no ``_c1f`` is found: DQ is then 0 everywhere (all pixels good).

    Notes
    -----
    ``wfpc2_to_flt`` sets ERR to ``sqrt(SCI)`` (NaN for negative pixels); ERR is replaced
    by ``sqrt(max(SCI, 0) * ATODGAIN + RN**2) / ATODGAIN`` (DN).
    """
    c0f_path = Path(c0f_path)
    root = wfpc2_rootname(c0f_path)
    if not c0f_path.is_file():
        msg = f"WFPC2 file {c0f_path} does not exist"
        raise FileNotFoundError(msg)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    c1f_path = c0f_path.with_name(f"{root}_c1f.fits")
    with _quiet_drizzlepac():
        waivered_to_mef(c0f_path, directory / f"{root}_c0m.fits")
        if c1f_path.is_file():
            waivered_to_mef(c1f_path, directory / f"{root}_c1m.fits")
    if not c1f_path.is_file():
        (directory / f"{root}_c1m.fits").unlink(missing_ok=True)
        warnings.warn(
            f"no data-quality file {c1f_path.name} beside {c0f_path.name}: "
            "WFPC2 DQ set to 0 (all pixels treated as good)",
            SpikeWarning, stacklevel=2,
        )
    with _contained_run(directory), warnings.catch_warnings():
        # its ERR = sqrt(SCI) warns on negative pixels; fix_wfpc2_errors replaces it
        warnings.filterwarnings(
            "ignore", message="invalid value encountered in sqrt", category=RuntimeWarning
        )
        from drizzlepac import wfpc2Data

        flt = wfpc2Data.wfpc2_to_flt(f"{root}_c0m.fits")
    flt = directory / flt
    fix_wfpc2_errors(flt)
    with fits.open(flt) as hdul:
        chips = [WFPC2_CHIPS.get(h.header.get("DETECTOR"), "?") for h in hdul if h.name == "SCI"]
    log.info("wrote %s with WFPC2 chips %s", flt, ", ".join(chips))
    return flt
