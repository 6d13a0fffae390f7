"""Bad inputs and impossible requests: a clear message, and nothing written.

Every failing run gets its own output directory and runs with the test's ``tmp_path`` as
working directory; afterwards no file may have appeared anywhere under ``tmp_path``.
stpipe does not wrap the exceptions ``process`` raises: users see spike's own types
(``FileNotFoundError``, ``ValueError``, `~spike.exceptions.SpikeError` subclasses). Only
configobj validation of a parameter surfaces as stpipe's ``ValidationError``.
"""

import gc
import json
import shutil
import socket
import warnings

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from spike.exceptions import NoCoverageError, PSFDataUnavailableError, SpikeError
from spike.steps import DrizzlePSFStep, GeneratePSFStep

STEPS = [DrizzlePSFStep, GeneratePSFStep]


@pytest.fixture(scope="module")
def star(jwst_sim):
    return {"ra": [float(jwst_sim.stars["ra"][0])], "dec": [float(jwst_sim.stars["dec"][0])]}


@pytest.mark.parametrize("step_class", STEPS)
def test_missing_association(clean_run, star, step_class):
    clean_run(step_class, "nowhere/missing_asn.json", **star, exc=FileNotFoundError,
              match=r"Association file nowhere/missing_asn\.json does not exist")


def test_missing_exposure_file(clean_run, star):
    clean_run(DrizzlePSFStep, "missing_cal.fits", **star, exc=FileNotFoundError,
              match=r"Input file missing_cal\.fits does not exist")


