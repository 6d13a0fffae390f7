"""SIAF distortion polynomials as astropy models, and the level-2 gwcs built from them.

Shared by the JWST (`spike.datasets._jwst_wcs`) and Roman (`spike.datasets._roman_wcs`)
factories, whose imaging gwcs follow the same pipeline::

    detector (0-based data pixels)
      -> + array origin + 1 - (XSciRef, YSciRef)     -> SIAF "science" frame offsets
      -> SIAF Sci->Idl polynomials                   -> ideal frame (arcsec)
      -> Idl->V2V3 (VIdlParity, V3IdlYAngle, V2Ref/V3Ref)          [frame "v2v3"]
      -> velocity aberration (identity, scale 1)                    [frame "v2v3vacorr"]
      -> V2V3 -> sky rotation                                       [frame "world"]

The SIAF Idl->Sci polynomials give the inverse. They are not an exact inverse of Sci->Idl,
so `sci_to_idl` appends a correction polynomial, fitted over the data array, whenever their
round trip exceeds `INVERSE_TOL`. Arguments named ``ap`` are `pysiaf` apertures (or any
objects with their attributes), and ``origin`` is the 0-based ``(x, y)`` of a data array's
first pixel in the aperture's science frame. Nothing here imports a mission package.
"""

import logging

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import models as am
from gwcs import coordinate_frames as cf
from gwcs import wcs as gwcs_wcs
from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

__all__ = [
    "INVERSE_TOL",
    "detector_to_v2v3",
    "fit_polynomial_pair",
    "idl_to_v2v3",
    "level2_gwcs",
    "pixel_to_v2v3",
    "sci_to_idl",
    "sci_to_idl_forward",
    "siaf_polynomial",
    "v2v3_to_sky",
]

log = logging.getLogger(__name__)

#: Largest accepted round-trip error of the inverse, in pixels, before a correction is fitted.
INVERSE_TOL = 2e-5


def siaf_polynomial(ap, label, degree):
    """Return the SIAF coefficients ``<label>{i}{j}`` as an astropy polynomial.

    Parameters
    ----------
    ap : object
        SIAF aperture holding the coefficients.
    label : str
        Coefficient prefix (``"Sci2IdlX"``, ``"Idl2SciY"``...); coefficient ``<label>{i}{j}``
        multiplies ``x**(i-j) * y**j``.
    degree : int
        Polynomial degree (``ap.Sci2IdlDeg``).

    Returns
    -------
    `~astropy.modeling.polynomial.Polynomial2D`
        Named ``label``.
    """
    coeffs = {}
    for i in range(degree + 1):
        for j in range(i + 1):
            coeffs[f"c{i - j}_{j}"] = float(getattr(ap, f"{label}{i}{j}"))
    return am.Polynomial2D(degree, name=label, **coeffs)


def fit_polynomial_pair(u_in, v_in, x_out, y_out, degree):
    """Fit least-squares polynomials ``(u, v) -> (x, y)``, with centred and scaled inputs.

    Parameters
    ----------
    u_in, v_in : `numpy.ndarray`
        Input coordinates (1-D, same length).
    x_out, y_out : `numpy.ndarray`
        Target coordinates at the inputs.
    degree : int
        Degree of both polynomials.

    Returns
    -------
    `~astropy.modeling.Model`
        Two inputs, two outputs: shift and scale of the inputs, then the two polynomials.
    """
    cu, cv = float(np.mean(u_in)), float(np.mean(v_in))
    scale = float(max(np.ptp(u_in), np.ptp(v_in))) / 2 or 1.0
    us, vs = (u_in - cu) / scale, (v_in - cv) / scale
    terms = [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]
    design = np.stack([us**i * vs**j for i, j in terms], axis=-1)
    polys = []
    for target in (x_out, y_out):
        coef = np.linalg.lstsq(design, target, rcond=None)[0]
        polys.append(
            am.Polynomial2D(
                degree, **{f"c{i}_{j}": c for (i, j), c in zip(terms, coef, strict=True)}
            )
        )
    normalise = (am.Shift(-cu) & am.Shift(-cv)) | (am.Scale(1 / scale) & am.Scale(1 / scale))
    return normalise | am.Mapping((0, 1, 0, 1)) | (polys[0] & polys[1])


