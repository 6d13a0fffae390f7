"""Stars left out of a PSF fit (cross-validation), shared by the PSF methods.

A PSF method that learns from the exposure's own stars (``epsf``, ``psfex``, a fitted
optical model) can be asked to leave some stars out, so that the PSF is built on one half
of the stars and scored on the other. The stars are given on the sky with the options
``exclude_stars`` and ``exclude_radius`` (arcsec); `parse_exclude_stars` and
`check_exclude_radius` validate them when the method is created, and `exclusion_pixels`
turns them into detector positions and a radius in pixels with the exposure's WCS when it
is prepared.

``exclude_stars`` may be

* a path (str or `pathlib.Path`) to an ECSV or CSV catalog with ``ra`` and ``dec`` columns
  in degrees (read like the source catalogs, `spike.sources.resolve_sources`);
* a list of ``(ra, dec)`` pairs in degrees;
* an `astropy.coordinates.SkyCoord` (or an `astropy.table.Table` with ``ra``/``dec``).
"""

import ast
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ExcludedStars", "check_exclude_radius", "exclusion_pixels", "parse_exclude_stars",
           "pixel_scale"]

log = logging.getLogger(__name__)

#: Default ``exclude_radius`` (arcsec).
DEFAULT_RADIUS = 0.5


@dataclass(frozen=True)
class ExcludedStars:
    """Sky positions of the stars a PSF method must not use.

    Attributes
    ----------
    ra, dec : numpy.ndarray
        ICRS positions in degrees.
    label : str
        What was given, as recorded in `~spike.psf.base.PSFMethod.describe` (the catalog
        path, or ``"<n> positions"``).
    """

    ra: np.ndarray
    dec: np.ndarray
    label: str

    def __len__(self):
        return len(self.ra)


def parse_exclude_stars(value):
    """Validate the ``exclude_stars`` option; return the positions or None.

    Parameters
    ----------
    value : str, pathlib.Path, list of (float, float), SkyCoord, Table or None
        See the module docstring.

    Returns
    -------
    ExcludedStars or None
        None when ``value`` is None or an empty list.

    Raises
    ------
    ValueError
        When the value cannot be read as sky positions; the message names
        ``exclude_stars``.

    Examples
    --------
    >>> stars = parse_exclude_stars([(10.0, -20.0), (10.001, -20.0)])
    >>> len(stars), stars.label
    (2, '2 positions')
    """
    if value is None:
        return None
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    from spike.sources import resolve_sources

    if isinstance(value, str) and value.strip()[:1] in "[(":
        # a list given as text (e.g. through strun's method_options) that is no literal
        msg = (f"exclude_stars {value[:60]!r}... is neither a catalog path nor a list of "
               "(ra, dec) number pairs")
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            raise ValueError(msg) from None
    try:
        if isinstance(value, (str, Path)):
            table = resolve_sources(catalog=Path(value).expanduser())
            label = str(Path(value).expanduser().resolve())
        elif isinstance(value, (SkyCoord, Table)):
            table = resolve_sources(sources=value)
            label = f"{len(table)} positions"
        else:
            pairs = np.asarray(value, dtype=float)
            if pairs.size == 0:
                return None
            if pairs.ndim != 2 or pairs.shape[1] != 2:
                msg = f"a list of (ra, dec) pairs must have shape (n, 2), got {pairs.shape}"
                raise ValueError(msg)
            table = resolve_sources(ra=pairs[:, 0], dec=pairs[:, 1])
            label = f"{len(table)} positions"
    except (ValueError, TypeError, OSError) as exc:
        msg = (f"exclude_stars must be a catalog path (ECSV/CSV with ra, dec in deg), a list "
               f"of (ra, dec) pairs or a SkyCoord: {exc}")
        raise ValueError(msg) from exc
    return ExcludedStars(ra=np.asarray(table["ra"], dtype=float),
                         dec=np.asarray(table["dec"], dtype=float), label=label)


def check_exclude_radius(value):
    """Validate ``exclude_radius`` (arcsec, finite and > 0); return it as a float.

    Parameters
    ----------
    value : float
        Radius in arcsec.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        Naming ``exclude_radius``.
    """
    try:
        ok = not isinstance(value, (bool, np.bool_)) and math.isfinite(float(value))
        ok = ok and float(value) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        msg = f"exclude_radius must be a positive number of arcsec, got {value!r}"
        raise ValueError(msg)
    return float(value)


def pixel_scale(wcs, shape):
    """Return the mean pixel scale (arcsec) of ``wcs`` at the centre of a ``shape`` array.

    Parameters
    ----------
    wcs : astropy.wcs.WCS or gwcs.wcs.WCS
        0-based detector ``(x, y)`` -> ``(ra, dec)`` in degrees.
    shape : tuple of int
        ``(ny, nx)``.

    Returns
    -------
    float
        ``sqrt(|det J|)`` of the local Jacobian, in arcsec per pixel.
    """
    ny, nx = shape
    x0, y0 = (nx - 1) / 2, (ny - 1) / 2
    ra, dec = (np.asarray(v, dtype=float)
               for v in wcs.pixel_to_world_values([x0, x0 + 1, x0], [y0, y0, y0 + 1]))
    cosd = np.cos(np.radians(dec[0]))
    dra = (np.mod(ra[1:] - ra[0] + 180.0, 360.0) - 180.0) * cosd * 3600.0
    ddec = (dec[1:] - dec[0]) * 3600.0
    return float(np.sqrt(abs(dra[0] * ddec[1] - dra[1] * ddec[0])))


def exclusion_pixels(stars, detector, *, radius):
    """Detector positions of the excluded stars and the exclusion radius in pixels.

    Parameters
    ----------
    stars : ExcludedStars or None
        From `parse_exclude_stars`.
    detector : spike.psf.base.DetectorInfo
        The exposure; its ``wcs`` maps 0-based pixels to the sky.
    radius : float
        Exclusion radius in arcsec.

    Returns
    -------
    xy : numpy.ndarray
        ``(n, 2)`` 0-based detector ``(x, y)`` of the stars that map to finite positions
        (possibly off the array; empty when ``stars`` is None).
    radius_px : float
        ``radius`` in detector pixels (0 when ``stars`` is None).

    Raises
    ------
    spike.exceptions.PSFMethodError
        When stars are given but the detector has no WCS.
    """
    from spike.exceptions import PSFMethodError

    if stars is None or len(stars) == 0:
        return np.zeros((0, 2)), 0.0
    if detector.wcs is None:
        msg = (f"exclude_stars needs the exposure's WCS to place the stars, but "
               f"{detector.filename or detector.label()} has none")
        raise PSFMethodError(msg)
    with np.errstate(invalid="ignore"):
        x, y = (np.atleast_1d(np.asarray(v, dtype=float))
                for v in detector.wcs.world_to_pixel_values(stars.ra, stars.dec))
    xy = np.column_stack([x, y])
    xy = xy[np.isfinite(xy).all(axis=1)]
    radius_px = radius / pixel_scale(detector.wcs, detector.shape)
    ny, nx = detector.shape
    on = ((xy[:, 0] > -radius_px) & (xy[:, 0] < nx - 1 + radius_px)
          & (xy[:, 1] > -radius_px) & (xy[:, 1] < ny - 1 + radius_px))
    log.debug("%s: %d of %d excluded stars fall on the detector (radius %.2f px)",
              detector.filename or detector.label(), int(on.sum()), len(stars), radius_px)
    return xy, float(radius_px)
