"""A fitted inverse for a gwcs that has none (e.g. romanisim's WCS made without CRDS).

spike maps sky positions onto every exposure (where a source falls, which input pixels a
cutout needs), and romancal's output-grid code inverts the first exposure's WCS. A gwcs
whose forward transform has no analytic inverse falls back on gwcs' numerical inverse,
which fails for some transforms: romanisim's non-CRDS WCS (a polynomial distortion, then
``Pix2Sky_Gnomonic``, then a rotation) raises ``AttributeError: 'Pix2Sky_Gnomonic' object
has no attribute '__name__'`` in gwcs 0.26 and 1.0 (``_calc_approx_inv``).

`with_fitted_inverse` returns a *new* gwcs with the same forward transform, frames at its
ends and bounding box, whose inverse is a polynomial fitted over the detector in a
gnomonic plane centred on it; the caller's WCS is not modified. The fit's accuracy is
measured (round trip pixel -> sky -> pixel on a grid finer than the fit's) and returned.
"""

import logging
from dataclasses import dataclass

import numpy as np
from astropy.modeling import fitting, models

__all__ = ["InverseFit", "with_fitted_inverse", "has_inverse", "MAX_INVERSE_ERROR"]

log = logging.getLogger(__name__)

#: Largest accepted round-trip error of a fitted inverse over the detector (pixels).
MAX_INVERSE_ERROR = 1e-3
#: Round-trip error (pixels) at which the fit stops raising the polynomial degree.
_TARGET = 1e-6
_DEGREES = range(3, 10)
#: The fit covers the bounding box grown by this fraction on every side (points just
#: off the array, e.g. a cutout's margin, are mapped too).
_MARGIN = 0.1


@dataclass(frozen=True)
class InverseFit:
    """How a fitted inverse was made and how accurate it is.

    Attributes
    ----------
    degree : int
        Degree of the two fitted polynomials.
    max_error : float
        Largest round-trip error (pixels) over the bounding box.
    """

    degree: int
    max_error: float

    def as_meta(self):
        """A mapping for products' metadata."""
        return {"fitted": True, "degree": self.degree, "max_error_px": self.max_error}


def has_inverse(wcs):
    """True when ``wcs`` is an astropy WCS or a gwcs with an analytic backward transform."""
    if not hasattr(wcs, "forward_transform"):
        return True
    try:
        wcs.backward_transform  # noqa: B018 - gwcs builds it here or raises
    except NotImplementedError:
        return False
    return True


def _box(wcs, shape):
    bbox = getattr(wcs, "bounding_box", None)
    if bbox is not None:
        (x0, x1), (y0, y1) = bbox.bounding_box(order="F")
        return float(x0), float(x1), float(y0), float(y1)
    if shape is None:
        msg = "a WCS without bounding box needs the array shape to fit its inverse"
        raise ValueError(msg)
    ny, nx = shape
    return -0.5, nx - 0.5, -0.5, ny - 0.5


def _grid(x0, x1, y0, y1, n):
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    return gx.ravel(), gy.ravel()


def with_fitted_inverse(wcs, shape=None, *, name=None):
    """Return ``wcs`` itself when it can be inverted, else a copy with a fitted inverse.

    Parameters
    ----------
    wcs : gwcs.wcs.WCS or astropy.wcs.WCS
        An exposure's WCS (0-based pixels -> celestial coordinates). Not modified.
    shape : tuple of int, optional
        ``(ny, nx)`` of the data, used when the WCS has no bounding box.
    name : str, optional
        The exposure's name, for messages.

    Returns
    -------
    wcs : WCS
        ``wcs``, or a new `gwcs.wcs.WCS` (input and output frames of ``wcs``, same forward
        transform and bounding box) whose ``backward_transform`` is the fitted inverse.
    fit : InverseFit or None
        None when ``wcs`` was returned unchanged.

    Raises
    ------
    ValueError
        When no polynomial inverts the WCS to `MAX_INVERSE_ERROR` pixels.
    """
    from gwcs import wcs as gwcs_wcs

    if has_inverse(wcs):
        return wcs, None
    forward = wcs.forward_transform
    x0, x1, y0, y1 = _box(wcs, shape)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    mx, my = _MARGIN * (x1 - x0), _MARGIN * (y1 - y0)
    ra0, dec0 = (float(v) for v in forward(cx, cy))
    to_plane = models.RotateCelestial2Native(ra0, dec0, 180.0) | models.Sky2Pix_TAN()
    px, py = _grid(x0 - mx, x1 + mx, y0 - my, y1 + my, 41)
    u, v = to_plane(*forward(px, py))
    scale = float(max(np.ptp(u), np.ptp(v))) / 2 or 1.0
    check_x, check_y = _grid(x0, x1, y0, y1, 97)
    check_sky = forward(check_x, check_y)
    best = None
    for degree in _DEGREES:
        fitter = fitting.LinearLSQFitter()
        poly_x = fitter(models.Polynomial2D(degree), u / scale, v / scale, px - cx)
        poly_y = fitter(models.Polynomial2D(degree), u / scale, v / scale, py - cy)
        backward = (to_plane | (models.Scale(1 / scale) & models.Scale(1 / scale))
                    | models.Mapping((0, 1, 0, 1)) | (poly_x & poly_y)
                    | (models.Shift(cx) & models.Shift(cy)))
        bx, by = backward(*check_sky)
        error = float(np.nanmax(np.hypot(bx - check_x, by - check_y)))
        if best is None or error < best[1]:
            best = (backward, error, degree)
        if error < _TARGET:
            break
    backward, error, degree = best
    label = name or "an exposure"
    if not error <= MAX_INVERSE_ERROR:
        msg = (f"The WCS of {label} has no inverse transform, and no polynomial inverts it to "
               f"{MAX_INVERSE_ERROR} pixel (best: {error:.2g} px at degree {degree}); give "
               "the exposure a WCS with an inverse (e.g. from CRDS distortion references)")
        raise ValueError(msg)
    new_forward = forward.copy()
    new_forward.inverse = backward
    out = gwcs_wcs.WCS([(wcs.input_frame, new_forward), (wcs.output_frame, None)])
    if getattr(wcs, "bounding_box", None) is not None:
        out.bounding_box = ((x0, x1), (y0, y1))
    if wcs.array_shape is not None:
        out.array_shape = wcs.array_shape
    elif shape is not None:
        out.array_shape = tuple(shape)
    fit = InverseFit(degree=degree, max_error=error)
    log.info("The WCS of %s has no inverse transform: spike uses a fitted polynomial inverse "
             "(degree %d, round trip within %.2g pixel over the detector); the input is "
             "unchanged", label, degree, error)
    return out, fit
