"""Tests of the built-in optical PSF method for HST (ACS, WFC3, WFPC2) with FITS WCSs."""

import dataclasses
import importlib.resources
import logging
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
from astropy.wcs import WCS, FITSFixedWarning
from scipy import ndimage

from spike.exceptions import PSFMethodError
from spike.psf import _angular
from spike.psf._bands import HST_INSTRUMENTS, MISSION_INSTRUMENTS, get_band, known_bands
from spike.psf._pupils import PUPILS, sample_pupil
from spike.psf.base import DetectorInfo
from spike.psf.optical import OpticalPSFMethod
from tests.psf._helpers import centroid

OS = 4


def hst_wcs(*, scale, orientat=0.0, shape=(1024, 1024), crval=(150.1, 2.2), scale_y=None,
            sip=None):
    """FITS WCS of an HST-like chip, as in a ``_flt`` header.

    ``orientat`` is the position angle (deg, east of north) of the detector +y axis, and
    east lies to the left of north (negative CD determinant). ``sip`` is an optional
    ``{"A_2_0": ..., ...}`` dict of forward SIP coefficients (order 2).
    """
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"] if sip else ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = crval
    ny, nx = shape
    w.wcs.crpix = [(nx + 1) / 2, (ny + 1) / 2]
    t = np.radians(orientat)
    sx, sy = scale / 3600, (scale if scale_y is None else scale_y) / 3600
    w.wcs.cd = np.array([[-np.cos(t) * sx, np.sin(t) * sy], [np.sin(t) * sx, np.cos(t) * sy]])
    if sip:
        from astropy.wcs import Sip

        a = np.zeros((3, 3))
        b = np.zeros((3, 3))
        for key, value in sip.items():
            (a if key[0] == "A" else b)[int(key[2]), int(key[4])] = value
        w.sip = Sip(a, b, None, None, w.wcs.crpix)
    return w


def hst_detector(instrument="ACS", detector="WFC", filter="F814W", *, scale=0.05,
                 orientat=0.0, pa_v3=0.0, shape=(1024, 1024), extra=None, **wcs_kwargs):
    """Return an HST `DetectorInfo` as the HST adapter will build it."""
    info = {} if pa_v3 is None else {"pa_v3": pa_v3}
    info.update(extra or {})
    wcs = hst_wcs(scale=scale, orientat=orientat, shape=shape, **wcs_kwargs)
    return DetectorInfo(mission="hst", instrument=instrument, detector=detector,
                        filter=filter, pupil=None, wcs=wcs, shape=shape,
                        filename=f"{instrument.lower()}_{detector.lower()}_flt.fits",
                        extra=info)


def fwhm_arcsec(epsf, oversampling, scale):
    """FWHM (arcsec) of the circle with the area of the region above half maximum."""
    area = (epsf >= epsf.max() / 2).sum() / oversampling**2
    return 2 * np.sqrt(area / np.pi) * scale


def ray_profile(img, x, y, rmin, rmax, angles, *, stat=np.mean):
    """``stat`` of ``img`` along rays from ``(x, y)`` (angles in deg, CCW from +x)."""
    r = np.linspace(rmin, rmax, 100)
    out = []
    for a in np.atleast_1d(angles):
        t = np.radians(a)
        out.append(stat(ndimage.map_coordinates(img, [y + r * np.sin(t), x + r * np.cos(t)],
                                                order=1)))
    return np.array(out)


def spike_angle(epsf, rmin, rmax):
    """Direction (deg CCW from +x, modulo 90) of four orthogonal spikes in an ePSF stamp."""
    c = (epsf.shape[0] - 1) / 2
    angles = np.arange(0.0, 90.0, 0.25)
    prof = sum(ray_profile(epsf, c, c, rmin * OS, rmax * OS, angles + 90 * k) for k in range(4))
    return angles[np.argmax(prof)]


def wrapped(angle, period):
    """Angle folded into (-period/2, period/2]."""
    return (angle + period / 2) % period - period / 2


@pytest.fixture(scope="module")
def method():
    return OpticalPSFMethod(oversampling=OS)


@pytest.fixture(scope="module")
def acs_f814w(method):
    return method.prepare(hst_detector())


