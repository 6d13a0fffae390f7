"""Star selection for the ``epsf`` PSF method: plain functions on arrays.

`select_stars` finds the stars of one exposure (or chip) that are good enough to build
an effective PSF from: detected as local maxima (`photutils.detection.find_peaks`) on the
background-subtracted image, then kept only when they are

* away from the edges (the whole star box, plus a margin, inside the array);
* DQ-clean (every pixel of the box, or of a central disc, usable);
* unsaturated (no saturated pixel in the box or near it, peak below an optional limit);
* isolated (no neighbour brighter than a fraction of the star's peak within a radius);
* star-like (peak to 3x3 flux ratio close to that of the other candidates, which rejects
  cosmic rays, hot pixels, close pairs and galaxies);
* bright (signal-to-noise ratio of the flux in the box above a threshold).

The survivors are returned as background-subtracted cutouts with their weights. The
backgrounds are robust: a sigma-clipped global level for detection, then for each star
the sigma-clipped mean of an annulus just outside its box (`background_annulus`; in
crowded fields the plain median is biased high by the wings of neighbours). The annulus
lies outside the ePSF's support, so the star's own light inside the box is never taken for
sky; the far halo of the star that still falls in the annulus is accounted for when the
ePSF is built (`spike.psf._epsf_build`). `spike.psf._epsf_grid` then decides how many cells
of a spatial ePSF grid the stars support.
"""

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np

__all__ = ["StarSelection", "estimate_background", "find_candidates", "select_stars"]

log = logging.getLogger(__name__)

#: Detection threshold of candidate stars and neighbours, in units of the pixel noise.
DETECT_NSIGMA = 5.0
#: Gap (px) between the ePSF support (the disc inscribed in the star box) and the annulus
#: that measures each star's local background.
ANNULUS_GAP = 1.0
#: Width (px) of that annulus.
ANNULUS_WIDTH = 4.0


@dataclass
class StarSelection:
    """Stars selected to build an ePSF, with the bookkeeping of the selection.

    Attributes
    ----------
    x, y : numpy.ndarray
        0-based detector positions of the stars (sub-pixel, from a 3x3 quadratic).
    snr : numpy.ndarray
        Signal-to-noise ratio of the flux in the star box.
    peak : numpy.ndarray
        Background-subtracted peak pixel value.
    cutouts : numpy.ndarray
        ``(n, box_size, box_size)`` cutouts minus their local background; star ``i`` is
        centred near pixel ``box_size // 2`` of cutout ``i``.
    weights : numpy.ndarray
        ``(n, box_size, box_size)`` 1.0 for usable pixels, 0.0 otherwise.
    errors : numpy.ndarray
        ``(n, box_size, box_size)`` 1-sigma noise of the cutout pixels.
    local : numpy.ndarray
        Local background subtracted from each cutout (data units).
    origins : numpy.ndarray
        ``(n, 2)`` integer ``(x, y)`` detector position of each cutout's pixel ``(0, 0)``.
    background, rms : float
        Global sigma-clipped background level and pixel-to-pixel scatter.
    annulus : tuple of float
        Inner and outer radius (px) of the local background annulus.
    n_candidates : int
        Number of detected local maxima.
    rejected : dict
        ``{criterion: number of candidates it removed}``, in the order applied.
    """

    x: np.ndarray
    y: np.ndarray
    snr: np.ndarray
    peak: np.ndarray
    cutouts: np.ndarray
    weights: np.ndarray
    errors: np.ndarray
    local: np.ndarray
    origins: np.ndarray
    background: float = 0.0
    rms: float = 0.0
    annulus: tuple = (0.0, 0.0)
    n_candidates: int = 0
    rejected: dict = field(default_factory=dict)

    def __len__(self):
        return len(self.x)

    def subset(self, index):
        """Return a `StarSelection` holding only the stars ``index`` (array or slice)."""
        keep = ("x", "y", "snr", "peak", "cutouts", "weights", "errors", "local", "origins")
        parts = {name: getattr(self, name)[index] for name in keep}
        return StarSelection(**parts, background=self.background, rms=self.rms,
                             annulus=self.annulus, n_candidates=self.n_candidates,
                             rejected=dict(self.rejected))


