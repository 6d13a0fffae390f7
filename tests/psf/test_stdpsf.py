"""Tests of the ``stdpsf`` method: STScI STDPSF libraries written here in their format."""

import logging

import numpy as np
import pytest
from astropy.io import fits

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf import stdpsf as stdpsf_module
from spike.psf.stdpsf import STDPSFMethod, STDPSFModel
from tests.psf._helpers import centroid, gaussian_psf, make_detector

OS = 4
NPIX = 33  # library PSF width in samples (real files: 101)


def write_stdpsf(path, xs, ys, sigma_of, *, npix=NPIX, a5=False, **header):
    """Write a STDPSF file: Gaussians of width ``sigma_of(ix, iy, x, y)`` samples.

    ``xs``/``ys`` are the 0-based grid positions (written 1-based, as STDPSF files are);
    ``a5`` writes them as the NIRCam NRCSW files do (IPSFXA5..D5, JPSFYA5..B5 strings).
    """
    cube = [gaussian_psf((npix, npix), sigma=sigma_of(ix, iy, x, y))
            for iy, y in enumerate(ys) for ix, x in enumerate(xs)]
    hdr = fits.Header()
    hdr["NXPSFS"], hdr["NYPSFS"] = len(xs), len(ys)
    if a5:
        for n, letter in enumerate("ABCD"):
            hdr[f"IPSFX{letter}5"] = " ".join(f"{x + 1:04d}" for x in xs[5 * n: 5 * n + 5])
        for n, letter in enumerate("AB"):
            hdr[f"JPSFY{letter}5"] = " ".join(f"{y + 1:04d}" for y in ys[5 * n: 5 * n + 5])
    else:
        for i, x in enumerate(xs, 1):
            hdr[f"IPSFX{i:02d}"] = int(x) + 1
        for j, y in enumerate(ys, 1):
            hdr[f"JPSFY{j:02d}"] = int(y) + 1
    hdr.update(header)
    fits.PrimaryHDU(np.asarray(cube, dtype=np.float32), header=hdr).writeto(path)
    return path


def variance(epsf):
    """Mean of the x and y second moments about the array centre, in samples**2."""
    ny, nx = epsf.shape
    yy, xx = np.mgrid[:ny, :nx]
    s = epsf.sum()
    vx = (epsf * (xx - (nx - 1) / 2) ** 2).sum() / s
    vy = (epsf * (yy - (ny - 1) / 2) ** 2).sum() / s
    return (vx + vy) / 2


def hst(detector, *, instrument="ACS", filter="F606W", chip=None, shape=(1024, 1024), **extra):
    if chip is not None:
        extra["chip"] = chip
    return make_detector(mission="hst", instrument=instrument, detector=detector,
                         filter=filter, pupil=None, filename=f"j_{detector.lower()}_flt.fits",
                         shape=shape, extra=extra)


# --- ACS/HRC (single chip), widths varying linearly (in variance) across the detector
HRC_GRID = (0, 511, 1023)


def hrc_var(x, y):
    return 4.0 + 4.0 * x / 1023 + 8.0 * y / 1023


@pytest.fixture
def hrc_file(tmp_path):
    return write_stdpsf(tmp_path / "STDPSF_ACSHRC_F606W.fits", HRC_GRID, HRC_GRID,
                        lambda ix, iy, x, y: np.sqrt(hrc_var(x, y)))


@pytest.mark.parametrize(("x", "y"), [(511.0, 511.0), (0.0, 1023.0), (300.4, 777.9),
                                      (100.0, 950.0)])
def test_interpolated_width_centre_and_normalisation(hrc_file, x, y):
    model = STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("HRC"))
    assert isinstance(model, STDPSFModel)
    assert model.oversampling == OS and model.library_oversampling == OS
    epsf = model.evaluate(x, y, size=11)  # 44 samples: the whole library PSF, zero-padded
    assert epsf.shape == (44, 44) and epsf.dtype == np.float64
    assert epsf.sum() == pytest.approx(OS**2, rel=1e-9)
    np.testing.assert_allclose(centroid(epsf), (0.0, 0.0), atol=1e-9)
    # bilinear interpolation of a variance linear in (x, y) is exact between grid points
    assert variance(epsf) == pytest.approx(hrc_var(x, y), rel=3e-3)


def test_between_grid_points_is_not_nearest(hrc_file):
    model = STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("HRC"))
    v = variance(model.evaluate(255.0, 255.0, size=11))
    assert v == pytest.approx(hrc_var(255, 255), rel=3e-3)
    assert abs(v - hrc_var(0, 0)) > 0.3 and abs(v - hrc_var(511, 511)) > 0.3