def sci_to_idl_forward(ap):
    """Return the SIAF Sci->Idl polynomials of ``ap`` (science-frame offsets -> ideal arcsec).

    The model has no inverse; `sci_to_idl` adds one.
    """
    degree = int(ap.Sci2IdlDeg)
    return am.Mapping((0, 1, 0, 1)) | (
        siaf_polynomial(ap, "Sci2IdlX", degree) & siaf_polynomial(ap, "Sci2IdlY", degree)
    )


def sci_to_idl(ap, x_off, y_off, shape):
    """Return the Sci->Idl model with an inverse accurate over the data array.

    Parameters
    ----------
    ap : object
        `pysiaf` aperture.
    x_off, y_off : float
        Science-frame offsets of data pixel ``(0, 0)``: ``origin + 1 - (XSciRef, YSciRef)``.
    shape : tuple of int
        ``(ny, nx)`` of the data array.

    Returns
    -------
    `~astropy.modeling.Model`
        Named ``"sci_to_idl"``. Its inverse is the SIAF Idl->Sci polynomials, followed by a
        fitted correction when their round trip over the array (plus 8 px) exceeds
        `INVERSE_TOL` pixels.
    """
    degree = int(ap.Sci2IdlDeg)
    forward = sci_to_idl_forward(ap)
    inverse = am.Mapping((0, 1, 0, 1)) | (
        siaf_polynomial(ap, "Idl2SciX", degree) & siaf_polynomial(ap, "Idl2SciY", degree)
    )
    # Test the SIAF inverse over the data array (plus a margin) in science-frame offsets.
    ny, nx = shape
    margin = 8.0
    grid = np.meshgrid(
        np.linspace(-0.5 - margin, nx - 0.5 + margin, 41) + x_off,
        np.linspace(-0.5 - margin, ny - 0.5 + margin, 41) + y_off,
    )
    sx, sy = (g.ravel() for g in grid)
    ix, iy = inverse(*forward(sx, sy))
    error = float(np.max(np.hypot(ix - sx, iy - sy)))
    if error > INVERSE_TOL:
        for degree_fit in range(2, 10):
            correction = fit_polynomial_pair(ix, iy, sx, sy, degree_fit)
            cx, cy = correction(ix, iy)
            new_error = float(np.max(np.hypot(cx - sx, cy - sy)))
            if new_error < INVERSE_TOL / 4:
                break
        log.debug(
            "%s: SIAF Idl2Sci round trip %.2g px; corrected to %.2g px (degree %d)",
            ap.AperName, error, new_error, degree_fit,
        )
        inverse = inverse | correction
    forward.inverse = inverse
    forward.name = "sci_to_idl"
    return forward


def idl_to_v2v3(ap):
    """Return the planar Idl->V2V3 model of ``ap`` (arcsec to arcsec, ``"idl_to_v2v3"``).

    The affine transformation of JWST-STScI-001550, V2Ref/V3Ref shift included.
    """
    angle = np.deg2rad(ap.V3IdlYAngle)
    parity = ap.VIdlParity
    matrix = [
        [parity * np.cos(angle), np.sin(angle)],
        [-parity * np.sin(angle), np.cos(angle)],
    ]
    return am.AffineTransformation2D(
        matrix=matrix, translation=[ap.V2Ref, ap.V3Ref], name="idl_to_v2v3"
    )


def v2v3_to_sky(v2_ref, v3_ref, roll_ref, ra_ref, dec_ref):
    """Return V2V3 (arcsec) -> ICRS (deg), exactly as ``jwst.assign_wcs.pointing.v23tosky``.

    Parameters
    ----------
    v2_ref, v3_ref : float
        V2V3 point (arcsec) ...
    roll_ref : float
        ... where V3 has this position angle (deg, North through East) ...
    ra_ref, dec_ref : float
        ... and which sees this ICRS position (deg).

    Returns
    -------
    `~astropy.modeling.Model`
        Named ``"v23tosky"``.
    """
    angles = np.array([v2_ref / 3600, -v3_ref / 3600, roll_ref, dec_ref, -ra_ref])
    rotation = am.RotationSequence3D(angles, axes_order="zyxyz")
    model = (
        (am.Scale(1 / 3600) & am.Scale(1 / 3600))
        | SphericalToCartesian(wrap_lon_at=180)
        | rotation
        | CartesianToSpherical(wrap_lon_at=360)
    )
    model.name = "v23tosky"
    return model


