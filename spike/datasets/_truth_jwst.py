"""The JWST truth PSF on the sky, computed with poppy's own propagation.

Used by `spike.datasets.truth_psf.JwstTruthPSFMethod`; see its docstring for the physics and
the sources of the numbers. This module holds the band table, the passband shape, the
pupil and wavefront error (built with poppy's optics), and the cached polychromatic poppy
calculation, blurred by pointing jitter and charge diffusion. Nothing here imports
``spike.psf`` code other than the exception classes: the truth must not share code with
the models it scores.
"""

import functools
import logging
import math

import numpy as np

from spike.datasets._truth_sampling import AngularImage, core_centroid
from spike.exceptions import PSFMethodError

__all__ = ["JWST_BANDS", "angular_psf", "band_of", "passband", "wavefront_error"]

log = logging.getLogger(__name__)

#: JWST circumscribed pupil diameter (m): STPSF ``constants.JWST_CIRCUMSCRIBED_DIAMETER``.
PUPIL_DIAMETER = 6.603464
#: Segments: 18 hexagons of 1.32 m flat-to-flat with 7 mm gaps, no central segment (poppy's
#: ``MultiHexagonAperture(rings=2, center=False)``, 26.6 m^2 at 1024 samples).
SEGMENT_FLAT_TO_FLAT = 1.32
SEGMENT_GAP = 0.007
#: Secondary mirror (0.74 m) and its three struts, one along +V3 and two at 150 and 210 deg
#: from it counter-clockwise (poppy's ``AsymmetricSecondaryObscuration`` convention), 8 cm
#: wide: their diffraction spikes fall on the segment-edge spikes, as JWST images show.
SECONDARY_RADIUS = 0.37
STRUT_ANGLES = (0.0, 150.0, 210.0)
STRUT_WIDTH = 0.08
#: Default pupil samples across the circumscribed diameter (6.4 mm: the 7 mm gaps resolved).
PUPIL_NPIX = 1024
#: Low-order part of the wavefront error: Noll Zernike index -> relative amplitude (the
#: pattern is scaled to its share of the total rms over the pupil). Focus, astigmatism,
#: coma, trefoil and spherical, of similar size (no tip/tilt, which only moves the star).
LOW_ORDER_PATTERN = {4: 0.45, 5: 0.55, 6: -0.35, 7: 0.30, 8: -0.22, 9: 0.20, 10: -0.17, 11: 0.25}
#: Share of the total wavefront variance in the low orders (the rest is mid frequency).
LOW_ORDER_VARIANCE_SHARE = 0.3
#: Power-law index of the mid-frequency PSD screen (poppy's ``StatisticalPSDWFE`` default).
PSD_INDEX = 3.0
#: Nominal pixel scales (arcsec): NIRCam SW / LW, MIRI imager (JWST user documentation);
#: they only size the angular sampling (the exposure's WCS sets the real scale).
NOMINAL_SCALES = {"NIRCAM_SW": 0.0311, "NIRCAM_LW": 0.0630, "MIRI": 0.1108}
#: Angular samples per nominal detector pixel.
SAMPLES_PER_PIXEL = 8
#: Half width (detector pixels) of the box whose 2-D Gaussian centroid is a star's position
#: (9 x 9 px, as `spike.accuracy` measures stars).
CENTROID_HALF_BOX = 4.5

#: Pivot wavelength and bandwidth (um) of the supported filters: JWST user documentation,
#: "NIRCam Filters" and "MIRI Filters and Dispersers" tables (rounded).
JWST_BANDS = {
    ("NIRCAM", "F070W"): (0.704, 0.128), ("NIRCAM", "F090W"): (0.901, 0.194),
    ("NIRCAM", "F115W"): (1.154, 0.225), ("NIRCAM", "F140M"): (1.404, 0.142),
    ("NIRCAM", "F150W"): (1.501, 0.318), ("NIRCAM", "F182M"): (1.845, 0.238),
    ("NIRCAM", "F200W"): (1.990, 0.461), ("NIRCAM", "F210M"): (2.093, 0.205),
    ("NIRCAM", "F277W"): (2.786, 0.672), ("NIRCAM", "F335M"): (3.365, 0.347),
    ("NIRCAM", "F356W"): (3.563, 0.787), ("NIRCAM", "F410M"): (4.092, 0.436),
    ("NIRCAM", "F444W"): (4.421, 1.024),
    ("MIRI", "F560W"): (5.635, 1.2), ("MIRI", "F770W"): (7.639, 2.2),
    ("MIRI", "F1000W"): (9.953, 2.0), ("MIRI", "F1500W"): (15.064, 3.0),
}
#: Edge width of the smooth passband, as a fraction of the pivot (10-90 % rise over 2.2 x).
EDGE_FRACTION = 0.01


