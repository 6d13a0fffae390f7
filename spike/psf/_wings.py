"""Wings of empirical PSFs: the light beyond the radius their stars constrain.

An empirical PSF (``epsf``, ``psfex``) is measured from star boxes of finite size, so it
stops where the boxes stop: the halo and the diffraction spikes beyond (a few per cent of
the light for HST) are missing, and the local background measured just outside a box
still holds some of the star's halo. This module

* finds a physical model of the same detector to supply the wings (`wing_model`: the
  ``optical`` model for HST and JWST, GalSim's Roman model for Roman), used only through
  the public `~spike.psf.base.PSFMethod` API, so improvements of those models flow in;
* scales the model to the empirical PSF over a transition annulus inside the radius the
  stars constrain (`transition`) and joins the two with a cosine taper (`join_wings`):
  inside the annulus the empirical PSF is kept as it is, beyond it the model takes over;
  the result is normalised so that its sum is ``oversampling**2`` times the model's
  enclosed fraction in the same stamp (`spike.psf.base`), i.e. the empirical part keeps
  its encircled-energy ratios and the light beyond the stamp is the model's;
* estimates the PSF's level in a background annulus beyond the empirical support
  (`halo_level`): the light of a star's own halo that its local background took away,
  from the scaled model or, without one, a power law fitted to the empirical profile's
  outer part (`powerlaw_level`).

All arrays are ePSFs in the `spike.psf.base` convention (centred, samples every
``1 / oversampling`` px; a sample is the fraction of the flux a detector pixel centred
there would receive).
"""

import logging
import math

import numpy as np

from spike.exceptions import PSFMethodError

__all__ = ["WingModel", "check_wings", "halo_level", "join_wings", "powerlaw_level", "radii",
           "transition", "wing_model"]

log = logging.getLogger(__name__)

#: Width (px) of the transition annulus where the model is scaled to the empirical PSF.
TRANSITION_WIDTH = 3.0
#: Gap (px) between the transition annulus and the empirical support radius (the outer
#: samples of the support are the noisiest).
TRANSITION_GAP = 1.0
#: The power law of `powerlaw_level` is fitted from this fraction of the support radius
#: out (the outer profile, closest to the annulus; measured on a Moffat halo of beta 2.5
#: its level in the annulus comes out 16 % high from 0.6, 25 % high from 0.5).
FIT_FROM = 0.6
#: Margin on the field of the optical model over the extended PSF's half diagonal.
FIELD_MARGIN = 1.05
#: Steepest and flattest power-law slopes tried for the extrapolated halo.
SLOPE_RANGE = (-6.0, -2.0)


def check_wings(value):
    """Validate the ``wings`` option of the empirical methods: ``"model"`` or None.

    Examples
    --------
    >>> check_wings("model"), check_wings(None)
    ('model', None)
    """
    if value is None or value == "model":
        return value
    if isinstance(value, str) and value.lower() in ("none", ""):
        return None
    msg = f"wings must be 'model' or None, got {value!r}"
    raise ValueError(msg)


def radii(n, oversampling):
    """Distance (px) of every sample of an ``(n, n)`` centred ePSF from its centre."""
    u = (np.arange(n) - (n - 1) / 2) / oversampling
    return np.hypot(u[None, :], u[:, None])


def transition(support):
    """Inner and outer radius (px) of the transition annulus for a support radius.

    Parameters
    ----------
    support : float
        Radius (px) within which the stars constrain the empirical PSF.

    Returns
    -------
    tuple of float
        ``(r1, r2)``, ``r2 = support - TRANSITION_GAP`` and ``r1 = r2 - min(3, 0.3 *
        support)``.

    Examples
    --------
    >>> transition(12.5)
    (8.5, 11.5)
    """
    r2 = support - TRANSITION_GAP
    return r2 - min(TRANSITION_WIDTH, 0.3 * support), r2


def _crop(array, n):
    """Centre crop or zero-pad a square array to ``(n, n)`` (same parity)."""
    m = array.shape[0]
    if m == n:
        return array
    if m > n:
        k = (m - n) // 2
        return array[k:k + n, k:k + n]
    out = np.zeros((n, n))
    k = (n - m) // 2
    out[k:k + m, k:k + m] = array
    return out


def _scale(epsf, model, oversampling, r1, r2):
    """Factor matching the model's light to the empirical light over ``r1 <= r <= r2``."""
    emp = _crop(epsf, max(epsf.shape[0], model.shape[0]))
    mod = _crop(model, emp.shape[0])
    r = radii(emp.shape[0], oversampling)
    ring = (r >= r1) & (r <= r2)
    total = mod[ring].sum()
    return emp[ring].sum() / total if total > 0 else 0.0


