"""The array algorithm of the ``epsf`` PSF method: build an ePSF from star cutouts.

`build_epsf` follows the iterative scheme of Anderson & King (2000, PASP 112, 1360) that
`photutils.psf.EPSFBuilder` also implements, written as whole-array numpy operations so
that one exposure takes a fraction of a second (photutils fits each star with an astropy
fitter and fills unsampled ePSF samples by Delaunay interpolation, which took 0.5 to 10 s
per exposure on the ACS/HRC test image). Each iteration

1. stacks every star's normalised residual from the current ePSF on the oversampled grid,
   one 3-sigma clipped mean (around the median) per sample;
2. adds the stack smoothed by a count-weighted Gaussian of `SMOOTH_PX` detector pixels,
   which also fills samples no star reached;
3. recentres the ePSF so that the centre of mass of its central +-2 px box (photutils
   uses +-2.5 px) is the array centre, zeroes it outside the support disc and
   normalises every sub-pixel phase (pixel-spaced sub-grid) to sum 1, so the whole array
   sums to ``oversampling**2`` and a star's flux does not depend on its sub-pixel
   position;
4. refits every star's flux and centre (Gauss-Newton on its central 5x5 pixels).

Pixels more than `OUTLIER_NSIGMA` from the model of the first iteration (cosmic rays,
faint neighbours) are masked once: re-deriving the mask from each new ePSF ratchets the
wings down in crowded fields. The ePSF grid has ``b * oversampling`` samples per side for
``b``-pixel cutouts, its centre at the array centre: the `spike.psf.base` convention.
"""

import logging

import numpy as np

from spike.exceptions import PSFMethodError

__all__ = ["build_epsf"]

log = logging.getLogger(__name__)

#: Half width (px) of the box fitted to each star (5x5 pixels).
FIT_HALF = 2
#: Half width (px) of the central box whose centre of mass defines the ePSF centre.
CENTRE_HALF = 2.0
#: Sigma (detector px) of the Gaussian smoothing of each iteration's residual stack.
SMOOTH_PX = 0.25
#: Pixels further than this many sigma from a star's fitted model are masked.
OUTLIER_NSIGMA = 5.0
#: Fractional model error added to the pixel noise for the outlier test.
MODEL_ERROR = 0.1
#: Width (px) of the taper outside the core radius of a cell refinement.
CORE_TAPER = 2.0
#: Stars whose fitted flux differs from their box flux by more than this factor are dropped.
MIN_FLUX_RATIO = 0.2
#: Stop iterating once no star centre moves by more than this (px).
CENTRE_TOLERANCE = 1e-3


def _spline(epsf):
    """Cubic spline coefficients of ``epsf`` (zero outside) for `_sample`."""
    from scipy import ndimage

    return ndimage.spline_filter(epsf, order=3, mode="grid-constant")


def _sample(coeffs, dx, dy, oversampling):
    """Evaluate the ePSF (spline ``coeffs``) at offsets ``(dx, dy)`` px from its centre."""
    from scipy import ndimage

    c0 = (coeffs.shape[0] - 1) / 2
    return ndimage.map_coordinates(coeffs, [dy * oversampling + c0, dx * oversampling + c0],
                                   order=3, mode="grid-constant", prefilter=False)


def _group_sort(index, values):
    """Order ``values`` by group ``index`` then by value (one float sort, not a lexsort)."""
    span = values.max() - values.min() if values.size else 0.0
    scale = 0.5 / span if span > 0 else 0.0
    return np.argsort(index + (values - (values.min() if values.size else 0.0)) * scale)


