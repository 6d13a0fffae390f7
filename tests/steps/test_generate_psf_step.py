"""`GeneratePSFStep`: one `ExposurePSFModel` per exposure, at the sources' detector positions.

The PSF shape does not matter for most of these tests, so they use the analytic
`tests.helpers.GaussianPSFMethod`, registered as the method ``test_gaussian`` while this module
runs; the ``user`` method is tested with a Python callable and with a directory of FITS files.
"""

import json

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table
from numpy.testing import assert_allclose

from spike.datamodels import ExposurePSFModel
from spike.datamodels import open as spike_open
from spike.steps import GeneratePSFStep
from tests.helpers import GaussianPSFMethod, GaussianPSFModel, file_digests

OVERSAMPLING = 4
STAMP = 15


@pytest.fixture(scope="module")
def gaussian():
    """Register `GaussianPSFMethod` as ``test_gaussian`` for the duration of this module."""
    from spike.psf import registry

    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(registry._REGISTERED, GaussianPSFMethod.name, GaussianPSFMethod)
        yield GaussianPSFMethod.name


def members(asn):
    return [m["expname"] for m in json.loads(asn.read_text())["products"][0]["members"]]


def true_positions(jwst_sim, filename, star_ids):
    """True (x, y) of ``star_ids`` on exposure ``filename`` (from the simulation)."""
    pos = jwst_sim.positions
    rows = [np.flatnonzero((pos["filename"] == filename) & (pos["star"] == s))[0]
            for s in star_ids]
    return np.asarray(pos["x"][rows]), np.asarray(pos["y"][rows])


