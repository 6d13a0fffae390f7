"""SIAF apertures and offline JWST imaging gwcs objects, built as assign_wcs makes them.

The pipeline is the one of ``jwst.assign_wcs`` for imaging::

    detector (0-based data pixels)
      -> +1 and + subarray origin -> SIAF "science" frame offsets from (XSciRef, YSciRef)
      -> SIAF Sci->Idl polynomials  -> ideal frame (arcsec)
      -> Idl->V2V3 (VIdlParity, V3IdlYAngle, V2Ref/V3Ref)         [frame "v2v3"]
      -> velocity aberration (identity, scale 1)                   [frame "v2v3vacorr"]
      -> V2V3 -> sky rotation (as ``jwst.assign_wcs.pointing``)    [frame "world"]

The SIAF Idl->Sci polynomials give the inverse. They are not an exact inverse of Sci->Idl
(full-frame round trips of 6e-4 px for NRCA1, 0.04-0.05 px for NRCA5 and NIS_CEN, 0.1 px
for MIRIM_FULL), so a small correction polynomial, fitted over the data array, is appended
whenever their round trip exceeds 2e-5 px. The pixel round trip is then ~1e-6 px. The
SIAF polynomial and gwcs helpers are shared with the Roman factory (`spike.datasets._siaf_poly`).
"""

import functools
import logging
import re
from dataclasses import dataclass

import numpy as np
from jwst.assign_wcs.pointing import compute_roll_ref
from jwst.assign_wcs.util import calc_rotation_matrix
from stcal.alignment.util import compute_s_region_imaging

from spike.datasets._siaf_poly import (
    detector_to_v2v3,
    level2_gwcs,
    pixel_to_v2v3,
    v2v3_to_sky,
)

__all__ = [
    "ApertureInfo",
    "aperture_info",
    "band_elements",
    "make_jwst_gwcs",
    "reference_pixel_mask",
    "solve_pointing",
    "wcs_metadata",
]

log = logging.getLogger(__name__)

_INSTRUMENTS = {"NRC": "NIRCAM", "NIS": "NIRISS", "MIR": "MIRI", "FGS": "FGS"}
_SIAF_NAMES = {"NIRCAM": "NIRCam", "NIRISS": "NIRISS", "MIRI": "MIRI", "FGS": "FGS"}
_EXP_TYPES = {"NIRCAM": "NRC_IMAGE", "NIRISS": "NIS_IMAGE", "MIRI": "MIR_IMAGE", "FGS": "FGS_IMAGE"}
_ELEMENTS = {"NIRISS": ("CLEAR", "F150W"), "MIRI": ("F770W", None), "FGS": (None, None)}
#: Square subarray sizes whose ``SUB<n>`` name the datamodel schemas accept.
_SQUARE_SUBARRAYS = (32, 64, 80, 128, 160, 256, 320, 512, 640, 2048)


@dataclass(frozen=True)
class ApertureInfo:
    """What the factory needs to know about one SIAF aperture.

    Attributes
    ----------
    name : str
        SIAF aperture name (``"NRCA1_FULL"``).
    instrument : str
        Instrument as JWST data write it (``"NIRCAM"``, ``"NIRISS"``, ``"MIRI"``, ``"FGS"``).
    detector : str
        Detector as JWST data write it (``"NRCA1"``, ``"NRCALONG"``, ``"NIS"``, ``"MIRIMAGE"``).
    channel, module : str or None
        NIRCam channel (``"SHORT"``/``"LONG"``) and module (``"A"``/``"B"``); None otherwise.
    exp_type : str
        Imaging exposure type (``"NRC_IMAGE"``...).
    sci_shape : tuple of int
        ``(ny, nx)`` of the aperture's science frame.
    full_origin : tuple of int
        0-based ``(x, y)`` of the aperture's first science pixel in the full detector frame.
    pixel_scale : tuple of float
        ``(XSciScale, YSciScale)`` in arcsec per pixel.
    siaf : object
        The `pysiaf` aperture.
    """

    name: str
    instrument: str
    detector: str
    channel: str | None
    module: str | None
    exp_type: str
    sci_shape: tuple
    full_origin: tuple
    pixel_scale: tuple
    siaf: object


@functools.lru_cache(maxsize=8)
def _siaf(instrument):
    import pysiaf  # slow import (tries the network once); keep it lazy

    return pysiaf.Siaf(_SIAF_NAMES[instrument])


