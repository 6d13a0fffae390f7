"""`DetectorInfo.pixels`: the science pixels every mission adapter hands to empirical methods."""

import numpy as np


def check_pixels(pixels, data, dq, err, *, bad_flag, saturated_flag):
    np.testing.assert_array_equal(pixels.data, data)
    assert pixels.good.dtype == bool and pixels.good.shape == data.shape
    assert not pixels.good[(dq & bad_flag) != 0].any()
    assert not pixels.good[~np.isfinite(data)].any()
    np.testing.assert_array_equal(pixels.saturated, (dq & saturated_flag) != 0)
    np.testing.assert_array_equal(pixels.err, err)


def test_jwst_pixels(jwst_sim):
    from stdatamodels.jwst.datamodels.dqflags import pixel

    from spike.missions.jwst import JWSTAdapter

    model = jwst_sim.models[0].copy()
    model.dq[10, 10] |= pixel["DO_NOT_USE"]
    model.dq[20, 20] |= pixel["SATURATED"]
    model.data[30, 30] = np.nan
    with JWSTAdapter([model]) as adapter:
        pixels = adapter.detector_info(0).pixels()
    check_pixels(pixels, model.data, model.dq, model.err, bad_flag=pixel["DO_NOT_USE"],
           saturated_flag=pixel["SATURATED"])
    assert pixels.saturated[20, 20] and pixels.good[20, 20]  # saturation is a separate mask
