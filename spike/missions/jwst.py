"""JWST adapter: calibrated exposures in, stamps resampled with jwst's own resample code.

Science exposures are `_cal` / `_crf` `ImageModel` files (or models), given as a level-3
association, a list, or a `jwst.datamodels.ModelLibrary`. PSF stamps are turned into small
`ImageModel` s that carry the science exposure's DQ, error and variance arrays (after
`jwst.lib.pipe_utils.match_nans_and_flags`, exactly as `ResampleStep` prepares the science)
and a shifted copy of its WCS, and they are resampled by `jwst.resample.resample.ResampleImage`
onto a sub-grid of the science mosaic.
"""

import logging
from functools import partial
from pathlib import Path

import numpy as np

from spike.missions._inputs import (
    check_complete_fits,
    expand_input,
    open_datamodel,
    product_name_from,
)
from spike.missions.base import MissionAdapter
from spike.psf.base import DetectorInfo
from spike.stamps.geometry import shift_wcs

__all__ = ["JWSTAdapter", "IMAGING_EXP_TYPES", "GOOD_BITS"]

log = logging.getLogger(__name__)

#: JWST exposure types spike can model (direct imaging).
IMAGING_EXP_TYPES = ("NRC_IMAGE", "NIS_IMAGE", "MIR_IMAGE", "NRC_TACQ", "NRC_TACONFIRM",
                     "NIS_TACQ", "NIS_TACONFIRM", "MIR_TACQ", "MIR_TACONFIRM", "FGS_IMAGE")

#: DQ flags jwst's ResampleStep treats as bad (all other flags keep their weight).
GOOD_BITS = "~DO_NOT_USE+NON_SCIENCE"

_SCIENCE_ARRAYS = ("dq", "err", "var_rnoise", "var_poisson", "var_flat")


def _open_image(item):
    from stdatamodels.jwst import datamodels

    if isinstance(item, datamodels.JwstDataModel):
        return item
    path = Path(item)
    if path.suffix.lower() in (".fits", ".fit", ".fts"):
        check_complete_fits(path)
    return open_datamodel(path, datamodels.open, "a JWST datamodel")


def _check_model(model, name):
    from stdatamodels.jwst import datamodels

    if not isinstance(model, datamodels.ImageModel):
        msg = (f"{name} is a {type(model).__name__}, not a calibrated JWST image "
               "(_cal/_crf ImageModel); spike models direct-imaging exposures only")
        raise TypeError(msg)
    if model.data is None or model.data.ndim != 2:
        msg = f"{name}: science data must be a 2-D image"
        raise ValueError(msg)
    if _is_mosaic(model, name):
        msg = (f"{name} is a resampled mosaic (_i2d), not a calibrated exposure: give the "
               "exposures (_cal/_crf, or their association) as input and the mosaic as "
               "reference_mosaic")
        raise ValueError(msg)
    if model.meta.wcs is None:
        msg = (f"{name} has no WCS (meta.wcs is not set); run the exposure through "
               "calwebb_image2 (assign_wcs) before spike")
        raise ValueError(msg)
    exp_type = model.meta.exposure.type
    if exp_type is not None and exp_type not in IMAGING_EXP_TYPES:
        msg = f"{name}: exposure type {exp_type} is not direct imaging; spike cannot model it"
        raise ValueError(msg)


def _is_mosaic(model, name):
    """True for a level-3 product (resampled by jwst's ResampleStep)."""
    resampled = getattr(model.meta.cal_step, "resample", None) == "COMPLETE"
    return resampled or Path(str(name)).stem.lower().endswith("_i2d")


def _pixels(model):
    from stdatamodels.jwst.datamodels.dqflags import pixel

    from spike.missions._pixels import model_pixels

    return model_pixels(model, good_bits=GOOD_BITS, flag_name_map=pixel)