def _clipped_mean(index, values, size, *, nsigma=3.0):
    """Per-sample 3-sigma clipped mean (around the median, MAD scale) and counts."""
    order = _group_sort(index, values)
    index, values = index[order], values[order]
    counts = np.bincount(index, minlength=size)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo, hi = (starts + (counts - 1) // 2)[has], (starts + counts // 2)[has]
    median = np.zeros(size)
    median[has] = 0.5 * (values[lo] + values[hi])
    dev = np.abs(values - median[index])
    dev_sorted = dev[_group_sort(index, dev)]
    sigma = np.zeros(size)
    sigma[has] = 1.4826 * 0.5 * (dev_sorted[lo] + dev_sorted[hi])
    keep = (dev <= nsigma * sigma[index]) | (counts[index] < 3) | (sigma[index] == 0)
    n = np.bincount(index[keep], minlength=size)
    total = np.bincount(index[keep], weights=values[keep], minlength=size)
    mean = np.divide(total, n, out=np.zeros(size), where=n > 0)
    return mean, n


def _smooth_fill(values, counts, sigma):
    """Count-weighted Gaussian smoothing that also fills samples without data."""
    from scipy import ndimage

    num = ndimage.gaussian_filter(values * counts, sigma, mode="constant")
    den = ndimage.gaussian_filter(counts.astype(float), sigma, mode="constant")
    return np.divide(num, den, out=np.zeros_like(num), where=den > 1e-6 * den.max())


def _recentre(epsf, oversampling, *, passes=1):
    """Shift ``epsf`` so the centre of mass of its central box is the array centre."""
    from scipy import ndimage

    m = epsf.shape[0]
    u = (np.arange(m) - (m - 1) / 2) / oversampling
    inside = np.abs(u) <= CENTRE_HALF
    total = np.zeros(2)
    for _ in range(passes):
        core = epsf[np.ix_(inside, inside)]
        d = np.array([core.sum(axis=0) @ u[inside], core.sum(axis=1) @ u[inside]]) / core.sum()
        if not np.all(np.abs(d) < 1) or np.abs(d).max() < 1e-5:  # no flux, or centred
            break
        epsf = ndimage.shift(epsf, (-d[1] * oversampling, -d[0] * oversampling), order=3,
                             mode="grid-constant")
        total += d
    return epsf, total


def _normalise_phases(epsf, oversampling):
    """Scale each sub-pixel phase of ``epsf`` to sum to 1 (the whole array to ``os**2``).

    A star at any sub-pixel position sums to its flux over the detector pixels, so every
    pixel-spaced sub-grid of a true ePSF sums to 1. Fitting each star's flux with the ePSF
    itself leaves per-phase scale errors unconstrained; this removes them.
    """
    out = epsf.copy()
    for i in range(oversampling):
        for j in range(oversampling):
            total = out[i::oversampling, j::oversampling].sum()
            if not total > 0:
                msg = "the ePSF stack has no positive flux"
                raise PSFMethodError(msg)
            out[i::oversampling, j::oversampling] /= total
    return out


def _fit(coeffs, oversampling, stack, *, iters=3):
    """Gauss-Newton fit of flux and centre of every star on its central 5x5 pixels."""
    cut, wts, xc, yc, flux = stack["cut"], stack["wts"], stack["xc"], stack["yc"], stack["flux"]
    n, b, _ = cut.shape
    off = np.arange(-FIT_HALF, FIT_HALF + 1)
    cols = np.clip(np.rint(xc).astype(int)[:, None] + off, 0, b - 1)
    rows = np.clip(np.rint(yc).astype(int)[:, None] + off, 0, b - 1)
    star = np.arange(n)[:, None, None]
    z = cut[star, rows[:, :, None], cols[:, None, :]].reshape(n, -1)
    w = wts[star, rows[:, :, None], cols[:, None, :]].reshape(n, -1)
    px = np.broadcast_to(cols[:, None, :], (n, off.size, off.size)).reshape(n, -1)
    py = np.broadcast_to(rows[:, :, None], (n, off.size, off.size)).reshape(n, -1)
    h = 0.05  # px, finite-difference step of the position derivatives
    for _ in range(iters):
        dx, dy = px - xc[:, None], py - yc[:, None]
        e0, ex0, ex1, ey0, ey1 = (_sample(coeffs, dx + sx, dy + sy, oversampling)
                                  for sx, sy in ((0, 0), (-h, 0), (h, 0), (0, -h), (0, h)))
        ex, ey = (ex1 - ex0) / (2 * h), (ey1 - ey0) / (2 * h)
        jac = np.stack([e0, -flux[:, None] * ex, -flux[:, None] * ey], axis=-1)
        resid = z - flux[:, None] * e0
        a = np.einsum("nki,nk,nkj->nij", jac, w, jac)
        g = np.einsum("nki,nk,nk->ni", jac, w, resid)
        step = (np.linalg.pinv(a) @ g[..., None])[..., 0]
        flux = flux + step[:, 0]
        xc = xc + np.clip(step[:, 1], -0.5, 0.5)
        yc = yc + np.clip(step[:, 2], -0.5, 0.5)
    return xc, yc, flux


def build_epsf(cutouts, weights, errors, xc, yc, *, oversampling, maxiters, support,
               flux=None, epsf=None, smoothing=1.0, core=None):
    """Build (or refine) an ePSF from star cutouts.

    Parameters
    ----------
    cutouts : numpy.ndarray
        ``(n, b, b)`` background-subtracted star cutouts (``b`` odd).
    weights : numpy.ndarray
        ``(n, b, b)`` 1 for usable pixels, 0 otherwise.
    errors : numpy.ndarray
        ``(n, b, b)`` 1-sigma pixel noise, for the outlier mask.
    xc, yc : numpy.ndarray
        First guess of the star centres in cutout pixel coordinates.
    oversampling : int
        ePSF samples per detector pixel.
    maxiters : int
        Maximum number of iterations.
    support : float
        Radius (px) of the disc around the centre outside which the ePSF is zero.
    flux : numpy.ndarray or None, optional
        First guess of the star fluxes; None: the sums of the cutouts.
    epsf : numpy.ndarray or None, optional
        ``(b * oversampling)``-square ePSF to refine; None builds from scratch. Either
        way, outlying pixels are masked once, with the ePSF of the first iteration.
    smoothing : float, optional
        Multiplier of the residual smoothing width (`SMOOTH_PX`).
    core : float or None, optional
        Refine only within this radius (px), tapered over `CORE_TAPER` px; None: all.

    Returns
    -------
    epsf : numpy.ndarray
        ``(b * oversampling, b * oversampling)`` ePSF summing to ``oversampling**2``,
        centred on the array centre.
    fit : dict
        Final star centres ``xc``, ``yc``, fluxes ``flux``, ``weights`` (with the outlier
        mask), ``use`` (stars kept) and the number of ``iterations``.
    """
    b = cutouts.shape[1]
    m = b * oversampling
    box_flux = np.where(weights > 0, cutouts, 0.0).sum(axis=(1, 2))
    flux = np.array(box_flux if flux is None else flux, dtype=float)
    use = (flux > 0) & (box_flux > 0)
    if use.sum() < 3:
        msg = f"only {int(use.sum())} star(s) with a positive flux; at least 3 are needed"
        raise PSFMethodError(msg)
    stack = {"cut": cutouts, "wts": weights, "xc": np.array(xc, dtype=float),
             "yc": np.array(yc, dtype=float), "flux": np.maximum(flux, 1e-30)}
    pix = np.arange(b, dtype=float)
    u = (np.arange(m) - (m - 1) / 2) / oversampling
    radius = np.hypot(u[None, :], u[:, None])
    taper = 1.0 if core is None else np.clip((core + CORE_TAPER - radius) / CORE_TAPER, 0, 1)
    coeffs = None if epsf is None else _spline(epsf)
    sigma = SMOOTH_PX * oversampling * smoothing
    iteration = 0
    for iteration in range(1, int(maxiters) + 1):
        dx, dy = np.broadcast_arrays(pix[None, None, :] - stack["xc"][:, None, None],
                                     pix[None, :, None] - stack["yc"][:, None, None])
        if iteration == 2:
            # once only: re-deriving the mask from each new ePSF ratchets the wings down
            scaled = stack["flux"][:, None, None] * _sample(coeffs, dx, dy, oversampling)
            noise = np.sqrt(errors**2 + (MODEL_ERROR * scaled) ** 2)
            stack["wts"] = np.where(np.abs(cutouts - scaled) > OUTLIER_NSIGMA * noise, 0.0,
                                    weights)
        kx = np.rint(dx * oversampling + (m - 1) / 2).astype(int)
        ky = np.rint(dy * oversampling + (m - 1) / 2).astype(int)
        ok = ((stack["wts"] > 0) & use[:, None, None] & (np.hypot(dx, dy) <= support + 1.0)
              & (kx >= 0) & (kx < m) & (ky >= 0) & (ky < m))
        resid = (cutouts / stack["flux"][:, None, None])[ok]
        if coeffs is not None:
            resid -= _sample(coeffs, dx[ok], dy[ok], oversampling)
        mean, count = _clipped_mean((ky * m + kx)[ok], resid, m * m)
        update = _smooth_fill(mean.reshape(m, m), count.reshape(m, m), sigma) * taper
        current, shift = _recentre(update if coeffs is None else epsf + update, oversampling)
        current[radius > support] = 0.0
        epsf = _normalise_phases(current, oversampling)
        coeffs = _spline(epsf)
        stack["xc"], stack["yc"] = stack["xc"] + shift[0], stack["yc"] + shift[1]
        xc, yc, flux = _fit(coeffs, oversampling, stack)
        # stars whose fit wanders off, or whose fitted flux is far from the flux in their
        # box (a blend, a cosmic ray, a failed fit), are dropped from the stack
        centre = (b - 1) / 2
        ratio = flux / np.maximum(box_flux, 1e-300)
        use &= ((ratio > MIN_FLUX_RATIO) & (ratio < 1 / MIN_FLUX_RATIO)
                & (np.abs(xc - centre) < 2.0) & (np.abs(yc - centre) < 2.0))
        if use.sum() < 3:
            msg = f"the fit kept only {int(use.sum())} star(s); at least 3 are needed"
            raise PSFMethodError(msg)
        moved = np.hypot(xc - stack["xc"], yc - stack["yc"])[use].max()
        stack["xc"] = np.where(use, xc, stack["xc"])
        stack["yc"] = np.where(use, yc, stack["yc"])
        stack["flux"] = np.where(use, flux, stack["flux"])
        if iteration > 1 and moved < CENTRE_TOLERANCE:
            break
    log.debug("ePSF from %d of %d stars after %d iteration(s); last centre change %.2g px",
              use.sum(), len(use), iteration, moved)
    epsf, shift = _recentre(epsf, oversampling, passes=3)
    epsf[radius > support] = 0.0
    epsf = _normalise_phases(epsf, oversampling)
    stack["xc"], stack["yc"] = stack["xc"] + shift[0], stack["yc"] + shift[1]
    return epsf, {"xc": stack["xc"], "yc": stack["yc"], "flux": stack["flux"],
                  "weights": stack["wts"], "use": use, "iterations": iteration}
