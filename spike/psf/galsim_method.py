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
"""

import collections
import functools
import logging
import math
import re
import sys
import time

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._angular import AngularPSF, pixel_convolved
from spike.psf._epsf import check_size
from spike.psf.base import PSFMethod, PSFModel

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
#: Pixels along each side of a Roman SCA (GalSim's ``galsim.roman.n_pix``).
SCA_PIXELS = 4088
#: Number of Roman SCAs.
N_SCA = 18
#: Nominal pixel scale (arcsec) used only to size the angular field.
_NOMINAL_SCALE = 0.11
#: Extra room in the angular field around the stamp.
_FIELD_MARGIN = 1.15
#: Angular sampling is this many times finer than Nyquist at the shortest wavelength. GalSim's
#: OpticalPSF (a quintic-interpolated image) is not strictly band-limited: versus GalSim's
#: own pixel-convolved rendering, spike's ePSF differs by 7.5e-3 of the peak at 1.25,
#: 2.4e-3 at 2 and 3.4e-4 at 3 (H158).
_NYQUIST_FACTOR = 2.5
#: Fourier upsampling before the spline interpolation (`pixel_convolved`); with the fine
#: angular grid above, 2 samples the spline 5 times finer than Nyquist (optical: 4.4).
_UPSAMPLE = 2
#: Accepted ``sed`` strings.
_SED_NAMES = ("flat_fnu", "flat_flambda", "blackbody:<T>")
_FRAMES = ("auto", "science", "galsim")
#: `DetectorInfo.extra` keys read, in order, for the 0-based cut-out origin in the SCA.
_ORIGIN_KEYS = ("origin", "cutout_origin")
_ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
# h c / k in nm K, for black bodies
_HC_OVER_K = 1.438776877e7


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


def _parse_sca(detector_name):
    match = re.fullmatch(r"(?:WFI|SCA)(\d{1,2})", str(detector_name or "").strip().upper())
    sca = int(match.group(1)) if match else 0
    if not 1 <= sca <= N_SCA:
        msg = (f"PSF method 'galsim' needs a Roman WFI detector 'WFI01' .. 'WFI{N_SCA}', "
               f"got {detector_name!r}")
        raise PSFMethodError(msg)
    return sca


def _sed_photons(sed):
    """Return ``(label, photons)``: ``photons(wave_nm)`` is proportional to photons/nm."""
    if isinstance(sed, str):
        spec = sed.strip().lower()
        if spec in ("flat_fnu", "fnu"):
            return "flat_fnu", lambda w: 1.0 / w
        if spec in ("flat_flambda", "flambda"):
            return "flat_flambda", lambda w: np.asarray(w, dtype=float)
        match = re.fullmatch(r"(?:blackbody|bb):\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*k?", spec)
        if match and float(match.group(1)) > 0:
            temp = float(match.group(1))
            return (f"blackbody:{temp:g}",
                    lambda w: w**-4.0 / np.expm1(_HC_OVER_K / (w * temp)))
    else:
        galsim = sys.modules.get("galsim")  # a galsim.SED means galsim is imported
        if galsim is not None and isinstance(sed, galsim.SED):
            if not sed.spectral:
                msg = "sed must be a spectral galsim.SED (with a flux_type), not dimensionless"
                raise ValueError(msg)
            return f"galsim.SED(flux_type={sed.flux_type!r})", sed
        if callable(sed):
            name = getattr(sed, "__qualname__", type(sed).__name__)
            return f"callable {name}", lambda w: w * np.asarray(sed(w), dtype=float)
    msg = (f"sed must be a galsim.SED, a callable f_lambda(wavelength_nm) or one of "
           f"{', '.join(_SED_NAMES)}; got {sed!r}")
    raise ValueError(msg)


def _wavelength_samples(bandpass, photons, n_waves):
    """Split the band into ``n_waves`` bins of equal photon count.

    Returns the photon-weighted mean wavelength (nm) of each bin and equal weights.
    """
    wave = np.linspace(bandpass.blue_limit, bandpass.red_limit, 4001)
    try:
        sed = np.broadcast_to(np.asarray(photons(wave), dtype=float), wave.shape)
    except (ValueError, TypeError) as exc:  # e.g. a galsim.SED not covering the band
        msg = (f"the SED cannot be evaluated over the band "
               f"({bandpass.blue_limit:g}-{bandpass.red_limit:g} nm): {exc}")
        raise PSFMethodError(msg) from exc
    if not np.all(np.isfinite(sed)) or sed.min() < 0:
        msg = "the SED must be finite and non-negative across the band"
        raise PSFMethodError(msg)
    # GalSim's tabulated R062 throughput dips to -1e-5 at the band edge: clip
    rate = sed * np.clip(np.asarray(bandpass(wave), dtype=float), 0.0, None)
    if not rate.sum() > 0:
        msg = "the SED times the bandpass is zero everywhere in the band"
        raise PSFMethodError(msg)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(wave))])
    cum /= cum[-1]
    edges = np.interp(np.linspace(0.0, 1.0, n_waves + 1), cum, wave)
    fine = np.linspace(0.0, 1.0, 201)
    lams = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        w = lo + (hi - lo) * fine
        r = np.interp(w, wave, rate)
        lams.append(float((w * r).sum() / r.sum()) if r.sum() > 0 else 0.5 * (lo + hi))
    return tuple(round(v, 6) for v in lams), (1.0 / n_waves,) * n_waves


class _NodeCache:
    """Least-recently-used cache of node arrays bounded by their total size in bytes."""

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._data = collections.OrderedDict()
        self._bytes = 0

    def get(self, key):
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key, value):
        if key in self._data:
            return
        self._data[key] = value
        self._bytes += value.nbytes
        while self._bytes > self.max_bytes and len(self._data) > 1:
            _, old = self._data.popitem(last=False)
            self._bytes -= old.nbytes

    def clear(self):
        self._data.clear()
        self._bytes = 0

    def __len__(self):
        return len(self._data)


_NODES = _NodeCache(512 * 2**20)


def clear_cache():
    """Forget every cached GalSim grid node and GalSim's own Roman aperture cache."""
    _NODES.clear()
    try:
        _load_galsim()[1].roman_psfs._make_aperture.clear()
    except (PSFDataUnavailableError, AttributeError):
        pass


