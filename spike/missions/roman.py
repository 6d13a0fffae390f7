"""Roman adapter: WFI level-2 exposures in, stamps resampled with romancal's own code.

Science exposures are roman_datamodels `ImageModel` s (``_cal.asdf``) of any of the 18 SCAs,
given as a romancal association, a list, or a `romancal.datamodels.ModelLibrary`. PSF stamps
become small `ImageModel` s that carry the science exposure's DQ, ERR and variance arrays
(romancal weighs by VAR_RNOISE, or ERR² minus the other variances when it is absent) and a
shifted copy of its WCS; `romancal.resample.resample.ResampleData` drizzles them onto a
sub-grid of the science mosaic.
"""

import logging
import re
from functools import partial
from pathlib import Path

import numpy as np

from spike.missions._inputs import expand_input, open_datamodel, product_name_from
from spike.missions.base import MissionAdapter
from spike.psf.base import DetectorInfo
from spike.stamps.geometry import shift_wcs

__all__ = ["RomanAdapter", "ROMAN_GOOD_BITS", "ROMAN_PIXMAP_STEPSIZE", "ROMAN_PIXMAP_ORDER"]

log = logging.getLogger(__name__)

#: romancal ResampleStep's defaults where they differ from jwst's.
ROMAN_GOOD_BITS = "~DO_NOT_USE"
ROMAN_PIXMAP_STEPSIZE = 10
ROMAN_PIXMAP_ORDER = 3

_SCA = re.compile(r"^WFI(0[1-9]|1[0-8])$")
_STAMP_ARRAYS = ("dq", "err", "var_poisson", "var_rnoise", "var_flat")


def _open_image(item):
    import roman_datamodels.datamodels as rdm

    if isinstance(item, rdm.DataModel):
        return item
    model = open_datamodel(Path(item), rdm.open, "a Roman datamodel")
    try:
        _load_arrays(model, Path(item))
    except Exception:
        model.close()
        raise
    return model


def _load_arrays(model, path):
    """Read the arrays spike uses now (asdf reads lazily), naming the file on failure."""
    from spike.missions._inputs import short_error

    node = model._instance
    for name in ("data", *_STAMP_ARRAYS):
        if name not in node:
            continue
        try:
            node[name] = np.asarray(node[name])
        except Exception as exc:  # asdf raises many types for truncated or corrupt blocks
            msg = f"Cannot read array '{name}' of {path}: {short_error(exc)}"
            raise ValueError(msg) from exc


def _check_model(model, name):
    import roman_datamodels.datamodels as rdm

    if not isinstance(model, rdm.ImageModel):
        msg = (f"{name} is a {type(model).__name__}, not a Roman WFI level-2 image "
               "(ImageModel, _cal.asdf); spike models imaging exposures only")
        raise TypeError(msg)
    if model.data.ndim != 2:
        msg = f"{name}: science data must be a 2-D image"
        raise ValueError(msg)
    if getattr(model.meta, "wcs", None) is None:
        msg = f"{name} has no WCS (meta.wcs); run romancal's assign_wcs before spike"
        raise ValueError(msg)
    detector = str(model.meta.instrument.detector)
    if not _SCA.match(detector):
        msg = f"{name}: detector {detector!r} is not a Roman WFI SCA (WFI01 ... WFI18)"
        raise ValueError(msg)


def _cutout_origin(model):
    """0-based origin of the array on the full SCA (simulated cut-outs record it)."""
    origin = getattr(model.meta, "spike_cutout", None)
    if origin is None:
        return (0, 0)
    values = origin.get("origin", origin) if hasattr(origin, "get") else origin
    return tuple(int(v) for v in values)


def _pixels(model):
    from roman_datamodels.dqflags import pixel

    from spike.missions._pixels import model_pixels

    return model_pixels(model, good_bits=ROMAN_GOOD_BITS,
                        flag_name_map={f.name: int(f.value) for f in pixel})


