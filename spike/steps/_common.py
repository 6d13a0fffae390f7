"""Parameter handling shared by spike's steps (no algorithms here)."""

from spike.psf.registry import get_method

__all__ = ["GENERATE_SPEC", "RESAMPLE_SPEC", "DEFAULT_METHODS", "build_method",
           "parse_method_options"]

#: The PSF method used when none is given, per mission.
DEFAULT_METHODS = {"jwst": "optical", "roman": "galsim", "hst": "optical"}

#: Methods that read PSFs from psf_path, and what it must name.
_PATH_METHODS = {"stdpsf": "an STDPSF file or a directory of STDPSF files (STScI's "
                           "empirical PSF libraries, downloaded beforehand)"}

#: Parameters of PSF generation, shared by GeneratePSFStep and DrizzlePSFStep.
GENERATE_SPEC = """
    method = string(default=None)  # PSF method: optical, galsim, stpsf, user, ... (default: optical for JWST and HST, galsim for Roman)
    ra = force_list(default=None)  # Right ascension(s) of the sources (deg, ICRS); comma-separated for several
    dec = force_list(default=None)  # Declination(s) of the sources (deg, ICRS); comma-separated for several
    catalog = string(default=None)  # ECSV/CSV catalog with ra, dec (deg) and optional id columns
    stamp_size = integer(min=3, default=41)  # PSF stamp size in detector pixels (odd)
    oversampling = integer(min=1, max=16, default=4)  # Oversampling factor of the model PSFs
    method_options = force_list(default=None)  # Options of the PSF method as 'key=value,key=value' (e.g. 'min_stars=5,box_size=21'; see docs/psf_methods.md)
    psf_path = string(default=None)  # method=user: directory (or file) of per-exposure PSF FITS files; method=stdpsf: STDPSF file or directory
    product_name = string(default=None)  # Output product name (default: the association's)
"""

#: jwst ResampleStep's output-grid and drizzle parameters, with the same names and meanings.
RESAMPLE_SPEC = """
    reference_mosaic = string(default=None)  # Science mosaic (JWST _i2d, Roman _coadd, HST _drz/_drc) whose grid and resample parameters are reused
    pixfrac = float(min=0.0, max=1.0, default=1.0)  # Pixel shrinkage factor
    kernel = option('square','gaussian','point','turbo','lanczos2','lanczos3',default='square')  # Flux distribution kernel
    fillval = string(default='NAN')  # Output value for pixels with no weight or flux
    weight_type = option('ivm', 'exptime', 'ivm-sky', None, default='ivm')  # JWST/Roman input image weighting type ('ivm-sky': Roman only)
    final_wht_type = option('EXP', 'ERR', default='EXP')  # HST: AstroDrizzle's final_wht_type (without science final masks)
    output_shape = int_list(min=2, max=2, default=None)  # [x, y] order
    crpix = float_list(min=2, max=2, default=None)  # 0-based image coordinates of the reference pixel
    crval = float_list(min=2, max=2, default=None)  # world coordinates of the reference pixel
    rotation = float(default=None)  # Output image Y-axis PA relative to North
    pixel_scale_ratio = float(default=1.0)  # Ratio of output to input pixel scale
    pixel_scale = float(default=None)  # Absolute pixel scale in arcsec
    output_wcs = string(default='')  # Custom output WCS (JWST/Roman: ASDF file; HST: FITS image, as final_refimage); overrides the other WCS parameters
    good_bits = string(default=None)  # DQ flags treated as good (default: the mission's: JWST '~DO_NOT_USE+NON_SCIENCE', Roman '~DO_NOT_USE', HST final_bits 0)
    pixmap_stepsize = float(default=None)  # Interpolation step size for pixel map (default: the mission's, JWST 1, Roman 10, HST 10)
    pixmap_order = integer(default=None)  # Spline order for pixel mapping, 1 or 3 (default: the mission's, JWST 1, Roman 3)
    engine = option('drizzle', 'astrodrizzle', default='drizzle')  # HST: drizzle stamps (drizzle package) or run AstroDrizzle on full-frame PSF copies
    mask_dir = string(default=None)  # HST: directory of the science run's *_final_mask.fits (default: beside reference_mosaic)
    output_size = integer(min=3, default=None)  # Drizzled cutout size in output pixels (odd; default covers stamp_size)
    scheduler = string(default=None)  # Parallel run over sources: 'processes[:N]' (local processes), 'dask[:N]' (local Dask cluster) or a Dask scheduler address 'tcp://host:port'
    save_exposure_psfs = boolean(default=False)  # Also save the per-exposure PSF models (_psfexp)
    save_plots = boolean(default=False)  # Save a PNG quicklook per product
"""


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


def build_method(name, *, mission, oversampling, psf_path=None, user_psf=None, options=None):
    """Instantiate the PSF method ``name`` with the options the steps expose.

    Parameters
    ----------
    name : str or None
        Registered method name; None picks the mission's default (`DEFAULT_METHODS`).
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

    Returns
    -------
    spike.psf.base.PSFMethod
    """
    if name is None:
        name = DEFAULT_METHODS[mission]
    cls = get_method(name)
    extra = parse_method_options(options)
    try:
        return _instantiate(cls, name, oversampling=oversampling, psf_path=psf_path,
                            user_psf=user_psf, extra=extra)
    except TypeError as exc:
        if extra and "unexpected keyword" in str(exc):
            msg = f"method_options {sorted(extra)} for method {name!r}: {exc}"
            raise ValueError(msg) from exc
        raise


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
