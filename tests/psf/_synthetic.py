"""Synthetic star fields drawn with a known PSF that has realistic wings (test support).

The PSF is an HST-like diffraction pattern computed with poppy (2.4 m aperture, 0.33
central obscuration, four spider vanes; 5 wavelengths over 0.5-0.7 um; 0.025"/px), blurred
by a Gaussian (charge diffusion, jitter) and integrated over the pixels here: nothing of it
comes from spike's PSF code. Its wings follow the diffraction envelope (about ``r**-3``),
with rings and spikes; 4 % of the light lies beyond 12.5 px.
"""

import functools

import numpy as np

from spike.psf.base import DetectorInfo, ExposurePixels

__all__ = ["SAMPLES", "StarField", "encircled_energy", "hst_wcs", "star_field", "truth_epsf"]

#: Samples per pixel of the truth tables.
SAMPLES = 8
#: Half width (px) of the truth tables.
HALF = 30


@functools.lru_cache(maxsize=4)
def _table(blur):
    """ePSF table (``SAMPLES`` per px, centred) of the PSF blurred by ``blur`` px (sigma)."""
    import poppy
    from scipy import ndimage

    optics = poppy.OpticalSystem(oversample=SAMPLES, npix=256)
    optics.add_pupil(poppy.CompoundAnalyticOptic(opticslist=[
        poppy.CircularAperture(radius=1.2),
        poppy.SecondaryObscuration(secondary_radius=0.396, n_supports=4, support_width=0.0264),
    ], name="HST-like"))
    optics.add_detector(pixelscale=0.025, fov_pixels=2 * HALF + 1)
    waves = np.linspace(0.5e-6, 0.7e-6, 5)
    psf = optics.calc_psf(wavelength=waves, weight=[1.0] * 5, display=False)[0].data
    psf = ndimage.gaussian_filter(psf, blur * SAMPLES, mode="constant")
    # pixel integration: a box one pixel wide, half-weight end taps for the even width
    box = np.ones(SAMPLES + 1)
    box[[0, -1]] = 0.5
    box /= SAMPLES
    psf = ndimage.convolve1d(ndimage.convolve1d(psf, box, axis=0, mode="constant"), box,
                             axis=1, mode="constant")
    # per pixel: the fraction of the flux a detector pixel centred there receives
    return ndimage.spline_filter(psf * SAMPLES**2, order=3, mode="grid-constant")


def _sample(blur, dx, dy):
    """Truth ePSF of ``blur`` at offsets ``(dx, dy)`` px from the star (0 beyond HALF)."""
    from scipy import ndimage

    table = _table(round(float(blur), 4))
    c = (table.shape[0] - 1) / 2
    return ndimage.map_coordinates(table, [np.asarray(dy) * SAMPLES + c,
                                           np.asarray(dx) * SAMPLES + c],
                                   order=3, mode="grid-constant", prefilter=False)


def truth_epsf(size, oversampling, *, blur):
    """The truth on spike's stamp grid: ``(size * oversampling)``-square, centred."""
    u = (np.arange(size * oversampling) - (size * oversampling - 1) / 2) / oversampling
    dx, dy = np.meshgrid(u, u)
    return _sample(blur, dx, dy) * oversampling**2


def encircled_energy(epsf, oversampling, radii, *, norm):
    """EE(r) / EE(norm) of a centred ePSF array (sums of samples within each radius)."""
    n = epsf.shape[0]
    u = (np.arange(n) - (n - 1) / 2) / oversampling
    r = np.hypot(u[None, :], u[:, None])
    total = epsf[r <= norm].sum()
    return np.array([epsf[r <= q].sum() / total for q in radii])


class StarField:
    """A simulated exposure: ``detector`` (with pixels), truth ``xy``, ``flux`` and ``blur``.

    ``blur = (left, right)``: the blur (px) grows linearly from the left to the right edge.
    """

    def __init__(self, detector, xy, flux, blur):
        self.detector, self.xy, self.flux, self.blur = detector, xy, flux, blur

    def truth(self, x, size, oversampling):
        """The truth ePSF at column ``x`` on spike's stamp grid (see `truth_epsf`)."""
        t = x / (self.detector.shape[1] - 1)
        left, right = (truth_epsf(size, oversampling, blur=b) for b in self.blur)
        return (1 - t) * left + t * right


def _add_stars(image, xy, flux, blur, half):
    """Add stars (truth ePSF, ``half`` px boxes) to ``image`` in place, all at once."""
    ny, nx = image.shape
    off = np.arange(-half, half + 1)
    cols = np.floor(xy[:, 0]).astype(int)[:, None, None] + off[None, None, :]
    rows = np.floor(xy[:, 1]).astype(int)[:, None, None] + off[None, :, None]
    cols, rows = np.broadcast_arrays(cols, rows)
    dx, dy = cols - xy[:, 0, None, None], rows - xy[:, 1, None, None]
    t = (xy[:, 0] / (nx - 1))[:, None, None]
    values = (1 - t) * _sample(blur[0], dx, dy) + t * _sample(blur[1], dx, dy)
    ok = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    np.add.at(image, (rows[ok], cols[ok]), (flux[:, None, None] * values)[ok])


def hst_wcs(shape, scale=0.025):
    """A TAN WCS of ``scale`` arcsec square pixels, north up (for the ``optical`` model)."""
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [6.02, -72.08]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = np.array([[-scale, 0.0], [0.0, scale]]) / 3600.0
    return wcs


def star_field(*, shape=(768, 768), n_bright=260, n_faint=2500, sky=200.0, seed=7,
               blur=(0.3, 0.3)):
    """An ACS/HRC-like F606W exposure of stars with the truth PSF (see the module docstring).

    Bright stars (1e4.5 to 1e6 e) and faint neighbours (1e2.5 to 1e4 e) at random sub-pixel
    positions over a sky of ``sky`` e, with Poisson and 4 e read noise; a TAN WCS of
    0.025"/px so that the ``optical`` model can supply the wings.
    """
    rng = np.random.default_rng(seed)
    ny, nx = shape
    image = np.full(shape, sky)
    xy = rng.uniform(8, nx - 8, (n_bright + n_faint, 2))
    flux = np.concatenate([10 ** rng.uniform(4.5, 6.0, n_bright),
                           10 ** rng.uniform(2.5, 4.0, n_faint)])
    _add_stars(image, xy[:n_bright], flux[:n_bright], blur, 24)
    _add_stars(image, xy[n_bright:], flux[n_bright:], blur, 8)
    data = rng.poisson(image).astype(float) + rng.normal(0.0, 4.0, shape)
    pixels = ExposurePixels(data=data, good=np.ones(shape, bool), err=np.sqrt(image + 16.0),
                            saturated=np.zeros(shape, bool))
    detector = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                            pupil=None, wcs=hst_wcs(shape), shape=shape,
                            filename="synthetic_wings_flt.fits", pixels=lambda: pixels,
                            extra={"pa_v3": 0.0})
    return StarField(detector, xy, flux, blur)