def _detector_name(instrument, prefix):
    if instrument == "NIRCAM":
        match = re.fullmatch(r"NRC([AB])([1-5])", prefix)
        if match is None:
            return None, None, None
        module, number = match.groups()
        if number == "5":
            return f"NRC{module}LONG", "LONG", module
        return prefix, "SHORT", module
    names = {"NIS": "NIS", "MIRIM": "MIRIMAGE", "FGS1": "GUIDER1", "FGS2": "GUIDER2"}
    return names.get(prefix), None, None


@functools.lru_cache(maxsize=64)
def aperture_info(aperture_name):
    """Return the `ApertureInfo` of a single-detector JWST imaging SIAF aperture.

    Parameters
    ----------
    aperture_name : str
        SIAF aperture name, e.g. ``"NRCA1_FULL"``, ``"NRCA5_FULL"``, ``"NIS_CEN"``,
        ``"MIRIM_FULL"``.

    Returns
    -------
    ApertureInfo

    Raises
    ------
    ValueError
        If the aperture is unknown, spans several detectors or has no distortion polynomial.
    """
    name = str(aperture_name).upper()
    instrument = _INSTRUMENTS.get(name[:3])
    if instrument is None:
        msg = f"aperture {aperture_name!r} is not a NIRCam, NIRISS, MIRI or FGS aperture"
        raise ValueError(msg)
    siaf = _siaf(instrument)
    if name not in siaf.apernames:
        msg = f"unknown SIAF aperture {aperture_name!r}"
        raise ValueError(msg)
    ap = siaf[name]
    prefix = name.split("_")[0]
    detector, channel, module = _detector_name(instrument, prefix)
    if detector is None or ap.Sci2IdlDeg is None or ap.AperType not in ("FULLSCA", "SUBARRAY"):
        msg = f"aperture {aperture_name!r} is not a single-detector imaging aperture"
        raise ValueError(msg)
    full_origin = (0, 0)
    if ap.AperType == "SUBARRAY":
        full = siaf[f"{prefix}_FULL"]
        xs, ys = full.det_to_sci(*ap.sci_to_det(1.0, 1.0))
        full_origin = (round(float(xs)) - 1, round(float(ys)) - 1)
    return ApertureInfo(
        name=name,
        instrument=instrument,
        detector=detector,
        channel=channel,
        module=module,
        exp_type=_EXP_TYPES[instrument],
        sci_shape=(int(ap.YSciSize), int(ap.XSciSize)),
        full_origin=full_origin,
        pixel_scale=(float(ap.XSciScale), float(ap.YSciScale)),
        siaf=ap,
    )


def make_jwst_gwcs(aperture_name, *, ra_ref, dec_ref, v3pa, subarray_origin=(0, 0), shape=None):
    """Build a JWST imaging gwcs from the SIAF, as ``assign_wcs`` does for ``_cal`` files.

    Parameters
    ----------
    aperture_name : str
        SIAF aperture name (``"NRCA1_FULL"``, ``"NRCA5_FULL"``, ``"NIS_CEN"``,
        ``"MIRIM_FULL"``...).
    ra_ref, dec_ref : float
        ICRS position (deg) seen by the aperture reference point (V2Ref, V3Ref).
    v3pa : float
        Position angle of V3 (deg, North through East) at the aperture reference point,
        i.e. ``meta.wcsinfo.roll_ref``.
    subarray_origin : tuple of int, optional
        0-based ``(x, y)`` of the data array's first pixel in the aperture's science frame.
    shape : tuple of int, optional
        ``(ny, nx)`` of the data array; the full aperture by default.

    Returns
    -------
    `gwcs.wcs.WCS`
        Frames ``detector`` (pixels), ``v2v3`` and ``v2v3vacorr`` (arcsec) and ``world``
        (ICRS), with ``bounding_box`` ``((-0.5, nx - 0.5), (-0.5, ny - 0.5))`` and
        ``array_shape``. ``wcs.invert`` is analytic (polynomials), round trip < 1e-4 px.

    Raises
    ------
    ValueError
        If the aperture is not supported or the array does not fit in the aperture.
    """
    info = aperture_info(aperture_name)
    shape = info.sci_shape if shape is None else tuple(int(n) for n in shape)
    x0, y0 = (int(v) for v in subarray_origin)
    ny, nx = shape
    full_ny, full_nx = info.sci_shape
    if min(nx, ny) < 1 or min(x0, y0) < 0 or x0 + nx > full_nx or y0 + ny > full_ny:
        msg = (
            f"array of shape {shape} at origin {(x0, y0)} does not fit in aperture "
            f"{info.name} of shape {info.sci_shape}"
        )
        raise ValueError(msg)
    distortion = detector_to_v2v3(
        info.siaf, shape, origin=(x0, y0), shift_names=("x_to_sci_offset", "y_to_sci_offset")
    )
    tel2sky = v2v3_to_sky(info.siaf.V2Ref, info.siaf.V3Ref, v3pa, ra_ref, dec_ref)
    return level2_gwcs(distortion, tel2sky, shape)


