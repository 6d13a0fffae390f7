"""Telescope entrance pupils described as data, sampled with poppy.

A pupil is a `PupilSpec`: a primary (hexagonal segments or a circle), an optional central
obscuration with struts, and optional circular pads. `sample_pupil` turns one into a
transmission array with poppy's analytic apertures (anti-aliased by block averaging a
finer sampling) and caches it for the life of the process.

Orientation convention: the array is the entrance pupil seen from the sky, with columns
along +V2 and rows along +V3 of the telescope frame. Strut angles are measured
counter-clockwise from +V3 (poppy's ``AsymmetricSecondaryObscuration`` convention).

Described: JWST (``"jwst"``), the HST telescope (``"hst"``) and HST seen through the WFC3/IR
cold mask (``"hst-wfc3ir"``). Another telescope (e.g. Roman: 2.4 m, six struts) is a new
`PupilSpec` entry in `PUPILS`.
"""

import functools
import logging
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CircularPrimary",
    "HexSegments",
    "Pad",
    "PUPILS",
    "PupilSpec",
    "SampledPupil",
    "Secondary",
    "sample_pupil",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HexSegments:
    """A primary made of rings of hexagonal segments (poppy ``MultiHexagonAperture``).

    Parameters
    ----------
    rings : int
        Rings of segments around the centre.
    flattoflat : float
        Flat-to-flat size of one segment, in metres.
    gap : float
        Gap between segments, in metres.
    center : bool
        Whether the central segment is present.
    """

    rings: int
    flattoflat: float
    gap: float
    center: bool = False


@dataclass(frozen=True)
class CircularPrimary:
    """A filled circular primary of radius ``radius`` metres."""

    radius: float


@dataclass(frozen=True)
class Secondary:
    """A circular central obscuration with straight struts from the centre.

    Parameters
    ----------
    radius : float
        Obscuration radius in metres.
    strut_angles : tuple of float
        Strut directions in degrees, counter-clockwise from +V3.
    strut_width : float
        Strut width in metres.
    """

    radius: float
    strut_angles: tuple = ()
    strut_width: float = 0.0


@dataclass(frozen=True)
class Pad:
    """A circular opaque pad of radius ``radius`` m centred at ``(x, y)`` m (V2, V3)."""

    x: float
    y: float
    radius: float


@dataclass(frozen=True)
class PupilSpec:
    """A telescope entrance pupil.

    Parameters
    ----------
    name : str
        Identifier, used as cache key and in messages.
    primary : HexSegments or CircularPrimary
        The primary mirror outline.
    secondary : Secondary or None
        Central obscuration and struts.
    pads : tuple of Pad
        Extra circular obscurations.
    size : float
        Side in metres of the square region sampled (must contain the whole pupil).
    """

    name: str
    primary: object
    secondary: object = None
    pads: tuple = ()
    size: float = 6.8


#: HST primary radius (m); the OTA numbers below are fractions of it.
_HST_R = 1.2
#: HST OTA obscurations as TinyTim 7.5 describes them (every ``data/*.pup`` pupil table of
#: spacetelescope/tinytim; drawn by ``Compute_pupil`` in ``cpupil.c``), in units of the
#: primary radius: secondary mirror baffle 0.330 (0.396 m, the "0.33 linear obscuration"),
#: spider vane width 0.022 (2.64 cm), three primary-mirror pads of radius 0.065 (7.8 cm)
#: whose centres (V3, V2) are (0.8921, 0), (-0.4615, 0.7555) and (-0.4564, -0.7606), i.e.
#: at 0.89 of the radius, about 120 degrees apart, one on +V3. TinyTim draws the four
#: vanes along the V2 and V3 axes (its OTA rotation offset is zero for every camera except
#: NICMOS), so HST's diffraction spikes lie along V2 and V3: at ~45 degrees to the WFC3 and
#: WFPC2 detector axes (V3IdlYAngle ~45 deg mod 90) and ~2.5 deg from the ACS/WFC axes
#: (V3IdlYAngle 177.5 deg). TinyTim's pupil array has V3 along x and V2 along y; here V2 is
#: along x, which may mirror the pupil about V3. Only the pads are not mirror symmetric
#: (by 0.005 of the radius), so the PSF does not depend on that choice in practice.
_HST_PADS = (
    Pad(x=0.0, y=0.8921 * _HST_R, radius=0.065 * _HST_R),
    Pad(x=0.7555 * _HST_R, y=-0.4615 * _HST_R, radius=0.065 * _HST_R),
    Pad(x=-0.7606 * _HST_R, y=-0.4564 * _HST_R, radius=0.065 * _HST_R),
)
_HST_VANES = (0.0, 90.0, 180.0, 270.0)

