"""Diffraction-limited PSFs on a V2V3-aligned angular grid, and their pixel-integrated form.

Two cached products:

* `angular_psf` (once per pupil, band, number of wavelengths and field): the polychromatic
  Fraunhofer PSF ``|FT(pupil)|^2`` averaged over a top-hat band, computed with a matrix
  Fourier transform (MFT) on a grid slightly finer than Nyquist for the shortest
  wavelength. Columns run along +V2, rows along +V3, the PSF centre is the central sample
  and each sample holds the fraction of the source flux falling in that cell, so the
  array sums to the (physical, < 1) fraction of the flux inside the field. The pupil is
  sampled finely enough that the periodic copies the MFT of a sampled pupil makes (period
  ``lambda / dx``) lie at least 1.5 fields away.
* `pixel_convolved` (once per angular PSF and detector-pixel footprint): the same PSF
  convolved with the footprint of one detector pixel in V2V3 (the parallelogram spanned by
  the columns of the local detector -> V2V3 Jacobian), done exactly in Fourier space,
  then Fourier-upsampled and turned into cubic-spline coefficients so it can be sampled
  at arbitrary angular positions. Its values are effective-PSF values: the fraction of the
  flux falling in a detector pixel centred at that position. Large fields (HST's UV
  filters on big pixels) are upsampled less, with quintic instead of cubic splines, which
  keeps the interpolation error near 1e-5 of the peak with a quarter of the memory.
"""

import functools
import logging
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["AngularPSF", "PixelConvolvedPSF", "angular_psf", "pixel_convolved"]

log = logging.getLogger(__name__)

_ARCSEC_PER_RAD = 180.0 / math.pi * 3600.0
#: Default pupil sampling (samples across ``PupilSpec.size``).
_PUPIL_NPIX = 512
#: The MFT's periodic copies of the PSF are kept this many field widths away.
_ALIAS_MARGIN = 1.5


@dataclass(frozen=True, eq=False)
class AngularPSF:
    """A polychromatic PSF sampled on a square V2V3 grid.

    Attributes
    ----------
    data : numpy.ndarray
        ``(n, n)`` array, ``n`` odd, rows along +V3 and columns along +V2; the PSF centre is
        at index ``(n - 1) // 2``; sums to the flux fraction inside the field.
    pixel : float
        Grid spacing in arcsec.
    wavelengths : tuple of float
        Wavelengths (microns) averaged with equal weights.
    label : str
        Pupil and band, for messages.
    """

    data: np.ndarray
    pixel: float
    wavelengths: tuple
    label: str

    @property
    def enclosed(self):
        """Fraction of the source flux inside the computed field."""
        return float(self.data.sum())

    @property
    def half_width(self):
        """Half width of the computed field, in arcsec."""
        return (self.data.shape[0] - 1) / 2 * self.pixel


@dataclass(frozen=True, eq=False)
class PixelConvolvedPSF:
    """Spline coefficients of the pixel-integrated PSF on a fine V2V3 grid.

    Attributes
    ----------
    coeffs : numpy.ndarray
        Cubic-spline coefficients (``scipy.ndimage`` convention, mode ``grid-constant``),
        float32.
    center : float
        Index of the PSF centre along both axes.
    pixel : float
        Grid spacing in arcsec.
    jacobian : numpy.ndarray
        The 2x2 detector -> V2V3 Jacobian (arcsec per pixel) of the pixel footprint used.
    half_width : float
        Half width in arcsec of the field holding valid values.
    order : int
        Spline order of ``coeffs`` (3 or 5).
    """

    coeffs: np.ndarray
    center: float
    pixel: float
    jacobian: np.ndarray
    half_width: float
    order: int = 3

    @property
    def pixel_area(self):
        """Area of the detector pixel footprint, in arcsec^2."""
        return abs(float(np.linalg.det(self.jacobian)))


def _mft_intensity(pupil, wavelength_m, theta_arcsec):
    """Monochromatic PSF on the square grid ``theta x theta``, as flux fraction per cell.

    ``theta_arcsec`` must be symmetric about 0 (as the grids built here are): the pupil
    amplitude is real, so ``E(-theta) = conj(E(theta))`` and only the rows up to the centre
    are computed, the others are their point reflection.
    """
    theta = np.asarray(theta_arcsec) / _ARCSEC_PER_RAD
    n = theta.size
    half = (n + 1) // 2
    kernel = -2j * np.pi / wavelength_m
    ay = np.exp(kernel * np.outer(theta[:half], pupil.y))
    ax = np.exp(kernel * np.outer(pupil.x, theta))
    field = ay @ (pupil.amplitude @ ax)
    cell = (theta[1] - theta[0]) ** 2
    # |E|^2 dx^4 / lambda^2 is the intensity per steradian for unit incident flux density;
    # dividing by the collecting area normalises the total to 1.
    norm = pupil.pixel**4 * cell / (wavelength_m**2 * pupil.area)
    top = (field.real**2 + field.imag**2) * norm
    return np.concatenate([top, top[: n - half][::-1, ::-1]])


