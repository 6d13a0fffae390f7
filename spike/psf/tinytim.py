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

Layout
------
This module holds `find_tinytim`, `TinyTimModel` (runs the programs) and
`TinyTimPSFMethod`; the camera mapping, the ``tiny1`` answers and the parameter-file and
output helpers are in `spike.psf._tinytim_io` (`TINYTIM_CAMERAS`, `tinytim_camera` and
`tiny1_answers` are re-exported here).
"""

import logging
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._epsf import check_psf_array, check_size, pixel_integrate, render_epsf
from spike.psf._tinytim_io import (
    _POSITION_MAX,
    _TINY3_CAMERAS,
    TINYTIM_CAMERAS,
    _apply_zernikes,
    _param_diameter,
    _spectrum_answers,
    tiny1_answers,
    tinytim_camera,
)
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

#: Zernike coefficients (microns RMS) that ``gillis2020=True`` writes over tiny1's parameter
#: file for ACS/WFC, keyed by TinyTim Zernike index: Z5/Z6 astigmatism 0/45 deg, Z7/Z8 coma
#: x/y, Z9/Z10 clover x/y, Z11 third-order and Z22 fifth-order spherical. Values are the
#: ``default_params`` of B. Gillis's PSF_Testing code (``magic_values.py``), the code behind
#: Gillis et al. (2020, MNRAS 496, 5017); they were not re-checked against the paper's tables.
GILLIS2020_ZERNIKES = {5: 0.031, 6: 0.028, 7: 0.003, 8: 0.001, 9: 0.008, 10: 0.018,
                       11: -0.025, 22: 0.009}

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
        return pixel_integrate(data, sub) if sub > 1 else data

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
