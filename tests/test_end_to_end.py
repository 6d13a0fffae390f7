"""End to end: the drizzled PSF lands on the stars of jwst's own science mosaic.

The science exposures (stars injected with the ``optical`` model, noise, masks) are resampled
by the real `jwst.resample.ResampleStep`; spike drizzles the PSF at every star onto that
mosaic's grid (reused through ``reference_mosaic``). Centroids must agree within 0.05 px and
FWHMs within 5 %.

These tests check the **drizzle**, not the model: the stars are drawn with the very model
that is drizzled, on purpose, so any difference is the resampling's. The model's fidelity
is measured against stars drawn with independent truth PSFs
(`spike.datasets.truth_psf`) by ``spike demo`` (``tests/test_cli.py``) and the accuracy
benchmark (``benchmarks/bench_accuracy.py``).
"""

import numpy as np
import pytest
from jwst.resample import ResampleStep

from spike.steps import DrizzlePSFStep
from spike.validation import compare_with_stars


@pytest.fixture(scope="module")
def science_mosaic(jwst_asn):
    mosaic = ResampleStep(pixfrac=0.8).run(str(jwst_asn))
    path = jwst_asn.parent / "sim_f200w_i2d.fits"
    mosaic.save(path)
    return mosaic, path


@pytest.mark.parametrize("use_reference", [True, False])
def test_psf_matches_science_stars(jwst_sim, jwst_asn, science_mosaic, use_reference):
    mosaic, path = science_mosaic
    stars = jwst_sim.stars[:6]
    pars = {"reference_mosaic": str(path)} if use_reference else {"pixfrac": 0.8}
    result = DrizzlePSFStep(method="optical", ra=list(stars["ra"]), dec=list(stars["dec"]),
                            **pars).run(str(jwst_asn))
    assert result.meta.resample.pixfrac == pytest.approx(0.8)
    report = compare_with_stars(result, mosaic)
    assert len(report) == 6
    offsets = np.array([r["offset"] for r in report])
    ratios = np.array([r["fwhm_ratio"] for r in report])
    assert np.all(offsets < 0.05), offsets
    assert np.all(np.abs(ratios - 1) < 0.05), ratios


def test_single_exposure_psf_is_narrower_than_mosaic_stars(jwst_sim, science_mosaic):
    """Why spike exists: one exposure's PSF, detector-sampled, is measurably narrower than
    the stars of the drizzled mosaic (drizzling convolves with the pixel footprint)."""
    from spike.missions.jwst import JWSTAdapter
    from spike.psf.optical import OpticalPSFMethod
    from spike.stamps.render import render_stamp
    from spike.validation import measure

    mosaic, _ = science_mosaic
    adapter = JWSTAdapter(jwst_sim.models)
    det = adapter.detector_info(0)
    star = jwst_sim.stars[0]
    x, y = det.wcs.world_to_pixel_values(star["ra"], star["dec"])
    epsf = OpticalPSFMethod().prepare(det).evaluate(x, y, size=25)
    single = render_stamp(epsf, 4, 12 + x % 1, 12 + y % 1, (25, 25))
    fwhm_single = measure(single, 12 + x % 1, 12 + y % 1)[2]
    mx, my = mosaic.meta.wcs.world_to_pixel_values(star["ra"], star["dec"])
    fwhm_star = compare_fwhm(mosaic, mx, my)
    assert fwhm_star > 1.05 * fwhm_single


def compare_fwhm(mosaic, x, y):
    from spike.validation import local_background, measure

    data = np.asarray(mosaic.data, dtype=float)
    return measure(data - local_background(data, x, y), x, y)[2]
