"""Encircled energy of a PSF model against real stars of an exposure (test support).

The star and the model rendered at the star's position are measured on the same pixels,
with the same mask (unusable pixels and other sources' segments) and the same kind of
background (median of the 14-19 px annulus); each is normalised within 12 px and its
EE(r) is taken about its own 2-D Gaussian centroid with exact-overlap apertures. This is
the measurement the accuracy benchmark makes on drizzled mosaics, at native sampling.
"""

import warnings

import numpy as np

__all__ = ["measure_ee", "neighbour_mask", "scoring_stars", "star_ee_ratios"]

HALF = 25


def scoring_stars(pixels, *, saturation, snr_min=50.0, isolation=15.0, ratio=0.1,
                  clearance=30.0, border=30):
    """(x, y) of isolated, unsaturated, bright stars (peaks < 60 % of ``saturation``)."""
    from astropy.stats import sigma_clipped_stats
    from photutils.detection import find_peaks
    from scipy import ndimage

    data = np.asarray(pixels.data, dtype=float)
    bad = ~np.asarray(pixels.good, bool) | ~np.isfinite(data)
    sat = np.asarray(pixels.saturated, bool)
    _, level, rms = sigma_clipped_stats(data[~bad], sigma=3.0)
    image = np.where(bad, 0.0, data - level)
    peaks = find_peaks(image, 5 * rms, box_size=5, mask=bad, border_width=border)
    x, y = np.asarray(peaks["x_peak"]), np.asarray(peaks["y_peak"])
    v = np.asarray(peaks["peak_value"], float)
    far = ndimage.distance_transform_edt(~sat)[y, x] > clearance
    clean = ndimage.distance_transform_edt(~(bad & ~sat))[y, x] > 12
    keep = far & clean & (data[y, x] < 0.6 * saturation)
    out = []
    for i in np.nonzero(keep)[0]:
        d = np.hypot(x - x[i], y - y[i])
        d[i] = np.inf
        if np.any((d < isolation) & (v > ratio * v[i])):
            continue
        if v[i] * np.sqrt(np.pi * 4.0) / rms < snr_min:  # background-limited S/N within ~2 px
            continue
        out.append((x[i], y[i], v[i]))
    out.sort(key=lambda row: -row[2])
    return np.array([(a, b) for a, b, _ in out], dtype=float)


def measure_ee(cut, mask, x, y, radii, norm):
    """EE(r) / EE(norm) of the object near ``(x, y)`` of ``cut`` about its own centroid.

    The median of the 14-19 px annulus is subtracted; ``mask`` (True: excluded) applies.
    """
    from photutils.aperture import CircularAperture
    from photutils.centroids import centroid_2dg

    yy, xx = np.indices(cut.shape)
    r = np.hypot(xx - x, yy - y)
    ring = (r >= 14) & (r < 19) & ~mask
    data = np.where(mask, 0.0, cut - np.median(cut[ring]))
    xi, yi = int(round(x)), int(round(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cx, cy = centroid_2dg(data[yi - 4:yi + 5, xi - 4:xi + 5], mask=mask[yi - 4:yi + 5,
                                                                         xi - 4:xi + 5])
    cx, cy = cx + xi - 4, cy + yi - 4
    sums = [CircularAperture((cx, cy), q).do_photometry(data, mask=mask, method="exact")[0][0]
            for q in (*radii, norm)]
    return np.array(sums[:-1]) / sums[-1]


def neighbour_mask(cut, mask, rms):
    """Other sources' segments (3 sigma, 5 px, dilated by 2) in a cutout centred on a star."""
    from photutils.segmentation import detect_sources
    from scipy import ndimage

    segm = detect_sources(np.where(mask, 0.0, cut - np.nanmedian(cut)), 3 * rms,
                          n_pixels=5, mask=mask)
    if segm is None:
        return np.zeros(cut.shape, dtype=bool)
    own = segm.data[cut.shape[0] // 2, cut.shape[1] // 2]
    return ndimage.binary_dilation((segm.data > 0) & (segm.data != own), iterations=2)


def star_ee_ratios(model, pixels, xy, *, radii=(2.0, 4.0, 8.0), norm=12.0, oversampling=4):
    """Per star: EE(r) of the model over EE(r) of the star (> 1: model too concentrated)."""
    from photutils.psf import ImagePSF

    data = np.asarray(pixels.data, dtype=float)
    bad = ~np.asarray(pixels.good, bool) | ~np.isfinite(data)
    from astropy.stats import sigma_clipped_stats

    _, _, rms = sigma_clipped_stats(data[~bad], sigma=3.0)
    size = 2 * HALF + 1
    yy, xx = np.mgrid[-HALF:HALF + 1, -HALF:HALF + 1]
    rows = []
    for x, y in xy:
        xi, yi = int(round(x)), int(round(y))
        sl = (slice(yi - HALF, yi + HALF + 1), slice(xi - HALF, xi + HALF + 1))
        star, mask = data[sl], bad[sl].copy()
        if star.shape != (size, size):
            continue
        lx, ly = x - xi + HALF, y - yi + HALF
        mask |= neighbour_mask(star, mask, rms)
        stamp = model.evaluate(x, y, size=size)
        psf = ImagePSF(stamp, oversampling=oversampling).evaluate(xx + xi, yy + yi, 1.0, x, y)
        rows.append(measure_ee(psf, mask, lx, ly, radii, norm)
                    / measure_ee(star, mask, lx, ly, radii, norm))
    return np.array(rows)
