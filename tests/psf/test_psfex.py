"""Tests of the PSFEx method on a real HST exposure.

Source Extractor and PSFEx run for real (Debian packages ``source-extractor`` and
``psfex``) on the ACS/HRC exposure of 47 Tuc shipped with ``spherical_geometry``
(``j8bt06nyq_flt.fits``: electrons, crowded, saturated stars flagged in DQ). The model is
compared with what the image itself says: the FWHM of bright isolated stars measured on
the pixels, and spike's ePSF conventions (shape, centre, normalisation). The pure helpers
(polynomial order, ``.psf`` reading, star selection, input images) are tested on small
synthetic inputs.
"""

import json
import shutil

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage, optimize

from spike.datasets.hst import hst_example_path
from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf.base import DetectorInfo, ExposurePixels
from spike.psf.psfex import PSFExMethod, PSFExModel, find_psfex
from tests.psf._helpers import gaussian_psf

HAVE_PROGRAMS = bool((shutil.which("source-extractor") or shutil.which("sex"))
                     and shutil.which("psfex"))
needs_programs = pytest.mark.skipif(
    not HAVE_PROGRAMS, reason="Source Extractor and PSFEx are not installed "
    "(apt-get install source-extractor psfex)")

OS = 4
FILENAME = "j8bt06nyq_flt.fits"


# ----------------------------------------------------------------------------- helpers


def _gaussian(coords, amp, x0, y0, sx, sy, theta, back):
    x, y = coords
    c, s = np.cos(theta), np.sin(theta)
    u = (x - x0) * c + (y - y0) * s
    v = -(x - x0) * s + (y - y0) * c
    return amp * np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2)) + back


def fit_fwhm(image, x, y):
    """FWHM (geometric mean of the axes) and centre of a 2-D Gaussian fit, in units of x."""
    p0 = [image.max(), 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    p, _ = optimize.curve_fit(_gaussian, (x.ravel(), y.ravel()), image.ravel(), p0=p0)
    return 2.0 * np.sqrt(2.0 * np.log(2.0)) * np.sqrt(abs(p[3] * p[4])), (p[1], p[2])


def epsf_fwhm(psf):
    """FWHM (detector pixels) and fitted centre offset of an ePSF stamp at OS."""
    n = psf.shape[0]
    y, x = (np.mgrid[:n, :n] - (n - 1) / 2) / OS
    return fit_fwhm(psf, x, y)


def central_centroid(psf, radius=2.0):
    """First moment (detector pixels) within ``radius`` pixels of the stamp centre."""
    n = psf.shape[0]
    y, x = (np.mgrid[:n, :n] - (n - 1) / 2) / OS
    inside = np.hypot(x, y) < radius
    w = psf[inside]
    return (w * x[inside]).sum() / w.sum(), (w * y[inside]).sum() / w.sum()


def isolated_stars(sci, dq, *, half=5):
    """Bright unsaturated stars with a clean 17x17 box and no bright neighbour in 25x25."""
    bad = (dq != 0) | ~np.isfinite(sci)
    peaks = np.argwhere((sci == ndimage.maximum_filter(sci, 13)) & (sci > 3000)
                        & (sci < 60000))
    stars = []
    for yy, xx in peaks:
        if not (12 <= yy < sci.shape[0] - 12 and 12 <= xx < sci.shape[1] - 12):
            continue
        if bad[yy - 8:yy + 9, xx - 8:xx + 9].any():
            continue
        box = sci[yy - 12:yy + 13, xx - 12:xx + 13].copy()
        box[9:16, 9:16] = 0
        if box.max() > 0.05 * sci[yy, xx] + np.median(box):
            continue
        stamp = sci[yy - half:yy + half + 1, xx - half:xx + half + 1]
        y, x = np.mgrid[-half:half + 1, -half:half + 1].astype(float)
        fwhm, _ = fit_fwhm(stamp, x, y)
        stars.append((int(xx), int(yy), fwhm))
    return stars


def detector(data, *, good=None, saturated=None, err=None, filename=FILENAME, wcs=None):
    """An ACS/HRC `DetectorInfo` whose ``pixels`` returns the given arrays."""
    good = np.isfinite(data) if good is None else good

    def pixels():
        return ExposurePixels(data=data, good=good, saturated=saturated, err=err)

    return DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                        pupil=None, wcs=wcs, shape=data.shape, filename=filename,
                        pixels=pixels, extra={"pa_v3": 15.79167})


@pytest.fixture(scope="module")
def hrc():
    """The ACS/HRC exposure: SCI, ERR, DQ arrays and the SCI header."""
    with fits.open(hst_example_path("acs_hrc")) as hdul:
        return {"sci": hdul["SCI", 1].data.astype(float),
                "err": hdul["ERR", 1].data.astype(float),
                "dq": hdul["DQ", 1].data.astype(np.int64),
                "header": hdul["SCI", 1].header.copy()}


