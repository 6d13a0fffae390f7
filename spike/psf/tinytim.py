"""HST PSFs from TinyTim (Krist et al.), ``--method tinytim``.

TinyTim is three external programs plus data files, found through ``$TINYTIM``:

* ``tiny1 paramfile`` asks a questionnaire on stdin (camera, chip, position, filter, object
  spectrum, PSF diameter, focus, rootname) and writes a parameter file;
* ``tiny2 paramfile`` computes the PSF; for ACS and WFC3 it writes ``<root>00_psf.fits``,
  the undistorted PSF sampled finer than the detector, for WFPC2 the final ``<root>00.fits``;
* ``tiny3 paramfile [SUB=n]`` (ACS and WFC3 only) maps that PSF onto the distorted detector
  pixels and writes ``<root>00.fits``: at detector sampling with charge diffusion, or with
  ``SUB=n`` subsampled ``n`` times along each axis **without charge diffusion**.

TinyTim is not on PyPI; get it from the spacetelescope/tinytim repository on GitHub, build it
with ``make`` and set ``TINYTIM`` to the build directory. `TinyTimPSFMethod.prepare` checks
the programs and ``$TINYTIM`` before anything else and raises
`~spike.exceptions.PSFDataUnavailableError` when they are missing.

Camera numbers
--------------
From the ``tiny1`` menu of TinyTim 7.5 (``tiny1.c``): WFPC2 WF = 5 (then chip 2, 3 or 4),
WFPC2 PC = 6, ACS/WFC = 15 (then detector 1 or 2, i.e. WFC1/WFC2 = header ``CCDCHIP``),
ACS/HRC = 16, HRC off-spot = 17 (not used), ACS/SBC = 18, WFC3/UVIS = 22 (then detector 1
or 2 = ``CCDCHIP``), WFC3/IR = 23. Menus of other TinyTim versions may differ.

Positions
---------
``tiny1`` takes integer chip pixel positions, in the frame of the ``_flt`` chip arrays for
ACS and WFC3 (of the chip for WFPC2). spike passes ``round(x) + 1, round(y) + 1`` (1-based, as
the FITS/IRAF convention of the TinyTim manual's examples) clipped to the range ``tiny1``
prints (ACS/WFC 0-4095 x 0-2047, UVIS 0-4095 x 0-2050, HRC/SBC 0-1023, IR 0-1013, WFPC2
0-799). The prompt's 0-based ranges make the origin ambiguous by one pixel, immaterial for
aberrations that vary over hundreds of pixels. ``DetectorInfo.extra["chip_origin"]``
(0-based ``(x, y)`` of the array in the chip) is added when the array is a cut-out.

ePSF conversion
---------------
TinyTim's subsampled output samples the PSF (not integrated over the detector pixel), so
spike convolves it with a box one detector pixel wide (``oversampling`` samples, as for
STPSF) and multiplies by ``oversampling**2``; at ``oversampling=1`` the output is already
pixel-integrated. The PSF centre is taken to be the array centre ``((n - 1) / 2)``, and the
normalisation TinyTim gives (flux inside the diameter) is kept.
"""

import logging
import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._epsf import check_psf_array, check_size, render_epsf
from spike.psf.base import PSFMethod, PSFModel

__all__ = [
    "GILLIS2020_ZERNIKES",
    "TINYTIM_CAMERAS",
    "TinyTimModel",
    "TinyTimPSFMethod",
    "find_tinytim",
    "tinytim_camera",
    "tiny1_answers",
]

log = logging.getLogger(__name__)

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

#: Zernike coefficients (microns RMS) that ``gillis2020=True`` writes over tiny1's parameter
#: file for ACS/WFC, keyed by TinyTim Zernike index: Z5/Z6 astigmatism 0/45 deg, Z7/Z8 coma
#: x/y, Z9/Z10 clover x/y, Z11 third-order and Z22 fifth-order spherical. Values are the
#: ``default_params`` of B. Gillis's PSF_Testing code (``magic_values.py``), the code behind
#: Gillis et al. (2020, MNRAS 496, 5017); they were not re-checked against the paper's tables.
GILLIS2020_ZERNIKES = {5: 0.031, 6: 0.028, 7: 0.003, 8: 0.001, 9: 0.008, 10: 0.018,
                       11: -0.025, 22: 0.009}

_SPECTRUM_CODES = {"list": "1", "bb": "2", "pl": "3", "pllam": "4", "file": "5"}

