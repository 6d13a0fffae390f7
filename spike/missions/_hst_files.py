"""Read HST calibrated exposures as chips: ACS and WFC3 ``_flt``/``_flc``, WFPC2 in all forms.

An HST exposure holds one or more chips (``SCI`` extensions): ACS/WFC and WFC3/UVIS two,
WFPC2 four (PC1, WF2, WF3, WF4), the others one. Every chip becomes an `HstChip`: its own
WCS (astropy, with SIP, NPOL and D2IM read from the file), shape, band, exposure time and
units, and lazy access to its SCI, DQ and ERR pixels. Files are opened read-only and
memory-mapped; nothing is ever written to them.

WFPC2 comes as multi-extension ``_c0m`` (data quality in ``_c1m``), waivered ``_c0f``
(``_c1f``; converted in memory with ``stsci.tools.convertwaiveredfits``) or the ``_flt``
``drizzlepac.wfpc2Data.wfpc2_to_flt`` writes. A missing data-quality companion is reported
with a `~spike.exceptions.SpikeWarning` and all pixels count as good.
"""

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from spike.exceptions import SpikeWarning

__all__ = ["HstChip", "HstExposure", "open_hst_exposure", "hst_rootname", "HST_INSTRUMENTS"]

log = logging.getLogger(__name__)

#: Imaging instruments the HST adapter accepts.
HST_INSTRUMENTS = ("ACS", "WFC3", "WFPC2")
#: WFPC2 chip names by DETECTOR number.
WFPC2_CHIP_NAMES = {1: "PC1", 2: "WF2", 3: "WF3", 4: "WF4"}
#: File-name suffixes of calibrated exposures, and of WFPC2 data-quality companions.
EXPOSURE_SUFFIXES = ("_flt", "_flc", "_c0m", "_c0f")
DQ_COMPANIONS = {"_c0m": "_c1m", "_c0f": "_c1f"}
#: Dispersers: grisms and prisms (ACS G800L, PR110L...; WFC3 G102, G141, G280).
_DISPERSER = re.compile(r"^(G\d{3}[LM]?|PR\d{3}[LM]?)$")


