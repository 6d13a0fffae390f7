"""Roman WFI SCAs, offline level-2 gwcs objects (from the Roman SIAF) and their metadata.

The gwcs has the frames ``romancal.assign_wcs`` gives a level-2 exposure::

    detector (0-based pixels of the data array, a cut-out of the 4088 x 4088 SCA science area)
      -> + cut-out origin + 1 - (XSciRef, YSciRef)  -> SIAF "science" frame offsets
      -> SIAF Sci->Idl polynomials                   -> ideal frame (arcsec)
      -> Idl->V2V3 (VIdlParity, V3IdlYAngle, V2Ref/V3Ref)          [frame "v2v3"]
      -> velocity aberration (identity, scale 1)                    [frame "v2v3vacorr"]
      -> V2V3 -> sky, as ``romancal.assign_wcs.assign_wcs.v23tosky`` [frame "world"]

The SIAF science frame is the orientation of Roman level-1/2 arrays (the DMS orientation;
the ``rad`` schemas describe the border reference pixels "in the science frame"), and the
4088 x 4088 science area is the SIAF ``WFIxx_FULL`` aperture. romanisim's non-CRDS gwcs (from
``galsim.roman``) has no inverse; here the SIAF Idl->Sci polynomials give one, which is not an
exact inverse of Sci->Idl (2-6e-3 px over an SCA), so a correction polynomial fitted over the
data array is appended: the pixel round trip is then < 1e-5 px. The SIAF polynomial and gwcs
helpers are shared with the JWST factory (`spike.datasets._siaf_poly`).
"""

import functools
import logging
import re
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord, get_body_barycentric_posvel
from astropy.time import Time
from stcal.alignment.util import compute_s_region_imaging

from spike.datasets._siaf_poly import (
    detector_to_v2v3,
    level2_gwcs,
    pixel_to_v2v3,
    v2v3_to_sky,
)

__all__ = [
    "SCA_SHAPE",
    "Attitude",
    "ScaInfo",
    "attitude_gwcs",
    "cal_metadata",
    "exposure_times",
    "make_roman_gwcs",
    "pixel_area",
    "sca_info",
    "solve_attitude",
    "wcs_metadata",
]

log = logging.getLogger(__name__)

#: ``(ny, nx)`` of the science area of a WFI SCA (the level-2 array without reference pixels).
SCA_SHAPE = (4088, 4088)
#: Multi-accumulation table 4 (romanisim's default imaging table): frame time and reads.
_FRAME_TIME = 3.16247
_MA_TABLE = 4
_READ_PATTERN = (
    [1], [2], [3, 4], list(range(5, 10)), list(range(10, 18)), list(range(18, 26)),
    list(range(26, 34)), list(range(34, 44)), [44],
)
_DONE_STEPS = (
    "assign_wcs", "dark", "dark_decay", "dq_init", "flat_field", "linearity", "photom",
    "ramp_fit", "refpix", "saturation",
)
_LEVEL3_STEPS = ("flux", "outlier_detection", "skymatch")


@dataclass(frozen=True)
class ScaInfo:
    """What the factory needs to know about one WFI SCA.

    Attributes
    ----------
    name : str
        Detector name as Roman data write it (``"WFI01"``).
    number : int
        SCA number (1-18).
    aperture : str
        SIAF aperture of the science area (``"WFI01_FULL"``).
    pixel_scale : tuple of float
        ``(XSciScale, YSciScale)`` in arcsec per pixel.
    siaf : object
        The `pysiaf` aperture.
    """

    name: str
    number: int
    aperture: str
    pixel_scale: tuple
    siaf: object


@functools.lru_cache(maxsize=1)
def _siaf():
    import pysiaf  # slow import (tries the network once); keep it lazy

    return pysiaf.Siaf("Roman")


def _siaf_aperture(name):
    return _siaf()[name]


