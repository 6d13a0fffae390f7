"""Tests of the GalSim Roman WFI PSF method (``--method galsim``)."""

import subprocess
import sys

import galsim  # a hard dependency: a broken install fails here instead of skipping
import numpy as np
import pytest

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf import galsim_method as gm
from spike.psf.base import DetectorInfo
from spike.psf.galsim_method import GalSimPSFMethod, galsim_bandpass_name
from spike.psf.registry import get_method

OS = 4
#: Centre of a full SCA array, 0-based.
MID = (gm.SCA_PIXELS - 1) / 2


def make_roman_wcs(*, scale=0.11, scale_y=None, skew=0.0, rotation=0.0, parity=-1,
                   shape=(4088, 4088), crval=(10.0, -30.0), origin=(0, 0)):
    """Return a Roman-like TAN gwcs (detector -> world), 0-based pixels.

    ``parity=-1`` is the usual sky parity of DMS science-frame arrays (east left of north),
    ``+1`` the mirror image (GalSim's SCA frame). ``rotation`` turns the detector on the sky
    (deg). ``origin`` makes the WCS of a cut-out starting at that pixel of the full array.
    """
    import astropy.units as u
    from astropy.coordinates import ICRS
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs import wcs as gwcs_wcs

    sy = scale if scale_y is None else scale_y
    th = np.radians(rotation)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    matrix = rot @ np.array([[parity * scale, skew], [0.0, sy]]) / 3600.0
    ny, nx = shape
    transform = (
        (models.Shift(origin[0] - (nx - 1) / 2) & models.Shift(origin[1] - (ny - 1) / 2))
        | models.AffineTransformation2D(matrix=matrix, translation=[0.0, 0.0])
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(crval[0], crval[1], 180.0)
    )
    detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    world = cf.CelestialFrame(name="world", reference_frame=ICRS(), unit=(u.deg, u.deg))
    return gwcs_wcs.WCS([(detector, transform), (world, None)])


def make_roman_detector(*, sca=7, filter="F158", shape=(4088, 4088), extra=None,
                        mission="roman", instrument="WFI", detector=None, **wcs_kwargs):
    """Return a Roman WFI `DetectorInfo` with `make_roman_wcs`."""
    full = wcs_kwargs.pop("full_shape", shape)
    wcs = make_roman_wcs(shape=full, **wcs_kwargs)
    return DetectorInfo(mission=mission, instrument=instrument,
                        detector=detector or f"WFI{sca:02d}", filter=filter, pupil=None,
                        wcs=wcs, shape=shape, filename=f"r0001_wfi{sca:02d}_cal.asdf",
                        extra=dict(extra or {}))


def centroid(a):
    """``(x, y)`` centroid of ``a`` relative to its centre, in array samples."""
    ny, nx = a.shape
    yy, xx = np.mgrid[:ny, :nx]
    s = a.sum()
    return (a * xx).sum() / s - (nx - 1) / 2, (a * yy).sum() / s - (ny - 1) / 2


def second_moments(a):
    ny, nx = a.shape
    yy, xx = np.mgrid[:ny, :nx]
    cx, cy = (a * xx).sum() / a.sum(), (a * yy).sum() / a.sum()
    return (a * (xx - cx) ** 2).sum() / a.sum(), (a * (yy - cy) ** 2).sum() / a.sum()


def fwhm(a, samples_per_unit):
    """FWHM (in the unit) of the circle with the area above half maximum (cubic zoom x4)."""
    from scipy import ndimage

    z = ndimage.zoom(a, 4, order=3)
    area = (z >= z.max() / 2).sum() / (4 * samples_per_unit) ** 2
    return 2 * np.sqrt(area / np.pi)


@pytest.fixture(scope="module")
def method():
    """Cheap settings: one grid node per SCA, 3 wavelengths."""
    return GalSimPSFMethod(oversampling=OS, n_waves=3, n_grid=1)


@pytest.fixture(scope="module")
def f158(method):
    return method.prepare(make_roman_detector())


@pytest.fixture(scope="module")
def f158_epsf(f158):
    return f158.evaluate(MID, MID, size=25)


def test_shape_dtype_and_normalisation(f158, f158_epsf):
    small = f158_epsf
    big = f158.evaluate(MID, MID, size=41)
    assert small.shape == (25 * OS, 25 * OS)
    assert small.dtype == np.float64
    enclosed = small.sum() / OS**2
    assert 0.9 < enclosed < 1.0
    # a bigger stamp holds more flux, but still less than the whole PSF
    assert enclosed < big.sum() / OS**2 < 1.0
    assert small.min() > -1e-6 * small.max()


