"""Helpers shared by the missions' output-grid builders."""

import logging
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from stcal.resample.utils import compute_mean_pixel_area

__all__ = ["scale_from_area", "wcs_pixel_scale", "input_scale_ratio", "apply_recorded",
           "quiet_info", "open_reference", "stamp_outputs", "check_mosaic_band",
           "check_good_bits", "fill_defaults", "RESAMPLE_DEFAULTS"]

#: jwst's and romancal's ResampleStep defaults of the drizzle parameters.
RESAMPLE_DEFAULTS = {"pixfrac": 1.0, "kernel": "square", "fillval": "NAN", "weight_type": "ivm"}

log = logging.getLogger(__name__)


def scale_from_area(area_sr):
    """Return the side (arcsec) of a square pixel of solid angle ``area_sr`` (steradian)."""
    return 3600.0 * math.degrees(math.sqrt(area_sr))


def wcs_pixel_scale(wcs, shape=None):
    """Return the mean pixel scale (arcsec) of ``wcs``, as stcal estimates it."""
    return scale_from_area(compute_mean_pixel_area(wcs, shape=shape))


def input_scale_ratio(pixel_scale, *, nominal_area, wcs, shape):
    """Output/input pixel-scale ratio as stcal computes it from the first input exposure.

    Parameters
    ----------
    pixel_scale : float
        Output pixel scale (arcsec).
    nominal_area : float or None
        The exposure's nominal pixel area (sr); when missing, its mean pixel area is used.
    wcs, shape
        The exposure's WCS and array shape.
    """
    if nominal_area and nominal_area > 0:
        return pixel_scale / scale_from_area(nominal_area)
    return pixel_scale / wcs_pixel_scale(wcs, shape)


def apply_recorded(pars, recorded, keys, name, *, explicit=()):
    """Return ``pars`` with the resample parameters a mosaic recorded (``keys``) applied.

    Parameters
    ----------
    pars : dict
        The step's parameters.
    recorded : dict
        The mosaic's ``meta.resample`` values (missing or placeholder values are skipped).
    keys : iterable of str
        Names to take from ``recorded``.
    name : str
        The mosaic's name, for the log.
    explicit : iterable of str, optional
        Parameters the user set: overriding one of them with another value is a WARNING
        (an INFO line for defaults).
    """
    out = dict(pars)
    for key in keys:
        value = recorded.get(key)
        if value is None or value in ("?", -999999, -999999.0):
            continue
        if out.get(key) is not None and str(out[key]) != str(value):
            level = logging.WARNING if key in explicit else logging.INFO
            log.log(level, "%s=%s given, but reference_mosaic %s was made with %s=%s: using "
                    "%s", key, out[key], name, key, value, value)
        out[key] = value
    return out


def fill_defaults(pars, defaults):
    """``pars`` with every parameter that is None or missing set to its default."""
    out = dict(pars)
    for key, value in defaults.items():
        if out.get(key) is None:
            out[key] = value
    return out


#: Metadata values that say nothing about the band (blended or missing).
_UNKNOWN = ("", "N/A", "NONE", "ANY", "MULTIPLE", "MULTI")


def _norm(value):
    return str(value or "").strip().upper()


def check_mosaic_band(name, *, instrument, filter_name, pupil=None, det):
    """Raise ValueError when a reference mosaic is of another instrument or filter.

    Parameters
    ----------
    name : str
        The mosaic's file name (for the message).
    instrument, filter_name, pupil : str or None
        The mosaic's instrument, filter and pupil; missing or blended values (``N/A``,
        ``MULTIPLE``) are not compared.
    det : spike.psf.base.DetectorInfo
        The first exposure (all exposures share one band).
    """
    pairs = (("instrument", instrument, det.instrument), ("filter", filter_name, det.filter),
             ("pupil", pupil, det.pupil))
    for what, mosaic_value, exposure_value in pairs:
        if _norm(mosaic_value) in _UNKNOWN or _norm(exposure_value) in _UNKNOWN:
            continue
        if _norm(mosaic_value) != _norm(exposure_value):
            msg = (f"reference_mosaic {name} is {what} {_norm(mosaic_value)}, the exposures "
                   f"are {_norm(exposure_value)}: give the mosaic made from these exposures")
            raise ValueError(msg)


def check_good_bits(value, flag_name_map, mission):
    """Return ``value`` after checking it names only the mission's DQ flags.

    Raises
    ------
    ValueError
        Naming ``good_bits``, its value and the known flag names.
    """
    from astropy.nddata.bitmask import interpret_bit_flags

    try:
        interpret_bit_flags(value, flag_name_map=flag_name_map)
    except (KeyError, ValueError, TypeError) as exc:
        names = ", ".join(sorted(flag_name_map))
        msg = (f"good_bits={value!r} is not a {mission.upper()} DQ flag combination ({exc}); "
               f"flags are numbers or names among {names}")
        raise ValueError(msg) from None
    return value


@contextmanager
def open_reference(reference, opener, what):
    """Yield ``(model, name)`` of a reference mosaic given as a path or a model.

    A path is opened with ``opener`` (and closed afterwards); errors name the file.

    Parameters
    ----------
    reference : str, Path or model
        The mosaic.
    opener : callable
        Opens a path as the mission's datamodel.
    what : str
        What the mission calls it, for messages (e.g. ``"a JWST image"``).
    """
    if not isinstance(reference, (str, Path)):
        yield reference, getattr(reference.meta, "filename", None) or "<model>"
        return
    path = Path(reference)
    if not path.is_file():
        msg = f"reference_mosaic {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        model = opener(path)
    except Exception as exc:  # the datamodel libraries raise many types for bad files
        from spike.missions._inputs import short_error

        msg = f"reference_mosaic {path} cannot be opened as {what}: {short_error(exc)}"
        raise ValueError(msg) from exc
    try:
        yield model, path.name
    finally:
        model.close()


class _DropInfo(logging.Filter):
    def filter(self, record):
        return record.levelno > logging.INFO


@contextmanager
def quiet_info(names):
    """Drop INFO (and lower) records of loggers ``names`` meanwhile; warnings still pass.

    Used while drizzling stamps: the resample code logs the same parameters for every stamp.
    """
    filt = _DropInfo()
    loggers = [logging.getLogger(n) for n in names]
    for logger in loggers:
        logger.addFilter(filt)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(filt)


def stamp_outputs(output_model):
    """Return ``(data, wht, con)`` of a finalized stcal resample output dictionary.

    ``con`` always has a leading bit-plane axis: ``(n_planes, ny, nx)``.
    """
    con = np.asarray(output_model["con"], dtype=np.int32)
    if con.ndim == 2:
        con = con[np.newaxis]
    return (np.asarray(output_model["data"], dtype=np.float32),
            np.asarray(output_model["wht"], dtype=np.float32), con)
