"""Drizzle HST PSF stamps as AstroDrizzle's final step does, with the ``drizzle`` package.

AstroDrizzle (``drizzlepac.adrizzle.run_driz_chip`` / ``do_driz``) drizzles every chip onto
the output grid with ``cdriz.tdriz``. The same result, restricted to a small region, is
obtained by drizzling PSF stamps (cutouts of the chips, their astropy WCS sliced with
`spike.stamps.geometry.shift_wcs`) onto a padded cutout of the drz grid with
`drizzle.resample.Drizzle`, provided the conventions below are reproduced:

* **pixel-scale ratio** ``r = output_pscale / wcslin_pscale`` (``do_driz``), computed from
  the *full* output WCS and the chip's *linear* WCS, never from the cutouts:
  ``output_pscale`` is the length of the first column of the output CD matrix (arcsec);
  ``wcslin_pscale`` is what ``imageObject.compute_wcslin`` gets from
  ``stwcs.distortion.utils.output_wcs``: without distortion (no SIP) the length of the
  chip's first CD column (hence the "flux quirk": for a non-orthogonal CD the drz flux is
  not the flt flux), with SIP the header's ``IDCSCALE`` or, when missing,
  ``sqrt(|det CD|)`` (see `chip_wcslin_pscale`);
* ``add_image(..., iscale=r**2, pixel_scale_ratio=r)`` (tdriz's ``scale=pix_ratio``);
* **units**: ``in_units="counts"`` with ``exptime`` = the chip's EXPTIME for data in
  counts/electrons (``_flt`` BUNIT ``ELECTRONS``; drizzle divides by it), ``"cps"`` for
  count rates. The output is a rate (``final_units="cps"``, D001OUUN); for
  ``final_units="counts"`` AstroDrizzle multiplies the product by the total exposure time
  of the run (drz ``EXPTIME``), pass it as ``texptime``;
* **weights** (``final_wht_type``, see `final_weight_map`): the good-pixel mask is the
  DQ array with the ``final_bits`` ignored (``buildmask.buildMask``), ANDed with extra
  masks (science run's static/CR mask); ``EXP``: ``exptime * mask`` and ``wt_scl = 1``
  (``imageObject.set_wtscl`` uses 1 for "exptime" and "expsq"); ``ERR``:
  ``(exptime / ERR)**2 * mask`` and ``wt_scl = 1 / r**4``; ``IVM`` (user IVM array only):
  ``IVM * mask`` and ``wt_scl = exptime**2 / r**4``. With ``clean=False`` a science run
  writes the weight map it used as ``<root>_sci<N>_final_mask.fits``: its cutout can be
  given directly as `HstStamp.weight`;
* ``fillval=None`` ("INDEF"): output pixels no input reaches stay NaN, as AstroDrizzle's
  ``final_maskval=None``. AstroDrizzle keeps whatever the pixels hold where all inputs are
  masked; compare results only where the weight is > 0.

Not reproduced: ``proc_unit="native"`` gain division for data in counts (DN) and
automatic IVM maps from flats/dark/read noise (``IVM`` without a user map); the context
image numbers inputs by their order in ``stamps`` (AstroDrizzle by chip).

Pixel mapping: by default each stamp's pixmap is computed exactly from its WCS; AstroDrizzle
interpolates its mapping on a grid every ``stepsize`` (10) chip pixels, which differs by
~5e-5 of the peak with SIP distortion. `AstroDrizzleMapping` evaluates drizzlepac's own
mapping object on the cutout instead (``HstStamp.pixmap``), reproducing it exactly.
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

__all__ = [
    "AstroDrizzleMapping",
    "DrzGrid",
    "HstStamp",
    "chip_wcslin_pscale",
    "drizzle_hst_stamps",
    "drz_grid",
    "final_weight_map",
    "output_pscale",
]

#: drz primary-header keywords (``D001<KEY>``, first input) read by `drz_grid`.
_DRZ_KEYWORDS = {
    "KERN": "kernel",
    "PIXF": "pixfrac",
    "SCAL": "scale",
    "WTSC": "wt_scl",
    "OUUN": "units",
    "FVAL": "fillval",
}


def output_pscale(wcs):
    """Pixel scale (arcsec) of an output WCS as drizzlepac computes it (``HSTWCS.pscale``).

    The length of the first column of the CD matrix (``sqrt(CD1_1**2 + CD2_1**2)``).
    """
    cd = wcs.celestial.pixel_scale_matrix
    return float(np.hypot(cd[0, 0], cd[1, 0]) * 3600.0)


def chip_wcslin_pscale(wcs, *, idcscale=None, instrument=None):
    """Pixel scale (arcsec) of a chip's linear WCS, as ``imageObject.compute_wcslin`` gets it.

    Parameters
    ----------
    wcs : astropy.wcs.WCS
        The *full* chip WCS (SIP, NPOL, D2IM kept).
    idcscale : float, optional
        Header ``IDCSCALE`` (only used when the WCS has SIP distortion).
    instrument : str, optional
        ``INSTRUME``; ``"DEFAULT"`` (unknown instrument) disables undistortion as in
        drizzlepac.

    Returns
    -------
    float
        Without SIP: first CD column length; with SIP: ``idcscale`` or, when missing,
        ``sqrt(|det CD|)`` (``stwcs.distortion.utils.make_orthogonal_cd``).
    """
    cd = wcs.celestial.pixel_scale_matrix
    undistort = wcs.sip is not None and str(instrument or "").upper() != "DEFAULT"
    if not undistort:
        return float(np.hypot(cd[0, 0], cd[1, 0]) * 3600.0)
    if idcscale is not None:
        return float(idcscale)
    return float(np.sqrt(abs(np.linalg.det(cd))) * 3600.0)


def final_weight_map(dq, *, exptime, bits=0, wht_type="EXP", err=None, ivm=None,
                     mask=None, pixel_scale_ratio=1.0):
    """Weight map and weight scale of AstroDrizzle's final drizzle for one chip (or cutout).

    Parameters
    ----------
    dq : numpy.ndarray or None
        Data-quality array (None: all pixels good).
    exptime : float
        The chip's exposure time (s).
    bits : int, optional
        ``final_bits``: DQ flags treated as good.
    wht_type : {"EXP", "ERR", "IVM", None}, optional
        ``final_wht_type``; None is the single-drizzle weighting (``exptime * mask``).
    err, ivm : numpy.ndarray, optional
        ERR array (``"ERR"``) or inverse-variance map (``"IVM"``, required).
    mask : numpy.ndarray, optional
        Extra good-pixel mask (True/nonzero = good), e.g. the science run's static and
        cosmic-ray masks.
    pixel_scale_ratio : float, optional
        ``r``; enters ``wt_scl`` for ERR and IVM.

    Returns
    -------
    weight : numpy.ndarray
        float32 weight map.
    wt_scl : float
        Value for `drizzle.resample.Drizzle.add_image`'s ``wht_scale``.
    """
    from astropy.nddata.bitmask import bitfield_to_boolean_mask

    if dq is None:
        shape = np.shape(err if err is not None else ivm)
        good = np.ones(shape, dtype=bool)
    else:
        dq = np.asarray(dq)
        good = bitfield_to_boolean_mask(dq.astype(np.uint16), ignore_flags=int(bits),
                                        good_mask_value=True, dtype=bool)
    if mask is not None:
        good &= np.asarray(mask).astype(bool)
    good = good.astype(np.float32)
    kind = None if wht_type is None else str(wht_type).upper()
    r = float(pixel_scale_ratio)
    if kind in (None, "EXP"):
        return (np.float32(exptime) * good).astype(np.float32), 1.0
    if kind == "ERR":
        if err is None:
            msg = "final_wht_type='ERR' needs the ERR array"
            raise ValueError(msg)
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = (exptime / np.asarray(err, dtype=np.float64)) ** 2 * good
        return weight.astype(np.float32), 1.0 / r**4
    if kind == "IVM":
        if ivm is None:
            msg = "final_wht_type='IVM' needs an inverse-variance map (automatic IVM unsupported)"
            raise ValueError(msg)
        weight = np.asarray(ivm, dtype=np.float64) * good
        return weight.astype(np.float32), float(exptime) ** 2 / r**4
    msg = f"wht_type must be 'EXP', 'ERR', 'IVM' or None, got {wht_type!r}"
    raise ValueError(msg)


@dataclass
class HstStamp:
    """One PSF cutout of an HST chip, ready for `drizzle_hst_stamps`.

    Attributes
    ----------
    data : numpy.ndarray
        PSF on the input cutout, in the chip's units.
    wcs : astropy.wcs.WCS
        The cutout's WCS: the chip WCS sliced to the cutout (`geometry.shift_wcs`).
    exptime : float
        The chip's EXPTIME (s).
    wcslin_pscale : float
        `chip_wcslin_pscale` of the *full* chip WCS.
    units : {"counts", "cps"}
        ``"counts"`` for counts/electrons (``_flt`` ELECTRONS), ``"cps"`` for rates.
    dq, err, ivm, mask : numpy.ndarray, optional
        Cutouts of the chip's DQ, ERR, IVM and extra good-pixel mask (`final_weight_map`).
    weight : numpy.ndarray, optional
        Ready-made weight map (e.g. cutout of the science run's ``*_final_mask.fits``); it
        overrides dq/err/ivm/mask and is used with ``wt_scl`` below.
    wt_scl : float, optional
        ``wht_scale`` to use with ``weight`` (1 for EXP weighting).
    pixmap : numpy.ndarray, optional
        ``(ny, nx, 2)`` output-cutout coordinates of every stamp pixel (e.g.
        `AstroDrizzleMapping.pixmap`); by default computed exactly from ``wcs``.
    """

    data: np.ndarray
    wcs: WCS
    exptime: float
    wcslin_pscale: float
    units: str = "counts"
    dq: np.ndarray | None = None
    err: np.ndarray | None = None
    ivm: np.ndarray | None = None
    mask: np.ndarray | None = None
    weight: np.ndarray | None = field(default=None, repr=False)
    wt_scl: float = 1.0
    pixmap: np.ndarray | None = field(default=None, repr=False)


def drizzle_hst_stamps(stamps, out_wcs, *, pixfrac=1.0, kernel="square", fillval=None,
                       wht_type="EXP", bits=0, out_pscale=None, pixel_scale_ratio=None,
                       out_shape=None, out_units="cps", texptime=None):
    """Drizzle HST PSF stamps onto a cutout of the drz grid as AstroDrizzle's final step.

    Parameters
    ----------
    stamps : sequence of HstStamp
    out_wcs : astropy.wcs.WCS
        WCS of the (padded) output cutout: the drz WCS sliced to it.
    pixfrac, kernel, fillval : optional
        ``final_pixfrac``, ``final_kernel``, ``final_fillval`` (None = INDEF: NaN).
    wht_type, bits : optional
        ``final_wht_type`` and ``final_bits`` (stamps without a ready ``weight``).
    out_pscale : float, optional
        `output_pscale` of the *full* drz WCS (default: from ``out_wcs``, whose CD matrix
        is the same).
    pixel_scale_ratio : float, optional
        Force ``r`` for every stamp (default: ``out_pscale / stamp.wcslin_pscale``).
    out_shape : tuple of int, optional
        ``(ny, nx)`` of the output cutout (default: ``out_wcs.array_shape``).
    out_units : {"cps", "counts"}
        ``final_units``; "counts" multiplies by ``texptime`` (drz EXPTIME) as AstroDrizzle.
    texptime : float, optional
        Total exposure time of the full run (needed for ``out_units="counts"``).

    Returns
    -------
    data, wht : numpy.ndarray
        float32 drizzled PSF and weight on the output cutout.
    ctx : numpy.ndarray
        int32 context (bit ``k`` = ``stamps[k]``), shape ``(nplanes, ny, nx)``.
    """
    from drizzle.resample import Drizzle
    from drizzle.utils import calc_pixmap

    stamps = list(stamps)
    if not stamps:
        msg = "stamps is empty"
        raise ValueError(msg)
    if out_shape is None:
        out_shape = out_wcs.array_shape
    if out_shape is None:
        msg = "out_wcs has no array_shape: pass out_shape"
        raise ValueError(msg)
    if out_pscale is None:
        out_pscale = output_pscale(out_wcs)
    if out_units not in ("cps", "counts"):
        msg = f"out_units must be 'cps' or 'counts', got {out_units!r}"
        raise ValueError(msg)
    if out_units == "counts" and texptime is None:
        msg = "out_units='counts' needs texptime (total exposure time of the drz)"
        raise ValueError(msg)
    driz = Drizzle(kernel=kernel, fillval=fillval, out_shape=tuple(out_shape),
                   begin_ctx_id=0, max_ctx_id=len(stamps) - 1)
    for stamp in stamps:
        units = str(stamp.units).lower()
        if units not in ("counts", "cps"):
            msg = f"stamp units must be 'counts' or 'cps', got {stamp.units!r}"
            raise ValueError(msg)
        data = np.asarray(stamp.data, dtype=np.float32)
        r = (float(pixel_scale_ratio) if pixel_scale_ratio is not None
             else out_pscale / float(stamp.wcslin_pscale))
        if stamp.weight is not None:
            weight, wt_scl = np.asarray(stamp.weight, dtype=np.float32), float(stamp.wt_scl)
        else:
            dq = stamp.dq if stamp.dq is not None else np.zeros(data.shape, np.int16)
            weight, wt_scl = final_weight_map(
                dq, exptime=stamp.exptime, bits=bits, wht_type=wht_type, err=stamp.err,
                ivm=stamp.ivm, mask=stamp.mask, pixel_scale_ratio=r,
            )
        pixmap = stamp.pixmap
        if pixmap is None:
            pixmap = calc_pixmap(stamp.wcs, out_wcs, shape=data.shape)
        driz.add_image(
            data, exptime=float(stamp.exptime) if units == "counts" else 1.0,
            pixmap=pixmap, weight_map=weight, wht_scale=wt_scl, pixfrac=float(pixfrac),
            in_units=units, iscale=r**2, pixel_scale_ratio=r,
        )
    out = driz.out_img
    if out_units == "counts":
        out = out * np.float32(texptime)
    return out, driz.out_wht, driz.out_ctx


class AstroDrizzleMapping:
    """AstroDrizzle's own pixel mapping of a whole chip onto the whole output grid.

    ``drizzlepac.adrizzle.do_driz`` maps input pixels with ``cdriz.DefaultWCSMapping``:
    the exact WCS transformation (SIP, NPOL, D2IM through astropy/wcslib) evaluated on a
    grid every ``stepsize`` pixels of the chip and interpolated in between. Evaluating
    that same object on the pixels of a cutout gives the mapping AstroDrizzle used there,
    interpolation included, so stamps drizzle exactly as the full chip did.

    Parameters
    ----------
    chip_wcs : astropy.wcs.WCS
        Full WCS of the chip, with ``pixel_shape``.
    out_wcs : astropy.wcs.WCS
        Full output (drz) WCS, with ``pixel_shape``.
    stepsize : int, optional
        AstroDrizzle's ``stepsize`` (default 10; 1 maps every pixel exactly).
    """

    def __init__(self, chip_wcs, out_wcs, *, stepsize=10):
        nx, ny = (int(v) for v in chip_wcs.pixel_shape)
        self._mapping = _cdriz().DefaultWCSMapping(chip_wcs, out_wcs, nx, ny, int(stepsize))

    def pixmap(self, in_box, out_box):
        """Return the ``(ny, nx, 2)`` pixmap of chip cutout ``in_box`` onto ``out_box``.

        Both boxes are `spike.stamps.geometry.Box` es (0-based); the mapping object works
        in 1-based pixels on both sides.
        """
        y, x = np.mgrid[in_box.slices].astype(float)
        ox, oy = self._mapping(x.ravel() + 1.0, y.ravel() + 1.0)
        ox = np.asarray(ox).reshape(in_box.shape) - 1.0 - out_box.xstart
        oy = np.asarray(oy).reshape(in_box.shape) - 1.0 - out_box.ystart
        return np.dstack([ox, oy])


@functools.cache
def _cdriz():
    """drizzlepac's compiled ``cdriz`` extension.

    Importing the ``drizzlepac`` package costs about 2.7 s and 230 MB (it imports its whole
    pipeline and astroquery); its ``cdriz`` extension needs numpy only. When drizzlepac is
    not imported yet, the installed extension is loaded on its own from drizzlepac's
    directory (the same compiled code, not a copy).
    """
    import importlib.util
    import sys

    if "drizzlepac" in sys.modules:
        from drizzlepac import cdriz

        return cdriz
    spec = importlib.util.find_spec("drizzlepac")
    if spec is None or not spec.submodule_search_locations:
        msg = "drizzlepac is not installed; spike's HST support needs it"
        raise ImportError(msg)
    for directory in spec.submodule_search_locations:
        for path in sorted(Path(directory).glob("cdriz*")):
            if path.suffix in (".so", ".pyd"):
                ext = importlib.util.spec_from_file_location("cdriz", path)
                module = importlib.util.module_from_spec(ext)
                ext.loader.exec_module(module)
                return module
    from drizzlepac import cdriz  # pragma: no cover - unusual installations

    return cdriz


@dataclass(frozen=True)
class DrzGrid:
    """Output grid and final-drizzle parameters of an AstroDrizzle product (`drz_grid`).

    Attributes
    ----------
    wcs : astropy.wcs.WCS
        WCS of ``[SCI,1]`` (``pixel_shape`` set).
    shape : tuple of int
        ``(ny, nx)``.
    pscale : float
        `output_pscale` (arcsec).
    pars : dict
        ``kernel``, ``pixfrac``, ``scale``, ``wt_scl``, ``units``, ``fillval`` (from
        ``D001KERN``, ``D001PIXF``, ``D001SCAL``, ``D001WTSC``, ``D001OUUN``,
        ``D001FVAL``; fillval None for INDEF), ``texptime`` (primary ``EXPTIME``),
        ``inputs`` (``D###DATA``), ``masks`` (``D###MASK``), ``exptimes``
        (``D###DEXP``) and ``wt_scls`` (``D###WTSC``), one per drizzled chip.
    """

    wcs: WCS
    shape: tuple
    pscale: float
    pars: dict


def drz_grid(drz_path):
    """Read the output grid and final drizzle parameters of an AstroDrizzle drz product.

    Parameters
    ----------
    drz_path : str or pathlib.Path
        ``*_drz.fits`` (``_drc``/``_drw``) with a ``SCI`` extension.

    Returns
    -------
    DrzGrid
    """
    with fits.open(drz_path) as hdul:
        primary = hdul[0].header
        sci = hdul["SCI", 1] if "SCI" in hdul else hdul[1]
        header = sci.header
        shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
        wcs = WCS(header, hdul)
    wcs.pixel_shape = shape[::-1]
    pars = {}
    for key, name in _DRZ_KEYWORDS.items():
        value = primary.get(f"D001{key}")
        if isinstance(value, str):
            value = value.strip()
        pars[name] = value
    for name in ("pixfrac", "scale", "wt_scl"):
        if pars[name] not in (None, ""):
            try:
                pars[name] = float(pars[name])
            except ValueError:
                pass
    if pars["fillval"] in (None, "") or str(pars["fillval"]).upper() == "INDEF":
        pars["fillval"] = None
    pars["texptime"] = float(primary.get("EXPTIME", np.nan))
    inputs, masks, exptimes, wt_scls = [], [], [], []
    n = 1
    while f"D{n:03d}DATA" in primary:
        inputs.append(str(primary[f"D{n:03d}DATA"]).strip())
        masks.append(str(primary.get(f"D{n:03d}MASK", "")).strip())
        exptimes.append(float(primary.get(f"D{n:03d}DEXP", np.nan)))
        wt_scls.append(_as_float(primary.get(f"D{n:03d}WTSC", 1.0)))
        n += 1
    pars.update(inputs=inputs, masks=masks, exptimes=exptimes, wt_scls=wt_scls)
    return DrzGrid(wcs=wcs, shape=shape, pscale=output_pscale(wcs), pars=pars)


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return 1.0