def test_matches_galsim_pixel_convolved_rendering():
    """Same ePSF as GalSim's own Convolve(PSF, Pixel) drawn without a second pixel."""
    size = 15
    n = size * OS
    model = GalSimPSFMethod(oversampling=OS, n_waves=1, n_grid=1).prepare(
        make_roman_detector(parity=1))
    assert model.frame == "galsim"
    ours = model.evaluate(MID, MID, size=size)
    pos = galsim.PositionD(*model.sca_position(MID, MID))
    psf = galsim.roman.getPSF(7, "H158", SCA_pos=pos, pupil_bin=8,
                              wavelength=model.wavelengths[0])
    c = psf.centroid
    profile = galsim.Convolve(psf.shift(-c.x, -c.y), galsim.Pixel(0.11))
    ref = profile.drawImage(nx=n, ny=n, scale=0.11 / OS, method="no_pixel").array * OS**2
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-3 * ref.max())
    assert ours.sum() == pytest.approx(ref.sum(), rel=1e-3)


def test_centroid_at_array_centre(f158_epsf):
    cx, cy = centroid(f158_epsf)
    assert abs(cx) / OS < 0.01
    assert abs(cy) / OS < 0.01


def test_without_recentring_the_chief_ray_is_centred():
    """GalSim's zero-tilt position is off the light centroid by coma (documented)."""
    model = GalSimPSFMethod(n_waves=1, n_grid=1, recenter=False).prepare(
        make_roman_detector())
    cx, cy = centroid(model.evaluate(MID, MID, size=25))
    assert np.hypot(cx, cy) / OS > 0.03


def test_fwhm_f158(f158, f158_epsf):
    # measured: ePSF 1.39 px (0.152"), optical 0.134" (n_waves=5)
    assert 1.3 < fwhm(f158_epsf, OS) < 1.5
    angular = f158.angular_psf(MID, MID, size=25)
    assert 0.12 < fwhm(angular.data, 1 / angular.pixel) < 0.15


def test_fwhm_grows_with_wavelength(method):
    models = {f: method.prepare(make_roman_detector(filter=f)) for f in ("F062", "F213")}
    epsf = {f: fwhm(m.evaluate(MID, MID, size=15), OS) for f, m in models.items()}
    optical = {}
    for f, m in models.items():
        angular = m.angular_psf(MID, MID, size=15)
        optical[f] = fwhm(angular.data, 1 / angular.pixel)
    # measured: optical 0.053" vs 0.181", ePSF 1.16 vs 1.74 px
    assert optical["F213"] > 3 * optical["F062"]
    assert epsf["F213"] > 1.3 * epsf["F062"]


def test_position_dependence():
    model = GalSimPSFMethod(n_waves=1, n_grid=2).prepare(make_roman_detector())
    a = model.evaluate(0.0, 0.0, size=15)
    b = model.evaluate(4087.0, 4087.0, size=15)
    diff = np.abs(a - b).max() / a.max()
    assert 0.01 < diff < 0.3
    assert a.sum() == pytest.approx(b.sum(), rel=0.01)


@pytest.mark.parametrize(("sca", "flip"), [(7, np.flipud), (3, np.fliplr)])
def test_science_frame_is_galsim_frame_mirrored(sca, flip):
    """SIAF Det -> Sci: y flips for SCA 7 (DetSciYAngle 180), x for SCA 3 (0)."""
    m = GalSimPSFMethod(n_waves=1, n_grid=1)
    sci = m.prepare(make_roman_detector(sca=sca, parity=-1))
    gal = m.prepare(make_roman_detector(sca=sca, parity=1))
    assert (sci.frame, gal.frame) == ("science", "galsim")
    a = sci.evaluate(MID, MID, size=15)
    b = gal.evaluate(MID, MID, size=15)
    np.testing.assert_allclose(a, flip(b), rtol=0, atol=1e-9 * a.max())
    assert np.abs(a - b).max() > 0.01 * a.max()  # the PSF is not mirror symmetric


