"""Score drizzled PSFs against the real stars of the science mosaic, as users use PSFs.

A drizzled PSF is right when it has the shape of the mosaic's stars at the same place:
the same centroid, width, encircled energy at every radius, and a small residual when it
is fitted to them. This module measures that without favouring either side:

* `find_scoring_stars` picks stars in the mosaic with photutils only (isolated:
  neighbours fainter than 10 % of the peak within 15 px; no saturated or unusable pixel
  within 30 px; peak below 60 % of saturation; S/N at least 50; point-like);
* `score_psfs` cuts the star and the drizzled PSF from **the same mosaic pixels** (the PSF
  product's cutouts lie on the mosaic grid), applies **the same mask** to both (pixels
  without weight, non-finite pixels, other sources' segments), subtracts the **same kind
  of background** (median of the 14-19 px annulus about the nominal position),
  normalises each within 12 px of its own centroid and measures both with the same code:
  `photutils.centroids.centroid_2dg`, `photutils.psf.fit_fwhm` on 9x9 px, and encircled
  energy EE(r) about its own centroid (exact-overlap circular apertures);
* `summarize` gives the medians over the stars.

Ratios are PSF / star: an EE ratio above 1 means the PSF is too concentrated at that
radius. ``psf_flux`` is the flux a PSF fit within ``fit_radius`` gives the (normalised)
star: below 1 means PSF photometry with this PSF comes out low. ``resid_max`` and
``resid_rms`` are the largest and the root-mean-square ``|star - PSF|`` within the
normalisation radius, relative to the star's peak (both include the star's noise).
Radii are in mosaic pixels.
"""

import logging
import warnings

import numpy as np
from astropy.table import Table

__all__ = ["DEFAULT_RADII", "find_scoring_stars", "profile", "radial_profile", "score_psfs",
           "split_halves", "summarize"]

log = logging.getLogger(__name__)

#: Radii (mosaic px) of the encircled energies reported by default.
DEFAULT_RADII = (2.0, 4.0, 8.0)


def _check_pair(name, value):
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        lo = hi = np.nan
    if not (0 <= lo < hi):
        msg = f"{name} must be two radii (inner < outer, px), got {value!r}"
        raise ValueError(msg)
    return lo, hi


def _radius_grid(shape, x, y):
    yy, xx = np.indices(shape)
    return np.hypot(xx - x, yy - y)


def _centroid(data, mask, x, y, box):
    """2-D Gaussian centroid of ``data`` in a ``box`` px box about ``(x, y)``."""
    from photutils.centroids import centroid_2dg

    half = box // 2
    xi, yi = int(round(x)), int(round(y))
    sl = (slice(yi - half, yi + half + 1), slice(xi - half, xi + half + 1))
    sub, bad = data[sl], mask[sl]
    if sub.shape != (box, box) or bad.all():
        return np.nan, np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy fitter warnings on poor fits
        cx, cy = centroid_2dg(np.where(bad, 0.0, sub), mask=bad)
    return float(cx) + xi - half, float(cy) + yi - half


def _fwhm(data, mask, x, y, box):
    from photutils.psf import fit_fwhm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            value = fit_fwhm(np.where(mask, 0.0, data), xypos=(x, y), fit_shape=box,
                             mask=mask)
        except (ValueError, TypeError):
            return np.nan
    return float(np.atleast_1d(value)[0])


def _aperture_sums(data, mask, x, y, radii):
    from photutils.aperture import CircularAperture

    sums = []
    for r in radii:
        aperture = CircularAperture((x, y), r=r)
        value, _ = aperture.do_photometry(np.where(mask, 0.0, data), mask=mask,
                                          method="exact")
        sums.append(float(value[0]))
    return np.array(sums)