def test_library_samples_used_as_is_at_grid_point(hrc_file):
    model = STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("HRC"))
    cube = fits.getdata(hrc_file)
    np.testing.assert_allclose(model.library_epsf(1023.0, 511.0), cube[5], rtol=1e-6,
                               atol=1e-12)


def test_crop_keeps_fraction_inside_stamp(hrc_file):
    from scipy.special import erf

    model = STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("HRC"))
    epsf = model.evaluate(0.0, 0.0, size=3)  # sigma 2 samples, stamp +-6 samples
    assert epsf.shape == (12, 12)
    assert epsf.sum() == pytest.approx(OS**2 * erf(6 / (2 * np.sqrt(2))) ** 2, rel=2e-3)
    np.testing.assert_allclose(centroid(epsf), (0.0, 0.0), atol=1e-9)


def test_other_oversampling_is_resampled(hrc_file):
    method = STDPSFMethod(psf_path=hrc_file, oversampling=2, wings=None)
    model = method.prepare(hst("HRC"))
    epsf = model.evaluate(511.0, 511.0, size=11)
    assert model.oversampling == 2 and epsf.shape == (22, 22)
    assert epsf.sum() == pytest.approx(4.0, rel=1e-3)
    assert variance(epsf) == pytest.approx(hrc_var(511, 511) / 4, rel=2e-2)
    assert method.describe() == {"method": "stdpsf", "oversampling": 2,
                                 "psf_path": str(hrc_file), "library_oversampling": None,
                                 "wings": None, "wings_size": 81}


def test_file_read_once_per_path_and_chip(hrc_file, monkeypatch):
    calls = []
    real = stdpsf_module.read_library

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(stdpsf_module, "read_library", counting)
    method = STDPSFMethod(psf_path=hrc_file, wings=None)
    first, second = method.prepare(hst("HRC")), method.prepare(hst("HRC"))
    assert len(calls) == 1 and first.grid is second.grid


# --- ACS/WFC: one library for both chips; grid over the 4096 x 4096 two-chip frame
WFC_X = (0, 511, 1023, 1535, 2047, 2559, 3071, 3583, 4095)
WFC_Y = (0, 511, 1023, 1535, 2047, 2048, 2559, 3071, 3583, 4095)  # WFC2 below WFC1


def wfc_var(x, y_global):
    return 4.0 + 2.0 * x / 4095 + 6.0 * y_global / 4095


@pytest.fixture
def wfc_file(tmp_path):
    return write_stdpsf(tmp_path / "STDPSF_ACSWFC_F606W.fits", WFC_X, WFC_Y,
                        lambda ix, iy, x, y: np.sqrt(wfc_var(x, y)))


@pytest.mark.parametrize(("detector", "chip", "y_offset"), [("WFC1", 1, 2048),
                                                            ("WFC2", 2, 0)])
def test_two_chip_library_uses_the_exposure_chip(wfc_file, detector, chip, y_offset):
    det = hst(detector, chip=chip, shape=(2048, 4096))
    model = STDPSFMethod(psf_path=wfc_file, wings=None).prepare(det)
    cube = fits.getdata(wfc_file)
    # chip-frame (1535, 511) is the grid point (1535, 511 + y_offset) of the file
    index = WFC_Y.index(511 + y_offset) * len(WFC_X) + WFC_X.index(1535)
    np.testing.assert_allclose(model.library_epsf(1535.0, 511.0), cube[index], rtol=1e-6,
                               atol=1e-12)
    x, y = 3000.5, 1300.25
    epsf = model.evaluate(x, y, size=11)
    assert variance(epsf) == pytest.approx(wfc_var(x, y + y_offset), rel=3e-3)
    assert epsf.sum() == pytest.approx(OS**2, rel=1e-9)


def test_chip_from_extra_and_subarray_origin(wfc_file):
    full = STDPSFMethod(psf_path=wfc_file, wings=None).prepare(
        hst("WFC1", chip=1, shape=(2048, 4096)))
    sub = STDPSFMethod(psf_path=wfc_file, wings=None).prepare(
        hst("WFC", chip=1, shape=(512, 512), chip_origin=(2000, 1000)))
    np.testing.assert_allclose(sub.evaluate(10.0, 20.0, size=7),
                               full.evaluate(2010.0, 1020.0, size=7), atol=1e-12)


def test_inconsistent_chip_is_an_error(wfc_file):
    with pytest.raises(PSFMethodError, match=r"'WFC1' disagrees .*extra\['chip'\]=2"):
        STDPSFMethod(psf_path=wfc_file, wings=None).prepare(hst("WFC1", chip=2))


