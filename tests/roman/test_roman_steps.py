"""Roman WFI through spike's steps: ``strun``, ``Step.call``, ``Step.run`` and libraries.

The science data are the session's simulated WFI01 + WFI02 exposures (`roman_sim`,
`roman_asn`); the science mosaic is made by romancal's own `ResampleStep` (`roman_mosaic`).
The PSF method is the Roman default (``galsim``); nothing uses CRDS or the network.
"""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from numpy.testing import assert_allclose

import spike
from spike.datamodels import DrizzledPSFModel, ExposurePSFModel
from spike.datamodels import open as spike_open
from spike.steps import DrizzlePSFStep, GeneratePSFStep
from spike.validation import compare_with_stars
from tests.helpers import file_digests
from tests.roman.conftest import FILTER, MOSAIC_PIXFRAC, PRODUCT, SHAPE

N_EXPOSURES = 8
PIXELS = np.array([[0.0, 0.0], [17.3, 250.6], [160.0, 1170.0], [260.5, 12.25]])


def copy_association(asn, directory):
    """Copy an association and its members into ``directory``; return the copy's path."""
    asn = Path(asn)
    directory.mkdir(parents=True, exist_ok=True)
    for member in json.loads(asn.read_text())["products"][0]["members"]:
        shutil.copy2(asn.parent / member["expname"], directory)
    shutil.copy2(asn, directory)
    return directory / asn.name


def expected_contributions(sim, stars):
    """``(n_stars, n_exposures)`` 1 where the simulation puts the star on the exposure."""
    pos = sim.positions
    out = np.zeros((len(stars), len(sim.models)), dtype=np.uint8)
    ny, nx = SHAPE
    for s, star in enumerate(stars["star"]):
        for row in pos[pos["star"] == star]:
            x, y = row["x"], row["y"]
            out[s, row["exposure"]] = bool(-0.5 <= x < nx - 0.5 and -0.5 <= y < ny - 0.5)
    return out


def assert_roman_product(model, sim, stars, *, source="computed", pixfrac=1.0,
                         product=PRODUCT):
    """What every Roman drizzled product must hold."""
    assert isinstance(model, DrizzledPSFModel)
    n_src = len(stars)
    assert model.source_ids == [str(i + 1) for i in range(n_src)]
    assert_allclose(model.sources["ra"], stars["ra"], rtol=0, atol=1e-10)
    assert_allclose(model.sources["dec"], stars["dec"], rtol=0, atol=1e-10)
    meta = model.meta
    assert meta.mission == "roman"
    assert meta.telescope == "ROMAN"
    assert meta.instrument.name == "WFI"
    assert meta.instrument.filter == FILTER
    assert meta.instrument.detector == "MULTIPLE"  # WFI01 and WFI02
    assert meta.product_name == product
    assert meta.spike_version == spike.__version__
    assert meta.cal_step.drizzle_psf == "COMPLETE"
    assert meta.psf.method == "galsim"  # the Roman default
    assert meta.psf.oversampling == 4
    assert meta.psf.parameters.pupil_bin == 8

    res = meta.resample
    assert res.output_wcs_source == source
    assert res.pixfrac == pytest.approx(pixfrac)
    assert res.kernel == "square"
    assert res.fillval == "NAN"
    assert res.weight_type == "ivm"
    assert res.good_bits == "~DO_NOT_USE"  # romancal's defaults, not jwst's
    assert res.pixmap_stepsize == 10
    assert res.pixmap_order == 3
    assert res.pixel_scale_ratio == pytest.approx(1.0, abs=1e-3)
    assert 0.10 < res.pixel_scale < 0.12

    assert len(model.exposures) == N_EXPOSURES
    assert [e.decode() if isinstance(e, bytes) else e for e in model.exposures["detector"]] == [
        "WFI01", "WFI02"] * 4
    expected = expected_contributions(sim, stars)
    assert expected.sum(axis=1).tolist() == [4] * n_src  # each star: the 4 dithers of its SCA
    np.testing.assert_array_equal(model.contributions, expected)
    assert list(model.sources["n_exposures"]) == expected.sum(axis=1).tolist()

    sums = np.nansum(model.data, axis=(1, 2))
    # a 41-pixel WFI stamp holds ~95 % of GalSim's F158 PSF; pixel_scale_ratio 1 keeps it
    assert np.all((sums > 0.88) & (sums < 1.0)), sums
    assert_allclose(model.sources["psf_sum"], sums, rtol=1e-5)
    assert np.all(np.isfinite(model.wht)) and np.all(model.wht >= 0)
    x, y = meta.wcs.world_to_pixel_values(np.asarray(stars["ra"]), np.asarray(stars["dec"]))
    assert_allclose(model.sources["x"], x, atol=1e-6)
    assert_allclose(model.sources["y"], y, atol=1e-6)
    for s in range(n_src):
        row = model.sources[s]
        py, px = np.unravel_index(np.nanargmax(model.data[s]), model.data[s].shape)
        assert abs(px - (row["x"] - row["xstart"])) <= 1.0
        assert abs(py - (row["y"] - row["ystart"])) <= 1.0


