"""Sky positions to model: from RA/Dec lists, a catalog file, a Table or a SkyCoord."""

import logging
from pathlib import Path

import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table

__all__ = ["resolve_sources"]

log = logging.getLogger(__name__)

_RA_NAMES = ("ra", "alpha_j2000", "raj2000", "ra_deg")
_DEC_NAMES = ("dec", "delta_j2000", "dej2000", "dec_deg")
_ID_NAMES = ("id", "source_id", "label", "name")


def _find_column(table, names):
    lower = {c.lower(): c for c in table.colnames}
    for name in names:
        if name in lower:
            return lower[name]
    return None


def _from_table(table, origin):
    if "sky_centroid" in table.colnames:
        ra, dec = _sky_centroid(table["sky_centroid"], origin)
    else:
        ra_col, dec_col = _find_column(table, _RA_NAMES), _find_column(table, _DEC_NAMES)
        if ra_col is None or dec_col is None:
            msg = (f"{origin} needs 'ra' and 'dec' columns (degrees); it has "
                   f"{', '.join(table.colnames) or 'no columns'}")
            raise ValueError(msg)
        ra = _degrees(table[ra_col], origin, ra_col)
        dec = _degrees(table[dec_col], origin, dec_col)
    id_col = _find_column(table, _ID_NAMES)
    ids = None
    if id_col is not None:
        column = table[id_col]
        blank = np.flatnonzero(np.ma.getmaskarray(column))
        if blank.size:
            msg = f"{origin}: column '{id_col}' is empty in row {blank[0] + 1}"
            raise ValueError(msg)
        ids = [str(v) for v in column]
    return ra, dec, ids


def _sky_centroid(column, origin):
    """RA, Dec (deg, ICRS) of a ``sky_centroid`` column: a SkyCoord, or "ra,dec" strings."""
    if isinstance(column, SkyCoord):
        icrs = column.icrs
        return icrs.ra.deg, icrs.dec.deg
    if len(column) == 0:
        return np.array([]), np.array([])
    # Plain-text tables (CSV) store each SkyCoord as the string "ra,dec" in degrees.
    try:
        pairs = np.array([[float(v) for v in str(item).split(",")] for item in column])
    except ValueError:
        pairs = None
    if pairs is None or pairs.ndim != 2 or pairs.shape[1] != 2:
        msg = (f"{origin}: column 'sky_centroid' must hold sky coordinates (a SkyCoord, or "
               f"'ra,dec' in degrees), not values such as {str(column[0])!r}")
        raise ValueError(msg)
    return pairs[:, 0], pairs[:, 1]


def _degrees(column, origin, name):
    """The column's values in degrees; blanks, text and non-angle units name the row."""
    from astropy import units as u

    blank = np.flatnonzero(np.ma.getmaskarray(column))
    if blank.size:
        msg = (f"{origin}: column '{name}' is empty in row {blank[0] + 1} (of {len(column)}); "
               "every source needs a position")
        raise ValueError(msg)
    values = np.asarray(column)
    if values.dtype.kind not in "fiu":
        for row, value in enumerate(values, start=1):
            try:
                float(value)
            except (TypeError, ValueError):
                msg = (f"{origin}: column '{name}' row {row} holds {str(value).strip()!r}, not "
                       "a number of degrees")
                raise ValueError(msg) from None
    values = values.astype(float)
    unit = getattr(column, "unit", None)
    if unit is not None and str(unit) not in ("", "deg"):
        try:
            values = (values * unit).to_value(u.deg)
        except u.UnitConversionError:
            msg = (f"{origin}: column '{name}' is in {unit}, not an angle; give positions in "
                   "degrees (or another angle unit)")
            raise ValueError(msg) from None
    return values


def _read_catalog(path):
    path = Path(path)
    if not path.is_file():
        msg = f"catalog {path} does not exist"
        raise FileNotFoundError(msg)
    fmt = "ascii.ecsv" if path.suffix.lower() == ".ecsv" else None
    try:
        table = Table.read(path, format=fmt) if fmt else Table.read(path, format="ascii.csv")
    except Exception as exc:
        msg = f"catalog {path} cannot be read as ECSV or CSV: {exc}"
        raise ValueError(msg) from exc
    return _from_table(table, f"catalog {path}")


