"""Empirical PSFs (epsf, psfex) from the real ACS/HRC exposures, drizzled like the science.

Each exposure's PSF is built from its own stars (once per exposure), drizzled with the
science run's grid and masks, and compared with the stars of the science drz: centroid
within 0.05 px and FWHM within 5 % (issue: empirical methods). Measured: epsf 0.016-0.042
px, FWHM ratio 0.96-1.01; psfex within the same limits.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits

from spike.steps import DrizzlePSFStep
from spike.validation import compare_with_stars
from tests.helpers import needs_psfex



@pytest.mark.parametrize("method", ["epsf", pytest.param("psfex", marks=needs_psfex)])
@pytest.mark.slow
def test_empirical_psf_matches_the_drz_stars(hrc, method):
    result = DrizzlePSFStep.call(str(hrc.asn), ra=list(hrc.ra), dec=list(hrc.dec),
                                 reference_mosaic=str(hrc.drz), method=method, stamp_size=25)
    science = SimpleNamespace(data=fits.getdata(hrc.drz, "SCI"))
    rows = compare_with_stars(result, science, box=9)
    offsets = np.array([r["offset"] for r in rows])
    ratios = np.array([r["fwhm_ratio"] for r in rows])
    assert offsets.max() <= 0.05, offsets
    assert np.abs(ratios - 1).max() <= 0.05, ratios
    assert result.meta.psf.method == method


def test_stdpsf_through_the_step_equals_the_same_user_psf(hrc, tmp_path):
    """A STDPSF library (written here, one Gaussian everywhere) gives exactly the drizzled
    PSF of the same array given as a user PSF: the library reaches the right chip."""
    from photutils.psf import ImagePSF

    from tests.psf._helpers import gaussian_psf
    from tests.psf.test_stdpsf import write_stdpsf

    grid = [0.0, 511.0, 1023.0]
    write_stdpsf(tmp_path / "STDPSF_ACSHRC_F606W.fits", grid, grid, lambda *a: 4.0, npix=81)
    kwargs = {"ra": list(hrc.ra[:2]), "dec": list(hrc.dec[:2]), "reference_mosaic": str(hrc.drz),
              "stamp_size": 19}
    library = DrizzlePSFStep.call(str(hrc.asn), method="stdpsf", psf_path=str(tmp_path),
                                  **kwargs)
    array = gaussian_psf((81, 81), sigma=4.0)
    user = DrizzlePSFStep.call(str(hrc.asn), None, ImagePSF(array / array.sum() * 16,
                                                             oversampling=4),
                               method="user", **kwargs)
    assert library.meta.psf.method == "stdpsf"
    np.testing.assert_allclose(library.data, user.data, rtol=0, atol=1e-6 * user.data.max())


@pytest.mark.slow
def test_epsf_strun_with_method_options(hrc, tmp_path):
    """``strun ... --method=epsf --method_options="min_stars=20,grid_size=1"``: configobj
    splits the value on its comma; the options still reach the method."""
    from spike.datamodels import DrizzledPSFModel
    from tests.steps.test_drizzle_psf_step import run_strun

    run_strun(["drizzle_psf", str(hrc.asn), f"--ra={float(hrc.ra[0])!r}",
               f"--dec={float(hrc.dec[0])!r}", f"--reference_mosaic={hrc.drz}",
               "--method=epsf", "--method_options=min_stars=20,grid_size=1", "--stamp_size=15",
               f"--output_dir={tmp_path}"], cwd=tmp_path, tmp_path=tmp_path)
    with DrizzledPSFModel(tmp_path / "j8bt06d10_psf.asdf") as model:
        parameters = model.meta.psf.parameters.instance
        assert parameters["min_stars"] == 20 and parameters["grid_size"] == 1
        assert np.nanmax(model.data) > 0


@needs_psfex
@pytest.mark.slow
def test_psfex_strun(hrc, tmp_path):
    """``strun drizzle_psf ... --method=psfex`` offline."""
    from spike.datamodels import DrizzledPSFModel
    from tests.steps.test_drizzle_psf_step import run_strun

    run_strun(["drizzle_psf", str(hrc.asn), f"--ra={float(hrc.ra[1])!r}",
               f"--dec={float(hrc.dec[1])!r}", f"--reference_mosaic={hrc.drz}",
               "--method=psfex", "--stamp_size=15", f"--output_dir={tmp_path}"],
              cwd=tmp_path, tmp_path=tmp_path)
    with DrizzledPSFModel(tmp_path / "j8bt06d10_psf.asdf") as model:
        assert model.meta.psf.method == "psfex"
        assert 0.5 < float(model.sources["psf_sum"][0]) < 1.1