def test_association_member_missing(clean_run, jwst_asn, star, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    asn = json.loads(jwst_asn.read_text())
    names = [m["expname"] for m in asn["products"][0]["members"]]
    for name in names[1:]:  # the first member is not copied
        shutil.copy2(jwst_asn.parent / name, data)
    shutil.copy2(jwst_asn, data)
    clean_run(DrizzlePSFStep, str(data / jwst_asn.name), **star, exc=FileNotFoundError,
              match=rf"lists {names[0]}, which does not exist")


def _write_without_wcs(model, path):
    path.parent.mkdir(exist_ok=True)
    with model.copy() as copy:
        copy.meta.wcs = None
        copy.save(path)
    assert model.meta.wcs is not None


def _resource_warnings(run):
    """Call ``run()``, collect garbage, and return the ResourceWarnings issued meanwhile."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run()
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


def test_exposure_without_wcs(clean_run, jwst_sim, star, tmp_path):
    path = tmp_path / "data" / "jw01234001001_02101_00001_nrca1_cal.fits"
    _write_without_wcs(jwst_sim.models[0], path)
    leaked = _resource_warnings(lambda: clean_run(
        DrizzlePSFStep, str(path), **star, exc=ValueError,
        match=r"has no WCS \(meta\.wcs is not set\); run the exposure through "
              r"calwebb_image2 \(assign_wcs\)"))
    assert leaked == []


def test_rejected_input_closes_opened_files(clean_run, jwst_asn, jwst_sim, star, tmp_path):
    data = tmp_path / "data"
    names = [m["expname"] for m in json.loads(jwst_asn.read_text())["products"][0]["members"]]
    _write_without_wcs(jwst_sim.models[1], data / names[1])
    shutil.copy2(jwst_asn.parent / names[0], data)
    asn = json.loads(jwst_asn.read_text())
    asn["products"][0]["members"] = asn["products"][0]["members"][:2]
    (data / "two_asn.json").write_text(json.dumps(asn))
    leaked = _resource_warnings(lambda: clean_run(
        DrizzlePSFStep, str(data / "two_asn.json"), **star, exc=ValueError, match="has no WCS"))
    assert leaked == []


@pytest.mark.parametrize("step_class", STEPS)
def test_source_off_every_detector(clean_run, jwst_sim, star, step_class):
    sources = Table({"id": ["star0", "far_away"], "ra": [star["ra"][0], 10.0],
                     "dec": [star["dec"][0], 10.0]})
    err = clean_run(step_class, jwst_sim.models, sources, exc=NoCoverageError,
                    match=r"No input exposure covers source\(s\) far_away "
                          r"\(RA=10\.000000, Dec=10\.000000\)")
    assert "star0" not in str(err)
    assert isinstance(err, SpikeError)


@pytest.mark.parametrize("step_class", STEPS)
def test_unknown_method(clean_run, jwst_asn, star, step_class):
    clean_run(step_class, str(jwst_asn), **star, method="nope", exc=ValueError,
              match=r"Unknown PSF method 'nope'; available methods: .*optical.*stpsf.*user")


def test_user_method_without_psf(clean_run, jwst_asn, star):
    clean_run(GeneratePSFStep, str(jwst_asn), **star, method="user", exc=ValueError,
              match=r"method='user' needs psf_path")


def test_stpsf_without_data_never_downloads(clean_run, jwst_sim, star, tmp_path, monkeypatch):
    """``method='stpsf'`` without STPSF's data files: a clear error, and no network access."""
    import stpsf  # a hard dependency, imported before sockets are refused

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(stpsf.utils, "auto_download_stpsf_data", refuse)
    monkeypatch.setattr(stpsf.conf, "STPSF_PATH", "from_environment_variable")
    missing = tmp_path / "no-stpsf-data"
    monkeypatch.setenv("STPSF_PATH", str(missing))
    err = clean_run(DrizzlePSFStep, jwst_sim.models, **star, method="stpsf",
                    exc=PSFDataUnavailableError, match=r"STPSF's data files are missing")
    msg = str(err)
    assert str(missing) in msg
    assert "STPSF_PATH" in msg
    assert "'optical'" in msg
    assert not missing.exists()
    assert attempts == []  # neither a socket nor STPSF's downloader was used


def test_mixed_filters(clean_run, jwst_sim, star):
    first, second = jwst_sim.models[:2]
    other = second.copy()
    other.meta.instrument.filter = "F150W"
    clean_run(DrizzlePSFStep, [first, other], **star, exc=ValueError,
              match=r"The input mixes instruments or filters.*NIRCAM F200W/CLEAR: 1 "
                    r"exposure\(s\); NIRCAM F150W/CLEAR: 1 exposure\(s\)")
    assert second.meta.instrument.filter == "F200W"


@pytest.mark.parametrize("step_class", STEPS)
def test_even_stamp_size(clean_run, jwst_sim, star, step_class):
    """Checked before any exposure is opened, with the same message for both steps."""
    clean_run(step_class, jwst_sim.models, **star, stamp_size=40, exc=ValueError,
              match=r"^stamp_size must be odd, got 40$")


@pytest.mark.parametrize("given", ["ra", "dec"])
def test_ra_without_dec(clean_run, jwst_asn, star, given):
    clean_run(DrizzlePSFStep, str(jwst_asn), **{given: star[given]}, exc=ValueError,
              match=r"Both ra and dec must be given")


def test_ra_not_a_number(clean_run, jwst_asn, star):
    clean_run(DrizzlePSFStep, str(jwst_asn), ra=["53.16h"], dec=star["dec"], exc=ValueError,
              match=r"^ra must be a number or a list of numbers \(degrees\), got \['53.16h'\]$")


def test_ra_dec_lengths_differ(clean_run, jwst_asn, star):
    clean_run(DrizzlePSFStep, str(jwst_asn), ra=star["ra"] * 2, dec=star["dec"],
              exc=ValueError, match=r"ra has 2 value\(s\) but dec has 1")


def test_catalog_without_coordinates(clean_run, jwst_asn, tmp_path):
    catalog = tmp_path / "cat.ecsv"
    Table({"x": [1.0], "y": [2.0]}).write(catalog)
    clean_run(DrizzlePSFStep, str(jwst_asn), catalog=str(catalog), exc=ValueError,
              match=r"needs 'ra' and 'dec' columns \(degrees\); it has x, y")


def test_missing_catalog(clean_run, jwst_asn):
    clean_run(DrizzlePSFStep, str(jwst_asn), catalog="nowhere.ecsv", exc=FileNotFoundError,
              match=r"catalog nowhere\.ecsv does not exist")


def test_unsupported_mission_input(clean_run, star, tmp_path):
    path = tmp_path / "data" / "SPITZER_I1_0001_cbcd.fits"
    path.parent.mkdir()
    hdu = fits.PrimaryHDU(np.zeros((10, 10), np.float32))
    hdu.header["TELESCOP"] = "Spitzer"
    hdu.writeto(path)
    clean_run(DrizzlePSFStep, str(path), **star, exc=ValueError,
              match=r"Exposures of SPITZER are not supported yet; this version of spike "
                    r"drizzles PSFs for JWST, ROMAN, HST imaging")


def test_hst_only_parameters_rejected_for_jwst(clean_run, jwst_asn, star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **star, engine="astrodrizzle", exc=ValueError,
              match=r"engine='astrodrizzle' and mask_dir are HST \(AstroDrizzle\) parameters; "
                    r"JWST PSFs are resampled with the pipeline's own code")


def test_reference_mosaic_and_output_wcs_together(clean_run, jwst_asn, star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **star, reference_mosaic="a_i2d.fits",
              output_wcs="b.asdf", exc=ValueError,
              match=r"Give either reference_mosaic or output_wcs, not both")


def test_missing_reference_mosaic(clean_run, jwst_sim, star):
    clean_run(DrizzlePSFStep, jwst_sim.models, **star, reference_mosaic="gone_i2d.fits",
              exc=FileNotFoundError, match=r"reference_mosaic gone_i2d\.fits does not exist")


def test_invalid_parameter_value_rejected_by_stpipe(clean_run, jwst_asn, star):
    """configobj validation fails before the step runs; stpipe raises ValidationError."""
    from stpipe.config_parser import ValidationError

    clean_run(DrizzlePSFStep, str(jwst_asn), **star, kernel="bilinear", exc=ValidationError,
              match=r"Config parameter 'kernel': the value \"bilinear\" is unacceptable")


def test_non_model_input(clean_run, star):
    clean_run(DrizzlePSFStep, 42, **star, exc=TypeError, match=r"Cannot tell which mission a int input belongs to")
