"""Independent "truth" PSFs for simulated JWST and Roman stars.

Simulated stars drawn with the PSF model that is then drizzled say nothing about that
model's fidelity. These back-ends draw stars with PSFs computed **independently of every
spike PSF method** (no ``spike.psf`` code except the `~spike.psf.base` contract and the
detector -> V2V3 geometry of `spike.psf._geometry.LocalFrame`), including what real
telescopes and detectors add to a design model. Pass one to a factory::

    simulate_jwst_cal_exposures(psf_method=JwstTruthPSFMethod())
    simulate_roman_cal_exposures(psf_method=RomanTruthPSFMethod())

They are simulation tools, not product back-ends: they are not in `spike.psf.registry`.

JWST (`JwstTruthPSFMethod`, NIRCam and MIRI imaging)
----------------------------------------------------
* **Optics by poppy's own propagation** (``poppy.OpticalSystem.calc_psf``, 1024 pupil
  samples): 18 hexagonal segments of 1.32 m with 7 mm gaps (``MultiHexagonAperture``), a
  0.74 m secondary with three 8 cm struts at 0/150/210 deg from +V3
  (``AsymmetricSecondaryObscuration``).
* **Wavefront error** 70 nm rms by default (tip/tilt excluded), within the 60-80 nm rms
  "observatory level WFE at NIRCam" of the JWST user documentation ("Optics Performance
  and Stability"; Rigby et al. 2023, PASP 135, 048001; McElwain et al. 2023, PASP 135,
  058001): 30 % of the variance in focus, astigmatism, coma, trefoil and spherical
  (``ZernikeWFE``), 70 % in a mid-frequency power-law screen (``StatisticalPSDWFE``,
  index 3, seed 0).
* **Polychromatic** over a smooth-edged passband (tanh edges 1 % of the pivot wide, half
  power at pivot -/+ bandwidth / 2, from the JWST documentation's filter tables), photons
  of a source flat in f_nu; not the tabulated throughput (STPSF's data are not available
  offline).
* **Pointing jitter** 0.8 mas per axis (STPSF ``constants.JWST_TYPICAL_LOS_JITTER_PER_AXIS``
  = 0.0008 arcsec; its comment says milliarcseconds but STPSF uses it in arcsec) and
  **charge diffusion** as a Gaussian of 6.2 mas (NIRCam SW), 18 mas (LW), 1 mas (MIRI)
  (STPSF ``constants.INSTRUMENT_DETECTOR_CHARGE_DIFFUSION_DEFAULT_PARAMETERS``).
* **Inter-pixel capacitance**: NIRCam 0.53 % (SW) and 0.59 % (LW) to each nearest
  neighbour, the JWST documentation's "NIRCam Detector Performance" table (post-pixel
  coupling, 0.08-0.19 %, not modelled); MIRI alpha = 3.3 %, beta = 2.4 %, corners 1.3 %
  (STPSF ``constants.INSTRUMENT_IPC_DEFAULT_KERNEL_PARAMETERS``, JWST-STScI-002925).
* One wavefront for the whole field (no field dependence beyond the distortion).
* Sampled on the detector axes through the exposure's local detector -> V2V3 Jacobian and
  integrated over the pixel (`spike.datasets._truth_sampling.detector_epsf`); the poppy
  image is cached per band and field, the ePSF per (band, Jacobian, size).

Roman (`RomanTruthPSFMethod`, WFI)
----------------------------------
GalSim's Roman model (``galsim.roman.getPSF``: SCA pupil images and Cycle 9 field-dependent
aberrations), integrated by GalSim over its Roman bandpass for a flat f_nu source and drawn
by GalSim with the pixel response, plus what the design model lacks:

* **extra aberrations** 25 nm rms by default: focus 12, astigmatism 14 and -9, coma 10
  and -8, spherical 7 nm (an assumption, well inside the 90 nm rms tolerance for extra
  aberrations quoted in ``galsim.roman.getPSF``'s documentation);
* **jitter** 6 mas per axis (STPSF ``constants.ROMAN_TYPICAL_LOS_JITTER_PER_AXIS``);
* **charge diffusion** 33 mas (STPSF's WFI default, from the Goddard recommendation; it
  agrees with the 0.33 px sigma Givans et al. 2022, PASP 134, 014001, measured on flight
  candidate detectors);
* **IPC** GalSim's Roman kernel (``galsim.roman.ipc_kernel``: 1.3-1.5 % to the nearest
  neighbours, 0.1 % to the corners, as GalSim's Roman simulations use).

spike's ``galsim`` method models none of these four, so scoring it against this truth
measures how much they matter. The truth is computed at the centre of a 512 x 512 pixel
cell of the SCA (aberrations vary over thousands of pixels; one cell is centred on the
SCA) and cached per cell: about 5 s per cell, SCA and filter.

Both truths are recentred so that the 2-D Gaussian centroid of their core (photutils
``centroid_2dg``, 9 x 9 px) is the star's position: how positions are measured on real
exposures in the accuracy benchmark and how `spike.accuracy` measures stars. An aberrated
PSF's centre of light (first moment, GalSim's ``centroid``) differs from it: by 0.15 px for
GalSim's design PSF of WFI01 in H158, 0.13 px for the default NIRCam truth.
"""

