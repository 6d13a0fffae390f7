"""Tests of the built-in diffraction-limited optical PSF method."""

import logging

import numpy as np
import pytest

from spike.exceptions import PSFMethodError
from spike.psf._angular import _mft_intensity, angular_psf
from spike.psf._bands import INSTRUMENTS, get_band, known_bands
from spike.psf._geometry import LocalFrame
from spike.psf._pupils import PUPILS, CircularPrimary, Pad, PupilSpec, Secondary, sample_pupil
from spike.psf.optical import OpticalPSFMethod
from tests.psf._helpers import centroid, make_detector, make_gwcs

OS = 4


def fwhm_arcsec(epsf, oversampling, scale):
    """FWHM (arcsec) of the circle with the area of the region above half maximum."""
    area = (epsf >= epsf.max() / 2).sum() / oversampling**2
    return 2 * np.sqrt(area / np.pi) * scale


def angular_phase(epsf, order, rmin, rmax, oversampling):
    """Direction (deg, mod 360/order) of the ``order``-fold azimuthal moment in an annulus."""
    n = epsf.shape[0]
    yy, xx = (np.mgrid[:n, :n] - (n - 1) / 2) / oversampling
    r = np.hypot(xx, yy)
    sel = (r >= rmin) & (r <= rmax)
    moment = (epsf[sel] * np.exp(1j * order * np.arctan2(yy[sel], xx[sel]))).sum()
    return np.degrees(np.angle(moment)) / order % (360 / order)


def wrapped(angle, period):
    """Angle folded into (-period/2, period/2]."""
    return (angle + period / 2) % period - period / 2


@pytest.fixture(scope="module")
def method():
    return OpticalPSFMethod(oversampling=OS)


@pytest.fixture(scope="module")
def f200w(method):
    return method.prepare(make_detector())


def test_shape_dtype_and_normalisation(f200w):
    small = f200w.evaluate(1000.0, 900.0, size=41)
    big = f200w.evaluate(1000.0, 900.0, size=101)
    assert small.shape == (41 * OS, 41 * OS)
    assert small.dtype == np.float64
    enclosed = small.sum() / OS**2
    assert 0.8 < enclosed < 1.0
    # a bigger stamp holds more flux, but still less than the whole PSF
    assert enclosed < big.sum() / OS**2 < 1.0
    assert small.min() > -1e-4 * small.max()


