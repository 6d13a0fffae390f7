"""Empirical PSFs fitted by PSFEx to the exposure's own stars, ``--method psfex``.

Source Extractor and PSFEx are programs by E. Bertin (astromatic.net).

`PSFExMethod.prepare` runs once per exposure (or chip), in a temporary directory that is
deleted afterwards, even on error:

1. it loads the pixels through ``DetectorInfo.pixels`` and writes the science image, a
   weight map (``1 / err**2`` on usable pixels, 0 on unusable ones) and a flag image
   (saturated pixels);
2. ``source-extractor`` (or ``sex``) detects the sources and writes an ``FITS_LDAC``
   catalogue with ``VIGNET`` cut-outs;
3. spike raises PSFEx's S/N threshold so that about ``max_stars`` of the brightest
   unsaturated, unblended, round sources of the stellar FWHM remain;
4. ``psfex`` fits a tabulated model whose pixels are polynomials of degree ``degree`` in
   ``X_IMAGE``, ``Y_IMAGE``, with ``PSF_SAMPLING = 1 / oversampling``;
5. the ``.psf`` file is read into a `PSFExModel`.

The programs and shipped configuration
--------------------------------------
The programs are looked for on ``PATH`` (`find_psfex`); on Debian or Ubuntu they are the
packages ``source-extractor`` and ``psfex``. The configuration shipped in
``spike/psf/data/psfex`` (``spike.sex``, ``spike.param``, ``spike.conv``, ``spike.psfex``)
is used unless ``sextractor_config`` or ``psfex_config`` point to the user's own files. The
method's options are always passed on the command line and so win over any configuration
file; spike's catalogue columns (``spike.param``, with ``VIGNET`` sized to the model) are
always used. Paths inside a user's configuration must be absolute (the programs run in the
temporary directory).

Saturation
----------
Pixels marked in ``ExposurePixels.saturated`` are flagged in the flag image, and sources
with a flagged pixel in their isophote (``IMAFLAGS_ISO``) are rejected by PSFEx
(``SAMPLE_IMAFLAGMASK``). ``saturation`` additionally sets Source Extractor's
``SATUR_LEVEL`` (in data units), whose ``FLAGS`` bit PSFEx also rejects. Other unusable
pixels have weight 0: Source Extractor marks them in the cut-outs and PSFEx ignores them.

The model is an ePSF
--------------------
PSFEx fits its tabulated model, resampled onto each star's pixel grid, to the pixel values,
so its samples are those of the effective PSF (already integrated over the pixel) at steps
of ``1 / oversampling`` pixel, the array `spike.psf.base` asks for. The model centre is
the sample ``n // 2`` along each axis (PSFEx's convention), the catalogue position
(``XWIN_IMAGE``, ``YWIN_IMAGE``) of the stars; `PSFExModel.evaluate` moves it onto the
stamp centre with `~spike.psf._epsf.render_epsf` and normalises the model to unit total
flux, i.e. it assumes the ``psf_size`` box holds the whole PSF. Positions are 1-based in
PSFEx and Source Extractor: a 0-based spike position ``(x, y)`` is ``X_IMAGE = x + 1``,
``Y_IMAGE = y + 1``. The polynomial is not extrapolated: positions are clamped to the range
PSFEx normalised it over (``POLZERO`` +- ``POLSCAL / 2``, the span of the catalogue's
sources, in practice the detector).
"""

import logging
import math
import tempfile
from pathlib import Path

import numpy as np

from spike.exceptions import PSFMethodError
from spike.psf._holdout import (
    DEFAULT_RADIUS,
    check_exclude_radius,
    exclusion_pixels,
    parse_exclude_stars,
)
from spike.psf._ldac import exclude_sources
from spike.psf._psfex_io import (
    FLAG_SATURATED,
    PSFExData,
    find_psfex,
    output_tail,
    polynomial_terms,
    read_psf_file,
    run_program,
    sample_min_snr,
    write_config,
    write_images,
)
from spike.psf._psfex_model import PSFExModel
from spike.psf._wings import check_wings, wing_model
from spike.psf.base import PSFMethod

__all__ = ["PSFExData", "PSFExMethod", "PSFExModel", "find_psfex"]