def resolve_sources(*, ra=None, dec=None, catalog=None, sources=None):
    """Return the sources to model as a Table with ``id``, ``ra`` and ``dec`` (degrees).

    Exactly one of ``ra``/``dec``, ``catalog`` or ``sources`` must be given.

    Parameters
    ----------
    ra, dec : float or list of float, optional
        ICRS right ascension and declination in degrees.
    catalog : str or Path, optional
        ECSV or CSV file with ``ra`` and ``dec`` columns (degrees, or with units) and an
        optional ``id`` column; a ``sky_centroid`` SkyCoord column (as in JWST source
        catalogs) is also accepted.
    sources : `~astropy.coordinates.SkyCoord` or `~astropy.table.Table`, optional
        Positions given from Python.

    Returns
    -------
    `~astropy.table.Table`
        Columns ``id`` (str; ``"1"``, ``"2"``, ... when none is given), ``ra``, ``dec``.

    Raises
    ------
    ValueError
        Nothing or several kinds of input were given, lengths differ, a coordinate is out of
        range, or ids repeat.
    FileNotFoundError
        The catalog does not exist.

    Examples
    --------
    >>> from spike.sources import resolve_sources
    >>> t = resolve_sources(ra=[10.0, 10.1], dec=[-20.0, -20.05])
    >>> [str(i) for i in t["id"]]
    ['1', '2']
    """
    given = [name for name, v in (("ra/dec", ra if ra is not None else dec),
                                  ("catalog", catalog), ("sources", sources)) if v is not None]
    if len(given) != 1:
        msg = ("Give the sources either as ra and dec, as a catalog file, or as a "
               f"SkyCoord/Table (got {', '.join(given) if given else 'none'})")
        raise ValueError(msg)
    ids, origin = None, "ra/dec"
    if given[0] == "ra/dec":
        if ra is None or dec is None:
            msg = "Both ra and dec must be given"
            raise ValueError(msg)
        ra_v, dec_v = _numbers("ra", ra), _numbers("dec", dec)
        if ra_v.shape != dec_v.shape:
            msg = f"ra has {ra_v.size} value(s) but dec has {dec_v.size}"
            raise ValueError(msg)
    elif given[0] == "catalog":
        ra_v, dec_v, ids = _read_catalog(catalog)
        origin = f"catalog {catalog}"
    elif isinstance(sources, SkyCoord):
        icrs = sources.icrs
        ra_v, dec_v = np.atleast_1d(icrs.ra.deg), np.atleast_1d(icrs.dec.deg)
    elif isinstance(sources, Table):
        ra_v, dec_v, ids = _from_table(sources, "the sources table")
        origin = "the sources table"
    else:
        msg = f"sources must be a SkyCoord or a Table, not {type(sources).__name__}"
        raise TypeError(msg)
    return _validated(ra_v, dec_v, ids, origin)


def _numbers(name, values):
    """Return ``values`` (a number, or a list of numbers or numeric strings) as floats."""
    try:
        return np.atleast_1d(np.asarray(values, dtype=float))
    except (TypeError, ValueError) as exc:
        msg = f"{name} must be a number or a list of numbers (degrees), got {values!r}"
        raise ValueError(msg) from exc


def _validated(ra, dec, ids, origin="the sources"):
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    if ra.size == 0:
        msg = f"No sources given ({origin} is empty)"
        raise ValueError(msg)
    for name, values in (("ra", ra), ("dec", dec)):
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            msg = (f"{origin}: {name} of source {bad[0] + 1} is {values[bad[0]]}; source "
                   "coordinates must be finite numbers")
            raise ValueError(msg)
    far = np.flatnonzero(np.abs(dec) > 90)
    if far.size:
        msg = (f"{origin}: dec must lie in [-90, 90] degrees, got {dec[far[0]]} for source "
               f"{far[0] + 1}")
        raise ValueError(msg)
    ra = np.mod(ra, 360.0)
    if ids is None:
        ids = [str(i + 1) for i in range(ra.size)]
    seen = {}
    for row, sid in enumerate(ids, start=1):
        if sid in seen:
            msg = f"{origin}: source id {sid!r} repeats (rows {seen[sid]} and {row})"
            raise ValueError(msg)
        seen[sid] = row
    return Table({"id": np.array(ids, dtype=str), "ra": ra, "dec": dec})
