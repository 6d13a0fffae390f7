"""The Roman truth PSF: GalSim's Roman model drawn by GalSim, plus jitter, charge diffusion,
IPC and extra aberrations.

Used by `spike.datasets.truth_psf.RomanTruthPSFMethod` (see its docstring for the numbers
and their sources). GalSim does the chromatic integration over its own Roman bandpass, the
pixel convolution and the sampling (``drawImage`` with the exposure's local Jacobian);
nothing here uses ``spike.psf`` code other than the exception classes.

Frames: GalSim's Roman PSF is oriented along the SCA pixel axes of GalSim's frame, the SIAF
*detector* frame; simulated L2 arrays are in the SIAF *science* frame. pysiaf's
``DetSciYAngle`` gives the flip between them: 0 -> the x axis is mirrored, 180 -> the y axis
is. (The flip's presence is checked against GalSim's own WCS in the tests.)
"""

import functools
import logging

import numpy as np

from spike.datasets._truth_sampling import apply_ipc, core_centroid, recentre
from spike.exceptions import PSFDataUnavailableError, PSFMethodError

__all__ = ["GALSIM_BANDS", "SCA_PIXELS", "draw_epsf", "galsim_position", "ipc_kernel_galsim",
           "load_galsim", "local_jacobian", "sca_flip"]

log = logging.getLogger(__name__)

#: Pixels along each side of a Roman SCA (``galsim.roman.n_pix``).
SCA_PIXELS = 4088
#: Roman optical element -> GalSim bandpass name.
GALSIM_BANDS = {"F062": "R062", "F087": "Z087", "F106": "Y106", "F129": "J129",
                "F146": "W146", "F158": "H158", "F184": "F184", "F213": "K213"}
#: Half width (pixels) of the box whose 2-D Gaussian centroid is a star's position.
CENTROID_HALF_BOX = 4.5
#: Wavelength (nm) in whose waves GalSim's ``extra_aberrations`` are given.
ABERRATION_WAVELENGTH = 1293.0


def load_galsim():
    """Import ``galsim`` and ``galsim.roman``, or raise `PSFDataUnavailableError`."""
    try:
        import galsim
        import galsim.roman
    except ImportError as exc:
        msg = f"the Roman truth PSF needs GalSim ({exc}); pip install galsim"
        raise PSFDataUnavailableError(msg) from exc
    return galsim


@functools.lru_cache(maxsize=18)
def sca_flip(sca):
    """Diagonal ``(fx, fy)`` of the map from science-frame to GalSim-frame pixel axes.

    Parameters
    ----------
    sca : int
        SCA number 1..18.

    Returns
    -------
    tuple of int
        ``(-1, 1)`` when pysiaf's ``DetSciYAngle`` is 0, ``(1, -1)`` when it is 180.
    """
    import pysiaf

    angle = float(pysiaf.Siaf("Roman")[f"WFI{sca:02d}_FULL"].DetSciYAngle) % 360
    return (-1, 1) if abs(angle) < 1 else (1, -1)


def ipc_kernel_galsim(flip=(1, 1)):
    """GalSim's Roman IPC kernel in the convention of `_truth_sampling.apply_ipc`.

    ``galsim.roman.ipc_kernel[1 + d]`` is what a pixel *receives* from its neighbour at
    offset ``d`` (``Image.applyIPC``); `apply_ipc` wants what a pixel *gives* to the
    neighbour at ``+d``, hence the point reflection; ``flip`` then maps GalSim's frame to
    the exposure's.

    Parameters
    ----------
    flip : tuple of int, optional
        Diagonal of the GalSim -> exposure axis map (see `sca_flip`).

    Returns
    -------
    numpy.ndarray
    """
    kernel = np.asarray(load_galsim().roman.ipc_kernel.array, dtype=float)[::-1, ::-1]
    if flip[0] < 0:
        kernel = kernel[:, ::-1]
    if flip[1] < 0:
        kernel = kernel[::-1, :]
    return kernel / kernel.sum()


