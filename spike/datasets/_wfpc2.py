"""WFPC2 waivered FITS (``_c0f``/``_c1f``) to the multi-extension forms drizzlepac reads."""

import logging
from pathlib import Path

import numpy as np
from astropy.io import fits

__all__ = ["WFPC2_CHIPS", "fix_wfpc2_errors", "waivered_to_mef", "wfpc2_rootname"]

log = logging.getLogger(__name__)

#: WFPC2 chips by DETECTOR number (one SCI extension each, 800x800).
WFPC2_CHIPS = {1: "PC1", 2: "WF2", 3: "WF3", 4: "WF4"}
#: Approximate read noise (electrons) at the two analog-to-digital gains (e-/DN).
_READ_NOISE = {7: 5.3, 15: 7.0}


def wfpc2_rootname(path):
    """``u40x010hm_c0f.fits`` -> ``u40x010hm``."""
    name = Path(path).name
    for suffix in ("_c0f.fits", "_c0m.fits", "_c1f.fits", "_c1m.fits"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    msg = f"not a WFPC2 _c0f/_c0m/_c1f/_c1m file name: {name}"
    raise ValueError(msg)


def waivered_to_mef(waivered, output):
    """Convert a waivered WFPC2 FITS file into multi-extension FITS with a FILENAME keyword.

    Parameters
    ----------
    waivered : str or `~pathlib.Path`
        ``_c0f`` or ``_c1f`` file (a 3-D primary array plus an ASCII table of group keywords).
    output : `~pathlib.Path`
        File to write (``_c0m.fits``/``_c1m.fits``); its name goes into the primary
        ``FILENAME`` keyword, which ``drizzlepac.wfpc2Data.wfpc2_to_flt`` needs.

    Returns
    -------
    `~pathlib.Path`
    """
    from stsci.tools.convertwaiveredfits import toMultiExtensionFits

    with fits.open(waivered) as hdul:  # the converter edits this in-memory primary header
        mef = toMultiExtensionFits(hdul, str(output))
    mef.close()
    header = fits.getheader(output)
    if header.get("FILENAME") != Path(output).name:
        with fits.open(output, mode="update") as hdul:
            hdul[0].header["FILENAME"] = Path(output).name
    return Path(output)


def fix_wfpc2_errors(path):
    """Replace the ERR arrays ``wfpc2_to_flt`` writes (``sqrt(SCI)``, NaN below zero) in place.

    The new ERR (DN) is ``sqrt(max(SCI, 0) * gain + read_noise**2) / gain`` with the
    primary ``ATODGAIN`` (7 or 15 e-/DN) and the handbook read noise for that gain.
    """
    with fits.open(path, mode="update") as hdul:
        gain = float(hdul[0].header.get("ATODGAIN", 7.0) or 7.0)
        read_noise = _READ_NOISE.get(round(gain), 5.3)
        n_sci = sum(1 for hdu in hdul if hdu.name == "SCI")
        for chip in range(1, n_sci + 1):
            sci = hdul["SCI", chip].data.astype(float)
            err = np.sqrt(np.clip(sci, 0, None) * gain + read_noise**2) / gain
            hdul["ERR", chip].data = err.astype(np.float32)
            hdul["ERR", chip].header["BUNIT"] = "COUNTS"
        hdul[0].header.add_history(
            f"spike: ERR = sqrt(max(SCI,0)*{gain:g} + {read_noise:g}**2)/{gain:g} (DN)"
        )
    log.debug("ERR of %s from gain %g e/DN and read noise %g e", path, gain, read_noise)
