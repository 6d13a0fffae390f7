"""WFC3 through the steps, with count-rate data (as WFC3/IR ``_flt`` files are).

No WFC3 exposure ships with any installed package, so the four dithered ACS/HRC copies are
relabelled as WFC3/IR F160W and turned into rates (``SCI`` and ``ERR`` divided by
``EXPTIME``, ``BUNIT = 'ELECTRONS/S'``). This exercises what differs for WFC3: instrument
and filter keywords, and data that AstroDrizzle reads as a rate (no division by the
exposure time). The pixel scale stays the HRC's; the optical model follows the WCS.
"""

import numpy as np
import pytest
from astropy.io import fits

from spike.datasets.hst import run_astrodrizzle, write_hst_association
from spike.missions.hst import HSTAdapter
from spike.steps import DrizzlePSFStep
from tests.helpers import file_digests


@pytest.fixture(scope="module")
def wfc3_ir(hrc, tmp_path_factory):
    out = tmp_path_factory.mktemp("wfc3_ir")
    roots = []
    for i, path in enumerate(hrc.files):
        root = f"ib0x0{i}abq"
        with fits.open(path) as hdul:
            hdul = fits.HDUList([hdu.copy() for hdu in hdul])
        primary = hdul[0].header
        primary.update(INSTRUME="WFC3", DETECTOR="IR", FILTER="F160W", ROOTNAME=root,
                       FILENAME=f"{root}_flt.fits")
        del primary["FILTER1"], primary["FILTER2"]
        for name in ("SCI", "ERR"):
            hdul[name, 1].data = (hdul[name, 1].data / primary["EXPTIME"]).astype(np.float32)
            hdul[name, 1].header["BUNIT"] = "ELECTRONS/S"
        hdul.writeto(out / f"{root}_flt.fits")
        roots.append(root)
    asn = write_hst_association(roots, out, asn_id="ib0x01010", instrument="WFC3",
                                detector="IR")
    drz = run_astrodrizzle(asn, "ir_sci", workdir=out / "sci", final_pixfrac=0.8)
    return asn, drz, out


@pytest.mark.slow
def test_wfc3_ir_rates_drizzle_as_astrodrizzle(wfc3_ir, hrc):
    asn, drz, directory = wfc3_ir
    before = file_digests(directory)
    with HSTAdapter(str(asn)) as adapter:
        info = adapter.detector_info(0)
        assert (info.instrument, info.detector, info.filter) == ("WFC3", "IR", "F160W")
        assert adapter.chips[0].units == "cps"
    kwargs = {"ra": list(hrc.ra[:2]), "dec": list(hrc.dec[:2]), "reference_mosaic": str(drz),
              "stamp_size": 15}
    fast = DrizzlePSFStep.call(str(asn), **kwargs)
    slow = DrizzlePSFStep.call(str(asn), engine="astrodrizzle", **kwargs)
    good = (fast.wht > 0) & (slow.wht > 0)
    assert good.mean() > 0.9
    assert np.abs(fast.data - slow.data)[good].max() <= 1e-4 * np.nanmax(slow.data)
    assert np.abs(fast.wht - slow.wht).max() <= 1e-4 * slow.wht.max()
    assert fast.meta.instrument.name == "WFC3" and fast.meta.instrument.filter == "F160W"
    assert file_digests(directory) == before


def test_rates_and_counts_give_the_same_psf(wfc3_ir, hrc):
    """Units: the same PSF drizzled from electrons (ACS/HRC) and from rates (the WFC3 copy
    of the same exposures) is the same drz image of a unit-flux source."""
    from photutils.psf import ImagePSF

    from tests.psf._helpers import gaussian_psf

    asn, drz, _ = wfc3_ir
    array = gaussian_psf((61, 61), sigma=5.0)
    psf = ImagePSF(array / array.sum() * 16, oversampling=4)
    kwargs = {"ra": list(hrc.ra[:2]), "dec": list(hrc.dec[:2]), "stamp_size": 15,
              "method": "user"}
    rates = DrizzlePSFStep.call(str(asn), None, psf, reference_mosaic=str(drz), **kwargs)
    counts = DrizzlePSFStep.call(str(hrc.asn), None, psf, reference_mosaic=str(hrc.drz),
                                 **kwargs)
    np.testing.assert_allclose(rates.data, counts.data, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rates.sources["psf_sum"], counts.sources["psf_sum"], rtol=1e-5)


@pytest.mark.slow
def test_strun_wfc3(wfc3_ir, hrc, tmp_path):
    """``strun drizzle_psf <WFC3 _asn.fits> --reference_mosaic=<_drz>`` offline."""
    from spike.datamodels import DrizzledPSFModel
    from tests.steps.test_drizzle_psf_step import run_strun

    asn, drz, _ = wfc3_ir
    run_strun(["drizzle_psf", str(asn), f"--ra={float(hrc.ra[0])!r}",
               f"--dec={float(hrc.dec[0])!r}", f"--reference_mosaic={drz}", "--stamp_size=15",
               f"--output_dir={tmp_path}"], cwd=tmp_path, tmp_path=tmp_path)
    with DrizzledPSFModel(tmp_path / "ib0x01010_psf.asdf") as model:
        assert model.meta.instrument.name == "WFC3" and model.meta.instrument.detector == "IR"
