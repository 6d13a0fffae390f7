"""Checks of the steps' parameters, made before any exposure is opened or PSF modelled.

configobj checks types and simple bounds (the ``spec``); what it cannot express is checked
here, with a message naming the parameter and its value, so that a bad value fails at once
instead of deep inside jwst, romancal, stcal or drizzle after the PSFs were modelled.
Checks that need the exposures (the mission's DQ flag names, the memory a run needs) are
made by the mission adapters and `spike.workflow` before any modelling.
"""

import functools
import math
import re
import tempfile
from os.path import expanduser, expandvars
from pathlib import Path

__all__ = ["check_generate_pars", "check_resample_pars", "check_output_dir",
           "explicit_pars", "parse_fillval"]

_BIT_TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$|^\d+$")


def _finite(name, value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        msg = f"{name}={value!r} must be a finite number"
        raise ValueError(msg)
    return number


def _positive(name, value, what="a positive number"):
    number = _finite(name, value)
    if number <= 0:
        msg = f"{name}={value!r} must be {what}"
        raise ValueError(msg)
    return number


def _pair(name, value):
    if value is not None and len(value) != 2:
        msg = f"List '{name}' must have exactly two elements."
        raise ValueError(msg)
    return value


def parse_fillval(value):
    """Return the fill value as the resample code takes it, or raise ValueError.

    Parameters
    ----------
    value : str, float or None
        ``None``, ``""``, ``"INDEF"`` or ``"NONE"`` (AstroDrizzle: leave empty pixels
        undefined, i.e. NaN), ``"NAN"`` or any number.

    Returns
    -------
    str or None
        None for an undefined fill value, else the value as a string.

    Examples
    --------
    >>> parse_fillval("nan"), parse_fillval("INDEF"), parse_fillval(0)
    ('nan', None, '0')
    """
    if value is None or str(value).strip().upper() in ("", "INDEF", "NONE"):
        return None
    text = str(value).strip()
    try:
        float(text)
    except ValueError:
        msg = f"fillval={value!r} must be a number, 'NAN' or 'INDEF'"
        raise ValueError(msg) from None
    return text


def _check_good_bits(value):
    """Syntax of ``good_bits``; the flag names are checked against the mission's later."""
    if value is None:
        return
    text = str(value).strip()
    body = text[1:] if text.startswith("~") else text
    tokens = [t.strip() for t in re.split(r"[+,|]", body)]
    if text.upper() == "NONE" or (tokens and all(_BIT_TOKEN.match(t) for t in tokens)):
        return
    msg = (f"good_bits={value!r} is not a DQ flag list: give an integer, flag names or "
           "numbers joined by '+' or ',' (e.g. '~DO_NOT_USE+NON_SCIENCE', '64,32'), or None")
    raise ValueError(msg)


def check_generate_pars(step):
    """Check the PSF-generation parameters of ``step`` (both steps).

    Raises
    ------
    ValueError
        A parameter has an impossible value; the message names it.
    """
    from spike.psf.choice import parse_method_options

    if step.stamp_size % 2 == 0:
        msg = f"stamp_size must be odd, got {step.stamp_size}"
        raise ValueError(msg)
    parse_method_options(step.method_options)  # 'name=value' syntax, named on error


def check_resample_pars(step):
    """Check the drizzling parameters of a `~spike.steps.DrizzlePSFStep`.

    Raises
    ------
    ValueError
        A parameter has an impossible value; the message names it and the value.
    FileNotFoundError
        ``reference_mosaic``, ``output_wcs`` or ``mask_dir`` does not exist.
    """
    from spike.parallel import parse_scheduler

    for name in ("output_shape", "crpix", "crval"):
        _pair(name, getattr(step, name))
    if step.output_shape is not None:
        for v in step.output_shape:
            if int(v) < 1:
                msg = f"output_shape={list(step.output_shape)} must be two integers >= 1"
                raise ValueError(msg)
    if step.crpix is not None:
        for v in step.crpix:
            _finite("crpix", v)
    if step.crval is not None:
        _, dec = (_finite("crval", v) for v in step.crval)
        if abs(dec) > 90:
            msg = f"crval={list(step.crval)}: the declination must lie in [-90, 90] degrees"
            raise ValueError(msg)
    if step.rotation is not None:
        _finite("rotation", step.rotation)
    if step.pixel_scale is not None:
        _positive("pixel_scale", step.pixel_scale, "a positive pixel scale in arcsec")
    if step.pixel_scale_ratio is not None:
        _positive("pixel_scale_ratio", step.pixel_scale_ratio)
    if step.pixmap_stepsize is not None:
        _positive("pixmap_stepsize", step.pixmap_stepsize, "a positive number of pixels")
    if step.pixmap_order not in (None, 1, 3):
        msg = f"pixmap_order must be 1 or 3, got {step.pixmap_order}"
        raise ValueError(msg)
    if step.output_size is not None and step.output_size % 2 == 0:
        msg = f"output_size must be odd, got {step.output_size}"
        raise ValueError(msg)
    parse_fillval(step.fillval)
    _check_good_bits(step.good_bits)
    if step.reference_mosaic and step.output_wcs:
        msg = "Give either reference_mosaic or output_wcs, not both"
        raise ValueError(msg)
    for name in ("reference_mosaic", "output_wcs"):
        value = getattr(step, name)
        if value and isinstance(value, (str, Path)) and not Path(value).is_file():
            msg = f"{name} {value} does not exist"
            raise FileNotFoundError(msg)
    if step.mask_dir and not Path(step.mask_dir).is_dir():
        msg = f"mask_dir {step.mask_dir} is not a directory"
        raise FileNotFoundError(msg)
    if step.scheduler:
        parse_scheduler(step.scheduler)


def check_output_dir(step):
    """Check that the files ``step`` will write can be created, before any computation.

    Nothing is checked when the step saves nothing. The check creates and removes a
    temporary file in the output directory (``output_dir``, else the working directory),
    which also catches read-only file systems and special directories.

    Raises
    ------
    PermissionError
        The output directory does not accept new files.
    """
    saves = (step.save_results or step.output_file or getattr(step, "save_plots", False)
             or getattr(step, "save_exposure_psfs", False))
    if not saves:
        return
    where = expandvars(expanduser(step.output_dir)) if step.output_dir else "."
    try:
        with tempfile.TemporaryFile(dir=where):
            pass
    except OSError as exc:
        name = "output_dir" if step.output_dir else "the working directory (no output_dir)"
        msg = f"{name} {where!r} does not accept new files: {exc.strerror or exc}"
        raise PermissionError(msg) from exc


@functools.lru_cache(maxsize=8)
def _spec_defaults(step_class):
    from stpipe import config_parser

    spec = config_parser.load_spec_file(step_class)
    return dict(config_parser.config_from_dict({}, spec=spec))


def explicit_pars(step, names):
    """The names among ``names`` whose value differs from the step's spec default.

    stpipe does not say which parameters the user set; a value other than the default
    was certainly set (an explicit value equal to the default cannot be told apart).
    """
    defaults = _spec_defaults(type(step))
    return tuple(n for n in names if getattr(step, n) != defaults.get(n))