_INSTALL_HINT = (
    "TinyTim is not installed: spike needs the programs tiny1, tiny2 and tiny3 (on PATH or "
    "in the TinyTim directory) and the environment variable TINYTIM pointing at the TinyTim "
    "installation (its data files). Get TinyTim from the spacetelescope/tinytim repository "
    "on GitHub, build it with 'make' and set TINYTIM to that directory. Alternatively use "
    "the built-in diffraction-limited model (method 'optical'), which needs no download."
)


def find_tinytim(tinytim_dir=None):
    """Locate TinyTim's data directory and programs without running anything.

    Parameters
    ----------
    tinytim_dir : str or None, optional
        TinyTim installation; `None` uses ``$TINYTIM``.

    Returns
    -------
    directory : pathlib.Path
        The TinyTim directory.
    programs : dict
        ``{"tiny1": path, "tiny2": path, "tiny3": path}``; each program is looked for on
        ``PATH`` first, then in the TinyTim directory.

    Raises
    ------
    spike.exceptions.PSFDataUnavailableError
        When the directory or a program is missing; the message says what and where to get
        TinyTim.
    """
    problems = []
    source = "tinytim_dir" if tinytim_dir else "$TINYTIM"
    tinytim_dir = tinytim_dir or os.environ.get("TINYTIM")
    directory = Path(tinytim_dir).expanduser() if tinytim_dir else None
    if directory is None:
        problems.append("$TINYTIM is not set")
    elif not directory.is_dir():
        problems.append(f"{source} = {directory} is not a directory")
    programs = {}
    for name in ("tiny1", "tiny2", "tiny3"):
        found = shutil.which(name)
        if found is None and directory is not None and directory.is_dir():
            found = shutil.which(name, path=str(directory))
        if found is None:
            problems.append(f"{name} is not on PATH" + (" nor in the TinyTim directory"
                                                        if directory else ""))
        programs[name] = found
    if problems:
        raise PSFDataUnavailableError(f"{'; '.join(problems)}. {_INSTALL_HINT}")
    return directory, programs


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


def _box_kernel(oversampling):
    """1-D kernel of a box one detector pixel wide, in oversampled samples."""
    if oversampling % 2:
        return np.full(oversampling, 1.0 / oversampling)
    kernel = np.ones(oversampling + 1)
    kernel[[0, -1]] = 0.5
    return kernel / oversampling


def _param_diameter(text):
    """Return the PSF diameter written in a tiny1 parameter file, or `None`."""
    match = re.search(r"(?m)^\s*([-+0-9.eE]+)\s*#\s*PSF diameter", text)
    return float(match.group(1)) if match else None


