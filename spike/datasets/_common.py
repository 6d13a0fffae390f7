"""Mission-independent pieces of the simulated ``_cal`` exposure factories.

`spike.datasets.jwst` and `spike.datasets.roman` share the default star and dither
patterns, option checks, the lazy default PSF back-end, star rendering, noise, flagged
pixels and their truth tables, and the saving of association members. Everything here
works on arrays, tables and duck-typed models: data-quality flags are passed in by the
caller, and no mission package (``jwst``, ``stdatamodels.jwst``, ``romancal``,
``roman_datamodels``) is imported, so that importing one factory does not import the other
mission's software.
"""

import importlib
import logging
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table
from photutils.psf import ImagePSF

__all__ = [
    "DITHER_PIXELS",
    "EDGE",
    "NEAR_STAR",
    "check_options",
    "flag_pixels",
    "flagged_near_stars",
    "noisy_arrays",
    "random_pixels",
    "render_stars",
    "resolve_psf_method",
    "save_members",
    "star_detector_positions",
    "star_pattern",
]

log = logging.getLogger(__name__)

#: Default dither pattern, in detector pixels (converted to ideal-frame arcsec).
DITHER_PIXELS = ((0.0, 0.0), (3.37, 1.71), (1.24, 4.58), (4.63, 6.29))
#: Smallest distance (px) of a default star from the edges of every exposure.
EDGE = 25.0
#: Radius (px) around a star within which flagged pixels are reported (and a cosmic ray hits).
NEAR_STAR = 3.0
#: Default star pattern (East, North offsets in units of the safe radius) and fluxes (Jy).
_STAR_PATTERN = (
    (0.03, -0.02), (0.55, 0.12), (-0.42, 0.47), (0.18, -0.63),
    (-0.71, -0.22), (0.62, 0.57), (-0.15, 0.81), (0.34, -0.21),
)
_STAR_FLUX_JY = (3e-5, 1e-5, 2e-5, 6e-6, 1.5e-5, 8e-6, 2.5e-5, 1.2e-5)


def star_pattern(*, ra, dec, radius_arcsec):
    """Return the star table of `spike.datasets.default_jwst_stars` (same keywords).

    The Roman default, `spike.datasets.default_roman_stars`, scales its fluxes.
    """
    east, north = (np.array(c) * radius_arcsec * u.arcsec for c in zip(*_STAR_PATTERN, strict=True))
    sky = SkyCoord(ra, dec, unit="deg").spherical_offsets_by(east, north)
    star = np.arange(len(_STAR_PATTERN))
    return Table({"star": star, "ra": sky.ra.deg, "dec": sky.dec.deg, "flux": _STAR_FLUX_JY})


def check_options(shape, psf_size, rotations, dithers):
    """Check the options every factory has.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the data arrays.
    psf_size : int
        Width (px) of the rendered PSF stamps.
    rotations, dithers : sequence
        Visits and dither positions.

    Raises
    ------
    ValueError
        If ``shape`` is not 2-D or too small for the `EDGE` margins, ``psf_size`` is not an
        odd integer >= 3, or ``rotations`` or ``dithers`` is empty.
    """
    if len(shape) != 2 or min(shape) < 2 * EDGE + 10:
        msg = f"shape must be (ny, nx) with both sizes >= {2 * EDGE + 10:.0f}, got {shape}"
    elif psf_size < 3 or psf_size % 2 == 0:
        msg = f"psf_size must be an odd integer >= 3, got {psf_size}"
    elif len(rotations) == 0 or len(dithers) == 0:
        msg = "rotations and dithers must each hold at least one entry"
    else:
        return
    raise ValueError(msg)


def resolve_psf_method(psf_method, module, name):
    """Return ``psf_method``, or a new instance of the default back-end ``module.name``.

    Parameters
    ----------
    psf_method : `spike.psf.base.PSFMethod` or None
        The caller's back-end, returned unchanged when given.
    module, name : str
        Module and class of the default back-end, imported only when needed.

    Returns
    -------
    `spike.psf.base.PSFMethod`

    Raises
    ------
    ImportError
        If the default back-end cannot be imported.
    """
    if psf_method is not None:
        return psf_method
    try:
        method_class = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        msg = f"{module}.{name} is unavailable; pass psf_method explicitly"
        raise ImportError(msg) from exc
    return method_class()


def star_detector_positions(model, stars):
    """Return the 0-based detector ``(x, y)`` of stars on one exposure.

    Parameters
    ----------
    model : `~stdatamodels.jwst.datamodels.ImageModel` or `~roman_datamodels.datamodels.ImageModel`
        Exposure with a gwcs in ``meta.wcs``.
    stars : `~astropy.table.Table`
        Table with ``ra`` and ``dec`` columns (deg).

    Returns
    -------
    x, y : `numpy.ndarray`
        Positions, NaN outside the exposure's bounding box.
    """
    x, y = model.meta.wcs.invert(np.asarray(stars["ra"], float), np.asarray(stars["dec"], float))
    return np.atleast_1d(x).astype(float), np.atleast_1d(y).astype(float)