def solve_pointing(aperture_name, *, ra, dec, pa, pixel, subarray_origin=(0, 0), offset=(0.0, 0.0)):
    """Find the pointing that puts a sky position on a detector position.

    Parameters
    ----------
    aperture_name : str
        SIAF aperture name.
    ra, dec : float
        ICRS position (deg) to place.
    pa : float
        Position angle (deg) of V3 at that position.
    pixel : tuple of float
        0-based data-array ``(x, y)`` where ``(ra, dec)`` lands when ``offset`` is zero.
    subarray_origin : tuple of int, optional
        0-based ``(x, y)`` of the data array in the aperture's science frame.
    offset : tuple of float, optional
        ``(dx, dy)`` in arcsec in the aperture's ideal frame by which the scene moves on the
        detector (the telescope moves by the opposite amount).

    Returns
    -------
    dict
        ``ra_ref``, ``dec_ref``, ``roll_ref`` (at V2Ref/V3Ref, as ``meta.wcsinfo``),
        ``v2_ref``, ``v3_ref`` (arcsec), and ``ra_v1``, ``dec_v1``, ``pa_v3`` (as
        ``meta.pointing``), computed with ``jwst.assign_wcs.pointing.compute_roll_ref``.
    """
    info = aperture_info(aperture_name)
    ap = info.siaf
    v2, v3 = pixel_to_v2v3(ap, pixel, origin=subarray_origin, offset=offset)
    tel2sky = v2v3_to_sky(v2, v3, pa, ra, dec)
    ra_ref, dec_ref = tel2sky(ap.V2Ref, ap.V3Ref)
    ra_v1, dec_v1 = tel2sky(0.0, 0.0)
    return {
        "ra_ref": float(ra_ref),
        "dec_ref": float(dec_ref),
        "roll_ref": float(compute_roll_ref(v2, v3, pa, ra, dec, ap.V2Ref, ap.V3Ref)),
        "v2_ref": float(ap.V2Ref),
        "v3_ref": float(ap.V3Ref),
        "ra_v1": float(ra_v1),
        "dec_v1": float(dec_v1),
        "pa_v3": float(compute_roll_ref(v2, v3, pa, ra, dec, 0.0, 0.0)),
    }


