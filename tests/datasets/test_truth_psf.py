"""The independent truth PSFs of simulated stars (`spike.datasets.truth_psf`).

Checked against what they claim: normalisation and flux, centring, the broadening that
jitter, charge diffusion and IPC must add (second moments grow by exactly the blur's
variance and IPC's kernel variance; FWHM and EE(2 px) measured), and two independent
references: a direct poppy calculation of the same pupil in the detector frame (sampling
and orientation) and GalSim's own drawing of ``galsim.roman.getPSF``.
"""

import math

import astropy.units as u
import numpy as np
import pytest
from astropy.modeling.models import AffineTransformation2D
from gwcs import WCS
from gwcs import coordinate_frames as cf
from scipy.ndimage import gaussian_filter

from spike.datasets import _truth_jwst, _truth_roman
from spike.datasets._truth_sampling import apply_ipc, core_centroid, ipc_kernel
from spike.datasets.truth_psf import JwstTruthPSFMethod, RomanTruthPSFMethod
from spike.exceptions import PSFMethodError
from spike.psf.base import DetectorInfo

OVERSAMPLING = 4
NIRCAM_SW = 0.0311
#: Coarser pupils than the defaults (1024 samples, GalSim bin 8) keep these tests fast.
PUPIL_NPIX, PUPIL_BIN = 512, 16
#: Roman test geometry: SCA 3 (x flipped between science and GalSim frames), cut-out origin.
ROMAN_SCA, ROMAN_ORIGIN = 3, (1500, 2100)
#: A Roman detector -> V2V3 Jacobian (arcsec/px) with unequal scales and a little skew.
ROMAN_JAC = np.array([[-0.1101, 0.0012], [0.0009, 0.1079]])


def affine_wcs(jac):
    """A gwcs whose detector -> v2v3 map is the linear ``jac`` (arcsec per pixel)."""
    det = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    v2v3 = cf.Frame2D(name="v2v3", axes_names=("v2", "v3"), unit=(u.arcsec, u.arcsec))
    return WCS([(det, AffineTransformation2D(matrix=jac, translation=[0, 0])), (v2v3, None)])


def rotation(deg, scale):
    t = math.radians(deg)
    return scale * np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def nircam(jac=None):
    jac = rotation(15.0, NIRCAM_SW) if jac is None else jac
    return DetectorInfo(mission="jwst", instrument="NIRCAM", detector="NRCA1", filter="F200W",
                        pupil="CLEAR", wcs=affine_wcs(jac), shape=(100, 100))


def roman():
    return DetectorInfo(mission="roman", instrument="WFI", detector=f"WFI{ROMAN_SCA:02d}",
                        filter="F158", pupil=None, wcs=affine_wcs(ROMAN_JAC),
                        shape=(64, 64), extra={"cutout_origin": ROMAN_ORIGIN})


def fwhm_and_ee(epsf, radius):
    """FWHM (px) of a 2-D Gaussian fit to the core, flux fraction within ``radius`` px."""
    from photutils.aperture import CircularAperture
    from photutils.psf import fit_fwhm

    c = (epsf.shape[0] - 1) / 2
    box = min(9 * OVERSAMPLING + 1, epsf.shape[0] - 1)
    fwhm = float(np.atleast_1d(fit_fwhm(epsf, xypos=(c, c), fit_shape=box))[0])
    ee = CircularAperture((c, c), r=radius * OVERSAMPLING).do_photometry(epsf)[0][0]
    return fwhm / OVERSAMPLING, ee / OVERSAMPLING**2


def bare_jwst(**kwargs):
    options = {"wfe_rms": 0.0, "jitter": 0.0, "charge_diffusion": 0.0, "ipc": False,
               "nlambda": 1, "recenter": False, "pupil_npix": PUPIL_NPIX} | kwargs
    return JwstTruthPSFMethod(**options)


