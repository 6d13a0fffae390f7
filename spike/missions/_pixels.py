"""Science pixels of a JWST or Roman exposure for empirical PSF methods (`ExposurePixels`)."""

import numpy as np

from spike.psf.base import ExposurePixels

__all__ = ["model_pixels"]


def model_pixels(model, *, good_bits, flag_name_map):
    """Return the `~spike.psf.base.ExposurePixels` of a JWST or Roman image model.

    Parameters
    ----------
    model : datamodel
        With ``data`` and, when present, ``dq`` and ``err`` arrays (not copied).
    good_bits : str
        The mission's resample ``good_bits`` (e.g. ``"~DO_NOT_USE+NON_SCIENCE"``).
    flag_name_map : mapping
        The mission's DQ flag names (``SATURATED`` marks saturation).
    """
    from stcal.resample.utils import build_mask

    data = np.asarray(model.data)
    good = np.isfinite(data)
    saturated = None
    dq = getattr(model, "dq", None)
    if dq is not None:
        dq = np.asarray(dq)
        good &= build_mask(dq, good_bits, flag_name_map=flag_name_map).astype(bool)
        saturated = (dq.astype(np.int64) & int(flag_name_map["SATURATED"])) != 0
    err = getattr(model, "err", None)
    return ExposurePixels(data=data, good=good, saturated=saturated,
                          err=None if err is None else np.asarray(err))