def test_shape_normalisation_and_centring(acs_f814w):
    small = acs_f814w.evaluate(1000.0, 24.0, size=41)
    big = acs_f814w.evaluate(1000.0, 24.0, size=101)
    assert small.shape == (41 * OS, 41 * OS)
    assert small.dtype == np.float64
    enclosed = small.sum() / OS**2
    assert 0.93 < enclosed < 1.0
    assert enclosed < big.sum() / OS**2 < 1.0
    assert small.min() > -1e-4 * small.max()
    cx, cy = centroid(small)
    assert abs(cx) / OS < 0.01
    assert abs(cy) / OS < 0.01


@pytest.mark.parametrize(
    ("instrument", "detector", "filter", "scale", "orientat"),
    [
        ("ACS", "HRC", "F606W", 0.025, 15.5),
        ("WFC3", "IR", "F160W", 0.13, -40.0),
        ("WFPC2", "WF", "F555W", 0.0996, 109.5),
    ],
)
def test_centring_other_cameras(method, instrument, detector, filter, scale, orientat):
    model = method.prepare(hst_detector(instrument, detector, filter, scale=scale,
                                        orientat=orientat, pa_v3=orientat + 30.0))
    for xy in ((511.5, 511.5), (10.3, 900.8)):
        epsf = model.evaluate(*xy, size=31)
        cx, cy = centroid(epsf)
        assert abs(cx) / OS < 0.01
        assert abs(cy) / OS < 0.01
        assert 0.9 < epsf.sum() / OS**2 < 1.0


def test_fwhm_acs_wfc_f814w(acs_f814w):
    # diffraction (1.03 lambda/D = 0.071") convolved with the 0.05" pixel: 0.080". Real
    # ACS/WFC F814W stars measure 0.09-0.10": CCD charge diffusion, jitter and the
    # red halo are not modelled.
    fwhm = fwhm_arcsec(acs_f814w.evaluate(500.0, 500.0, size=41), OS, 0.05)
    assert 0.075 < fwhm < 0.09


def test_fwhm_wfc3_ir_f160w(method):
    model = method.prepare(hst_detector("WFC3", "IR", "F160W", scale=0.13))
    fwhm = fwhm_arcsec(model.evaluate(500.0, 500.0, size=31), OS, 0.13)
    assert 0.14 < fwhm < 0.16


def test_hst_pupil():
    """2.4 m, 0.33 obscuration, vanes along V2 and V3, pads at 0.89 R (one on +V3)."""
    pupil = sample_pupil(PUPILS["hst"])

    def amp(x, y):
        return pupil.amplitude[np.argmin(abs(pupil.y - y)), np.argmin(abs(pupil.x - x))]

    r = 1.2
    expected = (np.pi * r**2 * (1 - 0.33**2) - 4 * 0.022 * r * (r - 0.33 * r)
                - 3 * np.pi * (0.065 * r) ** 2)
    assert pupil.area == pytest.approx(expected, rel=0.005)
    assert pupil.diameter == pytest.approx(2.4, rel=0.01)
    for x, y in ((0.0, 0.8), (0.0, -0.8), (0.8, 0.0), (-0.8, 0.0)):
        assert amp(x, y) == 0.0  # vanes along +-V2 and +-V3
    assert amp(0.56, 0.56) == 1.0 and amp(-0.56, -0.56) == 1.0
    assert amp(0.3, 0.0) == 0.0  # secondary obscuration (0.396 m)
    assert amp(0.06, 1.07) == 0.0 and amp(0.06, -1.07) == 1.0  # pad on +V3 only
    assert amp(0.93, -0.55) == 0.0 and amp(-0.93, -0.55) == 0.0  # pads at +-120 deg
    ir = sample_pupil(PUPILS["hst-wfc3ir"])
    assert ir.diameter == pytest.approx(2.4 * 0.9755, rel=0.01)
    assert ir.area < 0.92 * pupil.area
    ir_amp = ir.amplitude[np.argmin(abs(ir.y - 0.8)), np.argmin(abs(ir.x - 0.03))]
    assert ir_amp == 0.0 and amp(0.03, 0.8) == 1.0  # the cold-mask vanes are wider


def test_spikes_along_v2_v3_in_angular_psf():
    band = get_band("ACS", "F814W", channel="WFC")
    psf = _angular.angular_psf(PUPILS["hst"], band, 3, 3.0)
    c = (psf.data.shape[0] - 1) / 2
    r = 1.0 / psf.pixel  # 1 arcsec
    along = ray_profile(psf.data, c, c, 0.5 * r, r, [0, 90, 180, 270])
    diagonal = ray_profile(psf.data, c, c, 0.5 * r, r, [45, 135, 225, 315])
    assert along.min() > 2 * diagonal.max()


