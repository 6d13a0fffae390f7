"""A parameter the user set, replaced by the value the reference mosaic records: a WARNING."""

import logging

import pytest

from spike.steps import DrizzlePSFStep


@pytest.fixture(scope="module")
def mosaic(jwst_sim, tmp_path_factory):
    """A stand-in ``_i2d`` (an exposure's grid) recording pixfrac 1.0 and kernel square."""
    path = tmp_path_factory.mktemp("mosaic") / "sim_i2d.fits"
    with jwst_sim.models[0].copy() as model:
        model.meta.cal_step.resample = "COMPLETE"
        model.meta.resample.pixfrac = 1.0
        model.meta.resample.kernel = "square"
        model.save(path)
    return path


def _run(jwst_sim, mosaic, caplog, **pars):
    caplog.set_level(logging.INFO, logger="spike")
    return DrizzlePSFStep.call(jwst_sim.models[:2], ra=float(jwst_sim.stars["ra"][0]),
                               dec=float(jwst_sim.stars["dec"][0]), method="optical",
                               stamp_size=11, reference_mosaic=str(mosaic), **pars)


def _overrides(caplog, level):
    return [r.getMessage() for r in caplog.records
            if r.levelno == level and "was made with" in r.getMessage()]


def test_explicit_parameter_overridden_is_a_warning(jwst_sim, mosaic, caplog):
    result = _run(jwst_sim, mosaic, caplog, pixfrac=0.8)
    assert result.meta.resample.pixfrac == 1.0
    assert _overrides(caplog, logging.WARNING) == [
        "pixfrac=0.8 given, but reference_mosaic sim_i2d.fits was made with pixfrac=1.0: "
        "using 1.0"]


def test_defaults_are_replaced_quietly(jwst_sim, mosaic, caplog):
    _run(jwst_sim, mosaic, caplog)
    assert _overrides(caplog, logging.WARNING) == []
