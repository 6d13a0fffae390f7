"""The Roman science mosaic grid, and stamp resampling with romancal's `ResampleData`."""

import copy
import logging
from pathlib import Path

from romancal.resample.resample import ResampleData
from stcal.resample import Resample

from spike.missions._grid import (
    apply_recorded,
    check_mosaic_band,
    input_scale_ratio,
    open_reference,
    quiet_info,
    stamp_outputs,
    wcs_pixel_scale,
)
from spike.missions.base import OutputGrid

__all__ = ["grid_from_mosaic", "grid_from_wcs_file", "grid_from_models",
           "resample_roman_stamps"]

log = logging.getLogger(__name__)

_RECORDED = ("pixfrac", "weight_type", "good_bits", "pixmap_stepsize", "pixmap_order")
_PER_STAMP_LOGGERS = ("stcal.resample.resample", "romancal.resample.resample")


def grid_from_mosaic(reference, pars, *, explicit=(), exposure=None):
    """Return the `OutputGrid` of a romancal level-3 mosaic, reusing its resample parameters.

    Parameters
    ----------
    reference : str, Path or `roman_datamodels.datamodels.MosaicModel`
        The science mosaic (a sky-cell mosaic or a custom one).
    pars : dict
        Resample parameters; the ones the mosaic records (``meta.resample``) replace them.
    explicit : tuple of str, optional
        Parameters the user set (a different recorded value is a WARNING).
    exposure : spike.psf.base.DetectorInfo, optional
        An exposure; the mosaic must be of its instrument and optical element.
    """
    import roman_datamodels.datamodels as rdm

    with open_reference(reference, rdm.open, "a Roman datamodel") as (mosaic, name):
        if not isinstance(mosaic, rdm.MosaicModel):
            msg = f"reference_mosaic {name} is a {type(mosaic).__name__}, not a level-3 mosaic"
            raise ValueError(msg)
        if exposure is not None:
            inst = mosaic.meta.instrument
            check_mosaic_band(name, instrument=getattr(inst, "name", None),
                              filter_name=getattr(inst, "optical_element", None),
                              det=exposure)
        wcs = copy.deepcopy(mosaic.meta.wcs)
        shape = tuple(mosaic.data.shape)
        recorded = dict(mosaic.meta.resample) if "resample" in mosaic.meta else {}
    wcs.array_shape = shape
    ratio = recorded.get("pixel_scale_ratio")
    ratio = None if ratio in (None, -999999, -999999.0) else float(ratio)
    return OutputGrid(wcs=wcs, shape=shape, pixel_scale=wcs_pixel_scale(wcs),
                      pixel_scale_ratio=ratio, source="reference_mosaic", reference=name,
                      pars=apply_recorded(pars, recorded, _RECORDED, name,
                                          explicit=explicit))


def grid_from_wcs_file(path, output_shape, first, pars, *, first_wcs=None):
    """Return the `OutputGrid` of a custom WCS file, as romancal's ``output_wcs``."""
    from romancal.resample.resample_step import ResampleStep

    if not Path(path).is_file():
        msg = f"output_wcs file {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        wcs = ResampleStep._load_custom_wcs(str(path), output_shape)["wcs"]
    except Exception as exc:  # asdf, gwcs and romancal raise many types for a bad file
        msg = (f"output_wcs {path} cannot be read as an ASDF file holding a gwcs (with a "
               f"shape or bounding box) under the key 'wcs': {type(exc).__name__}: {exc}")
        raise ValueError(msg) from exc
    pscale = wcs_pixel_scale(wcs)
    ratio = input_scale_ratio(pscale, nominal_area=_nominal_area(first),
                              wcs=first.meta.wcs if first_wcs is None else first_wcs,
                              shape=first.data.shape)
    return OutputGrid(wcs=wcs, shape=tuple(wcs.array_shape), pixel_scale=pscale,
                      pixel_scale_ratio=ratio, source="output_wcs",
                      reference=Path(path).name, pars=dict(pars))


def _nominal_area(model):
    area = model.meta.photometry.pixel_area
    return None if area in (None, -999999) else float(area)


