"""`DrizzlePSFStep`: the drizzled PSF of a mosaic at any sky position."""

import logging

from spike.coadd import default_output_size, drizzle_psfs
from spike.generate import generate_psfs, locate_sources
from spike.missions import open_exposures
from spike.sources import resolve_sources
from spike.steps._common import GENERATE_SPEC, RESAMPLE_SPEC, build_method
from spike.stpipe.core import SpikeStep

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
        self._check_pars()
        table = resolve_sources(ra=self.ra, dec=self.dec, catalog=self.catalog, sources=sources)
        with open_exposures(input_data, product_name=self.product_name) as adapter:
            method = build_method(self.method, mission=adapter.mission,
                                  oversampling=self.oversampling, psf_path=self.psf_path,
                                  user_psf=user_psf)
            result, exposure_psfs = self._drizzle(adapter, table, method)
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

    def _drizzle(self, adapter, table, method):
        """Work out the grid, model the PSFs and drizzle them; return the product and PSFs."""
        pars = {k: getattr(self, k) for k in _DRIZ_PARS}
        if adapter.mission == "hst":
            pars.update({k: getattr(self, k) for k in _HST_PARS})
        elif self.engine != "drizzle" or self.mask_dir:
            msg = (f"engine={self.engine!r} and mask_dir are HST (AstroDrizzle) parameters; "
                   f"{adapter.mission.upper()} PSFs are resampled with the pipeline's own code")
            raise ValueError(msg)
        grid = adapter.output_grid(
            reference_mosaic=self.reference_mosaic, output_wcs=self.output_wcs,
            output_shape=self.output_shape, pixel_scale_ratio=self.pixel_scale_ratio,
            pixel_scale=self.pixel_scale, rotation=self.rotation, crpix=self.crpix,
            crval=self.crval, **pars)
        log.info("Output grid (%s%s): %d x %d pixels of %.5f arcsec", grid.source,
                 f" {grid.reference}" if grid.reference else "", grid.shape[1], grid.shape[0],
                 grid.pixel_scale)
        coverage = locate_sources(adapter, table)
        exposure_psfs = generate_psfs(adapter, table, method, stamp_size=self.stamp_size,
                                      coverage=coverage)
        size = self.output_size or default_output_size(self.stamp_size, grid, adapter)
        result = drizzle_psfs(adapter, exposure_psfs, grid, output_size=size)
        result.meta.product_name = adapter.product_name
        result.meta.filename = f"{adapter.product_name}.asdf"
        result.meta.cal_step.drizzle_psf = "COMPLETE"
        return result, exposure_psfs

    def _check_pars(self):
        for name in ("output_shape", "crpix", "crval"):
            value = getattr(self, name)
            if value is not None and len(value) != 2:
                msg = f"List '{name}' must have exactly two elements."
                raise ValueError(msg)
        if self.pixmap_order not in (None, 1, 3):
            msg = f"pixmap_order must be 1 or 3, got {self.pixmap_order}"
            raise ValueError(msg)
        if self.output_size is not None and self.output_size % 2 == 0:
            msg = f"output_size must be odd, got {self.output_size}"
            raise ValueError(msg)
        if self.stamp_size % 2 == 0:
            msg = f"stamp_size must be odd, got {self.stamp_size}"
            raise ValueError(msg)
        if self.reference_mosaic and self.output_wcs:
            msg = "Give either reference_mosaic or output_wcs, not both"
            raise ValueError(msg)