class RomanAdapter(MissionAdapter):
    """Open Roman WFI level-2 exposures and resample PSF stamps with romancal.

    Parameters
    ----------
    input_data : str, Path, dict, list, `roman_datamodels.datamodels.ImageModel` or \
            `romancal.datamodels.ModelLibrary`
        An association (file or dict), one exposure, a list of exposures, or a library.
        Nothing is modified.
    product_name : str, optional
        Overrides the association's product name.
    """

    mission = "roman"

    def __init__(self, input_data, *, product_name=None):
        from romancal.datamodels import ModelLibrary

        items, asn = expand_input(input_data, library_type=ModelLibrary)
        self._open_models(items, open_one=_open_image, check_one=_check_model)
        self.product_name = product_name or product_name_from(asn, self.models)

    @property
    def n_exposures(self):
        """Number of exposures (SCA images)."""
        return len(self.models)

    def detector_info(self, index):
        """Return the `~spike.psf.base.DetectorInfo` of exposure ``index``."""
        model = self.models[index]
        area = model.meta.photometry.pixel_area
        wcs, fit = self.exposure_wcs(index)
        return DetectorInfo(
            mission="roman",
            instrument="WFI",
            detector=str(model.meta.instrument.detector),
            filter=str(model.meta.instrument.optical_element),
            pupil=None,
            wcs=wcs,
            shape=tuple(model.data.shape),
            filename=str(model.meta.filename),
            extra={
                "wcs_inverse": None if fit is None else fit.as_meta(),
                "exposure_type": str(getattr(model.meta.exposure, "type", "WFI_IMAGE")),
                "pixelarea_steradians": None if area in (None, -999999) else float(area),
                "cutout_origin": _cutout_origin(model),
            },
            pixels=partial(_pixels, model),
        )

    def output_grid(self, *, reference_mosaic=None, output_wcs=None, output_shape=None,
                    pixel_scale_ratio=1.0, pixel_scale=None, rotation=None, crpix=None,
                    crval=None, explicit=(), **pars):
        """Return the science mosaic's grid, as romancal's `ResampleStep` builds it.

        Parameters are those of `spike.missions.jwst.JWSTAdapter.output_grid`;
        ``reference_mosaic`` is a romancal level-3 mosaic (including sky-cell mosaics) of
        the exposures' filter, whose recorded ``pixfrac``, ``weight_type``, ``good_bits``,
        ``pixmap_stepsize`` and ``pixmap_order`` are reused. Missing ``good_bits``,
        ``pixmap_stepsize`` and ``pixmap_order`` take romancal's defaults.
        """
        from roman_datamodels.dqflags import pixel

        from spike.missions import _roman_grid
        from spike.missions._grid import RESAMPLE_DEFAULTS, check_good_bits, fill_defaults

        defaults = {**RESAMPLE_DEFAULTS, "good_bits": ROMAN_GOOD_BITS,
                    "pixmap_stepsize": ROMAN_PIXMAP_STEPSIZE,
                    "pixmap_order": ROMAN_PIXMAP_ORDER}
        flags = {f.name: int(f.value) for f in pixel}
        if pars.get("good_bits") is not None:
            check_good_bits(pars["good_bits"], flags, "roman")
        if reference_mosaic is not None:
            grid = _roman_grid.grid_from_mosaic(reference_mosaic, pars, explicit=explicit,
                                                exposure=self.detector_info(0))
            grid.pars = fill_defaults(grid.pars, defaults)
            check_good_bits(grid.pars["good_bits"], flags, "roman")
            return grid
        pars = fill_defaults(pars, defaults)
        if output_wcs:
            return _roman_grid.grid_from_wcs_file(output_wcs, output_shape, self.models[0],
                                                  pars, first_wcs=self._wcs[0])
        return _roman_grid.grid_from_models(
            self.models, pars, pixel_scale_ratio=pixel_scale_ratio, pixel_scale=pixel_scale,
            rotation=rotation, crpix=crpix, crval=crval, output_shape=output_shape,
            wcs=self._wcs)

    def stamp_model(self, index, box, psf):
        """Return the PSF stamp of exposure ``index`` as a Roman `ImageModel`.

        The stamp shares the science metadata (except a shifted WCS and a background marked
        subtracted) and carries the science DQ, ERR and variance arrays of the same pixels;
        its data are the PSF, NaN where the science data are NaN.

        Parameters
        ----------
        index : int
            Exposure index.
        box : spike.stamps.geometry.Box
            The cutout in the exposure's data array.
        psf : numpy.ndarray
            PSF values on the cutout's pixels.
        """
        import roman_datamodels.datamodels as rdm

        sci = self.models[index]
        node = sci._instance
        meta = type(node.meta)(dict(node.meta))
        background = dict(node.meta.background) if "background" in node.meta else {}
        background.update(level=0.0, subtracted=True)
        meta["background"] = type(node.meta.background)(background) if (
            "background" in node.meta) else background
        meta["wcs"] = shift_wcs(self._wcs[index], box, transient=True)
        science = np.asarray(sci.data[box.slices])
        arrays = {"data": np.where(np.isnan(science), np.float32(np.nan),
                                   psf.astype(np.float32))}
        for name in _STAMP_ARRAYS:
            if name in node:
                arrays[name] = np.array(node[name][box.slices])
        return rdm.ImageModel(type(node)({"meta": meta, **arrays}))

    def resample_stamps(self, stamps, grid, box):
        """Resample ``stamps`` onto ``box`` of ``grid`` with romancal's `ResampleData`.

        See `MissionAdapter.resample_stamps`.
        """
        from spike.missions._roman_grid import resample_roman_stamps

        out_wcs = shift_wcs(grid.wcs, box, transient=True)
        models = [self.stamp_model(s.exposure, s.box, s.data) for s in stamps]
        var_sky = None
        if grid.pars.get("weight_type") == "ivm-sky":
            var_sky = [self._science_var_sky(s.exposure)[s.box.slices] for s in stamps]
        return resample_roman_stamps(models, grid, out_wcs, var_sky=var_sky)

    def _science_var_sky(self, index):
        """romancal's ``ivm-sky`` variance of science exposure ``index`` (computed once).

        romancal derives it from the model's own data (read noise plus the Poisson variance
        rescaled to the median sky); a PSF stamp must weigh with the science value.
        """
        from romancal.resample._utils import compute_var_sky

        cache = self.__dict__.setdefault("_var_sky", {})
        if index not in cache:
            cache[index] = np.asarray(compute_var_sky(self.models[index]))
        return cache[index]
