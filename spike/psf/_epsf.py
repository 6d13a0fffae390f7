"""Helpers to bring an oversampled effective PSF array onto spike's stamp convention.

`render_epsf` takes an ePSF array with any oversampling, shape and centre (``origin``) and
returns the ``(size * oversampling)``-square stamp centred on the array centre that
`spike.psf.base` prescribes, by exact copy when the grids coincide and by cubic-spline
resampling otherwise (rescaled so the flux fraction of the input is conserved).
"""

import logging
import math

import numpy as np

from spike.exceptions import PSFMethodError

__all__ = ["check_psf_array", "check_size", "pixel_integrate", "render_epsf"]

log = logging.getLogger(__name__)


def check_size(size):
    """Return ``size`` as an int after checking it is a positive odd integer.

    Parameters
    ----------
    size : int
        Stamp width in detector pixels.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        If ``size`` is not a positive odd integer.
    """
    try:
        ok = not isinstance(size, (bool, np.bool_)) and int(size) == size and size >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok or int(size) % 2 != 1:
        msg = f"size must be a positive odd integer, got {size!r}"
        raise ValueError(msg)
    return int(size)


def check_psf_array(data, *, what="PSF"):
    """Return ``data`` as a float64 2-D array, or raise a clear error.

    Parameters
    ----------
    data : array_like
        Candidate PSF.
    what : str, optional
        Description used in messages (e.g. the file name).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    spike.exceptions.PSFMethodError
        If the array is not 2-D, is smaller than 2x2, holds NaN/inf, or sums to <= 0.
    """
    arr = np.asarray(data, dtype=float)
    if arr.ndim != 2:
        msg = f"{what} must be a 2-D array, got {arr.ndim} dimension(s) with shape {arr.shape}"
        raise PSFMethodError(msg)
    if min(arr.shape) < 2:
        msg = f"{what} is too small: shape {arr.shape}"
        raise PSFMethodError(msg)
    bad = ~np.isfinite(arr)
    if bad.any():
        msg = f"{what} contains {int(bad.sum())} non-finite (NaN or inf) value(s)"
        raise PSFMethodError(msg)
    if not arr.sum() > 0:
        msg = f"{what} sums to {arr.sum()!r}; a PSF must have a positive sum"
        raise PSFMethodError(msg)
    return arr


def render_epsf(data, *, psf_oversampling, oversampling, size, origin=None, normalize=True):
    """Crop, pad or resample an ePSF array onto a centred stamp.

    Parameters
    ----------
    data : numpy.ndarray
        2-D ePSF, ``psf_oversampling`` samples per detector pixel, already validated with
        `check_psf_array`.
    psf_oversampling : int
        Oversampling of ``data``.
    oversampling : int
        Oversampling of the output.
    size : int
        Output width in detector pixels (odd).
    origin : tuple of float or None, optional
        ``(x, y)`` index in ``data`` of the PSF centre; `None` is the array centre
        ``((nx - 1) / 2, (ny - 1) / 2)`` (the photutils convention).
    normalize : bool, optional
        If True, first rescale ``data`` to sum to ``psf_oversampling**2`` (i.e. assume it
        holds the whole PSF); otherwise trust its normalisation.

    Returns
    -------
    numpy.ndarray
        ``(size * oversampling, size * oversampling)`` array summing to
        ``oversampling**2`` times the input's flux fraction inside the stamp.
    """
    from scipy import ndimage

    ny, nx = data.shape
    if origin is None:
        origin = ((nx - 1) / 2, (ny - 1) / 2)
    ox, oy = float(origin[0]), float(origin[1])
    if normalize:
        data = data * (psf_oversampling**2 / data.sum())
    n = size * oversampling
    center = (n - 1) / 2
    dx, dy = ox - center, oy - center
    if psf_oversampling == oversampling and dx == round(dx) and dy == round(dy):
        out = np.zeros((n, n))
        dx, dy = int(round(dx)), int(round(dy))
        # out[j] = data[j + d] where both exist
        y0, y1 = max(0, -dy), min(n, ny - dy)
        x0, x1 = max(0, -dx), min(n, nx - dx)
        if y1 > y0 and x1 > x0:
            out[y0:y1, x0:x1] = data[y0 + dy : y1 + dy, x0 + dx : x1 + dx]
        return out
    ratio = psf_oversampling / oversampling
    # evaluate on a grid wide enough to hold the whole input, to conserve its flux
    reach = max(ox, nx - 1 - ox, oy, ny - 1 - oy) / ratio
    half = max(n // 2, int(math.ceil(reach)) + 4)
    m = 2 * half + (n % 2)
    offset = (m - n) // 2
    u = (np.arange(m) - (m - 1) / 2) * ratio
    rows = (oy + u)[:, None] * np.ones((1, m))
    cols = np.ones((m, 1)) * (ox + u)[None, :]
    full = ndimage.map_coordinates(data, [rows, cols], order=3, mode="grid-constant", cval=0.0)
    total = full.sum()
    if total > 0:
        full *= (data.sum() / psf_oversampling**2) * oversampling**2 / total
    log.debug(
        "Resampled a %s PSF with oversampling %d and centre (%.2f, %.2f) onto a %d px stamp "
        "at oversampling %d",
        data.shape, psf_oversampling, ox, oy, size, oversampling,
    )
    return np.ascontiguousarray(full[offset : offset + n, offset : offset + n])


def pixel_integrate(data, oversampling):
    """Turn a point-sampled oversampled PSF into an effective PSF (ePSF).

    Convolves ``data`` with a box one detector pixel wide (``oversampling`` samples; for an
    even factor, ``oversampling + 1`` taps with half-weight ends so the box stays centred)
    and multiplies by ``oversampling**2``, the `spike.psf.base` normalisation.

    Parameters
    ----------
    data : numpy.ndarray
        2-D PSF sampled at the oversampled positions, summing to the enclosed fraction.
    oversampling : int
        Samples per detector pixel.

    Returns
    -------
    numpy.ndarray
        The ePSF.
    """
    from scipy import ndimage

    if oversampling % 2:
        kernel = np.full(oversampling, 1.0 / oversampling)
    else:
        kernel = np.ones(oversampling + 1)
        kernel[[0, -1]] = 0.5
        kernel /= oversampling
    data = ndimage.convolve1d(data, kernel, axis=0, mode="constant")
    data = ndimage.convolve1d(data, kernel, axis=1, mode="constant")
    return data * oversampling**2
