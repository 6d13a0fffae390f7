"""The ``stpsf`` method running the real STPSF code, on a generated STPSF data directory.

`tests.psf._stpsf_data.write_stpsf_data` writes the files ``stpsf.NIRCam``, ``stpsf.NIRISS``
and ``stpsf.roman.WFI`` read, in STPSF's formats, with synthetic contents (see that module).
Each test configures spike's `STPSFMethod` from a `DetectorInfo` with a real pysiaf-based
gwcs, and compares its ePSF with what STPSF returns when called directly with the inputs
spike should pass (instrument, filter, detector, full-detector position, oversampling,
field, distortion), after the documented pixel integration
(`spike.psf._epsf.pixel_integrate`). Properties that do not depend on spike's code are
checked too: STPSF's own detector-sampled product, the centroid, the flux in the field, and
the PSF changing over the detector in the direction the generated wavefront tables predict.

STPSF's ``stpsf.detectors`` opens the NIRCam IPC kernel files without closing them, hence
the `ResourceWarning` filter.
"""

import logging
import os

import numpy as np
import pytest

from spike.datasets._roman_wcs import make_roman_gwcs
from spike.datasets.jwst import make_jwst_gwcs
from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf._epsf import pixel_integrate
from spike.psf.base import DetectorInfo
from spike.psf.stpsf_method import STPSFMethod, find_stpsf_data
from tests.psf._helpers import centroid
from tests.psf._stpsf_data import offline_stpsf, write_stpsf_data

stpsf = pytest.importorskip("stpsf")

pytestmark = pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")

#: Agreement required between spike's ePSF and STPSF called directly (fraction of the peak).
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def stpsf_data(tmp_path_factory):
    """The generated STPSF data directory, set as ``STPSF_PATH`` for this module."""
    path = write_stpsf_data(tmp_path_factory.mktemp("stpsf") / "stpsf-data")
    with offline_stpsf(path):
        yield path


def jwst_detector(detector, *, filter, pupil, origin=(0, 0), shape=(2048, 2048),  # noqa: A002
                  instrument="NIRCAM"):
    """A JWST `DetectorInfo` as the JWST adapter builds it (1-based ``substrt``)."""
    aperture = {"NRCALONG": "NRCA5_FULL", "NRCBLONG": "NRCB5_FULL", "NIS": "NIS_CEN"}.get(
        detector, detector + "_FULL")
    wcs = make_jwst_gwcs(aperture, ra_ref=53.16, dec_ref=-27.79, v3pa=60.0,
                         subarray_origin=origin, shape=shape)
    return DetectorInfo(mission="jwst", instrument=instrument, detector=detector, filter=filter,
                        pupil=pupil, wcs=wcs, shape=shape, filename=f"sim_{detector}_cal.fits",
                        extra={"substrt1": origin[0] + 1, "substrt2": origin[1] + 1})


def wfi_detector(detector, *, origin=(0, 0), shape=(4088, 4088)):
    """A Roman WFI F158 `DetectorInfo` of a cut-out at ``origin`` of the science array."""
    wcs = make_roman_gwcs(detector, ra_ref=270.0, dec_ref=66.0, roll_ref=60.0,
                          cutout_origin=origin, shape=shape)
    return DetectorInfo(mission="roman", instrument="WFI", detector=detector, filter="F158",
                        pupil=None, wcs=wcs, shape=shape, filename=f"sim_{detector}_cal.asdf",
                        extra={"cutout_origin": origin})


def direct(instrument, *, filter, detector, position, **calc):  # noqa: A002
    """Call STPSF directly: a new instrument, configured by hand, and ``calc_psf(**calc)``."""
    inst = getattr(stpsf, instrument)()
    inst.filter = filter
    inst.detector = detector
    inst.detector_position = position
    return inst, inst.calc_psf(**calc)


def assert_same(epsf, expected):
    """``epsf`` equals ``expected`` within `TOLERANCE` of the peak; return the difference."""
    assert epsf.shape == expected.shape
    diff = np.max(np.abs(epsf - expected)) / expected.max()
    assert diff <= TOLERANCE, diff
    return diff


def assert_centred_and_complete(epsf, hdul, extname, oversampling, *, max_offset=0.02):
    """The ePSF's centroid is STPSF's (its detector-sampled product's) and within
    ``max_offset`` px of the array centre; its flux is STPSF's flux in the field."""
    centre = np.array(centroid(epsf)) / oversampling
    assert np.all(np.abs(centre) < max_offset), centre
    detector_sampled = hdul[extname.replace("OVER", "DET_")].data
    assert np.allclose(centre, centroid(detector_sampled), rtol=0, atol=0.005)
    total = hdul[extname].data.sum()  # STPSF's flux in the field (the rest fell outside it)
    assert 0.6 < total < 1.0
    # the one-pixel box only loses what it spreads off the field's edges
    assert 0.99 * total < epsf.sum() / oversampling**2 <= total * (1 + 1e-12)