import functools
import logging
import math

import numpy as np

from spike.datasets import _truth_jwst, _truth_roman
from spike.datasets._truth_sampling import apply_ipc, detector_epsf, ipc_kernel
from spike.exceptions import PSFMethodError
from spike.psf._geometry import LocalFrame
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["JwstTruthPSFMethod", "RomanTruthPSFMethod", "TruthPSFModel"]

log = logging.getLogger(__name__)

#: STPSF ``JWST_TYPICAL_LOS_JITTER_PER_AXIS`` (arcsec, 1 sigma per axis).
JWST_JITTER = 0.0008
#: STPSF ``ROMAN_TYPICAL_LOS_JITTER_PER_AXIS`` (arcsec, 1 sigma per axis).
ROMAN_JITTER = 0.0060
#: STPSF ``INSTRUMENT_DETECTOR_CHARGE_DIFFUSION_DEFAULT_PARAMETERS`` (arcsec sigma).
CHARGE_DIFFUSION = {"NIRCAM_SW": 0.0062, "NIRCAM_LW": 0.018, "MIRI": 0.001, "WFI": 0.033}
#: 3 x 3 IPC kernels: NIRCam nearest-neighbour coupling (JWST documentation, "NIRCam
#: Detector Performance"); MIRI (alpha horizontal, beta vertical, corners) from STPSF.
IPC_KERNELS = {
    "NIRCAM_SW": ipc_kernel(0.0053),
    "NIRCAM_LW": ipc_kernel(0.0059),
    "MIRI": np.array([[0.013, 0.024, 0.013], [0.033, 1 - 2 * 0.033 - 2 * 0.024 - 4 * 0.013, 0.033],
                      [0.013, 0.024, 0.013]]),
}
#: Default extra Roman aberrations: Noll index -> nm rms (25.2 nm in total).
ROMAN_EXTRA_ABERRATIONS = {4: 12.0, 5: 14.0, 6: -9.0, 7: 10.0, 8: -8.0, 11: 7.0}


def _non_negative(name, value):
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        msg = f"{name} must be a non-negative number, got {value!r}"
        raise ValueError(msg)
    return value


def _positive_int(name, value):
    if isinstance(value, bool) or int(value) != value or value < 1:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _check_size(size):
    size = int(size)
    if size < 3 or size % 2 == 0:
        msg = f"size must be an odd integer >= 3, got {size}"
        raise ValueError(msg)
    return size


