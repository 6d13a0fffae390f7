"""Star selection and centroids on real HST images (test support)."""

import numpy as np
from astropy.stats import sigma_clipped_stats
from photutils.centroids import centroid_2dg
from photutils.detection import DAOStarFinder

__all__ = ["bright_isolated_stars", "point_like", "star_centroids"]


def bright_isolated_stars(image, bad, *, count=10, isolation=15, max_peak=None, border=30):
    """(x, y) of the brightest stars with no other detection within ``isolation`` px."""
    _, median, std = sigma_clipped_stats(image[~bad], sigma=3.0)
    found = DAOStarFinder(fwhm=2.5, threshold=30 * std, exclude_border=True)(image - median)
    x, y, peak = (np.asarray(found[c]) for c in ("x_centroid", "y_centroid", "peak"))
    ny, nx = image.shape
    chosen = []
    for i in np.argsort(-peak):
        others = np.hypot(x - x[i], y - y[i])
        others[i] = np.inf
        xi, yi = round(x[i]), round(y[i])
        if others.min() < isolation or not (border < xi < nx - border and border < yi < ny - border):
            continue
        if bad[yi - 7 : yi + 8, xi - 7 : xi + 8].any():
            continue
        if max_peak is not None and peak[i] > max_peak:
            continue
        chosen.append((x[i], y[i]))
        if len(chosen) == count:
            break
    return np.array(chosen)


def star_centroids(image, xy, half=5):
    """2-D Gaussian centroids in boxes of ``2 * half + 1`` px around ``xy`` (local sky off)."""
    result = []
    for x, y in xy:
        xi, yi = round(x), round(y)
        box = image[yi - half : yi + half + 1, xi - half : xi + half + 1]
        sky = np.median(image[yi - 12 : yi + 13, xi - 12 : xi + 13])
        cx, cy = centroid_2dg(box - sky)
        result.append((xi - half + cx, yi - half + cy))
    return np.array(result)


def point_like(image, xy, *, tolerance=1.3):
    """True for objects whose FWHM is within ``tolerance`` of the median (drops blends)."""
    from spike.validation import local_background, measure

    fwhm = np.array([measure(image - local_background(image, x, y), x, y, box=9)[2]
                     for x, y in xy])
    return fwhm < tolerance * np.median(fwhm)
