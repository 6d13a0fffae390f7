"""Roman inputs spike cannot model: a clear message, and nothing written.

As in ``tests/steps/test_errors.py``, every failing run gets its own output directory, runs
with the test's ``tmp_path`` as working directory, and afterwards no file may have appeared
anywhere under ``tmp_path`` (the ``DrizzlePSFStep`` runs also ask for the quicklook and the
per-exposure PSFs).
"""

import json
import shutil
import socket

import pytest
from astropy.table import Table

from spike.exceptions import NoCoverageError, PSFDataUnavailableError, PSFMethodError, SpikeError
from spike.steps import DrizzlePSFStep, GeneratePSFStep
from tests.helpers import GaussianPSFMethod

STEPS = [DrizzlePSFStep, GeneratePSFStep]


@pytest.fixture(scope="module")
def star(roman_sim):
    """A star seen by the WFI01 exposures."""
    from tests.roman.conftest import stars_on

    s = stars_on(roman_sim, "WFI01")[0]
    return {"ra": [float(roman_sim.stars["ra"][s])], "dec": [float(roman_sim.stars["dec"][s])]}


def _copies(models, **instrument):
    """Copies of ``models`` with ``meta.instrument`` keywords replaced (no validation)."""
    out = []
    for model in models:
        copy = model.copy()
        for key, value in instrument.items():
            setattr(copy.meta.instrument, key, value)
        out.append(copy)
    return out


@pytest.fixture(scope="module")
def jwst_cal(tmp_path_factory):
    """One small NIRCam ``_cal.fits`` exposure (analytic PSF: its shape does not matter)."""
    from spike.datasets import simulate_jwst_cal_exposures

    sim = simulate_jwst_cal_exposures(shape=(96, 96), dithers=[(0.0, 0.0)], rotations=(0.0,),
                                      psf_method=GaussianPSFMethod(), seed=5)
    model = sim.models[0]
    path = tmp_path_factory.mktemp("jwst_one") / model.meta.filename
    model.save(path)
    return model, path


# --------------------------------------------------------------------------- missions


def test_jwst_exposure_in_roman_association(clean_run, roman_asn, jwst_cal, star, tmp_path):
    """A JWST ``_cal.fits`` listed in a Roman association."""
    _, jwst_path = jwst_cal
    data = tmp_path / "data"
    data.mkdir()
    asn = json.loads(roman_asn.read_text())
    members = asn["products"][0]["members"][:2]
    for member in members:
        shutil.copy2(roman_asn.parent / member["expname"], data)
    shutil.copy2(jwst_path, data)
    members.append({"expname": jwst_path.name, "exptype": "science"})
    asn["products"][0]["members"] = members
    (data / "mixed_asn.json").write_text(json.dumps(asn))
    for step_class in STEPS:
        clean_run(step_class, str(data / "mixed_asn.json"), **star, exc=ValueError,
                  match=r"^The input mixes exposures of several missions \(jwst, roman\)$")


def test_jwst_and_roman_models_in_one_list(clean_run, roman_sim, jwst_cal, star):
    model, _ = jwst_cal
    clean_run(DrizzlePSFStep, [roman_sim.models[0], model], **star, exc=ValueError,
              match=r"mixes exposures of several missions \(jwst, roman\)")


# --------------------------------------------------------------------------- detectors


def test_sca_that_does_not_exist_rejected_by_the_adapter(clean_run, roman_sim, star, tmp_path):
    """``WFI19``: roman_datamodels lets it be set on a model in memory (it refuses to save
    it), so the steps see it and the Roman adapter rejects it before any PSF is made."""
    from asdf.exceptions import ValidationError

    with pytest.raises(ValidationError, match="'WFI19' is not one of"):
        _copies(roman_sim.models[:1], detector="WFI19")[0].save(tmp_path / "wfi19_cal.asdf")
    assert not (tmp_path / "wfi19_cal.asdf").exists()
    models = _copies(roman_sim.models[:2], detector="WFI19")
    for step_class in STEPS:
        clean_run(step_class, models, **star, exc=ValueError,
                  match=r"_wfi01_cal\.asdf: detector 'WFI19' is not a Roman WFI SCA "
                        r"\(WFI01 \.\.\. WFI18\)")
    assert roman_sim.models[0].meta.instrument.detector == "WFI01"


