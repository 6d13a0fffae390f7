"""`DrizzlePSFStep`: the drizzled PSF of a mosaic at any sky position."""

import logging

from spike.coadd import check_contributions
from spike.sources import resolve_sources
from spike.steps._checks import (
    check_generate_pars,
    check_output_dir,
    check_resample_pars,
    explicit_pars,
)
from spike.steps._common import GENERATE_SPEC, RESAMPLE_SPEC
from spike.stpipe.core import SpikeStep
from spike.workflow import DrizzleRequest, drizzle_sources

__all__ = ["DrizzlePSFStep"]

log = logging.getLogger(__name__)

_DRIZ_PARS = ("pixfrac", "kernel", "fillval", "weight_type", "good_bits", "pixmap_stepsize",
              "pixmap_order")
#: AstroDrizzle-only parameters, passed to the HST adapter.
_HST_PARS = ("final_wht_type", "engine", "mask_dir")


class DrizzlePSFStep(SpikeStep):
    """Model each exposure's PSF at the sources and resample them like the science mosaic.

    The PSF of every exposure is made at the source's detector position (as in
    `GeneratePSFStep`), given the science exposure's WCS, DQ and variance, and resampled with
    the mission's own resample code onto the science mosaic's grid: the grid of
    ``reference_mosaic``, of ``output_wcs``, or the one the resample parameters (same names
    and meanings as jwst's ``ResampleStep``) define.

    Output: one `~spike.datamodels.DrizzledPSFModel` per product, saved as
    ``<product>_psf.asdf``.
    """

    class_alias = "drizzle_psf"

    spec = GENERATE_SPEC + RESAMPLE_SPEC

    def default_suffix(self):
        """Return ``"psf"``."""
        return "psf"

    def process(self, input_data, sources=None, user_psf=None):
        """Return the `~spike.datamodels.DrizzledPSFModel`."""
        check_generate_pars(self)
        check_resample_pars(self)
        check_output_dir(self)
        table = resolve_sources(ra=self.ra, dec=self.dec, catalog=self.catalog, sources=sources)
        request = DrizzleRequest(
            method=self.method, method_options=self.method_options,
            oversampling=self.oversampling, stamp_size=self.stamp_size,
            output_size=self.output_size, psf_path=self.psf_path,
            product_name=self.product_name,
            grid={"reference_mosaic": self.reference_mosaic, "output_wcs": self.output_wcs,
                  "output_shape": self.output_shape,
                  "pixel_scale_ratio": self.pixel_scale_ratio,
                  "pixel_scale": self.pixel_scale, "rotation": self.rotation,
                  "crpix": self.crpix, "crval": self.crval,
                  **{k: getattr(self, k) for k in _DRIZ_PARS}},
            hst={k: getattr(self, k) for k in _HST_PARS},
            keep_exposure_psfs=bool(self.save_exposure_psfs or self.save_plots),
            explicit=explicit_pars(self, _DRIZ_PARS),
        )
        if self.scheduler:
            from spike.parallel import drizzle_in_parallel

            if user_psf is not None:
                msg = "scheduler: a Python PSF object cannot be sent to workers; use psf_path"
                raise ValueError(msg)
            result, exposure_psfs = drizzle_in_parallel(input_data, table, request,
                                                        scheduler=self.scheduler)
        else:
            result, exposure_psfs = drizzle_sources(input_data, table, request,
                                                    user_psf=user_psf)
        check_contributions(result)
        if self.save_exposure_psfs:
            for _, model in exposure_psfs:
                model.meta.cal_step.generate_psf = "COMPLETE"
                model.meta.product_name = result.meta.product_name
                self.save_model(model, suffix="psfexp", output_file=model.meta.filename,
                                force=True)
        if self.save_plots:
            from spike.plotting import save_quicklook

            path = self.make_output_path(basepath=self.output_file or result.meta.filename,
                                         suffix="psf", ext="png")
            save_quicklook(result, exposure_psfs, path)
            log.info("Saved quicklook %s", path)
        if self.output_file is None:
            self.output_use_model = True
        return result
