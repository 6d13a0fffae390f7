"""The JWST science mosaic grid, and stamp resampling with jwst's `ResampleImage`."""

import copy
import logging
from pathlib import Path

from jwst.resample.resample import ResampleImage
from stcal.resample import Resample

from spike.missions._grid import (
    apply_recorded,
    check_mosaic_band,
    input_scale_ratio,
    open_reference,
    quiet_info,
    stamp_outputs,
    scale_from_area,
    wcs_pixel_scale,
)
from spike.missions.base import OutputGrid

__all__ = ["grid_from_mosaic", "grid_from_wcs_file", "grid_from_models", "StampResampler"]

log = logging.getLogger(__name__)

_RECORDED = ("pixfrac", "kernel", "fillval", "weight_type")


def grid_from_mosaic(reference, pars, *, explicit=(), exposure=None):
    """Return the `OutputGrid` of a science ``_i2d`` mosaic, reusing its resample parameters.

    Parameters
    ----------
    reference : str, Path or `~stdatamodels.jwst.datamodels.ImageModel`
        The science mosaic.
    pars : dict
        Resample parameters; the ones the mosaic records (``meta.resample``) replace them.
    explicit : tuple of str, optional
        Parameters the user set (a different recorded value is a WARNING).
    exposure : spike.psf.base.DetectorInfo, optional
        An exposure; the mosaic must be of its instrument, filter and pupil.

    Returns
    -------
    OutputGrid

    Raises
    ------
    ValueError
        The mosaic has no WCS or is of another instrument or filter.
    """
    from stdatamodels.jwst import datamodels

    with open_reference(reference, datamodels.ImageModel, "a JWST image") as (mosaic, name):
        if mosaic.meta.wcs is None:
            msg = f"reference_mosaic {name} has no WCS (meta.wcs)"
            raise ValueError(msg)
        wcs = copy.deepcopy(mosaic.meta.wcs)
        shape = tuple(mosaic.data.shape)
        wcs.array_shape = shape
        area = mosaic.meta.photometry.pixelarea_steradians
        recorded = mosaic.meta.resample.instance
        inst = mosaic.meta.instrument
        if exposure is not None:
            check_mosaic_band(name, instrument=inst.name, filter_name=inst.filter,
                              pupil=getattr(inst, "pupil", None), det=exposure)
    pars = apply_recorded(pars, recorded, _RECORDED, name, explicit=explicit)
    pscale = scale_from_area(area) if area else wcs_pixel_scale(wcs)
    return OutputGrid(wcs=wcs, shape=shape, pixel_scale=pscale,
                      pixel_scale_ratio=recorded.get("pixel_scale_ratio"),
                      source="reference_mosaic", reference=name, pars=pars)


def grid_from_wcs_file(path, output_shape, first, pars, *, first_wcs=None):
    """Return the `OutputGrid` of a custom WCS file, as `ResampleStep`'s ``output_wcs``.

    Parameters
    ----------
    path : str
        ASDF file with a gwcs under the key ``wcs``.
    output_shape : list of int or None
        ``[nx, ny]``, overriding the file's shape.
    first : ImageModel
        The first science exposure (defines the pixel-scale ratio, as in stcal).
    pars : dict
        Resample parameters.
    first_wcs : gwcs.wcs.WCS, optional
        The WCS spike uses for ``first`` (default: its own).
    """
    from jwst.resample.resample_utils import load_custom_wcs

    if not Path(path).is_file():
        msg = f"output_wcs file {path} does not exist"
        raise FileNotFoundError(msg)
    try:
        wcs_dict = load_custom_wcs(str(path), output_shape)
    except Exception as exc:  # asdf, gwcs and jwst raise many types for a bad file
        msg = (f"output_wcs {path} cannot be read as an ASDF file holding a gwcs (with a "
               f"shape or bounding box) under the key 'wcs': {type(exc).__name__}: {exc}")
        raise ValueError(msg) from exc
    pscale = wcs_dict.get("pixel_scale")
    if pscale is None:
        pscale = wcs_pixel_scale(wcs_dict["wcs"])
    ratio = input_scale_ratio(pscale, nominal_area=first.meta.photometry.pixelarea_steradians,
                              wcs=first.meta.wcs if first_wcs is None else first_wcs,
                              shape=first.data.shape)
    wcs = wcs_dict["wcs"]
    return OutputGrid(wcs=wcs, shape=tuple(wcs.array_shape), pixel_scale=float(pscale),
                      pixel_scale_ratio=ratio, source="output_wcs",
                      reference=Path(path).name, pars=dict(pars))