def estimate_background(data, good, *, sigma=3.0, maxiters=5, max_samples=100_000):
    """Return the global background level and pixel scatter of an image.

    Parameters
    ----------
    data : numpy.ndarray
        2-D image.
    good : numpy.ndarray
        Boolean mask of usable pixels.
    sigma, maxiters : float, int, optional
        Sigma-clipping parameters (`astropy.stats.sigma_clipped_stats`).
    max_samples : int, optional
        At most this many usable pixels (a regular subsample) enter the statistics.

    Returns
    -------
    level : float
        Sigma-clipped median; 0.0 without usable pixels.
    rms : float
        Pixel-to-pixel noise, from the median absolute difference of horizontally adjacent
        usable pixels (insensitive to crowding, unlike the clipped standard deviation);
        1.0 when it cannot be measured.
    """
    from astropy.stats import sigma_clipped_stats

    good = good & np.isfinite(data)
    values = data[good]
    if values.size == 0:
        return 0.0, 1.0
    step = max(1, values.size // max_samples)
    _, level, _ = sigma_clipped_stats(values[::step], sigma=sigma, maxiters=maxiters)
    pairs = good[:, 1:] & good[:, :-1]
    diff = (data[:, 1:] - data[:, :-1])[pairs][::step]
    rms = 1.4826 * np.median(np.abs(diff - np.median(diff))) / np.sqrt(2) if diff.size else 0.0
    return float(level), float(rms) if rms > 0 else 1.0


def find_candidates(image, noise, usable, *, nsigma=DETECT_NSIGMA):
    """Return the local maxima of a background-subtracted image.

    Parameters
    ----------
    image : numpy.ndarray
        Background-subtracted image.
    noise : numpy.ndarray or float
        1-sigma noise per pixel.
    usable : numpy.ndarray
        Boolean mask; maxima are searched among these pixels only.
    nsigma : float, optional
        Detection threshold in units of ``noise``.

    Returns
    -------
    x, y : numpy.ndarray of int
        Peak pixels (column, row), brightest first.
    peak : numpy.ndarray
        Peak values.
    """
    from photutils.detection import find_peaks
    from photutils.utils.exceptions import NoDetectionsWarning

    with warnings.catch_warnings():
        # no peak at all is a legitimate answer here: it is reported as "0 found"
        warnings.simplefilter("ignore", NoDetectionsWarning)
        table = find_peaks(image, nsigma * noise, box_size=3, mask=~usable)
    if table is None:
        empty = np.zeros(0, dtype=int)
        return empty, empty, np.zeros(0)
    x = np.asarray(table["x_peak"], dtype=int)
    y = np.asarray(table["y_peak"], dtype=int)
    peak = np.asarray(table["peak_value"], dtype=float)
    order = np.argsort(-peak, kind="stable")
    return x[order], y[order], peak[order]


def _box_sums(array, x, y, half):
    """Sum ``array`` over the ``(2 * half + 1)``-square boxes centred on ``(x, y)``."""
    table = np.zeros((array.shape[0] + 1, array.shape[1] + 1), dtype=array.dtype)
    np.cumsum(array, axis=0, out=table[1:, 1:])
    np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
    y0, y1, x0, x1 = y - half, y + half + 1, x - half, x + half + 1
    return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]


def _cutouts(array, x, y, half):
    """``(n, 2 * half + 1, 2 * half + 1)`` cutouts of ``array`` centred on ``(x, y)``."""
    offsets = np.arange(-half, half + 1)
    return array[(y[:, None] + offsets)[:, :, None], (x[:, None] + offsets)[:, None, :]]


def _row_median(values):
    """Row-wise median of a 2-D array ignoring NaN (NaN for empty rows)."""
    ordered = np.sort(values, axis=1)  # NaN sort last
    n = np.isfinite(ordered).sum(axis=1)
    rows = np.arange(len(ordered))
    lo, hi = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
    return np.where(n > 0, 0.5 * (ordered[rows, lo] + ordered[rows, hi]), np.nan)


