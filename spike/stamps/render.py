"""Render a detector-sampled PSF stamp from an oversampled effective PSF."""

import numpy as np

__all__ = ["render_stamp"]


def render_stamp(epsf, oversampling, x, y, shape):
    """Sample an oversampled ePSF at the pixel centres of a cutout.

    Parameters
    ----------
    epsf : numpy.ndarray
        Oversampled effective PSF, centred on its array centre and normalised as
        `photutils.psf.ImagePSF` expects (see `spike.psf.base`).
    oversampling : int
        Oversampling factor of ``epsf``.
    x, y : float
        Position of the source in the cutout's 0-based pixel coordinates.
    shape : tuple of int
        ``(ny, nx)`` of the cutout.

    Returns
    -------
    numpy.ndarray
        float64 array of ``shape``: the PSF of a unit-flux source at ``(x, y)`` (zero beyond
        the ePSF's extent).

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[0:44, 0:44]  # an 11x11-pixel Gaussian ePSF, 4x oversampled
    >>> epsf = np.exp(-((xx - 21.5) ** 2 + (yy - 21.5) ** 2) / (2 * 6.0**2))
    >>> epsf *= 16 / epsf.sum()
    >>> stamp = render_stamp(epsf, 4, 7.0, 6.0, (15, 15))
    >>> round(float(stamp.sum()), 3), int(stamp.argmax()) == 6 * 15 + 7
    (1.0, True)
    """
    from photutils.psf import ImagePSF

    model = ImagePSF(np.asarray(epsf, dtype=float), oversampling=int(oversampling),
                     x_0=float(x), y_0=float(y), flux=1.0)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.asarray(model(xx, yy), dtype=float)