class TruthPSFModel(PSFModel):
    """A truth PSF prepared for one exposure: ``evaluate`` calls ``render(x, y, size)``.

    Parameters
    ----------
    render : callable
        ``render(x, y, size) -> numpy.ndarray`` (read-only, cached) ePSF.
    oversampling : int
        Samples per detector pixel.
    diagnostics : dict
        What the truth includes (recorded like any model's diagnostics).
    """

    def __init__(self, render, *, oversampling, diagnostics):
        self._render = render
        self.oversampling = int(oversampling)
        self.diagnostics = dict(diagnostics)

    def evaluate(self, x, y, *, size):
        """Return the oversampled truth ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based detector position.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling,) * 2`` array normalised as in `spike.psf.base`.
        """
        size = _check_size(size)
        if not (np.isfinite(x) and np.isfinite(y)):
            msg = f"Source position must be finite, got ({x}, {y})"
            raise ValueError(msg)
        return np.array(self._render(float(x), float(y), size))


def _rounded(jac, step=2e-7):
    return tuple(float(v) for v in np.round(np.asarray(jac).ravel() / step) * step)


@functools.lru_cache(maxsize=256)
def _jwst_epsf(band, settings, jac, size, oversampling, ipc):
    """The JWST truth ePSF for one band, Jacobian and stamp size (cached, read-only)."""
    channel, pivot, width = band
    settings = dict(settings)
    jac = np.asarray(jac).reshape(2, 2)
    # field: the stamp's corners at up to 10 % above the nominal scale, and the blur
    nominal = _truth_jwst.NOMINAL_SCALES[channel]
    half = 0.5 * size * math.sqrt(2) * 1.1 * nominal + 5 * settings["blur_arcsec"]
    npix = 2 * math.ceil(half / (nominal / _truth_jwst.SAMPLES_PER_PIXEL) / 32) * 32
    angular = _truth_jwst.angular_psf(channel, pivot, width, npix_field=npix, **settings)
    subsample = max(1, math.ceil(_truth_jwst.SAMPLES_PER_PIXEL / oversampling))
    epsf = detector_epsf(angular, jac, size=size, oversampling=oversampling,
                         subsample=subsample)
    if ipc:
        epsf = apply_ipc(epsf, IPC_KERNELS[channel], oversampling)
    epsf.setflags(write=False)
    return epsf