def _sci_offsets(ap, origin):
    """Science-frame offsets ``(x_off, y_off)`` of data pixel ``(0, 0)`` at ``origin``."""
    return origin[0] + 1 - ap.XSciRef, origin[1] + 1 - ap.YSciRef


def detector_to_v2v3(ap, shape, *, origin, shift_names, name=None):
    """Return the data pixels -> V2V3 (arcsec) model of an array in aperture ``ap``.

    Parameters
    ----------
    ap : object
        `pysiaf` aperture.
    shape : tuple of int
        ``(ny, nx)`` of the data array (the inverse is checked over it).
    origin : tuple of int
        Array origin in the aperture's science frame.
    shift_names : tuple of str
        Names of the x and y shifts to science-frame offsets.
    name : str, optional
        Name of the returned model.

    Returns
    -------
    `~astropy.modeling.Model`
        Shifts, then `sci_to_idl`, then `idl_to_v2v3`.
    """
    x_off, y_off = _sci_offsets(ap, origin)
    to_sci = am.Shift(x_off, name=shift_names[0]) & am.Shift(y_off, name=shift_names[1])
    model = to_sci | sci_to_idl(ap, x_off, y_off, shape) | idl_to_v2v3(ap)
    if name is not None:
        model.name = name
    return model


def pixel_to_v2v3(ap, pixel, *, origin, offset):
    """Return the V2V3 point (arcsec) seen by a data pixel once the scene moves by ``offset``.

    Parameters
    ----------
    ap : object
        `pysiaf` aperture.
    pixel : tuple of float
        0-based data-array ``(x, y)``.
    origin : tuple of int
        Array origin in the aperture's science frame.
    offset : tuple of float
        ``(dx, dy)`` in arcsec in the aperture's ideal frame, added to the ideal position.

    Returns
    -------
    v2, v3 : float
    """
    x_off, y_off = _sci_offsets(ap, origin)
    x_idl, y_idl = sci_to_idl_forward(ap)(pixel[0] + x_off, pixel[1] + y_off)
    v2, v3 = idl_to_v2v3(ap)(x_idl + offset[0], y_idl + offset[1])
    return float(v2), float(v3)


def level2_gwcs(distortion, tel2sky, shape):
    """Assemble an imaging gwcs with the frames of the missions' ``assign_wcs``.

    Parameters
    ----------
    distortion : `~astropy.modeling.Model`
        Data pixels -> V2V3 (arcsec), e.g. `detector_to_v2v3`.
    tel2sky : `~astropy.modeling.Model`
        V2V3 (arcsec) -> ICRS (deg), e.g. `v2v3_to_sky`.
    shape : tuple of int
        ``(ny, nx)`` of the data array.

    Returns
    -------
    `gwcs.wcs.WCS`
        Frames ``detector`` (pixels), ``v2v3`` and ``v2v3vacorr`` (arcsec, joined by an
        identity velocity-aberration correction) and ``world`` (ICRS), with
        ``bounding_box`` ``((-0.5, nx - 0.5), (-0.5, ny - 0.5))`` and ``array_shape``.
    """
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(
        name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec)
    )
    v2v3vacorr = cf.Frame2D(
        name="v2v3vacorr", axes_order=(0, 1), axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec)
    )
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world")
    wcs = gwcs_wcs.WCS([
        (detector, distortion),
        (v2v3, am.Identity(2, name="dva_correction")),
        (v2v3vacorr, tel2sky),
        (world, None),
    ])
    ny, nx = shape
    wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    wcs.array_shape = (ny, nx)
    return wcs
