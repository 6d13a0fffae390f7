"""`GalSimPSFModel`: GalSim Roman ePSFs of one exposure, and the WCS geometry they need.

Grid nodes of polychromatic angular PSFs (cached in ``spike.psf.galsim_method._NODES``),
their bilinear blending, the exposure's local Jacobian reduced to its stretch, the flip
between the exposure's pixel frame and GalSim's SCA frame, and the pixel convolution. See
the docstring of `spike.psf.galsim_method` ("Frames and positions", "Caching").

GalSim is reached through the seams of `spike.psf.galsim_method` (``_load_galsim``,
``_get_psf``, ``_NODES``), looked up there at call time so that tests can replace them.
"""

import logging
import math
import time

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._angular import AngularPSF, pixel_convolved
from spike.psf._epsf import check_size
from spike.psf.base import PSFModel

__all__ = ["GalSimPSFModel"]

log = logging.getLogger(__name__)

#: Pixels along each side of a Roman SCA (GalSim's ``galsim.roman.n_pix``).
SCA_PIXELS = 4088
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
_ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0


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
        from spike.psf import galsim_method as seams

        diameter = seams._load_galsim()[1].diameter
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
        # the seams live in galsim_method (tests replace _get_psf and _NODES there)
        from spike.psf import galsim_method as seams

        data = seams._NODES.get(key)
        if data is not None:
            return data
        galsim, _ = seams._load_galsim()
        nodes = self._node_positions()
        sca_pos = galsim.PositionD(float(nodes[ix]), float(nodes[iy]))
        extra = None if self.extra_aberrations is None else np.array(self.extra_aberrations)
        start = time.perf_counter()
        total = np.zeros((npix, npix))
        try:
            for lam, weight in zip(self.wavelengths, self.weights):
                psf = seams._get_psf(self.sca, self.bandpass, SCA_pos=sca_pos,
                                     pupil_bin=self.pupil_bin, wavelength=float(lam),
                                     extra_aberrations=extra)
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
        seams._NODES.put(key, data)
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
