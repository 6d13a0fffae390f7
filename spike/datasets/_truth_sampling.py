"""Array helpers of the truth PSFs (`spike.datasets.truth_psf`): detector sampling, IPC.

Kept apart from ``spike.psf`` on purpose: the truth PSFs that draw simulated stars must not
share code with the PSF models they are used to score.

* `detector_epsf` samples an angular PSF (a fine image on the sky, e.g. computed by poppy)
  on a detector-aligned, oversampled grid through the local detector -> angle Jacobian and
  integrates it over the detector pixel (midpoint rule on a grid ``subsample`` times finer
  than the output), giving an effective PSF normalised as `spike.psf.base` requires.
* `apply_ipc` convolves an oversampled ePSF with a 3 x 3 inter-pixel capacitance kernel,
  which acts between whole detector pixels: on the oversampled grid it is a comb with teeth
  ``oversampling`` samples apart (the approach of STPSF's ``oversample_ipc_model``).
* `ipc_kernel` builds a symmetric kernel from nearest-neighbour and corner couplings.
* `core_centroid` measures the 2-D Gaussian centroid of a core; `recentre` moves an ePSF
  by a sub-sample amount (Fourier shift).
"""

import logging

import numpy as np

__all__ = ["AngularImage", "apply_ipc", "core_centroid", "detector_epsf", "ipc_kernel", "recentre"]

log = logging.getLogger(__name__)


class AngularImage:
    """A PSF sampled on a fine angular grid (a fraction of the source flux per sample).

    Parameters
    ----------
    data : numpy.ndarray
        Square image; columns run along the first angular axis (e.g. V2), rows along the
        second (V3). The source (the point whose image it is) lies at the array centre
        ``((n - 1) / 2, (n - 1) / 2)`` plus ``offset``.
    pixel : float
        Sample spacing in arcsec.
    offset : tuple of float, optional
        Angular position (arcsec, first and second axis) of the *adopted* source position
        relative to the array centre; `detector_epsf` centres its output there (e.g. the
        PSF's core centroid, which defines a star's position).
    """

    def __init__(self, data, pixel, *, offset=(0.0, 0.0)):
        from scipy import ndimage

        data = np.asarray(data, dtype=float)
        if data.ndim != 2 or data.shape[0] != data.shape[1]:
            msg = f"data must be a square 2-D array, got shape {data.shape}"
            raise ValueError(msg)
        if not pixel > 0:
            msg = f"pixel must be positive, got {pixel!r}"
            raise ValueError(msg)
        self.data = data
        self.pixel = float(pixel)
        self.offset = (float(offset[0]), float(offset[1]))
        self.coeffs = ndimage.spline_filter(data, order=3, mode="grid-constant")
        self.half_width = (data.shape[0] - 1) / 2 * self.pixel

    @property
    def centre(self):
        """Array index ``(col, row)`` of the array centre."""
        c = (self.data.shape[0] - 1) / 2
        return c, c


def _window_sums(values, width, stride, axis):
    """Sums over windows of ``width`` samples every ``stride`` samples along ``axis``."""
    c = np.cumsum(values, axis=axis)
    c = np.insert(c, 0, 0.0, axis=axis)
    n_out = (values.shape[axis] - width) // stride + 1
    starts = np.arange(n_out) * stride
    return np.take(c, starts + width, axis=axis) - np.take(c, starts, axis=axis)


def detector_epsf(angular, jac, *, size, oversampling, subsample=4):
    """Sample an angular PSF on the detector grid and integrate it over the pixel.

    Parameters
    ----------
    angular : AngularImage
        The PSF on the sky.
    jac : numpy.ndarray
        2 x 2 Jacobian of detector pixel offsets ``(dx, dy)`` -> angular offsets (arcsec,
        along the axes of ``angular``).
    size : int
        Odd stamp width in detector pixels.
    oversampling : int
        Samples per detector pixel of the output.
    subsample : int, optional
        Midpoint-rule samples per output sample along each axis (the pixel integral uses
        ``oversampling * subsample`` points per detector pixel and axis).

    Returns
    -------
    numpy.ndarray
        ``(size * oversampling,) * 2`` ePSF centred at ``((n - 1) / 2, (n - 1) / 2)``: each
        value is the fraction of the source flux that falls in a detector pixel centred
        there, so the array sums to ``oversampling**2`` times the fraction inside the stamp.
    """
    from scipy import ndimage

    jac = np.asarray(jac, dtype=float)
    n = int(size) * int(oversampling)
    m = int(subsample)
    width = int(oversampling) * m  # fine samples per detector pixel
    nf = (n - 1) * m + width
    step = 1.0 / width
    f = (np.arange(nf) - (nf - 1) / 2) * step  # detector pixel offsets of the fine samples
    fy, fx = np.meshgrid(f, f, indexing="ij")
    c_col, c_row = angular.centre
    col = c_col + (jac[0, 0] * fx + jac[0, 1] * fy + angular.offset[0]) / angular.pixel
    row = c_row + (jac[1, 0] * fx + jac[1, 1] * fy + angular.offset[1]) / angular.pixel
    fine = ndimage.map_coordinates(angular.coeffs, [row, col], order=3, prefilter=False,
                                   mode="grid-constant", cval=0.0)
    sums = _window_sums(_window_sums(fine, width, m, axis=0), width, m, axis=1)
    area = abs(np.linalg.det(jac))  # arcsec^2 per detector pixel
    return sums / width**2 * area / angular.pixel**2


