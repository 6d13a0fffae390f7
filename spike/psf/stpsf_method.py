"""PSFs from STPSF (formerly WebbPSF), ``--method stpsf``.

STPSF needs its data package (optical path difference maps, filter curves, pupils), a
separate download of a few GB. Without it, creating an STPSF instrument tries to download
the data from the network. `STPSFMethod.prepare` therefore looks for the data first, the
way STPSF does but without downloading anything (`find_stpsf_data`), and raises
`~spike.exceptions.PSFDataUnavailableError` with instructions when they are missing. A
data directory that passes that check but lacks a file STPSF opens later (an incomplete
unpacking) gives the same error, naming the file, when STPSF fails to open it.

Which STPSF product is used
---------------------------
``calc_psf(oversample=N, fov_pixels=size, add_distortion=True)`` returns, among others,
``OVERSAMP`` (oversampled, aligned with the idealised detector axes, no distortion) and
``OVERDIST`` (oversampled, with the SIAF geometric distortion and detector rotation,
charge diffusion and inter-pixel capacitance). spike uses ``OVERDIST`` (``OVERSAMP`` when
``add_distortion=False``). Both are in STPSF's detector ("science", DMS) orientation, the
orientation of JWST ``_cal`` arrays, so no flip or rotation is applied. Both are
point-sampled on the oversampled grid and sum to the flux fraction in the field; like
STPSF's own gridded-library builder, spike convolves them with a one-detector-pixel box
(``oversampling`` samples wide) and multiplies by ``oversampling**2`` to obtain an
effective PSF with the photutils normalisation (`spike.psf.base`).

Roman WFI: STPSF's WFI aberrations already include the distortion and its ``calc_psf``
logs a warning whenever ``add_distortion`` is passed, so spike does not pass it; ``OVERDIST``
is then the PSF with detector charge diffusion and ``OVERSAMP`` the one without. STPSF
counts WFI detector positions on the full 4096 x 4096 SCA, whose outer 4 pixels are
reference pixels (its field points sit 4 pixels in from the edges), while level-2 arrays
hold only the 4088 x 4088 science pixels: spike adds that 4-pixel border.
"""

import importlib.util
import logging
import os
from pathlib import Path

import numpy as np

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._bands import band_element
from spike.psf._epsf import check_size, pixel_integrate
from spike.psf.base import PSFMethod, PSFModel

__all__ = ["STPSFMethod", "STPSFModel", "find_stpsf_data"]

log = logging.getLogger(__name__)

#: DMS instrument name -> (STPSF class name, data sub-directory).
_INSTRUMENTS = {
    "NIRCAM": ("NIRCam", "NIRCam"),
    "NIRISS": ("NIRISS", "NIRISS"),
    "MIRI": ("MIRI", "MIRI"),
    "WFI": ("WFI", "WFI"),
}

#: DMS detector names STPSF spells differently.
_DETECTOR_ALIASES = {"NRCALONG": "NRCA5", "NRCBLONG": "NRCB5", "MIRIMAGE": "MIRIM"}

#: Reference-pixel border (pixels) STPSF counts in its detector positions but level-2 arrays
#: do not hold: Roman SCAs are 4096 x 4096 with 4088 x 4088 science pixels.
_REFERENCE_BORDER = {"WFI": 4}

_INSTALL_HINT = (
    "Install them: download the STPSF data archive (stpsf-data-LATEST.tar.gz), unpack it "
    "and set the environment variable STPSF_PATH to the unpacked 'stpsf-data' directory, "
    "as described under 'Installing the Required Data Files' on the Installation page of "
    "the STPSF documentation. "
)


def _install_hint(instrument):
    """The installation hint, naming the offline method that fits ``instrument``."""
    if instrument is not None and instrument.upper() == "WFI":
        alternative = "GalSim's Roman WFI model (method 'galsim'), which ships with GalSim"
    else:
        alternative = "the built-in diffraction-limited model (method 'optical')"
    return _INSTALL_HINT + f"Alternatively use {alternative}, which needs no download."