def _proxy(model, wcs):
    """A stand-in for ``model`` with WCS ``wcs`` (metadata and data shared, not copied)."""
    import roman_datamodels.datamodels as rdm

    node = model._instance
    meta = type(node.meta)(dict(node.meta))
    meta["wcs"] = wcs
    return rdm.ImageModel(type(node)({"meta": meta, "data": node["data"]}))


def grid_from_models(models, pars, *, pixel_scale_ratio=1.0, pixel_scale=None,
                     output_shape=None, rotation=None, crpix=None, crval=None, wcs=None):
    """Return the grid romancal's `ResampleStep` computes from the exposures' footprints.

    Calls `romancal.resample.resample.make_output_wcs` with the arguments `ResampleStep`
    gives it (``resample_on_skycell=False``: for a sky-cell mosaic give ``reference_mosaic``),
    on stand-ins of the models carrying the WCS spike uses (``wcs``: with an inverse).
    """
    from romancal.datamodels import ModelLibrary
    from romancal.resample.resample import make_output_wcs

    wcs = [m.meta.wcs for m in models] if wcs is None else wcs
    proxies = [_proxy(m, w) for m, w in zip(models, wcs, strict=True)]
    out_wcs, pscale, ratio = make_output_wcs(
        ModelLibrary(proxies, on_disk=False),
        pscale_ratio=1.0 if pixel_scale_ratio is None else pixel_scale_ratio,
        pscale=None if pixel_scale is None else pixel_scale / 3600.0,
        rotation=rotation,
        shape=None if output_shape is None else tuple(output_shape[::-1]),
        crpix=crpix,
        crval=crval,
    )
    return OutputGrid(wcs=out_wcs, shape=tuple(out_wcs.array_shape), pixel_scale=float(pscale),
                      pixel_scale_ratio=float(ratio), source="computed", pars=dict(pars))


class _StampResampleData(ResampleData):
    """romancal's `ResampleData`, less the mosaic-product bookkeeping (blending, L3 WCS).

    Weights, masks, pixel maps and drizzling are romancal's and stcal's own code. For
    ``weight_type="ivm-sky"`` the sky variance of each stamp is the science exposure's
    (``var_sky``, keyed by the stamp model), since romancal derives it from the data.
    """

    def __init__(self, *args, var_sky=None, **kwargs):
        self._var_sky = var_sky or {}
        super().__init__(*args, **kwargs)

    def _input_model_to_dict(self, model):
        out = super()._input_model_to_dict(model)
        if id(model) in self._var_sky:
            out["var_sky"] = self._var_sky[id(model)]
        return out

    def finalize(self):
        Resample.finalize(self)


def resample_roman_stamps(models, grid, out_wcs, *, var_sky=None):
    """Drizzle Roman PSF stamp models onto ``out_wcs``; return ``(data, wht, con)``.

    Parameters
    ----------
    models : list of ImageModel
        PSF stamps.
    grid : OutputGrid
        The full mosaic grid.
    out_wcs : gwcs.wcs.WCS
        WCS of the padded output cutout.
    var_sky : list of numpy.ndarray, optional
        For ``weight_type="ivm-sky"``: the science sky variance on each stamp's pixels.
    """
    from romancal.datamodels import ModelLibrary

    p = grid.pars
    sky = {} if var_sky is None else {id(m): v for m, v in zip(models, var_sky, strict=True)}
    with quiet_info(_PER_STAMP_LOGGERS):
        r = _StampResampleData(
            var_sky=sky,
            input_models=ModelLibrary(models, on_disk=False),
            output_wcs={"wcs": out_wcs, "pixel_scale": grid.pixel_scale,
                        "pixel_scale_ratio": grid.pixel_scale_ratio},
            pixfrac=p["pixfrac"],
            kernel=p["kernel"],
            fillval=str(p["fillval"]),
            weight_type=p["weight_type"],
            good_bits=p["good_bits"],
            enable_ctx=True,
            enable_var=False,
            compute_err=None,
            compute_exptime=False,
            blend_meta=False,
            resample_on_skycell=False,
            pixmap_stepsize=p["pixmap_stepsize"],
            pixmap_order=int(p["pixmap_order"]),
        )
        for model in models:
            r.add_model(model)
        r.finalize()
    return stamp_outputs(r.output_model)
