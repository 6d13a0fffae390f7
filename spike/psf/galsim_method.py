"""Roman WFI PSFs from GalSim (``--method galsim``), computed offline.

GalSim ships the Roman pupil images and the Cycle 9 field-dependent aberrations, so
`galsim.roman.getPSF` works without any download. This back-end turns its optical PSFs into
spike's oversampled effective PSFs (`spike.psf.base`).

What is modelled
----------------
Diffraction through the SCA's pupil image (struts as seen from that SCA; the long-wavelength
pupil for F184/F213), the design aberrations of the SCA interpolated at the source position,
optional ``extra_aberrations``, the detector pixel response (a box one pixel wide) and the
local pixel scale and skew of the exposure's WCS. Left out, as in GalSim: jitter, charge
diffusion, inter-pixel capacitance, brighter-fatter.

Chromatic integration
---------------------
The photon spectrum in the band, ``SED(lambda) x throughput(lambda)`` (GalSim's Roman
bandpass), is split into ``n_waves`` bins of equal photon count; each bin is represented by
the monochromatic PSF at its photon-weighted mean wavelength, with equal weights. The
default SED is flat in f_nu (a source of AB colour 0: photons/nm proportional to
1/lambda). ``sed`` may also be ``"flat_flambda"``, ``"blackbody:<T in K>"``, a callable
giving f_lambda (any units) of the wavelength in nm, or a `galsim.SED`.

Frames and positions
--------------------
GalSim's Roman PSF is drawn in "SCA coordinates": arcsec along the axes of GalSim's SCA
image frame, the frame of `galsim.roman.getWCS`. Comparing that WCS with the Roman SIAF
(pysiaf 0.29, every SCA) shows GalSim's image frame is the SIAF **detector** (raw readout)
orientation, while DMS L2 arrays (romancal) are in the SIAF **science** frame; the two
differ by a mirror flip: ``x_galsim = 4089 - x_sci`` for SCAs 3, 6, ..., 18
(``DetSciYAngle = 0``) and ``y_galsim = 4089 - y_sci`` for the others
(``DetSciYAngle = 180``), 1-based. The science frame has the usual sky parity (east
counter-clockwise from north, negative determinant of pixel -> (east, north)), GalSim's the
opposite. ``detector_frame="auto"`` (default) picks the frame from the parity of the
exposure's WCS: negative -> science frame (flip applied), positive -> GalSim frame (no
flip; e.g. romanisim L2 images made without CRDS, whose gwcs is GalSim's WCS). This
assumes GalSim's PSF and GalSim's WCS are mutually consistent, as GalSim documents.

``SCA_pos`` passed to GalSim is in GalSim's 1-based pixel convention (pixel centres at
integers 1..4088): ``x + x0 + 1`` after the flip, where ``(x0, y0)`` is
``DetectorInfo.extra["origin"]`` (or ``["cutout_origin"]``, as `spike.datasets.roman`
writes it: 0-based offset of a cut-out in the full 4088 x 4088 SCA, in the exposure's
frame). GalSim's aberration tables count from the SCA
corner (half a pixel different), which is immaterial for aberrations that vary over
thousands of pixels.

Distortion: the PSF's angular frame is tied to the SCA axes, so the exposure's local
Jacobian ``J`` (detector pixel -> sky arcsec, by finite differences of the WCS at the
source) is reduced to its stretch ``S = sqrt(J^T J)`` (in GalSim's pixel frame), dropping
the rotation on the sky; ``S`` carries the local pixel scales and skew. The pixel
footprint ``S`` is convolved with the PSF exactly in Fourier space
(`spike.psf._angular.pixel_convolved`) and sampled on the oversampled detector grid.

Caching
-------
The aberrations are bilinear in the SCA position, the PSF not quite. Polychromatic angular
PSFs (no pixel, no distortion) are computed lazily on an ``n_grid`` x ``n_grid`` grid of
SCA positions (default 5: spacing 1022 px) and blended bilinearly at the source
position. Grid nodes are kept in a process-wide cache (at most 512 MB) keyed by SCA,
band, wavelengths and weights, pupil binning, extra aberrations, node and field size, so
later sources and later exposures of the same SCA and filter reuse them. A source needs
at most 4 nodes; a node costs about ``0.15 s x n_waves`` at ``pupil_bin=8``, a source whose
nodes are cached 0.01 s (F158) to 0.2 s (F062, the finest angular grid) for a 41-pixel
stamp. Worst-case blending error (cell centre versus a direct computation): 0.25 % of
the peak for F062, 0.06 % for F158 at ``n_grid=5`` (0.9 % and 0.2 % at 3). Versus GalSim's
own pixel-convolved rendering at one position: < 5e-4 of the peak; ``n_waves=5`` is
within 8e-4 of 20 wavelengths (F146, the widest band).

Layout
------
This module holds `GalSimPSFMethod`, `galsim_bandpass_name`, `clear_cache` and the seams
to GalSim (``_load_galsim``, ``_get_psf``, the node cache ``_NODES``). `GalSimPSFModel`
is in `spike.psf._galsim_model` (re-exported here), input checks and the wavelength
sampling in `spike.psf._galsim_inputs`, the cache class in `spike.psf._galsim_cache`.
"""

