"""Telescope entrance pupils described as data, sampled with poppy.

A pupil is a `PupilSpec`: a primary (hexagonal segments or a circle), an optional central
obscuration with struts, and optional circular pads. `sample_pupil` turns one into a
transmission array with poppy's analytic apertures (anti-aliased by block averaging a
finer sampling) and caches it for the life of the process.

Orientation convention: the array is the entrance pupil seen from the sky, with columns
along +V2 and rows along +V3 of the telescope frame. Strut angles are measured
counter-clockwise from +V3 (poppy's ``AsymmetricSecondaryObscuration`` convention).

Only JWST is described today. HST (2.4 m circle, 0.33 linear obscuration, four struts and
three pads) or Roman (2.4 m, six struts) are new `PupilSpec` entries in `PUPILS`, e.g.
``PupilSpec("hst", primary=CircularPrimary(1.2), secondary=Secondary(0.396,
(45, 135, 225, 315), 0.038), pads=(Pad(...), ...))``.
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


#: Known pupils. JWST: 18 segments of 1.32 m flat-to-flat with 7 mm gaps, a 0.74 m
#: secondary, one strut along +V3 and two at 150 and 210 degrees (8 cm wide), which puts
#: their diffraction spikes on top of the segment-edge spikes; 26.4 m^2 collecting area.
PUPILS = {
    "jwst": PupilSpec(
        "jwst",
        primary=HexSegments(rings=2, flattoflat=1.32, gap=0.007, center=False),
        secondary=Secondary(radius=0.37, strut_angles=(0.0, 150.0, 210.0), strut_width=0.08),
        size=6.8,
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