@pytest.mark.parametrize(("orientat", "pa_v3"), [(0.0, 0.0), (0.0, 20.0), (30.0, 20.0),
                                                 (-50.0, 100.0)])
def test_spike_direction_follows_pa_v3_and_orientat(method, orientat, pa_v3):
    """Spikes along V3 (position angle PA_V3) point at PA_V3 - ORIENTAT (mod 90) from +x."""
    model = method.prepare(hst_detector(orientat=orientat, pa_v3=pa_v3))
    angle = spike_angle(model.evaluate(300.0, 700.0, size=41), 4, 18)
    assert wrapped(angle - (pa_v3 - orientat), 90) == pytest.approx(0, abs=0.6)


@pytest.mark.parametrize(
    ("instrument", "detector", "filter", "scale", "v3_to_y", "expected"),
    [
        # SIAF V3IdlYAngle: ACS/WFC 177.5 deg, WFC3/UVIS 44.8, WFC3/IR 44.7, WFPC2 WF3 44.7
        ("ACS", "WFC", "F606W", 0.05, 177.5, 2.5),
        ("WFC3", "UVIS", "F606W", 0.0396, 44.8, 45.2),
        ("WFC3", "IR", "F160W", 0.13, 44.7, 45.3),
        ("WFPC2", "WF", "F814W", 0.0996, 44.7, 45.3),
    ],
)
def test_spikes_on_real_camera_orientations(method, instrument, detector, filter, scale,
                                            v3_to_y, expected):
    """ACS/WFC spikes nearly along the detector axes, WFC3 and WFPC2 spikes diagonal."""
    pa_v3 = 123.0
    det = hst_detector(instrument, detector, filter, scale=scale, pa_v3=pa_v3,
                       orientat=pa_v3 + v3_to_y)
    rmin, rmax = (3, 12) if scale > 0.09 else (4, 18)
    angle = spike_angle(method.prepare(det).evaluate(500.0, 500.0, size=31), rmin, rmax)
    assert wrapped(angle - expected, 90) == pytest.approx(0, abs=1.0)


def test_sky_rotation_of_both_leaves_detector_psf_unchanged(method):
    a = method.prepare(hst_detector(orientat=10.0, pa_v3=40.0)).evaluate(9.0, 9.0, size=21)
    b = method.prepare(hst_detector(orientat=70.0, pa_v3=100.0)).evaluate(9.0, 9.0, size=21)
    np.testing.assert_allclose(a, b, atol=2e-5 * a.max())


def test_wfpc2_pc_and_wf(method):
    pc = method.prepare(hst_detector("WFPC2", "PC", "F555W", scale=0.0455))
    wf = method.prepare(hst_detector("WFPC2", "WF", "F555W", scale=0.0996))
    a = pc.evaluate(400.0, 400.0, size=21)
    b = wf.evaluate(400.0, 400.0, size=21)
    assert np.abs(a - b).max() > 0.1 * a.max()
    assert a.max() < b.max()  # the same core falls in fewer, bigger WF pixels
    assert fwhm_arcsec(b, OS, 0.0996) > 1.5 * fwhm_arcsec(a, OS, 0.0455)
    assert wf.convolved.half_width > 2 * pc.convolved.half_width  # field sized per camera
    # the chip number alone, or a detector name with the chip, selects the channel
    bare = hst_detector("WFPC2", "", "F555W", scale=0.0996, extra={"chip": 3})
    named = hst_detector("WFPC2", "WF3", "F555W", scale=0.0996)
    assert method.prepare(bare).convolved is wf.convolved
    assert method.prepare(named).convolved is wf.convolved
    assert method.band(hst_detector("WFPC2", "PC1", "F555W")).channel == "PC"


def test_channel_specific_bands(method):
    wfc = method.band(hst_detector("ACS", "WFC1", "F435W"))
    hrc = method.band(hst_detector("ACS", "HRC", "F435W", scale=0.025))
    assert (wfc.channel, hrc.channel) == ("WFC", "HRC")
    assert wfc.pivot != hrc.pivot
    assert method.band(hst_detector("WFC3", "UVIS2", "f814w")).channel == "UVIS"
    with pytest.raises(PSFMethodError, match=r"give the channel"):
        get_band("ACS", "F814W")