@pytest.fixture(scope="module")
def hrc_detector(hrc):
    sci, dq = hrc["sci"], hrc["dq"]
    return detector(sci, good=(dq == 0) & np.isfinite(sci), saturated=(dq & (256 | 2048)) > 0,
                    err=hrc["err"], wcs=WCS(hrc["header"]))


@pytest.fixture(scope="module")
def run(hrc_detector, tmp_path_factory):
    """One PSFEx run with the default options; returns the model and its work directory."""
    workdir = tmp_path_factory.mktemp("psfex_work")
    if not HAVE_PROGRAMS:
        pytest.skip("Source Extractor and PSFEx are not installed")
    model = PSFExMethod(oversampling=OS, workdir=workdir).prepare(hrc_detector)
    return model, workdir


@pytest.fixture(scope="module")
def stars(hrc):
    found = isolated_stars(hrc["sci"], hrc["dq"])
    assert len(found) >= 3
    return found


# ------------------------------------------------------------------- real PSFEx runs


@needs_programs
def test_epsf_convention(run):
    model, _ = run
    assert isinstance(model, PSFExModel)
    assert model.data.accepted >= 10
    psf = model.evaluate(512.0, 512.0, size=11)
    assert psf.shape == (11 * OS, 11 * OS)
    assert psf.dtype == np.float64
    # the model box (psf_size=25) is extended by the optical model's wings to 81 px: the
    # stamps hold the optical model's enclosed fraction there, less in smaller ones
    sums = {n: model.evaluate(512.0, 512.0, size=n).sum() / OS**2 for n in (11, 25, 41, 81)}
    assert 0.8 < sums[11] < sums[25] < sums[41] < sums[81] < 0.995
    assert 0.01 < sums[41] - sums[25] < 0.04  # the halo beyond the PSFEx box
    np.testing.assert_allclose(psf.sum(), sums[11] * OS**2)
    # at detector sampling the ePSF sums to the same fraction (photutils' convention)
    detector_sampled = psf[OS // 2::OS, OS // 2::OS]
    np.testing.assert_allclose(detector_sampled.sum(), psf.sum() / OS**2, rtol=0.02)
    d = model.diagnostics
    json.dumps(d)
    assert d["wings"] == "optical" and d["support_px"] == 12.5
    assert d["n_stars"] == model.data.accepted and d["chi2"] > 0


@needs_programs
def test_ee_agrees_with_epsf_and_the_stars(run, hrc_detector):
    """EE(2, 4, 8 px) / EE(12 px) of PSFEx, the ``epsf`` method and the stars agree.

    Measured: PSFEx / epsf 0.99-1.01, 0.98-1.00, 1.00 over the detector (model against
    model); PSFEx against the exposure's stars (same pixels, mask and annulus background,
    `tests.psf._scoring`) 0.99, 0.99, 1.00; before PSF_SIZE 25 and the wings, the
    drizzled PSFEx was 1.01-1.03, 1.01-1.02, 1.014-1.018 against the mosaic's stars.
    """
    from spike.psf.epsf import EPSFMethod
    from tests.psf._scoring import scoring_stars, star_ee_ratios
    from tests.psf._synthetic import encircled_energy

    model, _ = run
    epsf = EPSFMethod().prepare(hrc_detector)
    for xy in [(300.0, 300.0), (700.0, 700.0), (512.0, 512.0)]:
        a, b = (encircled_energy(m.evaluate(*xy, size=25), OS, (2.0, 4.0, 8.0), norm=12.0)
                for m in (model, epsf))
        np.testing.assert_allclose(a / b, 1.0, atol=0.02)
    pixels = hrc_detector.pixels()
    xy = scoring_stars(pixels, saturation=155000.0)[:25]
    ratios = np.median(star_ee_ratios(model, pixels, xy), axis=0)
    np.testing.assert_allclose(ratios, 1.0, atol=0.02)


@needs_programs
@pytest.mark.parametrize("position", [(512.0, 512.0), (150.3, 820.7), (900.0, 120.5)])
def test_centred(run, position):
    model, _ = run
    psf = model.evaluate(*position, size=15)
    cx, cy = central_centroid(psf)
    assert abs(cx) <= 0.05 and abs(cy) <= 0.05
    _, (fx, fy) = epsf_fwhm(psf)
    assert abs(fx) <= 0.05 and abs(fy) <= 0.05


@needs_programs
def test_fwhm_matches_the_stars(run, stars):
    model, _ = run
    measured = np.array([fwhm for _, _, fwhm in stars])
    modelled = np.array([epsf_fwhm(model.evaluate(x, y, size=11))[0] for x, y, _ in stars])
    # an HRC F606W star is about 2.1 pixels wide
    assert 1.8 < np.median(measured) < 2.4
    np.testing.assert_allclose(modelled, measured, rtol=0.05)


@needs_programs
def test_spatial_variation(run):
    model, _ = run
    corners = [(60.0, 60.0), (960.0, 960.0), (60.0, 960.0)]
    psfs = [model.evaluate(x, y, size=11) for x, y in corners]
    # the polynomial is evaluated: the PSF changes over the detector...
    for other in psfs[1:]:
        assert np.abs(other - psfs[0]).max() > 1e-3 * psfs[0].max()
    # ...but stays an HRC PSF of about the same width
    widths = [epsf_fwhm(p)[0] for p in psfs]
    assert max(widths) / min(widths) < 1.08
    # 0-based spike positions are PSFEx's 1-based X_IMAGE - 1; far outside the fitted
    # stars the position is clamped to their range
    zero, scale = model.data.zero, model.data.scale
    assert model.context(zero[0] - 1, zero[1] - 1) == pytest.approx(zero)
    lo = tuple(z - abs(s) / 2 for z, s in zip(zero, scale, strict=True))
    assert model.context(-5000.0, -5000.0) == pytest.approx(lo)
    np.testing.assert_allclose(model.evaluate(-5000.0, -5000.0, size=5),
                               model.evaluate(lo[0] - 1, lo[1] - 1, size=5), rtol=1e-9)


@needs_programs
def test_temporary_files_removed(run):
    _, workdir = run
    assert workdir.is_dir()
    assert list(workdir.iterdir()) == []


@needs_programs
def test_user_configuration(run, tmp_path, hrc_detector):
    """The user's own configuration files are used; the options still win over them."""
    from importlib.resources import files

    shipped = files("spike.psf") / "data" / "psfex"
    conv = tmp_path / "my.conv"
    conv.write_text((shipped / "spike.conv").read_text())
    sex = tmp_path / "my.sex"
    sex.write_text((shipped / "spike.sex").read_text().replace(
        "FILTER_NAME      spike.conv", f"FILTER_NAME      {conv}"))
    psfex = tmp_path / "my.psfex"
    psfex.write_text((shipped / "spike.psfex").read_text().replace(
        "PSFVAR_DEGREES     2", "PSFVAR_DEGREES     3"))
    method = PSFExMethod(oversampling=OS, degree=1, basis="none", max_stars=40,
                         sextractor_config=sex, psfex_config=psfex, workdir=tmp_path / "w")
    model = method.prepare(hrc_detector)
    assert model.data.degree == 1  # the option, not the file
    assert model.data.basis.shape == (3, 101, 101)  # PSF_SIZE: psf_size 25 x 4, odd
    reference, _ = run
    a, b = (epsf_fwhm(m.evaluate(400.0, 600.0, size=11))[0] for m in (model, reference))
    assert a == pytest.approx(b, rel=0.05)
    assert list((tmp_path / "w").iterdir()) == []


@needs_programs
def test_too_few_stars(hrc, tmp_path):
    sci, dq = hrc["sci"], hrc["dq"]
    cut = (slice(400, 480), slice(400, 480))
    det = detector(sci[cut], good=dq[cut] == 0, err=hrc["err"][cut])
    with pytest.raises(PSFMethodError, match=rf"{FILENAME}: too few PSF stars: PSFEx "
                       r"accepted \d of \d+ \(need at least 10; \d+ sources detected, "
                       r"\d+ candidates .*PSFEx said: .*detections"):
        PSFExMethod(workdir=tmp_path).prepare(det)
    assert list(tmp_path.iterdir()) == []


@needs_programs
def test_empty_image(tmp_path):
    noise = np.random.default_rng(5).normal(100.0, 5.0, (128, 128))
    det = detector(noise, err=np.full(noise.shape, 5.0), filename="empty_flt.fits")
    with pytest.raises(PSFMethodError, match=r"empty_flt.fits: too few PSF stars: PSFEx "
                       r"accepted 0 of 0 .*0 sources detected.*WARNING"):
        PSFExMethod(workdir=tmp_path).prepare(det)
    assert list(tmp_path.iterdir()) == []


@needs_programs
def test_failing_program_named(tmp_path, monkeypatch):
    """A crashing PSFEx is reported with the exposure's name and its stderr."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "psfex"
    fake.write_text("#!/bin/sh\necho 'fake psfex: out of cheese' >&2\nexit 3\n")
    fake.chmod(0o755)
    (bindir / "source-extractor").symlink_to(shutil.which("source-extractor")
                                             or shutil.which("sex"))
    monkeypatch.setenv("PATH", str(bindir))
    data = gaussian_psf((64, 64), sigma=1.0, total=1e5) + 10.0
    det = detector(data, err=np.full(data.shape, 3.0), filename="crash_flt.fits")
    work = tmp_path / "work"
    with pytest.raises(PSFMethodError, match=r"crash_flt.fits: PSFEx exited with 3: "
                       r"fake psfex: out of cheese"):
        PSFExMethod(workdir=work).prepare(det)
    assert list(work.iterdir()) == []


@needs_programs
def test_user_configuration_error_reported(tmp_path):
    bad = tmp_path / "bad.sex"
    bad.write_text("FILTER Y\nFILTER_NAME /no/such/filter.conv\n")
    data = gaussian_psf((64, 64), sigma=1.0, total=1e5) + 10.0
    det = detector(data, err=np.full(data.shape, 3.0), filename="conf_flt.fits")
    with pytest.raises(PSFMethodError, match=r"conf_flt.fits: Source Extractor exited with "
                       r"1: .*cannot open /no/such/filter.conv"):
        PSFExMethod(sextractor_config=bad, workdir=tmp_path / "w").prepare(det)
    assert list((tmp_path / "w").iterdir()) == []


# ------------------------------------------------------------- errors before any run


def test_programs_missing(tmp_path, monkeypatch, hrc_detector):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(PSFDataUnavailableError,
                       match=r"Source Extractor is not on PATH \(looked for "
                             r"'source-extractor' and 'sex'\); PSFEx is not on PATH.*apt-get"):
        PSFExMethod(workdir=tmp_path / "w").prepare(hrc_detector)
    assert not (tmp_path / "w").exists() or list((tmp_path / "w").iterdir()) == []


@needs_programs
def test_programs_found_under_upstream_name(tmp_path, monkeypatch):
    real = {name: shutil.which(name) for name in ("source-extractor", "sex", "psfex")}
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "sex").symlink_to(real["source-extractor"] or real["sex"])
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(PSFDataUnavailableError, match=r"^PSFEx is not on PATH"):
        find_psfex()
    (bindir / "psfex").symlink_to(real["psfex"])
    assert find_psfex() == {"sextractor": str(bindir / "sex"),
                            "psfex": str(bindir / "psfex")}


def test_needs_pixels():
    det = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                       pupil=None, wcs=None, shape=(10, 10), filename="nopix_flt.fits")
    with pytest.raises(PSFMethodError, match=r"nopix_flt.fits: PSF method 'psfex' needs the "
                       r"exposure's pixels, but DetectorInfo.pixels is not set"):
        PSFExMethod().prepare(det)


def test_mission_checked():
    det = detector(np.zeros((8, 8)))
    det = DetectorInfo(mission="euclid", instrument="VIS", detector="1", filter="VIS",
                       pupil=None, wcs=None, shape=(8, 8), filename="e.fits",
                       pixels=det.pixels)
    with pytest.raises(PSFMethodError, match="supports missions hst, jwst, roman, not 'euclid'"):
        PSFExMethod().prepare(det)


@pytest.mark.parametrize(("option", "value", "message"), [
    ("psf_size", 20, "psf_size must be an odd integer"),
    ("psf_size", 1, "psf_size must be an integer >= 3"),
    ("degree", -1, "degree must be an integer >= 0"),
    ("degree", 1.5, "degree must be an integer"),
    ("min_snr", 0, "min_snr must be a positive number"),
    ("max_stars", 3, "max_stars must be an integer >= 10"),
    ("max_ellipticity", 1.5, r"max_ellipticity must be in \(0, 1\]"),
    ("fwhm_range", (3.0, 1.0), "fwhm_range must satisfy 0 < min < max"),
    ("fwhm_range", "wide", "fwhm_range must be two numbers"),
    ("saturation", -5, "saturation must be a positive number"),
    ("gain", -1, "gain must be a positive number"),
    ("gain", "high", "gain must be a positive number"),
    ("basis", "shapelets", "basis must be one of"),
    ("sextractor_config", "/no/such/file.sex", "sextractor_config '/no/such/file.sex' is not"),
])
def test_option_validation(option, value, message):
    with pytest.raises(ValueError, match=message):
        PSFExMethod(**{option: value})


def test_describe():
    info = PSFExMethod(oversampling=2, degree=1).describe()
    assert info["method"] == "psfex"
    assert info["oversampling"] == 2
    assert info["degree"] == 1
    assert info["psf_size"] == 25
    assert PSFExMethod().model_samples == 101
    assert PSFExMethod(oversampling=3, psf_size=5).model_samples == 15
