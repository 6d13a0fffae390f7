"""Top-hat descriptions of imaging filter bands, used by the built-in optical PSF model.

Each band is described by its pivot wavelength and a bandwidth (both in microns); the
optical model treats the band as a flat (top-hat) passband of that width centred on the
pivot. The numbers are rounded public values (JWST user documentation filter tables), good
to a few per cent: they set the wavelengths at which the diffraction pattern is computed,
not photometric zero points.

Adding an instrument (e.g. HST/WFC3 or Roman/WFI) is a matter of adding rows to
``_BAND_TABLE`` and an entry to ``INSTRUMENTS``; no code changes are needed.
"""

import logging
import math
import re
from dataclasses import dataclass

from spike.exceptions import PSFMethodError

__all__ = ["Band", "InstrumentOptics", "INSTRUMENTS", "band_element", "get_band", "known_bands"]

log = logging.getLogger(__name__)

#: Filter names such as F200W, F150W2, F405N, F1130W, F2550WR.
_FILTER_NAME = re.compile(r"^F\d{3,4}(W2|W|M|N|LP|WR|C)?$")


@dataclass(frozen=True)
class Band:
    """A filter band approximated as a top-hat.

    Parameters
    ----------
    instrument : str
        Upper-case instrument name (``"NIRCAM"``).
    name : str
        Filter name (``"F200W"``).
    pivot : float
        Pivot wavelength in microns.
    width : float
        Full bandwidth in microns of the equivalent top-hat.
    channel : str
        Channel whose nominal pixel scale applies (``"SW"``, ``"LW"``, ``"IMAGER"``).
    wheel : str
        ``"filter"`` or ``"pupil"``: the wheel that holds the element.
    """

    instrument: str
    name: str
    pivot: float
    width: float
    channel: str
    wheel: str = "filter"

    @property
    def fractional_width(self):
        """Bandwidth divided by the pivot wavelength."""
        return self.width / self.pivot

    def wavelengths(self, nlambda):
        """Return ``nlambda`` wavelengths (microns) at the centres of equal band slices.

        Parameters
        ----------
        nlambda : int
            Number of wavelengths.

        Returns
        -------
        list of float
        """
        lo = self.pivot - self.width / 2
        return [lo + (k + 0.5) * self.width / nlambda for k in range(nlambda)]

    def default_nlambda(self):
        """Number of wavelengths used when the user gives none.

        One wavelength per 5 % of fractional bandwidth, between 1 and 9 (e.g. NIRCam F212N
        1, F210M 2, F200W 5, F150W2 9).
        """
        return int(min(9, max(1, math.ceil(self.fractional_width / 0.05 - 1e-9))))


@dataclass(frozen=True)
class InstrumentOptics:
    """What the optical model needs to know about an instrument.

    Parameters
    ----------
    name : str
        Upper-case instrument name.
    mission : str
        Mission name (``"jwst"``).
    pupil : str
        Key of the telescope pupil in `spike.psf._pupils.PUPILS`.
    pixel_scales : dict
        Nominal pixel scale (arcsec) per channel; used only to choose the default angular
        field of the computed PSF (the actual scale comes from each exposure's WCS).
    """

    name: str
    mission: str
    pupil: str
    pixel_scales: dict


INSTRUMENTS = {
    "NIRCAM": InstrumentOptics("NIRCAM", "jwst", "jwst", {"SW": 0.0311, "LW": 0.0630}),
    "NIRISS": InstrumentOptics("NIRISS", "jwst", "jwst", {"IMAGER": 0.0656}),
    "MIRI": InstrumentOptics("MIRI", "jwst", "jwst", {"IMAGER": 0.1108}),
}