def _load_stpsf():
    """Import and return the ``stpsf`` module (a seam for tests)."""
    import stpsf

    return stpsf


def find_stpsf_data(instrument=None):
    """Locate STPSF's data directory without triggering STPSF's automatic download.

    Mirrors ``stpsf.utils.get_stpsf_data_path``: the ``STPSF_PATH`` item of STPSF's astropy
    configuration if set, else the ``STPSF_PATH`` environment variable, else STPSF's default
    location (``~/data/stpsf-data``). The directory must exist, hold a ``version.txt`` at
    least ``stpsf.DATA_VERSION_MIN`` and, if ``instrument`` is given, its sub-directory
    with the ``filters.tsv`` table STPSF reads when it creates the instrument. Files read
    later (pupils, wavefront maps, filter curves) are not listed here: their names change
    between data releases; a missing one is reported when STPSF fails to open it.

    Parameters
    ----------
    instrument : str or None, optional
        DMS instrument name (``"NIRCAM"``) whose sub-directory must exist.

    Returns
    -------
    pathlib.Path
        The data directory.

    Raises
    ------
    spike.exceptions.PSFDataUnavailableError
        When stpsf is not installed or its data are missing or too old; the message says
        where it looked and how to install the data.
    """
    if importlib.util.find_spec("stpsf") is None:
        msg = "The 'stpsf' package is not installed (pip install stpsf), and it needs its data. "
        raise PSFDataUnavailableError(msg + _install_hint(instrument))
    stpsf = _load_stpsf()
    unset = "from_environment_variable"
    configured = str(getattr(getattr(stpsf, "conf", None), "STPSF_PATH", unset))
    if configured != unset:
        path, source = Path(configured).expanduser(), "STPSF's astropy configuration (STPSF_PATH)"
    elif os.environ.get("STPSF_PATH"):
        path, source = Path(os.environ["STPSF_PATH"]).expanduser(), "$STPSF_PATH"
    else:
        path = Path.home() / "data" / "stpsf-data"
        source = "STPSF's default location ($STPSF_PATH is not set)"
    problem = _data_problem(path, getattr(stpsf, "DATA_VERSION_MIN", None), instrument)
    if problem:
        msg = f"STPSF's data files are missing: looked in {path} ({source}): {problem}. "
        raise PSFDataUnavailableError(msg + _install_hint(instrument))
    return path


def _data_problem(path, version_min, instrument):
    """Return why ``path`` is not a usable STPSF data directory, or an empty string."""
    if not path.is_dir():
        return "the directory does not exist"
    version_file = path / "version.txt"
    if not version_file.is_file():
        return "there is no version.txt (not an STPSF data directory, or an empty one)"
    if version_min is not None:
        text = version_file.read_text().strip()
        try:
            version = tuple(int(p) for p in text.split(".")[:3])
        except ValueError:
            return f"cannot read the data version from {version_file} ({text!r})"
        if version < tuple(version_min):
            wanted = ".".join(str(v) for v in version_min)
            return f"data version {text} is older than the {wanted} this stpsf needs"
    if instrument is not None:
        subdir = _INSTRUMENTS.get(instrument.upper(), (None, instrument))[1]
        if not (path / subdir).is_dir():
            return f"it has no {subdir}/ sub-directory"
        if not (path / subdir / "filters.tsv").is_file():
            return f"it has no {subdir}/filters.tsv (an incomplete copy of the data)"
    return ""


def _incomplete_data(label, path, exc, instrument):
    """`PSFDataUnavailableError` for a file STPSF could not open in data directory ``path``."""
    msg = (f"{label}: STPSF's data files in {path} are incomplete: STPSF could not read what "
           f"it needs ({exc}). ")
    return PSFDataUnavailableError(msg + _install_hint(instrument))