def bare_roman(**kwargs):
    options = {"extra_aberrations": None, "jitter": 0.0, "charge_diffusion": 0.0,
               "ipc": False, "recenter": False, "cell": 1, "pupil_bin": PUPIL_BIN} | kwargs
    return RomanTruthPSFMethod(**options)


def test_jwst_matches_a_direct_poppy_calculation():
    """Zero WFE/jitter/diffusion at one wavelength: the detector-frame ePSF equals poppy's
    own calculation with the pupil rotated into the detector frame and integrated over the
    pixel here; rotating the other way differs 40 times more (orientation is tested)."""
    import poppy

    size, m = 15, 2  # 2 x 4 point samples per pixel and axis: the truth's own density
    epsf = bare_jwst().prepare(nircam()).evaluate(50.0, 50.0, size=size)

    def direct(angle):
        hexes = poppy.MultiHexagonAperture(
            rings=2, flattoflat=_truth_jwst.SEGMENT_FLAT_TO_FLAT * u.m,
            gap=_truth_jwst.SEGMENT_GAP * u.m, center=False, rotation=angle)
        secondary = poppy.AsymmetricSecondaryObscuration(
            secondary_radius=_truth_jwst.SECONDARY_RADIUS * u.m,
            support_angle=_truth_jwst.STRUT_ANGLES,
            support_width=_truth_jwst.STRUT_WIDTH * u.m, rotation=angle)
        osys = poppy.OpticalSystem(pupil_diameter=_truth_jwst.PUPIL_DIAMETER * u.m,
                                   npix=PUPIL_NPIX, oversample=1)
        osys.add_pupil(poppy.CompoundAnalyticOptic(opticslist=[hexes, secondary]))
        width = OVERSAMPLING * m
        osys.add_detector(pixelscale=NIRCAM_SW / width * u.arcsec / u.pixel,
                          fov_pixels=(size + 2) * width, oversample=1)
        fine = osys.calc_psf(1.990e-6, normalize="first")[0].data
        # pixel integral: windows of width x width point samples, every m samples
        start = m * (OVERSAMPLING + 1) // 2
        idx = start + np.arange(size * OVERSAMPLING) * m
        c = np.pad(np.cumsum(np.cumsum(fine, 0), 1), ((1, 0), (1, 0)))
        lo, hi = idx[:, None], idx[:, None] + width  # rows
        left, right = idx[None, :], idx[None, :] + width  # columns
        return c[hi, right] - c[lo, right] - c[hi, left] + c[lo, left]

    # the detector y axis is V2V3 rotated by +15 deg: the pupil seen from it by -15 deg
    good, bad = direct(-15.0), direct(15.0)
    error = np.abs(epsf - good).max() / good.max()
    assert error < 1.5e-3
    assert np.abs(epsf - bad).max() / good.max() > 20 * error
    assert epsf.sum() == pytest.approx(good.sum(), rel=5e-4)