@functools.lru_cache(maxsize=32)
def sca_info(detector):
    """Return the `ScaInfo` of a WFI SCA.

    Parameters
    ----------
    detector : str or int
        ``"WFI01"`` ... ``"WFI18"`` (any case), ``"WFI07_FULL"``, or the number 1-18.

    Returns
    -------
    ScaInfo

    Raises
    ------
    ValueError
        If ``detector`` names no WFI SCA.
    """
    text = f"WFI{detector:02d}" if isinstance(detector, int) else str(detector).upper()
    match = re.fullmatch(r"WFI(\d\d)(_FULL)?", text)
    number = int(match.group(1)) if match else 0
    if not 1 <= number <= 18:
        msg = f"detector must be one of WFI01..WFI18 (or 1-18), got {detector!r}"
        raise ValueError(msg)
    name = f"WFI{number:02d}"
    ap = _siaf_aperture(f"{name}_FULL")
    return ScaInfo(
        name=name,
        number=number,
        aperture=f"{name}_FULL",
        pixel_scale=(float(ap.XSciScale), float(ap.YSciScale)),
        siaf=ap,
    )


def _check_cutout(info, origin, shape):
    x0, y0 = origin
    ny, nx = shape
    if min(nx, ny) < 1 or min(x0, y0) < 0 or x0 + nx > SCA_SHAPE[1] or y0 + ny > SCA_SHAPE[0]:
        msg = (
            f"array of shape {tuple(shape)} at origin {tuple(origin)} does not fit in the "
            f"{SCA_SHAPE} science area of {info.name}"
        )
        raise ValueError(msg)


def make_roman_gwcs(detector, *, ra_ref, dec_ref, roll_ref, cutout_origin=(0, 0), shape=None):
    """Build a Roman WFI level-2 gwcs from the SIAF, with the frames of ``assign_wcs``.

    Parameters
    ----------
    detector : str or int
        SCA (``"WFI01"`` ... ``"WFI18"``).
    ra_ref, dec_ref : float
        ICRS position (deg) seen by the SCA reference point (SIAF V2Ref, V3Ref of
        ``WFIxx_FULL``, the centre of the science area), i.e. ``meta.wcsinfo.ra_ref/dec_ref``.
    roll_ref : float
        Position angle of V3 (deg, North through East) at that point
        (``meta.wcsinfo.roll_ref``).
    cutout_origin : tuple of int, optional
        0-based ``(x, y)`` of the data array's first pixel in the SCA's 4088 x 4088 science
        array (``(0, 0)`` for a full SCA).
    shape : tuple of int, optional
        ``(ny, nx)`` of the data array; the full science area by default.

    Returns
    -------
    `gwcs.wcs.WCS`
        Frames ``detector`` (pixels), ``v2v3`` and ``v2v3vacorr`` (arcsec) and ``world``
        (ICRS), with ``bounding_box`` ``((-0.5, nx - 0.5), (-0.5, ny - 0.5))`` and
        ``array_shape``; ``wcs.invert`` is analytic (polynomials), round trip < 1e-4 px.

    Raises
    ------
    ValueError
        If the detector is unknown or the array does not fit in the SCA.
    """
    info = sca_info(detector)
    shape = SCA_SHAPE if shape is None else tuple(int(n) for n in shape)
    origin = tuple(int(v) for v in cutout_origin)
    _check_cutout(info, origin, shape)
    ap = info.siaf
    distortion = detector_to_v2v3(
        ap, shape, origin=origin, shift_names=("cutout_x_to_sci", "cutout_y_to_sci"),
        name="distortion",
    )
    distortion.inputs = ("x", "y")
    distortion.outputs = ("v2", "v3")
    tel2sky = v2v3_to_sky(ap.V2Ref, ap.V3Ref, roll_ref, ra_ref, dec_ref)
    return level2_gwcs(distortion, tel2sky, shape)