def _proxy(model, wcs):
    """A light stand-in for ``model`` (shares its arrays, WCS ``wcs``) for the library."""
    from stdatamodels.jwst import datamodels

    # metadata copied from an already validated model: skip re-validation on assignment
    proxy = datamodels.ImageModel(data=model.data, validate_on_assignment=False)
    proxy.meta.filename = model.meta.filename
    proxy.meta.wcs = wcs
    proxy.meta.wcsinfo = model.meta.wcsinfo.instance
    proxy.meta.observation = model.meta.observation.instance
    proxy.meta.exposure = model.meta.exposure.instance
    return proxy


def grid_from_models(models, pars, *, pixel_scale_ratio=1.0, pixel_scale=None,
                     output_shape=None, rotation=None, crpix=None, crval=None, wcs=None):
    """Return the grid jwst's `ResampleStep` computes from the exposures' footprints.

    Calls `jwst.resample.resample_utils.resampled_wcs_from_models` with the same
    arguments as `~jwst.resample.resample.ResampleImage` does.

    Parameters
    ----------
    models : list of ImageModel
        The science exposures (not modified).
    pars : dict
        Resample parameters.
    pixel_scale_ratio, pixel_scale, output_shape, rotation, crpix, crval
        As `ResampleStep`'s parameters (``pixel_scale`` in arcsec, ``output_shape``
        as ``[nx, ny]``).
    wcs : list of gwcs.wcs.WCS, optional
        The WCS spike uses for each model (default: the models' own).
    """
    from jwst.datamodels import ModelLibrary
    from jwst.resample.resample_utils import resampled_wcs_from_models

    wcs = [m.meta.wcs for m in models] if wcs is None else wcs
    library = ModelLibrary([_proxy(m, w) for m, w in zip(models, wcs, strict=True)],
                           on_disk=False)
    wcs, _, ps, ratio = resampled_wcs_from_models(
        library,
        pixel_scale_ratio=1.0 if pixel_scale_ratio is None else pixel_scale_ratio,
        pixel_scale=None if pixel_scale is None else pixel_scale / 3600.0,
        output_shape=None if output_shape is None else tuple(output_shape[::-1]),
        rotation=rotation,
        crpix=crpix,
        crval=crval,
    )
    return OutputGrid(wcs=wcs, shape=tuple(wcs.array_shape), pixel_scale=3600.0 * ps,
                      pixel_scale_ratio=ratio, source="computed", pars=dict(pars))


#: Loggers that repeat the same INFO lines for every stamp (parameters, progress).
_PER_STAMP_LOGGERS = ("stcal.resample.resample", "jwst.resample.resample")


class _StampResampleImage(ResampleImage):
    """jwst's `ResampleImage`, less the product bookkeeping a PSF stamp does not need.

    Weights, masks, pixel maps and drizzling are jwst's and stcal's own code; only the
    output-model metadata (header blending, FITS WCS approximation, S_REGION) is skipped.
    """

    def create_output_jwst_model(self, ref_input_model=None):  # noqa: ARG002
        return None

    def finalize(self):
        Resample.finalize(self)


class StampResampler:
    """Resample PSF stamp models onto a cutout of the mosaic grid.

    Parameters
    ----------
    models : list of ImageModel
        PSF stamps (from `spike.missions.jwst.JWSTAdapter.stamp_model`).
    grid : OutputGrid
        The full mosaic grid (its pixel scale and ratio are passed on unchanged so the
        drizzle scaling equals the full-frame run's).
    out_wcs : gwcs.wcs.WCS
        The WCS of the padded output cutout.
    """

    def __init__(self, models, grid, out_wcs):
        self.models = models
        p = grid.pars
        self.kwargs = {
            "pixfrac": p["pixfrac"],
            "kernel": p["kernel"],
            "fillval": p["fillval"],
            "weight_type": p["weight_type"],
            "good_bits": p["good_bits"],
            "blendheaders": False,
            "output_wcs": {"wcs": out_wcs, "pixel_scale": grid.pixel_scale,
                           "pixel_scale_ratio": grid.pixel_scale_ratio},
            "enable_ctx": True,
            "enable_var": False,
            "report_var": False,
            "compute_err": None,
            "pixmap_stepsize": p.get("pixmap_stepsize", 1),
            "pixmap_order": p.get("pixmap_order", 1),
        }

    def run(self):
        """Drizzle every stamp and return ``(data, wht, con)`` on the output cutout."""
        with quiet_info(_PER_STAMP_LOGGERS):
            r = _StampResampleImage(self.models, **self.kwargs)
            for model in self.models:
                r.add_model(model)
            r.finalize()
        return stamp_outputs(r.output_model)