class TinyTimModel(PSFModel):
    """TinyTim PSFs of one HST chip, computed on demand and cached per position.

    Parameters
    ----------
    programs : dict
        Paths of ``tiny1``, ``tiny2``, ``tiny3``.
    tinytim_dir : pathlib.Path
        TinyTim directory (exported as ``TINYTIM``).
    camera, chip : int, int or None
        ``tiny1`` camera and chip answers.
    filter : str
        Filter name.
    options : dict
        ``diameter``, ``focus``, ``spectrum``, ``gillis2020``, ``workdir``, ``timeout``.
    oversampling : int
        Oversampling factor.
    origin : tuple of int
        0-based ``(x, y)`` of the exposure array in the chip.
    label : str
        Exposure label for messages.
    """

    def __init__(self, *, programs, tinytim_dir, camera, chip, filter, options, oversampling,
                 origin=(0, 0), label=""):
        self.programs = dict(programs)
        self.tinytim_dir = Path(tinytim_dir)
        self.camera = int(camera)
        self.chip = chip
        self.filter = filter
        self.options = dict(options)
        self.oversampling = int(oversampling)
        self.origin = tuple(int(v) for v in origin)
        self.label = label
        self._cache = {}

    def tinytim_position(self, x, y):
        """Return the 1-based integer chip pixel passed to ``tiny1`` for 0-based ``(x, y)``."""
        xmax, ymax = _POSITION_MAX[self.camera]
        px = int(round(x)) + self.origin[0] + 1
        py = int(round(y)) + self.origin[1] + 1
        return min(max(px, 0), xmax), min(max(py, 0), ymax)

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        Parameters
        ----------
        x, y : float
            0-based position in the exposure's array.
        size : int
            Odd stamp width in detector pixels.

        Returns
        -------
        numpy.ndarray
            ``(size * oversampling, size * oversampling)`` float64 ePSF.
        """
        size = check_size(size)
        position = self.tinytim_position(x, y)
        key = (self.chip, position)
        if key not in self._cache:
            self._cache[key] = self._run(position)
        return render_epsf(self._cache[key], psf_oversampling=self.oversampling,
                           oversampling=self.oversampling, size=size, normalize=False)

    def _run(self, position):
        """Run TinyTim at one chip position in a clean directory; return the ePSF array."""
        from astropy.io import fits
        from scipy import ndimage

        opts = self.options
        parent = opts.get("workdir")
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="spike_tinytim_", dir=parent) as tmp:
            wd = Path(tmp)
            paramfile = wd / "psf.par"
            root = "psf"
            sub = self.oversampling
            answers = dict(camera=self.camera, chip=self.chip, position=position,
                           filter=self.filter, spectrum=opts["spectrum"],
                           diameter=opts["diameter"], focus=opts["focus"], rootname=root,
                           subsample=sub)
            self._tiny1(paramfile, answers, wd)
            if opts.get("gillis2020"):
                _apply_zernikes(paramfile, GILLIS2020_ZERNIKES)
            self._call("tiny2", [str(paramfile.name)], wd)
            if self.camera in _TINY3_CAMERAS:
                args = [str(paramfile.name)] + ([f"SUB={sub}"] if sub > 1 else [])
                self._call("tiny3", args, wd)
            output = wd / f"{root}00.fits"
            if not output.is_file():
                msg = f"{self.label}: TinyTim wrote no {output.name} in {wd}"
                raise PSFMethodError(msg)
            with fits.open(output) as hdul:
                data = check_psf_array(hdul[0].data, what=f"TinyTim output {output.name}")
        if sub > 1:
            kernel = _box_kernel(sub)
            data = ndimage.convolve1d(data, kernel, axis=0, mode="constant")
            data = ndimage.convolve1d(data, kernel, axis=1, mode="constant")
        return data * sub**2

    def _tiny1(self, paramfile, answers, wd):
        """Run tiny1; redo without the spectrum answers when tiny1 did not ask for them."""
        lines = tiny1_answers(**answers)
        self._call("tiny1", [paramfile.name], wd, stdin="\n".join(lines) + "\n")
        written = _param_diameter(paramfile.read_text()) if paramfile.is_file() else None
        if written is not None and not math.isclose(written, answers["diameter"],
                                                    rel_tol=1e-3, abs_tol=1e-3):
            # single-wavelength filters skip the spectrum question, shifting every answer
            log.debug("tiny1 diameter %s != %s; retrying without the spectrum answers",
                      written, answers["diameter"])
            lines = tiny1_answers(**answers, with_spectrum=False)
            self._call("tiny1", [paramfile.name], wd, stdin="\n".join(lines) + "\n")
            written = _param_diameter(paramfile.read_text())
            if written is None or not math.isclose(written, answers["diameter"],
                                                   rel_tol=1e-3, abs_tol=1e-3):
                msg = (f"{self.label}: tiny1 did not take the expected answers "
                       f"(PSF diameter {written} in {paramfile.name}, expected "
                       f"{answers['diameter']})")
                raise PSFMethodError(msg)
        if not paramfile.is_file():
            msg = f"{self.label}: tiny1 wrote no parameter file {paramfile.name}"
            raise PSFMethodError(msg)

    def _call(self, program, args, wd, stdin=None):
        """Run one TinyTim program in ``wd``; raise `PSFMethodError` on failure."""
        env = dict(os.environ, TINYTIM=str(self.tinytim_dir))
        log.debug("Running %s %s in %s", program, " ".join(args), wd)
        try:
            proc = subprocess.run([self.programs[program], *args], input=stdin, text=True,
                                  capture_output=True, cwd=wd, env=env,
                                  timeout=self.options.get("timeout"), check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            msg = f"{self.label}: running TinyTim's {program} failed: {exc}"
            raise PSFMethodError(msg) from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout or "").strip()[-500:]
            msg = f"{self.label}: TinyTim's {program} exited with {proc.returncode}: {tail}"
            raise PSFMethodError(msg)


class TinyTimPSFMethod(PSFMethod):
    """HST PSFs computed by TinyTim at each source position (needs TinyTim installed).

    Parameters
    ----------
    oversampling : int, optional
        Oversampling of the ePSFs, passed to TinyTim as ``tiny3 SUB=n`` (ACS, WFC3) or as
        ``tiny1``'s subsampling factor (WFPC2, 2-10). TinyTim's subsampled PSFs do **not**
        include charge diffusion (TinyTim applies its kernel only at detector sampling);
        use ``oversampling=1`` for a detector-sampled PSF with charge diffusion.
    diameter : float, optional
        PSF diameter in arcsec (default 3.0; ``tiny1`` caps it, about 30").
    focus : float, optional
        Secondary-mirror despace in microns (``tiny1`` adds ``0.011 * focus`` to Z4);
        default 0.
    spectrum : str, optional
        Object spectrum as ``kind:value`` mapped to ``tiny1``'s choices: ``list:N``
        (1, entry N of TinyTim's stellar list), ``bb:T`` (2, blackbody of T kelvin),
        ``pl:i`` (3, F_nu = nu**i), ``pllam:i`` (4, F_lambda = lambda**i), ``file:PATH``
        (5, ASCII table). Default ``"pl:-1"`` (flat in F_lambda).
    gillis2020 : bool, optional
        ACS/WFC only: after ``tiny1``, overwrite the parameter file's Zernike coefficients
        Z5-Z11 and Z22 with `GILLIS2020_ZERNIKES` (astigmatism, coma, clover, spherical as
        fit by Gillis et al. 2020, taken from their PSF_Testing code, not re-checked against
        the paper). The empirical charge-diffusion kernel of the paper is **not** applied:
        its values are not available here (their code's kernel adjustment defaults to 1,
        i.e. TinyTim's own kernel), and subsampled output has no charge diffusion anyway.
        The focus is not fitted; pass ``focus``.
    tinytim_dir : str or None, optional
        TinyTim installation (default ``$TINYTIM``).
    workdir : str or None, optional
        Parent of the temporary run directories (default: the system temporary
        directory); each run's directory is deleted after its FITS output is read.
    timeout : float or None, optional
        Seconds allowed per TinyTim program (default 600).

    Notes
    -----
    Positions and camera numbers are described in the module docstring. TinyTim treats the
    chip as a whole; positions in a cut-out need ``DetectorInfo.extra["chip_origin"]``.
    """

    name = "tinytim"
    missions = ("hst",)

    def __init__(self, *, oversampling=4, diameter=3.0, focus=0.0, spectrum="pl:-1",
                 gillis2020=False, tinytim_dir=None, workdir=None, timeout=600.0):
        oversampling = int(oversampling)
        if oversampling > 10:
            msg = f"oversampling must be at most 10 (TinyTim's limit), got {oversampling}"
            raise ValueError(msg)
        diameter = float(diameter)
        if not 0 < diameter <= 30:
            msg = f"diameter must be in (0, 30] arcsec, got {diameter}"
            raise ValueError(msg)
        _spectrum_answers(spectrum)
        super().__init__(oversampling=oversampling, diameter=diameter, focus=float(focus),
                         spectrum=str(spectrum), gillis2020=bool(gillis2020),
                         tinytim_dir=None if tinytim_dir is None else str(tinytim_dir),
                         workdir=None if workdir is None else str(workdir),
                         timeout=None if timeout is None else float(timeout))

    def prepare(self, detector):
        """Check that TinyTim is installed, then map the exposure to a TinyTim camera.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            One HST chip.

        Returns
        -------
        TinyTimModel

        Raises
        ------
        spike.exceptions.PSFDataUnavailableError
            When TinyTim's programs or ``$TINYTIM`` are missing (checked first).
        spike.exceptions.PSFMethodError
            For non-HST missions, other instruments, unknown detectors or a missing chip.
        """
        directory, programs = find_tinytim(self.params["tinytim_dir"])
        if not self.supports(detector):
            msg = (f"PSF method 'tinytim' supports mission 'hst', not {detector.mission!r} "
                   f"({detector.label()})")
            raise PSFMethodError(msg)
        camera, chip = tinytim_camera(detector.instrument, detector.detector,
                                      detector.extra.get("chip"))
        if self.params["gillis2020"] and camera != 15:
            msg = "gillis2020=True applies only to ACS/WFC"
            raise PSFMethodError(msg)
        origin = detector.extra.get("chip_origin") or (0, 0)
        label = detector.filename or detector.label()
        log.debug("TinyTim camera %d chip %s for %s", camera, chip, label)
        return TinyTimModel(programs=programs, tinytim_dir=directory, camera=camera, chip=chip,
                            filter=detector.filter, options=self.params,
                            oversampling=self.oversampling, origin=origin, label=label)
