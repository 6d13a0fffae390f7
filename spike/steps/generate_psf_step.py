"""`GeneratePSFStep`: model the PSF of every exposure at every source it covers."""

import logging

from spike._memory import plan_batches
from spike.generate import generate_psfs, locate_sources
from spike.missions import open_exposures
from spike.sources import resolve_sources
from spike.psf.choice import build_method
from spike.steps._checks import check_generate_pars, check_output_dir
from spike.steps._common import GENERATE_SPEC
from spike.stpipe.core import SpikeStep

__all__ = ["GeneratePSFStep"]

log = logging.getLogger(__name__)


class GeneratePSFStep(SpikeStep):
    """Model the PSF of each exposure at the detector position of each source.

    Input: an association, a list of calibrated exposures, or a model library. Sources come
    from ``ra``/``dec``, ``catalog``, or (from Python) a `~astropy.coordinates.SkyCoord` or
    `~astropy.table.Table` passed as the second argument. With ``method='user'`` a PSF
    callable or photutils PSF model may be passed as the third argument.

    Output: one `~spike.datamodels.ExposurePSFModel` per exposure that covers a source,
    saved as ``<exposure>_psfexp.asdf``.
    """

    class_alias = "generate_psf"

    spec = GENERATE_SPEC

    def default_suffix(self):
        """Return ``"psfexp"``."""
        return "psfexp"

    def process(self, input_data, sources=None, user_psf=None):
        """Return the list of `~spike.datamodels.ExposurePSFModel`."""
        check_generate_pars(self)
        check_output_dir(self)
        table = resolve_sources(ra=self.ra, dec=self.dec, catalog=self.catalog, sources=sources)
        with open_exposures(input_data, product_name=self.product_name) as adapter:
            method = build_method(self.method, mission=adapter.mission,
                                  oversampling=self.oversampling, psf_path=self.psf_path,
                                  user_psf=user_psf, options=self.method_options,
                                  instrument=adapter.detector_info(0).instrument)
            coverage = locate_sources(adapter, table)
            plan_batches(coverage.covered, stamp_size=self.stamp_size,
                         oversampling=self.oversampling, output_size=0, input_size=0,
                         keep_all=True)  # refuses a run that cannot fit in memory
            products = [m for _, m in generate_psfs(adapter, table, method,
                                                     stamp_size=self.stamp_size,
                                                     coverage=coverage)]
        for model in products:
            model.meta.cal_step.generate_psf = "COMPLETE"
            model.meta.product_name = adapter.product_name
        if self.output_file is None:
            self.output_use_model = True
        return products