def test_jwst_normalisation_flux_and_centre():
    """The ePSF holds the angular PSF's flux inside the stamp; with 70 nm WFE (asymmetric)
    its core's 2-D Gaussian centroid is still at the array centre."""
    method = JwstTruthPSFMethod(nlambda=2, pupil_npix=PUPIL_NPIX)
    jac = rotation(-20.0, NIRCAM_SW) @ np.diag([-1.0, 1.02])  # mirrored, anisotropic
    model = method.prepare(nircam(jac))
    epsf = model.evaluate(40.0, 60.0, size=21)
    assert epsf.shape == (84, 84)
    assert model.diagnostics["wfe_rms_nm"] == 70.0
    cx, cy = core_centroid(epsf, 18)
    assert abs(cx - 41.5) < 0.01 * OVERSAMPLING and abs(cy - 41.5) < 0.01 * OVERSAMPLING
    # flux: the angular image's samples that fall inside the stamp (detector frame),
    # blurred and IPC-spread light aside (both leave the stamp by < 0.3 %)
    settings = {"rms_nm": 70.0, "seed": 0, "nlambda": 2, "blur_arcsec": 0.0, "recenter": True,
                "pupil_npix": PUPIL_NPIX}
    bare = bare_jwst(wfe_rms=70.0, nlambda=2, recenter=True).prepare(nircam(jac))
    epsf_bare = bare.evaluate(40.0, 60.0, size=21)
    channel, pivot, width = _truth_jwst.band_of("NIRCAM", "F200W")
    angular = _truth_jwst.angular_psf(channel, pivot, width, npix_field=384, **settings)
    c = (angular.data.shape[0] - 1) / 2
    yy, xx = np.indices(angular.data.shape)
    v2 = (xx - c) * angular.pixel - angular.offset[0]
    v3 = (yy - c) * angular.pixel - angular.offset[1]
    dx, dy = np.linalg.solve(jac, np.array([v2.ravel(), v3.ravel()]))
    inside = (np.abs(dx) < 10.5) & (np.abs(dy) < 10.5)
    expected = angular.data.ravel()[inside].sum()
    assert epsf_bare.sum() / OVERSAMPLING**2 == pytest.approx(expected, rel=2e-3)
    assert epsf.sum() == pytest.approx(epsf_bare.sum(), rel=3e-3)
    assert 0.85 < expected < 0.97


def test_jwst_jitter_diffusion_and_ipc_broaden_the_core_as_expected():
    """Jitter and charge diffusion are a Gaussian of their quadrature sigma (the blurred
    ePSF is the bare one convolved with it, away from the stamp edges); FWHM and EE(2 px)
    change by the measured amounts, IPC adds its own broadening."""
    detector = nircam(np.diag([NIRCAM_SW, NIRCAM_SW]))
    base = bare_jwst().prepare(detector).evaluate(50.0, 50.0, size=25)
    blur = math.hypot(0.004, 0.0062)  # 4 mas jitter (5x STPSF's typical) + SW diffusion
    blurred = bare_jwst(jitter=0.004, charge_diffusion=0.0062).prepare(detector)
    blurred = blurred.evaluate(50.0, 50.0, size=25)
    with_ipc = bare_jwst(jitter=0.004, charge_diffusion=0.0062, ipc=True).prepare(detector)
    with_ipc = with_ipc.evaluate(50.0, 50.0, size=25)
    expected = gaussian_filter(base, blur / NIRCAM_SW * OVERSAMPLING, mode="constant")
    inner = np.s_[20:80, 20:80]  # 7.5 px from the centre
    assert np.abs(blurred - expected)[inner].max() < 1e-4 * base.max()
    (f0, e0), (f1, e1), (f2, e2) = (fwhm_and_ee(a, 2.0) for a in (base, blurred, with_ipc))
    # measured (F200W at 1.99 um): FWHM 2.117 -> 2.186 -> 2.196 px, EE(2 px) 0.676 ->
    # 0.664 -> 0.662; the blur's FWHM added in quadrature predicts the first step to 0.1 %
    assert f1 / f0 == pytest.approx(math.hypot(f0, 2.3548 * blur / NIRCAM_SW) / f0, rel=0.01)
    assert 1.002 < f2 / f1 < 1.01
    assert 0.975 < e1 / e0 < 0.99 and 0.994 < e2 / e1 < 0.999