def attitude_gwcs(detector, attitude, *, cutout_origin=(0, 0), shape=None):
    """Return the `make_roman_gwcs` gwcs of ``detector`` seen at a telescope `Attitude`.

    Parameters
    ----------
    detector : str or int
        SCA (``"WFI01"`` ... ``"WFI18"``).
    attitude : Attitude
        Telescope attitude; it gives the SCA's ``ra_ref``, ``dec_ref`` and ``roll_ref``.
    cutout_origin, shape : tuple of int, optional
        As in `make_roman_gwcs`.

    Returns
    -------
    `gwcs.wcs.WCS`
    """
    ap = sca_info(detector).siaf
    ra_ref, dec_ref, roll_ref = attitude.reference(ap.V2Ref, ap.V3Ref)
    return make_roman_gwcs(
        detector, ra_ref=ra_ref, dec_ref=dec_ref, roll_ref=roll_ref, cutout_origin=cutout_origin,
        shape=shape,
    )


def _position_angle(ra0, dec0, ra1, dec1):
    """Position angle (deg, North through East) of point 1 seen from point 0."""
    ra0, dec0, ra1, dec1 = (np.deg2rad(v) for v in (ra0, dec0, ra1, dec1))
    dra = ra1 - ra0
    y = np.sin(dra) * np.cos(dec1)
    x = np.cos(dec0) * np.sin(dec1) - np.sin(dec0) * np.cos(dec1) * np.cos(dra)
    return float(np.rad2deg(np.arctan2(y, x)) % 360)


@dataclass(frozen=True)
class Attitude:
    """A telescope attitude, shared by every SCA of an exposure.

    Attributes
    ----------
    v2, v3 : float
        A point of the V2V3 frame (arcsec) ...
    pa : float
        ... where V3 has this position angle (deg, North through East) ...
    ra, dec : float
        ... and which sees this ICRS position (deg).
    """

    v2: float
    v3: float
    pa: float
    ra: float
    dec: float

    def to_sky(self, v2, v3):
        """Return ICRS ``(ra, dec)`` (deg) of V2V3 ``(v2, v3)`` (arcsec)."""
        ra, dec = v2v3_to_sky(self.v2, self.v3, self.pa, self.ra, self.dec)(v2, v3)
        return float(ra), float(dec)

    def reference(self, v2_ref, v3_ref):
        """Return ``(ra_ref, dec_ref, roll_ref)`` of this attitude at another V2V3 point.

        The V3 axis at ``(v2_ref, v3_ref)`` follows the great circle of constant V2, so
        its position angle, measured towards ``v3_ref + 1"``, is exact.
        """
        ra_ref, dec_ref = self.to_sky(v2_ref, v3_ref)
        roll_ref = _position_angle(ra_ref, dec_ref, *self.to_sky(v2_ref, v3_ref + 1.0))
        return ra_ref, dec_ref, roll_ref


def solve_attitude(detector, *, ra, dec, pa, pixel, cutout_origin=(0, 0), offset=(0.0, 0.0)):
    """Find the attitude that puts a sky position on a detector position.

    Parameters
    ----------
    detector : str or int
        SCA on which ``(ra, dec)`` is placed.
    ra, dec : float
        ICRS position (deg) to place.
    pa : float
        Position angle (deg) of V3 at that position.
    pixel : tuple of float
        0-based data-array ``(x, y)`` where ``(ra, dec)`` lands when ``offset`` is zero.
    cutout_origin : tuple of int, optional
        0-based ``(x, y)`` of the data array in the SCA's science array.
    offset : tuple of float, optional
        ``(dx, dy)`` in arcsec in the SCA's ideal frame by which the scene moves on the
        detector (the telescope moves by the opposite amount).

    Returns
    -------
    Attitude
    """
    v2, v3 = pixel_to_v2v3(sca_info(detector).siaf, pixel, origin=cutout_origin, offset=offset)
    return Attitude(v2=v2, v3=v3, pa=float(pa), ra=float(ra), dec=float(dec))