def powerlaw_level(profile_image, oversampling, *, support, annulus):
    """Mean level in ``annulus`` of a power-law halo fitted to an ePSF's outer profile.

    ``profile_image`` is an ePSF whose local backgrounds were measured in ``annulus`` and
    not corrected: its outer profile is ``P(r) - H``, where ``H`` is the (unknown) mean of
    the PSF ``P`` over the annulus. The azimuthal mean profile between ``FIT_FROM *
    support`` and ``support - 0.5`` px (0.5 px bins) is fitted by ``A (r**k - m_k)``,
    ``m_k`` the mean of ``r**k`` over the annulus, for ``k`` in `SLOPE_RANGE`: a power law
    whose own level in the annulus is the pedestal it lost. ``A m_k`` is returned.
    Fitting the uncorrected profile keeps the estimate independent of the correction
    applied (no feedback through the iterations).

    Parameters
    ----------
    profile_image : numpy.ndarray
        Centred ePSF without halo correction.
    oversampling : int
        Samples per pixel.
    support : float
        Radius (px) beyond which the ePSF is zero.
    annulus : tuple of float
        ``(r_in, r_out)`` in px.

    Returns
    -------
    float
        Level per pixel per unit ePSF flux; 0 when the profile cannot be fitted.
    """
    r = radii(profile_image.shape[0], oversampling)
    edges = np.arange(FIT_FROM * support, support - 0.5 + 1e-9, 0.5)
    mids, values = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        ring = (r >= lo) & (r < hi)
        if ring.any():
            mids.append(0.5 * (lo + hi))
            values.append(profile_image[ring].mean())
    if len(values) < 3:
        return 0.0
    mids, values = np.array(mids), np.array(values)
    r_in, r_out = annulus
    best = None
    for slope in np.arange(SLOPE_RANGE[0], SLOPE_RANGE[1] + 1e-9, 0.02):
        k2 = slope + 2.0
        mean_k = (math.log(r_out / r_in) if abs(k2) < 1e-9
                  else (r_out**k2 - r_in**k2) / k2) * 2.0 / (r_out**2 - r_in**2)
        x = mids**slope - mean_k
        amplitude = (x @ values) / (x @ x)
        if not amplitude > 0:
            continue
        # residuals weighted by the inverse level: the profile falls by an order of
        # magnitude over the range
        cost = np.sum((amplitude * x - values) ** 2 / (amplitude * mids**slope))
        if best is None or cost < best[0]:
            best = (cost, amplitude * mean_k)
    return 0.0 if best is None else float(best[1])


def halo_level(epsf, oversampling, *, support, annulus, model=None, offset=0.0):
    """The PSF's mean level in ``annulus`` (beyond the support), per unit ePSF flux.

    The ePSF built with its stars' local backgrounds measured in ``annulus`` lacks, at
    every radius, the PSF's own mean level ``H`` in the annulus. With a ``model``,
    ``epsf - offset = s * (model - H_model)`` over the transition annulus (`transition`)
    gives the scale ``s`` and ``H = s * H_model``: the model supplies the halo's shape,
    the stars its level. Without one, `powerlaw_level` extrapolates the outer profile (a
    rough prior: measured 2.5 times too high on an HST-like diffraction halo).

    Parameters
    ----------
    epsf : numpy.ndarray
        Centred ePSF, zero beyond ``support`` and normalised to unit flux within it.
    oversampling : int
        Samples per pixel.
    support : float
        Support radius (px).
    annulus : tuple of float
        ``(r_in, r_out)`` px.
    model : numpy.ndarray or None, optional
        Centred model ePSF at the same oversampling reaching at least ``r_out``.
    offset : float, optional
        Halo level already added to ``epsf`` within the support (the correction of the
        current iteration); removed first, so that the estimate does not feed back.

    Returns
    -------
    float
    """
    inside = radii(epsf.shape[0], oversampling) <= support
    raw = epsf - offset * inside
    if model is None:
        return powerlaw_level(raw, oversampling, support=support, annulus=annulus)
    r = radii(model.shape[0], oversampling)
    level = float(model[(r >= annulus[0]) & (r <= annulus[1])].mean())
    r1, r2 = transition(support)
    ring = (r >= r1) & (r <= r2)
    emp = _crop(raw, model.shape[0])
    denominator = float((model[ring] - level).sum())
    scale = float(emp[ring].sum()) / denominator if denominator > 0 else 0.0
    return max(scale, 0.0) * level


