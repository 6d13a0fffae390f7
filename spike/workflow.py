"""The drizzled-PSF computation as one plain function (no stpipe), used by the step and by
parallel workers (`spike.parallel`)."""

import logging
from dataclasses import dataclass, field

from spike._memory import plan_batches, stamp_input_size
from spike.coadd import default_output_size, drizzle_psfs, input_scales, merge_products
from spike.generate import Coverage, exposure_diagnostics, generate_psfs, locate_sources
from spike.missions import open_exposures, report_unusable
from spike.psf.choice import build_method
from spike.stamps.geometry import INPUT_MARGIN

__all__ = ["BATCH", "DrizzleRequest", "drizzle_sources"]

log = logging.getLogger(__name__)

#: Sources modelled and drizzled together (the exposure stamps of a batch are in memory).
BATCH = 200


@dataclass
class DrizzleRequest:
    """Everything `drizzle_sources` needs besides the inputs and sources (picklable).

    Attributes
    ----------
    method : str or None
        PSF method name (None: the mission's default).
    method_options : str or dict or None
        Further options of the method (``"min_stars=5,box_size=21"``).
    oversampling : int
    stamp_size : int
    output_size : int or None
    psf_path : str or None
    product_name : str or None
    grid : dict
        Keyword arguments of the adapter's ``output_grid``.
    hst : dict
        HST-only ``output_grid`` arguments (``final_wht_type``, ``engine``, ``mask_dir``);
        refused for the other missions unless at their defaults.
    keep_exposure_psfs : bool
        Keep every source's exposure PSFs (to save or plot them).
    explicit : tuple of str
        Resample parameters the user set (a ``reference_mosaic`` recording another value
        overrides them with a warning).
    """

    method: str | None = None
    method_options: str | dict | None = None
    oversampling: int = 4
    stamp_size: int = 41
    output_size: int | None = None
    psf_path: str | None = None
    product_name: str | None = None
    grid: dict = field(default_factory=dict)
    hst: dict = field(default_factory=dict)
    keep_exposure_psfs: bool = False
    explicit: tuple = ()


def drizzle_sources(input_data, table, request, *, user_psf=None):
    """Open the exposures, model their PSFs at the sources and drizzle them.

    Parameters
    ----------
    input_data : str, Path, dict, list, model or model library
        The science exposures (see `spike.missions.open_exposures`).
    table : `~astropy.table.Table`
        Sources (``id``, ``ra``, ``dec``).
    request : DrizzleRequest
    user_psf : optional
        For ``method='user'`` from Python.

    Returns
    -------
    result : `~spike.datamodels.DrizzledPSFModel`
    exposure_psfs : list of tuple
        ``(exposure_index, ExposurePSFModel)``: every source's with
        ``request.keep_exposure_psfs``; otherwise the sources went through in batches of
        `BATCH` (fewer when memory is short; each exposure's PSF model prepared once for
        all), which bounds the memory held by the oversampled exposure stamps, and only the
        last batch's are returned. No source's result depends on the batches.
    """
    with open_exposures(input_data, product_name=request.product_name) as adapter:
        method = build_method(request.method, mission=adapter.mission,
                              oversampling=request.oversampling, psf_path=request.psf_path,
                              user_psf=user_psf, options=request.method_options,
                              instrument=adapter.detector_info(0).instrument)
        pars = dict(request.grid, explicit=request.explicit)
        if adapter.mission == "hst":
            pars.update(request.hst)
        elif request.hst.get("engine", "drizzle") != "drizzle" or request.hst.get("mask_dir"):
            msg = (f"engine={request.hst.get('engine')!r} and mask_dir are HST (AstroDrizzle) "
                   f"parameters; {adapter.mission.upper()} PSFs are resampled with the "
                   "pipeline's own code")
            raise ValueError(msg)
        grid = adapter.output_grid(**pars)
        log.info("Output grid (%s%s): %d x %d pixels of %.5f arcsec", grid.source,
                 f" {grid.reference}" if grid.reference else "", grid.shape[1], grid.shape[0],
                 grid.pixel_scale)
        report_unusable(adapter)
        coverage = locate_sources(adapter, table)  # all covered, or a NoCoverageError
        size = request.output_size or default_output_size(request.stamp_size, grid, adapter)
        batch = _batch_size(request, adapter, grid, coverage, size)
        prepared, parts = {}, []
        for start in range(0, len(table), batch):
            chunk = table[start : start + batch]
            if len(table) > batch:
                log.info("Sources %d-%d of %d", start + 1, start + len(chunk), len(table))
            part = slice(start, start + batch)
            psfs = generate_psfs(adapter, chunk, method, stamp_size=request.stamp_size,
                                 prepared=prepared, coverage=Coverage(
                                     coverage.x[:, part], coverage.y[:, part],
                                     coverage.covered[:, part]))
            parts.append(drizzle_psfs(adapter, psfs, grid, output_size=size,
                                      source_ids=list(chunk["id"])))
        result, exposure_psfs = merge_products(parts), psfs
        result.meta.psf.exposures = exposure_diagnostics(adapter, prepared)
        result.meta.psf.choice = method.choice.as_meta()
        result.meta.product_name = adapter.product_name
        result.meta.filename = f"{adapter.product_name}.asdf"
        result.meta.cal_step.drizzle_psf = "COMPLETE"
    return result, exposure_psfs


def _batch_size(request, adapter, grid, coverage, size):
    """Sources per batch that fit in memory (see `spike._memory.plan_batches`)."""
    return plan_batches(
        coverage.covered, stamp_size=request.stamp_size, oversampling=request.oversampling,
        output_size=size,
        input_size=stamp_input_size(size, grid.pixel_scale, input_scales(adapter),
                                    INPUT_MARGIN),
        n_planes=max(1, (adapter.n_exposures + 31) // 32), batch=BATCH,
        keep_all=request.keep_exposure_psfs,
        output_size_from=None if request.output_size else (
            f"computed from stamp_size and the {grid.pixel_scale:.4g} arcsec output pixels"))