def assert_same_grid(model, mosaic):
    assert (model.meta.mosaic.ny, model.meta.mosaic.nx) == mosaic.data.shape
    x, y = PIXELS.T
    assert_allclose(np.array(model.meta.wcs(x, y)), np.array(mosaic.meta.wcs(x, y)),
                    rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- strun


def test_strun_drizzle_psf(roman_asn, roman_sim, roman_stars, tmp_path):
    """``strun drizzle_psf <roman asn> --ra=.. --dec=..``: the mission is detected, the
    product is ``<product>_psf.asdf`` and the inputs are byte-identical afterwards."""
    asn = copy_association(roman_asn, tmp_path)
    inputs = file_digests(tmp_path)
    ra = ",".join(repr(float(v)) for v in roman_stars["ra"])
    dec = ",".join(repr(float(v)) for v in roman_stars["dec"])
    env = dict(os.environ)
    env.update({"CRDS_SERVER_URL": "https://crds.invalid", "CRDS_PATH": str(tmp_path / "crds")})
    proc = subprocess.run(["strun", "drizzle_psf", asn.name, f"--ra={ra}", f"--dec={dec}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]

    after = file_digests(tmp_path)
    assert set(after) == set(inputs) | {f"{PRODUCT}_psf.asdf"}
    assert {name: after[name] for name in inputs} == inputs
    with spike_open(tmp_path / f"{PRODUCT}_psf.asdf") as model:
        assert_roman_product(model, roman_sim, roman_stars)


# --------------------------------------------------------------------------- Step.call / run


@pytest.fixture(scope="module")
def asn_run(roman_asn, roman_stars, tmp_path_factory):
    """``DrizzlePSFStep.call`` on a copy of the association, every connection refused."""
    asn = copy_association(roman_asn, tmp_path_factory.mktemp("roman_asn_copy"))
    inputs = file_digests(asn.parent)
    out = tmp_path_factory.mktemp("roman_asn_out")
    attempts = []

    def refuse(*args, **kwargs):  # noqa: ARG001
        attempts.append(args)
        raise OSError("network access attempted")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        result = DrizzlePSFStep.call(str(asn), ra=list(roman_stars["ra"]),
                                     dec=list(roman_stars["dec"]), output_dir=str(out),
                                     save_results=True)
    return {"result": result, "asn": asn, "inputs": inputs, "out": out, "attempts": attempts}


def test_call_association(asn_run, roman_sim, roman_stars):
    assert asn_run["attempts"] == []
    assert file_digests(asn_run["asn"].parent) == asn_run["inputs"]
    assert sorted(p.name for p in asn_run["out"].iterdir()) == [f"{PRODUCT}_psf.asdf"]
    result = asn_run["result"]
    assert_roman_product(result, roman_sim, roman_stars)
    with spike_open(asn_run["out"] / f"{PRODUCT}_psf.asdf") as saved:
        assert_roman_product(saved, roman_sim, roman_stars)
        assert_allclose(saved.data, result.data, rtol=0, atol=0)
        assert_allclose(saved.wht, result.wht, rtol=0, atol=0)
        np.testing.assert_array_equal(saved.con, result.con)


def _snapshot(models):
    snaps = []
    for m in models:
        flat = {k: (np.array(v) if isinstance(v, np.ndarray) else str(v))
                for k, v in m.to_flat_dict().items() if k != "roman.meta.wcs"}
        snaps.append((flat, np.array(m.meta.wcs(100.0, 120.0))))
    return snaps


def _assert_unchanged(models, before):
    for m, (flat, sky) in zip(models, before, strict=True):
        now = {k: v for k, v in m.to_flat_dict().items() if k != "roman.meta.wcs"}
        assert set(now) == set(flat)
        for key, value in flat.items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(now[key], value, err_msg=key)
            else:
                assert str(now[key]) == value, key
        assert_allclose(m.meta.wcs(100.0, 120.0), sky, rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["models", "library", "library_from_asn"])
def test_run_in_memory(roman_sim, roman_stars, roman_asn, asn_run, kind, monkeypatch,
                       tmp_path):
    """A list of ImageModels or a romancal ModelLibrary, sources as a SkyCoord: the same
    product as from the files; the models are unchanged and the library still usable."""
    from romancal.datamodels import ModelLibrary

    monkeypatch.chdir(tmp_path)
    models = roman_sim.models
    before = _snapshot(models)
    sources = SkyCoord(roman_stars["ra"], roman_stars["dec"], unit="deg")
    if kind == "models":
        data = models
    elif kind == "library":
        data = ModelLibrary(models)
    else:
        data = ModelLibrary(str(roman_asn))
    result = DrizzlePSFStep().run(data, sources)

    _assert_unchanged(models, before)
    assert list(tmp_path.iterdir()) == []  # Step.run saves nothing by default
    if kind == "models" or kind == "library":
        assert result.meta.product_name == models[0].meta.filename.rsplit("_", 1)[0]
        assert result.meta.product_name.endswith("_wfi01")
    else:
        assert result.meta.product_name == PRODUCT
    if kind != "models":
        with data:  # every model was shelved again
            for i in range(len(data)):
                model = data.borrow(i)
                assert model.meta.filename == models[i].meta.filename
                data.shelve(model, i, modify=False)
    from_files = asn_run["result"]
    assert result.source_ids == ["1", "2"]
    assert result.meta.mission == "roman"
    assert result.meta.psf.method == "galsim"
    np.testing.assert_array_equal(result.contributions, from_files.contributions)
    assert_allclose(result.data, from_files.data, rtol=1e-6, atol=1e-9)
    assert_allclose(result.wht, from_files.wht, rtol=1e-6)


# --------------------------------------------------------------------------- output grid


def test_reference_mosaic(roman_mosaic, roman_sim, roman_stars, asn_run):
    """A romancal L3 mosaic: its WCS and recorded pixfrac/weight_type/good_bits/pixmap
    parameters win over the step's own values."""
    mosaic, path = roman_mosaic
    recorded = mosaic.meta.resample
    assert (recorded.pixfrac, recorded.weight_type, recorded.good_bits) == (
        MOSAIC_PIXFRAC, "ivm", "~DO_NOT_USE")
    assert (recorded.pixmap_stepsize, recorded.pixmap_order) == (10, 3)
    before = file_digests(path.parent)
    result = DrizzlePSFStep.call(roman_sim.models, ra=list(roman_stars["ra"]),
                                 dec=list(roman_stars["dec"]), reference_mosaic=str(path),
                                 pixfrac=0.5, weight_type="exptime", good_bits="0",
                                 pixmap_stepsize=1.0, pixmap_order=1)
    assert file_digests(path.parent) == before
    product = roman_sim.models[0].meta.filename.rsplit("_", 1)[0]  # list input: no asn
    assert_roman_product(result, roman_sim, roman_stars, source="reference_mosaic",
                         pixfrac=MOSAIC_PIXFRAC, product=product)
    assert_same_grid(result, mosaic)
    assert result.meta.mosaic.reference_mosaic == path.name
    # the grid spike computes itself is romancal's (resample_on_skycell=False)
    computed = asn_run["result"]
    assert computed.meta.resample.output_wcs_source == "computed"
    assert_same_grid(computed, mosaic)


@pytest.mark.parametrize(("weight_type", "var_rnoise"), [
    ("ivm", True),
    ("ivm", False),  # romancal then uses err**2 - var_poisson - var_flat
    # romancal derives the ivm-sky variance from each model's own data; spike gives the
    # PSF stamps the science exposure's value
    ("ivm-sky", True),
])
def test_psf_weights_equal_the_mosaic_weights(roman_sim, roman_stars, roman_mosaic,
                                              weight_type, var_rnoise, tmp_path):
    """The drizzled PSF's weights are the science mosaic's weights on the same pixels
    (science DQ and variances carried by the stamps, weighting by romancal's code)."""
    models = roman_sim.models
    mosaic, path = roman_mosaic
    if weight_type != "ivm" or not var_rnoise:
        from romancal.datamodels import ModelLibrary
        from romancal.resample import ResampleStep

        models = [model.copy() for model in models]
        for model in models if not var_rnoise else []:
            del model.var_rnoise
        library = ModelLibrary([model.copy() for model in models])
        mosaic = ResampleStep(resample_on_skycell=False, pixfrac=MOSAIC_PIXFRAC,
                              weight_type=weight_type).run(library)
        path = tmp_path / f"{weight_type}_coadd.asdf"
        mosaic.save(path)
    result = DrizzlePSFStep.call(models, ra=list(roman_stars["ra"]),
                                 dec=list(roman_stars["dec"]), reference_mosaic=str(path))
    assert result.meta.resample.weight_type == weight_type
    for s, row in enumerate(result.sources):
        ny, nx = result.wht[s].shape
        science = np.asarray(mosaic.weight[row["ystart"]:row["ystart"] + ny,
                                           row["xstart"]:row["xstart"] + nx])
        assert science.min() > 0
        assert_allclose(result.wht[s], science, rtol=0, atol=1e-5 * science.max())


# --------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("use_reference", [True, False])
def test_psf_matches_romancal_mosaic_stars(roman_sim, roman_mosaic, use_reference):
    """The drizzled PSF at every star vs the star in romancal's mosaic (same estimator):
    centroids within 0.05 px, FWHM within 5 %; 16 stars over two SCAs, 4 dithers each."""
    mosaic, path = roman_mosaic
    stars = roman_sim.stars
    pars = {"reference_mosaic": str(path)} if use_reference else {"pixfrac": MOSAIC_PIXFRAC}
    result = DrizzlePSFStep(ra=list(stars["ra"]), dec=list(stars["dec"]),
                            **pars).run(roman_sim.models)
    assert result.meta.resample.pixfrac == pytest.approx(MOSAIC_PIXFRAC)
    assert list(result.sources["n_exposures"]) == [4] * len(stars)
    report = compare_with_stars(result, mosaic)
    assert len(report) == len(stars) == 16
    offsets = np.array([r["offset"] for r in report])
    ratios = np.array([r["fwhm_ratio"] for r in report])
    fwhm = np.array([r["fwhm_star"] for r in report])
    assert np.all(offsets < 0.05), offsets
    assert np.all(np.abs(ratios - 1) < 0.05), ratios
    assert np.all((fwhm > 1.3) & (fwhm < 2.0)), fwhm  # F158 on 0.11" pixels, drizzled


# --------------------------------------------------------------------------- GeneratePSFStep


def test_generate_psf_step(roman_asn, roman_sim, roman_stars, tmp_path):
    """One ExposurePSFModel per exposure (each sees one of the two stars), at the true
    positions."""
    inputs = file_digests(roman_asn.parent)
    results = GeneratePSFStep.call(str(roman_asn), ra=list(roman_stars["ra"]),
                                   dec=list(roman_stars["dec"]), stamp_size=25,
                                   output_dir=str(tmp_path), save_results=True)
    assert file_digests(roman_asn.parent) == inputs
    names = [m.meta.filename for m in roman_sim.models]
    assert len(results) == N_EXPOSURES
    expected = sorted(n.replace("_cal.asdf", "_psfexp.asdf") for n in names)
    assert sorted(p.name for p in tmp_path.iterdir()) == expected
    pos = roman_sim.positions
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        detector = roman_sim.models[index].meta.instrument.detector
        star = roman_stars[0] if detector == "WFI01" else roman_stars[1]
        with spike_open(tmp_path / name.replace("_cal.asdf", "_psfexp.asdf")) as saved:
            for model in (result, saved):
                assert isinstance(model, ExposurePSFModel)
                meta = model.meta
                assert meta.mission == "roman"
                assert meta.telescope == "ROMAN"
                assert (meta.instrument.name, meta.instrument.detector) == ("WFI", detector)
                assert meta.instrument.filter == FILTER
                assert meta.exposure.filename == name
                assert meta.psf.method == "galsim"
                assert meta.product_name == PRODUCT
                assert meta.cal_step.generate_psf == "COMPLETE"
                assert model.source_ids == (["1"] if detector == "WFI01" else ["2"])
                assert model.data.shape == (1, 100, 100)
                row = pos[(pos["exposure"] == index) & (pos["star"] == star["star"])]
                assert_allclose(model.sources["x"], row["x"], rtol=0, atol=1e-6)
                assert_allclose(model.sources["y"], row["y"], rtol=0, atol=1e-6)
                assert_allclose(model.data.sum(axis=(1, 2)) / 16, model.sources["psf_sum"],
                                rtol=1e-5)
                assert 0.85 < model.sources["psf_sum"][0] < 1.0
            assert_allclose(saved.data, result.data, rtol=0, atol=0)
