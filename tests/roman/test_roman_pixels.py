"""`DetectorInfo.pixels` of Roman exposures (for the empirical PSF methods)."""

import numpy as np

from tests.test_exposure_pixels import check_pixels


def test_roman_pixels(roman_sim):
    from roman_datamodels.dqflags import pixel

    from spike.missions.roman import RomanAdapter

    model = roman_sim.models[0].copy()
    model.dq[10, 10] |= pixel.DO_NOT_USE
    model.dq[20, 20] |= pixel.SATURATED
    model.data[30, 30] = np.nan
    with RomanAdapter([model]) as adapter:
        pixels = adapter.detector_info(0).pixels()
    check_pixels(pixels, model.data, model.dq, model.err, bad_flag=int(pixel.DO_NOT_USE),
                 saturated_flag=int(pixel.SATURATED))
    assert pixels.saturated[20, 20]
