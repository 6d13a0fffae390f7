"""Which PSF method a run uses when none is asked for, and why (recorded in the products).

The default is the most faithful method this installation can run:

* **JWST**: ``stpsf`` when STPSF's data files are installed (measured wavefront maps,
  filter curves, detector effects); otherwise the built-in physical model, ``optical``,
  fitted to each exposure's own stars where the exposure has enough of them
  (``fit="auto"``), else unfitted.
* **Roman**: ``stpsf`` when its data are installed; otherwise ``galsim``, GalSim's Roman
  WFI model (the design pupil and field-dependent aberrations ship with GalSim).
* **HST**: ``optical`` with ``fit="auto"`` (TinyTim is an external program that is
  rarely installed, and STPSF does not model HST).

When an exposure ends up with an unfitted physical model because the method was chosen
by default, a WARNING says so and quotes the model's measured accuracy
(`MEASURED_ACCURACY`, from ``benchmarks/bench_accuracy.py``; see docs/accuracy.md).
"""

import logging
from dataclasses import dataclass, field

from spike.exceptions import PSFDataUnavailableError

__all__ = ["Choice", "MEASURED_ACCURACY", "build_method", "default_method",
           "parse_method_options", "requested_method", "warn_if_unfitted"]

log = logging.getLogger(__name__)

#: Methods that read PSFs from psf_path, and what it must name.
_PATH_METHODS = {"stdpsf": "an STDPSF file or a directory of STDPSF files (STScI's "
                           "empirical PSF libraries, downloaded beforehand)"}

#: Measured accuracy of the physical models used without a fit, quoted in the WARNING
#: (median drizzled PSF / star ratios; benchmarks/bench_accuracy.py, docs/accuracy.md).
MEASURED_ACCURACY = {
    "hst": ("on real ACS/HRC F606W stars its FWHM ratio is 0.83 and EE(2 px) 1.14; on "
            "WFPC2 F555W FWHM 0.71-0.72 and EE(2 px) 1.42-1.44"),
    "jwst": "it is diffraction-limited, without wavefront error or detector effects",
    "roman": ("it is GalSim's design model, without jitter, inter-pixel capacitance or "
              "charge diffusion"),
}


@dataclass(frozen=True)
class Choice:
    """A PSF method chosen for a run.

    Attributes
    ----------
    requested : str or None
        The method the user asked for; None when the default was taken.
    method : str
        The method used.
    reason : str
        Why, in a sentence (logged and recorded as ``meta.psf.choice``).
    options : dict
        Method options the choice adds (e.g. ``{"fit": "auto"}``).
    warned : set
        What `warn_if_unfitted` has already warned about in this run.
    """

    requested: str | None
    method: str
    reason: str
    options: dict = field(default_factory=dict)
    warned: set = field(default_factory=set, compare=False, repr=False)

    def as_meta(self):
        """Return the mapping recorded in products' ``meta.psf.choice``."""
        return {"requested": self.requested, "method": self.method, "reason": self.reason}


def _stpsf_data(instrument):
    """``(path, None)`` when STPSF's data for ``instrument`` are installed, else
    ``(None, why not)``."""
    from spike.psf.stpsf_method import find_stpsf_data

    try:
        return find_stpsf_data(instrument), None
    except PSFDataUnavailableError as exc:
        return None, str(exc).split(". ")[0]


def default_method(mission, *, instrument=None):
    """Choose the most faithful PSF method available for ``mission``.

    Parameters
    ----------
    mission : {"jwst", "roman", "hst"}
        The exposures' mission.
    instrument : str, optional
        Instrument name (``"NIRCAM"``, ``"WFI"``...), to check STPSF's data for it.

    Returns
    -------
    Choice
    """
    if mission not in ("jwst", "roman", "hst"):
        msg = f"mission must be 'jwst', 'roman' or 'hst', got {mission!r}"
        raise ValueError(msg)
    if mission in ("jwst", "roman"):
        path, missing = _stpsf_data(instrument or ("WFI" if mission == "roman" else None))
        if path is not None:
            return Choice(None, "stpsf", f"default for {mission.upper()}: STPSF, whose data "
                          f"are installed ({path}), is the most faithful model available")
        if mission == "roman":
            return Choice(None, "galsim", "default for Roman: STPSF's data are not installed "
                          f"({missing}), so GalSim's Roman WFI model is used")
        return Choice(None, "optical", "default for JWST: STPSF's data are not installed "
                      f"({missing}), so spike's physical optical model is used")
    return Choice(None, "optical", "default for HST: spike's physical optical model")


def requested_method(name):
    """The `Choice` of a method the user named."""
    return Choice(name, name, "requested")


