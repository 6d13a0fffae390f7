"""The default PSF method: chosen by what is installed, logged, and recorded in products."""

import logging

import numpy as np
import pytest

from spike.datamodels import open as spike_open
from spike.psf.base import PSFMethod, PSFModel
from spike.psf.choice import build_method, default_method, warn_if_unfitted
from spike.psf.registry import _REGISTERED, register_method
from spike.steps import DrizzlePSFStep, GeneratePSFStep


@pytest.fixture
def no_stpsf_data(tmp_path, monkeypatch):
    """STPSF_PATH pointing at an empty directory: STPSF's data are not installed."""
    monkeypatch.setenv("STPSF_PATH", str(tmp_path / "nothing"))


@pytest.fixture(scope="module")
def stpsf_data(tmp_path_factory):
    """A minimal STPSF data directory in STPSF's own formats (NIRCam, NIRISS, WFI)."""
    from tests.psf._stpsf_data import write_stpsf_data

    return write_stpsf_data(tmp_path_factory.mktemp("stpsf") / "stpsf-data")


@pytest.fixture
def stpsf_data_dir(stpsf_data):
    from tests.psf._stpsf_data import offline_stpsf

    with offline_stpsf(stpsf_data) as path:
        yield path


def test_defaults_without_stpsf_data(no_stpsf_data):
    jwst = default_method("jwst", instrument="NIRCAM")
    assert jwst.method == "optical" and jwst.requested is None
    assert "STPSF's data are not installed" in jwst.reason
    roman = default_method("roman", instrument="WFI")
    assert roman.method == "galsim" and "not installed" in roman.reason
    hst = default_method("hst", instrument="ACS")
    assert hst.method == "optical" and "HST" in hst.reason


def test_stpsf_is_the_default_when_its_data_are_installed(stpsf_data_dir):
    for mission, instrument in (("jwst", "NIRCAM"), ("roman", "WFI")):
        choice = default_method(mission, instrument=instrument)
        assert choice.method == "stpsf"
        assert str(stpsf_data_dir) in choice.reason
    # data for another instrument only: not for MIRI
    assert default_method("jwst", instrument="MIRI").method == "optical"
    assert default_method("hst", instrument="WFC3").method == "optical"


def test_bad_mission():
    with pytest.raises(ValueError, match="mission must be"):
        default_method("euclid")


def test_build_method_records_the_choice(no_stpsf_data, caplog):
    with caplog.at_level(logging.INFO, logger="spike.psf.choice"):
        method = build_method(None, mission="jwst", oversampling=2, instrument="NIRCAM")
    assert method.name == "optical"
    assert method.choice.as_meta()["requested"] is None
    assert "PSF method: optical (default for JWST" in caplog.text
    named = build_method("optical", mission="jwst", oversampling=2)
    assert named.choice.as_meta() == {"requested": "optical", "method": "optical",
                                      "reason": "requested"}


class _Fixed(PSFModel):
    def __init__(self, diagnostics):
        self.diagnostics = diagnostics

    def evaluate(self, x, y, *, size):
        return np.zeros((size, size))


def test_warning_for_an_unfitted_default_model(caplog):
    from spike.psf.base import DetectorInfo
    from spike.psf.choice import Choice

    det = DetectorInfo("hst", "ACS", "HRC", "F606W", None, None, (10, 10), filename="x_flt.fits")
    default = Choice(None, "optical", "default")
    with caplog.at_level(logging.WARNING, logger="spike.psf.choice"):
        warn_if_unfitted(default, _Fixed({"fit": False, "fit_reason": "only 2 stars"}), det)
    assert "x_flt.fits: PSF from the unfitted physical model (optical): only 2 stars" in caplog.text
    assert "FWHM ratio" in caplog.text  # the measured accuracy is quoted
    caplog.clear()
    roman = Choice(None, "galsim", "default")
    rdet = DetectorInfo("roman", "WFI", "WFI01", "F158", None, None, (10, 10), filename="r")
    with caplog.at_level(logging.WARNING, logger="spike.psf.choice"):
        for _ in range(3):  # once per run for a model without a fit
            warn_if_unfitted(roman, _Fixed({}), rdet)
    assert caplog.text.count("unfitted physical model (galsim)") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spike.psf.choice"):
        warn_if_unfitted(default, _Fixed({"fit": True}), det)
        warn_if_unfitted(Choice("optical", "optical", "requested"), _Fixed({}), det)
    assert caplog.text == ""


