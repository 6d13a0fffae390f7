"""Stamp drizzling equals jwst's full-frame resample of the same PSF exposures.

The reference is the real `jwst.resample.ResampleStep` run on full-frame PSF exposures (the
PSF of every source rendered into an otherwise empty frame that carries the science
exposure's DQ, variances and WCS), with the output grid the step computes itself. spike's
stamp engine must reproduce it, cut to the same region, to 1e-6 of the peak for the data and
of the maximum for the weights, with flagged pixels under the PSFs.
"""

import numpy as np
import pytest
from jwst.datamodels import ModelLibrary
from jwst.lib.pipe_utils import match_nans_and_flags
from jwst.resample import ResampleStep

from spike.coadd import drizzle_psfs
from spike.generate import generate_psfs
from spike.missions.jwst import JWSTAdapter
from spike.psf.optical import OpticalPSFMethod
from spike.sources import resolve_sources
from spike.stamps.render import render_stamp

OUTPUT_SIZE = 31


def full_frame_psf_exposures(sim, exposure_psfs):
    """Full-frame PSF exposures: science DQ/variance (after match_nans_and_flags), PSF data."""
    models = []
    for e, epsf in exposure_psfs:
        model = sim.models[e].copy()
        match_nans_and_flags(model)
        psf = np.zeros(model.data.shape)
        for k, row in enumerate(epsf.sources):
            psf += render_stamp(epsf.data[k], epsf.meta.oversampling, row["x"], row["y"],
                                model.data.shape)
        model.data = np.where(np.isnan(model.data), np.nan, psf).astype(np.float32)
        model.meta.background.level = 0.0
        model.meta.background.subtracted = True
        models.append(model)
    return models


@pytest.fixture(scope="module")
def psf_exposures(jwst_sim):
    # stars 0..3 each have a flagged (DO_NOT_USE) pixel within 3 px on some exposure
    stars = jwst_sim.stars[:4]
    adapter = JWSTAdapter(jwst_sim.models)
    sources = resolve_sources(ra=list(stars["ra"]), dec=list(stars["dec"]))
    exposure_psfs = generate_psfs(adapter, sources, OpticalPSFMethod(), stamp_size=25)
    return adapter, exposure_psfs


@pytest.mark.parametrize("kernel", ["square", "gaussian"])
@pytest.mark.parametrize("pixfrac", [1.0, 0.5])
def test_stamps_equal_full_frame_resample(jwst_sim, psf_exposures, pixfrac, kernel):
    adapter, exposure_psfs = psf_exposures
    # the flagged pixels near stars really lie under the PSF stamps
    assert len(jwst_sim.flagged) >= 4
    for row in jwst_sim.flagged:
        assert row["dq"] & 1
        assert row["distance"] <= 3

    full_models = full_frame_psf_exposures(jwst_sim, exposure_psfs)
    full = ResampleStep(pixfrac=pixfrac, kernel=kernel).run(
        ModelLibrary(full_models, on_disk=False))

    pars = {"pixfrac": pixfrac, "kernel": kernel, "fillval": "NAN", "weight_type": "ivm",
            "pixmap_stepsize": 1.0, "pixmap_order": 1}
    grid = adapter.output_grid(**pars)
    assert grid.shape == full.data.shape
    np.testing.assert_allclose(grid.wcs(10.0, 20.0), full.meta.wcs(10.0, 20.0), rtol=0,
                               atol=1e-12)

    result = drizzle_psfs(adapter, exposure_psfs, grid, output_size=OUTPUT_SIZE)
    assert len(result.sources) == 4
    for s, src in enumerate(result.sources):
        box = (slice(src["ystart"], src["ystart"] + OUTPUT_SIZE),
               slice(src["xstart"], src["xstart"] + OUTPUT_SIZE))
        ref_data, ref_wht = full.data[box], full.wht[box]
        peak = np.nanmax(ref_data)
        assert peak > 0
        np.testing.assert_array_equal(np.isnan(result.data[s]), np.isnan(ref_data))
        diff = np.nanmax(np.abs(result.data[s] - ref_data))
        assert diff <= 1e-6 * peak
        assert np.max(np.abs(result.wht[s] - ref_wht)) <= 1e-6 * ref_wht.max()
        # every exposure covers these stars; masks under the PSF give holes in the weight
        assert src["n_exposures"] == len(jwst_sim.models)


def test_flagged_pixel_lowers_weight_under_psf(jwst_sim, psf_exposures):
    """The science masks reach the drizzled PSF: a DO_NOT_USE pixel under a star lowers
    the PSF weight there compared with the same drizzle without DQ."""
    adapter, exposure_psfs = psf_exposures
    pars = {"pixfrac": 0.5, "kernel": "square", "fillval": "NAN", "weight_type": "ivm",
            "pixmap_stepsize": 1.0, "pixmap_order": 1}
    grid = adapter.output_grid(**pars)
    with_dq = drizzle_psfs(adapter, exposure_psfs, grid, output_size=OUTPUT_SIZE)

    clean = [m.copy() for m in jwst_sim.models]
    for m in clean:
        m.dq[:] = 0
        m.data = np.nan_to_num(m.data)
    no_dq = drizzle_psfs(JWSTAdapter(clean), exposure_psfs, grid, output_size=OUTPUT_SIZE)
    lowered = [(no_dq.wht[s] - with_dq.wht[s]).max() / no_dq.wht[s].max()
               for s in range(len(with_dq.sources))]
    # one flagged pixel out of 8 exposures removes a sizeable share of the weight locally
    assert max(lowered) > 0.05

