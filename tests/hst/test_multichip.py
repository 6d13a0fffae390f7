"""Two-chip exposures drizzled by AstroDrizzle: final masks, context and engines per chip.

Three dithered ACS/HRC copies, each cut into two ACS/WFC-like chips with a gap
(`test_hst_inputs._two_chip_copy`), go through a full AstroDrizzle science run; PSFs on
both chips must get each chip's own final mask (the drz ``WHT``), and both engines must
agree, context bits included (AstroDrizzle numbers chips exposure by exposure).
"""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from spike.datasets.hst import run_astrodrizzle, write_hst_association
from spike.steps import DrizzlePSFStep
from tests.hst.test_hst_inputs import _two_chip_copy


@pytest.fixture(scope="module")
def wfc_like(hrc, tmp_path_factory):
    out = tmp_path_factory.mktemp("two_chip_science")
    roots = []
    for i, path in enumerate(hrc.files[:3]):
        root = f"j8bt06w{i}q"
        _two_chip_copy(path, out / f"{root}_flt.fits")
        with fits.open(out / f"{root}_flt.fits", mode="update") as hdul:
            hdul[0].header["ROOTNAME"], hdul[0].header["FILENAME"] = root, f"{root}_flt.fits"
        roots.append(root)
    asn = write_hst_association(roots, out, asn_id="j8bt06w10", detector="WFC")
    drz = run_astrodrizzle(asn, "wfc_sci", workdir=out / "sci", final_pixfrac=0.8)
    with fits.open(out / f"{roots[0]}_flt.fits") as hdul:
        wcs = {n: WCS(hdul["SCI", n].header, hdul) for n in (1, 2)}
    sky = [wcs[1].pixel_to_world_values(300.2, 250.3), wcs[2].pixel_to_world_values(600.6, 200.4)]
    return asn, drz, [float(s[0]) for s in sky], [float(s[1]) for s in sky]


@pytest.mark.slow
def test_each_chip_gets_its_final_mask_and_the_engines_agree(wfc_like):
    asn, drz, ra, dec = wfc_like
    kwargs = {"ra": ra, "dec": dec, "reference_mosaic": str(drz), "stamp_size": 15}
    fast = DrizzlePSFStep.call(str(asn), **kwargs)
    slow = DrizzlePSFStep.call(str(asn), engine="astrodrizzle", **kwargs)
    # chips are SCI,1 and SCI,2 of each of the three exposures
    np.testing.assert_array_equal(fast.contributions, [[1, 0] * 3, [0, 1] * 3])
    wht = fits.getdata(drz, "WHT")
    n = fast.wht.shape[-1]
    for s, row in enumerate(fast.sources):
        cut = wht[row["ystart"] : row["ystart"] + n, row["xstart"] : row["xstart"] + n]
        np.testing.assert_allclose(fast.wht[s], cut, rtol=2e-6, atol=1e-3)
    good = (fast.wht > 0) & (slow.wht > 0)
    assert good.mean() > 0.9
    assert np.abs(fast.data - slow.data)[good].max() <= 1e-4 * np.nanmax(slow.data)
    np.testing.assert_array_equal(fast.con, slow.con)