log = logging.getLogger(__name__)

#: PSFEx ``BASIS_TYPE`` for each value of the ``basis`` option.
BASIS_TYPES = {"auto": "PIXEL_AUTO", "pixel": "PIXEL", "none": "NONE"}

#: Source Extractor ``FLAGS`` that disqualify a star: all but "has neighbours" (bit 1).
_FLAG_MASK = 0x00FE

#: Cut-out margin around the model's footprint, in pixels (keeps the cut-outs odd).
_VIGNET_MARGIN = 2

#: Grid (px) on which the physical model supplying the wings is evaluated.
WINGS_STEP = 128.0

#: Name of the catalogue; PSFEx writes ``<stem>.psf`` next to it.
_CATALOG = "catalog.ldac"


class PSFExMethod(PSFMethod):
    """Empirical, spatially varying PSFs fitted by PSFEx to the exposure's own stars.

    Needs the programs Source Extractor and PSFEx (see `find_psfex`) and
    ``DetectorInfo.pixels``. See the module docstring for what runs and the conventions.

    Parameters
    ----------
    oversampling : int, optional
        Oversampling of the ePSFs; PSFEx's ``PSF_SAMPLING`` is ``1 / oversampling``
        (default 4).
    psf_size : int, optional
        Odd width in detector pixels of the model PSFEx fits (default 25); its
        ``PSF_SIZE`` is ``psf_size * oversampling`` samples (+1 if even). The model is
        normalised to unit flux inside this box.
    degree : int, optional
        Degree of the polynomial in ``X_IMAGE``, ``Y_IMAGE`` (``PSFVAR_DEGREES``, default
        2; 0 for a constant PSF).
    min_snr : float, optional
        Lowest S/N (``SNR_WIN``) of a PSF star (``SAMPLE_MINSN``, default 20).
    max_stars : int or None, optional
        About how many of the brightest candidates PSFEx fits (default 50): more stars
        lower the noise but slow PSFEx down. `None` keeps every candidate.
    min_stars : int, optional
        Fewest stars PSFEx must accept (default 10; never fewer than the polynomial's
        number of terms), else `prepare` raises `~spike.exceptions.PSFMethodError`.
    detect_thresh : float, optional
        Source Extractor ``DETECT_THRESH`` and ``ANALYSIS_THRESH`` in sigma (default 5).
    max_ellipticity : float, optional
        ``SAMPLE_MAXELLIP``, largest ``(a - b) / (a + b)`` of a PSF star (default 0.3).
    fwhm_range : tuple of float, optional
        ``SAMPLE_FWHMRANGE``, allowed stellar FWHM in pixels (default ``(0.8, 20.0)``).
    saturation : float or None, optional
        Source Extractor ``SATUR_LEVEL`` in data units; `None` (default) relies on
        ``ExposurePixels.saturated`` only.
    gain : float, optional
        Source Extractor ``GAIN`` in electrons per data unit (default 0: noise from the
        weight map only, which holds the source noise when ``err`` does).
    basis : {"auto", "pixel", "none"}, optional
        PSFEx ``BASIS_TYPE``: ``"pixel"`` super-resolves the model core (needed for
        undersampled stars), ``"none"`` stacks the resampled stars, ``"auto"`` (default,
        ``PIXEL_AUTO``) lets PSFEx use the pixel basis when the FWHM is below 3 pixels.
    basis_number : int, optional
        ``BASIS_NUMBER``: side, in model samples (``1 / oversampling`` pixel), of the
        super-resolved core of the pixel basis (default 12); PSFEx's time grows steeply
        with it.
    sextractor_config, psfex_config : str or None, optional
        The user's own Source Extractor (``.sex``) and PSFEx (``.psfex``) configuration
        files instead of the shipped ones; the options above still win.
    workdir : str or None, optional
        Parent of the temporary run directory (default: the system temporary directory).
    timeout : float or None, optional
        Seconds allowed per program (default 300).
    exclude_stars : str, list of (float, float), SkyCoord or None, optional
        Stars not to use (held out for cross-validation): a path to an ECSV/CSV catalog
        with ``ra``, ``dec`` columns (deg), a list of ``(ra, dec)`` pairs or a SkyCoord;
        Source Extractor's detections within ``exclude_radius`` of them are removed from
        the catalogue before PSFEx reads it. None (default) uses every qualifying star.
    exclude_radius : float, optional
        Exclusion radius in arcsec (default 0.5).
    wings : {"model", None}, optional
        ``"model"`` (default): extend the PSFEx model beyond its box with the wings of the
        detector's physical model (``optical`` for HST and JWST, GalSim's Roman model for
        Roman), joined over an annulus inside the box (`spike.psf._wings`). None, or a
        detector no model supports: the model stops at its box.
    wings_size : int, optional
        Odd width (px) of the extended PSF (default 81; at least ``psf_size``).
    """

    name = "psfex"
    missions = ("hst", "jwst", "roman")

    def __init__(self, *, oversampling=4, psf_size=25, degree=2, min_snr=20.0, max_stars=50,
                 min_stars=10, detect_thresh=5.0, max_ellipticity=0.3, fwhm_range=(0.8, 20.0),
                 saturation=None, gain=0.0, basis="auto", basis_number=12,
                 sextractor_config=None, psfex_config=None, workdir=None, timeout=300.0,
                 exclude_stars=None, exclude_radius=DEFAULT_RADIUS, wings="model",
                 wings_size=81):
        psf_size = _integer("psf_size", psf_size, minimum=3)
        if psf_size % 2 != 1:
            msg = f"psf_size must be an odd integer, got {psf_size}"
            raise ValueError(msg)
        degree = _integer("degree", degree, minimum=0)
        if degree > 8:
            msg = f"degree must be at most 8, got {degree}"
            raise ValueError(msg)
        min_stars = _integer("min_stars", min_stars, minimum=1)
        if max_stars is not None:
            max_stars = _integer("max_stars", max_stars, minimum=min_stars)
        min_snr = _positive("min_snr", min_snr)
        detect_thresh = _positive("detect_thresh", detect_thresh)
        max_ellipticity = _positive("max_ellipticity", max_ellipticity)
        if max_ellipticity > 1:
            msg = f"max_ellipticity must be in (0, 1], got {max_ellipticity}"
            raise ValueError(msg)
        try:
            low, high = (float(v) for v in fwhm_range)
        except (TypeError, ValueError):
            msg = f"fwhm_range must be two numbers (min, max) in pixels, got {fwhm_range!r}"
            raise ValueError(msg) from None
        if not 0 < low < high:
            msg = f"fwhm_range must satisfy 0 < min < max, got {fwhm_range!r}"
            raise ValueError(msg)
        if saturation is not None:
            saturation = _positive("saturation", saturation)
        if gain != 0:
            gain = _positive("gain", gain)
        gain = float(gain)
        if basis not in BASIS_TYPES:
            msg = f"basis must be one of {sorted(BASIS_TYPES)}, got {basis!r}"
            raise ValueError(msg)
        basis_number = _integer("basis_number", basis_number, minimum=1)
        configs = {}
        for key, value in (("sextractor_config", sextractor_config),
                           ("psfex_config", psfex_config)):
            if value is not None and not Path(value).expanduser().is_file():
                msg = f"{key} {str(value)!r} is not a file"
                raise ValueError(msg)
            configs[key] = None if value is None else str(Path(value).expanduser().resolve())
        self.exclude_stars = parse_exclude_stars(exclude_stars)
        exclude = {"exclude_stars": None if self.exclude_stars is None
                   else self.exclude_stars.label,
                   "exclude_radius": check_exclude_radius(exclude_radius),
                   "wings": check_wings(wings)}
        wings_size = _integer("wings_size", wings_size, minimum=psf_size)
        if wings_size % 2 != 1:
            msg = f"wings_size must be an odd integer, got {wings_size}"
            raise ValueError(msg)
        exclude["wings_size"] = wings_size
        super().__init__(oversampling=oversampling, psf_size=psf_size, degree=degree,
                         min_snr=min_snr, max_stars=max_stars, min_stars=min_stars,
                         detect_thresh=detect_thresh, max_ellipticity=max_ellipticity,
                         fwhm_range=(low, high), saturation=saturation, gain=gain,
                         basis=basis, basis_number=basis_number, **configs,
                         workdir=None if workdir is None else str(workdir),
                         timeout=None if timeout is None else float(timeout), **exclude)

    @property
    def model_samples(self):
        """PSFEx ``PSF_SIZE``: ``psf_size * oversampling`` samples, made odd."""
        n = self.params["psf_size"] * self.oversampling
        return n + 1 - n % 2

    def prepare(self, detector):
        """Run Source Extractor and PSFEx on the exposure's pixels; return its model.

        Parameters
        ----------
        detector : `~spike.psf.base.DetectorInfo`
            One exposure or chip; ``detector.pixels`` must be set.

        Returns
        -------
        PSFExModel

        Raises
        ------
        spike.exceptions.PSFMethodError
            For other missions or without ``detector.pixels`` (checked first), when a
            program fails or when PSFEx accepts fewer than ``min_stars`` stars.
        spike.exceptions.PSFDataUnavailableError
            When Source Extractor or PSFEx is not installed (checked before any pixel is
            loaded).
        """
        label = detector.filename or detector.label()
        if not self.supports(detector):
            msg = (f"PSF method 'psfex' supports missions {', '.join(self.missions)}, not "
                   f"{detector.mission!r} ({label})")
            raise PSFMethodError(msg)
        if detector.pixels is None:
            msg = (f"{label}: PSF method 'psfex' needs the exposure's pixels, but "
                   "DetectorInfo.pixels is not set")
            raise PSFMethodError(msg)
        programs = find_psfex()
        excluded = exclusion_pixels(self.exclude_stars, detector,
                                    radius=self.params["exclude_radius"])
        pixels = detector.pixels()
        parent = self.params["workdir"]
        if parent is not None:
            Path(parent).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="spike_psfex_", dir=parent) as tmp:
            data = self._run(Path(tmp), programs, pixels, detector.shape, label,
                             excluded=excluded)
        wings = None
        if self.params["wings"] == "model":
            wings = wing_model(detector, oversampling=self.oversampling,
                               size=self.params["wings_size"], step=WINGS_STEP)
        log.info("%s: PSFEx model from %d of %d candidate stars (reduced chi2 %.2f), wings "
                 "%s", label, data.accepted, data.loaded, data.chi2,
                 None if wings is None else wings.name)
        return PSFExModel(data, oversampling=self.oversampling, label=label, wings=wings)

    def _run(self, wd, programs, pixels, shape, label, *, excluded):
        """Write the inputs, run both programs in ``wd`` and read the model."""
        p = self.params
        images = write_images(wd, pixels, shape=shape)
        config = write_config(wd, vignet=p["psf_size"] + _VIGNET_MARGIN)
        timeout = p["timeout"]
        sex_config = p["sextractor_config"] or config["sextractor"]
        command = [programs["sextractor"], images["science"].name, "-c", sex_config,
                   "-CATALOG_NAME", _CATALOG, "-CATALOG_TYPE", "FITS_LDAC",
                   "-PARAMETERS_NAME", config["params"].name,
                   "-WEIGHT_TYPE", "MAP_WEIGHT", "-WEIGHT_IMAGE", images["weight"].name,
                   "-FLAG_IMAGE", images["flags"].name,
                   "-DETECT_THRESH", _num(p["detect_thresh"]),
                   "-ANALYSIS_THRESH", _num(p["detect_thresh"]),
                   "-SATUR_LEVEL", _num(p["saturation"] or 1e18), "-GAIN", _num(p["gain"])]
        if p["sextractor_config"] is None:
            command += ["-FILTER_NAME", config["filter"].name]
        run_program(command, wd, what="Source Extractor", label=label, timeout=timeout)
        if len(excluded[0]):
            removed = exclude_sources(wd / _CATALOG, *excluded)
            log.info("%s: %d source(s) within %.2f px of the %d exclude_stars positions left "
                     "out of the PSFEx catalogue", label, removed, excluded[1],
                     len(excluded[0]))
        catalog = self._read_catalog(wd / _CATALOG, label)
        min_snr, n_candidates = sample_min_snr(
            catalog, min_snr=p["min_snr"], max_stars=p["max_stars"],
            fwhm_range=p["fwhm_range"], max_ellipticity=p["max_ellipticity"],
            flag_mask=_FLAG_MASK, imaflag_mask=FLAG_SATURATED)
        n_sources = len(catalog["SNR_WIN"])
        log.debug("%s: %d sources, %d PSF star candidates with S/N >= %.1f", label,
                  n_sources, n_candidates, min_snr)
        n = self.model_samples
        command = [programs["psfex"], _CATALOG, "-c", p["psfex_config"] or config["psfex"],
                   "-PSF_SAMPLING", _num(1.0 / self.oversampling), "-PSF_SIZE", f"{n},{n}",
                   "-PSFVAR_KEYS", "X_IMAGE,Y_IMAGE", "-PSFVAR_GROUPS", "1,1",
                   "-PSFVAR_DEGREES", str(p["degree"]), "-SAMPLE_MINSN", _num(min_snr),
                   "-SAMPLE_MAXELLIP", _num(p["max_ellipticity"]),
                   "-SAMPLE_FWHMRANGE", ",".join(_num(v) for v in p["fwhm_range"]),
                   "-SAMPLE_FLAGMASK", f"0x{_FLAG_MASK:04x}",
                   "-SAMPLE_IMAFLAGMASK", f"0x{FLAG_SATURATED:04x}",
                   "-BASIS_TYPE", BASIS_TYPES[p["basis"]],
                   "-BASIS_NUMBER", str(p["basis_number"]), "-PSF_DIR", ".",
                   "-PSF_SUFFIX", ".psf", "-OUTCAT_TYPE", "NONE", "-CHECKPLOT_TYPE", "NONE",
                   "-CHECKIMAGE_TYPE", "NONE", "-WRITE_XML", "N"]
        proc = run_program(command, wd, what="PSFEx", label=label, timeout=timeout)
        output = wd / (Path(_CATALOG).stem + ".psf")
        if not output.is_file():
            msg = f"{label}: PSFEx wrote no model ({output.name}): {output_tail(proc)}"
            raise PSFMethodError(msg)
        data = read_psf_file(output)
        needed = max(p["min_stars"], len(polynomial_terms([0.0, 0.0], p["degree"])))
        if data.accepted < needed:
            msg = (f"{label}: too few PSF stars: PSFEx accepted {data.accepted} of "
                   f"{data.loaded} (need at least {needed}; {n_sources} sources detected, "
                   f"{n_candidates} candidates with S/N >= {min_snr:.1f}). Lower min_snr or "
                   f"detect_thresh, or use another PSF method. PSFEx said: "
                   f"{output_tail(proc)}")
            raise PSFMethodError(msg)
        return data

    @staticmethod
    def _read_catalog(path, label):
        """Return the LDAC_OBJECTS columns spike's star selection needs, as a dict."""
        from astropy.io import fits

        columns = ("FLAGS", "IMAFLAGS_ISO", "ELONGATION", "SNR_WIN", "FLUX_RADIUS")
        try:
            with fits.open(path) as hdul:
                table = hdul["LDAC_OBJECTS"].data
                if table is None or len(table) == 0:
                    return {c: np.zeros(0, dtype=int if "FLAGS" in c else float)
                            for c in columns}
                return {c: np.array(table[c]) for c in columns}
        except (OSError, KeyError) as exc:
            msg = f"{label}: cannot read Source Extractor's catalogue {path.name}: {exc}"
            raise PSFMethodError(msg) from exc


def _integer(name, value, *, minimum):
    """Return ``value`` as an int >= ``minimum`` or raise `ValueError` naming ``name``."""
    try:
        ok = not isinstance(value, (bool, np.bool_)) and int(value) == value
    except (TypeError, ValueError):
        ok = False
    if not ok or int(value) < minimum:
        msg = f"{name} must be an integer >= {minimum}, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _positive(name, value):
    """Return ``value`` as a finite float > 0 or raise `ValueError` naming ``name``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        msg = f"{name} must be a positive number, got {value!r}"
        raise ValueError(msg)
    return number


def _num(value):
    """Format a number for a command line (``repr`` precision, no exponent surprises)."""
    return repr(float(value))