def band_of(instrument, filter_name, detector=""):
    """Return ``(channel, pivot_um, width_um)`` of a supported JWST band.

    Parameters
    ----------
    instrument, filter_name : str
        Instrument (``NIRCAM``, ``MIRI``) and the element that defines the band.
    detector : str, optional
        Detector name; NIRCam long-wavelength detectors (``NRCA5``, ``NRCBLONG``) or bands
        beyond 2.4 um use the LW channel.

    Returns
    -------
    tuple

    Raises
    ------
    spike.exceptions.PSFMethodError
        For an instrument or filter without a truth model.
    """
    key = ((instrument or "").upper(), (filter_name or "").upper())
    if key not in JWST_BANDS:
        known = ", ".join(f"{i} {f}" for i, f in JWST_BANDS)
        msg = f"no JWST truth PSF for {key[0]} {key[1]}; supported: {known}"
        raise PSFMethodError(msg)
    pivot, width = JWST_BANDS[key]
    if key[0] == "MIRI":
        return "MIRI", pivot, width
    det = (detector or "").upper()
    long_wave = pivot > 2.4 or det.endswith("5") or "LONG" in det
    return ("NIRCAM_LW" if long_wave else "NIRCAM_SW"), pivot, width


def passband(pivot, width, *, nlambda=None):
    """Wavelengths and photon weights of a smooth-edged passband, for a flat f_nu source.

    The transmission is ``0.5 * (tanh((l - l1) / e) - tanh((l - l2) / e))`` with half-power
    points ``l1, l2 = pivot -/+ width / 2`` and edge width ``e = EDGE_FRACTION * pivot``;
    the photon rate of a source flat in f_nu scales as ``T(l) / l``.

    Parameters
    ----------
    pivot, width : float
        Pivot wavelength and bandwidth (um).
    nlambda : int, optional
        Number of wavelengths (equal steps over the band and its edges). Default: one per
        4 % of fractional bandwidth plus 2, between 3 and 15 (F200W: 8).

    Returns
    -------
    wavelengths : numpy.ndarray
        In metres.
    weights : numpy.ndarray
        Summing to 1.
    """
    if nlambda is None:
        nlambda = int(min(15, max(3, math.ceil(width / pivot / 0.04) + 2)))
    edge = EDGE_FRACTION * pivot
    lo, hi = pivot - width / 2, pivot + width / 2
    step = (hi - lo + 6 * edge) / nlambda
    lam = lo - 3 * edge + (np.arange(nlambda) + 0.5) * step
    transmission = 0.5 * (np.tanh((lam - lo) / edge) - np.tanh((lam - hi) / edge))
    weights = transmission / lam
    return lam * 1e-6, weights / weights.sum()


def _pupil():
    import astropy.units as u
    import poppy

    hexes = poppy.MultiHexagonAperture(rings=2, flattoflat=SEGMENT_FLAT_TO_FLAT * u.m,
                                       gap=SEGMENT_GAP * u.m, center=False)
    secondary = poppy.AsymmetricSecondaryObscuration(
        secondary_radius=SECONDARY_RADIUS * u.m, support_angle=STRUT_ANGLES,
        support_width=STRUT_WIDTH * u.m)
    return poppy.CompoundAnalyticOptic(opticslist=[hexes, secondary], name="JWST pupil")


def _detrended(opd, weight, xx, yy):
    """``opd`` minus its weighted least-squares piston, tip and tilt over the pupil."""
    basis = np.stack([np.ones_like(xx), xx, yy])[:, weight > 0]
    w = weight[weight > 0]
    coeffs = np.linalg.lstsq((basis * w).T, opd[weight > 0] * w, rcond=None)[0]
    return opd - (coeffs[0] + coeffs[1] * xx + coeffs[2] * yy)


def _rms(opd, weight):
    return float(np.sqrt(np.sum(weight * opd**2) / np.sum(weight)))