def _clipped_mean(values, *, nsigma=2.5, maxiters=5):
    """Row-wise sigma-clipped mean (around the median) of ``values``; NaN are ignored."""
    values = np.array(values, dtype=float)
    finite = np.isfinite(values)
    for _ in range(maxiters):
        n = np.maximum(finite.sum(axis=1, keepdims=True), 1)
        centre = _row_median(values)[:, None]
        mean = np.where(finite, values, 0.0).sum(axis=1, keepdims=True) / n
        spread = np.sqrt(np.where(finite, (values - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n)
        clip = finite & (np.abs(values - centre) > nsigma * spread)
        if not clip.any():
            break
        values[clip] = np.nan
        finite &= ~clip
    n = finite.sum(axis=1)
    total = np.where(finite, values, 0.0).sum(axis=1)
    return np.divide(total, n, out=np.full(len(values), np.nan), where=n > 0)


def _subpixel(image, x, y):
    """Refine peak pixels with a 1-D quadratic through the 3 pixels along each axis."""
    c = image[y, x]

    def offset(lo, hi):
        curvature = lo - 2.0 * c + hi
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(curvature < 0, 0.5 * (lo - hi) / curvature, 0.0)
        return np.clip(np.nan_to_num(d), -0.5, 0.5)

    return (x + offset(image[y, x - 1], image[y, x + 1]),
            y + offset(image[y - 1, x], image[y + 1, x]))


def _near(x, y, xy, radius):
    """True for the positions ``(x, y)`` within ``radius`` of any of ``xy`` (``(n, 2)``)."""
    from scipy.spatial import cKDTree

    if xy is None or len(xy) == 0 or len(x) == 0 or not radius > 0:
        return np.zeros(len(x), dtype=bool)
    counts = cKDTree(np.asarray(xy, dtype=float)).query_ball_point(
        np.column_stack([x, y]).astype(float), radius, return_length=True)
    return np.asarray(counts) > 0


def _isolated(x, y, peak, all_x, all_y, all_peak, saturated_xy, *, radius, ratio, index):
    """Flag candidates with no comparable neighbour or saturated pixel within radius."""
    from scipy.spatial import cKDTree

    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    tree = cKDTree(np.column_stack([x, y]).astype(float))
    pairs = tree.sparse_distance_matrix(
        cKDTree(np.column_stack([all_x, all_y]).astype(float)), radius, output_type="ndarray")
    brightest = np.zeros(len(x))
    other = pairs["j"] != index[pairs["i"]]
    np.maximum.at(brightest, pairs["i"][other], all_peak[pairs["j"][other]])
    ok = brightest <= ratio * peak
    if len(saturated_xy):
        near = cKDTree(saturated_xy).query_ball_point(tree.data, radius, return_length=True)
        ok &= np.asarray(near) == 0
    return ok


def select_stars(pixels, *, box_size, min_snr, isolation, isolation_ratio, max_peak,
                 edge, clean_radius, sharpness_clip, exclude_xy=None, exclude_radius=0.0):
    """Select isolated, unsaturated, clean, bright stars of one exposure.

    Parameters
    ----------
    pixels : `~spike.psf.base.ExposurePixels`
        The exposure's science pixels.
    box_size : int
        Odd width (px) of the star boxes (and of the ePSF).
    min_snr : float
        Minimum signal-to-noise ratio of the background-subtracted flux in the box.
    isolation : float
        Radius (px) within which no neighbour may exceed ``isolation_ratio`` times the
        star's peak and no pixel may be saturated.
    isolation_ratio : float
        Brightness ratio (neighbour peak / star peak) above which a neighbour spoils a star.
    max_peak : float or None
        Stars whose brightest pixel (before background subtraction) reaches this value
        are rejected as possibly non-linear; None for no limit.
    edge : int
        Minimum distance (px) between the star box (or its background annulus, whichever
        reaches further) and the array border.
    clean_radius : float or None
        Every pixel within this radius (px) of the star must be usable; None: the whole box.
        Unusable pixels outside it get zero weight.
    sharpness_clip : float
        Reject candidates whose peak to 3x3 flux ratio is more than this many robust
        standard deviations from the median of the bright candidates.
    exclude_xy : numpy.ndarray or None, optional
        ``(n, 2)`` 0-based detector ``(x, y)`` of stars that must not be used (held out
        for cross-validation); candidates within ``exclude_radius`` of one are rejected
        (``rejected["excluded"]``). They still count as neighbours for the isolation test.
    exclude_radius : float, optional
        Radius (px) of the exclusion around each ``exclude_xy``.

    Returns
    -------
    StarSelection
        The stars, brightest (highest S/N) first.
    """
    data = np.asarray(pixels.data)
    ny, nx = data.shape
    good = np.asarray(pixels.good, dtype=bool) & np.isfinite(data)
    saturated = (np.zeros_like(good) if pixels.saturated is None
                 else np.asarray(pixels.saturated, dtype=bool))
    level, rms = estimate_background(data, good)
    image = np.where(good, data - level, 0.0)
    if pixels.err is not None:
        err = np.asarray(pixels.err, dtype=np.float32)
        noise = np.where(np.isfinite(err) & (err > 0), err, np.float32(rms))
    else:
        noise = np.full(data.shape, rms, dtype=np.float32)
    all_x, all_y, all_peak = find_candidates(image, noise, good)
    half = box_size // 2
    rejected = {}

    def keep(name, mask):
        rejected[name] = int((~mask).sum())
        return mask

    r_in = half + 0.5 + ANNULUS_GAP
    r_out = r_in + ANNULUS_WIDTH
    outer = int(np.ceil(r_out))
    reach = max(half, outer) + int(edge)
    idx = np.arange(len(all_x))
    m = keep("edge", (all_x >= reach) & (all_x < nx - reach)
             & (all_y >= reach) & (all_y < ny - reach))
    idx = idx[m]
    x, y, peak = all_x[idx], all_y[idx], all_peak[idx]
    m = keep("excluded", ~_near(x, y, exclude_xy, exclude_radius))
    idx, x, y, peak = idx[m], x[m], y[m], peak[m]
    # DQ: every pixel of the box (or of the clean disc) usable
    if clean_radius is None:
        m = keep("dq", _box_sums((~good).astype(np.int32), x, y, half) == 0)
    else:
        r = int(np.ceil(clean_radius))
        disc = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= clean_radius
        m = keep("dq", ~(_cutouts(~good, x, y, r) & disc).any(axis=(1, 2)))
    idx, x, y, peak = idx[m], x[m], y[m], peak[m]
    m = _box_sums(saturated.astype(np.int32), x, y, half) == 0 if saturated.any() else x >= 0
    if max_peak is not None:
        m &= data[y, x] < max_peak
    m = keep("saturation", m)
    idx, x, y, peak = idx[m], x[m], y[m], peak[m]
    sat_y, sat_x = np.nonzero(saturated)
    m = keep("isolation", _isolated(x, y, peak, all_x, all_y, all_peak,
                                    np.column_stack([sat_x, sat_y]).astype(float),
                                    radius=isolation, ratio=isolation_ratio, index=idx))
    idx, x, y, peak = idx[m], x[m], y[m], peak[m]
    # S/N of the flux in the box, above the local background (clipped mean of the annulus)
    offsets = np.hypot(*np.mgrid[-outer:outer + 1, -outer:outer + 1])
    ring = (offsets >= r_in) & (offsets <= r_out)
    local = _clipped_mean(np.where(_cutouts(good, x, y, outer)[:, ring],
                                   _cutouts(data, x, y, outer)[:, ring], np.nan))
    local = np.where(np.isfinite(local), local, level)
    cut = _cutouts(data, x, y, half).astype(float)
    wts = _cutouts(good, x, y, half)
    cut = np.where(wts, cut - local[:, None, None], 0.0)
    errs = _cutouts(noise, x, y, half)
    flux = cut.sum(axis=(1, 2))
    snr = flux / np.sqrt((np.where(wts, errs, 0.0) ** 2).sum(axis=(1, 2)) + 1e-300)
    # shape: peak / 3x3 flux, compared with the bright candidates' median
    core = cut[:, half - 1:half + 2, half - 1:half + 2].sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        sharp = np.where(core > 0, cut[:, half, half] / core, np.inf)
    bright = (snr >= min_snr) & np.isfinite(sharp)
    if bright.sum() >= 3:
        centre = np.median(sharp[bright])
        spread = max(1.4826 * np.median(np.abs(sharp[bright] - centre)), 0.01)
        m = np.abs(sharp - centre) <= sharpness_clip * spread
    else:
        m = np.isfinite(sharp)
    m = keep("sharpness", m)
    rejected["snr"] = int((m & (snr < min_snr)).sum())
    sel = np.nonzero(m & (snr >= min_snr))[0]
    sel = sel[np.argsort(-snr[sel], kind="stable")]
    xs, ys = _subpixel(image, x[sel], y[sel])
    log.debug("epsf star selection: %d candidates, rejected %s, %d kept",
              len(all_x), rejected, len(sel))
    return StarSelection(
        x=xs, y=ys, snr=snr[sel], peak=peak[sel], cutouts=cut[sel],
        weights=wts[sel].astype(float), errors=errs[sel], local=local[sel],
        origins=np.column_stack([x[sel] - half, y[sel] - half]),
        background=level, rms=rms, annulus=(r_in, r_out), n_candidates=len(all_x),
        rejected=rejected,
    )