import functools
import logging

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._galsim_cache import _NodeCache
from spike.psf._galsim_inputs import (  # noqa: F401 - N_SCA re-exported
    N_SCA,
    _parse_sca,
    _positive_int,
    _sed_photons,
    _wavelength_samples,
)
from spike.psf._galsim_model import (  # noqa: F401 - SCA_PIXELS re-exported
    SCA_PIXELS,
    GalSimPSFModel,
    _sky_jacobian,
)
from spike.psf.base import PSFMethod

__all__ = ["GalSimPSFMethod", "GalSimPSFModel", "clear_cache", "galsim_bandpass_name"]

log = logging.getLogger(__name__)

#: Roman optical element -> GalSim bandpass name.
ROMAN_TO_GALSIM = {
    "F062": "R062",
    "F087": "Z087",
    "F106": "Y106",
    "F129": "J129",
    "F146": "W146",
    "F158": "H158",
    "F184": "F184",
    "F213": "K213",
}
_FRAMES = ("auto", "science", "galsim")
#: `DetectorInfo.extra` keys read, in order, for the 0-based cut-out origin in the SCA.
_ORIGIN_KEYS = ("origin", "cutout_origin")


def _load_galsim():
    """Import and return ``(galsim, galsim.roman)``, or raise `PSFDataUnavailableError`."""
    try:
        import galsim
        import galsim.roman
    except ImportError as exc:
        msg = (f"The 'galsim' package is needed by PSF method 'galsim' but cannot be imported "
               f"({exc}); install it with 'pip install galsim'")
        raise PSFDataUnavailableError(msg) from exc
    return galsim, galsim.roman


def _get_psf(sca, bandpass, **kwargs):
    """Call `galsim.roman.getPSF` (a seam for tests)."""
    return _load_galsim()[1].getPSF(sca, bandpass, **kwargs)


@functools.lru_cache(maxsize=1)
def _bandpasses():
    """GalSim's Roman bandpasses, read once."""
    return _load_galsim()[1].getBandpasses()


def galsim_bandpass_name(filter_name):
    """Return GalSim's Roman bandpass name for a Roman optical element.

    Parameters
    ----------
    filter_name : str
        Roman name (``F158``) or GalSim name (``H158``), any case.

    Returns
    -------
    str
        A key of ``galsim.roman.getBandpasses()``.

    Raises
    ------
    spike.exceptions.PSFMethodError
        For an element GalSim has no imaging bandpass for (e.g. ``PRISM``, ``GRISM``).

    Examples
    --------
    >>> galsim_bandpass_name("F158")
    'H158'
    >>> galsim_bandpass_name("w146")
    'W146'
    """
    name = str(filter_name or "").strip().upper()
    name = ROMAN_TO_GALSIM.get(name, name)
    known = _bandpasses()
    if name not in known:
        roman = ", ".join(ROMAN_TO_GALSIM)
        msg = (f"PSF method 'galsim' has no Roman bandpass for filter {filter_name!r}; "
               f"supported: {roman} (or GalSim's names {', '.join(sorted(known))})")
        raise PSFMethodError(msg)
    return name