#: Known pupils.
#:
#: * ``"jwst"``: 18 segments of 1.32 m flat-to-flat with 7 mm gaps, a 0.74 m secondary, one
#:   strut along +V3 and two at 150 and 210 degrees (8 cm wide), which puts their
#:   diffraction spikes on top of the segment-edge spikes; 26.4 m^2 collecting area.
#: * ``"hst"``: the HST Optical Telescope Assembly (2.4 m primary, see the TinyTim values
#:   above); 3.91 m^2. Used for ACS, WFC3/UVIS and WFPC2. The instruments' own internal
#:   obscurations (e.g. the WFPC2 relay cameras' secondary and spiders, which TinyTim shifts
#:   with field position) are not modelled.
#: * ``"hst-wfc3ir"``: the OTA seen through the WFC3/IR cold mask (TinyTim ``wfc3_ir.pup``):
#:   outer radius 0.9755, central obscuration 0.354 and vanes 0.061 of the primary radius
#:   (7.3 cm), aligned with the OTA vanes; the cold mask's pad covers are approximated by the
#:   OTA pads.
PUPILS = {
    "jwst": PupilSpec(
        "jwst",
        primary=HexSegments(rings=2, flattoflat=1.32, gap=0.007, center=False),
        secondary=Secondary(radius=0.37, strut_angles=(0.0, 150.0, 210.0), strut_width=0.08),
        size=6.8,
    ),
    "hst": PupilSpec(
        "hst",
        primary=CircularPrimary(_HST_R),
        secondary=Secondary(
            radius=0.330 * _HST_R, strut_angles=_HST_VANES, strut_width=0.022 * _HST_R
        ),
        pads=_HST_PADS,
        size=2.6,
    ),
    "hst-wfc3ir": PupilSpec(
        "hst-wfc3ir",
        primary=CircularPrimary(0.9755 * _HST_R),
        secondary=Secondary(
            radius=0.354 * _HST_R, strut_angles=_HST_VANES, strut_width=0.061 * _HST_R
        ),
        pads=_HST_PADS,
        size=2.6,
    ),
}


@dataclass(frozen=True)
class SampledPupil:
    """A pupil transmission array cropped to its non-zero rows and columns.

    Attributes
    ----------
    amplitude : numpy.ndarray
        Amplitude transmission, shape ``(ny, nx)`` (rows along V3, columns along V2).
    x, y : numpy.ndarray
        Pupil coordinates (metres) of the columns and rows.
    pixel : float
        Pupil sampling in metres.
    diameter : float
        Largest extent (circumscribed diameter) of the transmitting area, in metres.
    area : float
        Sum of squared amplitude times pixel area (m^2), the collecting area.
    """

    amplitude: np.ndarray
    x: np.ndarray
    y: np.ndarray
    pixel: float
    diameter: float
    area: float


def _poppy_elements(spec):
    import astropy.units as u
    import poppy

    elements = []
    prim = spec.primary
    if isinstance(prim, HexSegments):
        elements.append(
            poppy.MultiHexagonAperture(
                rings=prim.rings,
                flattoflat=prim.flattoflat * u.m,
                gap=prim.gap * u.m,
                center=prim.center,
            )
        )
    elif isinstance(prim, CircularPrimary):
        elements.append(poppy.CircularAperture(radius=prim.radius * u.m))
    else:
        msg = f"Unsupported primary description {prim!r} in pupil {spec.name!r}"
        raise TypeError(msg)
    sec = spec.secondary
    if sec is not None:
        if sec.strut_angles:
            elements.append(
                poppy.AsymmetricSecondaryObscuration(
                    secondary_radius=sec.radius * u.m,
                    support_angle=tuple(sec.strut_angles),
                    support_width=sec.strut_width * u.m,
                )
            )
        else:
            elements.append(
                poppy.SecondaryObscuration(secondary_radius=sec.radius * u.m, n_supports=0)
            )
    for pad in spec.pads:
        circle = poppy.CircularAperture(
            radius=pad.radius * u.m, shift_x=pad.x * u.m, shift_y=pad.y * u.m
        )
        elements.append(poppy.InverseTransmission(circle))
    return poppy.CompoundAnalyticOptic(elements, name=spec.name)


@functools.lru_cache(maxsize=8)
def sample_pupil(spec, *, npix=512, supersample=2):
    """Sample a pupil on a square grid, anti-aliased, and cache the result.

    Parameters
    ----------
    spec : PupilSpec
        The pupil.
    npix : int, optional
        Output samples across ``spec.size``.
    supersample : int, optional
        The analytic aperture is sampled ``supersample`` times finer and block averaged.

    Returns
    -------
    SampledPupil
    """
    import astropy.units as u

    optic = _poppy_elements(spec)
    fine = np.asarray(
        optic.sample(npix=npix * supersample, grid_size=spec.size * u.m, what="amplitude"),
        dtype=float,
    )
    amp = fine.reshape(npix, supersample, npix, supersample).mean(axis=(1, 3))
    pixel = spec.size / npix
    coords = (np.arange(npix) - (npix - 1) / 2) * pixel
    rows = np.flatnonzero(amp.any(axis=1))
    cols = np.flatnonzero(amp.any(axis=0))
    if rows.size == 0:
        msg = f"Pupil {spec.name!r} has no transmitting area"
        raise ValueError(msg)
    if rows[0] == 0 or cols[0] == 0 or rows[-1] == npix - 1 or cols[-1] == npix - 1:
        msg = f"Pupil {spec.name!r} does not fit in its sampled region of {spec.size} m"
        raise ValueError(msg)
    amp = amp[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    x = coords[cols[0] : cols[-1] + 1]
    y = coords[rows[0] : rows[-1] + 1]
    yy, xx = np.meshgrid(y, x, indexing="ij")
    diameter = 2 * (np.hypot(xx, yy)[amp > 0].max() + pixel / np.sqrt(2))
    area = float((amp**2).sum() * pixel**2)
    log.debug(
        "Sampled pupil %s: %d x %d, %.4f m/px, diameter %.3f m, area %.2f m2",
        spec.name, amp.shape[0], amp.shape[1], pixel, diameter, area,
    )
    for arr in (amp, x, y):
        arr.setflags(write=False)
    return SampledPupil(amp, x, y, pixel, float(diameter), area)