def render_stars(image, psf_model, xs, ys, fluxes, size):
    """Add detector-sampled stars to ``image`` in place.

    Parameters
    ----------
    image : `numpy.ndarray`
        2-D image, modified in place.
    psf_model : object
        Prepared PSF model: ``evaluate(x, y, size=size)`` returns the ePSF at a position and
        ``oversampling`` its oversampling; each star is integrated over the detector pixels
        through `~photutils.psf.ImagePSF`.
    xs, ys : `numpy.ndarray`
        0-based positions (px); NaN positions are skipped.
    fluxes : `numpy.ndarray`
        Total fluxes, in image units times pixels.
    size : int
        Odd width (px) of the stamp drawn around each star.
    """
    ny, nx = image.shape
    half = size // 2
    for x, y, flux in zip(xs, ys, fluxes, strict=True):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        x_lo, x_hi = max(round(x) - half, 0), min(round(x) + half + 1, nx)
        y_lo, y_hi = max(round(y) - half, 0), min(round(y) + half + 1, ny)
        if x_lo >= x_hi or y_lo >= y_hi:
            continue
        epsf = psf_model.evaluate(x, y, size=size)
        star = ImagePSF(epsf, oversampling=psf_model.oversampling, x_0=x, y_0=y, flux=flux)
        yy, xx = np.mgrid[y_lo:y_hi, x_lo:x_hi]
        image[y_lo:y_hi, x_lo:x_hi] += star(xx, yy)


def random_pixels(rng, shape, count, avoid_xy, min_distance):
    """Draw up to ``count`` random pixels at least ``min_distance`` px from every ``avoid_xy``.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        Random generator.
    shape : tuple of int
        ``(ny, nx)`` of the array.
    count : int
        Number of pixels wanted.
    avoid_xy : sequence of (float, float)
        Positions ``(x, y)`` to keep away from; non-finite ones are ignored.
    min_distance : float
        Smallest distance (px) to each of them.

    Returns
    -------
    y, x : `numpy.ndarray`
        Integer pixel indices.
    """
    ny, nx = shape
    yy = rng.integers(0, ny, 4 * count + 16)
    xx = rng.integers(0, nx, 4 * count + 16)
    keep = np.ones(yy.size, bool)
    for ax, ay in avoid_xy:
        if np.isfinite(ax) and np.isfinite(ay):
            keep &= np.hypot(xx - ax, yy - ay) >= min_distance
    return yy[keep][:count], xx[keep][:count]


def noisy_arrays(rng, truth, *, conv, var_rnoise, flat_error=0.003):
    """Return the noisy data and its error and variance arrays.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        Random generator.
    truth : `numpy.ndarray`
        Noiseless image (data units).
    conv : float
        Electrons per data unit.
    var_rnoise : `numpy.ndarray`
        Read-noise variance map (data units squared).
    flat_error : float, optional
        Relative flat-field error.

    Returns
    -------
    list of `numpy.ndarray`
        ``[data, err, var_poisson, var_rnoise, var_flat]``: Poisson and read noise are added
        to the data; ``err`` is the square root of the sum of the variances.
    """
    signal = np.clip(truth, 0, None)
    data = rng.poisson(signal * conv) / conv + rng.normal(0.0, np.sqrt(var_rnoise))
    var_poisson = signal / conv
    var_flat = (flat_error * signal) ** 2
    err = np.sqrt(var_poisson + var_rnoise + var_flat)
    return [data, err, var_poisson, var_rnoise.copy(), var_flat]


def _cosmic_ray_star(xs, ys, shape, choice, margin):
    """Index of the star that ``choice`` picks among those ``margin`` px inside the array."""
    on_array = np.isfinite(xs) & np.isfinite(ys)
    if margin:
        ny, nx = shape
        on_array &= (xs > margin - 1) & (ys > margin - 1) & (xs < nx - margin) & (ys < ny - margin)
    on_array = np.flatnonzero(on_array)
    return on_array[choice % on_array.size] if on_array.size else None


