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

This module holds the examples, the dither and WFPC2 entry points; the dithering
machinery and `ACS_DQ` live in `spike.datasets._hst_dithers`; `run_astrodrizzle` and its
drizzlepac plumbing in `spike.missions._astrodrizzle`, shared with the HST adapter's
``astrodrizzle`` engine (both re-exported here).
"""

import importlib.util
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from astropy.table import Table, vstack

from spike.missions._astrodrizzle import _contained_run, _quiet_drizzlepac, run_astrodrizzle
from spike.datasets._hst_dithers import (
    _CR_RATE,
    _DEFAULT_OFFSETS,
    _HRC_PIXEL_CM,
    ACS_DQ,
    _check_offsets,
    _dithered_wcs,
    _prepare_source,
    _read_noise,
    _rootname,
    _shift_exposure,
    _update_headers,
)
from spike.datasets._wfpc2 import (
    WFPC2_CHIPS,
    fix_wfpc2_errors,
    waivered_to_mef,
    wfpc2_rootname,
)
from spike.exceptions import SpikeWarning

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
