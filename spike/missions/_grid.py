"""Helpers shared by the missions' output-grid builders."""

import logging
import math
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from stcal.resample.utils import compute_mean_pixel_area

__all__ = ["scale_from_area", "wcs_pixel_scale", "input_scale_ratio", "apply_recorded",
           "quiet_info", "open_reference", "stamp_outputs"]

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


def apply_recorded(pars, recorded, keys, name):
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
    """
    out = dict(pars)
    for key in keys:
        value = recorded.get(key)
        if value is None or value in ("?", -999999, -999999.0):
            continue
        if out.get(key) is not None and str(out[key]) != str(value):
            log.info("Using %s=%s recorded in %s (instead of %s)", key, value, name, out[key])
        out[key] = value
    return out


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
        msg = f"reference_mosaic {path} cannot be opened as {what}: {exc}"
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