def linked_copy(source, target, *, without):
    """Copy data directory ``source`` to ``target`` as symbolic links, leaving out the file
    ``without`` (relative to ``source``); return ``target``."""
    for directory, _, files in os.walk(source):
        relative = os.path.relpath(directory, source)
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in files:
            if os.path.normpath(os.path.join(relative, name)) != os.path.normpath(without):
                (target / relative / name).symlink_to(os.path.join(directory, name))
    return target


def test_generated_data_pass_spikes_check(stpsf_data):
    for instrument in ("NIRCAM", "NIRISS", "WFI"):
        assert find_stpsf_data(instrument) == stpsf_data


def test_nircam_sw_subarray_matches_stpsf(stpsf_data):
    """NRCA1 F200W subarray at (896, 896): spike asks STPSF for the full-frame position,
    ``OVERDIST`` with distortion, and converts it as documented; results are cached."""
    det = jwst_detector("NRCA1", filter="F200W", pupil="CLEAR", origin=(896, 896),
                        shape=(256, 256))
    model = STPSFMethod(oversampling=4, nlambda=1).prepare(det)
    calls = []
    real_calc = model.instrument.calc_psf
    model.instrument.calc_psf = lambda **kw: calls.append(kw) or real_calc(**kw)
    epsf = model.evaluate(100.4, 50.6, size=15)
    assert calls == [{"oversample": 4, "fov_pixels": 15, "add_distortion": True, "nlambda": 1}]
    np.testing.assert_array_equal(model.evaluate(99.6, 51.4, size=15), epsf)  # same pixel
    assert len(calls) == 1

    inst, hdul = direct("NIRCam", filter="F200W", detector="NRCA1", position=(996, 947),
                        oversample=4, fov_pixels=15, nlambda=1, add_distortion=True)
    assert_same(epsf, pixel_integrate(hdul["OVERDIST"].data, 4))
    assert_centred_and_complete(epsf, hdul, "OVERDIST", 4)
    assert model.instrument.detector_position == (996, 947)
    assert model.instrument.pixelscale == pytest.approx(inst.pixelscale)
    assert 0.030 < inst.pixelscale < 0.032  # the SW channel's scale, from pysiaf


def test_nircam_undistorted_matches_stpsf_detector_sampling(stpsf_data):
    """``add_distortion=False`` with odd oversampling: the ePSF sampled at pixel centres is
    STPSF's own detector-sampled ``DET_SAMP`` (STPSF's binning, not spike's integration).
    And the PSF follows the generated SI wavefront, whose defocus (10-70 nm) grows with V2:
    it is sharper where pysiaf puts the smaller V2."""
    det = jwst_detector("NRCB4", filter="F200W", pupil="CLEAR")
    model = STPSFMethod(oversampling=5, nlambda=1, add_distortion=False).prepare(det)
    epsf = model.evaluate(700.2, 1300.7, size=11)
    _, hdul = direct("NIRCam", filter="F200W", detector="NRCB4", position=(700, 1301),
                     oversample=5, fov_pixels=11, nlambda=1, add_distortion=False)
    assert [hdu.name for hdu in hdul] == ["OVERSAMP", "DET_SAMP"]
    assert_same(epsf, pixel_integrate(hdul["OVERSAMP"].data, 5))
    assert_same(epsf[2::5, 2::5], hdul["DET_SAMP"].data)
    assert_centred_and_complete(epsf, hdul, "OVERSAMP", 5)

    other = model.evaluate(1900.0, 1300.7, size=11)
    assert np.max(np.abs(other - epsf)) > 0.01 * epsf.max()
    v2 = [model.instrument.siaf["NRCB4_FULL"].sci_to_tel(x, 1300.7)[0] for x in (700.2, 1900.0)]
    assert (other.max() > epsf.max()) == (v2[1] < v2[0]), (v2, epsf.max(), other.max())


def test_nircam_lw_pupil_wheel_filter_matches_stpsf(stpsf_data):
    """NRCALONG with F444W + F405N: STPSF models F405N on NRCA5 at the LW pixel scale, with
    its default number of wavelengths for the filter (spike passes no ``nlambda``)."""
    det = jwst_detector("NRCALONG", filter="F444W", pupil="F405N")
    model = STPSFMethod(oversampling=4).prepare(det)
    assert (model.instrument.filter, model.instrument.detector) == ("F405N", "NRCA5")
    epsf = model.evaluate(1000.2, 1200.7, size=11)
    inst, hdul = direct("NIRCam", filter="F405N", detector="NRCA5", position=(1000, 1201),
                        oversample=4, fov_pixels=11)
    assert hdul[0].header["NWAVES"] == 3  # the generated filters.tsv default for F405N
    assert_same(epsf, pixel_integrate(hdul["OVERDIST"].data, 4))
    assert_centred_and_complete(epsf, hdul, "OVERDIST", 4)
    assert model.instrument.pixelscale == pytest.approx(inst.pixelscale)
    assert 0.062 < inst.pixelscale < 0.064  # the LW channel's scale, from pysiaf
    with pytest.raises(PSFMethodError, match=r"rejects detector position \(-3, 10\)"):
        model.evaluate(-3.0, 10.0, size=11)  # off the detector: STPSF's own check