def test_pupil_field_never_selects_the_band(method, caplog):
    """HST has no pupil wheel: a second filter passed as ``pupil`` only warns."""
    det = hst_detector()
    crossed = dataclasses.replace(det, pupil="F606W")
    with caplog.at_level(logging.WARNING, logger="spike.psf.optical"):
        assert method.band(crossed).name == "F814W"
    assert "pupil element F606W is not modelled" in caplog.text


def test_band_table_covers_common_filters():
    acs = ["F435W", "F475W", "F555W", "F606W", "F625W", "F775W", "F814W", "F850LP", "F658N",
           "F502N", "F550M"]
    assert set(acs) <= set(known_bands("ACS", "WFC"))
    assert set(acs) | {"F220W", "F250W", "F330W"} <= set(known_bands("ACS", "HRC"))
    assert {"F220W", "F250W", "F330W"}.isdisjoint(known_bands("ACS", "WFC"))
    assert {"F225W", "F275W", "F336W", "F390W", "F438W", "F475W", "F555W", "F606W", "F625W",
            "F775W", "F814W", "F850LP", "F656N", "F502N"} <= set(known_bands("WFC3", "UVIS"))
    assert {"F098M", "F105W", "F110W", "F125W", "F140W", "F160W", "F127M", "F139M", "F153M",
            "F164N"} <= set(known_bands("WFC3", "IR"))
    wfpc2 = {"F300W", "F336W", "F439W", "F450W", "F555W", "F606W", "F675W", "F702W", "F814W",
             "F656N"}
    assert wfpc2 <= set(known_bands("WFPC2", "PC"))
    assert wfpc2 <= set(known_bands("WFPC2", "WF"))
    for inst, optics in HST_INSTRUMENTS.items():
        for channel in optics.pixel_scales:
            for name in known_bands(inst, channel):
                band = get_band(inst, name, channel=channel)
                assert 0.2 < band.pivot < 1.7
                assert 0 < band.width < 0.5 * band.pivot
    assert set(MISSION_INSTRUMENTS["hst"]) == {"ACS", "WFC3", "WFPC2"}


def test_unknown_filter_detector_and_instrument(method):
    with pytest.raises(PSFMethodError, match=r"'F999W'.*'ACS'"):
        method.prepare(hst_detector(filter="F999W"))
    with pytest.raises(PSFMethodError, match=r"'CLEAR1L'.*'ACS'"):
        method.prepare(hst_detector(filter="CLEAR1L"))
    with pytest.raises(PSFMethodError, match=r"'F160W'.*'WFC3' channel 'UVIS'"):
        method.prepare(hst_detector("WFC3", "UVIS", "F160W"))
    with pytest.raises(PSFMethodError, match=r"detector 'SBC'.*'hst'.*'ACS'"):
        method.prepare(hst_detector(detector="SBC", filter="F122M"))
    with pytest.raises(PSFMethodError, match=r"'hst' instrument 'STIS'.*ACS, WFC3, WFPC2"):
        method.prepare(hst_detector("STIS", "CCD", "50CCD"))


def test_missing_pa_v3_warns(method, caplog):
    with caplog.at_level(logging.WARNING, logger="spike.psf._geometry"):
        method.prepare(hst_detector(pa_v3=None))
    assert "no V3 position angle" in caplog.text


def test_sip_distortion_sets_local_pixel(method):
    """A SIP WCS: the local Jacobian (pixel scale and area) follows the distortion."""
    a20 = 2e-5  # x' = u + a20 u^2: local x scale (1 + 2 a20 u)
    model = method.prepare(hst_detector(sip={"A_2_0": a20}))
    u = 1000.0 - 511.5
    jac = model.frame.jacobian(1000.0, 511.5)
    assert np.hypot(*jac[:, 0]) == pytest.approx(0.05 * (1 + 2 * a20 * u), rel=1e-4)
    assert np.hypot(*jac[:, 1]) == pytest.approx(0.05, rel=1e-4)
    centre = model.evaluate(511.5, 511.5, size=21)
    edge = model.evaluate(1000.0, 511.5, size=21)
    # bigger pixels: a brighter, narrower ePSF along x
    assert edge.max() > centre.max()