class JwstTruthPSFMethod(PSFMethod):
    """JWST NIRCam and MIRI imaging truth PSFs computed with poppy (see the module docstring).

    Parameters
    ----------
    oversampling : int, optional
        Samples per detector pixel (default 4).
    wfe_rms : float, optional
        Total wavefront error, nm rms (default 70; 0 for perfect optics).
    seed : int, optional
        Seed of the mid-frequency wavefront screen.
    jitter : float, optional
        Pointing jitter, arcsec 1 sigma per axis (default STPSF's 0.0008).
    charge_diffusion : float or None, optional
        Charge diffusion sigma (arcsec); None: the channel's STPSF default.
    ipc : bool, optional
        Apply the detector's IPC kernel (default True).
    nlambda : int or None, optional
        Wavelengths across the band (default: see `_truth_jwst.passband`).
    recenter : bool, optional
        Centre each ePSF on its core's 2-D Gaussian centroid (default True).
    pupil_npix : int, optional
        Pupil samples across 6.6 m (default 1024: 6.4 mm, the 7 mm gaps resolved; 512 is
        4 times faster and differs by 0.2 % of the peak).
    """

    name = "truth_poppy"
    missions = ("jwst",)

    def __init__(self, *, oversampling=4, wfe_rms=70.0, seed=0, jitter=JWST_JITTER,
                 charge_diffusion=None, ipc=True, nlambda=None, recenter=True,
                 pupil_npix=_truth_jwst.PUPIL_NPIX):
        wfe_rms = _non_negative("wfe_rms", wfe_rms)
        jitter = _non_negative("jitter", jitter)
        if charge_diffusion is not None:
            charge_diffusion = _non_negative("charge_diffusion", charge_diffusion)
        if nlambda is not None:
            nlambda = _positive_int("nlambda", nlambda)
        super().__init__(oversampling=oversampling, wfe_rms=wfe_rms, seed=int(seed),
                         jitter=jitter, charge_diffusion=charge_diffusion, ipc=bool(ipc),
                         nlambda=nlambda, recenter=bool(recenter),
                         pupil_npix=_positive_int("pupil_npix", pupil_npix))

    def prepare(self, detector):
        """Return the truth model of one exposure (a `TruthPSFModel`).

        Parameters
        ----------
        detector : spike.psf.base.DetectorInfo
            A JWST NIRCam or MIRI imaging exposure with a gwcs (``v2v3`` frame).

        Returns
        -------
        TruthPSFModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For another mission, instrument or an unsupported filter.
        """
        if detector.mission != "jwst":
            msg = f"truth_poppy models JWST exposures, not {detector.mission!r}"
            raise PSFMethodError(msg)
        channel, pivot, width = _truth_jwst.band_of(detector.instrument, detector.filter,
                                                    detector.detector)
        p = self.params
        diffusion = CHARGE_DIFFUSION[channel] if p["charge_diffusion"] is None \
            else p["charge_diffusion"]
        settings = {"rms_nm": p["wfe_rms"], "seed": p["seed"], "nlambda": p["nlambda"],
                    "blur_arcsec": math.hypot(p["jitter"], diffusion),
                    "recenter": p["recenter"], "pupil_npix": p["pupil_npix"]}
        frame = LocalFrame(detector.wcs, label=detector.label())
        band = (channel, pivot, width)
        frozen = tuple(settings.items())
        oversampling, ipc = self.oversampling, p["ipc"]

        def render(x, y, size):
            return _jwst_epsf(band, frozen, _rounded(frame.jacobian(x, y)), size, oversampling,
                              ipc)

        diagnostics = {"truth": "poppy", "band": [pivot, width], "channel": channel,
                       "wfe_rms_nm": p["wfe_rms"], "jitter_arcsec": p["jitter"],
                       "charge_diffusion_arcsec": diffusion, "ipc": p["ipc"]}
        return TruthPSFModel(render, oversampling=oversampling, diagnostics=diagnostics)

    def summary(self, channel="NIRCAM_SW"):
        """One line saying what the truth includes (for demos and benchmark tables)."""
        p = self.params
        diffusion = CHARGE_DIFFUSION[channel] if p["charge_diffusion"] is None \
            else p["charge_diffusion"]
        ipc = f"IPC {100 * IPC_KERNELS[channel][1, 0]:.2f} %" if p["ipc"] else "no IPC"
        return (f"poppy JWST pupil, {p['wfe_rms']:g} nm rms WFE, smooth passband, jitter "
                f"{1000 * p['jitter']:.1f} mas, charge diffusion {1000 * diffusion:.1f} mas, "
                f"{ipc}")