# (name, pivot um, top-hat width um, wheel)
_NIRCAM_SW = [
    ("F070W", 0.704, 0.128, "filter"),
    ("F090W", 0.901, 0.194, "filter"),
    ("F115W", 1.154, 0.225, "filter"),
    ("F140M", 1.404, 0.142, "filter"),
    ("F150W", 1.501, 0.318, "filter"),
    ("F162M", 1.626, 0.168, "pupil"),
    ("F164N", 1.644, 0.020, "pupil"),
    ("F150W2", 1.671, 1.227, "filter"),
    ("F182M", 1.845, 0.238, "filter"),
    ("F187N", 1.874, 0.024, "filter"),
    ("F200W", 1.990, 0.461, "filter"),
    ("F210M", 2.093, 0.205, "filter"),
    ("F212N", 2.120, 0.027, "filter"),
]
_NIRCAM_LW = [
    ("F250M", 2.503, 0.181, "filter"),
    ("F277W", 2.786, 0.672, "filter"),
    ("F300M", 2.996, 0.318, "filter"),
    ("F322W2", 3.247, 1.339, "filter"),
    ("F323N", 3.237, 0.038, "pupil"),
    ("F335M", 3.365, 0.347, "filter"),
    ("F356W", 3.563, 0.787, "filter"),
    ("F360M", 3.621, 0.372, "filter"),
    ("F405N", 4.055, 0.046, "pupil"),
    ("F410M", 4.092, 0.436, "filter"),
    ("F430M", 4.280, 0.228, "filter"),
    ("F444W", 4.421, 1.024, "filter"),
    ("F460M", 4.624, 0.228, "filter"),
    ("F466N", 4.654, 0.054, "pupil"),
    ("F470N", 4.707, 0.051, "pupil"),
    ("F480M", 4.834, 0.303, "filter"),
]
_NIRISS = [
    ("F090W", 0.900, 0.201, "pupil"),
    ("F115W", 1.150, 0.254, "pupil"),
    ("F140M", 1.404, 0.148, "pupil"),
    ("F150W", 1.494, 0.319, "pupil"),
    ("F158M", 1.582, 0.198, "pupil"),
    ("F200W", 1.993, 0.449, "pupil"),
    ("F277W", 2.764, 0.678, "filter"),
    ("F356W", 3.593, 0.810, "filter"),
    ("F380M", 3.825, 0.206, "filter"),
    ("F430M", 4.284, 0.230, "filter"),
    ("F444W", 4.428, 1.066, "filter"),
    ("F480M", 4.815, 0.302, "filter"),
]
_MIRI = [
    ("F560W", 5.635, 1.2, "filter"),
    ("F770W", 7.639, 2.2, "filter"),
    ("F1000W", 9.953, 2.0, "filter"),
    ("F1130W", 11.309, 0.7, "filter"),
    ("F1280W", 12.810, 2.4, "filter"),
    ("F1500W", 15.064, 3.0, "filter"),
    ("F1800W", 17.984, 3.0, "filter"),
    ("F2100W", 20.795, 5.0, "filter"),
    ("F2550W", 25.365, 4.0, "filter"),
]


def _table():
    rows = {}
    for channel, entries in (("SW", _NIRCAM_SW), ("LW", _NIRCAM_LW)):
        for name, pivot, width, wheel in entries:
            rows["NIRCAM", name] = Band("NIRCAM", name, pivot, width, channel, wheel)
    for name, pivot, width, wheel in _NIRISS:
        rows["NIRISS", name] = Band("NIRISS", name, pivot, width, "IMAGER", wheel)
    for name, pivot, width, wheel in _MIRI:
        rows["MIRI", name] = Band("MIRI", name, pivot, width, "IMAGER", wheel)
    return rows


_BAND_TABLE = _table()


def known_bands(instrument):
    """Return the sorted names of the bands known for ``instrument``.

    Parameters
    ----------
    instrument : str
        Instrument name (case-insensitive).

    Returns
    -------
    list of str
    """
    inst = instrument.upper()
    return sorted(name for (i, name) in _BAND_TABLE if i == inst)


def band_element(filter_name, pupil):
    """Return the name of the element that defines the band.

    A pupil-wheel filter (NIRCam F405N crossed with F444W, NIRISS F150W with filter CLEAR)
    defines the band when the pupil element is named like a filter; otherwise the filter
    does.

    Parameters
    ----------
    filter_name : str
        Filter-wheel element.
    pupil : str or None
        Pupil-wheel element.

    Returns
    -------
    str
        Upper-case element name.

    Examples
    --------
    >>> band_element("F444W", "F405N")
    'F405N'
    >>> band_element("F200W", "CLEAR")
    'F200W'
    """
    if pupil and _FILTER_NAME.match(pupil.strip().upper()):
        return pupil.strip().upper()
    return (filter_name or "").strip().upper()


def get_band(instrument, filter_name, pupil=None):
    """Return the `Band` for an instrument and its filter/pupil elements.

    Parameters
    ----------
    instrument : str
        Instrument name (case-insensitive).
    filter_name : str
        Filter-wheel element.
    pupil : str or None, optional
        Pupil-wheel element; used instead of ``filter_name`` when it is itself a filter.

    Returns
    -------
    Band

    Raises
    ------
    spike.exceptions.PSFMethodError
        When the band is unknown; the message names the filter and the instrument.
    """
    inst = (instrument or "").upper()
    element = band_element(filter_name, pupil)
    try:
        band = _BAND_TABLE[inst, element]
    except KeyError:
        shown = element if element == (filter_name or "").upper() else f"{filter_name}+{pupil}"
        msg = (
            f"Filter {shown!r} is not known for instrument {inst!r}; "
            f"known filters: {', '.join(known_bands(inst)) or 'none'}"
        )
        raise PSFMethodError(msg) from None
    if element != (filter_name or "").upper():
        log.debug("Band of %s %s+%s defined by pupil element %s", inst, filter_name, pupil, element)
    return band