def test_prepare_is_cached(method, acs_f814w):
    """Another chip of the same band reuses the band's convolved PSF (timings belong to the
    benchmarks, e.g. benchmarks/bench_hst_epsf.py, not to assertions)."""
    again = method.prepare(hst_detector())
    assert again.convolved is acs_f814w.convolved
    assert acs_f814w.evaluate(100.0, 200.0, size=41).shape == (41 * OS, 41 * OS)


def test_half_plane_mft_matches_full():
    pupil = sample_pupil(PUPILS["hst"], npix=64, supersample=1)
    theta = (np.arange(41) - 20) * 0.03
    half = _angular._mft_intensity(pupil, 0.8e-6, theta)
    t = theta / _angular._ARCSEC_PER_RAD
    k = -2j * np.pi / 0.8e-6
    field = np.exp(k * np.outer(t, pupil.y)) @ pupil.amplitude @ np.exp(k * np.outer(pupil.x, t))
    full = np.abs(field) ** 2
    np.testing.assert_allclose(half / half.max(), full / full.max(), atol=1e-12)


def test_pupil_sampling_avoids_psf_copies():
    """The MFT's periodic PSF copies stay 1.5 fields away: finer pupils for wide UV fields."""
    jwst, hst = PUPILS["jwst"], PUPILS["hst"]
    assert _angular._pupil_npix(jwst, 0.64e-6, 3.6) == 512  # NIRCam F070W default field
    assert _angular._pupil_npix(hst, 0.72e-6, 5.8) == 512  # ACS/WFC F814W
    npix = _angular._pupil_npix(hst, 0.262e-6, 11.6)  # WFPC2 WF F300W
    assert npix > 512 and npix % 64 == 0
    period = 0.262e-6 / (hst.size / npix) * _angular._ARCSEC_PER_RAD
    assert period >= 1.5 * 11.6


def test_reduced_upsampling_keeps_accuracy():
    """Quintic splines at upsampling 2 agree with cubic splines at 4 (large fields)."""
    band = get_band("ACS", "F814W", channel="WFC")
    psf = _angular.angular_psf(PUPILS["hst"], band, 3, 3.0)
    jac = (-0.04, 0.03, 0.03, 0.04)
    ref = _angular.pixel_convolved(psf, jac)
    small = _angular.pixel_convolved(psf, jac, max_size=2 * psf.data.shape[0] + 100)
    assert (ref.order, small.order) == (3, 5)
    assert small.coeffs.shape[0] < 0.6 * ref.coeffs.shape[0]
    rng = np.random.default_rng(3)
    pts = rng.uniform(-0.4, 0.4, size=(2, 5000))

    def sample(conv):
        return ndimage.map_coordinates(conv.coeffs, [conv.center + pts[1] / conv.pixel,
                                                     conv.center + pts[0] / conv.pixel],
                                       order=conv.order, prefilter=False, mode="grid-constant")

    a, b = sample(ref), sample(small)
    assert np.abs(a - b).max() < 5e-5 * a.max()


# ---------------------------------------------------------------------------------------
# Real HST data shipped with installed packages: the spikes of bright stars.


def _package_file(package, path):
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        pytest.skip(f"{package} is not installed")
    target = root.joinpath(path)
    if not target.is_file():
        pytest.skip(f"{package} does not ship {path}")
    return target


def _bright_stars(data, *, count, border, box=9):
    smooth = ndimage.uniform_filter(data, box)
    peaks = (smooth == ndimage.maximum_filter(smooth, 61)) & (
        smooth > np.percentile(smooth, 99.9))
    ys, xs = np.nonzero(peaks)
    keep = (xs > border) & (xs < data.shape[1] - border) & (ys > border) & (
        ys < data.shape[0] - border)
    xs, ys = xs[keep], ys[keep]
    order = np.argsort(smooth[ys, xs])[::-1][:count]
    return list(zip(xs[order], ys[order], strict=True))


def _model_arms(epsf, rmin, rmax):
    """The four spike directions (deg, 0-360, CCW from +x) of a model ePSF stamp."""
    c = (epsf.shape[0] - 1) / 2
    angles = np.arange(0.0, 360.0, 0.5)
    prof = ray_profile(epsf, c, c, rmin * OS, rmax * OS, angles)
    arms = []
    for i in np.argsort(prof)[::-1]:
        if all(abs(wrapped(angles[i] - a, 360)) > 30 for a in arms):
            arms.append(angles[i])
        if len(arms) == 4:
            return arms
    raise AssertionError("fewer than four spikes")