def wcs_metadata(aperture_name, *, pointing, wcs, subarray_origin=(0, 0), shape=None):
    """Return the WCS-related metadata of an exposure, as jwst's level-1/2 code writes it.

    Parameters
    ----------
    aperture_name : str
        SIAF aperture name.
    pointing : dict
        Output of `solve_pointing` (``ra_ref``, ``dec_ref``, ``roll_ref``...).
    wcs : `gwcs.wcs.WCS`
        The exposure's gwcs (``s_region`` comes from its bounding-box corners).
    subarray_origin : tuple of int, optional
        0-based ``(x, y)`` of the data array in the aperture's science frame.
    shape : tuple of int, optional
        ``(ny, nx)`` of the data array (default: ``wcs.array_shape``).

    Returns
    -------
    dict
        ``{section: {keyword: value}}`` for the ``meta`` sections ``aperture``,
        ``subarray`` (name ``"FULL"``, ``"SUB<n>"`` for square sizes the schema knows, else
        ``"GENERIC"``; 1-based full-frame ``xstart``/``ystart``), ``pointing``,
        ``velocity_aberration`` (scale 1) and ``wcsinfo`` (reference point, V-frame keywords,
        approximate FITS TAN keywords with jwst's ``calc_rotation_matrix``, ``s_region``).
    """
    info = aperture_info(aperture_name)
    ap = info.siaf
    ny, nx = wcs.array_shape if shape is None else shape
    x0, y0 = subarray_origin
    xstart, ystart = info.full_origin[0] + x0 + 1, info.full_origin[1] + y0 + 1
    full_shape = (1024, 1032) if info.instrument == "MIRI" else (2048, 2048)
    if (ny, nx) == full_shape and (xstart, ystart) == (1, 1):
        name = "FULL"
    else:
        name = f"SUB{nx}" if nx == ny and nx in _SQUARE_SUBARRAYS else "GENERIC"
    pc = calc_rotation_matrix(
        np.deg2rad(pointing["roll_ref"]), np.deg2rad(ap.V3IdlYAngle), vparity=int(ap.VIdlParity)
    )
    wcsinfo = {
        "wcsaxes": 2, "ctype1": "RA---TAN", "ctype2": "DEC--TAN", "cunit1": "deg",
        "cunit2": "deg", "crpix1": float(ap.XSciRef - x0), "crpix2": float(ap.YSciRef - y0),
        "crval1": pointing["ra_ref"], "crval2": pointing["dec_ref"],
        "cdelt1": float(ap.XSciScale) / 3600, "cdelt2": float(ap.YSciScale) / 3600,
        "pc1_1": float(pc[0]), "pc1_2": float(pc[1]), "pc2_1": float(pc[2]), "pc2_2": float(pc[3]),
        "ra_ref": pointing["ra_ref"], "dec_ref": pointing["dec_ref"],
        "roll_ref": pointing["roll_ref"], "v2_ref": float(ap.V2Ref), "v3_ref": float(ap.V3Ref),
        "v3yangle": float(ap.V3IdlYAngle), "vparity": int(ap.VIdlParity),
        "siaf_xref_sci": float(ap.XSciRef), "siaf_yref_sci": float(ap.YSciRef),
        "s_region": compute_s_region_imaging(wcs, center=False),
    }
    return {
        "aperture": {"name": info.name},
        "subarray": {"name": name, "xstart": xstart, "ystart": ystart, "xsize": nx, "ysize": ny},
        "pointing": {k: pointing[k] for k in ("ra_v1", "dec_v1", "pa_v3")},
        "velocity_aberration": {
            "scale_factor": 1.0, "va_ra_ref": pointing["ra_ref"], "va_dec_ref": pointing["dec_ref"]
        },
        "wcsinfo": wcsinfo,
    }


def reference_pixel_mask(aperture_name, *, subarray_origin, shape):
    """Return a boolean ``shape`` array, True on the detector's reference pixels.

    NIRCam, NIRISS and FGS have a 4-pixel reference border on every side of the
    2048 x 2048 frame; MIRI has 4 reference columns on each side of its 1032 columns.
    """
    info = aperture_info(aperture_name)
    ny, nx = shape
    full_ny, full_nx = (1024, 1032) if info.instrument == "MIRI" else (2048, 2048)
    x = np.arange(nx) + info.full_origin[0] + subarray_origin[0]
    y = np.arange(ny) + info.full_origin[1] + subarray_origin[1]
    columns = (x < 4) | (x >= full_nx - 4)
    rows = np.zeros(ny, bool) if info.instrument == "MIRI" else (y < 4) | (y >= full_ny - 4)
    return columns[np.newaxis, :] | rows[:, np.newaxis]


def band_elements(aperture_name, *, filter_name=None, pupil=None):
    """Return ``(filter, pupil, band)`` with instrument defaults for missing elements.

    Defaults: NIRCam ``F200W`` (short) or ``F444W`` (long) + ``CLEAR``; NIRISS ``CLEAR`` +
    ``F150W``; MIRI ``F770W``. ``band`` is the element that defines the bandpass: the pupil
    for NIRISS with a ``CLEAR`` filter and for NIRCam narrow-band pupil filters, else the
    filter (``"N/A"`` for none).
    """
    info = aperture_info(aperture_name)
    default_filter = "F444W" if info.channel == "LONG" else "F200W"
    defaults = _ELEMENTS.get(info.instrument, (default_filter, "CLEAR"))
    filter_name = defaults[0] if filter_name is None else filter_name
    pupil = defaults[1] if pupil is None else pupil
    band = filter_name or "N/A"
    if pupil and (
        (info.instrument == "NIRISS" and filter_name == "CLEAR")
        or (info.instrument == "NIRCAM" and pupil.startswith("F") and pupil.endswith("N"))
    ):
        band = pupil
    return filter_name, pupil, band

