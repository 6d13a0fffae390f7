"""Cutout geometry: boxes, input footprints and shifted WCS objects."""

import numpy as np
import pytest
from astropy.wcs import WCS as FITSWCS

from spike.datasets import make_jwst_gwcs
from spike.stamps.geometry import Box, contains, input_box, output_box, shift_wcs


@pytest.fixture(scope="module")
def nircam_wcs():
    return make_jwst_gwcs("NRCA1_FULL", ra_ref=53.16, dec_ref=-27.79, v3pa=30.0,
                          subarray_origin=(900, 900), shape=(256, 256))


def test_box_pad_clip_and_slices():
    box = Box(-3, 5, 10, 8)
    assert box.shape == (8, 10)
    assert box.pad(2) == Box(-5, 3, 14, 12)
    assert box.clip((100, 100)) == Box(0, 5, 7, 8)
    assert Box(200, 200, 5, 5).clip((100, 100)) is None
    a = np.arange(400).reshape(20, 20)
    assert a[Box(2, 3, 4, 5).slices].shape == (5, 4)


@pytest.mark.parametrize(("x", "y", "xstart", "ystart"),
                         [(10.0, 20.0, 5, 15), (10.49, 20.51, 5, 16), (-0.4, 0.2, -5, -5)])
def test_output_box_is_centred_on_the_pixel_holding_the_source(x, y, xstart, ystart):
    box = output_box(x, y, 11)
    assert (box.xstart, box.ystart, box.nx, box.ny) == (xstart, ystart, 11, 11)


def test_shifted_gwcs_equals_parent_offset(nircam_wcs):
    box = Box(37, 52, 40, 30)
    sub = shift_wcs(nircam_wcs, box)
    assert sub.array_shape == (30, 40)
    xx, yy = np.meshgrid(np.arange(-0.5, 40, 3.7), np.arange(-0.5, 30, 2.9))
    np.testing.assert_allclose(sub(xx, yy), nircam_wcs(xx + 37, yy + 52), rtol=0, atol=1e-12)
    ra, dec = nircam_wcs(60.3, 70.8)
    np.testing.assert_allclose(sub.world_to_pixel_values(ra, dec), (60.3 - 37, 70.8 - 52),
                               atol=1e-6)
    # the parent is untouched
    assert nircam_wcs.array_shape == (256, 256)
    assert nircam_wcs.bounding_box.bounding_box(order="F")[0] == (-0.5, 255.5)


def test_shifted_gwcs_bounding_box_is_clipped_to_parent(nircam_wcs):
    sub = shift_wcs(nircam_wcs, Box(240, -10, 30, 30))
    (x0, x1), (y0, y1) = sub.bounding_box.bounding_box(order="F")
    assert (x0, x1) == (-0.5, 15.5)
    assert (y0, y1) == (9.5, 29.5)


def test_shifted_fits_wcs_uses_slice():
    w = FITSWCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crpix = [50, 60]
    w.wcs.crval = [10, -20]
    w.wcs.cdelt = [-1e-5, 1e-5]
    sub = shift_wcs(w, Box(7, 9, 20, 20))
    np.testing.assert_allclose(sub.pixel_to_world_values(3.0, 4.0),
                               w.pixel_to_world_values(10.0, 13.0), atol=1e-12)


def test_input_box_covers_the_output_footprint(nircam_wcs):
    out_wcs = make_jwst_gwcs("NRCA1_FULL", ra_ref=53.16, dec_ref=-27.79, v3pa=50.0,
                             subarray_origin=(900, 900), shape=(256, 256))
    out = Box(100, 110, 21, 21)
    ibox = input_box(out, out_wcs, nircam_wcs, (256, 256), margin=3)
    assert ibox is not None
    # every corner of every output pixel maps inside the input box (shrunk by the margin)
    px = np.array([out.xstart - 0.5, out.xstart + out.nx - 0.5])
    py = np.array([out.ystart - 0.5, out.ystart + out.ny - 0.5])
    xx, yy = np.meshgrid(px, py)
    ix, iy = nircam_wcs.world_to_pixel_values(*out_wcs(xx.ravel(), yy.ravel()))
    assert np.all(ix >= ibox.xstart + 3 - 0.5 - 1e-9)
    assert np.all(ix <= ibox.xstart + ibox.nx - 3 - 0.5 + 1e-9)
    assert np.all(iy >= ibox.ystart + 3 - 0.5 - 1e-9)
    assert np.all(iy <= ibox.ystart + ibox.ny - 3 - 0.5 + 1e-9)
    # a footprint far away misses the array
    assert input_box(Box(5000, 5000, 21, 21), out_wcs, nircam_wcs, (256, 256)) is None


def test_contains_honours_array_and_bounding_box(nircam_wcs):
    assert contains(nircam_wcs, (256, 256), 0.0, 255.4)
    assert not contains(nircam_wcs, (256, 256), -0.6, 10.0)
    assert not contains(nircam_wcs, (256, 256), 10.0, 255.5)
    assert not contains(nircam_wcs, (256, 256), np.nan, 10.0)


def test_input_box_writes_nothing_into_the_callers_wcs():
    """The inverse-transform cache is spike's (weakly keyed), not the WCS object's."""
    import gc

    from spike.stamps import geometry

    wcs = make_jwst_gwcs("NRCA1_FULL", ra_ref=53.16, dec_ref=-27.79, v3pa=30.0,
                         subarray_origin=(900, 900), shape=(256, 256))
    before = dict(vars(wcs))
    out_wcs = make_jwst_gwcs("NRCA1_FULL", ra_ref=53.16, dec_ref=-27.79, v3pa=50.0,
                             subarray_origin=(900, 900), shape=(256, 256))
    first = input_box(Box(100, 110, 21, 21), out_wcs, wcs, (256, 256))
    assert input_box(Box(100, 110, 21, 21), out_wcs, wcs, (256, 256)) == first
    assert vars(wcs).keys() == before.keys()
    assert all(vars(wcs)[k] is v for k, v in before.items())
    assert wcs in geometry._BACKWARD
    n = len(geometry._BACKWARD)
    del wcs
    gc.collect()
    assert len(geometry._BACKWARD) == n - 1  # the cache does not keep the WCS alive