@pytest.mark.parametrize(
    ("sca", "parity", "origin", "xy", "expected"),
    [
        (7, 1, (0, 0), (0.0, 0.0), (1.0, 1.0)),
        (7, 1, (100, 200), (10.0, 20.0), (111.0, 221.0)),
        (7, -1, (0, 0), (0.0, 0.0), (1.0, 4088.0)),
        (7, -1, (100, 200), (10.0, 20.0), (111.0, 3868.0)),
        (3, -1, (100, 200), (10.0, 20.0), (3978.0, 221.0)),
        (18, -1, (0, 0), (4087.0, 4087.0), (1.0, 4088.0)),
    ],
)
def test_sca_pos_convention(sca, parity, origin, xy, expected):
    model = GalSimPSFMethod(n_waves=1).prepare(
        make_roman_detector(sca=sca, parity=parity, extra={"origin": origin}))
    assert model.sca_position(*xy) == pytest.approx(expected)


def test_cutout_matches_full_frame():
    m = GalSimPSFMethod(n_waves=1, n_grid=2)
    full = m.prepare(make_roman_detector())
    cut = m.prepare(make_roman_detector(shape=(200, 300), full_shape=(4088, 4088),
                                        origin=(3800, 3900),
                                        extra={"cutout_origin": (3800, 3900)}))
    assert cut.sca_position(50.0, 60.0) == pytest.approx(full.sca_position(3850.0, 3960.0))
    a = cut.evaluate(50.0, 60.0, size=15)
    b = full.evaluate(3850.0, 3960.0, size=15)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6 * b.max())


def test_independent_of_sky_rotation_and_uses_local_scales():
    m = GalSimPSFMethod(n_waves=1, n_grid=1)
    kwargs = {"scale": 0.108, "scale_y": 0.099, "skew": 0.003}
    a = m.prepare(make_roman_detector(rotation=0.0, **kwargs))
    b = m.prepare(make_roman_detector(rotation=73.0, **kwargs))
    np.testing.assert_allclose(a.jacobian(MID, MID), b.jacobian(MID, MID), atol=1e-9)
    pa = a.evaluate(MID, MID, size=15)
    np.testing.assert_allclose(pa, b.evaluate(MID, MID, size=15), rtol=0, atol=1e-8 * pa.max())
    # stretch of the (science -> GalSim y-flipped) pixel: scales kept, rotation removed
    jac = a.jacobian(MID, MID)
    assert np.hypot(*jac[:, 0]) == pytest.approx(0.108, rel=1e-4)
    assert np.hypot(*jac[:, 1]) == pytest.approx(np.hypot(0.099, 0.003), rel=1e-4)
    # smaller pixels along y -> the PSF spans more of them along y
    square = m.prepare(make_roman_detector(scale=0.108)).evaluate(MID, MID, size=15)
    assert second_moments(pa)[1] > 1.05 * second_moments(square)[1]


def test_nodes_are_cached_across_sources_and_exposures(monkeypatch):
    calls = []

    def counting(*args, **kwargs):
        calls.append(kwargs["wavelength"])
        return gm._load_galsim()[1].getPSF(*args, **kwargs)

    monkeypatch.setattr(gm, "_get_psf", counting)
    monkeypatch.setattr(gm, "_NODES", gm._NodeCache(2**28))
    m = GalSimPSFMethod(n_waves=2, n_grid=2)
    first = m.prepare(make_roman_detector())
    first.evaluate(100.0, 200.0, size=11)
    assert len(calls) == 4 * 2  # four grid nodes, two wavelengths each
    first.evaluate(3000.0, 2500.0, size=11)
    # another exposure of the same SCA and filter: other pointing, roll and pixel scale
    second = GalSimPSFMethod(n_waves=2, n_grid=2).prepare(
        make_roman_detector(crval=(150.0, 2.0), rotation=40.0, scale=0.1095))
    second.evaluate(1234.5, 987.6, size=11)
    assert len(calls) == 8
    # another filter needs new nodes
    m.prepare(make_roman_detector(filter="F213")).evaluate(0.0, 0.0, size=11)
    assert len(calls) == 10


def test_extra_aberrations_change_the_psf(f158_epsf):
    defocus = np.zeros(5)
    defocus[4] = 0.1  # waves at 1293 nm
    model = GalSimPSFMethod(n_waves=3, n_grid=1, extra_aberrations=defocus).prepare(
        make_roman_detector())
    blurred = model.evaluate(MID, MID, size=25)
    assert blurred.max() < 0.95 * f158_epsf.max()