def join_wings(epsf, model, oversampling, *, support):
    """Extend an empirical ePSF with a model's wings beyond its transition annulus.

    Parameters
    ----------
    epsf : numpy.ndarray
        Centred empirical ePSF (any normalisation), zero beyond ``support``.
    model : numpy.ndarray
        Centred model ePSF at the same oversampling, as wide as the result should be and
        normalised per `spike.psf.base` (sum ``oversampling**2`` times its enclosed
        fraction).
    oversampling : int
        Samples per pixel.
    support : float
        Radius (px) the stars constrain.

    Returns
    -------
    combined : numpy.ndarray
        Array of the model's shape: the empirical ePSF inside the transition annulus,
        cosine-tapered into the scaled model across it, the model beyond; normalised to
        the model's sum.
    scale : float
        Factor that matched the model to the empirical light in the annulus (in the
        empirical normalisation).

    Raises
    ------
    spike.exceptions.PSFMethodError
        When the model has no light in the transition annulus or is narrower than it.
    """
    n = model.shape[0]
    r1, r2 = transition(support)
    if (n - 1) / 2 / oversampling < r2:
        msg = f"the wing model ({n} samples) does not reach the transition radius {r2} px"
        raise PSFMethodError(msg)
    scale = _scale(epsf, model, oversampling, r1, r2)
    if not scale > 0:
        msg = f"the wing model and the empirical PSF share no light between {r1} and {r2} px"
        raise PSFMethodError(msg)
    r = radii(n, oversampling)
    weight = np.clip((r2 - r) / (r2 - r1), 0.0, 1.0)
    weight = 0.5 - 0.5 * np.cos(np.pi * weight)
    combined = weight * _crop(epsf, n) + (1.0 - weight) * scale * model
    return combined * (model.sum() / combined.sum()), float(scale)


def _corner_scale(detector):
    """Largest pixel side (arcsec) at the detector centre, from its WCS."""
    ny, nx = detector.shape
    x0, y0 = (nx - 1) / 2, (ny - 1) / 2
    ra, dec = (np.asarray(v, dtype=float) for v in detector.wcs.pixel_to_world_values(
        [x0, x0 + 1, x0], [y0, y0, y0 + 1]))
    cosd = math.cos(math.radians(float(dec[0])))
    sides = [math.hypot((ra[i] - ra[0]) * cosd, dec[i] - dec[0]) * 3600.0 for i in (1, 2)]
    return max(sides)


class WingModel:
    """A physical model of one exposure that supplies empirical PSFs with their wings.

    Parameters
    ----------
    model : spike.psf.base.PSFModel
        The prepared model.
    name : str
        Its method name (``"optical"``, ``"galsim"``).
    size : int
        Odd width (detector px) of the model stamps (the extended PSF's width).
    step : float or None, optional
        Positions are snapped to a grid of this many pixels (the wings vary slowly over
        a detector), which bounds the model evaluations and the cache; None: exact.
    """

    def __init__(self, model, name, *, size, step=None):
        self.model = model
        self.name = name
        self.size = int(size)
        self.step = None if step is None else float(step)
        self._cache = {}

    def at(self, x, y):
        """Return the model ePSF (``size`` px wide) at detector position ``(x, y)``."""
        if self.step is not None:
            x, y = (self.step * round(float(v) / self.step) for v in (x, y))
        key = (round(float(x), 3), round(float(y), 3))
        if key not in self._cache:
            self._cache[key] = np.asarray(self.model.evaluate(float(x), float(y),
                                                              size=self.size), dtype=float)
        return self._cache[key]


def wing_model(detector, *, oversampling, size, step=None):
    """Prepare the physical model that extends empirical PSFs of ``detector``.

    The ``optical`` model serves HST and JWST, GalSim's Roman model (``galsim``) Roman.
    When no model supports the detector, or preparing it fails (a filter it does not
    know, a missing package), a warning is logged and None is returned: the empirical
    PSF is then not extended.

    Parameters
    ----------
    detector : spike.psf.base.DetectorInfo
        The exposure (or chip).
    oversampling : int
        Oversampling of the empirical PSF.
    size : int
        Odd width (detector px) of the extended PSF.
    step : float or None, optional
        Position grid of `WingModel` (px); None: exact positions.

    Returns
    -------
    WingModel or None
    """
    from spike.psf.galsim_method import GalSimPSFMethod
    from spike.psf.optical import OpticalPSFMethod

    where = detector.filename or detector.label()
    if detector.wcs is None:
        log.warning("%s: no WCS, so no physical model for the PSF wings beyond the star "
                    "boxes; the empirical PSF is not extended", where)
        return None
    for cls in (OpticalPSFMethod, GalSimPSFMethod):
        options = {}
        if cls is OpticalPSFMethod and detector.wcs is not None:
            # the field must hold the stamp's corners (pixels may be rectangular or skewed)
            options["fov_arcsec"] = round(_corner_scale(detector) * size * math.sqrt(2.0)
                                          * FIELD_MARGIN, 2)
        method = cls(oversampling=oversampling, **options)
        if not method.supports(detector):
            continue
        try:
            model = method.prepare(detector)
        except PSFMethodError as exc:
            log.warning("%s: no %s model for the PSF wings beyond the star boxes (%s); the "
                        "empirical PSF is not extended", where, cls.name, exc)
            return None
        return WingModel(model, cls.name, size=size, step=step)
    log.warning("%s: no physical model supports %s %s for the PSF wings beyond the star "
                "boxes; the empirical PSF is not extended", where, detector.mission,
                detector.label())
    return None
