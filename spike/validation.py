"""Compare drizzled PSFs with the stars of the science mosaic (centroid and FWHM)."""

import logging

import numpy as np

__all__ = ["measure", "local_background", "compare_with_stars"]

log = logging.getLogger(__name__)


def measure(image, x, y, *, box=11):
    """Return the 2-D Gaussian centroid and FWHM of the object near ``(x, y)``.

    Parameters
    ----------
    image : numpy.ndarray
        Background-subtracted image (NaN treated as missing).
    x, y : float
        Approximate 0-based position.
    box : int, optional
        Odd fitting box size in pixels.

    Returns
    -------
    xc, yc, fwhm : float
        Centroid (0-based, in ``image`` coordinates) and FWHM in pixels.
    """
    from photutils.psf import fit_2dgaussian

    half = box // 2
    xi, yi = int(round(x)), int(round(y))
    sub = np.array(image[yi - half : yi + half + 1, xi - half : xi + half + 1], dtype=float)
    if sub.shape != (box, box):
        msg = f"The fitting box at ({x:.1f}, {y:.1f}) runs off the image"
        raise ValueError(msg)
    mask = ~np.isfinite(sub)
    sub[mask] = 0.0
    fit = fit_2dgaussian(sub, xypos=(half + (x - xi), half + (y - yi)), fit_shape=box,
                         mask=mask, fix_fwhm=False)
    row = fit.results
    return (float(row["x_fit"][0]) + xi - half, float(row["y_fit"][0]) + yi - half,
            float(row["fwhm_fit"][0]))


def local_background(image, x, y, *, r_in=12, r_out=18):
    """Return the median of ``image`` in the annulus ``r_in <= r < r_out`` around ``(x, y)``."""
    yy, xx = np.indices(image.shape)
    r = np.hypot(xx - x, yy - y)
    ring = image[(r >= r_in) & (r < r_out)]
    ring = ring[np.isfinite(ring)]
    return float(np.median(ring)) if ring.size else 0.0


def compare_with_stars(drizzled, science, *, box=11):
    """Measure each drizzled PSF and the star at the same place in the science mosaic.

    Parameters
    ----------
    drizzled : `~spike.datamodels.DrizzledPSFModel`
        Drizzled PSFs on the science mosaic's grid.
    science : model with ``data`` and ``meta.wcs``
        The science mosaic (e.g. a JWST ``_i2d`` ImageModel).
    box : int, optional
        Fitting box size.

    Returns
    -------
    list of dict
        Per source: ``id``, ``offset`` (centroid distance in mosaic pixels),
        ``fwhm_psf``, ``fwhm_star`` and ``fwhm_ratio``.
    """
    rows = []
    for s, src in enumerate(drizzled.sources):
        sid = src["id"].decode() if isinstance(src["id"], bytes) else str(src["id"])
        x0, y0 = int(src["xstart"]), int(src["ystart"])
        px, py, pfwhm = measure(drizzled.data[s], src["x"] - x0, src["y"] - y0, box=box)
        sci = np.asarray(science.data, dtype=float)
        sci = sci - local_background(sci, src["x"], src["y"])
        sx, sy, sfwhm = measure(sci, src["x"], src["y"], box=box)
        rows.append({
            "id": sid,
            "offset": float(np.hypot(px + x0 - sx, py + y0 - sy)),
            "fwhm_psf": pfwhm,
            "fwhm_star": sfwhm,
            "fwhm_ratio": pfwhm / sfwhm,
        })
    return rows
