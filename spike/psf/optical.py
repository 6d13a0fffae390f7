"""Built-in diffraction-limited PSF model (``--method optical``), needing no downloaded data.

This is an approximation. It models only diffraction by the telescope pupil (JWST: 18
hexagonal segments with gaps, secondary obscuration and three struts; HST: 2.4 m primary,
0.33 secondary obscuration, four spider vanes and three primary-mirror pads, plus the
WFC3/IR cold mask), averaged over the filter band treated as a flat top-hat between
``pivot +/- width / 2``. It has **no wavefront-error maps** (perfect optics, Strehl = 1),
**no filter throughput curves** and no source spectrum, **no detector effects** (charge
diffusion, inter-pixel capacitance, brighter-fatter, MIRI cross-shaped scattering, the
red halo of ACS/WFC and WFC3/UVIS at long wavelengths), no jitter or breathing, and **no
field dependence other than the geometric distortion** of the detector -> telescope
mapping (for WFPC2 also no field-dependent vignetting by the relay cameras). Real PSFs are
broader and less sharp, most at short wavelengths (HST in the UV); use ``--method stpsf``
for JWST when STPSF's data are installed.

How it works
------------
The pupil is fixed to the telescope, so the PSF is computed once per (instrument, band) on
an angular grid aligned with the V2V3 frame (cached for the process). For each exposure the
PSF is convolved with the footprint of a detector pixel in V2V3 (from the local Jacobian of
the exposure's detector -> ``v2v3`` transform), and for each source the result is sampled
on the oversampled, detector-aligned grid through the local affine detector -> V2V3 map at
the source position. Pixel scale, skew and orientation therefore follow the instrument's
distortion (SIAF) as encoded in the WCS; the orientation on the sky follows when the
exposures are drizzled. A WCS without a ``v2v3`` frame falls back to sky tangent-plane
offsets rotated by the V3 position angle (``DetectorInfo.extra["pa_v3"]`` or
``["roll_ref"]``), which is logged.

HST
---
An HST exposure arrives (from the HST mission adapter) as one `~spike.psf.base.DetectorInfo`
per chip: ``mission="hst"``, ``instrument`` ``"ACS"``, ``"WFC3"`` or ``"WFPC2"``,
``detector`` ``"WFC"``, ``"HRC"``, ``"UVIS"``, ``"IR"``, ``"PC"`` or ``"WF"`` (a chip
suffix such as ``"WFC1"`` or ``"WF3"``, or ``extra["chip"]``, is accepted), ``filter`` the
real filter name (not ``CLEAR*``), ``wcs`` the chip's `astropy.wcs.WCS` (0-based pixels,
SIP and lookup-table distortions included) and ``extra["pa_v3"]``, the header ``PA_V3``:
the position angle of the +V3 axis on the sky, degrees east of north. Through the
tangent-plane fallback +V3 then points at that position angle and +V2 at ``PA_V3 + 90``
(east when V3 points north), as in the SIAF convention (pysiaf's attitude matrix gives the
same). ``PA_V3`` refers to the V1 axis; using it at a chip a few arcminutes away neglects
the convergence of meridians, a rotation of about ``offset * tan(dec)`` (0.1 deg at
dec 45 deg for ACS/WFC), harmless for the PSF. HST's vanes lie along V2 and V3 (TinyTim's
OTA model), so the four diffraction spikes point at ``PA_V3 + k * 90`` on the sky: at about
45 deg to the detector axes for WFC3 and WFPC2, nearly along them for ACS.
"""

import logging
import math

import numpy as np

from spike.exceptions import PSFMethodError
from spike.psf._angular import angular_psf, pixel_convolved
from spike.psf._bands import MISSION_INSTRUMENTS, get_band
from spike.psf._epsf import check_size
from spike.psf._geometry import PA_V3_KEYS, LocalFrame
from spike.psf._pupils import PUPILS
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["OpticalPSFMethod", "OpticalPSFModel"]

log = logging.getLogger(__name__)

#: Stamp width (detector pixels) the default angular field is sized for.
_DEFAULT_STAMP = 101
#: Extra room around that stamp for detectors slightly rotated with respect to V2V3.
_FIELD_MARGIN = 1.15
#: Largest side of the Fourier-upsampled, pixel-convolved PSF grid (see
#: `spike.psf._angular.pixel_convolved`); JWST's default fields stay well below it.
_MAX_FINE_GRID = 2048
#: Pupil-wheel values that leave the telescope pupil unchanged (NIRISS CLEARP is a
#: slightly undersized stop, approximated by the clear pupil).
_PLAIN_PUPILS = {"", "CLEAR", "CLEARP", "NONE", "N/A"}


