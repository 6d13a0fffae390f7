"""Progress reports of long runs and the ``method_options`` step parameter."""

import logging

import pytest

from spike.progress import Progress
from spike.steps import DrizzlePSFStep, GeneratePSFStep
from spike.psf.choice import build_method, parse_method_options


def test_progress_reports_every_tenth(caplog):
    log = logging.getLogger("spike.test_progress")
    caplog.set_level("INFO", logger="spike.test_progress")
    progress = Progress(50, "sources drizzled", log)
    for done in range(51):
        progress.update(done)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 10
    assert lines[0].startswith("Progress: 5/50 sources drizzled (10%)")
    assert lines[-1].startswith("Progress: 50/50 sources drizzled (100%)")
    assert "s elapsed, about" in lines[0]


def test_short_runs_are_not_reported(caplog):
    caplog.set_level("INFO", logger="spike.test_progress")
    progress = Progress(5, "sources drizzled", logging.getLogger("spike.test_progress"))
    for done in range(6):
        progress.update(done)
    assert caplog.records == []


def test_parse_method_options():
    assert parse_method_options(None) == {}
    assert parse_method_options("min_stars=5,box_size=21") == {"min_stars": 5, "box_size": 21}
    assert parse_method_options(["spectrum='bb:5800'", "fwhm_range=(0.8", " 20)"]) == {
        "spectrum": "bb:5800", "fwhm_range": (0.8, 20)}
    assert parse_method_options("basis=pixel,flag=True") == {"basis": "pixel", "flag": True}
    with pytest.raises(ValueError, match=r"method_options: 'min_stars' is not 'name=value'"):
        parse_method_options("min_stars")


def test_options_reach_the_method():
    method = build_method("optical", mission="jwst", oversampling=2, options="nlambda=3")
    assert method.describe()["nlambda"] == 3 and method.oversampling == 2
    with pytest.raises(ValueError, match=r"method_options \['bogus'\] for method 'optical'"):
        build_method("optical", mission="jwst", oversampling=2, options="bogus=1")


@pytest.mark.parametrize("step", [DrizzlePSFStep, GeneratePSFStep])
def test_unknown_option_through_the_step(clean_run, jwst_asn, step):
    clean_run(step, str(jwst_asn), ra=53.16, dec=-27.79, method_options="bogus=1",
              exc=ValueError, match=r"method_options \['bogus'\] for method 'optical'")
