"""Local affine maps from detector pixels to the telescope (V2, V3) frame.

PSF back-ends that model the telescope pupil work in V2V3, the frame fixed to the
telescope. `LocalFrame` gives, at any detector position, the Jacobian of detector pixel
``(x, y)`` -> ``(V2, V3)`` in arcsec, from a JWST-style gwcs (``detector`` ... ``v2v3``
frames) by finite differences. When the WCS has no ``v2v3`` frame (e.g. an
`astropy.wcs.WCS`) it falls back to sky tangent-plane offsets turned into V2V3 with the V3
position angle (``pa_v3``).

Sign convention of the fallback: ``pa_v3`` is the position angle of +V3 on the sky,
degrees from north through east, as HST's ``PA_V3`` and JWST's ``ROLL_REF``/``V3PA``
keywords define it. With east and north tangent-plane offsets ``(xi, eta)``,

    V2 = xi cos(pa) - eta sin(pa),    V3 = xi sin(pa) + eta cos(pa),

so +V3 points at position angle ``pa`` and +V2 at ``pa + 90`` deg (east when V3 points
north), the SIAF convention: pysiaf's attitude matrix (``pysiaf.utils.rotations``) maps
+V2 to increasing RA at zero roll, and gives the detector y axis of an HST aperture at
position angle ``PA_V3 + V3IdlYAngle``, which matches (to 0.4 deg) the ``ORIENTAT`` of
real ACS/HRC and WFPC2 headers. The angle is applied locally, at the source position; HST's
``PA_V3`` refers to the V1 axis a few arcminutes away, so this neglects the convergence of
meridians, a rotation of about ``offset * tan(dec)`` (0.1 deg for ACS/WFC at dec 45 deg).
"""

import logging
import math

import numpy as np

__all__ = ["LocalFrame"]

log = logging.getLogger(__name__)

#: `spike.psf.base.DetectorInfo.extra` keys read, in order, for the V3 position angle (deg).
PA_V3_KEYS = ("pa_v3", "roll_ref")


def _v2v3_transform(wcs):
    """Return ``(model, scale_to_arcsec)`` for detector -> v2v3, or `None`."""
    frames = getattr(wcs, "available_frames", None)
    if not frames or "v2v3" not in frames:
        return None
    import astropy.units as u

    start = wcs.input_frame
    start = getattr(start, "name", start)
    try:
        model = wcs.get_transform(start, "v2v3")
    except Exception as exc:  # noqa: BLE001 - any failure means "no usable v2v3 frame"
        log.info("Cannot get the %s -> v2v3 transform (%s)", start, exc)
        return None
    if model is None:
        return None
    unit = getattr(getattr(wcs, "v2v3", None), "unit", None)
    scale = 1.0
    if unit:
        scale = u.Unit(unit[0]).to(u.arcsec)
    return model, scale


class LocalFrame:
    """Detector -> V2V3 local Jacobians of one exposure.

    Parameters
    ----------
    wcs : object
        A gwcs with a ``v2v3`` frame (preferred), or any APE-14 WCS taking 0-based
        detector ``(x, y)`` to sky ``(ra, dec)`` in degrees.
    pa_v3 : float or None, optional
        Position angle of +V3 on the sky (degrees, north through east; HST ``PA_V3``),
        used only by the tangent-plane fallback (see the module docstring for the sign
        convention); `None` means 0 with a warning.
    label : str, optional
        Exposure label for log messages.
    step : float, optional
        Half step of the central finite differences, in pixels.
    """

    def __init__(self, wcs, *, pa_v3=None, label="", step=0.5):
        self.step = float(step)
        found = _v2v3_transform(wcs)
        if found is not None:
            self._model, self._scale = found
            self.kind = "v2v3"
            self._wcs = None
            self._pa = None
            return
        if not hasattr(wcs, "pixel_to_world_values"):
            msg = f"{label or 'exposure'}: WCS {type(wcs).__name__} cannot map pixels to sky"
            raise TypeError(msg)
        self.kind = "sky"
        self._wcs = wcs
        if pa_v3 is None:
            log.warning(
                "%s: WCS has no 'v2v3' frame and no V3 position angle is known; using "
                "detector -> sky tangent-plane offsets with V3 assumed along north, so the "
                "PSF orientation may be wrong",
                label or "exposure",
            )
            pa_v3 = 0.0
        else:
            log.info(
                "%s: WCS has no 'v2v3' frame; using detector -> sky tangent-plane offsets "
                "rotated by PA_V3 = %.3f deg",
                label or "exposure",
                pa_v3,
            )
        self._pa = math.radians(float(pa_v3))

    def _v2v3(self, xs, ys):
        if self.kind == "v2v3":
            v2, v3 = self._model(xs, ys)
            return np.asarray(v2, float) * self._scale, np.asarray(v3, float) * self._scale
        ra, dec = self._wcs.pixel_to_world_values(xs, ys)
        ra = np.asarray(ra, float)
        dec = np.asarray(dec, float)
        dra = (ra - ra[0] + 180.0) % 360.0 - 180.0
        xi = dra * np.cos(np.radians(dec[0])) * 3600.0
        eta = (dec - dec[0]) * 3600.0
        # +V3 at position angle pa (north through east), +V2 at pa + 90 deg
        cpa, spa = math.cos(self._pa), math.sin(self._pa)
        return xi * cpa - eta * spa, xi * spa + eta * cpa

    def jacobian(self, x, y):
        """Return the 2x2 Jacobian of detector ``(x, y)`` -> ``(V2, V3)`` in arcsec/pixel.

        Parameters
        ----------
        x, y : float
            0-based detector position.

        Returns
        -------
        numpy.ndarray
            ``[[dV2/dx, dV2/dy], [dV3/dx, dV3/dy]]``.
        """
        h = self.step
        xs = np.array([x, x + h, x - h, x, x], dtype=float)
        ys = np.array([y, y, y, y + h, y - h], dtype=float)
        v2, v3 = self._v2v3(xs, ys)
        jac = np.array(
            [
                [(v2[1] - v2[2]) / (2 * h), (v2[3] - v2[4]) / (2 * h)],
                [(v3[1] - v3[2]) / (2 * h), (v3[3] - v3[4]) / (2 * h)],
            ]
        )
        if not np.all(np.isfinite(jac)) or abs(np.linalg.det(jac)) == 0:
            msg = f"WCS gives a singular or non-finite Jacobian at ({x}, {y})"
            raise ValueError(msg)
        return jac