def wcs_metadata(detector, *, attitude, wcs):
    """Return the WCS-related metadata of an exposure of one SCA, as Roman level-2 files hold it.

    Parameters
    ----------
    detector : str or int
        SCA of the exposure.
    attitude : Attitude
        The telescope attitude (output of `solve_attitude`).
    wcs : `gwcs.wcs.WCS`
        The exposure's gwcs (``s_region`` comes from its bounding-box corners).

    Returns
    -------
    dict
        ``{section: {keyword: value}}`` for the ``meta`` sections ``wcsinfo`` (reference point
        at the SCA's SIAF V2Ref/V3Ref, as romanisim writes it), ``pointing`` (V1 axis,
        ``WFI_CEN`` target aperture, ``pa_aperture`` = V3 position angle at ``WFI_CEN`` +
        V3IdlYAngle) and ``velocity_aberration`` (scale 1).
    """
    info = sca_info(detector)
    ap = info.siaf
    ra_ref, dec_ref, roll_ref = attitude.reference(ap.V2Ref, ap.V3Ref)
    centre = _siaf_aperture("WFI_CEN")
    target_ra, target_dec, roll_cen = attitude.reference(centre.V2Ref, centre.V3Ref)
    ra_v1, dec_v1, pa_v3 = attitude.reference(0.0, 0.0)
    return {
        "wcsinfo": {
            "aperture_name": info.aperture, "v2_ref": float(ap.V2Ref),
            "v3_ref": float(ap.V3Ref), "vparity": int(ap.VIdlParity),
            "v3yangle": float(ap.V3IdlYAngle), "ra_ref": ra_ref, "dec_ref": dec_ref,
            "roll_ref": roll_ref, "s_region": compute_s_region_imaging(wcs, center=False),
        },
        "pointing": {
            "pa_aperture": (roll_cen + float(centre.V3IdlYAngle)) % 360,
            "pointing_engineering_source": "CALCULATED", "ra_v1": ra_v1, "dec_v1": dec_v1,
            "pa_v3": pa_v3, "target_aperture": "WFI_CEN", "target_ra": target_ra,
            "target_dec": target_dec,
        },
        "velocity_aberration": {
            "ra_reference": ra_ref, "dec_reference": dec_ref, "scale_factor": 1.0,
        },
    }


def pixel_area(wcs, x, y):
    """Return the solid angle (sr) of the pixel at ``(x, y)``, from the WCS Jacobian."""
    ra, dec = wcs([x, x + 0.5, x - 0.5, x, x], [y, y, y, y + 0.5, y - 0.5])
    centre = SkyCoord(ra[0], dec[0], unit="deg")
    lon, lat = centre.spherical_offsets_to(SkyCoord(ra[1:], dec[1:], unit="deg"))
    lon, lat = lon.to_value(u.rad), lat.to_value(u.rad)
    dx, dy = (lon[0] - lon[1], lat[0] - lat[1]), (lon[2] - lon[3], lat[2] - lat[3])
    return float(abs(dx[0] * dy[1] - dx[1] * dy[0]))


def exposure_times(start):
    """Return ``(exposure_time, effective_exposure_time, end)`` of MA table 4 (s, s, Time)."""
    t_exp = _FRAME_TIME * _READ_PATTERN[-1][-1]
    t_eff = _FRAME_TIME * float(np.mean(_READ_PATTERN[-1]))
    return t_exp, t_eff, Time(start) + t_exp * u.s


def _ephemeris(start):
    """Earth's barycentric position and velocity (km, km/s): a stand-in for Roman's (at L2)."""
    position, velocity = get_body_barycentric_posvel("earth", start)
    pos, vel = position.xyz.to_value(u.km), velocity.xyz.to_value(u.km / u.s)
    return {
        "ephemeris_reference_frame": "ICRS", "type": "PREDICTED", "time": float(start.mjd),
        "spatial_x": pos[0], "spatial_y": pos[1], "spatial_z": pos[2],
        "velocity_x": vel[0], "velocity_y": vel[1], "velocity_z": vel[2],
    }