def _sky_jacobian(wcs, x, y, step=0.5):
    """Jacobian of 0-based pixel ``(x, y)`` -> local (east, north) offsets in arcsec."""
    xs = np.array([x, x + step, x - step, x, x], dtype=float)
    ys = np.array([y, y, y, y + step, y - step], dtype=float)
    transform = getattr(wcs, "forward_transform", None)  # gwcs without its bounding box
    if transform is not None:
        ra, dec = transform(xs, ys)
    elif hasattr(wcs, "pixel_to_world_values"):
        ra, dec = wcs.pixel_to_world_values(xs, ys)
    else:
        msg = f"WCS {type(wcs).__name__} cannot map pixels to sky"
        raise PSFMethodError(msg)
    ra = np.radians(np.asarray(ra, dtype=float))
    dec = np.radians(np.asarray(dec, dtype=float))
    vec = np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)])
    a0, d0 = ra[0], dec[0]
    east = np.array([-np.sin(a0), np.cos(a0), 0.0])
    north = np.array([-np.sin(d0) * np.cos(a0), -np.sin(d0) * np.sin(a0), np.cos(d0)])
    xi = east @ vec * _ARCSEC_PER_RAD
    eta = north @ vec * _ARCSEC_PER_RAD
    jac = np.array([[xi[1] - xi[2], xi[3] - xi[4]], [eta[1] - eta[2], eta[3] - eta[4]]])
    jac /= 2 * step
    if not np.all(np.isfinite(jac)) or np.linalg.det(jac) == 0:
        msg = f"the WCS gives a singular or non-finite Jacobian at pixel ({x}, {y})"
        raise PSFMethodError(msg)
    return jac


def _stretch(jac):
    """Symmetric positive-definite ``sqrt(J^T J)``: ``J`` without its rotation/reflection."""
    vals, vecs = np.linalg.eigh(jac.T @ jac)
    return (vecs * np.sqrt(vals)) @ vecs.T


