"""Machinery of `spike.datasets.hst.make_acs_hrc_dithers`: ACS data-quality bits, cosmic rays
(detection, inpainting, injection), the sub-pixel shift of the scene, and the rootnames,
headers and WCS of the dithered copies.
"""

import logging
import math

import numpy as np
from astropy.table import Table
from astropy.time import Time
from astropy.wcs import WCS
from scipy import ndimage

__all__ = ["ACS_DQ"]

log = logging.getLogger(__name__)

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