def wavefront_error(wavefront, transmission, *, rms_nm, seed):
    """The truth's OPD map (m) over the pupil sampling of ``wavefront``.

    Low orders (`LOW_ORDER_PATTERN`, poppy ``ZernikeWFE``) carry `LOW_ORDER_VARIANCE_SHARE`
    of the variance and a mid-frequency power-law screen (poppy ``StatisticalPSDWFE``,
    index `PSD_INDEX`, seeded) the rest; piston, tip and tilt are removed from each over
    the pupil and each is scaled to its share, then the sum to ``rms_nm`` exactly (rms
    over the transmitting pupil, tip/tilt excluded, as observatory WFE is quoted).

    Parameters
    ----------
    wavefront : poppy.Wavefront
        Defines the pupil sampling.
    transmission : numpy.ndarray
        Pupil transmission on that sampling.
    rms_nm : float
        Total rms (nm); 0 gives a flat wavefront.
    seed : int
        Seed of the mid-frequency screen.

    Returns
    -------
    opd : numpy.ndarray
    parts : dict
        Rms (nm) of the ``low_order`` and ``mid_frequency`` parts and of the ``total``.
    """
    import astropy.units as u
    import poppy

    if rms_nm == 0:
        return np.zeros_like(transmission), {"low_order": 0.0, "mid_frequency": 0.0,
                                             "total": 0.0}
    radius = PUPIL_DIAMETER / 2 * u.m
    coefficients = np.zeros(max(LOW_ORDER_PATTERN) + 1)
    for noll, value in LOW_ORDER_PATTERN.items():
        coefficients[noll - 1] = value * 1e-9
    low = poppy.ZernikeWFE(radius=radius, coefficients=coefficients).get_opd(wavefront)
    mid = poppy.StatisticalPSDWFE(index=PSD_INDEX, wfe=1 * u.nm, radius=radius,
                                  seed=int(seed)).get_opd(wavefront)
    yy, xx = wavefront.coordinates()
    weight = np.asarray(transmission, dtype=float)
    share = math.sqrt(LOW_ORDER_VARIANCE_SHARE)
    low = _detrended(low, weight, xx, yy)
    low *= share * rms_nm * 1e-9 / _rms(low, weight)
    mid = _detrended(mid, weight, xx, yy)
    mid *= math.sqrt(1 - LOW_ORDER_VARIANCE_SHARE) * rms_nm * 1e-9 / _rms(mid, weight)
    opd = low + mid
    parts = {"low_order": _rms(low, weight) * 1e9, "mid_frequency": _rms(mid, weight) * 1e9}
    opd *= rms_nm * 1e-9 / _rms(opd, weight)
    parts["total"] = _rms(opd, weight) * 1e9
    return np.where(weight > 0, opd, 0.0), parts


@functools.lru_cache(maxsize=8)
def angular_psf(channel, pivot, width, *, npix_field, rms_nm, seed, nlambda, blur_arcsec,
                recenter, pupil_npix=PUPIL_NPIX):
    """The polychromatic truth PSF on a V2V3-aligned angular grid (cached).

    Parameters
    ----------
    channel : str
        Key of `NOMINAL_SCALES`.
    pivot, width : float
        Band (um), see `passband`.
    npix_field : int
        Samples across the field (spacing: nominal scale / `SAMPLES_PER_PIXEL`).
    rms_nm : float
        Wavefront error (nm rms), see `wavefront_error`.
    seed : int
        Seed of the mid-frequency wavefront screen.
    nlambda : int or None
        Wavelengths across the band.
    blur_arcsec : float
        Sigma (arcsec) of the Gaussian blur (jitter and charge diffusion in quadrature).
    recenter : bool
        Centre the result on its core's 2-D Gaussian centroid (`CENTROID_HALF_BOX`).
    pupil_npix : int, optional
        Pupil samples across `PUPIL_DIAMETER`.

    Returns
    -------
    AngularImage
        Columns along +V2, rows along +V3 (poppy's pupil x and y, no flip), with
        ``wfe`` (the `wavefront_error` parts) and ``wavelengths`` attributes.
    """
    import astropy.units as u
    import poppy
    from scipy import ndimage

    pixel = NOMINAL_SCALES[channel] / SAMPLES_PER_PIXEL
    wavelengths, weights = passband(pivot, width, nlambda=nlambda)
    osys = poppy.OpticalSystem(name="spike truth", pupil_diameter=PUPIL_DIAMETER * u.m,
                               npix=int(pupil_npix), oversample=1)
    wavefront = osys.input_wavefront(wavelengths[0] * u.m)
    transmission = _pupil().get_transmission(wavefront)
    opd, parts = wavefront_error(wavefront, transmission, rms_nm=rms_nm, seed=seed)
    osys.add_pupil(poppy.ArrayOpticalElement(transmission=transmission, opd=opd,
                                             pixelscale=wavefront.pixelscale,
                                             name="JWST pupil + WFE"))
    osys.add_detector(pixelscale=pixel * u.arcsec / u.pixel, fov_pixels=int(npix_field),
                      oversample=1)
    hdul = osys.calc_psf(wavelength=wavelengths, weight=weights, normalize="first")
    data = np.asarray(hdul[0].data, dtype=float)
    if blur_arcsec > 0:
        data = ndimage.gaussian_filter(data, blur_arcsec / pixel, mode="constant")
    offset = (0.0, 0.0)
    if recenter:
        cx, cy = core_centroid(data, round(CENTROID_HALF_BOX * SAMPLES_PER_PIXEL))
        c = (data.shape[0] - 1) / 2
        offset = ((cx - c) * pixel, (cy - c) * pixel)
    image = AngularImage(data, pixel, offset=offset)
    image.wfe = parts
    image.wavelengths = tuple(float(w) for w in wavelengths)
    log.debug("truth PSF %s %.3f um: %d wavelengths, %d px field, WFE %.1f nm, enclosed %.4f",
              channel, pivot, len(wavelengths), npix_field, parts["total"], data.sum())
    return image
