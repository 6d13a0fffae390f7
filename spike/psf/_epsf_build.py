"""The array algorithm of the ``epsf`` PSF method: build an ePSF from star cutouts.

`build_epsf` follows the iterative scheme of Anderson & King (2000, PASP 112, 1360) that
`photutils.psf.EPSFBuilder` also implements, written as whole-array numpy operations so
that one exposure takes a fraction of a second (photutils fits each star with an astropy
fitter and fills unsampled ePSF samples by Delaunay interpolation, which took 0.5 to 10 s
per exposure on the ACS/HRC test image). The stars are first centred on the best-fitting
pixel-integrated Gaussian (`_initial_centres`); then each iteration

1. stacks every star's normalised residual from the current ePSF on the oversampled grid,
   one 3-sigma clipped, inverse-variance weighted mean (around the median) per sample
   (`_pixel_weights`); the stars' local backgrounds are corrected for the PSF's own halo
   in their background annulus (``halo``);
2. adds the stack smoothed by a weight-weighted Gaussian of `SMOOTH_PX` detector pixels,
   which also fills samples no star reached;
3. recentres the ePSF so that the centre of mass of its central +-2 px box (photutils
   uses +-2.5 px) is the array centre, zeroes it outside the support disc and
   normalises every sub-pixel phase (pixel-spaced sub-grid) to sum 1, so the whole array
   sums to ``oversampling**2`` and a star's flux does not depend on its sub-pixel
   position;
4. refits every star's flux and centre (Gauss-Newton on its central 5x5 pixels).

The ePSF grid has ``b * oversampling`` samples per side for ``b``-pixel cutouts, its
centre at the array centre: the `spike.psf.base` convention.

Why the wings used to be eaten
------------------------------
On the ACS/HRC 47 Tuc exposure the former scheme gave an ePSF holding 94 % of its light
within 4 px where PSFEx and the stars hold 88 % (drizzled and scored against the mosaic's
stars: EE(2, 4, 8 px) ratios 1.09, 1.08, 1.03). Measured one cause at a time (this module
and `spike.psf._epsf_stars`):

* **A one-time outlier mask** (pixels more than 5 sigma, with a 10 % model error, from the
  model of the first iteration were masked for good). The first ePSF has too little wing
  light, so the wing pixels of the bright stars, which lie many sigma above it, were
  masked and the wings could never come back: with the annulus background below in
  place, removing the mask brought EE(2, 4, 8) from 1.09/1.08/1.04 to 1.03-1.05/1.04/1.01.
  Cosmic rays and neighbours are left to the per-sample clipping across stars, which
  never depends on a previous model.
* **Faint stars decided the wings.** Every star weighed alike, and a crowded field
  biases each star's local background by about the same amount in data units (the
  isolation test keeps bright neighbours out of the star box, not out of the background
  annulus), which is large relative to a faint star's flux: normalised wing levels fell
  from +3e-4 of the core (bright stars) to -3e-3 (faintest fifth). Inverse-variance
  weights from a noise model (the sky-limited wings weigh as ``flux**2``) fixed it:
  EE(2, 4, 8) ratios 0.99-1.01 without wings. The core keeps equal weights, so that a cell
  ePSF stays at the mean position of its stars (its grid point).
* **The background included the star's own wings**: it was the clipped mean of the
  outer two-pixel frame of the 25 px box (10.5 to 12.5 px), where an HST-like PSF still
  has ~3e-5 of its flux per pixel, i.e. a 1.4 % pedestal over the support. It is now
  measured in an annulus outside the support and corrected by the PSF's mean level there
  (``halo``, from the physical model's halo shape scaled to the stars,
  `spike.psf._wings.halo_level`). A far annulus needs no correction but, in a crowded
  field, is far more biased by neighbours (EE ratios 1.09 at 20-25 px on ACS/HRC).
* **The first centres** (3x3 quadratic peaks) carry a pixel-phase bias of up to 0.1 px
  that the iterations never remove (a phase-dependent shift of the stars is absorbed
  as a blur of the core: EE(1 px) 1 % low on a known PSF); a pixel-integrated Gaussian
  fit in a window symmetric about the star starts them within 0.01 px.

Not causes, measured: the recentring (``ndimage.shift`` each iteration), the per-phase
normalisation, the residual smoothing (0.25 px is the best of 0.125-0.6 px) and the flux
fit on the 5x5 core (the fixed point is unbiased whatever the fit box).
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
#: Width (px) of the taper outside the core radius of a cell refinement.
CORE_TAPER = 2.0
#: Stars whose fitted flux differs from their box flux by more than this factor are dropped.
MIN_FLUX_RATIO = 0.2
#: Stop iterating once no star centre moves by more than this (px).
CENTRE_TOLERANCE = 1e-3
#: Largest weight of a star's pixel in the stack, in units of the weight of the same pixel
#: of a star of the median flux and noise.
MAX_WEIGHT = 30.0
#: Half width (px) of the box fitted for the first centres (`_initial_centres`).
INITIAL_HALF = 4
#: Widths (sigma, px) of the Gaussians tried for the first centres (`_initial_centres`).
INITIAL_SIGMAS = (0.5, 0.7, 1.0, 1.4, 2.0, 2.8, 4.0)


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


def _clipped_mean(index, values, size, *, weights=None, nsigma=3.0):
    """Per-sample 3-sigma clipped weighted mean (around the median, MAD scale) and weights.

    Returns the mean and the sum of the weights kept per sample (the counts when
    ``weights`` is None).
    """
    order = _group_sort(index, values)
    index, values = index[order], values[order]
    weights = np.ones(values.size) if weights is None else np.asarray(weights)[order]
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
    n = np.bincount(index[keep], weights=weights[keep], minlength=size)
    total = np.bincount(index[keep], weights=(weights * values)[keep], minlength=size)
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


def _fit(coeffs, oversampling, stack, *, iters=3, offset=0.0, half=FIT_HALF, taper=None):
    """Gauss-Newton fit of flux and centre of every star on its central pixels.

    The model of a star is ``flux * (epsf - offset)``: ``offset`` is the ePSF's level in the
    background annulus, which the local background subtracted along with the sky. The fit
    uses the ``(2 * half + 1)``-square box around each star's nearest pixel, its pixels
    weighted by a Gaussian of ``taper`` px centred on the current centre when given (a
    window symmetric about the star, so that a model of the wrong shape is not pulled
    towards the box centre). Returns the centres, the fluxes and each star's chi2 (in units
    of its flux**2).
    """
    cut, wts, xc, yc, flux = stack["cut"], stack["wts"], stack["xc"], stack["yc"], stack["flux"]
    n, b, _ = cut.shape
    off = np.arange(-half, half + 1)
    cols = np.clip(np.rint(xc).astype(int)[:, None] + off, 0, b - 1)
    rows = np.clip(np.rint(yc).astype(int)[:, None] + off, 0, b - 1)
    star = np.arange(n)[:, None, None]
    z = cut[star, rows[:, :, None], cols[:, None, :]].reshape(n, -1)
    w = wts[star, rows[:, :, None], cols[:, None, :]].reshape(n, -1)
    px = np.broadcast_to(cols[:, None, :], (n, off.size, off.size)).reshape(n, -1)
    py = np.broadcast_to(rows[:, :, None], (n, off.size, off.size)).reshape(n, -1)
    h = 0.05  # px, finite-difference step of the position derivatives
    w0 = w
    for _ in range(iters):
        dx, dy = px - xc[:, None], py - yc[:, None]
        if taper is not None:
            w = w0 * np.exp(-(dx * dx + dy * dy) / (2 * taper * taper))
        e0, ex0, ex1, ey0, ey1 = (_sample(coeffs, dx + sx, dy + sy, oversampling)
                                  for sx, sy in ((0, 0), (-h, 0), (h, 0), (0, -h), (0, h)))
        e0 = e0 - offset
        ex, ey = (ex1 - ex0) / (2 * h), (ey1 - ey0) / (2 * h)
        jac = np.stack([e0, -flux[:, None] * ex, -flux[:, None] * ey], axis=-1)
        resid = z - flux[:, None] * e0
        a = np.einsum("nki,nk,nkj->nij", jac, w, jac)
        g = np.einsum("nki,nk,nk->ni", jac, w, resid)
        step = (np.linalg.pinv(a) @ g[..., None])[..., 0]
        flux = flux + step[:, 0]
        xc = xc + np.clip(step[:, 1], -0.5, 0.5)
        yc = yc + np.clip(step[:, 2], -0.5, 0.5)
    e0 = _sample(coeffs, px - xc[:, None], py - yc[:, None], oversampling) - offset
    chi2 = (w * (z - flux[:, None] * e0) ** 2).sum(axis=1) / np.maximum(flux, 1e-30) ** 2
    return xc, yc, flux, chi2


def _noise_model(cutouts, weights, errors):
    """Per star: sky variance and variance per unit signal, from the error arrays.

    ``errors**2 ~ sky_var + signal_var * signal``: ``sky_var`` is the 20th percentile of
    the box's ``errors**2`` (its faintest pixels), ``signal_var`` the least-squares slope of
    the excess over the star's brightest pixels. Used for inverse-variance weights computed
    from the model's values, not the pixels' own (`build_epsf`).
    """
    n = len(cutouts)
    var = np.where(weights > 0, errors, np.nan).reshape(n, -1).astype(float) ** 2
    cut = np.where(weights > 0, cutouts, np.nan).reshape(n, -1)
    sky_var = np.nanpercentile(var, 20, axis=1)
    sky_var = np.where(np.isfinite(sky_var) & (sky_var > 0), sky_var,
                       np.nanmedian(sky_var) if np.isfinite(sky_var).any() else 1.0)
    bright = cut > 0.1 * np.nanmax(cut, axis=1, keepdims=True)
    excess = np.where(bright, var - sky_var[:, None], 0.0)
    signal = np.where(bright, cut, 0.0)
    signal_var = np.maximum(np.nansum(excess * signal, axis=1)
                            / np.maximum(np.nansum(signal**2, axis=1), 1e-300), 0.0)
    return sky_var, signal_var


def _pixel_weights(star, star_flux, model, use, flux, sky_var, signal_var):
    """Relative weights of the stars' normalised pixels ``data / flux`` in the stack.

    The inverse variance ``flux**2 / (sky_var + signal_var * flux * model)``, from the
    noise model and the model's value (never the pixel's own, which would bias the mean
    low), relative to that of a star of the median flux and noise at the same place and
    capped at `MAX_WEIGHT`. The sky-limited wings are so weighed by ``flux**2`` and the
    core by ``flux``: the bright stars, whose local backgrounds matter least (a crowded
    field biases every star's background by about the same amount in data units), set the
    profile at all radii.
    """
    weight = star_flux**2 / (sky_var[star] + signal_var[star] * star_flux * model)
    typical = np.median(flux[use])
    weight /= typical**2 / (np.median(sky_var[use]) + np.median(signal_var[use]) * typical
                            * model)
    return np.minimum(weight, MAX_WEIGHT)


def _gaussian_epsf(sigma, m, oversampling):
    """``(m, m)`` ePSF of a circular Gaussian of ``sigma`` px, integrated over the pixels."""
    from scipy.special import erf

    u = (np.arange(m) - (m - 1) / 2) / oversampling
    s = np.sqrt(2.0) * sigma
    g = 0.5 * (erf((u + 0.5) / s) - erf((u - 0.5) / s))
    return np.outer(g, g) * oversampling**2


def _initial_centres(stack, oversampling, m):
    """Centres and fluxes from the best-fitting pixel-integrated Gaussian (5x5 cores).

    The first guesses (3x3 quadratic peaks) carry a pixel-phase bias of up to 0.1 px that
    the ePSF iterations cannot remove: a phase-dependent shift of the stars is absorbed as a
    blur of the ePSF core (measured: EE(1 px) 1 % low on a known PSF). A symmetric model has
    no such bias.
    """
    best = None
    for sigma in INITIAL_SIGMAS:
        coeffs = _spline(_gaussian_epsf(sigma, m, oversampling))
        xc, yc, flux, chi2 = _fit(coeffs, oversampling, stack, iters=6, half=INITIAL_HALF,
                                  taper=max(1.5 * sigma, 1.0))
        total = np.median(chi2)
        if best is None or total < best[0]:
            best = (total, xc, yc, flux)
    _, xc, yc, flux = best
    centre = (stack["cut"].shape[1] - 1) / 2
    moved = (np.abs(xc - centre) > 2.0) | (np.abs(yc - centre) > 2.0) | ~(flux > 0)
    return (np.where(moved, stack["xc"], xc), np.where(moved, stack["yc"], yc),
            np.where(moved, stack["flux"], flux))


def build_epsf(cutouts, weights, errors, xc, yc, *, oversampling, maxiters, support,
               flux=None, epsf=None, smoothing=1.0, core=None, halo=None, weighted=True):
    """Build (or refine) an ePSF from star cutouts.

    Parameters
    ----------
    cutouts : numpy.ndarray
        ``(n, b, b)`` background-subtracted star cutouts (``b`` odd).
    weights : numpy.ndarray
        ``(n, b, b)`` 1 for usable pixels, 0 otherwise.
    errors : numpy.ndarray
        ``(n, b, b)`` 1-sigma pixel noise, for the noise model of the weights.
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
    halo : callable or None, optional
        ``halo(epsf, level) -> float``: the mean level, per unit ePSF flux and per pixel,
        of the PSF in the annulus that measured the stars' local backgrounds (its light
        beyond the support), given the ePSF and the level its stack was corrected by; the
        backgrounds are corrected by ``flux * level`` at every iteration. None: no halo.
    weighted : bool, optional
        Weigh the stars' pixels by their inverse variance (`_pixel_weights`; default);
        False weighs every star alike, which keeps the ePSF of a grid cell at the plain
        mean position of its stars, where the grid point is.

    Returns
    -------
    epsf : numpy.ndarray
        ``(b * oversampling, b * oversampling)`` ePSF summing to ``oversampling**2``,
        centred on the array centre.
    fit : dict
        Final star centres ``xc``, ``yc``, fluxes ``flux``, ``weights`` (the pixel
        weights given), ``use`` (stars kept), the number of ``iterations``, the last ``halo``
        level and the ``residual`` rms of the normalised stars about the ePSF within the
        support (per pixel, in units of the ePSF peak).
    """
    b = cutouts.shape[1]
    m = b * oversampling
    box_flux = np.where(weights > 0, cutouts, 0.0).sum(axis=(1, 2))
    flux = np.array(box_flux if flux is None else flux, dtype=float)
    use = (flux > 0) & (box_flux > 0)
    if use.sum() < 3:
        msg = f"only {int(use.sum())} star(s) with a positive flux; at least 3 are needed"
        raise PSFMethodError(msg)
    sky_var, signal_var = _noise_model(cutouts, weights, errors)
    stack = {"cut": cutouts, "wts": weights, "xc": np.array(xc, dtype=float),
             "yc": np.array(yc, dtype=float), "flux": np.maximum(flux, 1e-30)}
    pix = np.arange(b, dtype=float)
    u = (np.arange(m) - (m - 1) / 2) / oversampling
    radius = np.hypot(u[None, :], u[:, None])
    taper = 1.0 if core is None else np.clip((core + CORE_TAPER - radius) / CORE_TAPER, 0, 1)
    coeffs = None if epsf is None else _spline(epsf)
    level = 0.0 if (epsf is None or halo is None) else float(halo(epsf, 0.0))
    if epsf is None:
        stack["xc"], stack["yc"], _ = _initial_centres(stack, oversampling, m)
    sigma = SMOOTH_PX * oversampling * smoothing
    iteration = 0
    for iteration in range(1, int(maxiters) + 1):
        dx, dy = np.broadcast_arrays(pix[None, None, :] - stack["xc"][:, None, None],
                                     pix[None, :, None] - stack["yc"][:, None, None])
        kx = np.rint(dx * oversampling + (m - 1) / 2).astype(int)
        ky = np.rint(dy * oversampling + (m - 1) / 2).astype(int)
        ok = ((stack["wts"] > 0) & use[:, None, None] & (np.hypot(dx, dy) <= support + 1.0)
              & (kx >= 0) & (kx < m) & (ky >= 0) & (ky < m))
        star = np.broadcast_to(np.arange(len(use))[:, None, None], ok.shape)[ok]
        star_flux = stack["flux"][star]
        resid = cutouts[ok] / star_flux + level
        pixel_weight = None  # the first stack (no model yet) weighs every pixel alike
        if coeffs is not None:
            model = _sample(coeffs, dx[ok], dy[ok], oversampling)
            resid -= model
            if weighted:
                pixel_weight = _pixel_weights(star, star_flux, np.maximum(model, 0.0), use,
                                              stack["flux"], sky_var, signal_var)
        mean, count = _clipped_mean((ky * m + kx)[ok], resid, m * m, weights=pixel_weight)
        update = _smooth_fill(mean.reshape(m, m), count.reshape(m, m), sigma) * taper
        current, shift = _recentre(update if coeffs is None else epsf + update, oversampling)
        current[radius > support] = 0.0
        epsf = _normalise_phases(current, oversampling)
        coeffs = _spline(epsf)
        level = 0.0 if halo is None else float(halo(epsf, level))
        stack["xc"], stack["yc"] = stack["xc"] + shift[0], stack["yc"] + shift[1]
        xc, yc, flux, _ = _fit(coeffs, oversampling, stack, offset=level)
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
                  "weights": stack["wts"], "use": use, "iterations": iteration,
                  "halo": level, "residual": _residual_rms(epsf, stack, use, level,
                                                           oversampling, support)}


def _residual_rms(epsf, stack, use, level, oversampling, support):
    """Rms of the used stars' normalised residuals within the support, per ePSF peak."""
    b = stack["cut"].shape[1]
    pix = np.arange(b, dtype=float)
    xc, yc, flux = stack["xc"][use], stack["yc"][use], stack["flux"][use]
    dx, dy = np.broadcast_arrays(pix[None, None, :] - xc[:, None, None],
                                 pix[None, :, None] - yc[:, None, None])
    inside = (stack["wts"][use] > 0) & (np.hypot(dx, dy) <= support)
    model = _sample(_spline(epsf), dx[inside], dy[inside], oversampling) - level
    resid = (stack["cut"][use] / flux[:, None, None])[inside] - model
    return float(np.sqrt(np.mean(resid**2)) / epsf.max()) if resid.size else 0.0
