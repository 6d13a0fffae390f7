"""Tests of user-supplied PSFs: callables, photutils models, directories and files."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import NDData

from spike.exceptions import PSFMethodError
from spike.psf.user import UserPSFMethod, find_psf_file
from tests.psf._helpers import centroid, gaussian_psf, make_detector

OS = 4
EXPOSURE = "jw01234001001_01101_00001_nrca1_cal.fits"


def write_psf(path, data, **header):
    hdr = fits.Header()
    for key, value in header.items():
        hdr[f"HIERARCH {key}" if len(key) > 8 else key] = value
    fits.PrimaryHDU(np.asarray(data, dtype=float), header=hdr).writeto(path)
    return path


def test_callable_array():
    seen = []

    def psf(detector, x, y, size):
        seen.append((detector.detector, x, y, size))
        n = size * OS
        return gaussian_psf((n, n), sigma=5.0, total=3.0)  # renormalised by spike

    model = UserPSFMethod(psf=psf).prepare(make_detector())
    epsf = model.evaluate(12.5, 30.25, size=21)
    assert seen == [("NRCA1", 12.5, 30.25, 21)]
    assert epsf.shape == (84, 84)
    assert epsf.sum() == pytest.approx(16.0)
    np.testing.assert_allclose(epsf, gaussian_psf((84, 84), sigma=5.0, total=16.0))


def test_callable_other_oversampling_is_resampled():
    def psf(detector, x, y, size):
        return gaussian_psf((2 * size, 2 * size), sigma=2.5, total=0.9 * 4)

    model = UserPSFMethod(psf=psf, psf_oversampling=2, normalize=False).prepare(make_detector())
    epsf = model.evaluate(0.0, 0.0, size=31)
    assert epsf.shape == (124, 124)
    assert epsf.sum() == pytest.approx(16 * 0.9, rel=1e-3)  # flux fraction conserved
    cx, cy = centroid(epsf)
    assert abs(cx) < 0.04 and abs(cy) < 0.04
    # the same Gaussian, now 5 samples wide
    np.testing.assert_allclose(epsf, gaussian_psf((124, 124), sigma=5.0, total=16 * 0.9),
                               atol=2e-3 * epsf.max())


@pytest.mark.parametrize(
    ("result", "match"),
    [
        (np.ones((80, 80)), r"shape \(80, 80\); expected \(84, 84\)"),
        (np.ones((84, 84, 2)), "must be a 2-D array"),
        (np.full((84, 84), np.nan), "non-finite"),
        (np.zeros((84, 84)), "positive sum"),
        ([[1.0]], "returned list"),
    ],
)
def test_callable_errors(result, match):
    model = UserPSFMethod(psf=lambda *args: result).prepare(make_detector())
    with pytest.raises(PSFMethodError, match=match):
        model.evaluate(10.0, 10.0, size=21)


def test_image_psf_used_as_is():
    from photutils.psf import ImagePSF

    # odd-sized array: its centre falls between the samples of the even-sized stamp
    data = gaussian_psf((61, 61), sigma=4.0, total=16.0)
    method = UserPSFMethod(psf=ImagePSF(data, oversampling=OS))
    epsf = method.prepare(make_detector()).evaluate(5.0, 5.0, size=21)
    assert epsf.shape == (84, 84)
    assert epsf.sum() == pytest.approx(16.0, rel=1e-3)
    cx, cy = centroid(epsf)
    assert abs(cx) / OS < 0.01 and abs(cy) / OS < 0.01
    assert "ImagePSF" in method.describe()["psf"]


def test_callable_returning_image_psf():
    from photutils.psf import ImagePSF

    data = gaussian_psf((84, 84), sigma=3.0, total=16.0)
    model = UserPSFMethod(psf=lambda *a: ImagePSF(data, oversampling=OS)).prepare(make_detector())
    np.testing.assert_allclose(model.evaluate(1.0, 1.0, size=21), data)


def test_gridded_psf_model():
    from photutils.psf import GriddedPSFModel

    sigmas = [2.0, 3.0, 4.0, 5.0]
    cube = np.array([gaussian_psf((84, 84), sigma=s, total=16.0) for s in sigmas])
    grid = [(0, 0), (2047, 0), (0, 2047), (2047, 2047)]
    nddata = NDData(cube, meta={"grid_xypos": grid, "oversampling": OS})
    model = UserPSFMethod(psf=GriddedPSFModel(nddata), normalize=False).prepare(make_detector())
    np.testing.assert_allclose(model.evaluate(0.0, 0.0, size=21), cube[0], atol=1e-12)
    np.testing.assert_allclose(model.evaluate(2047.0, 2047.0, size=21), cube[3], atol=1e-12)
    middle = model.evaluate(1023.5, 0.0, size=21)
    np.testing.assert_allclose(middle, (cube[0] + cube[1]) / 2, atol=1e-12)
    assert model.evaluate(0.0, 0.0, size=11).shape == (44, 44)  # cropped


def test_directory_matching(tmp_path):
    root = EXPOSURE.replace("_cal.fits", "")
    data = gaussian_psf((100, 100), sigma=4.0, total=1.0)
    write_psf(tmp_path / f"{root}_psf.fits", data, OVERSAMP=OS)
    write_psf(tmp_path / "jw01234001001_01101_00002_nrca1_psf.fits", data * 0, OVERSAMP=OS)
    (tmp_path / EXPOSURE).write_bytes(b"")  # the science file itself is never a candidate
    method = UserPSFMethod(psf=tmp_path)
    epsf = method.prepare(make_detector(filename=EXPOSURE)).evaluate(1.0, 1.0, size=21)
    assert epsf.shape == (84, 84)
    assert epsf.sum() == pytest.approx(16 * gaussian_psf((100, 100), sigma=4.0)[8:92, 8:92].sum()
                                       / gaussian_psf((100, 100), sigma=4.0).sum())
    assert method.describe()["psf"] == str(tmp_path)


def test_directory_glob_and_keywords(tmp_path):
    root = EXPOSURE.replace("_cal.fits", "")
    path = write_psf(tmp_path / f"{root}_f200w_model.fits", gaussian_psf((42, 42), sigma=2.0),
                     DET_SAMP=2)
    assert find_psf_file(tmp_path, f"/some/dir/{EXPOSURE}") == path
    model = UserPSFMethod(psf=tmp_path).prepare(make_detector(filename=EXPOSURE))
    epsf = model.evaluate(0.0, 0.0, size=21)  # DET_SAMP=2 -> resampled to 4
    assert epsf.shape == (84, 84)
    assert epsf.sum() == pytest.approx(16.0, rel=1e-3)


def test_single_file_for_all_exposures(tmp_path):
    path = write_psf(tmp_path / "psf.fits", gaussian_psf((84, 84), sigma=3.0), OVERSAMPLE=OS)
    method = UserPSFMethod(psf=path)
    a = method.prepare(make_detector(filename="a_cal.fits")).evaluate(0.0, 0.0, size=21)
    b = method.prepare(make_detector(filename="b_cal.fits")).evaluate(9.0, 9.0, size=21)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, gaussian_psf((84, 84), sigma=3.0, total=16.0))


def test_normalize_false_keeps_user_normalisation(tmp_path):
    path = write_psf(tmp_path / "psf.fits", gaussian_psf((84, 84), sigma=3.0, total=14.0),
                     OVERSAMP=OS)
    epsf = UserPSFMethod(psf=path, normalize=False).prepare(make_detector()).evaluate(
        0.0, 0.0, size=21)
    assert epsf.sum() == pytest.approx(14.0)


def test_directory_errors(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(PSFMethodError, match=f"PSF directory '{missing}' does not exist"):
        UserPSFMethod(psf=missing / "").prepare(make_detector())
    with pytest.raises(PSFMethodError, match="PSF file .*nope.fits' does not exist"):
        UserPSFMethod(psf=str(missing) + ".fits").prepare(make_detector())
    with pytest.raises(PSFMethodError, match=f"No PSF file for exposure '{EXPOSURE}' in "):
        UserPSFMethod(psf=tmp_path).prepare(make_detector(filename=EXPOSURE))
    root = EXPOSURE.replace("_cal.fits", "")
    for name in ("a", "b"):
        write_psf(tmp_path / f"{root}_{name}.fits", np.ones((8, 8)), OVERSAMP=1)
    with pytest.raises(PSFMethodError, match="Several PSF files match"):
        UserPSFMethod(psf=tmp_path).prepare(make_detector(filename=EXPOSURE))
    with pytest.raises(PSFMethodError, match="no file name"):
        find_psf_file(tmp_path, "")


@pytest.mark.parametrize(
    ("data", "header", "match"),
    [
        (np.ones(16), {"OVERSAMP": 4}, "must be a 2-D array"),
        (np.full((8, 8), np.inf), {"OVERSAMP": 4}, "non-finite"),
        (np.ones((8, 8)), {}, "OVERSAMP or OVERSAMPLE or DET_SAMP"),
        (np.ones((8, 8)), {"OVERSAMP": 2.5}, "not a positive integer"),
        (np.ones((3, 8, 8)), {}, "photutils cannot read as a PSF grid"),
    ],
)
def test_file_errors(tmp_path, data, header, match):
    path = write_psf(tmp_path / "psf.fits", data, **header)
    method = UserPSFMethod(psf=path)
    with pytest.raises(PSFMethodError, match=match) as info:
        method.prepare(make_detector())
    assert str(path) in str(info.value)


def test_option_errors_and_missions():
    with pytest.raises(TypeError, match="psf must be a callable"):
        UserPSFMethod(psf=42)
    with pytest.raises(ValueError, match="psf_oversampling"):
        UserPSFMethod(psf=lambda *a: None, psf_oversampling=0)
    method = UserPSFMethod(psf=lambda *a: None)
    assert method.supports(make_detector(mission="hst"))
    assert method.supports(make_detector(mission="roman"))
    with pytest.raises(PSFMethodError, match="'euclid'"):
        method.prepare(make_detector(mission="euclid"))
    with pytest.raises(ValueError, match="size"):
        method.prepare(make_detector()).evaluate(0.0, 0.0, size=20)


def test_gridded_file(tmp_path):
    """A 3-D STPSF gridded-library style file is read with photutils."""
    cube = np.array([gaussian_psf((84, 84), sigma=s, total=16.0) for s in (2.0, 3.0, 4.0, 5.0)])
    hdr = fits.Header({"OVERSAMP": OS})
    for i, (x, y) in enumerate([(0, 0), (2047, 0), (0, 2047), (2047, 2047)]):
        hdr[f"DET_YX{i}"] = f"({x:.1f}, {y:.1f})"
    fits.PrimaryHDU(cube, header=hdr).writeto(tmp_path / "grid.fits")
    model = UserPSFMethod(psf=tmp_path / "grid.fits", normalize=False).prepare(make_detector())
    np.testing.assert_allclose(model.evaluate(2047.0, 0.0, size=21), cube[1], atol=1e-12)