def flag_pixels(rng, arrays, *, xs, ys, conv, dq_flags, refpix=None, cosmic_ray=None, margin=0):
    """Return the DQ array; corrupt or NaN the flagged pixels of ``arrays`` in place.

    Reference pixels and random DO_NOT_USE pixels become NaN in every array; hot pixels
    and a cosmic ray within `NEAR_STAR` px of a star (JUMP_DET + DO_NOT_USE) get high finite
    data. Random JUMP_DET-only pixels (jumps the ramp fit recovered) keep their data.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        Random generator.
    arrays : list of `numpy.ndarray`
        ``[data, err, variances...]`` as `noisy_arrays` returns them; modified in place.
    xs, ys : `numpy.ndarray`
        0-based star positions (NaN off the array); random flags stay 8 px away from them.
    conv : float
        Electrons per data unit (hot pixels get 5e4 e-, a cosmic ray at least 1e5 e-).
    dq_flags : mapping
        The mission's DQ bits by name: ``DO_NOT_USE``, ``HOT``, ``JUMP_DET`` and, with
        ``refpix``, ``REFERENCE_PIXEL``.
    refpix : `numpy.ndarray`, optional
        Boolean mask of reference pixels.
    cosmic_ray : int, optional
        When given, a cosmic ray hits star number ``cosmic_ray`` (modulo their number) of
        the stars at least ``margin`` px inside the array.
    margin : int, optional
        See ``cosmic_ray``; 0 accepts every star on the array.

    Returns
    -------
    `numpy.ndarray`
        The ``uint32`` DQ array.
    """
    data, shape = arrays[0], arrays[0].shape
    dq = np.zeros(shape, np.uint32)
    if refpix is not None:
        dq[refpix] = dq_flags["DO_NOT_USE"] | dq_flags["REFERENCE_PIXEL"]
    avoid = list(zip(xs, ys, strict=True))
    count = max(4, data.size // 5000)
    dq[random_pixels(rng, shape, count, avoid, 8.0)] |= dq_flags["DO_NOT_USE"]
    nan = dq != 0
    hot = random_pixels(rng, shape, max(2, count // 4), avoid, 8.0)
    dq[hot] |= dq_flags["DO_NOT_USE"] | dq_flags["HOT"]
    data[hot] += 5e4 / conv
    dq[random_pixels(rng, shape, count, [], 0.0)] |= dq_flags["JUMP_DET"]
    star = None if cosmic_ray is None else _cosmic_ray_star(xs, ys, shape, cosmic_ray, margin)
    if star is not None:
        x, y = xs[star], ys[star]
        cy, cx = np.mgrid[round(y) - 2 : round(y) + 3, round(x) - 2 : round(x) + 3]
        near = (np.hypot(cx - x, cy - y) <= NEAR_STAR) & (cx >= 0) & (cy >= 0)
        near &= (cx < shape[1]) & (cy < shape[0])
        pick = rng.integers(near.sum())
        cx, cy = cx[near][pick], cy[near][pick]
        dq[cy, cx] |= dq_flags["DO_NOT_USE"] | dq_flags["JUMP_DET"]
        data[cy, cx] += max(1e5 / conv, abs(data[cy, cx]))  # at least doubles the pixel
    for array in arrays:
        array[nan] = np.nan
    return dq


def flagged_near_stars(dq, xs, ys, index):
    """Return the flagged pixels within `NEAR_STAR` px of each star of one exposure.

    Parameters
    ----------
    dq : `numpy.ndarray`
        DQ array of the exposure.
    xs, ys : `numpy.ndarray`
        0-based star positions (NaN off the array).
    index : int
        Index of the exposure, written in the ``exposure`` column.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``exposure``, ``star``, ``x``, ``y`` (integer pixel), ``dq`` and
        ``distance`` (px).
    """
    names = ("exposure", "star", "x", "y", "dq", "distance")
    rows = []
    fy, fx = np.nonzero(dq)
    for star, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if np.isfinite(x) and np.isfinite(y):
            distance = np.hypot(fx - x, fy - y)
            for k in np.flatnonzero(distance <= NEAR_STAR):
                rows.append((index, star, fx[k], fy[k], dq[fy[k], fx[k]], distance[k]))
    return Table(rows=rows or None, names=names, dtype=(int, int, int, int, np.uint32, float))


def save_members(models, directory):
    """Save copies of exposures under their ``meta.filename`` in ``directory``.

    Parameters
    ----------
    models : list of datamodel
        Exposures with distinct ``meta.filename``; the models themselves are unchanged.
    directory : str or `~pathlib.Path`
        Output directory (created if needed).

    Returns
    -------
    directory : `~pathlib.Path`
        The output directory.
    names : list of str
        The file names, in ``models`` order.

    Raises
    ------
    ValueError
        If two models share a file name.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = [Path(m.meta.filename).name for m in models]
    if len(set(names)) != len(names):
        msg = f"models must have distinct meta.filename values, got {names}"
        raise ValueError(msg)
    for model, name in zip(models, names, strict=True):
        with model.copy() as copy:
            copy.save(directory / name)
    return directory, names