class STPSFModel(PSFModel):
    """STPSF PSFs of one exposure, computed on demand at each source position.

    Parameters
    ----------
    instrument : stpsf instrument
        Configured instrument object (filter, pupil mask, detector already set).
    oversampling : int
        Oversampling factor.
    nlambda : int or None
        Passed to ``calc_psf``.
    add_distortion : bool
        Use ``OVERDIST`` (True) or ``OVERSAMP`` (False).
    origin : tuple of int
        ``(x, y)`` to add to a position in the exposure's array to get STPSF's detector
        position (subarray or cut-out origin, reference-pixel border).
    label : str
        Exposure label.
    pass_distortion : bool, optional
        Pass ``add_distortion`` to ``calc_psf`` (JWST). STPSF's Roman WFI ignores it and
        logs a warning, so it is not passed there (False).
    data_path : pathlib.Path or None, optional
        STPSF's data directory, named if STPSF cannot open one of its files.
    """

    def __init__(self, instrument, *, oversampling, nlambda, add_distortion, origin, label,
                 pass_distortion=True, data_path=None):
        self.instrument = instrument
        self.oversampling = int(oversampling)
        self.nlambda = nlambda
        self.add_distortion = bool(add_distortion)
        self.origin = origin
        self.label = label
        self.pass_distortion = bool(pass_distortion)
        self.data_path = data_path
        self._cache = {}

    def evaluate(self, x, y, *, size):
        """Return the oversampled ePSF at detector position ``(x, y)``.

        STPSF rounds the position to whole pixels; results are cached per position.

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

        Raises
        ------
        spike.exceptions.PSFDataUnavailableError
            When STPSF cannot open one of its data files.
        spike.exceptions.PSFMethodError
            When STPSF rejects the position or returns an unexpected shape.
        """
        size = check_size(size)
        position = (int(round(x + self.origin[0])), int(round(y + self.origin[1])))
        key = (position, size)
        if key not in self._cache:
            kwargs = {"oversample": self.oversampling, "fov_pixels": size}
            if self.pass_distortion:
                kwargs["add_distortion"] = self.add_distortion
            if self.nlambda is not None:
                kwargs["nlambda"] = self.nlambda
            try:
                self.instrument.detector_position = position
            except ValueError as exc:
                msg = f"{self.label}: STPSF rejects detector position {position}: {exc}"
                raise PSFMethodError(msg) from exc
            try:
                hdul = self.instrument.calc_psf(**kwargs)
            except OSError as exc:
                raise _incomplete_data(self.label, self.data_path, exc,
                                       getattr(self.instrument, "name", None)) from exc
            extname = "OVERDIST" if self.add_distortion else "OVERSAMP"
            data = np.array(hdul[extname].data, dtype=float)
            n = size * self.oversampling
            if data.shape != (n, n):
                msg = (f"{self.label}: STPSF returned {extname} of shape {data.shape}, "
                       f"expected {(n, n)}")
                raise PSFMethodError(msg)
            self._cache[key] = pixel_integrate(data, self.oversampling)
        return self._cache[key].copy()


