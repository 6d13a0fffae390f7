"""What spike says to and reads from TinyTim (`spike.psf.tinytim`): HST detector names to
``tiny1`` camera numbers, the ``tiny1`` questionnaire answers, and edits and reads of
``tiny1``'s parameter file.

`TINYTIM_CAMERAS`, `tinytim_camera` and `tiny1_answers` are re-exported by
`spike.psf.tinytim`; camera numbers and positions are described in its module docstring.
"""

import re

from spike.exceptions import PSFMethodError

__all__ = ["TINYTIM_CAMERAS", "tinytim_camera", "tiny1_answers"]

#: ``(instrument, channel) -> tiny1 camera number`` (TinyTim 7.5 ``tiny1`` menu).
TINYTIM_CAMERAS = {
    ("WFPC2", "WF"): 5,
    ("WFPC2", "PC"): 6,
    ("ACS", "WFC"): 15,
    ("ACS", "HRC"): 16,
    ("ACS", "SBC"): 18,
    ("WFC3", "UVIS"): 22,
    ("WFC3", "IR"): 23,
}

#: Largest position ``tiny1`` accepts, ``(x, y)``, per camera.
_POSITION_MAX = {5: (799, 799), 6: (799, 799), 15: (4095, 2047), 16: (1023, 1023),
                 18: (1023, 1023), 22: (4095, 2050), 23: (1013, 1013)}

#: Cameras processed by tiny3 (geometric distortion); others end after tiny2.
_TINY3_CAMERAS = {15, 16, 18, 22, 23}

_SPECTRUM_CODES = {"list": "1", "bb": "2", "pl": "3", "pllam": "4", "file": "5"}


def _channel(instrument, detector, chip):
    """Return ``(channel, chip number or None)`` of an HST detector, or raise."""
    name = (detector or "").strip().upper()
    chip = None if chip is None or str(chip).strip() == "" else str(chip).strip()
    match = re.fullmatch(r"(WFC|UVIS|WF|PC|HRC|SBC|IR)([1-4]?)", name)
    if match is None and instrument == "WFPC2":
        match = re.fullmatch(r"()([1-4]?)", name)  # a bare chip number, or none
    if match is None:
        msg = f"PSF method 'tinytim' does not know {instrument} detector {detector!r}"
        raise PSFMethodError(msg)
    channel, number = match.group(1), match.group(2) or chip
    if instrument == "WFPC2":
        if number is None and channel in ("PC", ""):
            number = "1"
        if number not in ("1", "2", "3", "4"):
            msg = (f"WFPC2 detector {detector!r} needs a chip number 1-4 (detector name "
                   f"'WF3' or DetectorInfo.extra['chip']), got {chip!r}")
            raise PSFMethodError(msg)
        return ("PC" if number == "1" else "WF"), int(number)
    if channel in ("WFC", "UVIS"):
        if number not in ("1", "2"):
            msg = (f"{instrument}/{channel} needs the chip (CCDCHIP 1 or 2) as detector "
                   f"'{channel}1'/'{channel}2' or DetectorInfo.extra['chip'], got {chip!r}")
            raise PSFMethodError(msg)
        return channel, int(number)
    return channel, None


def tinytim_camera(instrument, detector, chip=None):
    """Return the ``tiny1`` camera number and chip answer for an HST detector.

    Parameters
    ----------
    instrument : str
        ``"ACS"``, ``"WFC3"`` or ``"WFPC2"``.
    detector : str
        ``"WFC"``, ``"WFC1"``, ``"HRC"``, ``"SBC"``, ``"UVIS2"``, ``"IR"``, ``"PC"``,
        ``"WF3"``...
    chip : int or str or None, optional
        ``CCDCHIP`` (ACS/WFC, WFC3/UVIS) or WFPC2 chip number, when not in ``detector``.

    Returns
    -------
    camera : int
        ``tiny1`` menu number.
    chip : int or None
        Answer to ``tiny1``'s chip question (`None` when it asks none).

    Raises
    ------
    spike.exceptions.PSFMethodError
        For other instruments or unknown detectors, or a missing chip.

    Examples
    --------
    >>> tinytim_camera("ACS", "WFC", chip=2)
    (15, 2)
    >>> tinytim_camera("WFPC2", "WF", chip=3)
    (5, 3)
    >>> tinytim_camera("WFC3", "IR")
    (23, None)
    """
    inst = (instrument or "").strip().upper()
    if inst not in {i for i, _ in TINYTIM_CAMERAS}:
        msg = (f"PSF method 'tinytim' supports HST instruments ACS, WFC3 and WFPC2, "
               f"not {instrument!r}")
        raise PSFMethodError(msg)
    channel, number = _channel(inst, detector, chip)
    camera = TINYTIM_CAMERAS.get((inst, channel))
    if camera is None:
        msg = f"PSF method 'tinytim' does not know {inst} detector {detector!r}"
        raise PSFMethodError(msg)
    if camera == 6:
        number = None  # the PC has no chip question
    return camera, number