def cal_metadata(detector, *, attitude, wcs, ids, start, options):
    """Return the level-2 ``_cal`` metadata of one SCA exposure, section by section.

    Parameters
    ----------
    detector : str or int
        SCA of the exposure.
    attitude : Attitude
        Telescope attitude of the exposure.
    wcs : `gwcs.wcs.WCS`
        The exposure's gwcs.
    ids : tuple of int
        ``(visit, exposure)`` numbers (1-based).
    start : `~astropy.time.Time`
        Exposure start.
    options : dict
        ``program`` (int), ``filter``, ``sky`` (DN/s), ``version``, ``visit_start`` (Time),
        ``dithers`` (arcsec pairs), ``origin`` (cut-out origin), ``pixel_area`` (sr) and
        ``conversion_megajanskys`` (MJy/sr per DN/s).

    Returns
    -------
    dict
        ``{key: value}`` for top-level ``meta`` keywords and ``{section: {keyword: value}}``
        for sections (``instrument``, ``exposure``, ``observation``, ``wcsinfo``...). Files
        are named ``r<visit_id>_01101_<exposure>_<wfixx>_cal.asdf``; ``observation_id`` is
        shared by the SCAs of one exposure (romancal's group id). Level-3 steps (``flux``,
        ``skymatch``, ``outlier_detection``) are INCOMPLETE; ``meta.spike_cutout`` (not a
        Roman keyword) records the cut-out origin in the SCA.
    """
    info = sca_info(detector)
    visit, number = ids
    visit_id = f"{options['program']:05d}01001001001{visit:03d}"
    t_exp, t_eff, end = exposure_times(start)
    sections = {
        "filename": f"r{visit_id}_01101_{number:04d}_{info.name.lower()}_cal.asdf",
        "file_date": Time(start), "product_type": "l2", "calibration_software_name": "spike",
        "calibration_software_version": options["version"],
        "instrument": {"name": "WFI", "detector": info.name, "optical_element": options["filter"]},
        "exposure": {
            "type": "WFI_IMAGE", "start_time": Time(start), "end_time": end,
            "engineering_quality": "OK", "ma_table_id": f"SCI{_MA_TABLE:04d}",
            "ma_table_name": "C2A_IMG_HLWAS", "ma_table_number": _MA_TABLE,
            "nresultants": len(_READ_PATTERN), "read_pattern": [list(r) for r in _READ_PATTERN],
            "data_problem": None, "frame_time": _FRAME_TIME, "exposure_time": t_exp,
            "effective_exposure_time": t_eff, "truncated": False,
        },
        "observation": {
            "observation_id": f"{visit_id}01101{number:04d}", "visit_id": visit_id,
            "program": options["program"], "execution_plan": 1, "pass": 1, "segment": 1,
            "observation": 1, "visit": visit, "visit_file_group": 1, "visit_file_sequence": 1,
            "visit_file_activity": "01", "exposure": number,
        },
        "program": {
            "title": "spike simulated star field", "investigator_name": "spike",
            "category": "CAL", "subcategory": "None", "science_category": "None",
        },
        "visit": {
            "type": "PRIME_TARGETED_FIXED", "start_time": Time(options["visit_start"]),
            "nexposures": len(options["dithers"]), "internal_target": False,
            "dither": {
                "primary_name": None, "subpixel_name": "SPIKE",
                "executed_pattern": [float(v) for xy in options["dithers"] for v in xy],
            },
        },
        "ephemeris": _ephemeris(Time(start)),
        "photometry": {
            "conversion_megajanskys": options["conversion_megajanskys"],
            "conversion_megajanskys_uncertainty": 0.0, "pixel_area": options["pixel_area"],
        },
        "background": {"level": options["sky"], "method": "local", "subtracted": False},
        "cal_step": dict.fromkeys(_DONE_STEPS, "COMPLETE")
        | dict.fromkeys(_LEVEL3_STEPS, "INCOMPLETE")
        | {
            "source_catalog": "SKIPPED", "tweakreg": "SKIPPED",
            "wfi18_transient": "COMPLETE" if info.name == "WFI18" else "N/A",
        },
        "spike_cutout": {
            "origin": [int(v) for v in options["origin"]], "sca_shape": list(SCA_SHAPE),
            "note": "the data array is a cut-out of the SCA science area at 0-based (x, y) origin",
        },
    }
    return sections | wcs_metadata(info.name, attitude=attitude, wcs=wcs)
