"""`DrizzlePSFStep` with ``method='stpsf'``: the real STPSF code on a generated data directory.

The science data are four of the session's simulated NIRCam F200W exposures (stars injected
with spike's ``optical`` model); STPSF reads the minimal data directory written by
`tests.psf._stpsf_data.write_stpsf_data` (see there and ``tests/psf/test_stpsf_real.py``).
STPSF's ``stpsf.detectors`` opens the NIRCam IPC kernel files without closing them, hence
the `ResourceWarning` filter.
"""

import numpy as np
import pytest

from spike.datamodels import open as spike_open
from spike.steps import DrizzlePSFStep
from spike.validation import measure
from tests.psf._stpsf_data import offline_stpsf, write_stpsf_data

pytest.importorskip("stpsf")

pytestmark = pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")


def test_drizzle_psf_step_with_stpsf(jwst_sim, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    star = jwst_sim.stars[0]
    out = tmp_path / "out"
    with offline_stpsf(write_stpsf_data(tmp_path / "stpsf-data")):
        DrizzlePSFStep.call(jwst_sim.models[:4], ra=[float(star["ra"])],
                            dec=[float(star["dec"])], method="stpsf",
                            method_options="nlambda=1", stamp_size=15,
                            product_name="stpsf_check", output_dir=str(out),
                            save_results=True)

    assert sorted(p.name for p in out.iterdir()) == ["stpsf_check_psf.asdf"]
    with spike_open(out / "stpsf_check_psf.asdf") as model:
        assert model.meta.psf.method == "stpsf"
        assert model.meta.psf.oversampling == 4
        assert model.meta.psf.parameters.nlambda == 1
        assert model.meta.psf.parameters.add_distortion is True
        assert model.meta.cal_step.drizzle_psf == "COMPLETE"
        assert list(model.sources["n_exposures"]) == [4]
        data = np.array(model.data[0])
        psf_sum = float(np.nansum(data))
        # STPSF's flux within a 15-pixel F200W field, drizzled at the same pixel scale
        assert 0.8 < psf_sum < 1.0
        assert model.sources["psf_sum"][0] == pytest.approx(psf_sum, rel=1e-5)
        row = model.sources[0]
        x, y = row["x"] - row["xstart"], row["y"] - row["ystart"]
        xc, yc, fwhm = measure(data, x, y, box=9)
    # the drizzled STPSF PSF lands on the source, with a NIRCam F200W width (0.066")
    assert np.hypot(xc - x, yc - y) < 0.05
    assert 1.8 < fwhm < 3.0