def _data_arms(data, stars, arms, rmin, rmax):
    """Spike directions near ``arms`` in the profile of the stars, stacked.

    Each star's azimuthal profile (median along rays) is high-passed and normalised; the
    median over stars suppresses neighbours and the profile peak within 20 deg of each
    model arm is returned.
    """
    angles = np.arange(0.0, 360.0, 0.5)
    profiles = []
    for x, y in stars:
        prof = ray_profile(data, x, y, rmin, rmax, angles, stat=np.median)
        profiles.append((prof - ndimage.median_filter(prof, size=61, mode="wrap"))
                        / np.median(prof))
    stacked = np.median(profiles, axis=0)
    found = []
    for arm in arms:
        near = np.abs(wrapped(angles - arm, 360)) <= 20
        found.append(float(angles[near][np.argmax(stacked[near])]))
    return found


def _check_arms(data, detector, *, rmin, rmax, nstars=10, tol=3.0):
    """Compare model and data spike directions; return the number of arms compared."""
    model = OpticalPSFMethod(oversampling=OS).prepare(detector)
    ny, nx = data.shape
    arms = _model_arms(model.evaluate(nx / 2, ny / 2, size=2 * rmax + 11), rmin, rmax)
    # saturated stars bleed along the columns: skip arms near +-y
    arms = [a for a in arms
            if min(abs(wrapped(a - 90, 360)), abs(wrapped(a - 270, 360))) >= 15]
    stars = _bright_stars(data, count=nstars, border=rmax + 5)
    found = _data_arms(data, stars, arms, rmin, rmax)
    for arm, seen in zip(arms, found, strict=True):
        assert wrapped(seen - arm, 360) == pytest.approx(0, abs=tol)
    return len(arms)


def test_spikes_match_real_acs_hrc_stars():
    """ACS/HRC F606W of 47 Tuc (spherical_geometry test data): PA_V3 15.8, ORIENTAT 15.5."""
    path = _package_file("spherical_geometry", "tests/data/j8bt06nyq_flt.fits")
    with fits.open(path) as hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        pa_v3 = hdul[0].header["PA_V3"]
        wcs = WCS(hdul[1].header)
        data = hdul[1].data.astype(float)
    det = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                       pupil=None, wcs=wcs, shape=data.shape, filename=path.name,
                       extra={"pa_v3": pa_v3})
    # the HRC's skewed axes put the spikes at ~90, 174, 270 and 354 deg on the detector
    assert _check_arms(data, det, rmin=12, rmax=50, nstars=12) == 2


def test_spikes_match_real_wfpc2_stars():
    """WFPC2 F555W of omega Cen (stsci.tools test data): spikes diagonal on all chips."""
    path = _package_file("stsci.tools", "tests/data/u40x010hm_c0f.fits")
    with fits.open(path) as hdul, warnings.catch_warnings():
        # the old ASCII group-parameter table has TDISPn values astropy does not accept
        warnings.simplefilter("ignore", VerifyWarning)
        pa_v3 = hdul[0].header["PA_V3"]
        groups = hdul[1].data
        cubes = hdul[0].data.astype(float)
    checked = 0
    for chip in range(4):
        row = groups[chip]
        wcs = WCS(naxis=2)
        wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        wcs.wcs.crval = [row["CRVAL1"], row["CRVAL2"]]
        wcs.wcs.crpix = [row["CRPIX1"], row["CRPIX2"]]
        wcs.wcs.cd = [[row["CD1_1"], row["CD1_2"]], [row["CD2_1"], row["CD2_2"]]]
        name = "PC" if row["DETECTOR"] == 1 else "WF"
        det = DetectorInfo(mission="hst", instrument="WFPC2", detector=name, filter="F555W",
                           pupil=None, wcs=wcs, shape=cubes[chip].shape, filename=path.name,
                           extra={"pa_v3": pa_v3, "chip": int(row["DETECTOR"])})
        rmin, rmax = (12, 50) if name == "PC" else (6, 25)
        checked += _check_arms(cubes[chip], det, rmin=rmin, rmax=rmax)
    assert checked == 16
