"""The output grid of an HST science drizzle, and the science run's final masks.

Three sources, as in AstroDrizzle: the science ``_drz``/``_drc`` product itself
(``reference_mosaic``: its ``SCI`` WCS and the ``D###`` keywords AstroDrizzle records), a
reference image (``final_refimage``, here ``output_wcs``) or the grid AstroDrizzle computes
from the chips (``drizzlepac.wcs_functions.make_outputwcs``: stwcs' ``output_wcs`` of
all chips, then the user's ``final_scale``/``final_rot``/``final_ra``... merged in with
``mergeWCS``). drizzlepac's own functions build the latter two, so the grid is the one
AstroDrizzle would use.
"""

import logging
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from spike.missions._astrodrizzle import _quiet_drizzlepac
from spike.missions._hst_files import hst_rootname
from spike.missions.base import OutputGrid
from spike.stamps.hst_drizzle import drz_grid, output_pscale

__all__ = ["HST_DEFAULTS", "grid_from_drz", "grid_from_refimage", "grid_from_chips",
           "final_wcs_pars", "find_final_masks"]

log = logging.getLogger(__name__)

#: AstroDrizzle's final-drizzle defaults (``final_*``, ``stepsize``).
HST_DEFAULTS = {"pixfrac": 1.0, "kernel": "square", "fillval": None, "wht_type": "EXP",
                "good_bits": 0, "pixmap_stepsize": 10, "units": "cps"}


def final_wcs_pars(*, output_shape=None, pixel_scale=None, rotation=None, crpix=None,
                   crval=None):
    """The step's grid parameters as AstroDrizzle's ``final_*`` WCS parameters.

    ``crpix`` is 0-based (as jwst's ``ResampleStep``); AstroDrizzle's ``final_crpix1/2``
    are FITS (1-based) values.
    """
    pars = {}
    if output_shape is not None:
        pars["outnx"], pars["outny"] = (int(v) for v in output_shape)
    if pixel_scale is not None:
        pars["scale"] = float(pixel_scale)
    if rotation is not None:
        pars["rot"] = float(rotation)
    if crval is not None:
        pars["ra"], pars["dec"] = (float(v) for v in crval)
    if crpix is not None:
        pars["crpix1"], pars["crpix2"] = (float(v) + 1.0 for v in crpix)
    return pars