class RomanTruthPSFMethod(PSFMethod):
    """Roman WFI truth PSFs: GalSim's Roman model plus extra aberrations, jitter, charge
    diffusion and IPC (see the module docstring).

    Parameters
    ----------
    oversampling : int, optional
        Samples per detector pixel (default 4).
    extra_aberrations : dict or None, optional
        Noll index (4..22) -> nm rms added to GalSim's design aberrations (default
        `ROMAN_EXTRA_ABERRATIONS`, 25 nm in total; None or ``{}``: none).
    jitter : float, optional
        Pointing jitter, arcsec 1 sigma per axis (default STPSF's 0.006).
    charge_diffusion : float, optional
        Charge diffusion sigma, arcsec (default STPSF's 0.033).
    ipc : bool, optional
        Apply GalSim's Roman IPC kernel (default True).
    pupil_bin : int, optional
        Binning of GalSim's 4096 x 4096 pupil images (default 8).
    cell : int, optional
        The PSF is computed at the centre of ``cell`` x ``cell`` pixel cells of the SCA,
        one centred on the SCA (default 512; 1 computes it at each position).
    recenter : bool, optional
        Centre each ePSF on its core's 2-D Gaussian centroid (default True).
    """

    name = "truth_galsim"
    missions = ("roman",)

    def __init__(self, *, oversampling=4, extra_aberrations=ROMAN_EXTRA_ABERRATIONS,
                 jitter=ROMAN_JITTER, charge_diffusion=CHARGE_DIFFUSION["WFI"], ipc=True,
                 pupil_bin=8, cell=512, recenter=True):
        extra = dict(extra_aberrations or {})
        for noll, nm in extra.items():
            if isinstance(noll, bool) or int(noll) != noll or not 4 <= noll <= 22:
                msg = f"extra_aberrations keys must be Noll indices 4..22, got {noll!r}"
                raise ValueError(msg)
            if not math.isfinite(float(nm)):
                msg = f"extra_aberrations values must be finite (nm), got {nm!r}"
                raise ValueError(msg)
        self.extra = tuple(sorted((int(k), float(v)) for k, v in extra.items()))
        super().__init__(oversampling=oversampling,
                         extra_aberrations_nm=float(np.hypot.reduce([v for _, v in self.extra]))
                         if self.extra else 0.0,
                         jitter=_non_negative("jitter", jitter),
                         charge_diffusion=_non_negative("charge_diffusion", charge_diffusion),
                         ipc=bool(ipc), pupil_bin=_positive_int("pupil_bin", pupil_bin),
                         cell=_positive_int("cell", cell), recenter=bool(recenter))

    def prepare(self, detector):
        """Return the truth model of one Roman WFI exposure (a `TruthPSFModel`).

        Parameters
        ----------
        detector : spike.psf.base.DetectorInfo
            A WFI exposure in the SIAF science frame (as `spike.datasets.roman` makes them),
            ``detector`` ``"WFI01"``..``"WFI18"``, ``extra["cutout_origin"]`` (or
            ``"origin"``) the 0-based origin of the array in the SCA.

        Returns
        -------
        TruthPSFModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For another mission, an unknown SCA or filter.
        """
        if detector.mission != "roman":
            msg = f"truth_galsim models Roman exposures, not {detector.mission!r}"
            raise PSFMethodError(msg)
        name = (detector.detector or "").upper()
        if not (name.startswith("WFI") and name[3:].isdigit() and 1 <= int(name[3:]) <= 18):
            msg = f"truth_galsim needs a WFI01..WFI18 detector, got {detector.detector!r}"
            raise PSFMethodError(msg)
        band = _truth_roman.GALSIM_BANDS.get((detector.filter or "").upper())
        if band is None:
            msg = (f"truth_galsim has no bandpass for filter {detector.filter!r}; supported: "
                   f"{', '.join(_truth_roman.GALSIM_BANDS)}")
            raise PSFMethodError(msg)
        sca = int(name[3:])
        extra = detector.extra or {}
        origin = extra.get("origin", extra.get("cutout_origin", (0, 0)))
        flip = _truth_roman.sca_flip(sca)
        frame = LocalFrame(detector.wcs, label=detector.label())
        p = self.params
        options = {"oversampling": self.oversampling, "pupil_bin": p["pupil_bin"],
                   "extra_nm": self.extra, "recenter": p["recenter"],
                   "blur_arcsec": math.hypot(p["jitter"], p["charge_diffusion"]),
                   "ipc_flip": flip if p["ipc"] else None}

        def render(x, y, size):
            sci, pos = _truth_roman.galsim_position(x, y, origin, flip, p["cell"])
            jac = _truth_roman.local_jacobian(frame, sci[0] - origin[0], sci[1] - origin[1],
                                              flip)
            return _truth_roman.draw_epsf(sca, band, pos, _rounded(jac), size=size, **options)

        diagnostics = {"truth": "galsim", "sca": sca, "band": band,
                       "extra_aberrations_nm": p["extra_aberrations_nm"],
                       "jitter_arcsec": p["jitter"],
                       "charge_diffusion_arcsec": p["charge_diffusion"], "ipc": p["ipc"]}
        return TruthPSFModel(render, oversampling=self.oversampling, diagnostics=diagnostics)

    def summary(self):
        """One line saying what the truth includes (for demos and benchmark tables)."""
        p = self.params
        return (f"GalSim Roman model + {p['extra_aberrations_nm']:.0f} nm rms extra "
                f"aberrations, jitter {1000 * p['jitter']:.0f} mas, charge diffusion "
                f"{1000 * p['charge_diffusion']:.0f} mas, "
                f"{'GalSim IPC kernel' if p['ipc'] else 'no IPC'}")