@functools.lru_cache(maxsize=64)
def draw_epsf(sca, band, sca_pos, jacobian, *, size, oversampling, pupil_bin, extra_nm,
              blur_arcsec, ipc_flip, recenter):
    """GalSim's chromatic Roman PSF as an oversampled ePSF on the exposure's pixel grid.

    Parameters
    ----------
    sca : int
        SCA number.
    band : str
        GalSim bandpass name (``H158``).
    sca_pos : tuple of float
        GalSim's 1-based ``SCA_pos`` in GalSim's frame.
    jacobian : tuple of float
        ``(du/dx, du/dy, dv/dx, dv/dy)``: exposure pixel offsets -> arcsec along GalSim's
        SCA axes.
    size, oversampling : int
        Stamp width (detector pixels) and samples per pixel.
    pupil_bin : int
        Binning of GalSim's pupil images.
    extra_nm : tuple of (int, float)
        ``(Noll index, nm rms)`` pairs added to the design aberrations.
    blur_arcsec : float
        Sigma (arcsec) of a Gaussian blur (jitter and charge diffusion in quadrature).
    ipc_flip : tuple of int or None
        Apply GalSim's IPC kernel with this frame flip; None: no IPC.
    recenter : bool
        Shift the result so that its core's 2-D Gaussian centroid (`CENTROID_HALF_BOX`) is
        at the array centre.

    Returns
    -------
    numpy.ndarray
        Read-only ePSF normalised as `spike.psf.base` requires.
    """
    galsim = load_galsim()
    roman = galsim.roman
    extra = None
    if extra_nm:
        extra = np.zeros(23)
        for noll, nm in extra_nm:
            extra[noll] = nm / ABERRATION_WAVELENGTH
    # GalSim's own thinning: 31 instead of 61 wavelengths for H158, 6e-5 of the peak
    bandpass = roman.getBandpasses()[band].thin(rel_err=1e-3)
    try:
        psf = roman.getPSF(sca, band, SCA_pos=galsim.PositionD(*sca_pos), pupil_bin=pupil_bin,
                           extra_aberrations=extra)
    except OSError as exc:
        msg = f"GalSim's Roman PSF data cannot be read ({exc})"
        raise PSFDataUnavailableError(msg) from exc
    except (galsim.GalSimError, ValueError) as exc:
        msg = f"GalSim cannot make the Roman PSF of SCA {sca} {band}: {exc}"
        raise PSFMethodError(msg) from exc
    native = galsim.JacobianWCS(*jacobian)
    parts = [galsim.DeltaFunction() * galsim.SED("1", "nm", "fnu").withFlux(1.0, bandpass),
             psf, native.toWorld(galsim.Pixel(1.0))]
    if blur_arcsec > 0:
        parts.append(galsim.Gaussian(sigma=blur_arcsec))
    n = int(size) * int(oversampling)
    fine = galsim.JacobianWCS(*(np.asarray(jacobian) / oversampling))
    image = galsim.Convolve(parts).drawImage(bandpass, nx=n, ny=n, wcs=fine, method="no_pixel")
    epsf = image.array.astype(float) * oversampling**2
    if ipc_flip is not None:
        epsf = apply_ipc(epsf, ipc_kernel_galsim(ipc_flip), oversampling)
    if recenter:
        for _ in range(2):  # the fit's box is fixed: a second pass removes the residual
            cx, cy = core_centroid(epsf, round(CENTROID_HALF_BOX * oversampling))
            epsf = recentre(epsf, ((n - 1) / 2 - cx, (n - 1) / 2 - cy))
    log.debug("Roman truth SCA %d %s at (%.0f, %.0f): sum %.4f", sca, band, *sca_pos,
              epsf.sum() / oversampling**2)
    epsf.setflags(write=False)
    return epsf


def local_jacobian(frame, x, y, flip):
    """Exposure pixel offsets -> arcsec along GalSim's SCA axes, at array position (x, y).

    The local detector -> V2V3 Jacobian ``J`` of the exposure, seen from GalSim's frame
    (``J F``), is reduced to its stretch ``S = sqrt((J F)^T (J F))`` (local pixel scales and
    skew, no rotation: GalSim's PSF is fixed to the SCA axes); exposure offsets ``d`` map to
    ``S F d``.

    Parameters
    ----------
    frame : spike.psf._geometry.LocalFrame
        The exposure's detector -> V2V3 Jacobians.
    x, y : float
        0-based array position.
    flip : tuple of int
        See `sca_flip`.

    Returns
    -------
    numpy.ndarray
        2 x 2.
    """
    flip_matrix = np.diag(np.asarray(flip, dtype=float))
    jf = frame.jacobian(float(x), float(y)) @ flip_matrix
    values, vectors = np.linalg.eigh(jf.T @ jf)
    stretch = (vectors * np.sqrt(values)) @ vectors.T
    return stretch @ flip_matrix


def galsim_position(x, y, origin, flip, cell):
    """GalSim's 1-based ``SCA_pos`` of 0-based array position ``(x, y)``, snapped to a cell.

    Parameters
    ----------
    x, y : float
        0-based position in the exposure's array.
    origin : tuple of float
        0-based origin of the array in the SCA (science frame).
    flip : tuple of int
        See `sca_flip`.
    cell : int
        Positions are snapped to the centre of ``cell`` x ``cell`` pixel cells of the
        science frame, one of which is centred on the SCA (1: not snapped).

    Returns
    -------
    science : tuple of float
        The snapped 0-based science-frame SCA position.
    galsim : tuple of float
        Its GalSim ``SCA_pos``.
    """
    sci = np.array([x + origin[0], y + origin[1]], dtype=float)
    if cell > 1:  # cells centred on the SCA centre
        centre = (SCA_PIXELS - 1) / 2
        sci = np.round((sci - centre) / cell) * cell + centre
    gal = [SCA_PIXELS - v if f < 0 else v + 1 for v, f in zip(sci, flip, strict=True)]
    return (float(sci[0]), float(sci[1])), (float(gal[0]), float(gal[1]))