def _plain_wcs(hstwcs, shape=None):
    """A plain `astropy.wcs.WCS` (with ``pixel_shape``) of a drizzlepac/stwcs output WCS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(hstwcs.to_header())
    if shape is None:
        shape = (int(hstwcs.pixel_shape[1]), int(hstwcs.pixel_shape[0]))
    wcs.pixel_shape = shape[::-1]
    return wcs, tuple(int(v) for v in shape)


def _merge(default_wcs, final):
    from drizzlepac import wcs_functions

    pars = dict(wcs_functions.DEFAULT_WCS_PARS)
    pars.update(final)
    return wcs_functions.mergeWCS(default_wcs, pars)


def _grid(wcs, shape, pars, *, source, reference=None):
    return OutputGrid(wcs=wcs, shape=shape, pixel_scale=output_pscale(wcs),
                      pixel_scale_ratio=None, source=source, reference=reference, pars=pars)


def grid_from_chips(chips, pars, final, *, pixel_scale_ratio=1.0):
    """AstroDrizzle's default output grid of ``chips``, with ``final`` WCS parameters merged.

    Parameters
    ----------
    chips : list of spike.missions._hst_files.HstChip
        Every chip of every exposure.
    pars : dict
        Drizzle parameters (kept in the grid).
    final : dict
        `final_wcs_pars` output (empty: the default grid).
    pixel_scale_ratio : float, optional
        Output/input pixel-scale ratio, applied to the default grid's scale when ``final``
        has no ``scale`` (AstroDrizzle has no such parameter; spike's own convenience).
    """
    from stwcs.distortion import utils
    from stwcs.wcsutil import HSTWCS

    with _quiet_drizzlepac():
        hstwcs = []
        for chip in chips:
            hstwcs.append(HSTWCS(chip.hdulist, ext=("SCI", chip.extver)))
        default = utils.output_wcs(hstwcs, undistort=True)
        final = dict(final)
        if pixel_scale_ratio not in (None, 1.0) and "scale" not in final:
            final["scale"] = float(pixel_scale_ratio) * default.pscale
        merged = _merge(default, final) if final else default
    wcs, shape = _plain_wcs(merged)
    return _grid(wcs, shape, pars, source="computed")


def grid_from_refimage(path, pars, final):
    """The grid of a reference image (AstroDrizzle's ``final_refimage``), ``final`` merged in.

    Parameters
    ----------
    path : str or Path
        FITS image whose ``SCI`` (else first image) extension holds the grid's WCS and
        shape.
    """
    from stwcs.wcsutil import HSTWCS

    path = Path(path)
    if not path.is_file():
        msg = f"output_wcs {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        with fits.open(path) as hdul:
            ext = ("SCI", 1) if ("SCI", 1) in hdul else next(
                i for i, h in enumerate(hdul) if h.header.get("NAXIS") == 2)
            with _quiet_drizzlepac():
                ref = HSTWCS(hdul, ext=ext)
    except (OSError, StopIteration, KeyError, ValueError) as exc:
        msg = f"output_wcs {path} is not a FITS image with a celestial WCS: {exc}"
        raise ValueError(msg) from exc
    with _quiet_drizzlepac():
        merged = _merge(ref, final) if final else ref
    wcs, shape = _plain_wcs(merged)
    return _grid(wcs, shape, pars, source="output_wcs", reference=path.name)


def grid_from_drz(path, pars, *, instrument, band, chips, mask_dir=None, explicit=()):
    """The grid and final-drizzle parameters of a science ``_drz``/``_drc``/``_drw``.

    The parameters AstroDrizzle recorded (``D001KERN``, ``D001PIXF``, ``D001FVAL``,
    ``D001OUUN``) replace the step's, with a log line when they differ; the science run's
    final masks (``D###MASK``) are looked for in ``mask_dir`` (default: beside the
    product) and returned in ``pars["final_masks"]`` as ``{chip label: (path, wt_scl)}``.
    Replacing a parameter in ``explicit`` (set by the user) is a WARNING.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing or unreadable product, or one of another instrument or filter.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"reference_mosaic {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            drz = drz_grid(path)
        primary = fits.getheader(path, 0)
    except (OSError, KeyError, ValueError) as exc:
        msg = f"reference_mosaic {path} is not an AstroDrizzle product with a SCI image: {exc}"
        raise ValueError(msg) from exc
    _check_band(primary, path.name, instrument, band)
    recorded = {"kernel": drz.pars.get("kernel"), "pixfrac": drz.pars.get("pixfrac"),
                "units": drz.pars.get("units")}
    out = dict(pars)
    for key, value in recorded.items():
        if value in (None, ""):
            continue
        if out.get(key) is not None and str(out[key]) != str(value):
            level = logging.WARNING if key in explicit else logging.INFO
            log.log(level, "%s=%s given, but reference_mosaic %s was made with %s=%s: using "
                    "%s", key, out[key], path.name, key, value, value)
        out[key] = value
    out["fillval"] = _number_or_none(drz.pars.get("fillval"))  # INDEF -> None (NaN)
    out["final_masks"] = find_final_masks(drz.pars, Path(mask_dir) if mask_dir else path.parent)
    _check_inputs(drz.pars.get("inputs", []), chips, path.name)
    return _grid(drz.wcs, drz.shape, out, source="reference_mosaic", reference=path.name)


def _number_or_none(value):
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _check_band(primary, name, instrument, band):
    drz_instrument = str(primary.get("INSTRUME", "")).strip().upper()
    if drz_instrument and drz_instrument != instrument:
        msg = f"reference_mosaic {name} is {drz_instrument}, the exposures are {instrument}"
        raise ValueError(msg)
    keys = ("FILTNAM1", "FILTNAM2") if instrument == "WFPC2" else (
        ("FILTER1", "FILTER2") if instrument == "ACS" else ("FILTER",))
    values = {str(primary.get(k, "")).strip().upper() for k in keys} - {""}
    if values and band not in values and not any(v == "MULTI" for v in values):
        msg = (f"reference_mosaic {name} was drizzled in {'/'.join(sorted(values))}, the "
               f"exposures are {band}")
        raise ValueError(msg)


def _chip_key(text):
    """``'j8bt06d0q_flt.fits[sci,1]'`` -> ``('j8bt06d0q', 1)``."""
    text = str(text).strip()
    name, _, ext = text.partition("[")
    extver = 1
    digits = "".join(c if c.isdigit() else " " for c in ext).split()
    if digits:
        extver = int(digits[-1])
    return hst_rootname(name), extver


def find_final_masks(drz_pars, directory):
    """Map ``(rootname, extver)`` of every drizzled chip to its final mask, when present.

    Parameters
    ----------
    drz_pars : dict
        `spike.stamps.hst_drizzle.drz_grid` parameters: ``inputs``, ``masks`` and
        ``wt_scls`` (``D###DATA``, ``D###MASK``, ``D###WTSC``).
    directory : Path
        Where the science run left them.

    Returns
    -------
    dict
        ``{(rootname, extver): (path or None, wt_scl)}``; path None when the file is
        missing (then the weights are rebuilt from DQ).
    """
    masks = {}
    wt_scls = drz_pars.get("wt_scls") or [drz_pars.get("wt_scl") or 1.0] * len(
        drz_pars.get("inputs", []))
    for data, mask, wt_scl in zip(drz_pars.get("inputs", []), drz_pars.get("masks", []),
                                  wt_scls, strict=False):
        key = _chip_key(data)
        candidate = directory / Path(mask).name if mask else None
        found = candidate if candidate is not None and candidate.is_file() else None
        masks[key] = (found, float(wt_scl) if wt_scl not in (None, "") else 1.0)
    return masks


def _check_inputs(inputs, chips, name):
    drizzled = {_chip_key(text) for text in inputs}
    if not drizzled:
        return
    missing = [c.label for c in chips if (c.exposure.rootname, c.extver) not in drizzled]
    if missing:
        log.warning("reference_mosaic %s does not list %s among its inputs (D###DATA); "
                    "their PSFs are drizzled all the same", name, ", ".join(missing))


def pixel_area_sr(wcs, shape):
    """Pixel solid angle (sr) of an astropy WCS at the array centre."""
    ny, nx = shape
    x, y = (nx - 1) / 2.0, (ny - 1) / 2.0
    ra, dec = wcs.pixel_to_world_values([x - 0.5, x + 0.5, x - 0.5], [y - 0.5, y - 0.5, y + 0.5])
    ra, dec = np.radians(ra), np.radians(dec)
    vec = np.array([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    return float(np.linalg.norm(np.cross(vec[:, 1] - vec[:, 0], vec[:, 2] - vec[:, 0])))