def hst_rootname(path):
    """``j8bt06nyq_flt.fits`` -> ``j8bt06nyq`` (lower case); other names lose the extension."""
    name = Path(path).name.lower()
    stem = name.split(".")[0]
    for suffix in (*EXPOSURE_SUFFIXES, "_c1m", "_c1f"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem


def _suffix(path):
    stem = Path(path).name.lower().split(".")[0]
    return next((s for s in (*EXPOSURE_SUFFIXES, "_c1m", "_c1f") if stem.endswith(s)), "")


@dataclass
class HstChip:
    """One chip (``SCI`` extension) of an HST exposure.

    Attributes
    ----------
    exposure : HstExposure
        The file it belongs to.
    extver : int
        ``EXTVER`` of its ``SCI`` extension (``[sci,extver]`` in drizzlepac's names).
    instrument, detector, filter : str
        ``INSTRUME``; chip name (``"WFC1"``/``"WFC2"`` by CCDCHIP for ACS/WFC,
        ``"UVIS1"``/``"UVIS2"``, ``"HRC"``, ``"SBC"``, ``"IR"``, ``"PC1"``/``"WF2"``...);
        the band-defining filter.
    chip : int or None
        ``CCDCHIP`` (ACS, WFC3) or the WFPC2 ``DETECTOR`` number.
    wcs : astropy.wcs.WCS
        Full WCS of the chip (0-based pixels; SIP, NPOL and D2IM when present).
    shape : tuple of int
        ``(ny, nx)``.
    exptime : float
        ``EXPTIME`` (s).
    units : {"counts", "cps"}
        How AstroDrizzle reads the data (``imageObject.setInstrumentParameters``): ``"cps"``
        when the ``SCI`` header's ``BUNIT`` is a rate (WFC3/IR ``ELECTRONS/S``) *or
        missing* (as in WFPC2 files), else ``"counts"``.
    eff_gain : float
        drizzlepac's ``chip._effGain``, the factor its final drizzle multiplies the data by:
        the WFPC2 chip's gain (``wfpc2Data.WFPC2_GAINS`` at ``ATODGAIN``), else 1.
    idcscale : float or None
        ``IDCSCALE`` (arcsec), used for AstroDrizzle's linear pixel scale with SIP.
    origin : tuple of int
        0-based origin of the array on the full calibrated chip (``-LTV1``, ``-LTV2``:
        subarrays; WFC3/IR: less the 5 reference pixels, so a full ``_flt`` is at 0).
    """

    exposure: "HstExposure"
    extver: int
    instrument: str
    detector: str
    filter: str
    chip: int | None
    wcs: WCS
    shape: tuple
    exptime: float
    units: str
    idcscale: float | None
    origin: tuple = (0, 0)
    eff_gain: float = 1.0
    _hdus: dict = field(default_factory=dict, repr=False)

    @property
    def hdulist(self):
        """The `~astropy.io.fits.HDUList` holding the chip's ``SCI`` extension."""
        return self.exposure._hduls[0]

    @property
    def label(self):
        """``"j8bt06nyq_flt.fits[sci,1]"``, as drizzlepac names chips."""
        return f"{self.exposure.path.name}[sci,{self.extver}]"

    def array(self, kind, slices=None):
        """Return the chip's ``"sci"``, ``"dq"`` or ``"err"`` array (or a cutout), or None."""
        hdu = self._hdus.get(kind)
        if hdu is None:
            return None
        data = hdu.data
        return data if slices is None else data[slices]


@dataclass
class HstExposure:
    """An opened HST exposure file with its chips (see `open_hst_exposure`)."""

    path: Path
    rootname: str
    primary: fits.Header
    chips: list
    _hduls: list = field(default_factory=list, repr=False)

    def close(self):
        """Close the files."""
        for hdul in self._hduls:
            hdul.close()
        self._hduls = []


def _band(primary, instrument, name):
    if instrument == "WFPC2":
        values = [primary.get("FILTNAM1", ""), primary.get("FILTNAM2", "")]
    elif instrument == "ACS":
        values = [primary.get("FILTER1", ""), primary.get("FILTER2", "")]
    else:
        values = [primary.get("FILTER", "")]
    values = [str(v).strip().upper() for v in values]
    real = [v for v in values if v and not v.startswith("CLEAR") and v != "N/A"]
    dispersers = [v for v in real if _DISPERSER.match(v)]
    if dispersers:
        msg = (f"{name}: {instrument} {dispersers[0]} is a spectroscopic element; spike "
               "models the PSF of direct images only")
        raise ValueError(msg)
    filters = [v for v in real if v.startswith("F")] or real
    if not filters:
        msg = f"{name}: no filter in the header (filter keywords {values})"
        raise ValueError(msg)
    if len(filters) > 1:
        log.info("%s: crossed filters %s, modelled as %s", name, filters, filters[0])
    return filters[0]


def _check_imaging(primary, name):
    telescope = str(primary.get("TELESCOP", "")).strip().upper()
    if telescope != "HST":
        msg = f"{name} is not an HST exposure (TELESCOP={telescope or 'missing'})"
        raise ValueError(msg)
    instrument = str(primary.get("INSTRUME", "")).strip().upper()
    if instrument not in HST_INSTRUMENTS:
        obstype = str(primary.get("OBSTYPE", "")).strip()
        kind = f", OBSTYPE={obstype}" if obstype else ""
        msg = (f"{name} is an HST {instrument or 'unknown-instrument'} exposure{kind}; spike "
               f"drizzles PSFs of HST imaging with {', '.join(HST_INSTRUMENTS)}")
        raise ValueError(msg)
    if str(primary.get("OBSTYPE", "IMAGING")).strip().upper() not in ("IMAGING", ""):
        msg = (f"{name}: OBSTYPE={primary['OBSTYPE']!r}; spike models the PSF of direct "
               "images only")
        raise ValueError(msg)
    return instrument


def _units(header):
    bunit = header.get("BUNIT")
    if bunit is None or "ergs" in str(bunit).lower():
        return "cps"  # drizzlepac assumes ELECTRONS/S
    return "cps" if "/s" in str(bunit).lower() else "counts"


def _eff_gain(instrument, primary, number):
    if instrument != "WFPC2":
        return 1.0
    from drizzlepac.wfpc2Data import WFPC2_GAINS

    atodgain = int(round(float(primary.get("ATODGAIN", 7.0))))
    try:
        return float(WFPC2_GAINS[int(number)][atodgain][0])
    except KeyError as exc:
        msg = f"WFPC2 chip {number} with ATODGAIN={atodgain}: no gain known to drizzlepac"
        raise ValueError(msg) from exc


def _chip_wcs(header, hdul, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header, hdul)
        except Exception as exc:  # astropy raises several types for broken headers
            msg = f"{name}: cannot read the WCS: {exc}"
            raise ValueError(msg) from exc
    if not wcs.has_celestial:
        msg = f"{name}: the header has no celestial WCS"
        raise ValueError(msg)
    wcs.pixel_shape = (int(header["NAXIS1"]), int(header["NAXIS2"]))
    return wcs


def _chip_name(instrument, primary, header, extver):
    detector = str(primary.get("DETECTOR", "")).strip().upper()
    if instrument == "WFPC2":
        number = int(header.get("DETECTOR", primary.get("DETECTOR", extver)))
        return WFPC2_CHIP_NAMES.get(number, f"WF{number}"), number
    chip = header.get("CCDCHIP")
    chip = int(chip) if chip is not None else None
    if detector in ("WFC", "UVIS"):
        return f"{detector}{chip or 1}", chip or 1
    return detector, chip


def _origin(header, instrument, primary):
    trim = 5 if instrument == "WFC3" and str(primary.get("DETECTOR", "")).strip() == "IR" else 0
    return (-int(round(float(header.get("LTV1", 0)))) - trim,
            -int(round(float(header.get("LTV2", 0)))) - trim)


def _open(path, name):
    """Open a FITS file, every HDU at once; a truncated file is an error naming it."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            hdul = fits.open(path, memmap=True, lazy_load_hdus=False)
    except (OSError, ValueError, IndexError) as exc:
        msg = f"Cannot open {name} as FITS: {exc}"
        raise ValueError(msg) from exc
    for warning in caught:
        if "truncated" in str(warning.message):
            hdul.close()
            msg = (f"{name} is truncated ({warning.message}); the file is incomplete: copy "
                   "or download it again")
            raise ValueError(msg)
        warnings.warn_explicit(warning.message, warning.category, warning.filename,
                               warning.lineno)
    return hdul


def _waivered_to_mef(path, name):
    from stsci.tools.convertwaiveredfits import toMultiExtensionFits

    with fits.open(path) as waivered, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*Column disp option \(TDISPn\)",
                                category=fits.verify.VerifyWarning)
        try:
            return toMultiExtensionFits(waivered, None)
        except Exception as exc:  # the converter raises generic errors for odd files
            msg = f"Cannot convert the waivered WFPC2 file {name}: {exc}"
            raise ValueError(msg) from exc


def _open_wfpc2(path, suffix, name):
    """Science and data-quality HDU lists of a WFPC2 ``_c0m``/``_c0f`` (DQ may be None)."""
    companion = path.with_name(f"{hst_rootname(path)}{DQ_COMPANIONS[suffix]}.fits")
    if not companion.is_file():
        upper = path.with_name(companion.name.upper())
        companion = upper if upper.is_file() else companion
    reader = (lambda p, n: _waivered_to_mef(p, n)) if suffix == "_c0f" else _open
    sci = reader(path, name)
    if not companion.is_file():
        warnings.warn(
            f"{name}: no data-quality file {companion.name} beside it; all its pixels are "
            "treated as good (give the DQ file or the science run's final masks)",
            SpikeWarning, stacklevel=4,
        )
        return sci, None
    return sci, reader(companion, companion.name)


def _is_drizzled(primary, path):
    """True for an AstroDrizzle product: ``D001DATA`` keywords or a ``_drz``-like name."""
    stem = Path(path).name.lower().split(".")[0]
    return "D001DATA" in primary or stem.endswith(("_drz", "_drc", "_drw"))


def open_hst_exposure(path):
    """Open an HST calibrated exposure and describe its chips.

    Parameters
    ----------
    path : str or pathlib.Path
        ``_flt``/``_flc`` (ACS, WFC3, WFPC2 converted by drizzlepac), WFPC2 ``_c0m`` or
        ``_c0f`` (their ``_c1m``/``_c1f`` data-quality file is looked for beside them).

    Returns
    -------
    HstExposure

    Raises
    ------
    ValueError
        Not an HST imaging exposure of ACS, WFC3 or WFPC2 (e.g. STIS, a grism), or an
        unreadable file; the message names the file.

    Warns
    -----
    SpikeWarning
        When the data-quality arrays are missing (all pixels are then good).
    """
    path = Path(path)
    name = path.name
    suffix = _suffix(path)
    if suffix in ("_c1m", "_c1f"):
        msg = (f"{name} is a WFPC2 data-quality file; give the science file "
               f"({hst_rootname(path)}{'_c0m' if suffix == '_c1m' else '_c0f'}.fits)")
        raise ValueError(msg)
    with fits.open(path) as probe:
        primary = probe[0].header.copy()
    instrument = _check_imaging(primary, name)
    if _is_drizzled(primary, path):
        msg = (f"{name} is a drizzled product (AstroDrizzle _drz/_drc), not a calibrated "
               "exposure: give the exposures (_flt/_flc/_c0m, or their association) as input "
               "and the drizzled product as reference_mosaic")
        raise ValueError(msg)
    if suffix in DQ_COMPANIONS:
        if instrument != "WFPC2":
            msg = f"{name}: a {suffix} file must be WFPC2, this is {instrument}"
            raise ValueError(msg)
        sci_hdul, dq_hdul = _open_wfpc2(path, suffix, name)
        hduls = [h for h in (sci_hdul, dq_hdul) if h is not None]
    else:
        sci_hdul, dq_hdul = _open(path, name), None
        hduls = [sci_hdul]
    exposure = HstExposure(path=path, rootname=hst_rootname(path), primary=primary,
                           chips=[], _hduls=hduls)
    try:
        _add_chips(exposure, sci_hdul, dq_hdul, instrument)
    except Exception:
        exposure.close()
        raise
    return exposure


def _add_chips(exposure, sci_hdul, dq_hdul, instrument):
    name, primary = exposure.path.name, exposure.primary
    band = _band(primary, instrument, name)
    exptime = float(primary.get("EXPTIME", 0.0))
    if not exptime > 0:
        msg = f"{name}: EXPTIME={primary.get('EXPTIME')!r}; AstroDrizzle needs a positive one"
        raise ValueError(msg)
    sci_hdus = [h for h in sci_hdul[1:] if h.name == "SCI" and h.header.get("NAXIS") == 2]
    if not sci_hdus:
        msg = f"{name} has no 2-D SCI extension"
        raise ValueError(msg)
    missing_dq = []
    for position, hdu in enumerate(sci_hdus, start=1):
        extver = int(hdu.header.get("EXTVER", position))
        header = hdu.header
        dq = err = None
        if dq_hdul is not None:
            dq = dq_hdul[position] if len(dq_hdul) > position else None
        elif ("DQ", extver) in sci_hdul:
            dq = sci_hdul["DQ", extver]
        if ("ERR", extver) in sci_hdul:
            err = sci_hdul["ERR", extver]
        if dq is None:
            missing_dq.append(extver)
        detector, chip = _chip_name(instrument, primary, header, extver)
        idcscale = header.get("IDCSCALE")
        exposure.chips.append(HstChip(
            exposure=exposure, extver=extver, instrument=instrument, detector=detector,
            filter=band, chip=chip, wcs=_chip_wcs(header, sci_hdul, f"{name}[sci,{extver}]"),
            shape=(int(header["NAXIS2"]), int(header["NAXIS1"])), exptime=exptime,
            units=_units(header), eff_gain=_eff_gain(instrument, primary, chip),
            idcscale=float(idcscale) if idcscale is not None else None,
            origin=_origin(header, instrument, primary),
            _hdus={"sci": hdu, "dq": dq, "err": err},
        ))
    if missing_dq and _suffix(exposure.path) not in DQ_COMPANIONS:
        warnings.warn(
            f"{name}: no DQ extension for chip(s) {missing_dq}; their pixels are treated "
            "as good", SpikeWarning, stacklevel=4,
        )


def dq_good_mask(dq, bits):
    """True where ``dq`` has no flag outside ``bits`` (AstroDrizzle's ``final_bits``)."""
    if dq is None:
        return None
    return (np.asarray(dq).astype(np.int64) & ~int(bits)) == 0
