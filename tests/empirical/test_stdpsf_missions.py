"""``--method=stdpsf`` through ``strun`` (JWST) with a library file written in STDPSF format."""

import numpy as np
import pytest

from spike.datamodels import DrizzledPSFModel
from tests.psf.test_stdpsf import write_stdpsf
from tests.steps.test_drizzle_psf_step import run_strun

GRID = [0.0, 1023.0, 2047.0]


@pytest.mark.slow
def test_stdpsf_jwst_strun(jwst_asn, tmp_path):
    library = write_stdpsf(tmp_path / "STDPSF_NRCA1_F200W.fits", GRID, GRID,
                           lambda ix, iy, x, y: 3.0 + x / 2047, npix=61)
    run_strun(["drizzle_psf", str(jwst_asn), "--ra=53.16", "--dec=-27.79", "--method=stdpsf",
               f"--psf_path={library}", "--stamp_size=15", f"--output_dir={tmp_path}"],
              cwd=tmp_path, tmp_path=tmp_path)
    products = list(tmp_path.glob("*_psf.asdf"))
    assert len(products) == 1
    with DrizzledPSFModel(products[0]) as model:
        assert model.meta.psf.method == "stdpsf"
        assert model.meta.psf.parameters.instance["psf_path"] == str(library)
        assert np.nanmax(model.data) > 0 and 0.9 < float(model.sources["psf_sum"][0]) < 1.1
