"""Helpers for the PSF back-end tests: small synthetic gwcs objects, detectors and PSFs."""

import numpy as np

from spike.psf.base import DetectorInfo

__all__ = ["centroid", "gaussian_psf", "make_detector", "make_gwcs"]


def make_gwcs(*, scale=0.031, rotation=0.0, scale_y=None, shape=(2048, 2048),
              crval=(53.16, -27.78), roll=0.0, v2v3=True):
    """Return a gwcs detector -> v2v3 -> world with a linear detector -> V2V3 map.

    Parameters
    ----------
    scale, scale_y : float
        Pixel scale along x (and y, default the same) in arcsec.
    rotation : float
        Rotation (deg, counter-clockwise) of the detector axes in the V2V3 frame.
    shape : tuple of int
        ``(ny, nx)``; the detector centre maps to V2V3 = (0, 0).
    crval : tuple of float
        Sky position (deg) of V2V3 = (0, 0).
    roll : float
        V3 position angle on the sky (deg).
    v2v3 : bool
        If False, return a gwcs with only ``detector`` and ``world`` frames.
    """
    import astropy.units as u
    from astropy.coordinates import ICRS
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs import wcs as gwcs_wcs

    scale_y = scale if scale_y is None else scale_y
    th = np.radians(rotation)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    matrix = rot @ np.diag([scale, scale_y])
    ny, nx = shape
    det2v = (models.Shift(-(nx - 1) / 2) & models.Shift(-(ny - 1) / 2)) | (
        models.AffineTransformation2D(matrix=matrix, translation=[0.0, 0.0])
    )
    # V2 is east-like and V3 north-like at roll 0; roll turns V3 from north through east
    pa = np.radians(roll)
    sky_rot = np.array([[np.cos(pa), np.sin(pa)], [-np.sin(pa), np.cos(pa)]])
    v2world = (
        models.AffineTransformation2D(matrix=sky_rot / 3600.0, translation=[0.0, 0.0])
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(crval[0], crval[1], 180.0)
    )
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3_frame = cf.Frame2D(name="v2v3", axes_order=(0, 1), unit=(u.arcsec, u.arcsec))
    world = cf.CelestialFrame(name="world", reference_frame=ICRS(), unit=(u.deg, u.deg))
    if v2v3:
        pipeline = [(detector, det2v), (v2v3_frame, v2world), (world, None)]
    else:
        pipeline = [(detector, det2v | v2world), (world, None)]
    return gwcs_wcs.WCS(pipeline)


def make_detector(*, instrument="NIRCAM", detector="NRCA1", filter="F200W", pupil="CLEAR",
                  mission="jwst", filename="jw01234001001_01101_00001_nrca1_cal.fits",
                  shape=(2048, 2048), extra=None, **wcs_kwargs):
    """Return a `DetectorInfo` with a synthetic gwcs (see `make_gwcs`)."""
    wcs = make_gwcs(shape=shape, **wcs_kwargs)
    return DetectorInfo(mission=mission, instrument=instrument, detector=detector,
                        filter=filter, pupil=pupil, wcs=wcs, shape=shape,
                        filename=filename, extra=dict(extra or {}))


def gaussian_psf(shape, *, sigma, center=None, total=1.0):
    """Return a 2-D Gaussian array of ``shape`` summing to ``total``.

    ``sigma`` and ``center`` (x, y) are in array samples; the default centre is the array
    centre ``((nx - 1) / 2, (ny - 1) / 2)``.
    """
    ny, nx = shape
    cx, cy = ((nx - 1) / 2, (ny - 1) / 2) if center is None else center
    yy, xx = np.mgrid[:ny, :nx]
    g = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
    return g * (total / g.sum())


def centroid(a):
    """Return the ``(x, y)`` centroid of array ``a`` relative to its centre, in samples."""
    ny, nx = a.shape
    yy, xx = np.mgrid[:ny, :nx]
    s = a.sum()
    return (a * xx).sum() / s - (nx - 1) / 2, (a * yy).sum() / s - (ny - 1) / 2
