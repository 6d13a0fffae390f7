"""``method='stdpsf'`` on Roman WFI exposures, with a library file in STDPSF format."""

import numpy as np

from spike.steps import DrizzlePSFStep
from tests.psf.test_stdpsf import write_stdpsf


def test_stdpsf_roman(roman_sim, tmp_path):
    grid = [0.0, 2043.0, 4087.0]
    for sca in ("WFI01", "WFI02", "WFI03", "WFI04", "WFI05", "WFI06", "WFI07", "WFI08",
                "WFI09", "WFI10", "WFI11", "WFI12", "WFI13", "WFI14", "WFI15", "WFI16",
                "WFI17", "WFI18"):
        write_stdpsf(tmp_path / f"STDPSF_{sca}_F158.fits", grid, grid, lambda *a: 3.0, npix=41)
    star = roman_sim.stars[0]
    result = DrizzlePSFStep.call(roman_sim.models, ra=float(star["ra"]), dec=float(star["dec"]),
                                 method="stdpsf", psf_path=str(tmp_path), stamp_size=9)
    assert result.meta.mission == "roman" and result.meta.psf.method == "stdpsf"
    assert np.nanmax(result.data) > 0 and 0.9 < float(result.sources["psf_sum"][0]) < 1.1