class STPSFMethod(PSFMethod):
    """PSFs computed by STPSF at each source position (needs STPSF's data files).

    Parameters
    ----------
    oversampling : int, optional
        Oversampling factor of the ePSFs (default 4).
    nlambda : int or None, optional
        Number of wavelengths for STPSF (`None`: STPSF's default for the filter).
    add_distortion : bool, optional
        Use STPSF's distorted, detector-effect product ``OVERDIST`` (default) or the
        undistorted ``OVERSAMP``.

    Notes
    -----
    The exposure's filter and pupil are passed to STPSF as ``filter`` (a pupil-wheel filter
    such as NIRCam F405N is passed as the filter; STPSF knows which wheel holds it) and
    ``pupil_mask`` (only when STPSF lists it, e.g. ``CLEARP`` or a weak lens). Positions are
    converted to full-detector science-frame pixels with ``DetectorInfo.extra`` keys
    ``substrt1``/``substrt2`` (1-based subarray origin, as in JWST headers) or
    ``cutout_origin`` (0-based origin of a cut-out of the full detector) when present; for
    Roman WFI the 4-pixel reference border STPSF counts is added as well.
    """

    name = "stpsf"
    missions = ("jwst", "roman")

    def __init__(self, *, oversampling=4, nlambda=None, add_distortion=True):
        if nlambda is not None:
            if isinstance(nlambda, bool) or int(nlambda) != nlambda or nlambda < 1:
                msg = f"nlambda must be a positive integer or None, got {nlambda!r}"
                raise ValueError(msg)
            nlambda = int(nlambda)
        super().__init__(oversampling=oversampling, nlambda=nlambda,
                         add_distortion=bool(add_distortion))

    def prepare(self, detector):
        """Check STPSF's data, then configure an STPSF instrument for the exposure.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            The exposure.

        Returns
        -------
        STPSFModel

        Raises
        ------
        spike.exceptions.PSFDataUnavailableError
            When stpsf or its data files are not installed (checked before STPSF is asked
            for anything, so nothing is downloaded).
        spike.exceptions.PSFMethodError
            For an unsupported mission/instrument, or a filter or detector STPSF rejects.
        """
        if not self.supports(detector):
            msg = (f"PSF method 'stpsf' supports missions {', '.join(self.missions)}, "
                   f"not {detector.mission!r} ({detector.label()})")
            raise PSFMethodError(msg)
        inst_name = (detector.instrument or "").upper()
        if inst_name not in _INSTRUMENTS:
            msg = (f"PSF method 'stpsf' does not model instrument {detector.instrument!r}; "
                   f"supported: {', '.join(sorted(_INSTRUMENTS))}")
            raise PSFMethodError(msg)
        data_path = find_stpsf_data(inst_name)
        log.debug("Using STPSF data in %s", data_path)
        stpsf = _load_stpsf()
        label = detector.filename or detector.label()
        try:
            inst = getattr(stpsf, _INSTRUMENTS[inst_name][0])()
        except (OSError, RuntimeError) as exc:  # a data file missing ("No pupil OPD files")
            raise _incomplete_data(label, data_path, exc, inst_name) from exc
        element = band_element(detector.filter, detector.pupil)
        det_name = (detector.detector or "").upper()
        det_name = _DETECTOR_ALIASES.get(det_name, det_name)
        if inst_name == "WFI" and det_name.startswith("WFI"):
            det_name = "SCA" + det_name[3:]
        try:
            inst.filter = element
            pupil = (detector.pupil or "").upper()
            if pupil and pupil != element and pupil in getattr(inst, "pupil_mask_list", []):
                inst.pupil_mask = pupil
            inst.detector = det_name
        except OSError as exc:  # e.g. the WFI aberration table of the filter
            raise _incomplete_data(label, data_path, exc, inst_name) from exc
        except (ValueError, KeyError) as exc:
            msg = f"{label}: STPSF cannot model {inst_name} {element} on {det_name}: {exc}"
            raise PSFMethodError(msg) from exc
        extra = detector.extra
        if extra.get("cutout_origin") is not None:  # 0-based, e.g. Roman SCA cut-outs
            origin = tuple(int(v) for v in extra["cutout_origin"])
        else:
            origin = (int(extra.get("substrt1", 1)) - 1, int(extra.get("substrt2", 1)) - 1)
        border = _REFERENCE_BORDER.get(inst_name, 0)
        return STPSFModel(inst, oversampling=self.oversampling, nlambda=self.params["nlambda"],
                          add_distortion=self.params["add_distortion"],
                          origin=(origin[0] + border, origin[1] + border), label=label,
                          pass_distortion=inst_name != "WFI", data_path=data_path)