def test_sed_options():
    det = make_roman_detector(filter="F146")

    def mean_wave(**kwargs):
        return np.mean(GalSimPSFMethod(n_waves=3, **kwargs).prepare(det).wavelengths)

    fnu = mean_wave()
    flam = mean_wave(sed="flat_flambda")
    assert flam > fnu
    assert mean_wave(sed="blackbody:3000") > mean_wave(sed="blackbody:30000")
    assert mean_wave(sed=lambda w: np.ones_like(w)) == pytest.approx(flam)
    flat = galsim.SED(galsim.LookupTable([100.0, 3000.0], [1.0, 1.0]), "nm", "flambda")
    assert mean_wave(sed=flat) == pytest.approx(flam, rel=1e-5)
    assert GalSimPSFMethod(sed="blackbody:5800").describe()["sed"] == "blackbody:5800"
    for bad in ("rainbow", "blackbody:-5", 3):
        with pytest.raises(ValueError, match="sed must be"):
            GalSimPSFMethod(sed=bad)
    with pytest.raises(PSFMethodError, match="SED must be finite"):
        GalSimPSFMethod(sed=lambda w: -np.ones_like(w)).prepare(det)
    blue = galsim.SED(galsim.LookupTable([100.0, 1000.0], [1.0, 1.0]), "nm", "flambda")
    with pytest.raises(PSFMethodError, match="cannot be evaluated over the band"):
        GalSimPSFMethod(sed=blue).prepare(det)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("F062", "R062"), ("F087", "Z087"), ("F106", "Y106"), ("F129", "J129"),
     ("F146", "W146"), ("F158", "H158"), ("F184", "F184"), ("F213", "K213"),
     ("H158", "H158"), ("w146", "W146"), ("K213", "K213")],
)
def test_filter_names(name, expected):
    assert galsim_bandpass_name(name) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mission": "jwst"}, "supports missions roman, not 'jwst'"),
        ({"instrument": "NIRCAM"}, "Roman WFI only"),
        ({"detector": "WFI19"}, r"'WFI01' \.\. 'WFI18', got 'WFI19'"),
        ({"detector": "WFI00"}, "got 'WFI00'"),
        ({"detector": "NRCA1"}, "got 'NRCA1'"),
        ({"filter": "F999"}, "no Roman bandpass for filter 'F999'"),
        ({"filter": "PRISM"}, "no Roman bandpass for filter 'PRISM'"),
        ({"extra": {"origin": 5}}, "origin must be an"),
        ({"extra": {"cutout_origin": "x"}}, "origin must be an"),
    ],
)
def test_prepare_errors(kwargs, match):
    with pytest.raises(PSFMethodError, match=match):
        GalSimPSFMethod().prepare(make_roman_detector(**kwargs))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"pupil_bin": 0}, "pupil_bin must be a positive integer"),
        ({"n_waves": 1.5}, "n_waves must be a positive integer"),
        ({"n_grid": True}, "n_grid must be a positive integer"),
        ({"detector_frame": "sky"}, "detector_frame must be one of"),
        ({"extra_aberrations": np.zeros(30)}, "extra_aberrations must be"),
        ({"oversampling": 0}, "oversampling must be a positive integer"),
    ],
)
def test_option_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GalSimPSFMethod(**kwargs)
    with pytest.raises(TypeError):
        GalSimPSFMethod(4)


def test_evaluate_errors(f158):
    with pytest.raises(ValueError, match="size must be a positive odd integer"):
        f158.evaluate(MID, MID, size=24)
    with pytest.raises(ValueError, match="must be finite"):
        f158.evaluate(np.nan, MID, size=25)


def test_galsim_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "galsim", None)
    monkeypatch.setitem(sys.modules, "galsim.roman", None)
    with pytest.raises(PSFDataUnavailableError, match="pip install galsim"):
        GalSimPSFMethod().prepare(make_roman_detector())


def test_registered_and_described():
    assert get_method("galsim") is GalSimPSFMethod
    assert GalSimPSFMethod.missions == ("roman",)
    out = GalSimPSFMethod(extra_aberrations=[0.0] * 5).describe()
    assert out["method"] == "galsim"
    assert {k: out[k] for k in ("oversampling", "pupil_bin", "n_waves", "n_grid", "sed",
                                "recenter", "detector_frame")} == {
        "oversampling": 4, "pupil_bin": 8, "n_waves": 5, "n_grid": 5, "sed": "flat_fnu",
        "recenter": True, "detector_frame": "auto"}
    assert out["galsim_version"] == galsim.__version__
    assert all(isinstance(v, (str, int, float, bool)) or v is None for v in out.values())


def test_import_does_not_load_galsim():
    code = "import sys, spike.psf.galsim_method; print('galsim' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