class _DiagnosticMethod(PSFMethod):
    """A Gaussian PSF whose model reports diagnostics (registered for these tests only)."""

    name = "test_diagnostics"
    missions = ("jwst",)

    def prepare(self, detector):
        from tests.psf._helpers import gaussian_psf

        class Model(PSFModel):
            oversampling = self.oversampling

            def evaluate(self, x, y, *, size):
                n = size * self.oversampling
                psf = gaussian_psf((n, n), sigma=1.5 * self.oversampling)
                return psf / psf.sum() * self.oversampling**2

        model = Model()
        model.diagnostics = {"n_stars": np.int64(7), "rms": np.float32(0.25),
                             "xy": np.array([[1.0, 2.0]]), "file": detector.filename}
        return model


@pytest.fixture
def diagnostic_method():
    register_method(_DiagnosticMethod)
    yield
    _REGISTERED.pop(_DiagnosticMethod.name, None)


def test_products_record_choice_and_diagnostics(jwst_sim, jwst_asn, tmp_path,
                                                diagnostic_method):
    ra, dec = list(jwst_sim.stars["ra"][:2]), list(jwst_sim.stars["dec"][:2])
    DrizzlePSFStep.call(str(jwst_asn), ra=ra, dec=dec, method="test_diagnostics",
                        oversampling=2, stamp_size=11, output_dir=str(tmp_path),
                        save_results=True, save_exposure_psfs=True, save_plots=True)
    assert (tmp_path / "sim_f200w_psf.png").stat().st_size > 1000
    product = spike_open(tmp_path / "sim_f200w_psf.asdf")
    assert product.meta.psf.choice.instance == {"requested": "test_diagnostics",
                                                "method": "test_diagnostics",
                                                "reason": "requested"}
    rows = [dict(r.instance) for r in product.meta.psf.exposures]
    assert len(rows) == len(product.exposures) == 8
    names = [r["filename"] for r in rows]
    assert names == [e.decode() if isinstance(e, bytes) else e
                     for e in product.exposures["filename"]]
    assert all(r["n_stars"] == 7 and r["rms"] == pytest.approx(0.25) for r in rows)
    assert rows[0]["xy"] == [[1.0, 2.0]] and rows[0]["file"] == names[0]
    exposure = spike_open(next(tmp_path.glob("*_psfexp.asdf")))
    assert exposure.meta.psf.diagnostics.n_stars == 7
    assert exposure.meta.psf.choice.method == "test_diagnostics"


# stpsf leaves the NIRCam IPC kernel files open (upstream); see tests/psf/_stpsf_data.py
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_default_is_stpsf_end_to_end(jwst_sim, jwst_asn, stpsf_data_dir, caplog):
    """With STPSF's data installed (generated here in its own formats) a run without a
    method uses the real stpsf code, says so and records why."""
    ra, dec = list(jwst_sim.stars["ra"][:1]), list(jwst_sim.stars["dec"][:1])
    with caplog.at_level(logging.INFO, logger="spike.psf.choice"):
        models = GeneratePSFStep.call(str(jwst_asn), ra=ra, dec=dec, oversampling=2,
                                      stamp_size=11, method_options="nlambda=1")
    assert "PSF method: stpsf (default for JWST: STPSF" in caplog.text
    assert {m.meta.psf.method for m in models} == {"stpsf"}
    assert str(stpsf_data_dir) in models[0].meta.psf.choice.reason
    assert models[0].data[0].sum() / 4 == pytest.approx(0.85, abs=0.05)  # flux in 11 px


def test_default_method_is_recorded(jwst_sim, jwst_asn, no_stpsf_data):
    ra, dec = list(jwst_sim.stars["ra"][:1]), list(jwst_sim.stars["dec"][:1])
    [model, *_] = GeneratePSFStep.call(str(jwst_asn), ra=ra, dec=dec, oversampling=2,
                                       stamp_size=11)
    choice = model.meta.psf.choice
    assert choice.requested is None and choice.method == model.meta.psf.method
    assert "default for JWST" in choice.reason


def test_quicklook_quality_label():
    from spike.plotting import _quality_label

    label = _quality_label({"fit": True, "n_stars": 12, "residual_rms": 0.01234, "x": 1})
    assert label == "fit=True n_stars=12 residual_rms=0.0123"
    assert _quality_label({}) == ""