def test_niriss_clearp_matches_stpsf(stpsf_data):
    """NIRISS F277W with the CLEARP pupil (pupil alignment reference in the beam)."""
    det = jwst_detector("NIS", filter="F277W", pupil="CLEARP", instrument="NIRISS")
    model = STPSFMethod(oversampling=4, nlambda=1).prepare(det)
    assert (model.instrument.filter, model.instrument.pupil_mask) == ("F277W", "CLEARP")
    epsf = model.evaluate(1500.4, 600.2, size=11)
    _, hdul = direct("NIRISS", filter="F277W", detector="NIS", position=(1500, 600),
                     oversample=4, fov_pixels=11, nlambda=1, add_distortion=True)
    assert hdul[0].header["PUPIL"] == "CLEARP"
    assert_same(epsf, pixel_integrate(hdul["OVERDIST"].data, 4))
    # CLEARP's asymmetric obscuration moves the centroid of the aberrated PSF by ~0.023 px
    assert_centred_and_complete(epsf, hdul, "OVERDIST", 4, max_offset=0.03)


def test_wfi_cutout_matches_stpsf(stpsf_data, caplog):
    """WFI07 cut-out at (1000, 2900): STPSF gets the SCA position including the 4-pixel
    reference border, no ``add_distortion`` (STPSF would log a warning), and spike uses
    ``OVERDIST`` (with charge diffusion)."""
    det = wfi_detector("WFI07", origin=(1000, 2900), shape=(256, 256))
    model = STPSFMethod(oversampling=4, nlambda=2).prepare(det)
    with caplog.at_level(logging.WARNING, logger="stpsf"):
        epsf = model.evaluate(100.3, 40.6, size=15)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert model.instrument.detector == "WFI07"
    assert model.instrument.detector_position == (1104, 2945)

    _, hdul = direct("WFI", filter="F158", detector="WFI07", position=(1104, 2945),
                     oversample=4, fov_pixels=15, nlambda=2)
    assert_same(epsf, pixel_integrate(hdul["OVERDIST"].data, 4))
    assert_centred_and_complete(epsf, hdul, "OVERDIST", 4)
    assert not np.allclose(hdul["OVERDIST"].data, hdul["OVERSAMP"].data)  # charge diffusion


def test_wfi_undistorted_and_field_dependence(stpsf_data, caplog):
    """Full-SCA WFI01: ``add_distortion=False`` gives ``OVERSAMP`` (no charge diffusion, so
    sharper); the generated defocus shrinks as STPSF's x grows (x = 2048 - 100 local_x mm);
    the array's corner pixel maps inside STPSF's field points (no extrapolation warning)."""
    det = wfi_detector("WFI01")
    model = STPSFMethod(oversampling=4, nlambda=1).prepare(det)
    plain = STPSFMethod(oversampling=4, nlambda=1, add_distortion=False).prepare(det)
    with caplog.at_level(logging.WARNING, logger="stpsf"):
        left, right = (model.evaluate(x, 2000.0, size=11) for x in (200.0, 3900.0))
        corner = model.evaluate(0.0, 0.0, size=11)
        sharp = plain.evaluate(200.0, 2000.0, size=11)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert model.instrument.detector_position == (4, 4)
    assert right.max() > 1.01 * left.max()
    assert sharp.max() > 1.05 * left.max()
    assert np.isfinite(corner).all() and corner.max() > 0


def test_missing_filter_curve_is_reported(stpsf_data, tmp_path, monkeypatch):
    """A data directory that passes spike's check but lacks a file STPSF opens only when it
    computes (the filter curve): a `PSFDataUnavailableError` naming the file."""
    missing = "NIRCam/filters/F200W_throughput.fits"
    monkeypatch.setenv("STPSF_PATH", str(linked_copy(stpsf_data, tmp_path / "part",
                                                     without=missing)))
    model = STPSFMethod(nlambda=1).prepare(jwst_detector("NRCA1", filter="F200W",
                                                         pupil="CLEAR"))
    with pytest.raises(PSFDataUnavailableError, match="are incomplete") as info:
        model.evaluate(100.0, 100.0, size=11)
    assert "F200W_throughput.fits" in str(info.value)
    assert str(tmp_path / "part") in str(info.value)