def _spectrum_answers(spectrum):
    """Return the ``tiny1`` answers for a spectrum code such as ``"pl:-1"`` or ``"bb:5800"``."""
    kind, sep, value = str(spectrum).partition(":")
    kind = kind.strip().lower()
    value = value.strip()
    if not sep or kind not in _SPECTRUM_CODES or not value or " " in value:
        msg = (f"spectrum must be 'list:N', 'bb:TEMPERATURE_K', 'pl:INDEX', 'pllam:INDEX' or "
               f"'file:PATH', got {spectrum!r}")
        raise ValueError(msg)
    if kind != "file":
        try:
            number = float(value)
        except ValueError:
            msg = f"spectrum {spectrum!r}: {value!r} is not a number"
            raise ValueError(msg) from None
        if kind == "list" and (number != int(number) or number < 1):
            msg = f"spectrum {spectrum!r}: the list entry must be a positive integer"
            raise ValueError(msg)
        if kind == "bb" and number <= 0:
            msg = f"spectrum {spectrum!r}: the temperature must be positive"
            raise ValueError(msg)
    return [_SPECTRUM_CODES[kind], value]


def tiny1_answers(*, camera, chip, position, filter, spectrum, diameter, focus, rootname,
                  subsample=1, with_spectrum=True):
    """Return the lines fed to ``tiny1`` on stdin, in the order ``tiny1`` asks.

    Parameters
    ----------
    camera : int
        ``tiny1`` camera number.
    chip : int or None
        Chip answer (`None`: not asked).
    position : tuple of int
        ``(x, y)`` chip pixel.
    filter : str
        Filter name.
    spectrum : str
        Spectrum code (see `TinyTimPSFMethod`).
    diameter : float
        PSF diameter in arcsec.
    focus : float
        Secondary-mirror despace in microns.
    rootname : str
        Output rootname.
    subsample : int, optional
        Oversampling asked by ``tiny1`` itself (WFPC2 only; ACS/WFC3 use ``tiny3 SUB=``).
    with_spectrum : bool, optional
        ``tiny1`` asks for the spectrum only when the filter has several wavelengths.

    Returns
    -------
    list of str
    """
    lines = [str(camera)]
    if chip is not None:
        lines.append(str(chip))
    lines += [f"{int(position[0])} {int(position[1])}", filter.lower()]
    if with_spectrum:
        lines += _spectrum_answers(spectrum)
    lines.append(f"{float(diameter):g}")
    if camera not in _TINY3_CAMERAS:
        lines += ["Y", str(subsample)] if subsample > 1 else ["N"]
    lines += [f"{float(focus):g}", rootname]
    return lines


def _apply_zernikes(paramfile, zernikes):
    """Overwrite the Zernike lines (``value  # Zn = ...``) of a tiny1 parameter file."""
    done = set()

    def replace(match):
        index = int(match.group(4))
        if index not in zernikes:
            return match.group(0)
        done.add(index)
        return f"{match.group(1)}{zernikes[index]:.6f}{match.group(3)}"

    pattern = r"(?m)^(\s*)([-+0-9.eE]+)(\s*#\s*Z(\d+)\b.*)$"
    text = re.sub(pattern, replace, paramfile.read_text())
    missing = sorted(set(zernikes) - done)
    if missing:
        msg = (f"{paramfile.name}: no Zernike line for Z{', Z'.join(map(str, missing))}; "
               "cannot apply the Gillis et al. 2020 parameters")
        raise PSFMethodError(msg)
    paramfile.write_text(text)


def _param_diameter(text):
    """Return the PSF diameter written in a tiny1 parameter file, or `None`."""
    match = re.search(r"(?m)^\s*([-+0-9.eE]+)\s*#\s*PSF diameter", text)
    return float(match.group(1)) if match else None
