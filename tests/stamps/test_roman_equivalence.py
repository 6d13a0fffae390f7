"""Roman: stamp drizzling equals romancal's full-frame resample of the same PSF exposures.

The reference is the real `romancal.resample.ResampleStep` (grid computed by the step itself,
``resample_on_skycell=False``) run on full-frame PSF exposures that carry the science DQ,
ERR, variances and WCS. With ``pixmap_stepsize=1`` the stamps are bit-identical; at
romancal's default step size of 10 (an interpolated pixel map, computed over a different
extent for a stamp) they agree to far better than 1e-6 of the peak.
"""

import numpy as np
import pytest
from romancal.datamodels import ModelLibrary
from romancal.resample import ResampleStep

from spike.coadd import drizzle_psfs
from spike.generate import generate_psfs
from spike.missions.roman import RomanAdapter
from spike.sources import resolve_sources
from spike.stamps.render import render_stamp
from tests.helpers import GaussianPSFMethod

OUTPUT_SIZE = 25


class RomanGaussian(GaussianPSFMethod):
    """The analytic test PSF, for Roman (the PSF shape does not matter here)."""

    missions = ("roman",)


@pytest.fixture(scope="module")
def roman_case():
    from spike.datasets import simulate_roman_cal_exposures

    method = RomanGaussian(sigma=0.8)
    sim = simulate_roman_cal_exposures(psf_method=method, seed=2)
    adapter = RomanAdapter(sim.models)
    sources = resolve_sources(ra=list(sim.stars["ra"][:3]), dec=list(sim.stars["dec"][:3]))
    exposure_psfs = generate_psfs(adapter, sources, method, stamp_size=21)
    full = []
    for e, epsf in exposure_psfs:
        model = sim.models[e].copy()
        psf = np.zeros(model.data.shape)
        for k, row in enumerate(epsf.sources):
            psf += render_stamp(epsf.data[k], epsf.meta.oversampling, row["x"], row["y"],
                                model.data.shape)
        model.data = np.where(np.isnan(model.data), np.nan, psf).astype(np.float32)
        model.meta.background.level = 0.0
        model.meta.background.subtracted = True
        full.append(model)
    return sim, adapter, exposure_psfs, full


@pytest.mark.parametrize(("pixfrac", "kernel", "stepsize", "tol"), [
    (1.0, "square", 1, 0.0),
    (0.5, "gaussian", 1, 0.0),
    (1.0, "square", 10, 1e-6),
    (0.5, "gaussian", 10, 1e-6),
])
def test_stamps_equal_romancal_full_frame(roman_case, pixfrac, kernel, stepsize, tol):
    sim, adapter, exposure_psfs, full_models = roman_case
    # some flagged (DO_NOT_USE) pixels sit under the stars
    assert len(sim.flagged) > 0
    full = ResampleStep(resample_on_skycell=False, pixfrac=pixfrac, kernel=kernel,
                        pixmap_stepsize=stepsize).run(ModelLibrary(full_models, on_disk=False))
    grid = adapter.output_grid(pixfrac=pixfrac, kernel=kernel, fillval="NAN",
                               weight_type="ivm", pixmap_stepsize=stepsize)
    assert grid.shape == full.data.shape
    assert grid.pars["good_bits"] == "~DO_NOT_USE"
    result = drizzle_psfs(adapter, exposure_psfs, grid, output_size=OUTPUT_SIZE)
    for s, src in enumerate(result.sources):
        box = (slice(src["ystart"], src["ystart"] + OUTPUT_SIZE),
               slice(src["xstart"], src["xstart"] + OUTPUT_SIZE))
        ref, ref_wht = full.data[box], full.weight[box]
        np.testing.assert_array_equal(np.isnan(result.data[s]), np.isnan(ref))
        assert np.nanmax(np.abs(result.data[s] - ref)) <= tol * np.nanmax(ref)
        assert np.max(np.abs(result.wht[s] - ref_wht)) <= tol * ref_wht.max()
        assert src["n_exposures"] == len(sim.models)