def _pupil_npix(pupil_spec, lam_min_m, fov_arcsec):
    """Pupil samples needed so the MFT's PSF copies stay `_ALIAS_MARGIN` fields away."""
    dx_max = lam_min_m * _ARCSEC_PER_RAD / (_ALIAS_MARGIN * fov_arcsec)
    needed = pupil_spec.size / dx_max
    if needed <= _PUPIL_NPIX:
        return _PUPIL_NPIX
    return int(64 * math.ceil(needed / 64))


@functools.lru_cache(maxsize=32)
def angular_psf(pupil_spec, band, nlambda, fov_arcsec, *, nyquist_factor=1.1):
    """Compute (and cache) the polychromatic diffraction-limited PSF of a band.

    Parameters
    ----------
    pupil_spec : spike.psf._pupils.PupilSpec
        Telescope pupil.
    band : spike.psf._bands.Band
        Top-hat band.
    nlambda : int
        Number of wavelengths across the band (equal weights).
    fov_arcsec : float
        Full width of the square field, in arcsec.
    nyquist_factor : float, optional
        Sampling is this many times finer than Nyquist at the shortest wavelength.

    Returns
    -------
    AngularPSF
    """
    from spike.psf._pupils import sample_pupil

    wavelengths = band.wavelengths(nlambda)
    lam_min = min(wavelengths) * 1e-6
    pupil = sample_pupil(pupil_spec, npix=_pupil_npix(pupil_spec, lam_min, fov_arcsec))
    pixel = lam_min / (2 * pupil.diameter) * _ARCSEC_PER_RAD / nyquist_factor
    n = int(math.ceil(fov_arcsec / pixel)) | 1
    theta = (np.arange(n) - (n - 1) / 2) * pixel
    data = np.zeros((n, n))
    for lam in wavelengths:
        data += _mft_intensity(pupil, lam * 1e-6, theta)
    data /= len(wavelengths)
    data.setflags(write=False)
    label = f"{pupil_spec.name} {band.instrument} {band.name}"
    log.debug(
        "Angular PSF %s: %d wavelengths %.3f-%.3f um, %d x %d at %.5f arcsec, enclosed %.4f",
        label, nlambda, min(wavelengths), max(wavelengths), n, n, pixel, data.sum(),
    )
    return AngularPSF(data, pixel, tuple(wavelengths), label)


@functools.lru_cache(maxsize=16)
def pixel_convolved(angular, jacobian, *, upsample=4, max_size=None):
    """Convolve an angular PSF with a detector pixel footprint and prepare interpolation.

    Parameters
    ----------
    angular : AngularPSF
        The PSF.
    jacobian : tuple of float
        ``(dv2/dx, dv2/dy, dv3/dx, dv3/dy)`` in arcsec per detector pixel.
    upsample : int, optional
        Fourier upsampling factor applied before building the spline (4 keeps the cubic
        spline interpolation error near 1e-5 of the peak).
    max_size : int or None, optional
        Largest side of the upsampled grid. When ``upsample`` would exceed it, the factor
        is lowered (to no less than 2) and quintic splines are used instead of cubic ones
        (at 2, about 1e-5 of the peak as well).

    Returns
    -------
    PixelConvolvedPSF
    """
    from scipy import ndimage

    jac = np.asarray(jacobian, dtype=float).reshape(2, 2)
    dth = angular.pixel
    # zero margin so the circular convolution does not wrap PSF wings around
    margin = int(math.ceil(np.abs(jac).sum(axis=1).max() / dth)) + 2
    psf = np.pad(angular.data, margin)
    n = psf.shape[0]  # odd: no Nyquist bin, so zero padding keeps the spectrum Hermitian
    order = 3
    if max_size is not None and n * upsample > max_size:
        upsample = max(2, min(upsample, int(max_size) // n))
        order = 5
    spectrum = np.fft.rfft2(np.fft.ifftshift(psf))
    fy, fx = np.meshgrid(np.fft.fftfreq(n, d=dth), np.fft.rfftfreq(n, d=dth), indexing="ij")
    # Fourier transform of the pixel footprint theta = J u, u in [-1/2, 1/2]^2
    footprint = abs(np.linalg.det(jac)) * np.sinc(fx * jac[0, 0] + fy * jac[1, 0])
    footprint *= np.sinc(fx * jac[0, 1] + fy * jac[1, 1])
    spectrum *= footprint / dth**2
    m = n * upsample
    h = (n + 1) // 2  # non-negative frequencies along each axis
    padded = np.zeros((m, m // 2 + 1), dtype=complex)
    padded[:h, :h] = spectrum[:h]
    padded[m - (n - h) :, :h] = spectrum[h:]
    fine = np.fft.fftshift(np.fft.irfft2(padded, s=(m, m))) * upsample**2
    del padded, spectrum
    # float32 halves the memory of the cache; interpolation errors stay < 1e-7 of the peak
    coeffs = ndimage.spline_filter(fine, order=order, mode="grid-constant").astype(np.float32)
    coeffs.setflags(write=False)
    return PixelConvolvedPSF(
        coeffs=coeffs,
        center=float(m // 2),
        pixel=dth / upsample,
        jacobian=jac,
        half_width=angular.half_width,
        order=order,
    )