def profile(cut, mask, x, y, *, radii=DEFAULT_RADII, norm_radius=12.0,
            background=(14.0, 19.0), fwhm_box=9, centroid_box=9):
    """Measure one object (a star or a PSF) in a cutout, as `score_psfs` does.

    Parameters
    ----------
    cut : numpy.ndarray
        2-D cutout (NaN allowed; treated as masked).
    mask : numpy.ndarray
        Boolean, True where pixels are excluded.
    x, y : float
        Nominal 0-based position of the object in the cutout.
    radii : sequence of float, optional
        Radii (px) of the encircled energies.
    norm_radius : float, optional
        Radius (px) within which the object is normalised to unit flux.
    background : (float, float), optional
        Annulus (px, about the nominal position) whose median is subtracted.
    fwhm_box, centroid_box : int, optional
        Odd box sizes (px) of the FWHM fit and of the centroid.

    Returns
    -------
    dict
        ``x``, ``y`` (centroid), ``fwhm``, ``ee`` (array, one per radius, relative to the
        flux within ``norm_radius``), ``flux`` (within ``norm_radius``), ``background``
        and ``image`` (background-subtracted cutout divided by ``flux``, masked pixels 0).
    """
    r_in, r_out = _check_pair("background", background)
    cut = np.asarray(cut, dtype=float)
    mask = np.asarray(mask, dtype=bool) | ~np.isfinite(cut)
    r = _radius_grid(cut.shape, x, y)
    ring = (r >= r_in) & (r < r_out) & ~mask
    level = float(np.median(cut[ring])) if ring.any() else 0.0
    data = np.where(mask, 0.0, cut - level)
    cx, cy = _centroid(data, mask, x, y, centroid_box)
    if not np.isfinite(cx):
        cx, cy = float(x), float(y)
    sums = _aperture_sums(data, mask, cx, cy, [*radii, norm_radius])
    flux = sums[-1]
    return {"x": cx, "y": cy, "fwhm": _fwhm(data, mask, cx, cy, fwhm_box),
            "ee": sums[:-1] / flux if flux > 0 else np.full(len(radii), np.nan),
            "flux": flux, "background": level,
            "image": data / flux if flux > 0 else np.full(cut.shape, np.nan)}


def radial_profile(image, mask, x, y, edges):
    """Mean of ``image`` in annuli about ``(x, y)`` (masked pixels left out).

    Parameters
    ----------
    image : numpy.ndarray
        2-D array.
    mask : numpy.ndarray
        Boolean, True where pixels are excluded.
    x, y : float
        Centre (0-based pixels).
    edges : sequence of float
        Annulus edges (px), increasing.

    Returns
    -------
    numpy.ndarray
        ``len(edges) - 1`` means (NaN for an empty annulus).
    """
    r = _radius_grid(image.shape, x, y)
    ok = ~np.asarray(mask, bool) & np.isfinite(image)
    index = np.digitize(r[ok], edges) - 1
    inside = (index >= 0) & (index < len(edges) - 1)
    total = np.bincount(index[inside], weights=image[ok][inside], minlength=len(edges) - 1)
    count = np.bincount(index[inside], minlength=len(edges) - 1)
    return np.divide(total, count, out=np.full(len(edges) - 1, np.nan), where=count > 0)


def _neighbour_mask(cut, mask, x, y, rms, *, nsigma, min_pixels=5):
    """Segments of other sources in ``cut`` (not the one covering ``(x, y)``)."""
    from photutils.segmentation import detect_sources

    if not rms > 0:
        return np.zeros(cut.shape, dtype=bool)
    data = np.where(mask, 0.0, cut)
    segm = detect_sources(data, nsigma * rms, n_pixels=min_pixels, mask=mask)
    if segm is None:
        return np.zeros(cut.shape, dtype=bool)
    labels = segm.data
    own = labels[int(round(y)), int(round(x))]
    other = (labels > 0) & (labels != own)
    if not other.any():
        return other
    from scipy import ndimage

    return ndimage.binary_dilation(other, iterations=2)