_NODES = _NodeCache(512 * 2**20)


def clear_cache():
    """Forget every cached GalSim grid node and GalSim's own Roman aperture cache."""
    _NODES.clear()
    try:
        _load_galsim()[1].roman_psfs._make_aperture.clear()
    except (PSFDataUnavailableError, AttributeError):
        pass


class GalSimPSFMethod(PSFMethod):
    """Roman WFI PSFs from GalSim's Roman module (offline; GalSim ships the data).

    Parameters
    ----------
    oversampling : int, optional
        Oversampling factor of the ePSFs (default 4).
    pupil_bin : int, optional
        Binning of GalSim's 4096 x 4096 pupil images (default 8: fastest; GalSim's own
        default is 4, about 5 times slower; 1 is the full resolution).
    n_waves : int, optional
        Number of wavelengths of the chromatic integration (default 5; bins of equal photon
        count, see the module docstring).
    sed : str, callable or galsim.SED, optional
        Source spectrum: ``"flat_fnu"`` (default), ``"flat_flambda"``,
        ``"blackbody:<T>"`` (T in K), a callable returning f_lambda (any units) for
        wavelengths in nm, or a spectral `galsim.SED`.
    extra_aberrations : array_like or None, optional
        Aberrations added to the design ones, in waves at 1293 nm, Noll-indexed as in
        `galsim.roman.getPSF` (index 4 is defocus; at most 23 values).
    n_grid : int, optional
        Grid nodes per SCA axis at which the PSF is computed and between which it is
        interpolated (default 5; 1 ignores the field dependence).
    recenter : bool, optional
        If True (default), each monochromatic PSF is shifted so that its centroid (all its
        light, GalSim's ``centroid``) is the source position. GalSim's PSF is positioned by
        its chief ray (zero tip and tilt); coma and trefoil move its light centroid from
        there by 0.05 - 0.17 px, the same at all wavelengths. Astrometric calibrations
        (and spike's other methods) tie source positions to light centroids, hence the
        default; False keeps GalSim's chief-ray position.
    detector_frame : {"auto", "science", "galsim"}, optional
        Pixel frame of the exposures' arrays: the SIAF/DMS science frame, GalSim's SCA
        frame, or chosen from the parity of each exposure's WCS (default).

    Notes
    -----
    `DetectorInfo` fields used: ``mission`` ("roman"), ``instrument`` ("WFI"),
    ``detector`` ("WFI01" .. "WFI18"), ``filter`` (F062 ... F213 or GalSim's R062 ... K213),
    ``wcs``, ``shape`` and ``extra["origin"]`` or ``extra["cutout_origin"]`` (0-based
    ``(x0, y0)`` of a cut-out in the full SCA, default ``(0, 0)``).
    """

    name = "galsim"
    missions = ("roman",)

    def __init__(self, *, oversampling=4, pupil_bin=8, n_waves=5, sed="flat_fnu",
                 extra_aberrations=None, n_grid=5, recenter=True, detector_frame="auto"):
        pupil_bin = _positive_int("pupil_bin", pupil_bin)
        n_waves = _positive_int("n_waves", n_waves)
        n_grid = _positive_int("n_grid", n_grid)
        if detector_frame not in _FRAMES:
            msg = f"detector_frame must be one of {', '.join(_FRAMES)}, got {detector_frame!r}"
            raise ValueError(msg)
        if extra_aberrations is not None:
            extra = np.asarray(extra_aberrations, dtype=float)
            if extra.ndim != 1 or not 1 <= extra.size <= 23 or not np.all(np.isfinite(extra)):
                msg = ("extra_aberrations must be a 1-D sequence of at most 23 finite numbers "
                       f"(waves at 1293 nm, Noll index), got {extra_aberrations!r}")
                raise ValueError(msg)
            extra_aberrations = tuple(float(v) for v in extra)
        sed_label, self._photons = _sed_photons(sed)
        super().__init__(oversampling=oversampling, pupil_bin=pupil_bin, n_waves=n_waves,
                         sed=sed_label, extra_aberrations=extra_aberrations, n_grid=n_grid,
                         recenter=bool(recenter), detector_frame=detector_frame)

    def describe(self):
        """Return the method's name and parameters, as recorded in output products.

        Returns
        -------
        dict
            ``{"method": "galsim", "oversampling": int, "pupil_bin": ..., "n_waves": ...,
            "sed": ..., "extra_aberrations": ..., "n_grid": ..., "recenter": ...,
            "detector_frame": ...,
            "model": ..., "galsim_version": ...}``.
        """
        out = super().describe()
        out["model"] = ("GalSim Roman WFI: Cycle 9 aberrations, SCA pupils; no jitter, "
                        "charge diffusion or IPC")
        try:
            out["galsim_version"] = _load_galsim()[0].__version__
        except PSFDataUnavailableError:
            out["galsim_version"] = None
        return out

    def prepare(self, detector):
        """Check the exposure and return its `GalSimPSFModel`.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            A Roman WFI exposure (or cut-out of one).

        Returns
        -------
        GalSimPSFModel

        Raises
        ------
        spike.exceptions.PSFDataUnavailableError
            When GalSim cannot be imported.
        spike.exceptions.PSFMethodError
            For a non-Roman exposure, an unknown SCA or filter, or an unusable WCS.
        """
        if not self.supports(detector):
            msg = (f"PSF method 'galsim' supports missions {', '.join(self.missions)}, "
                   f"not {detector.mission!r} ({detector.label()})")
            raise PSFMethodError(msg)
        if (detector.instrument or "").upper() != "WFI":
            msg = f"PSF method 'galsim' models Roman WFI only, not {detector.instrument!r}"
            raise PSFMethodError(msg)
        _load_galsim()
        sca = _parse_sca(detector.detector)
        band = galsim_bandpass_name(detector.filter)
        label = detector.filename or detector.label()
        waves, weights = _wavelength_samples(_bandpasses()[band], self._photons,
                                             self.params["n_waves"])
        origin = next((detector.extra[k] for k in _ORIGIN_KEYS if k in detector.extra), (0, 0))
        try:
            origin = (float(origin[0]), float(origin[1]))
        except (TypeError, ValueError, IndexError) as exc:
            msg = f"{label}: the cut-out origin must be an (x0, y0) pair, got {origin!r}"
            raise PSFMethodError(msg) from exc
        frame = self._frame(detector, label)
        log.debug("%s: GalSim SCA %d %s, %s frame, origin %s, wavelengths %s nm", label, sca,
                  band, frame, origin, ", ".join(f"{w:.1f}" for w in waves))
        return GalSimPSFModel(
            sca=sca, bandpass=band, wavelengths=waves, weights=weights, wcs=detector.wcs,
            frame=frame, origin=origin, oversampling=self.oversampling,
            pupil_bin=self.params["pupil_bin"], n_grid=self.params["n_grid"],
            extra_aberrations=self.params["extra_aberrations"],
            recenter=self.params["recenter"], label=label,
        )

    def _frame(self, detector, label):
        ny, nx = detector.shape
        parity = np.linalg.det(_sky_jacobian(detector.wcs, (nx - 1) / 2, (ny - 1) / 2))
        implied = "science" if parity < 0 else "galsim"
        frame = self.params["detector_frame"]
        if frame == "auto":
            return implied
        if frame != implied:
            log.warning("%s: detector_frame=%r but the WCS parity suggests the %s frame",
                        label, frame, implied)
        return frame