class JWSTAdapter(MissionAdapter):
    """Open JWST imaging exposures and resample PSF stamps with jwst's resample code.

    Parameters
    ----------
    input_data : str, Path, dict, list, `~stdatamodels.jwst.datamodels.ImageModel` or \
            `~jwst.datamodels.ModelLibrary`
        An association (file or dict), one exposure, a list of exposures (files or models),
        or a model library. Nothing is modified.
    product_name : str, optional
        Overrides the association's product name.

    Raises
    ------
    FileNotFoundError
        An input file (or an association member) does not exist.
    ValueError, TypeError
        An input is not a JWST imaging exposure with a WCS, or filters are mixed.
    """

    mission = "jwst"

    def __init__(self, input_data, *, product_name=None):
        items, asn = expand_input(input_data, library_type=_library_type())
        self._stamp_meta_cache = {}
        self._open_models(items, open_one=_open_image, check_one=_check_model)
        self.product_name = product_name or product_name_from(asn, self.models)

    @property
    def n_exposures(self):
        """Number of exposures."""
        return len(self.models)

    def detector_info(self, index):
        """Return the `~spike.psf.base.DetectorInfo` of exposure ``index``."""
        model = self.models[index]
        inst = model.meta.instrument
        filt, pupil = inst.filter, inst.pupil
        wcs, fit = self.exposure_wcs(index)
        return DetectorInfo(
            mission="jwst",
            instrument=str(inst.name),
            detector=str(inst.detector),
            filter=str(filt),
            pupil=None if pupil is None else str(pupil),
            wcs=wcs,
            shape=tuple(model.data.shape),
            filename=str(model.meta.filename),
            extra={
                "wcs_inverse": None if fit is None else fit.as_meta(),
                "exposure_type": model.meta.exposure.type,
                "pixelarea_steradians": model.meta.photometry.pixelarea_steradians,
                "channel": getattr(inst, "channel", None),
                "module": getattr(inst, "module", None),
                # 1-based origin of a subarray on the full detector, as in JWST headers
                "substrt1": getattr(model.meta.subarray, "xstart", None) or 1,
                "substrt2": getattr(model.meta.subarray, "ystart", None) or 1,
            },
            pixels=partial(_pixels, model),
        )

    # ------------------------------------------------------------------ output grid
    def output_grid(self, *, reference_mosaic=None, output_wcs=None, output_shape=None,
                    pixel_scale_ratio=1.0, pixel_scale=None, rotation=None, crpix=None,
                    crval=None, explicit=(), **pars):
        """Return the science mosaic's grid, as jwst's `ResampleStep` would build it.

        Parameters
        ----------
        reference_mosaic : str or `~stdatamodels.jwst.datamodels.ImageModel`, optional
            The science `_i2d` mosaic; its WCS and its recorded resample parameters
            (``meta.resample``) are reused and override ``pars``. It must be of the
            exposures' instrument and filter.
        output_wcs : str, optional
            An ASDF file holding a custom output gwcs under ``wcs`` (as for `ResampleStep`).
        output_shape : list of int, optional
            ``[nx, ny]`` of the output (as for `ResampleStep`).
        pixel_scale_ratio, pixel_scale, rotation, crpix, crval
            Same meaning as `ResampleStep`'s parameters of the same names.
        explicit : tuple of str, optional
            Parameters the user set (overriding them from the mosaic is a WARNING).
        **pars
            ``pixfrac``, ``kernel``, ``fillval``, ``weight_type``, ``good_bits``,
            ``pixmap_stepsize``, ``pixmap_order``.

        Returns
        -------
        OutputGrid
        """
        from stdatamodels.jwst.datamodels.dqflags import pixel

        from spike.missions import _jwst_grid
        from spike.missions._grid import RESAMPLE_DEFAULTS, check_good_bits, fill_defaults

        if pars.get("weight_type") == "ivm-sky":
            msg = ("weight_type='ivm-sky' is a romancal option; jwst's ResampleStep offers "
                   "'ivm' or 'exptime'")
            raise ValueError(msg)
        if pars.get("good_bits") not in (None, GOOD_BITS):
            check_good_bits(pars["good_bits"], pixel, "jwst")
            log.warning("good_bits=%s ignored: jwst's ResampleStep always uses %s",
                        pars["good_bits"], GOOD_BITS)
        pars = fill_defaults(dict(pars, good_bits=GOOD_BITS),
                             {**RESAMPLE_DEFAULTS, "pixmap_stepsize": 1.0, "pixmap_order": 1})
        if reference_mosaic is not None:
            return _jwst_grid.grid_from_mosaic(reference_mosaic, pars, explicit=explicit,
                                               exposure=self.detector_info(0))
        if output_wcs:
            return _jwst_grid.grid_from_wcs_file(output_wcs, output_shape, self.models[0], pars,
                                                 first_wcs=self._wcs[0])
        return _jwst_grid.grid_from_models(
            self.models, pars, pixel_scale_ratio=pixel_scale_ratio, pixel_scale=pixel_scale,
            rotation=rotation, crpix=crpix, crval=crval, output_shape=output_shape,
            wcs=self._wcs)

    # ------------------------------------------------------------------ resampling
    def stamp_model(self, index, box, psf):
        """Return the PSF stamp of exposure ``index`` as a jwst `ImageModel`.

        The stamp carries the science DQ, error and variance arrays of the same pixels
        (after `match_nans_and_flags`), the science WCS shifted to the cutout, and the
        science metadata that resampling reads; its background is marked subtracted.

        Parameters
        ----------
        index : int
            Exposure index.
        box : spike.stamps.geometry.Box
            The cutout in the exposure's data array.
        psf : numpy.ndarray
            PSF values on the cutout's pixels.

        Returns
        -------
        `~stdatamodels.jwst.datamodels.ImageModel`
        """
        from jwst.lib.pipe_utils import match_nans_and_flags
        from stdatamodels.jwst import datamodels

        sci = self.models[index]
        arrays = {"data": np.array(sci.data[box.slices], dtype=np.float32)}
        for name in _SCIENCE_ARRAYS:
            value = getattr(sci, name, None)
            if value is not None:
                arrays[name] = np.array(value[box.slices])
        # The metadata are copied from an already validated science model, so the stamp
        # skips re-validation on assignment (which would cost ~0.3 s per stamp); the
        # ImageModel schema is loaded once (loading it costs ~11 ms per model).
        schema = getattr(self, "_stamp_schema", None)
        stamp = datamodels.ImageModel(validate_on_assignment=False, schema=schema, **arrays)
        if schema is None:
            self._stamp_schema = stamp._schema
        match_nans_and_flags(stamp)
        bad = np.isnan(stamp.data)
        stamp.data = np.where(bad, np.float32(np.nan), psf.astype(np.float32))
        meta = stamp.meta
        for key, value in self._stamp_meta(index).items():
            setattr(meta, key, value)
        meta.wcs = shift_wcs(self._wcs[index], box, transient=True)
        return stamp

    def _stamp_meta(self, index):
        """Metadata every PSF stamp of exposure ``index`` copies (computed once)."""
        if index not in self._stamp_meta_cache:
            sci = self.models[index]
            self._stamp_meta_cache[index] = {
                "filename": sci.meta.filename,
                "group_id": getattr(sci.meta, "group_id", None) or f"exposure{index}",
                "wcsinfo": sci.meta.wcsinfo.instance,
                "bunit_data": sci.meta.bunit_data,
                "exposure": sci.meta.exposure.instance,
                "photometry": sci.meta.photometry.instance,
                "instrument": sci.meta.instrument.instance,
                "background": {"level": 0.0, "subtracted": True},
            }
        return self._stamp_meta_cache[index]

    def resample_stamps(self, stamps, grid, box):
        """Resample ``stamps`` onto ``box`` of ``grid`` with `ResampleImage`.

        See `MissionAdapter.resample_stamps`.
        """
        from spike.missions._jwst_grid import StampResampler

        out_wcs = shift_wcs(grid.wcs, box, transient=True)
        models = [self.stamp_model(s.exposure, s.box, s.data) for s in stamps]
        resampler = StampResampler(models, grid, out_wcs)
        return resampler.run()


def _library_type():
    from jwst.datamodels import ModelLibrary

    return ModelLibrary

