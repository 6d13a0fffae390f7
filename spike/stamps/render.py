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
    >>> epsf = np.zeros((20, 20)); epsf[8:12, 8:12] = 1.0  # 4x oversampled, one pixel
    >>> stamp = render_stamp(epsf, 4, 2.0, 2.0, (5, 5))
    >>> float(round(stamp.sum(), 6)), stamp.argmax() == 12
    (1.0, True)
    """
    from photutils.psf import ImagePSF

    model = ImagePSF(np.asarray(epsf, dtype=float), oversampling=int(oversampling),
                     x_0=float(x), y_0=float(y), flux=1.0)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return np.asarray(model(xx, yy), dtype=float)