def test_roman_without_extras_is_galsims_own_drawing():
    """Zero extras: the truth is ``galsim.roman.getPSF`` at the same SCA position, drawn by
    GalSim with the pixel response through the expected Jacobian (stretch of the
    detector -> V2V3 map seen from GalSim's x-flipped frame), times oversampling^2."""
    import galsim
    import galsim.roman
    from scipy.linalg import sqrtm

    x, y, size = 20.0, 30.0, 11
    epsf = bare_roman().prepare(roman()).evaluate(x, y, size=size)
    assert _truth_roman.sca_flip(ROMAN_SCA) == (-1, 1)  # DetSciYAngle = 0 for SCA 3
    flip = np.diag([-1.0, 1.0])
    jac = np.real(sqrtm((ROMAN_JAC @ flip).T @ (ROMAN_JAC @ flip))) @ flip
    sca_pos = galsim.PositionD(4088 - (ROMAN_ORIGIN[0] + x), ROMAN_ORIGIN[1] + y + 1)
    bandpass = galsim.roman.getBandpasses()["H158"].thin(rel_err=1e-3)
    psf = galsim.roman.getPSF(ROMAN_SCA, "H158", SCA_pos=sca_pos, pupil_bin=PUPIL_BIN)
    star = galsim.DeltaFunction() * galsim.SED("1", "nm", "fnu").withFlux(1.0, bandpass)
    pixel = galsim.JacobianWCS(*jac.ravel()).toWorld(galsim.Pixel(1.0))
    image = galsim.Convolve(star, psf, pixel).drawImage(
        bandpass, nx=size * OVERSAMPLING, ny=size * OVERSAMPLING,
        wcs=galsim.JacobianWCS(*(jac.ravel() / OVERSAMPLING)), method="no_pixel")
    expected = image.array * OVERSAMPLING**2
    assert np.abs(epsf - expected).max() < 1e-5 * expected.max()
    assert 0.8 < epsf.sum() / OVERSAMPLING**2 < 0.95  # an 11 px stamp


def test_roman_frame_flip_agrees_with_galsims_wcs():
    """The science -> GalSim flip seen in the local metric: with it, J^T J of the SIAF-based
    science-frame WCS matches GalSim's own Roman WCS (off-diagonal sign included);
    without it the skew has the wrong sign."""
    import galsim
    import galsim.roman

    from spike.datasets._roman_wcs import attitude_gwcs, solve_attitude
    from spike.psf._geometry import LocalFrame

    world = galsim.CelestialCoord(270 * galsim.degrees, 66 * galsim.degrees)
    galsim_wcs = galsim.roman.getWCS(world, PA=0 * galsim.degrees, SCAs=[1, 18])
    for sca in (1, 18):
        det = f"WFI{sca:02d}"
        attitude = solve_attitude(det, ra=270.0, dec=66.0, pa=0.0, pixel=(31.5, 31.5),
                                  cutout_origin=(2012, 2012), offset=(0.0, 0.0))
        wcs = attitude_gwcs(det, attitude, cutout_origin=(2012, 2012), shape=(64, 64))
        flip = np.diag(np.asarray(_truth_roman.sca_flip(sca), dtype=float))
        ours = LocalFrame(wcs).jacobian(31.5, 31.5)
        local = galsim_wcs[sca].jacobian(image_pos=galsim.PositionD(2044.5, 2044.5))
        theirs = np.array([[local.dudx, local.dudy], [local.dvdx, local.dvdy]])
        metric = theirs.T @ theirs
        flipped = (ours @ flip).T @ (ours @ flip)
        assert flipped == pytest.approx(metric, rel=0.02, abs=2e-6)
        assert np.sign(ours.T @ ours)[0, 1] != np.sign(metric)[0, 1]