class OpticalPSFModel(PSFModel):
    """The diffraction-limited ePSF of one exposure (see `OpticalPSFMethod`).

    Parameters
    ----------
    convolved : spike.psf._angular.PixelConvolvedPSF
        Pixel-integrated angular PSF of the band.
    frame : spike.psf._geometry.LocalFrame
        Detector -> V2V3 local Jacobians of the exposure.
    oversampling : int
        Oversampling factor of the returned arrays.
    label : str
        Exposure label for messages.
    """

    def __init__(self, convolved, frame, *, oversampling, label=""):
        self.convolved = convolved
        self.frame = frame
        self.oversampling = int(oversampling)
        self.label = label
        self._warned_sizes = set()

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position of the source.
        size : int
            Odd stamp width and height in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 array, centred at
            ``((n - 1) / 2, (n - 1) / 2)`` and summing to ``oversampling**2`` times the
            fraction of the flux inside the stamp.
        """
        from scipy import ndimage

        size = check_size(size)
        if not (np.isfinite(x) and np.isfinite(y)):
            msg = f"Source position must be finite, got ({x}, {y})"
            raise ValueError(msg)
        conv = self.convolved
        jac = self.frame.jacobian(float(x), float(y))
        self._check_field(jac, size)
        n = size * self.oversampling
        u = (np.arange(n) - (n - 1) / 2) / self.oversampling
        uy, ux = np.meshgrid(u, u, indexing="ij")
        col = conv.center + (jac[0, 0] * ux + jac[0, 1] * uy) / conv.pixel
        row = conv.center + (jac[1, 0] * ux + jac[1, 1] * uy) / conv.pixel
        out = ndimage.map_coordinates(
            conv.coeffs, [row, col], output=np.float64, order=conv.order, prefilter=False,
            mode="grid-constant", cval=0.0,
        )
        # the footprint was built for the reference Jacobian: scale to the local pixel area
        out *= abs(np.linalg.det(jac)) / conv.pixel_area
        return out

    def _check_field(self, jac, size):
        corner = np.abs(jac) @ np.array([size / 2, size / 2])
        if corner.max() > self.convolved.half_width and size not in self._warned_sizes:
            self._warned_sizes.add(size)
            log.warning(
                "%s: a %d px stamp reaches %.2f arcsec from the centre but the optical PSF "
                "was computed to %.2f arcsec; the stamp corners are zero (raise fov_arcsec)",
                self.label, size, corner.max(), self.convolved.half_width,
            )


def _jac_key(jac):
    return tuple(float(v) for v in np.round(np.asarray(jac).ravel(), 7))


class OpticalPSFMethod(PSFMethod):
    """Diffraction-limited, polychromatic JWST and HST PSFs computed in-process (no data).

    A physical-optics approximation: perfect optics through the telescope pupil, a top-hat
    band, no detector effects and no field dependence beyond the geometric distortion (see
    the module docstring for the full list of what is left out).

    Parameters
    ----------
    oversampling : int, optional
        Oversampling factor of the ePSFs produced (default 4).
    nlambda : int or None, optional
        Number of wavelengths across the band; `None` picks one per 5 % of fractional
        bandwidth, between 1 and 9 (e.g. NIRCam F212N 1, F210M 2, F200W 5, F150W2 9).
    fov_arcsec : float or None, optional
        Full width (arcsec) of the square V2V3 field over which the PSF is computed; the
        enclosed fraction of the stamps is relative to the total flux, so it is < 1.
        `None` covers a 101-pixel stamp with 15 % margin at the instrument's nominal scale.

    Notes
    -----
    Supported: JWST NIRCam (all W, M, N and W2 filters; pupil-wheel filters such as F405N
    are taken from ``DetectorInfo.pupil`` or ``.filter``), NIRISS imaging and MIRI imaging;
    HST ACS/WFC and ACS/HRC, WFC3/UVIS and WFC3/IR, WFPC2 PC and WF, each with its common
    filters (`spike.psf._bands.known_bands`; the module docstring lists what an HST
    `~spike.psf.base.DetectorInfo` must hold). The once-per-band computation takes about a
    second (a few for HST's UV filters); later exposures of the same band and detector
    reuse it, and `~spike.psf.base.PSFModel.evaluate` takes a few milliseconds.
    """

    name = "optical"
    missions = ("jwst", "hst")

    def __init__(self, *, oversampling=4, nlambda=None, fov_arcsec=None):
        if nlambda is not None:
            if isinstance(nlambda, bool) or int(nlambda) != nlambda or nlambda < 1:
                msg = f"nlambda must be a positive integer or None, got {nlambda!r}"
                raise ValueError(msg)
            nlambda = int(nlambda)
        if fov_arcsec is not None:
            fov_arcsec = float(fov_arcsec)
            if not (math.isfinite(fov_arcsec) and fov_arcsec > 0):
                msg = f"fov_arcsec must be a positive number or None, got {fov_arcsec!r}"
                raise ValueError(msg)
        super().__init__(oversampling=oversampling, nlambda=nlambda, fov_arcsec=fov_arcsec)

    def describe(self):
        """Return the method's name and parameters, as recorded in output products.

        Returns
        -------
        dict
            ``{"method": "optical", "oversampling": int, "nlambda": ..., "fov_arcsec": ...,
            "model": "diffraction-limited ..."}``.
        """
        out = super().describe()
        out["model"] = "diffraction-limited; no WFE, top-hat bands, no detector effects"
        return out

    def band(self, detector):
        """Return the top-hat `~spike.psf._bands.Band` used for ``detector``.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure.

        Returns
        -------
        spike.psf._bands.Band
            The band of the filter, or of the pupil-wheel filter when there is one; its
            ``channel`` is the instrument channel (for HST, from the detector name).

        Raises
        ------
        spike.exceptions.PSFMethodError
            For an unsupported mission, instrument or (HST) detector, or an unknown filter.
        """
        return self._optics_and_band(detector)[1]

    def _optics_and_band(self, detector):
        if not self.supports(detector):
            msg = (
                f"PSF method 'optical' supports missions {', '.join(self.missions)}, "
                f"not {detector.mission!r} ({detector.label()})"
            )
            raise PSFMethodError(msg)
        instruments = MISSION_INSTRUMENTS[detector.mission]
        inst = (detector.instrument or "").upper()
        if inst not in instruments:
            msg = (
                f"PSF method 'optical' does not model {detector.mission!r} instrument "
                f"{detector.instrument!r}; supported: {', '.join(sorted(instruments))}"
            )
            raise PSFMethodError(msg)
        optics = instruments[inst]
        channel = None
        if optics.detectors:
            channel = optics.channel_for(detector.detector, detector.extra.get("chip"))
            if channel is None:
                msg = (
                    f"PSF method 'optical' does not model detector {detector.detector!r} of "
                    f"{detector.mission!r} instrument {inst!r}; supported channels: "
                    f"{', '.join(optics.pixel_scales)}"
                )
                raise PSFMethodError(msg)
        # only JWST has pupil-wheel filters; elsewhere a filter-like pupil must not win
        wheel = detector.pupil if detector.mission == "jwst" else None
        band = get_band(inst, detector.filter, wheel, channel=channel)
        pupil = (detector.pupil or "").strip().upper()
        if pupil not in _PLAIN_PUPILS and pupil != band.name:
            log.warning(
                "%s: pupil element %s is not modelled by the optical method (clear pupil used)",
                detector.filename or detector.label(), detector.pupil,
            )
        return optics, band

    def prepare(self, detector):
        """Prepare the ePSF model of one exposure.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure; its ``wcs`` should have a ``v2v3`` frame, or ``extra`` should hold
            ``"pa_v3"`` (HST) or ``"roll_ref"``.

        Returns
        -------
        OpticalPSFModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For an unsupported mission, instrument or detector, or an unknown filter.
        """
        optics, band = self._optics_and_band(detector)
        nlambda = self.params["nlambda"] or band.default_nlambda()
        fov = self.params["fov_arcsec"]
        if fov is None:
            fov = round(optics.pixel_scales[band.channel] * _DEFAULT_STAMP * _FIELD_MARGIN, 3)
        label = detector.filename or detector.label()
        pa_v3 = next((detector.extra[k] for k in PA_V3_KEYS if k in detector.extra), None)
        frame = LocalFrame(detector.wcs, pa_v3=pa_v3, label=label)
        angular = angular_psf(PUPILS[optics.pupil_for(band.channel)], band, nlambda, fov)
        ny, nx = detector.shape
        jac = frame.jacobian((nx - 1) / 2, (ny - 1) / 2)
        convolved = pixel_convolved(angular, _jac_key(jac), max_size=_MAX_FINE_GRID)
        log.debug(
            "%s: optical PSF %s, %d wavelengths, field %.2f arcsec (enclosed %.4f), "
            "pixel %.4f x %.4f arcsec",
            label, angular.label, nlambda, fov, angular.enclosed,
            math.hypot(jac[0, 0], jac[1, 0]), math.hypot(jac[0, 1], jac[1, 1]),
        )
        return OpticalPSFModel(convolved, frame, oversampling=self.oversampling, label=label)