def test_one_model_per_exposure_saved(jwst_asn, jwst_sim, gaussian, tmp_path):
    stars = jwst_sim.stars[:3]
    inputs = file_digests(jwst_asn.parent)
    results = GeneratePSFStep.call(str(jwst_asn), ra=list(stars["ra"]), dec=list(stars["dec"]),
                                   method=gaussian, stamp_size=STAMP, output_dir=str(tmp_path),
                                   save_results=True)

    names = members(jwst_asn)
    assert file_digests(jwst_asn.parent) == inputs
    assert len(results) == len(names) == 8
    expected = sorted(n.replace("_cal.fits", "_psfexp.asdf") for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    for name, result in zip(names, results, strict=True):
        with spike_open(tmp_path / name.replace("_cal.fits", "_psfexp.asdf")) as saved:
            for model in (result, saved):
                assert isinstance(model, ExposurePSFModel)
                assert model.meta.exposure.filename == name
                assert model.meta.cal_step.generate_psf == "COMPLETE"
                assert model.meta.product_name == "sim_f200w"
                assert model.meta.psf.method == gaussian
                assert model.meta.oversampling == OVERSAMPLING
                assert model.meta.stamp_size == STAMP
                assert model.meta.instrument.filter == "F200W"
                assert model.source_ids == ["1", "2", "3"]
                assert model.data.shape == (3, STAMP * OVERSAMPLING, STAMP * OVERSAMPLING)
                x, y = true_positions(jwst_sim, name, stars["star"])
                assert_allclose(model.sources["x"], x, rtol=0, atol=1e-6)
                assert_allclose(model.sources["y"], y, rtol=0, atol=1e-6)
                assert_allclose(model.sources["ra"], stars["ra"], rtol=0, atol=1e-10)
                # photutils ePSF normalisation: sum = oversampling**2 x fraction in the stamp
                assert_allclose(model.data.sum(axis=(1, 2)) / OVERSAMPLING**2,
                                model.sources["psf_sum"], rtol=1e-5)
                assert_allclose(model.sources["psf_sum"], 1.0, atol=1e-3)
            assert_allclose(saved.data, result.data, rtol=0, atol=0)


def _write_catalog(path, stars, kind):
    sky = SkyCoord(stars["ra"], stars["dec"], unit="deg")
    if kind == "ecsv_id":
        table, ids = Table({"id": [f"s{i}" for i in stars["star"]], "ra": stars["ra"],
                            "dec": stars["dec"]}), [f"s{i}" for i in stars["star"]]
        fmt = "ascii.ecsv"
    elif kind == "ecsv_sky_centroid":  # as in a JWST source catalog (label + sky_centroid)
        table, ids = Table({"label": stars["star"] + 10, "sky_centroid": sky}), \
            [str(i + 10) for i in stars["star"]]
        fmt = "ascii.ecsv"
    elif kind == "csv_id":
        table, ids = Table({"source_id": ["a", "b", "c"], "RA": stars["ra"],
                            "Dec": stars["dec"]}), ["a", "b", "c"]
        fmt = "ascii.csv"
    elif kind == "csv_no_id":
        table, ids = Table({"ra": stars["ra"], "dec": stars["dec"]}), ["1", "2", "3"]
        fmt = "ascii.csv"
    else:  # csv_sky_centroid: astropy writes a SkyCoord column to CSV as "ra,dec"
        table, ids = Table({"id": [7, 8, 9], "sky_centroid": sky}), ["7", "8", "9"]
        fmt = "ascii.csv"
    table.write(path, format=fmt)
    return ids


@pytest.mark.parametrize("kind", ["ecsv_id", "ecsv_sky_centroid", "csv_id", "csv_no_id",
                                  "csv_sky_centroid"])
def test_sources_from_catalog_file(jwst_sim, gaussian, tmp_path, kind):
    stars = jwst_sim.stars[2:5]
    path = tmp_path / ("cat.ecsv" if kind.startswith("ecsv") else "cat.csv")
    ids = _write_catalog(path, stars, kind)
    models = jwst_sim.models[:2]
    results = GeneratePSFStep(method=gaussian, catalog=str(path), stamp_size=STAMP).run(models)
    assert len(results) == 2
    for model, result in zip(models, results, strict=True):
        assert result.source_ids == ids
        assert_allclose(result.sources["ra"], stars["ra"], rtol=0, atol=1e-9)
        assert_allclose(result.sources["dec"], stars["dec"], rtol=0, atol=1e-9)
        x, y = true_positions(jwst_sim, model.meta.filename, stars["star"])
        assert_allclose(result.sources["x"], x, rtol=0, atol=1e-6)
        assert_allclose(result.sources["y"], y, rtol=0, atol=1e-6)


def test_user_callable_as_third_argument(jwst_sim):
    """``method='user'``: a Python callable passed after the sources gives the PSFs."""
    stars = jwst_sim.stars[:2]
    models = jwst_sim.models[:3]
    calls = []

    def psf(detector, x, y, size):
        calls.append((detector.filename, x, y, size))
        sigma = 0.8 + 0.1 * len(calls)  # a different PSF for every call
        return GaussianPSFModel(sigma, OVERSAMPLING).evaluate(x, y, size=size)

    results = GeneratePSFStep.call(models, SkyCoord(stars["ra"], stars["dec"], unit="deg"),
                                   psf, method="user", stamp_size=STAMP)

    assert [c[0] for c in calls] == [m.meta.filename for m in models for _ in range(2)]
    assert {c[3] for c in calls} == {STAMP}
    k = 0
    for model, result in zip(models, results, strict=True):
        x, y = true_positions(jwst_sim, model.meta.filename, stars["star"])
        assert_allclose([c[1] for c in calls[k:k + 2]], x, atol=1e-6)
        assert_allclose([c[2] for c in calls[k:k + 2]], y, atol=1e-6)
        assert result.meta.psf.method == "user"
        assert "callable" in result.meta.psf.parameters.psf
        for plane in range(2):
            k += 1
            expected = GaussianPSFModel(0.8 + 0.1 * k, OVERSAMPLING).evaluate(0, 0, size=STAMP)
            assert_allclose(result.data[plane], expected, rtol=1e-5, atol=1e-7)


def test_user_psf_directory(jwst_asn, jwst_sim, tmp_path):
    """``method='user', psf_path=<dir>``: ``<exposure root>_psf.fits`` (OVERSAMP keyword)."""
    names = members(jwst_asn)
    psf_dir = tmp_path / "psfs"
    psf_dir.mkdir()
    sigmas = {}
    for i, name in enumerate(names):
        sigmas[name] = 0.9 + 0.05 * i
        epsf = GaussianPSFModel(sigmas[name], OVERSAMPLING).evaluate(0, 0, size=25)
        hdu = fits.PrimaryHDU(epsf.astype(np.float32))
        hdu.header["OVERSAMP"] = OVERSAMPLING
        hdu.writeto(psf_dir / name.replace("_cal.fits", "_psf.fits"))
    star = jwst_sim.stars[:1]

    results = GeneratePSFStep.call(str(jwst_asn), ra=[float(star["ra"][0])],
                                   dec=[float(star["dec"][0])], method="user",
                                   psf_path=str(psf_dir), stamp_size=STAMP)

    assert len(results) == len(names)
    for name, result in zip(names, results, strict=True):
        assert result.meta.exposure.filename == name
        assert result.meta.psf.parameters.psf == str(psf_dir)
        expected = GaussianPSFModel(sigmas[name], OVERSAMPLING).evaluate(0, 0, size=STAMP)
        assert_allclose(result.data[0], expected, rtol=1e-4, atol=1e-6)