def test_roman_extras_broaden_the_core_as_expected():
    """Jitter and charge diffusion are a Gaussian of their quadrature sigma (away from the
    stamp edges); the full truth (plus IPC and 25 nm of extra aberrations) is broader
    still (FWHM and EE(1 px) measured) and centred on its core's centroid."""
    x, y, size = 20.0, 30.0, 11
    design = bare_roman().prepare(roman()).evaluate(x, y, size=size)
    blurred = bare_roman(jitter=0.006, charge_diffusion=0.033).prepare(roman())
    blurred = blurred.evaluate(x, y, size=size)
    full = RomanTruthPSFMethod(cell=1, pupil_bin=PUPIL_BIN).prepare(roman())
    full = full.evaluate(x, y, size=size)
    sigma = math.hypot(0.006, 0.033) / np.hypot(*ROMAN_JAC.T)[::-1] * OVERSAMPLING  # (y, x)
    expected = gaussian_filter(design, sigma, mode="constant")
    inner = np.s_[8:36, 8:36]  # 3.5 px from the centre
    assert np.abs(blurred - expected)[inner].max() < 1e-3 * design.max()
    (f0, e0), (f1, e1), (f2, e2) = (fwhm_and_ee(a, 1.0) for a in (design, blurred, full))
    # measured (H158, WFI03): FWHM 1.424 -> 1.659 -> 1.710 px, EE(1 px) 0.481 -> 0.427 ->
    # 0.415; the blur's FWHM in quadrature predicts +12 % for the first step (Gaussian core)
    scale = math.sqrt(abs(np.linalg.det(ROMAN_JAC)))
    predicted = math.hypot(f0, 2.3548 * math.hypot(0.006, 0.033) / scale) / f0
    assert f1 / f0 == pytest.approx(predicted, rel=0.06)
    assert 1.01 < f2 / f1 < 1.06
    assert 0.86 < e1 / e0 < 0.92 and 0.95 < e2 / e1 < 0.99
    cx, cy = core_centroid(full, 18)
    assert abs(cx - 21.5) < 0.01 * OVERSAMPLING and abs(cy - 21.5) < 0.01 * OVERSAMPLING


def test_ipc_convention_matches_galsim():
    """`apply_ipc` with GalSim's kernel (converted) spreads charge as GalSim's
    ``Image.applyIPC`` does, at every sample of an oversampled grid."""
    import galsim
    import galsim.roman

    image = np.zeros((9, 9))
    image[4, 4], image[2, 5] = 1.0, 0.5
    reference = galsim.Image(image.copy())
    reference.applyIPC(galsim.roman.ipc_kernel, kernel_normalization=False)
    ours = apply_ipc(image, _truth_roman.ipc_kernel_galsim(), 1)
    assert ours == pytest.approx(reference.array, abs=1e-12)
    oversampled = apply_ipc(np.kron(image, np.eye(4)), ipc_kernel(0.01), 4)
    assert oversampled.sum() == pytest.approx(1.5 * 4)


@pytest.mark.parametrize(("cls", "kwargs", "match"), [
    (JwstTruthPSFMethod, {"wfe_rms": -1}, "wfe_rms must be a non-negative number"),
    (JwstTruthPSFMethod, {"nlambda": 0}, "nlambda must be a positive integer"),
    (JwstTruthPSFMethod, {"oversampling": 0}, "oversampling must be a positive integer"),
    (RomanTruthPSFMethod, {"extra_aberrations": {2: 10.0}}, "Noll indices 4..22"),
    (RomanTruthPSFMethod, {"charge_diffusion": float("nan")}, "non-negative number"),
    (RomanTruthPSFMethod, {"cell": 0}, "cell must be a positive integer"),
])
def test_options_are_checked(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_unsupported_exposures_raise():
    with pytest.raises(PSFMethodError, match="no JWST truth PSF for NIRCAM F999W"):
        JwstTruthPSFMethod().prepare(DetectorInfo(
            mission="jwst", instrument="NIRCAM", detector="NRCA1", filter="F999W",
            pupil="CLEAR", wcs=affine_wcs(np.eye(2)), shape=(10, 10)))
    with pytest.raises(PSFMethodError, match="models Roman exposures, not 'jwst'"):
        RomanTruthPSFMethod().prepare(nircam())
    with pytest.raises(PSFMethodError, match="no bandpass for filter 'PRISM'"):
        RomanTruthPSFMethod().prepare(DetectorInfo(
            mission="roman", instrument="WFI", detector="WFI01", filter="PRISM", pupil=None,
            wcs=affine_wcs(ROMAN_JAC), shape=(10, 10)))