def test_multi_detector_library_with_wrong_psf_count(tmp_path):
    path = write_stdpsf(tmp_path / "STDPSF_WFC3UV_F606W.fits", HRC_GRID, HRC_GRID,
                        lambda *a: 2.0)
    with pytest.raises(PSFMethodError, match="holds 9 PSFs; a STDPSF_WFC3UV library holds 56"):
        STDPSFMethod(psf_path=path, wings=None).prepare(hst("UVIS1", instrument="WFC3"))


# --- four- and eight-detector libraries: each detector's grid has its own width
WFPC2_LAYOUT = {(0, 0): "WF3", (1, 0): "WF4", (0, 1): "WF2", (1, 1): "PC1"}
NRCSW_LAYOUT = {(0, 0): "NRCA1", (1, 0): "NRCA3", (2, 0): "NRCB4", (3, 0): "NRCB2",
                (0, 1): "NRCA2", (1, 1): "NRCA4", (2, 1): "NRCB3", (3, 1): "NRCB1"}
SIGMAS = {name: 1.3 + 0.15 * k for k, name in enumerate(
    ["PC1", "WF2", "WF3", "WF4", "NRCA1", "NRCA2", "NRCA3", "NRCA4",
     "NRCB1", "NRCB2", "NRCB3", "NRCB4"])}


def library_variance(name):
    """Second moment of detector ``name``'s 17-sample library Gaussian (truncated)."""
    return variance(gaussian_psf((17, 17), sigma=SIGMAS[name]))


