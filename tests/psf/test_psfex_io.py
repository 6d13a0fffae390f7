"""The pure helpers of the ``psfex`` method on small synthetic inputs: polynomial order,
``.psf`` reading, star-sample thresholds, the images written for Source Extractor."""

import numpy as np
import pytest
from astropy.io import fits

from spike.exceptions import PSFMethodError
from spike.psf._psfex_io import (
    FLAG_BAD,
    FLAG_SATURATED,
    polynomial_terms,
    read_psf_file,
    sample_min_snr,
    write_images,
)
from spike.psf.base import ExposurePixels
from spike.psf.psfex import PSFExModel
from tests.psf._helpers import gaussian_psf


def test_polynomial_order():
    assert polynomial_terms([2.0, 3.0], 1).tolist() == [1.0, 2.0, 3.0]
    assert polynomial_terms([2.0, 3.0], 2).tolist() == [1.0, 2.0, 4.0, 3.0, 6.0, 9.0]
    assert polynomial_terms([2.0, 3.0], 3).tolist() == [1, 2, 4, 8, 3, 6, 12, 9, 18, 27]
    assert polynomial_terms([], 0).tolist() == [1.0]


def _write_psf(path, basis, *, degree, zero=(101.0, 51.0), scale=(200.0, 100.0),
               sampling=0.25):
    """Write a minimal PSFEx .psf file (PSF_DATA table) around ``basis``."""
    col = fits.Column(name="PSF_MASK", format=f"{basis.size}E",
                      dim=str(tuple(reversed(basis.shape))).replace(" ", ""),
                      array=basis[None].astype(np.float32))
    hdu = fits.BinTableHDU.from_columns([col], name="PSF_DATA")
    h = hdu.header
    h["LOADED"], h["ACCEPTED"], h["CHI2"] = 12, 11, 1.5
    h["POLNAXIS"] = 2
    for i, name in enumerate(("X_IMAGE", "Y_IMAGE")):
        h[f"POLGRP{i + 1}"], h[f"POLNAME{i + 1}"] = 1, name
        h[f"POLZERO{i + 1}"], h[f"POLSCAL{i + 1}"] = zero[i], scale[i]
    h["POLNGRP"], h["POLDEG1"] = 1, degree
    h["PSF_FWHM"], h["PSF_SAMP"] = 2.0, sampling
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)


def test_psf_file_evaluated_with_one_based_positions(tmp_path):
    n = 41
    core = gaussian_psf((n, n), sigma=4.0, total=16.0)  # centre at n // 2 = 20
    slope = gaussian_psf((n, n), sigma=6.0, total=4.0) - gaussian_psf((n, n), sigma=3.0,
                                                                     total=4.0)
    basis = np.stack([core, slope, np.zeros((n, n))])
    _write_psf(tmp_path / "m.psf", basis, degree=1)
    data = read_psf_file(tmp_path / "m.psf")
    assert data.names == ("X_IMAGE", "Y_IMAGE") and data.degree == 1
    assert (data.accepted, data.loaded) == (11, 12)
    model = PSFExModel.from_file(tmp_path / "m.psf")
    assert model.oversampling == 4
    # 0-based (100, 50) is X_IMAGE = 101, Y_IMAGE = 51: the polynomial's zero point
    np.testing.assert_allclose(model.model_image(100.0, 50.0), core, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.model_image(150.0, 50.0), core + 0.25 * slope,
                               rtol=1e-5, atol=1e-7)
    psf = model.evaluate(100.0, 50.0, size=9)
    np.testing.assert_allclose(psf.sum(), 16.0, rtol=1e-3)
    expected = gaussian_psf((36, 36), sigma=4.0, total=16.0)
    np.testing.assert_allclose(psf, expected, atol=2e-4 * expected.max())


def test_psf_file_errors(tmp_path):
    basis = np.ones((6, 9, 9))
    _write_psf(tmp_path / "bad.psf", basis, degree=1)
    with pytest.raises(PSFMethodError, match=r"PSF_MASK has shape \(6, 9, 9\), expected 3"):
        read_psf_file(tmp_path / "bad.psf")
    _write_psf(tmp_path / "odd.psf", np.ones((3, 9, 9)), degree=1, sampling=0.3)
    with pytest.raises(PSFMethodError, match="sampling 0.3 is not 1/n of a pixel"):
        PSFExModel.from_file(tmp_path / "odd.psf")
    fits.PrimaryHDU(np.ones((3, 3))).writeto(tmp_path / "image.fits")
    with pytest.raises(PSFMethodError, match="no PSF_DATA extension"):
        read_psf_file(tmp_path / "image.fits")


def test_sample_min_snr_keeps_the_brightest_stars():
    rng = np.random.default_rng(2)
    n = 400
    catalog = {"SNR_WIN": rng.uniform(10, 500, n), "FLUX_RADIUS": rng.normal(1.0, 0.03, n),
               "ELONGATION": np.full(n, 1.05), "FLAGS": np.zeros(n, int),
               "IMAFLAGS_ISO": np.zeros(n, int)}
    catalog["FLUX_RADIUS"][:40] = 0.45  # cosmic rays: compact and bright
    catalog["SNR_WIN"][:40] = 2000.0
    catalog["IMAFLAGS_ISO"][40:60] = FLAG_SATURATED  # saturated stars: the brightest
    catalog["SNR_WIN"][40:60] = 5000.0
    catalog["FLAGS"][60:70] = 2  # blended
    catalog["SNR_WIN"][60:70] = 4000.0
    kwargs = dict(min_snr=20.0, fwhm_range=(0.8, 20.0), max_ellipticity=0.3,
                  flag_mask=0xFE, imaflag_mask=FLAG_SATURATED)
    threshold, count = sample_min_snr(catalog, max_stars=50, **kwargs)
    stars = np.arange(n) >= 70
    assert count == 50
    assert threshold == pytest.approx(np.sort(catalog["SNR_WIN"][stars])[-50], rel=1e-5)
    threshold, count = sample_min_snr(catalog, max_stars=None, **kwargs)
    assert threshold == 20.0
    assert count == (stars & (catalog["SNR_WIN"] >= 20)).sum() + 40  # PSFEx drops the CRs


def test_write_images(tmp_path):
    data = np.arange(20.0).reshape(4, 5)
    data[0, 0] = np.nan
    good = np.ones(data.shape, bool)
    good[1, 1] = False
    saturated = np.zeros(data.shape, bool)
    saturated[2, 2] = True
    err = np.full(data.shape, 2.0)
    err[3, 3] = 0.0
    paths = write_images(tmp_path, ExposurePixels(data, good, saturated, err), shape=(4, 5))
    weight = fits.getdata(paths["weight"])
    flags = fits.getdata(paths["flags"])
    science = fits.getdata(paths["science"])
    for bad in [(0, 0), (1, 1), (3, 3)]:
        assert weight[bad] == 0 and flags[bad] & FLAG_BAD
    assert weight[0, 1] == pytest.approx(0.25)
    assert flags[2, 2] == FLAG_SATURATED  # usable, but saturated
    assert np.isfinite(science).all()
    with pytest.raises(PSFMethodError, match="no usable pixel"):
        write_images(tmp_path / "x", ExposurePixels(data, np.zeros(data.shape, bool)))
    with pytest.raises(PSFMethodError, match=r"pixels have shape \(4, 5\), the detector"):
        write_images(tmp_path, ExposurePixels(data, good), shape=(5, 4))