def ipc_kernel(alpha, corner=0.0):
    """A symmetric 3 x 3 IPC kernel.

    Parameters
    ----------
    alpha : float
        Fraction of a pixel's signal seen in each of its four nearest neighbours.
    corner : float, optional
        Fraction seen in each diagonal neighbour.

    Returns
    -------
    numpy.ndarray
        Kernel summing to 1; ``kernel[1 + dy, 1 + dx]`` is the fraction that appears in the
        neighbour at ``(+dx, +dy)``.

    Examples
    --------
    >>> ipc_kernel(0.01)[1]
    array([0.01, 0.96, 0.01])
    """
    if not (0 <= alpha < 0.25 and 0 <= corner < 0.25 and 4 * (alpha + corner) < 1):
        msg = f"IPC couplings must be >= 0 and sum below 1, got alpha={alpha}, corner={corner}"
        raise ValueError(msg)
    kernel = np.array([[corner, alpha, corner], [alpha, 0.0, alpha], [corner, alpha, corner]])
    kernel[1, 1] = 1.0 - kernel.sum()
    return kernel


def apply_ipc(epsf, kernel, oversampling):
    """Convolve an oversampled ePSF with a detector-pixel IPC kernel.

    Parameters
    ----------
    epsf : numpy.ndarray
        Oversampled ePSF.
    kernel : numpy.ndarray
        3 x 3 kernel, ``kernel[1 + dy, 1 + dx]`` being the fraction of a pixel's signal
        that appears in its neighbour at ``(+dx, +dy)`` (see `ipc_kernel`).
    oversampling : int
        Samples per detector pixel of ``epsf``.

    Returns
    -------
    numpy.ndarray
        The convolved ePSF (signal pushed off the array is lost).
    """
    kernel = np.asarray(kernel, dtype=float)
    if kernel.shape != (3, 3):
        msg = f"kernel must be 3 x 3, got shape {kernel.shape}"
        raise ValueError(msg)
    out = np.zeros_like(epsf)
    ny, nx = epsf.shape
    o = int(oversampling)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            sy, sx = dy * o, dx * o
            out[max(sy, 0):ny + min(sy, 0), max(sx, 0):nx + min(sx, 0)] += (
                kernel[1 + dy, 1 + dx]
                * epsf[max(-sy, 0):ny + min(-sy, 0), max(-sx, 0):nx + min(-sx, 0)])
    return out


def recentre(epsf, shift):
    """Shift an oversampled ePSF by ``shift = (dx, dy)`` samples (Fourier shift).

    Parameters
    ----------
    epsf : numpy.ndarray
        Oversampled ePSF, well sampled (as a pixel-integrated PSF at 4x oversampling is).
    shift : tuple of float
        Shift along columns and rows, in samples.

    Returns
    -------
    numpy.ndarray
        The shifted array (its sum is unchanged; light near the edges wraps around).
    """
    from scipy import ndimage

    spectrum = ndimage.fourier_shift(np.fft.fft2(epsf), (shift[1], shift[0]))
    return np.fft.ifft2(spectrum).real


def core_centroid(image, half_box):
    """2-D Gaussian centroid (photutils ``centroid_2dg``) of the core of a centred image.

    Parameters
    ----------
    image : numpy.ndarray
        Square image with the object near its centre.
    half_box : int
        Half width (samples) of the fitted box about the array centre.

    Returns
    -------
    tuple of float
        ``(x, y)`` array indices of the centroid.
    """
    import warnings

    from photutils.centroids import centroid_2dg

    c = (image.shape[0] - 1) // 2
    half = int(min(half_box, c))
    box = image[c - half:c + half + 1, c - half:c + half + 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy fitter warnings on poor fits
        x, y = centroid_2dg(box)
    return float(x) + c - half, float(y) + c - half