def warn_if_unfitted(choice, model, detector):
    """Warn when a default choice left ``detector`` with an unfitted physical model.

    Parameters
    ----------
    choice : Choice
        The run's method choice.
    model : spike.psf.base.PSFModel
        The prepared model of one exposure; its ``diagnostics`` say whether it was fitted.
    detector : spike.psf.base.DetectorInfo
        The exposure.
    """
    if choice.requested is not None or choice.method not in ("optical", "galsim"):
        return
    diagnostics = getattr(model, "diagnostics", None) or {}
    if diagnostics.get("fit", False):
        return
    # galsim has no fit: one warning per run; optical: one per exposure left unfitted
    key = "galsim" if choice.method == "galsim" else detector.filename or detector.label()
    if key in choice.warned:
        return
    choice.warned.add(key)
    why = diagnostics.get("fit_reason")
    log.warning("%s: PSF from the unfitted physical model (%s)%s; %s. Give "
                "method='epsf' or 'psfex' (the exposure's own stars), or install STPSF's "
                "data (JWST, Roman), for a more faithful PSF", detector.filename or
                detector.label(), choice.method, f": {why}" if why else "",
                MEASURED_ACCURACY[detector.mission])


def parse_method_options(text):
    """``"min_stars=5,box_size=21,spectrum='bb:5800'"`` -> ``{"min_stars": 5, ...}``.

    Values are Python literals (numbers, quoted strings, True/False/None, tuples); anything
    else is taken as a string. A dict is returned as is.
    """
    import ast

    if text is None or text == "":
        return {}
    if isinstance(text, dict):
        return dict(text)
    if isinstance(text, (list, tuple)):  # configobj splits an unquoted 'a=1,b=2' on commas
        text = ",".join(str(t) for t in text)
    options = {}
    for item in _split_options(str(text)):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            msg = (f"method_options: {item.strip()!r} is not 'name=value' (give e.g. "
                   "'min_stars=5,box_size=21')")
            raise ValueError(msg)
        try:
            options[key] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            options[key] = value.strip()
    return options


def _split_options(text):
    """Split on commas that are not inside brackets or quotes."""
    items, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current))
            current = []
            continue
        current.append(char)
    items.append("".join(current))
    return [i for i in items if i.strip()]


def build_method(name, *, mission, oversampling, psf_path=None, user_psf=None, options=None,
                 instrument=None):
    """Instantiate the PSF method ``name`` with the options the steps expose.

    Parameters
    ----------
    name : str or None
        Registered method name; None picks the most faithful method available
        (`default_method`), which is logged.
    mission : str
        The exposures' mission.
    oversampling : int
        Oversampling factor.
    psf_path : str, optional
        For ``method='user'``: directory or file of PSFs; for ``method='stdpsf'``: an
        STDPSF file or directory.
    user_psf : callable or photutils PSF model, optional
        For ``method='user'`` from Python.
    options : str or dict, optional
        Further keyword options of the method (``method_options``, see
        `parse_method_options`); an unknown option is reported with the method's name.
    instrument : str, optional
        The exposures' instrument (for the default's STPSF data check).

    Returns
    -------
    spike.psf.base.PSFMethod
        With a ``choice`` attribute, the `Choice` recorded in the products.
    """
    from spike.psf.registry import get_method

    extra = parse_method_options(options)
    if name is None:
        choice = default_method(mission, instrument=instrument)
        extra = {**choice.options, **extra}
        log.info("PSF method: %s (%s)", choice.method, choice.reason)
    else:
        choice = requested_method(name)
    name = choice.method
    cls = get_method(name)
    try:
        method = _instantiate(cls, name, oversampling=oversampling, psf_path=psf_path,
                              user_psf=user_psf, extra=extra)
    except (TypeError, ValueError) as exc:
        if not extra:
            raise
        if isinstance(exc, TypeError) and "unexpected keyword" in str(exc):
            msg = f"method_options {sorted(extra)} for method {name!r}: {exc}"
        else:
            given = ", ".join(f"{k}={v!r}" for k, v in extra.items())
            msg = f"method {name!r} with method_options {given}: {exc}"
        raise ValueError(msg) from exc
    method.choice = choice
    return method


def _instantiate(cls, name, *, oversampling, psf_path, user_psf, extra):
    if name == "user":
        psf = user_psf if user_psf is not None else psf_path
        if psf is None:
            msg = ("method='user' needs psf_path (a directory or file of PSFs) or, from "
                   "Python, a PSF callable/model passed as the step's third argument")
            raise ValueError(msg)
        return cls(psf=psf, oversampling=oversampling, **extra)
    if name in _PATH_METHODS:
        if user_psf is not None:
            msg = f"a user PSF is only used with method='user', not {name!r}"
            raise ValueError(msg)
        if not psf_path:
            msg = (f"method={name!r} needs psf_path: {_PATH_METHODS[name]}")
            raise ValueError(msg)
        return cls(psf_path=psf_path, oversampling=oversampling, **extra)
    if user_psf is not None or psf_path:
        msg = (f"psf_path / a user PSF are only used with method='user' or "
               f"{', '.join(repr(m) for m in _PATH_METHODS)}, not {name!r}")
        raise ValueError(msg)
    return cls(oversampling=oversampling, **extra)