def _flip(sca, frame):
    """Diagonal of the map from exposure pixel axes to GalSim's SCA pixel axes."""
    if frame == "galsim":
        return np.array([1.0, 1.0])
    return np.array([-1.0, 1.0]) if sca % 3 == 0 else np.array([1.0, -1.0])


class GalSimPSFModel(PSFModel):
    """GalSim Roman ePSFs of one exposure (see `GalSimPSFMethod` and the module docstring).

    Parameters
    ----------
    sca : int
        SCA number, 1 .. 18.
    bandpass : str
        GalSim bandpass name.
    wavelengths, weights : tuple of float
        Wavelengths (nm) and weights of the chromatic integration.
    wcs : object
        The exposure's WCS (0-based pixel -> sky).
    frame : {"science", "galsim"}
        Pixel frame of the exposure's array.
    origin : tuple of float
        ``(x0, y0)`` of the array in the full SCA (0-based, same frame as the array).
    oversampling, pupil_bin, n_grid : int
        See `GalSimPSFMethod`.
    extra_aberrations : tuple of float or None
        See `GalSimPSFMethod`.
    recenter : bool
        See `GalSimPSFMethod`.
    label : str
        Exposure label for messages.
    """

    def __init__(self, *, sca, bandpass, wavelengths, weights, wcs, frame, origin,
                 oversampling, pupil_bin, n_grid, extra_aberrations, recenter=True,
                 label=""):
        self.sca = int(sca)
        self.bandpass = bandpass
        self.wavelengths = tuple(wavelengths)
        self.weights = tuple(weights)
        self.wcs = wcs
        self.frame = frame
        self.origin = (float(origin[0]), float(origin[1]))
        self.oversampling = int(oversampling)
        self.pupil_bin = int(pupil_bin)
        self.n_grid = int(n_grid)
        self.extra_aberrations = extra_aberrations
        self.recenter = bool(recenter)
        self.label = label
        self._flip = _flip(self.sca, frame)
        diameter = _load_galsim()[1].diameter
        nyquist = min(self.wavelengths) * 1e-9 / (2 * diameter) * _ARCSEC_PER_RAD
        self.angular_pixel = round(nyquist / _NYQUIST_FACTOR, 6)

    def sca_position(self, x, y):
        """Return GalSim's 1-based ``SCA_pos`` ``(x, y)`` of 0-based array position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's array.

        Returns
        -------
        tuple of float
        """
        pos = np.array([x + self.origin[0], y + self.origin[1]])
        pos = np.where(self._flip < 0, SCA_PIXELS - 1 - pos, pos)
        return float(pos[0] + 1), float(pos[1] + 1)

    def _node_positions(self):
        if self.n_grid == 1:
            return np.array([(SCA_PIXELS + 1) / 2])
        return np.linspace(1.0, SCA_PIXELS, self.n_grid)

    def _blend_weights(self, pos):
        """``[(ix, iy, weight), ...]`` of the grid nodes around GalSim position ``pos``."""
        if self.n_grid == 1:
            return [(0, 0, 1.0)]
        spacing = (SCA_PIXELS - 1) / (self.n_grid - 1)
        out = []
        per_axis = []
        for p in pos:
            t = min(max((p - 1.0) / spacing, 0.0), self.n_grid - 1.0)
            i0 = min(int(math.floor(t)), self.n_grid - 2)
            f = t - i0
            per_axis.append([(i0, 1.0 - f), (i0 + 1, f)])
        for ix, wx in per_axis[0]:
            for iy, wy in per_axis[1]:
                if wx * wy > 0:
                    out.append((ix, iy, wx * wy))
        return out

    def _node(self, ix, iy, npix):
        key = (self.sca, self.bandpass, self.pupil_bin, self.wavelengths, self.weights,
               self.extra_aberrations, self.recenter, self.n_grid, ix, iy, npix,
               self.angular_pixel)
        data = _NODES.get(key)
        if data is not None:
            return data
        galsim, _ = _load_galsim()
        nodes = self._node_positions()
        sca_pos = galsim.PositionD(float(nodes[ix]), float(nodes[iy]))
        extra = None if self.extra_aberrations is None else np.array(self.extra_aberrations)
        start = time.perf_counter()
        total = np.zeros((npix, npix))
        try:
            for lam, weight in zip(self.wavelengths, self.weights):
                psf = _get_psf(self.sca, self.bandpass, SCA_pos=sca_pos, pupil_bin=self.pupil_bin,
                               wavelength=float(lam), extra_aberrations=extra)
                offset = (0.0, 0.0)
                if self.recenter:
                    centroid = psf.centroid
                    offset = (-centroid.x / self.angular_pixel, -centroid.y / self.angular_pixel)
                image = psf.drawImage(nx=npix, ny=npix, scale=self.angular_pixel,
                                      method="no_pixel", offset=offset)
                total += weight * image.array
        except OSError as exc:
            msg = f"GalSim's Roman PSF data cannot be read ({exc})"
            raise PSFDataUnavailableError(msg) from exc
        except (galsim.GalSimError, ValueError) as exc:
            msg = f"{self.label}: GalSim cannot make the Roman PSF of SCA {self.sca}: {exc}"
            raise PSFMethodError(msg) from exc
        data = total.astype(np.float32)
        data.setflags(write=False)
        _NODES.put(key, data)
        log.debug("GalSim node SCA %d %s at (%.1f, %.1f): %d wavelengths, %d x %d at %.4f "
                  "arcsec, enclosed %.4f, %.2f s", self.sca, self.bandpass, sca_pos.x,
                  sca_pos.y, len(self.wavelengths), npix, npix, self.angular_pixel,
                  float(total.sum()), time.perf_counter() - start)
        return data

    def angular_psf(self, x, y, *, size):
        """Return the polychromatic angular PSF (no pixel) at array position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's array.
        size : int
            Stamp width (detector pixels) the field must cover.

        Returns
        -------
        spike.psf._angular.AngularPSF
            Columns along GalSim's SCA x axis, rows along its y axis (arcsec).
        """
        npix = int(math.ceil(size * _NOMINAL_SCALE * _FIELD_MARGIN / self.angular_pixel)) | 1
        data = np.zeros((npix, npix))
        for ix, iy, weight in self._blend_weights(self.sca_position(x, y)):
            data += weight * self._node(ix, iy, npix)
        label = f"GalSim Roman SCA{self.sca:02d} {self.bandpass}"
        return AngularPSF(data, self.angular_pixel, self.wavelengths, label)

    def jacobian(self, x, y):
        """Return the 2x2 map from array pixel offsets to GalSim's angular frame (arcsec).

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's array.

        Returns
        -------
        numpy.ndarray
            ``[[du/dx, du/dy], [dv/dx, dv/dy]]``, ``u, v`` along GalSim's SCA axes.
        """
        flipped = _sky_jacobian(self.wcs, x, y) * self._flip[None, :]
        return _stretch(flipped) * self._flip[None, :]

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at array position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's array.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 array in the exposure's
            pixel frame, centred at ``((n - 1) / 2, (n - 1) / 2)`` and summing to
            ``oversampling**2`` times the fraction of the flux inside the stamp.
        """
        from scipy import ndimage

        size = check_size(size)
        if not (np.isfinite(x) and np.isfinite(y)):
            msg = f"Source position must be finite, got ({x}, {y})"
            raise ValueError(msg)
        jac = self.jacobian(float(x), float(y))
        angular = self.angular_psf(float(x), float(y), size=size)
        # uncached: every blended PSF is new, so it must not fill the shared cache
        conv = pixel_convolved.__wrapped__(angular, tuple(jac.ravel()), upsample=_UPSAMPLE)
        n = size * self.oversampling
        u = (np.arange(n) - (n - 1) / 2) / self.oversampling
        uy, ux = np.meshgrid(u, u, indexing="ij")
        col = conv.center + (jac[0, 0] * ux + jac[0, 1] * uy) / conv.pixel
        row = conv.center + (jac[1, 0] * ux + jac[1, 1] * uy) / conv.pixel
        return ndimage.map_coordinates(conv.coeffs, [row, col], output=np.float64, order=3,
                                       prefilter=False, mode="grid-constant", cval=0.0)


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


def _positive_int(name, value):
    try:
        ok = not isinstance(value, (bool, np.bool_)) and int(value) == value and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise ValueError(msg)
    return int(value)
