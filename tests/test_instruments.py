"""Every JWST imager: NIRCam long wavelength, NIRISS and MIRI (NIRCam short wavelength is
covered by the session fixtures). Stars injected with the ``optical`` model into a few
dithered exposures; spike's drizzled PSF must match the stars of jwst's science mosaic.

Like ``tests/test_end_to_end.py`` these test the drizzle (distortion, rotation, pixel
scales of each imager): the stars are drawn with the drizzled model itself on purpose."""

import numpy as np
import pytest
from jwst.datamodels import ModelLibrary
from jwst.resample import ResampleStep

from spike.datasets import simulate_jwst_cal_exposures
from spike.steps import DrizzlePSFStep
from spike.validation import compare_with_stars

CASES = [
    ("NRCA5_FULL", "F444W", "CLEAR", "NRCALONG"),
    ("NIS_CEN", "CLEAR", "F150W", "NIS"),
    ("MIRIM_FULL", "F770W", None, "MIRIMAGE"),
]


@pytest.mark.parametrize(("aperture", "filt", "pupil", "detector"), CASES)
def test_drizzled_psf_matches_stars(aperture, filt, pupil, detector):
    sim = simulate_jwst_cal_exposures(
        aperture=aperture, filter=filt, pupil=pupil, shape=(160, 160),
        dithers=[(0.0, 0.0), (0.37, 0.21), (0.13, 0.52)], rotations=(0.0, 25.0), seed=3,
    )
    models = sim.models
    assert models[0].meta.instrument.detector == detector
    before = [m.data.copy() for m in models]
    mosaic = ResampleStep(pixfrac=1.0).run(ModelLibrary([m.copy() for m in models],
                                                        on_disk=False))
    stars = sim.stars[:3]
    result = DrizzlePSFStep(method="optical", ra=list(stars["ra"]), dec=list(stars["dec"]),
                            stamp_size=31).run(models)
    assert result.meta.instrument.name == models[0].meta.instrument.name
    assert list(result.sources["n_exposures"]) == [len(models)] * 3
    report = compare_with_stars(result, mosaic, box=9)
    offsets = np.array([r["offset"] for r in report])
    ratios = np.array([r["fwhm_ratio"] for r in report])
    assert np.all(offsets < 0.05), offsets
    assert np.all(np.abs(ratios - 1) < 0.05), ratios
    for m, b in zip(models, before, strict=True):
        np.testing.assert_array_equal(m.data, b)