def _global_rms(image, bad):
    from astropy.stats import sigma_clipped_stats

    good = ~bad & np.isfinite(image)
    values = image[good]
    if values.size > 2_000_000:
        values = values[:: values.size // 2_000_000 + 1]
    _, median, std = sigma_clipped_stats(values, sigma=3.0, maxiters=10)
    return float(median), float(std)


def find_scoring_stars(image, *, bad=None, saturated=None, saturation=None, snr_min=50.0,
                       isolation=15.0, neighbour_ratio=0.1, clearance=30.0,
                       peak_fraction=0.6, border=25, clean_radius=12.0, nsigma=5.0,
                       point_like=0.25, max_stars=None):
    """Pick isolated, unsaturated, bright point sources in a mosaic (photutils only).

    Parameters
    ----------
    image : numpy.ndarray
        The science mosaic (NaN allowed).
    bad : numpy.ndarray, optional
        Boolean, True for unusable pixels (e.g. zero weight). Non-finite pixels always are.
    saturated : numpy.ndarray, optional
        Boolean, True for saturated pixels; stars within ``clearance`` px of one are
        rejected. Without it, unusable pixels inside the image (holes, which saturated
        cores leave in a drizzled mosaic) count as saturated.
    saturation : float, optional
        Saturation level in the image's units; stars peaking above ``peak_fraction`` of
        it are rejected.
    snr_min : float, optional
        Minimum S/N of the flux within 4 px (background-limited estimate).
    isolation : float, optional
        Radius (px) within which no other peak may exceed ``neighbour_ratio`` times the
        star's peak.
    neighbour_ratio : float, optional
        See ``isolation``.
    clearance : float, optional
        Minimum distance (px) to a saturated pixel.
    peak_fraction : float, optional
        See ``saturation``.
    border : int, optional
        Minimum distance (px) to the image border.
    clean_radius : float, optional
        No unusable pixel may lie within this radius (px).
    nsigma : float, optional
        Detection threshold of peaks (and of neighbours), in units of the background rms.
    point_like : float or None, optional
        Reject objects whose FWHM differs from the median of the candidates by more than
        this fraction (blends, galaxies, cosmic-ray residue); None keeps all.
    max_stars : int or None, optional
        Keep at most this many stars (highest S/N).

    Returns
    -------
    `~astropy.table.Table`
        ``x``, ``y`` (0-based, 2-D Gaussian centroids), ``peak``, ``flux`` (within 4 px),
        ``snr`` and ``fwhm`` (px), highest S/N first.
    """
    from photutils.detection import find_peaks
    from scipy import ndimage

    for name, value in (("snr_min", snr_min), ("isolation", isolation),
                        ("clearance", clearance), ("clean_radius", clean_radius),
                        ("nsigma", nsigma)):
        if not (np.isfinite(value) and value >= 0):
            msg = f"{name} must be a non-negative number, got {value!r}"
            raise ValueError(msg)
    image = np.asarray(image, dtype=float)
    unusable = ~np.isfinite(image) if bad is None else (np.asarray(bad, bool)
                                                        | ~np.isfinite(image))
    level, rms = _global_rms(image, unusable)
    data = np.where(unusable, 0.0, image - level)
    if saturated is None:
        # holes: unusable pixels not connected to the unusable region at the border
        labels, _ = ndimage.label(unusable)
        edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        saturated = unusable & ~np.isin(labels, edge[edge > 0])
    saturated = np.asarray(saturated, dtype=bool)
    peaks = find_peaks(data, nsigma * rms, box_size=5, mask=unusable, border_width=border)
    if peaks is None:
        return Table(names=("x", "y", "peak", "flux", "snr", "fwhm"))
    px = np.asarray(peaks["x_peak"], dtype=int)
    py = np.asarray(peaks["y_peak"], dtype=int)
    pv = np.asarray(peaks["peak_value"], dtype=float)
    dist_sat = (ndimage.distance_transform_edt(~saturated) if saturated.any()
                else np.full(image.shape, np.inf))
    dist_bad = (ndimage.distance_transform_edt(~unusable) if unusable.any()
                else np.full(image.shape, np.inf))
    keep = (dist_sat[py, px] > clearance) & (dist_bad[py, px] > clean_radius)
    if saturation is not None:
        keep &= image[py, px] < peak_fraction * float(saturation)
    idx = np.nonzero(keep)[0]
    rows = []
    for i in idx:
        d = np.hypot(px - px[i], py - py[i])
        d[i] = np.inf
        if np.any((d < isolation) & (pv > neighbour_ratio * pv[i])):
            continue
        cx, cy = _centroid(data, unusable, px[i], py[i], 9)
        if not (np.isfinite(cx) and abs(cx - px[i]) < 1.5 and abs(cy - py[i]) < 1.5):
            continue
        flux = _aperture_sums(data, unusable, cx, cy, [4.0])[0]
        local = data[max(py[i] - 19, 0):py[i] + 20, max(px[i] - 19, 0):px[i] + 20]
        rr = _radius_grid(local.shape, cx - max(px[i] - 19, 0), cy - max(py[i] - 19, 0))
        ring = local[(rr >= 14) & (rr < 19)]
        flux -= (np.median(ring) if ring.size else 0.0) * np.pi * 16
        snr = flux / (rms * np.sqrt(np.pi * 16))
        if snr < snr_min:
            continue
        rows.append((cx, cy, pv[i], flux, snr, _fwhm(data, unusable, cx, cy, 9)))
    table = Table(rows=rows or None, names=("x", "y", "peak", "flux", "snr", "fwhm"))
    if len(table) and point_like is not None:
        good = np.isfinite(table["fwhm"])
        median = np.median(table["fwhm"][good]) if good.any() else np.nan
        table = table[good & (np.abs(table["fwhm"] / median - 1) <= point_like)]
    table.sort("snr", reverse=True)
    if max_stars is not None:
        table = table[: int(max_stars)]
    log.debug("scoring stars: %d peaks, %d kept (rms %.3g)", len(px), len(table), rms)
    return table


def score_psfs(drizzled, science, *, weight=None, radii=DEFAULT_RADII, norm_radius=12.0,
               background=(14.0, 19.0), fwhm_box=9, fit_radius=4.0, mask_neighbours=True,
               nsigma=3.0, profile_edges=None):
    """Compare each drizzled PSF with the star at the same place in the science mosaic.

    Parameters
    ----------
    drizzled : `~spike.datamodels.DrizzledPSFModel`
        Drizzled PSFs on the science mosaic's grid (cutouts at ``sources.xstart/ystart``).
    science : numpy.ndarray
        The science mosaic's data array, on the same grid.
    weight : numpy.ndarray, optional
        The mosaic's weight array; pixels with zero weight are masked in both.
    radii : sequence of float, optional
        Encircled-energy radii (mosaic px).
    norm_radius : float, optional
        Normalisation radius (px) of both star and PSF.
    background : (float, float), optional
        Background annulus (px).
    fwhm_box : int, optional
        Box (px) of `photutils.psf.fit_fwhm`.
    fit_radius : float, optional
        Radius (px) of the PSF fit behind ``psf_flux``.
    mask_neighbours : bool, optional
        Mask other sources (segments above ``nsigma`` times the background rms) in both.
    nsigma : float, optional
        Threshold of the neighbour segmentation.
    profile_edges : sequence of float, optional
        Also return each one's normalised radial profile in these annuli (px, about its
        own centroid), as array columns ``profile_star`` and ``profile_psf``.

    Returns
    -------
    `~astropy.table.Table`
        One row per source: ``id``, ``x``, ``y`` (mosaic), ``offset`` (centroid
        distance, px), ``fwhm_star``, ``fwhm_psf``, ``fwhm_ratio``, ``ee_star_<r>``,
        ``ee_ratio_<r>`` for each radius, ``resid_max``, ``resid_rms`` and ``psf_flux``.
        Sources whose
        cutout leaves the mosaic or has no flux get NaN.
    """
    _check_pair("background", background)
    if not norm_radius > max(radii):
        msg = f"norm_radius ({norm_radius}) must exceed every radius in radii {list(radii)}"
        raise ValueError(msg)
    science = np.asarray(science, dtype=float)
    bad = ~np.isfinite(science)
    if weight is not None:
        bad |= ~(np.asarray(weight) > 0)
    _, rms = _global_rms(science, bad)
    names = ["id", "x", "y", "offset", "fwhm_star", "fwhm_psf", "fwhm_ratio"]
    names += [f"ee_star_{r:g}" for r in radii] + [f"ee_ratio_{r:g}" for r in radii]
    names += ["resid_max", "resid_rms", "psf_flux"]
    rows, profiles = [], []
    for s, src in enumerate(drizzled.sources):
        sid = src["id"].decode() if isinstance(src["id"], bytes) else str(src["id"])
        psf = np.asarray(drizzled.data[s], dtype=float)
        x0, y0 = int(src["xstart"]), int(src["ystart"])
        ny, nx = psf.shape
        row = [sid, float(src["x"]), float(src["y"])] + [np.nan] * (len(names) - 3)
        nan_profile = np.full(0 if profile_edges is None else len(profile_edges) - 1, np.nan)
        profiles.append((nan_profile, nan_profile))
        if x0 < 0 or y0 < 0 or y0 + ny > science.shape[0] or x0 + nx > science.shape[1]:
            rows.append(row)
            continue
        star = science[y0 : y0 + ny, x0 : x0 + nx]
        mask = bad[y0 : y0 + ny, x0 : x0 + nx] | ~np.isfinite(psf)
        x, y = float(src["x"]) - x0, float(src["y"]) - y0
        if mask_neighbours:
            mask = mask | _neighbour_mask(star - np.nanmedian(star), mask, x, y, rms,
                                          nsigma=nsigma)
        opts = {"radii": radii, "norm_radius": norm_radius, "background": background,
                "fwhm_box": fwhm_box}
        ms, mp = profile(star, mask, x, y, **opts), profile(psf, mask, x, y, **opts)
        if not (ms["flux"] > 0 and mp["flux"] > 0):
            rows.append(row)
            continue
        inside = (_radius_grid(star.shape, x, y) <= norm_radius) & ~mask
        resid = ms["image"] - mp["image"]
        core = (_radius_grid(star.shape, x, y) <= fit_radius) & ~mask
        p, t = mp["image"][core], ms["image"][core]
        row[3:] = [float(np.hypot(ms["x"] - mp["x"], ms["y"] - mp["y"])), ms["fwhm"],
                   mp["fwhm"], mp["fwhm"] / ms["fwhm"], *ms["ee"], *(mp["ee"] / ms["ee"]),
                   float(np.abs(resid[inside]).max() / ms["image"][inside].max()),
                   float(np.sqrt(np.mean(resid[inside] ** 2)) / ms["image"][inside].max()),
                   float((p @ t) / (p @ p))]
        rows.append(row)
        if profile_edges is not None:
            profiles[-1] = tuple(radial_profile(m["image"], mask, m["x"], m["y"], profile_edges)
                                 for m in (ms, mp))
    table = Table(rows=rows or None, names=names, dtype=[str] + [float] * (len(names) - 1))
    if profile_edges is not None and len(table):
        table["profile_star"] = np.array([p[0] for p in profiles])
        table["profile_psf"] = np.array([p[1] for p in profiles])
    return table


def summarize(table, *, radii=DEFAULT_RADII):
    """Medians of a `score_psfs` table over its (finite) sources.

    Parameters
    ----------
    table : `~astropy.table.Table`
        Output of `score_psfs`.
    radii : sequence of float, optional
        The radii it was computed with.

    Returns
    -------
    dict
        ``n`` and the median ``offset``, ``fwhm_ratio``, ``ee_ratio_<r>``, ``resid_max``,
        ``resid_rms``, ``psf_flux``.
    """
    keys = ["offset", "fwhm_ratio", *[f"ee_ratio_{r:g}" for r in radii], "resid_max",
            "resid_rms", "psf_flux"]
    ok = np.all([np.isfinite(np.asarray(table[k], dtype=float)) for k in keys], axis=0) \
        if len(table) else np.zeros(0, bool)
    out = {"n": int(ok.sum())}
    for k in keys:
        out[k] = float(np.median(np.asarray(table[k], float)[ok])) if ok.any() else np.nan
    return out


def split_halves(n, *, seed=0):
    """Split ``range(n)`` into two random halves (for fit-on-one, score-on-other).

    Parameters
    ----------
    n : int
        Number of stars.
    seed : int, optional
        Seed of `numpy.random.default_rng`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Sorted index arrays; the first gets the extra star when ``n`` is odd.
    """
    order = np.random.default_rng(seed).permutation(int(n))
    half = (int(n) + 1) // 2
    return np.sort(order[:half]), np.sort(order[half:])