@pytest.fixture
def wfpc2_file(tmp_path):
    pos = (49, 424, 799, 849, 1224, 1599)  # 3 per 800-pixel chip
    return write_stdpsf(tmp_path / "STDPSF_WFPC2_F555W.fits", pos, pos,
                        lambda ix, iy, x, y: SIGMAS[WFPC2_LAYOUT[(ix // 3, iy // 3)]],
                        npix=17)


@pytest.fixture
def nrcsw_file(tmp_path):
    xs = [b * 2048 + p for b in range(4) for p in (0, 511, 1023, 1535, 2047)]
    ys = [b * 2048 + p for b in range(2) for p in (0, 511, 1023, 1535, 2047)]
    return write_stdpsf(tmp_path / "STDPSF_NRCSW_F150W.fits", xs, ys,
                        lambda ix, iy, x, y: SIGMAS[NRCSW_LAYOUT[(ix // 5, iy // 5)]],
                        npix=17, a5=True)


@pytest.mark.parametrize(("name", "chip"), [("PC1", 1), ("WF2", 2), ("WF3", 3), ("WF4", 4)])
def test_wfpc2_chip(wfpc2_file, name, chip):
    det = hst(name, instrument="WFPC2", filter="F555W", chip=chip, shape=(800, 800))
    epsf = STDPSFMethod(psf_path=wfpc2_file).prepare(det).library_epsf(400.0, 400.0)
    assert variance(epsf) == pytest.approx(library_variance(name), rel=1e-6)


@pytest.mark.parametrize("name", sorted(set(NRCSW_LAYOUT.values())))
def test_nircam_sw_eight_detector_library(nrcsw_file, name):
    det = make_detector(detector=name, filter="F150W")
    model = STDPSFMethod(psf_path=nrcsw_file, wings=None).prepare(det)
    epsf = model.library_epsf(1000.0, 1500.0)
    assert variance(epsf) == pytest.approx(library_variance(name), rel=1e-6)


# --- JWST single-detector library
NRC_GRID = (0, 1023, 2047)


def nrc_var(x, y):
    return 5.0 + 6.0 * x / 2047 - 2.0 * y / 2047


@pytest.fixture
def nrca1_file(tmp_path):
    return write_stdpsf(tmp_path / "STDPSF_NRCA1_F200W.fits", NRC_GRID, NRC_GRID,
                        lambda ix, iy, x, y: np.sqrt(nrc_var(x, y)))


def test_jwst_library_width_and_subarray(nrca1_file):
    method = STDPSFMethod(psf_path=nrca1_file, wings=None)
    epsf = method.prepare(make_detector()).evaluate(1500.2, 300.7, size=11)
    assert variance(epsf) == pytest.approx(nrc_var(1500.2, 300.7), rel=3e-3)
    sub = method.prepare(make_detector(shape=(160, 160), extra={"substrt1": 1025,
                                                                "substrt2": 1}))
    np.testing.assert_allclose(sub.evaluate(476.2, 300.7, size=11), epsf, atol=1e-12)


# --- directories
def test_directory_lookup(tmp_path, hrc_file, wfc_file, nrca1_file):
    write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W.fits", NRC_GRID, NRC_GRID, lambda *a: 3.0)
    write_stdpsf(tmp_path / "stdpsf_wfi07_f158_v2.fits", [0, 900, 1800, 2700, 3600, 4087],
                 [0, 900, 1800, 2700, 3600, 4087], lambda *a: 2.5)  # 36 PSFs, one detector
    method = STDPSFMethod(psf_path=tmp_path, wings=None)
    assert method.prepare(hst("HRC")).path == hrc_file
    assert method.prepare(hst("WFC2", chip=2, shape=(2048, 4096))).path == wfc_file
    assert method.prepare(make_detector()).path == nrca1_file
    roman = make_detector(mission="roman", instrument="WFI", detector="WFI07", filter="F158",
                          pupil=None, shape=(4088, 4088))
    model = method.prepare(roman)
    assert model.path.name == "stdpsf_wfi07_f158_v2.fits"
    assert variance(model.library_epsf(2000.0, 100.0)) == pytest.approx(6.25, rel=1e-3)


def test_directory_prefers_single_detector_and_untagged(tmp_path, nrcsw_file):
    tagged = write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W_E1.fits", NRC_GRID, NRC_GRID,
                          lambda *a: 2.0)
    det = make_detector(filter="F150W")
    assert STDPSFMethod(psf_path=tmp_path, wings=None).prepare(det).path == tagged
    write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W_E2.fits", NRC_GRID, NRC_GRID, lambda *a: 2.0)
    with pytest.raises(PSFMethodError, match="Several STDPSF files .*_E1.fits, .*_E2.fits"):
        STDPSFMethod(psf_path=tmp_path, wings=None).prepare(det)
    exact = write_stdpsf(tmp_path / "STDPSF_NRCA1_F150W.fits", NRC_GRID, NRC_GRID,
                         lambda *a: 2.0)
    assert STDPSFMethod(psf_path=tmp_path, wings=None).prepare(det).path == exact
    # another SW detector falls back to the eight-detector file
    assert STDPSFMethod(psf_path=tmp_path, wings=None).prepare(
        make_detector(detector="NRCB3", filter="F150W")).path == nrcsw_file


def test_directory_without_match(tmp_path, hrc_file):
    with pytest.raises(PSFDataUnavailableError,
                       match=r"No STDPSF file for exposure 'j_ir_flt.fits' .*"
                             r"looked for STDPSF_WFC3IR_F160W\[_<tag>\].fits.*STScI"):
        STDPSFMethod(psf_path=tmp_path, wings=None).prepare(
            hst("IR", instrument="WFC3", filter="F160W"))


# --- errors
def test_missing_path(tmp_path):
    missing = tmp_path / "nowhere" / "STDPSF_ACSHRC_F606W.fits"
    with pytest.raises(PSFDataUnavailableError,
                       match=rf"STDPSF path '{missing}' does not exist\. .*STScI's website"):
        STDPSFMethod(psf_path=missing, wings=None).prepare(hst("HRC"))


def test_psf_path_required():
    with pytest.raises(ValueError, match="needs psf_path"):
        STDPSFMethod()


def test_wrong_detector(hrc_file):
    with pytest.raises(PSFMethodError, match=r"is for detector ACSHRC, not for exposure "
                                             r"'j_ir_flt.fits' \(WFC3/IR F606W\), which needs "
                                             r"STDPSF_WFC3IR_"):
        STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("IR", instrument="WFC3"))


def test_wrong_filter(hrc_file):
    with pytest.raises(PSFMethodError, match=r"is for filter F606W, not for exposure "
                                             r"'j_hrc_flt.fits' \(ACS/HRC F814W\), which "
                                             r"needs filter F814W"):
        STDPSFMethod(psf_path=hrc_file, wings=None).prepare(hst("HRC", filter="F814W"))


def test_unconventional_name_checked_by_header(tmp_path, caplog):
    path = write_stdpsf(tmp_path / "my_hrc_library.fits", HRC_GRID, HRC_GRID,
                        lambda *a: 2.0, FILTER="F814W", DETECTOR="HRC")
    with pytest.raises(PSFMethodError, match=r"header FILTER='F814W', the exposure has "
                                             r"'F606W'"):
        STDPSFMethod(psf_path=path, wings=None).prepare(hst("HRC"))
    assert STDPSFMethod(psf_path=path, wings=None).prepare(hst("HRC", filter="F814W")).path == path
    bare = write_stdpsf(tmp_path / "bare.fits", HRC_GRID, HRC_GRID, lambda *a: 2.0)
    with caplog.at_level(logging.WARNING, logger="spike.psf"):
        STDPSFMethod(psf_path=bare, wings=None).prepare(hst("HRC"))
    assert "Cannot check that" in caplog.text


@pytest.mark.parametrize("content", ["garbage", "no-grid", "2d-grid"])
def test_unreadable_file(tmp_path, content):
    path = tmp_path / "STDPSF_ACSHRC_F606W.fits"
    if content == "garbage":
        path.write_bytes(b"this is not a FITS file" * 200)
    elif content == "no-grid":
        fits.PrimaryHDU(np.ones((4, 9, 9), dtype=np.float32)).writeto(path)
    else:
        fits.PrimaryHDU(np.ones((9, 9), dtype=np.float32),
                        header=fits.Header([("NXPSFS", 3), ("NYPSFS", 3)])).writeto(path)
    with pytest.raises(PSFMethodError, match="Cannot read STDPSF file"):
        STDPSFMethod(psf_path=path, wings=None).prepare(hst("HRC"))


def test_unknown_detector(hrc_file):
    det = make_detector(instrument="NIRSPEC", detector="NRS1")
    with pytest.raises(PSFMethodError, match="No STDPSF library is known for JWST NIRSPEC/NRS1"):
        STDPSFMethod(psf_path=hrc_file, wings=None).prepare(det)


def test_header_oversampling(tmp_path):
    path = write_stdpsf(tmp_path / "STDPSF_WFI01_F158.fits", HRC_GRID, HRC_GRID,
                        lambda *a: 2.0, npix=21, OVERSAMP=3)
    det = make_detector(mission="roman", instrument="WFI", detector="WFI01", filter="F158",
                        pupil=None)
    model = STDPSFMethod(psf_path=path, wings=None).prepare(det)
    assert model.oversampling == model.library_oversampling == 3
    epsf = model.evaluate(100.0, 100.0, size=9)  # odd sample count: copied, not resampled
    assert epsf.shape == (27, 27) and epsf.sum() == pytest.approx(9.0)
    lib = fits.getdata(path)[0].astype(float)
    np.testing.assert_allclose(epsf[3:24, 3:24], lib * 9 / lib.sum(), rtol=1e-6)
    forced = STDPSFMethod(psf_path=path, library_oversampling=4, wings=None).prepare(det)
    assert forced.library_oversampling == 4


def test_library_extended_by_the_optical_wings(tmp_path):
    """A 25 px library with real wings (the HST-like truth of `tests.psf._synthetic`)
    is extended beyond its box by the optical model: the library's shape is kept inside
    the transition annulus, the stamp holds the model's enclosed fraction and a few per
    cent of the light lies beyond the library's box (measured 4.3 %)."""
    from astropy.io import fits

    from spike.psf.base import DetectorInfo
    from tests.psf._synthetic import _sample, encircled_energy, hst_wcs

    u = (np.arange(101) - 50) / 4  # STDPSF: 101 samples, the centre on a sample
    library = 16 * _sample(0.3, *np.meshgrid(u, u))
    header = fits.Header({"NXPSFS": 2, "NYPSFS": 2, "IPSFX01": 1, "IPSFX02": 1024,
                          "JPSFY01": 1, "JPSFY02": 1024, "OVERSAMP": 4})
    path = tmp_path / "STDPSF_ACSHRC_F606W.fits"
    fits.PrimaryHDU(np.repeat(library[None], 4, axis=0).astype(np.float32),
                    header=header).writeto(path)
    det = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                       pupil=None, wcs=hst_wcs((1024, 1024)), shape=(1024, 1024),
                       filename="j_flt.fits", extra={"pa_v3": 0.0})
    model = STDPSFMethod(psf_path=path).prepare(det)
    bare = STDPSFMethod(psf_path=path, wings=None).prepare(det)
    assert model.diagnostics["wings"] == "optical" and bare.diagnostics["wings"] is None
    wide, inner = model.evaluate(512.0, 512.0, size=81), bare.evaluate(512.0, 512.0, size=25)
    assert 0.95 < wide.sum() / 16 < 0.995
    assert 0.02 < (wide.sum() - model.evaluate(512.0, 512.0, size=25).sum()) / 16 < 0.06
    radii = (1.0, 2.0, 4.0, 8.0)
    np.testing.assert_allclose(encircled_energy(wide, 4, radii, norm=8.5),
                               encircled_energy(inner, 4, radii, norm=8.5), rtol=1e-9)
