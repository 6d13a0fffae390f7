"""The ``astrodrizzle`` engine: AstroDrizzle itself drizzles full-frame PSF exposures.

For one source, every exposure with a contributing chip is copied into a temporary working
directory with its ``SCI`` arrays replaced by the PSF stamps (zero elsewhere; counts, as the
science), its ``DQ`` replaced by the science run's final masks when they exist (0 where
the mask is > 0, 1 elsewhere, drizzled with ``final_bits=0``) and its ``ERR`` kept. Then
AstroDrizzle runs its final drizzle only (static mask, sky, separate drizzle, median, blot
and driz_cr are data-derived and off; ``resetbits=0`` keeps the science run's cosmic-ray
flags) onto the grid written as a reference image (``final_refimage``), and the padded
cutout is read back. The directory is removed afterwards; the user's files are only read.

Slow (a full AstroDrizzle run per source); it exists to check the default ``drizzle``
engine against AstroDrizzle on real data. Inputs must be ``_flt``/``_flc`` files (WFPC2:
as ``drizzlepac.wfpc2Data.wfpc2_to_flt`` writes them).
"""

import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits

from spike.missions._astrodrizzle import run_astrodrizzle

__all__ = ["astrodrizzle_stamps"]

log = logging.getLogger(__name__)

#: Everything but the final drizzle is off for PSF exposures.
_PSF_RUN = {
    "static": False, "skysub": False, "driz_separate": False, "median": False,
    "blot": False, "driz_cr": False, "driz_combine": True, "resetbits": 0,
    "clean": True, "context": True, "build": True,
}


def _write_grid(wcs, shape, path):
    header = wcs.to_header()
    hdu = fits.ImageHDU(np.zeros(shape, dtype=np.uint8), header=header, name="SCI")
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


def _psf_copy(adapter, exposure, stamps, grid, directory):
    """Write the PSF copy of ``exposure``; return its path."""
    suffix = exposure.path.name.lower()
    if not (suffix.endswith("_flt.fits") or suffix.endswith("_flc.fits")):
        msg = (f"engine='astrodrizzle' needs _flt/_flc exposures; {exposure.path.name} is "
               "not one (convert WFPC2 _c0m/_c0f files with drizzlepac.wfpc2Data."
               "wfpc2_to_flt, or use the default engine='drizzle')")
        raise ValueError(msg)
    target = directory / exposure.path.name
    shutil.copyfile(exposure.path, target)
    with fits.open(target, mode="update") as hdul:
        for chip in exposure.chips:
            index = adapter.chips.index(chip)
            sci = np.zeros(chip.shape, dtype=np.float32)
            for stamp in stamps:
                if stamp.exposure == index:
                    sci[stamp.box.slices] = stamp.data * adapter.flux_scale(index)
            hdul["SCI", chip.extver].data = sci
            mask, _ = adapter.final_mask(index, grid)
            if mask is not None:
                dq = np.where(np.asarray(mask) > 0, 0, 1).astype(np.int16)
                if ("DQ", chip.extver) in hdul:
                    hdul["DQ", chip.extver].data = dq
                else:
                    hdul.append(fits.ImageHDU(dq, name="DQ", ver=chip.extver))
        hdul[0].header["MDRIZSKY"] = 0.0
    return target


def _read_cutout(product, box):
    """SCI, WHT and CTX planes of ``product`` on ``box`` (NaN/0 outside the grid)."""
    with fits.open(product) as hdul:
        planes = [hdul["SCI"].data, hdul["WHT"].data, hdul["CTX"].data]
    out = []
    for plane, fill in zip(planes, (np.nan, 0, 0), strict=True):
        plane = plane if plane.ndim == 3 else plane[np.newaxis]
        cut = np.full((plane.shape[0], box.ny, box.nx), fill, dtype=plane.dtype)
        inner = box.clip(plane.shape[1:])
        if inner is not None:
            dst = (slice(None), slice(inner.ystart - box.ystart, inner.ystart - box.ystart + inner.ny),
                   slice(inner.xstart - box.xstart, inner.xstart - box.xstart + inner.nx))
            cut[dst] = plane[(slice(None), *inner.slices)]
        out.append(cut)
    return out[0][0], out[1][0], out[2]


def astrodrizzle_stamps(adapter, stamps, grid, box):
    """Drizzle one source's stamps with AstroDrizzle; see `MissionAdapter.resample_stamps`.

    Parameters
    ----------
    adapter : spike.missions.hst.HSTAdapter
    stamps : list of spike.missions.base.Stamp
    grid : spike.missions.base.OutputGrid
    box : spike.stamps.geometry.Box
        The padded output cutout.
    """
    pars = grid.pars
    masks = any(adapter.final_mask(s.exposure, grid)[0] is not None for s in stamps)
    exposures = []
    for stamp in stamps:
        exposure = adapter.chips[stamp.exposure].exposure
        if exposure not in exposures:
            exposures.append(exposure)
    with tempfile.TemporaryDirectory(prefix="spike_astrodrizzle_") as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        files = [_psf_copy(adapter, e, stamps, grid, tmp / "in") for e in exposures]
        refimage = tmp / "in" / "spike_grid.fits"
        _write_grid(grid.wcs, grid.shape, refimage)
        final = {
            "final_wcs": True, "final_refimage": f"{refimage}[1]",
            "final_pixfrac": float(pars["pixfrac"]), "final_kernel": str(pars["kernel"]),
            "final_fillval": "INDEF" if pars["fillval"] is None else pars["fillval"],
            "final_wht_type": pars["wht_type"], "final_units": "cps",
            "final_bits": 0 if masks else int(pars["good_bits"]),
        }
        options = dict(_PSF_RUN, stepsize=int(pars["pixmap_stepsize"]))
        log.debug("AstroDrizzle PSF run on %s", [f.name for f in files])
        product = run_astrodrizzle(files, "spike_psf", workdir=tmp / "run", options=options,
                                   **final)
        data, wht, ctx = _read_cutout(product, box)
    # AstroDrizzle numbers chips in input order: exposures, then their SCI extensions
    order = [adapter.chips.index(c) for e in exposures for c in e.chips]
    con = np.zeros((max(1, (len(stamps) + 31) // 32), box.ny, box.nx), dtype=np.int64)
    for j, stamp in enumerate(stamps):
        k = order.index(stamp.exposure)
        bit = (ctx[k // 32].astype(np.int64) >> (k % 32)) & 1
        con[j // 32] |= bit << (j % 32)
    return (data.astype(np.float32), wht.astype(np.float32),
            con.astype(np.uint32).view(np.int32))