@pytest.mark.parametrize("detector", ["WFI19", "WFI00", "NRCA1", ""])
def test_sca_that_does_not_exist_rejected_by_galsim_method(roman_sim, detector):
    """The same check one layer down: `GalSimPSFMethod.prepare` on the exposure's
    `DetectorInfo` with a detector that is no SCA."""
    import dataclasses

    from spike.missions.roman import RomanAdapter
    from spike.psf.galsim_method import GalSimPSFMethod

    info = RomanAdapter(roman_sim.models[:1]).detector_info(0)
    bad = dataclasses.replace(info, detector=detector)
    with pytest.raises(PSFMethodError, match=rf"needs a Roman WFI detector 'WFI01' \.\. "
                                             rf"'WFI18', got '{detector}'"):
        GalSimPSFMethod().prepare(bad)


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize("element", ["PRISM", "GRISM", "F999"])
@pytest.mark.parametrize("step_class", STEPS)
def test_filter_galsim_does_not_know(clean_run, roman_sim, star, step_class, element):
    models = _copies(roman_sim.models[:2], optical_element=element)
    err = clean_run(step_class, models, **star, exc=PSFMethodError,
                    match=rf"PSF method 'galsim' has no Roman bandpass for filter '{element}'; "
                          r"supported: F062, F087, F106, F129, F146, F158, F184, F213")
    assert isinstance(err, SpikeError)


def test_mixed_optical_elements(clean_run, roman_sim, star):
    models = _copies(roman_sim.models[:3])
    models[2].meta.instrument.optical_element = "F106"
    clean_run(DrizzlePSFStep, models, **star, exc=ValueError,
              match=r"The input mixes .*F158: 2 exposure\(s\); (WFI )?F106: 1 "
                    r"exposure\(s\)\); give one association per filter")
    assert roman_sim.models[2].meta.instrument.optical_element == "F158"


# --------------------------------------------------------------------------- sources


@pytest.mark.parametrize("step_class", STEPS)
def test_source_off_every_sca(clean_run, roman_sim, star, step_class):
    """A source in the gap between the WFI01 and WFI02 cut-outs, and one far away."""
    from spike.generate import locate_sources
    from spike.missions.roman import RomanAdapter

    first, second = (roman_sim.models[0].meta.wcs, roman_sim.models[1].meta.wcs)
    ra1, dec1 = first(127.5, 127.5)
    ra2, dec2 = second(127.5, 127.5)
    gap = {"ra": 0.5 * (ra1 + ra2), "dec": 0.5 * (dec1 + dec2)}
    sources = Table({"id": ["star", "gap", "far"], "ra": [star["ra"][0], gap["ra"], 10.0],
                     "dec": [star["dec"][0], gap["dec"], 10.0]})
    with RomanAdapter(roman_sim.models) as adapter:
        covered = locate_sources(adapter, sources[:1]).covered
    assert covered.any()
    err = clean_run(step_class, roman_sim.models, sources, exc=NoCoverageError,
                    match=r"No input exposure covers source\(s\) gap \(RA=.*\), far "
                          r"\(RA=10\.000000, Dec=10\.000000\): 2 of 3 source\(s\) lie "
                          r"outside every exposure's detectors or in a gap between chips$")
    assert "star" not in str(err)


# --------------------------------------------------------------------------- stpsf


@pytest.fixture
def no_network(monkeypatch):
    """Refuse (and record) every connection and STPSF's own downloader."""
    import stpsf  # a hard dependency, imported before sockets are refused
    attempts = []

    def refuse(*args, **kwargs):  # noqa: ARG001
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(stpsf.utils, "auto_download_stpsf_data", refuse)
    monkeypatch.setattr(stpsf.conf, "STPSF_PATH", "from_environment_variable")
    return attempts


def test_stpsf_without_data_never_downloads(clean_run, roman_sim, star, tmp_path, monkeypatch,
                                            no_network):
    """``method='stpsf'`` for WFI without STPSF's data: a clear error, no network access."""
    missing = tmp_path / "no-stpsf-data"
    monkeypatch.setenv("STPSF_PATH", str(missing))
    err = clean_run(DrizzlePSFStep, roman_sim.models, **star, method="stpsf",
                    exc=PSFDataUnavailableError, match=r"STPSF's data files are missing")
    msg = str(err)
    assert str(missing) in msg
    assert "STPSF_PATH" in msg
    assert not missing.exists()
    assert no_network == []  # neither a socket nor STPSF's downloader was used


def test_stpsf_hint_names_the_roman_fallback(clean_run, roman_sim, star, tmp_path,
                                             monkeypatch, no_network):
    monkeypatch.setenv("STPSF_PATH", str(tmp_path / "no-stpsf-data"))
    err = clean_run(GeneratePSFStep, roman_sim.models[:1], **star, method="stpsf",
                    exc=PSFDataUnavailableError, match=r"STPSF's data files are missing")
    assert "'galsim'" in str(err)
    assert "'optical'" not in str(err)


def test_optical_method_is_jwst_only(clean_run, roman_sim, star):
    """The JWST default, asked for on Roman data: refused, naming the exposure."""
    clean_run(DrizzlePSFStep, roman_sim.models[:1], **star, method="optical",
              exc=ValueError, match=r"PSF method 'optical' does not support ROMAN exposure "
                                    r"r\d+_\d+_\d+_wfi01_cal\.asdf")

