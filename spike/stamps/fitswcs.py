"""Express a linear FITS (astropy) celestial WCS as an equivalent `gwcs.wcs.WCS`.

spike's products store their grid as a gwcs (ASDF). AstroDrizzle's output grids are plain
FITS ``TAN`` projections with a CD matrix and no distortion, which gwcs expresses exactly as
``Shift & Shift | Affine | Pix2Sky_TAN | RotateNative2Celestial``; distorted or other
projections are refused rather than approximated.
"""

import numpy as np
from astropy import units as u
from astropy.modeling import models

__all__ = ["as_gwcs", "fits_to_gwcs"]

_FRAMES = {"ICRS": "icrs", "FK5": "fk5", "FK4": "fk4", "GAPPT": "gappt"}


def as_gwcs(wcs):
    """Return ``wcs`` unchanged when it is a gwcs, else `fits_to_gwcs` of it."""
    from astropy.wcs import WCS

    return fits_to_gwcs(wcs) if isinstance(wcs, WCS) else wcs


def _celestial_frame(radesys, equinox):
    from astropy.coordinates import FK4, FK5, ICRS
    from astropy.time import Time
    from gwcs import coordinate_frames as cf

    radesys = (radesys or "ICRS").strip().upper()
    if radesys == "FK5":
        frame = FK5(equinox=Time(equinox if np.isfinite(equinox) else 2000.0, format="jyear"))
    elif radesys == "FK4":
        frame = FK4(equinox=Time(equinox if np.isfinite(equinox) else 1950.0, format="byear"))
    else:
        frame = ICRS()
    return cf.CelestialFrame(reference_frame=frame, name="world", unit=(u.deg, u.deg),
                             axes_names=("lon", "lat"))


def fits_to_gwcs(wcs):
    """Return the gwcs equal to a linear 2-D celestial ``TAN`` astropy WCS.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        Two celestial axes, ``TAN`` projection, no SIP or lookup-table distortion.
        ``pixel_shape`` (if set) becomes the gwcs' ``pixel_shape`` and bounding box.

    Returns
    -------
    gwcs.wcs.WCS
        Frames ``detector`` (0-based pixels) and ``world``; equal to ``wcs`` to machine
        precision.

    Raises
    ------
    ValueError
        For distortion, a non-celestial WCS or another projection.
    """
    from gwcs import coordinate_frames as cf
    from gwcs import wcs as gwcs_wcs

    if wcs.naxis != 2 or not wcs.has_celestial:
        msg = "only 2-D celestial WCS can be converted to gwcs"
        raise ValueError(msg)
    if wcs.sip is not None or any(
            getattr(wcs, name) is not None for name in ("cpdis1", "cpdis2", "det2im1", "det2im2")):
        msg = "the WCS has SIP or lookup-table distortion; only linear grids are converted"
        raise ValueError(msg)
    ctype = [str(c).upper() for c in wcs.wcs.ctype]
    if not (ctype[0].startswith("RA") and ctype[0].endswith("-TAN")
            and ctype[1].startswith("DEC") and ctype[1].endswith("-TAN")):
        msg = f"only RA---TAN/DEC--TAN grids are converted, got {ctype}"
        raise ValueError(msg)
    wcs.wcs.set()
    crpix = wcs.wcs.crpix
    crval = wcs.wcs.crval
    matrix = wcs.pixel_scale_matrix
    transform = (
        (models.Shift(1.0 - crpix[0]) & models.Shift(1.0 - crpix[1]))
        | models.AffineTransformation2D(matrix=matrix, translation=[0.0, 0.0])
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(crval[0], crval[1], wcs.wcs.lonpole)
    )
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    world = _celestial_frame(wcs.wcs.radesys, wcs.wcs.equinox)
    out = gwcs_wcs.WCS([(detector, transform), (world, None)])
    if wcs.pixel_shape is not None:
        nx, ny = (int(v) for v in wcs.pixel_shape)
        out.pixel_shape = (nx, ny)
        out.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    return out
