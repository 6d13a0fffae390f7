"""Top-hat descriptions of imaging filter bands, used by the built-in optical PSF model.

Each band is described by its pivot wavelength and a bandwidth (both in microns); the
optical model treats the band as a flat (top-hat) passband of that width centred on the
pivot. The numbers are rounded public values, good to a few per cent: they set the
wavelengths at which the diffraction pattern is computed, not photometric zero points.
JWST: the JWST user documentation filter tables. HST: pivot wavelengths and passband
widths of the ACS, WFC3 and WFPC2 instrument handbooks (approximate; the width is the
handbook's passband width or FWHM).

A band belongs to an instrument *channel* (NIRCam ``SW``/``LW``, ACS ``WFC``/``HRC``, WFC3
``UVIS``/``IR``, WFPC2 ``PC``/``WF``), whose nominal pixel scale sizes the default field.
JWST channels follow from the filter; HST channels from the detector
(`InstrumentOptics.channel_for`), because the same filter name can exist in two channels.

Adding an instrument is a matter of adding rows to the band tables and an entry to
``INSTRUMENTS`` (JWST) or ``HST_INSTRUMENTS``; no code changes are needed.
"""

import logging
import math
import re
from dataclasses import dataclass

from spike.exceptions import PSFMethodError

__all__ = [
    "Band",
    "HST_INSTRUMENTS",
    "INSTRUMENTS",
    "InstrumentOptics",
    "MISSION_INSTRUMENTS",
    "band_element",
    "get_band",
    "known_bands",
]

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
        Mission name (``"jwst"``, ``"hst"``).
    pupil : str
        Key of the telescope pupil in `spike.psf._pupils.PUPILS`.
    pixel_scales : dict
        Nominal pixel scale (arcsec) per channel; used only to choose the default angular
        field of the computed PSF (the actual scale comes from each exposure's WCS).
    detectors : tuple of (str, str)
        ``(regular expression, channel)`` pairs matched against the upper-case detector
        name; empty when the channel follows from the filter (JWST).
    channel_pupils : tuple of (str, str)
        ``(channel, pupil key)`` pairs for channels with their own pupil (a cold mask).
    """

    name: str
    mission: str
    pupil: str
    pixel_scales: dict
    detectors: tuple = ()
    channel_pupils: tuple = ()

    def pupil_for(self, channel):
        """Return the `~spike.psf._pupils.PUPILS` key used for ``channel``."""
        return dict(self.channel_pupils).get(channel, self.pupil)

    def channel_for(self, detector, chip=None):
        """Return the channel of a detector name, or `None` when it is not recognised.

        Parameters
        ----------
        detector : str
            Detector name as the mission writes it (``"WFC"``, ``"UVIS2"``, ``"PC"``).
        chip : int or str or None, optional
            Chip number, used when the detector name alone does not tell the channel
            (WFPC2 chip 1 is the PC, chips 2-4 the WFs).

        Returns
        -------
        str or None

        Examples
        --------
        >>> HST_INSTRUMENTS["WFPC2"].channel_for("WF", chip=3)
        'WF'
        >>> HST_INSTRUMENTS["WFPC2"].channel_for("", chip=1)
        'PC'
        >>> HST_INSTRUMENTS["ACS"].channel_for("SBC") is None
        True
        """
        name = (detector or "").strip().upper()
        names = [name]
        if chip is not None and str(chip).strip():
            names += [f"{name}{str(chip).strip()}", str(chip).strip()]
        for candidate in names:
            for pattern, channel in self.detectors:
                if candidate and re.fullmatch(pattern, candidate):
                    return channel
        return None


#: JWST instruments.
INSTRUMENTS = {
    "NIRCAM": InstrumentOptics("NIRCAM", "jwst", "jwst", {"SW": 0.0311, "LW": 0.0630}),
    "NIRISS": InstrumentOptics("NIRISS", "jwst", "jwst", {"IMAGER": 0.0656}),
    "MIRI": InstrumentOptics("MIRI", "jwst", "jwst", {"IMAGER": 0.1108}),
}

#: HST instruments. Nominal scales: ACS/WFC 0.05", ACS/HRC 0.025" (0.028 x 0.025),
#: WFC3/UVIS 0.0396", WFC3/IR 0.13", WFPC2 PC 0.0455" and WF 0.0996". ACS/SBC is not
#: modelled (far-UV MAMA, no band table). Detector names: ``WFC``/``WFC1``/``WFC2``,
#: ``HRC``, ``UVIS``/``UVIS1``/``UVIS2``, ``IR``, ``PC``/``PC1``, ``WF``/``WF2``..``WF4``
#: (a bare WFPC2 chip number 1-4 also works).
HST_INSTRUMENTS = {
    "ACS": InstrumentOptics(
        "ACS", "hst", "hst", {"WFC": 0.05, "HRC": 0.025},
        detectors=((r"WFC[12]?", "WFC"), (r"HRC", "HRC")),
    ),
    "WFC3": InstrumentOptics(
        "WFC3", "hst", "hst", {"UVIS": 0.0396, "IR": 0.13},
        detectors=((r"UVIS[12]?", "UVIS"), (r"IR", "IR")),
        channel_pupils=(("IR", "hst-wfc3ir"),),
    ),
    "WFPC2": InstrumentOptics(
        "WFPC2", "hst", "hst", {"PC": 0.0455, "WF": 0.0996},
        detectors=((r"PC1?|1", "PC"), (r"WF[234]?|[234]", "WF")),
    ),
}

#: Instruments by mission.
MISSION_INSTRUMENTS = {"jwst": INSTRUMENTS, "hst": HST_INSTRUMENTS}

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


# HST: (name, pivot um, top-hat width um). ACS/WFC and ACS/HRC share most filters but
# differ slightly in pivot (different detector QE); the HRC also has the UV filters.
_ACS_WFC = [
    ("F435W", 0.4329, 0.1038),
    ("F475W", 0.4746, 0.1458),
    ("F502N", 0.5023, 0.0057),
    ("F550M", 0.5581, 0.0547),
    ("F555W", 0.5361, 0.1193),
    ("F606W", 0.5922, 0.2342),
    ("F625W", 0.6312, 0.1442),
    ("F658N", 0.6584, 0.0078),
    ("F775W", 0.7693, 0.1528),
    ("F814W", 0.8045, 0.2511),
    ("F850LP", 0.9033, 0.1229),
]
_ACS_HRC = [
    ("F220W", 0.2255, 0.0187),
    ("F250W", 0.2716, 0.0395),
    ("F330W", 0.3363, 0.0173),
    ("F435W", 0.4311, 0.1038),
    ("F475W", 0.4776, 0.1458),
    ("F502N", 0.5023, 0.0057),
    ("F550M", 0.5579, 0.0547),
    ("F555W", 0.5357, 0.1193),
    ("F606W", 0.5888, 0.2342),
    ("F625W", 0.6296, 0.1442),
    ("F658N", 0.6582, 0.0078),
    ("F775W", 0.7665, 0.1528),
    ("F814W", 0.8115, 0.2511),
    ("F850LP", 0.9145, 0.1229),
]
_WFC3_UVIS = [
    ("F225W", 0.2359, 0.0467),
    ("F275W", 0.2704, 0.0398),
    ("F336W", 0.3355, 0.0511),
    ("F390W", 0.3924, 0.0896),
    ("F438W", 0.4326, 0.0615),
    ("F475W", 0.4773, 0.1344),
    ("F502N", 0.5010, 0.0065),
    ("F555W", 0.5308, 0.1565),
    ("F606W", 0.5887, 0.2182),
    ("F625W", 0.6242, 0.1464),
    ("F656N", 0.6561, 0.0018),
    ("F775W", 0.7651, 0.1168),
    ("F814W", 0.8039, 0.1536),
    ("F850LP", 0.9176, 0.1184),
]
_WFC3_IR = [
    ("F098M", 0.9864, 0.1570),
    ("F105W", 1.0552, 0.2650),
    ("F110W", 1.1534, 0.4430),
    ("F125W", 1.2486, 0.2845),
    ("F127M", 1.2740, 0.0688),
    ("F139M", 1.3838, 0.0643),
    ("F140W", 1.3923, 0.3840),
    ("F153M", 1.5322, 0.0685),
    ("F160W", 1.5369, 0.2683),
    ("F164N", 1.6448, 0.0209),
]
_WFPC2 = [
    ("F300W", 0.2987, 0.0740),
    ("F336W", 0.3344, 0.0381),
    ("F439W", 0.4312, 0.0473),
    ("F450W", 0.4557, 0.0925),
    ("F555W", 0.5439, 0.1228),
    ("F606W", 0.6001, 0.1502),
    ("F656N", 0.6564, 0.0022),
    ("F675W", 0.6718, 0.0889),
    ("F702W", 0.6918, 0.1384),
    ("F814W", 0.7996, 0.1539),
]


def _table():
    """Return ``{(instrument, name): {channel: Band}}``."""
    rows = {}

    def add(instrument, channel, name, pivot, width, wheel="filter"):
        band = Band(instrument, name, pivot, width, channel, wheel)
        rows.setdefault((instrument, name), {})[channel] = band

    for channel, entries in (("SW", _NIRCAM_SW), ("LW", _NIRCAM_LW)):
        for name, pivot, width, wheel in entries:
            add("NIRCAM", channel, name, pivot, width, wheel)
    for name, pivot, width, wheel in _NIRISS:
        add("NIRISS", "IMAGER", name, pivot, width, wheel)
    for name, pivot, width, wheel in _MIRI:
        add("MIRI", "IMAGER", name, pivot, width, wheel)
    for instrument, channel, entries in (
        ("ACS", "WFC", _ACS_WFC),
        ("ACS", "HRC", _ACS_HRC),
        ("WFC3", "UVIS", _WFC3_UVIS),
        ("WFC3", "IR", _WFC3_IR),
        ("WFPC2", "PC", _WFPC2),
        ("WFPC2", "WF", _WFPC2),
    ):
        for name, pivot, width in entries:
            add(instrument, channel, name, pivot, width)
    return rows


_BAND_TABLE = _table()


def known_bands(instrument, channel=None):
    """Return the sorted names of the bands known for ``instrument`` (and ``channel``).

    Parameters
    ----------
    instrument : str
        Instrument name (case-insensitive).
    channel : str or None, optional
        Restrict to one channel (``"WFC"``, ``"IR"``).

    Returns
    -------
    list of str
    """
    inst = instrument.upper()
    return sorted(
        name
        for (i, name), bands in _BAND_TABLE.items()
        if i == inst and (channel is None or channel in bands)
    )


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


def get_band(instrument, filter_name, pupil=None, *, channel=None):
    """Return the `Band` for an instrument and its filter/pupil elements.

    Parameters
    ----------
    instrument : str
        Instrument name (case-insensitive).
    filter_name : str
        Filter-wheel element.
    pupil : str or None, optional
        Pupil-wheel element; used instead of ``filter_name`` when it is itself a filter.
    channel : str or None, optional
        Instrument channel; needed when the filter exists in several channels (HST).

    Returns
    -------
    Band

    Raises
    ------
    spike.exceptions.PSFMethodError
        When the band is unknown (the message names the filter and the instrument) or
        ambiguous without a channel.
    """
    inst = (instrument or "").upper()
    element = band_element(filter_name, pupil)
    bands = _BAND_TABLE.get((inst, element), {})
    if channel is not None:
        bands = {channel: bands[channel]} if channel in bands else {}
    if not bands:
        shown = element if element == (filter_name or "").upper() else f"{filter_name}+{pupil}"
        where = f"{inst!r}" if channel is None else f"{inst!r} channel {channel!r}"
        msg = (
            f"Filter {shown!r} is not known for instrument {where}; "
            f"known filters: {', '.join(known_bands(inst, channel)) or 'none'}"
        )
        raise PSFMethodError(msg)
    if len(bands) > 1:
        msg = (
            f"Filter {element!r} of instrument {inst!r} exists in channels "
            f"{', '.join(sorted(bands))}; give the channel"
        )
        raise PSFMethodError(msg)
    (band,) = bands.values()
    if element != (filter_name or "").upper():
        log.debug("Band of %s %s+%s defined by pupil element %s", inst, filter_name, pupil, element)
    return band