def test_matches_direct_pixel_integration():
    """The Fourier pixel integration + spline resampling equals a brute-force ePSF."""
    method = OpticalPSFMethod(oversampling=2, nlambda=1)
    sx, sy = 0.031, 0.040
    model = method.prepare(make_detector(filter="F212N", scale=sx, scale_y=sy))
    size, os_, sub = 11, 2, 8
    epsf = model.evaluate(1023.5, 1023.5, size=size)
    band = get_band("NIRCAM", "F212N")
    pupil = sample_pupil(PUPILS["jwst"])
    # point samples on a grid `sub` times finer, then sum boxes one detector pixel wide
    w = os_ * sub
    m = size * os_ * sub + w
    u = (np.arange(m) - (m - 1) / 2) / w
    lam = band.wavelengths(1)[0] * 1e-6
    theta = u * sx
    per_cell_x = _mft_intensity(pupil, lam, theta)  # isotropic sampling along x
    # anisotropic grid: rescale the y axis by sampling with sy in a second MFT
    from spike.psf import _angular

    arc = _angular._ARCSEC_PER_RAD
    ay = np.exp(-2j * np.pi / lam * np.outer(u * sy / arc, pupil.y))
    ax = np.exp(-2j * np.pi / lam * np.outer(pupil.x, u * sx / arc))
    field = ay @ (pupil.amplitude @ ax)
    dens = np.abs(field) ** 2 * pupil.pixel**4 / (lam**2 * pupil.area)  # per steradian
    cell = (sx / w / arc) * (sy / w / arc)
    assert per_cell_x.shape == dens.shape
    cs = np.cumsum(np.cumsum(np.pad(dens * cell, ((1, 0), (1, 0))), 0), 1)
    box = cs[w:, w:] - cs[:-w, w:] - cs[w:, :-w] + cs[:-w, :-w]
    ref = box[sub // 2 :: sub, sub // 2 :: sub][: size * os_, : size * os_]
    assert ref.shape == epsf.shape
    np.testing.assert_allclose(epsf, ref, atol=2e-3 * ref.max())
    np.testing.assert_allclose(epsf.sum(), ref.sum(), rtol=1e-3)


@pytest.mark.parametrize("xy", [(1023.5, 1023.5), (10.2, 2000.7)])
def test_centring(method, xy):
    model = method.prepare(make_detector(rotation=13.0, scale_y=0.033))
    cx, cy = centroid(model.evaluate(*xy, size=41))
    assert abs(cx) / OS < 0.01
    assert abs(cy) / OS < 0.01


def test_fwhm_f200w(f200w):
    fwhm = fwhm_arcsec(f200w.evaluate(1000.0, 1000.0, size=41), OS, 0.031)
    assert fwhm == pytest.approx(0.066, rel=0.15)
    assert fwhm / 0.031 == pytest.approx(2.1, rel=0.15)


def test_fwhm_scales_with_wavelength(method, f200w):
    lw = method.prepare(make_detector(detector="NRCA5", filter="F444W", scale=0.063))
    fwhm_lw = fwhm_arcsec(lw.evaluate(1000.0, 1000.0, size=41), OS, 0.063)
    fwhm_sw = fwhm_arcsec(f200w.evaluate(1000.0, 1000.0, size=41), OS, 0.031)
    assert fwhm_lw == pytest.approx(0.14, rel=0.15)
    assert fwhm_lw / fwhm_sw == pytest.approx(4.421 / 1.990, rel=0.15)


def test_pupil_orientation():
    """JWST pupil in V2V3: a segment directly above the centre, one strut along +V3."""
    pupil = sample_pupil(PUPILS["jwst"])

    def amp(x, y):
        return pupil.amplitude[np.argmin(abs(pupil.y - y)), np.argmin(abs(pupil.x - x))]

    assert amp(0.0, 1.5) == 0.0  # the +V3 strut
    assert amp(0.0, -1.5) == 1.0  # no strut along -V3
    assert amp(0.25, 1.5) == 1.0  # segment above the centre
    assert amp(0.0, 3.25) == 0.0 and amp(0.3, 3.25) == 1.0  # flat top edge near V3 = 3.31 m
    assert amp(-3.0, 0.0) == 1.0 and amp(3.0, 0.0) == 1.0  # pointed segments at +-V2
    assert amp(0.0, 0.0) == 0.0  # central hole


def test_psf_orientation_and_symmetry(f200w):
    """Mirror symmetric about V2 and V3; segment-lattice lobes along V2 and +-60 deg."""
    epsf = f200w.evaluate(1000.0, 1000.0, size=41)
    np.testing.assert_allclose(epsf, epsf[:, ::-1], atol=1e-9 * epsf.max())
    np.testing.assert_allclose(epsf, epsf[::-1, :], atol=1e-9 * epsf.max())
    assert np.abs(epsf - epsf.T).max() > 0.01 * epsf.max()  # hexagonal, not square
    # the grating lobes of the hexagonal segment lattice (about 0.36 arcsec at 2 um) lie
    # along 0, 60 and 120 deg: the six-fold moment phase is 0 modulo 60 deg
    assert wrapped(angular_phase(epsf, 6, 8, 14, OS), 60) == pytest.approx(0, abs=1)


def test_rotated_detector_rotates_psf(method):
    model0 = method.prepare(make_detector(rotation=0.0))
    model1 = method.prepare(make_detector(rotation=20.0))
    a0 = model0.evaluate(1000.0, 1000.0, size=41)
    a1 = model1.evaluate(1000.0, 1000.0, size=41)
    phase0 = angular_phase(a0, 6, 6, 19, OS)
    phase1 = angular_phase(a1, 6, 6, 19, OS)
    # detector axes rotated by +20 deg in V2V3: the PSF turns by -20 deg on the detector
    assert wrapped(phase1 - phase0 + 20.0, 60) == pytest.approx(0, abs=1)
    assert a0.sum() == pytest.approx(a1.sum(), rel=2e-3)


def test_sky_roll_alone_leaves_detector_psf_unchanged(method):
    a = method.prepare(make_detector(roll=0.0)).evaluate(500.0, 500.0, size=21)
    b = method.prepare(make_detector(roll=40.0)).evaluate(500.0, 500.0, size=21)
    np.testing.assert_allclose(a, b, atol=1e-6 * a.max())


def test_fallback_without_v2v3_frame(method, caplog):
    with_v2v3 = make_gwcs(rotation=5.0, roll=30.0)
    without = make_gwcs(rotation=5.0, roll=30.0, v2v3=False)
    with caplog.at_level(logging.INFO, logger="spike.psf._geometry"):
        frame = LocalFrame(without, pa_v3=30.0, label="test")
    assert "no 'v2v3' frame" in caplog.text
    # identical at the tangent point; elsewhere they differ by the convergence of meridians
    np.testing.assert_allclose(
        frame.jacobian(1023.5, 1023.5), LocalFrame(with_v2v3).jacobian(1023.5, 1023.5), atol=1e-8
    )
    np.testing.assert_allclose(
        frame.jacobian(100.0, 200.0), LocalFrame(with_v2v3).jacobian(100.0, 200.0), atol=1e-5
    )
    det = make_detector(rotation=5.0, roll=30.0, v2v3=False, extra={"pa_v3": 30.0})
    ref = method.prepare(make_detector(rotation=5.0, roll=30.0)).evaluate(9.0, 9.0, size=21)
    got = method.prepare(det).evaluate(9.0, 9.0, size=21)
    np.testing.assert_allclose(got, ref, atol=1e-3 * ref.max())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spike.psf._geometry"):
        method.prepare(make_detector(v2v3=False))
    assert "no V3 position angle" in caplog.text


def test_pupil_wheel_filter(method):
    crossed = make_detector(detector="NRCA5", filter="F444W", pupil="F405N", scale=0.063)
    direct = make_detector(detector="NRCA5", filter="F405N", pupil="CLEAR", scale=0.063)
    wide = make_detector(detector="NRCA5", filter="F444W", pupil="CLEAR", scale=0.063)
    assert method.band(crossed).name == "F405N"
    assert method.band(crossed).default_nlambda() == 1
    a = method.prepare(crossed).evaluate(100.0, 100.0, size=21)
    b = method.prepare(direct).evaluate(100.0, 100.0, size=21)
    c = method.prepare(wide).evaluate(100.0, 100.0, size=21)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.01 * a.max()


def test_niriss_and_miri(method):
    niriss = make_detector(instrument="NIRISS", detector="NIS", filter="CLEAR", pupil="F150W",
                           scale=0.0656)
    assert method.band(niriss).name == "F150W"
    miri = make_detector(instrument="MIRI", detector="MIRIMAGE", filter="F770W", pupil=None,
                         scale=0.11, shape=(1024, 1032))
    epsf = method.prepare(miri).evaluate(500.0, 500.0, size=21)
    assert epsf.shape == (84, 84)
    assert 0.7 < epsf.sum() / OS**2 < 1.0
    # MIRI F770W: lambda/D ~ 0.24 arcsec, FWHM about 0.27 arcsec with the pixel
    assert 0.22 < fwhm_arcsec(epsf, OS, 0.11) < 0.33


def test_unmodelled_pupil_element_warns(method, caplog):
    with caplog.at_level(logging.WARNING, logger="spike.psf.optical"):
        assert method.band(make_detector(pupil="WLP8")).name == "F200W"
    assert "pupil element WLP8 is not modelled" in caplog.text


def test_band_table_complete():
    nircam = set(known_bands("NIRCAM"))
    for name in ("F070W", "F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W",
                 "F150W2", "F322W2", "F140M", "F162M", "F182M", "F210M", "F250M", "F300M",
                 "F335M", "F360M", "F410M", "F430M", "F460M", "F480M", "F164N", "F187N",
                 "F212N", "F323N", "F405N", "F466N", "F470N"):
        assert name in nircam
    assert {"F090W", "F200W", "F277W", "F380M", "F480M"} <= set(known_bands("NIRISS"))
    assert {"F560W", "F1130W", "F2550W"} <= set(known_bands("MIRI"))
    assert set(INSTRUMENTS) == {"NIRCAM", "NIRISS", "MIRI"}


def test_unknown_filter_instrument_and_mission(method):
    with pytest.raises(PSFMethodError, match=r"'F999W'.*'NIRCAM'"):
        method.prepare(make_detector(filter="F999W"))
    with pytest.raises(PSFMethodError, match="NIRSPEC"):
        method.prepare(make_detector(instrument="NIRSPEC", filter="F110W"))
    with pytest.raises(PSFMethodError, match="'hst'"):
        method.prepare(make_detector(mission="hst", instrument="ACS", filter="F814W"))


def test_options_and_describe():
    method = OpticalPSFMethod(oversampling=2, nlambda=3, fov_arcsec=2.5)
    info = method.describe()
    assert info["method"] == "optical"
    assert info["oversampling"] == 2
    assert info["nlambda"] == 3
    assert info["fov_arcsec"] == 2.5
    assert "diffraction-limited" in info["model"]
    with pytest.raises(ValueError, match="nlambda"):
        OpticalPSFMethod(nlambda=0)
    with pytest.raises(ValueError, match="fov_arcsec"):
        OpticalPSFMethod(fov_arcsec=-1)
    with pytest.raises(TypeError):
        OpticalPSFMethod(4)  # options are keyword-only


def test_bad_size(f200w):
    for size in (40, 0, -3, 2.5, "x", None):
        with pytest.raises(ValueError, match="size"):
            f200w.evaluate(10.0, 10.0, size=size)


def test_prepare_is_cached(method, f200w):
    """Another exposure of the same band reuses the band's convolved PSF (the object itself;
    how long that takes is measured by benchmarks/bench_jwst_optical.py, not asserted)."""
    again = method.prepare(make_detector(filename="other_cal.fits"))
    assert again.convolved is f200w.convolved


def test_stamp_beyond_field_warns(caplog):
    model = OpticalPSFMethod(nlambda=1, fov_arcsec=1.0).prepare(make_detector(filter="F212N"))
    with caplog.at_level(logging.WARNING, logger="spike.psf.optical"):
        epsf = model.evaluate(10.0, 10.0, size=51)
    assert "raise fov_arcsec" in caplog.text
    assert epsf[0, 0] == 0.0


def test_enclosed_fraction_physical():
    band = get_band("NIRCAM", "F200W")
    psf = angular_psf(PUPILS["jwst"], band, 5, 3.6)
    assert 0.95 < psf.enclosed < 1.0


def test_pupil_description_is_data():
    """A circular, HST-like pupil with struts and pads goes through the same code."""
    spec = PupilSpec(
        "test-circular",
        primary=CircularPrimary(1.2),
        secondary=Secondary(0.396, (45.0, 135.0, 225.0, 315.0), 0.038),
        pads=(Pad(0.0, 1.0, 0.075), Pad(-0.866, -0.5, 0.075), Pad(0.866, -0.5, 0.075)),
        size=2.5,
    )
    pupil = sample_pupil(spec, npix=256, supersample=2)
    expected = np.pi * (1.2**2 - 0.396**2) - 4 * 0.038 * (1.2 - 0.396) - 3 * np.pi * 0.075**2
    assert pupil.area == pytest.approx(expected, rel=0.02)
    assert pupil.diameter == pytest.approx(2.4, rel=0.02)
    jwst = sample_pupil(PUPILS["jwst"])
    assert jwst.area == pytest.approx(26.4, rel=0.01)
