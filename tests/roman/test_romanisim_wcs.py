"""Roman exposures whose WCS has no inverse transform, as romanisim writes them without CRDS.

romanisim (``romanisim.models.wcs.get_wcs(..., usecrds=False)`` then
``convert_wcs_to_gwcs``) describes an SCA with a 4th-order polynomial, ``Pix2Sky_Gnomonic``
and a rotation, and gives the gwcs no inverse. gwcs' numerical inverse then fails
(``'Pix2Sky_Gnomonic' object has no attribute '__name__'``), and so did spike (in romancal's
``make_output_wcs``). spike now fits an inverse of measured accuracy to its own copy of the
WCS; the input models keep theirs.

The WCS is built by romanisim's own functions, offline, from each exposure's pointing; it is
attached to copies of the small simulated L2 models (the SCA's first 256 x 256 pixels).
"""

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spike.datamodels import open as spike_open
from spike.stamps.wcs_inverse import has_inverse, with_fitted_inverse
from spike.steps import DrizzlePSFStep

SHAPE = (256, 256)


def romanisim_gwcs(detector, target_ra, target_dec, pa_aperture, start_time):
    """The gwcs romanisim writes for ``detector`` at a WFI_CEN pointing, without CRDS."""
    import astropy.coordinates
    from romanisim.models import parameters
    from romanisim.models import wcs as rwcs

    meta = copy.deepcopy(parameters.default_parameters_dictionary)
    meta["instrument"]["detector"] = detector
    meta["exposure"]["start_time"] = start_time
    rwcs.fill_in_parameters(meta, astropy.coordinates.SkyCoord(target_ra, target_dec,
                                                              unit="deg"),
                            pa_aper=pa_aperture, boresight=False)
    gwcs = rwcs.convert_wcs_to_gwcs(rwcs.get_wcs(meta, usecrds=False))
    # as romanisim's get_wcs does for an image of this shape
    gwcs.bounding_box = ((-0.5, SHAPE[1] - 0.5), (-0.5, SHAPE[0] - 0.5))
    return gwcs, meta["wcsinfo"]


@pytest.fixture(scope="module")
def romanisim_models(roman_sim):
    """The four WFI01 exposures with romanisim's non-CRDS WCS at their own pointings."""
    out = []
    for model in roman_sim.models:
        if str(model.meta.instrument.detector) != "WFI01":
            continue
        pointing = model.meta.pointing
        gwcs, wcsinfo = romanisim_gwcs("WFI01", pointing.target_ra, pointing.target_dec,
                                       pointing.pa_aperture,
                                       str(model.meta.exposure.start_time))
        copy_ = model.copy()
        del copy_.meta["spike_cutout"]  # the data are the SCA's first pixels
        copy_.meta.wcs = gwcs
        for key in ("ra_ref", "dec_ref", "roll_ref", "v2_ref", "v3_ref"):
            setattr(copy_.meta.wcsinfo, key, float(wcsinfo[key]))
        out.append(copy_)
    assert len(out) == 4
    return out


@pytest.fixture(scope="module")
def source(romanisim_models):
    ra, dec = romanisim_models[0].meta.wcs(120.3, 131.6)
    return {"ra": [float(ra)], "dec": [float(dec)]}


def test_romanisim_wcs_has_no_inverse(romanisim_models):
    wcs = romanisim_models[0].meta.wcs
    assert not has_inverse(wcs)
    with pytest.raises(Exception, match="__name__"):  # gwcs' numerical inverse fails
        wcs.invert(*wcs(100.0, 100.0))


def test_fitted_inverse_round_trip(romanisim_models):
    original = romanisim_models[0].meta.wcs
    fitted, fit = with_fitted_inverse(original, SHAPE, name="exposure 0")
    assert fitted is not original and fit.max_error < 1e-6
    rng = np.random.default_rng(4)
    x, y = rng.uniform(-0.5, 255.5, 500), rng.uniform(-0.5, 255.5, 500)
    back = fitted.invert(*fitted(x, y))
    np.testing.assert_allclose(back, [x, y], atol=1e-6)
    np.testing.assert_array_equal(fitted(x, y), original(x, y))  # same forward transform
    assert not has_inverse(original)  # the input's WCS is untouched


def test_drizzle_psf_on_romanisim_wcs(romanisim_models, source):
    wcs_before = [m.meta.wcs for m in romanisim_models]
    result = DrizzlePSFStep.call(romanisim_models, **source, stamp_size=21)
    assert list(result.sources["n_exposures"]) == [4]
    assert result.sources["psf_sum"][0] == pytest.approx(1.0, abs=0.1)
    # the PSF peaks on the source's mosaic pixel
    row = result.sources[0]
    iy, ix = np.unravel_index(np.nanargmax(result.data[0]), result.data[0].shape)
    assert abs(ix + row["xstart"] - row["x"]) <= 1 and abs(iy + row["ystart"] - row["y"]) <= 1
    used = [e.instance for e in result.meta.psf.exposures if e.instance]
    assert len(used) == 4 and all(e["wcs_inverse"]["max_error_px"] < 1e-6 for e in used)
    for model, wcs in zip(romanisim_models, wcs_before, strict=True):
        assert model.meta.wcs is wcs and not has_inverse(wcs)


@pytest.mark.slow
def test_strun_on_romanisim_files(romanisim_models, source, tmp_path):
    """The case of the report: ``strun drizzle_psf roman_asn.json --ra=.. --dec=..``."""
    from spike.datasets import write_roman_association

    data = tmp_path / "data"
    asn = write_roman_association(romanisim_models, data, product_name="romanisim_f158",
                                  target="None")
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    env = dict(os.environ, CRDS_SERVER_URL="https://crds.invalid",
               CRDS_PATH=str(tmp_path / "crds"))
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("strun")), "drizzle_psf", str(asn),
         f"--ra={source['ra'][0]}", f"--dec={source['dec'][0]}", "--stamp_size=21",
         f"--output_dir={out}"],
        capture_output=True, text=True, timeout=300, check=False, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    product = spike_open(out / "romanisim_f158_psf.asdf")
    assert list(product.sources["n_exposures"]) == [4]
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before
    assert json.loads(asn.read_text())["products"][0]["name"] == "romanisim_f158"
