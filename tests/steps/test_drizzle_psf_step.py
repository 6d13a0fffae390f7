"""`DrizzlePSFStep` as users run it: ``strun``, ``Step.call`` and ``Step.run``.

Every run here is offline: spike's step base class never asks CRDS for parameters, and the
``optical`` PSF model needs no data files. The science data are the session's simulated
NIRCam exposures (`jwst_sim`, `jwst_asn`); the science mosaic is made by jwst's own
`ResampleStep`.
"""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import Table
from numpy.testing import assert_allclose

import spike
from spike.datamodels import DrizzledPSFModel, ExposurePSFModel
from spike.datamodels import open as spike_open
from spike.steps import DrizzlePSFStep
from tests.helpers import file_digests

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
N_EXPOSURES = 8
PRODUCT = "sim_f200w"


def copy_association(asn, directory):
    """Copy an association and its members into ``directory``; return the copy's path."""
    asn = Path(asn)
    directory.mkdir(parents=True, exist_ok=True)
    for member in json.loads(asn.read_text())["products"][0]["members"]:
        shutil.copy2(asn.parent / member["expname"], directory)
    shutil.copy2(asn, directory)
    return directory / asn.name


def offline_env(tmp_path):
    """Environment for ``strun``: any CRDS access would fail fast instead of going online."""
    env = dict(os.environ)
    env.update({"CRDS_SERVER_URL": "https://crds.invalid", "CRDS_PATH": str(tmp_path / "crds")})
    return env


def run_strun(args, cwd, tmp_path):
    proc = subprocess.run(["strun", *args], cwd=cwd, env=offline_env(tmp_path),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def assert_drizzled_product(model, ra, dec, *, ids, area_ratio=1.0, source="computed"):
    """Check what every drizzled product must hold (see the module docstring)."""
    assert isinstance(model, DrizzledPSFModel)
    n_src = len(ids)
    assert model.source_ids == ids
    assert_allclose(model.sources["ra"], ra, rtol=0, atol=1e-10)
    assert_allclose(model.sources["dec"], dec, rtol=0, atol=1e-10)
    assert model.meta.cal_step.drizzle_psf == "COMPLETE"
    assert model.meta.spike_version == spike.__version__
    assert model.meta.product_name == PRODUCT
    assert model.meta.instrument.filter == "F200W"
    assert model.meta.psf.method == "optical"
    logs = model.meta.cal_logs.drizzle_psf
    assert any("DrizzlePSFStep" in line for line in logs)

    res = model.meta.resample
    assert res.output_wcs_source == source
    assert res.weight_type == "ivm"
    assert res.fillval == "NAN"
    assert res.good_bits == "~DO_NOT_USE+NON_SCIENCE"
    assert res.pixel_scale > 0

    assert len(model.exposures) == N_EXPOSURES
    assert list(model.sources["n_exposures"]) == [N_EXPOSURES] * n_src
    assert model.contributions.shape == (n_src, N_EXPOSURES)
    assert np.all(model.contributions == 1)

    assert model.data.shape[0] == model.wht.shape[0] == n_src
    assert np.all(np.isfinite(model.wht))
    assert np.all(model.wht >= 0)
    sums = np.nansum(model.data, axis=(1, 2))
    assert np.all(sums >= 0.8 * area_ratio), sums
    assert np.all(sums <= 1.1 * area_ratio), sums
    assert_allclose(model.sources["psf_sum"], sums, rtol=1e-5)

    # the cutouts sit where the sources fall on the mosaic grid, and peak there
    x, y = model.meta.wcs.world_to_pixel_values(np.asarray(ra), np.asarray(dec))
    assert_allclose(model.sources["x"], x, atol=1e-6)
    assert_allclose(model.sources["y"], y, atol=1e-6)
    for s in range(n_src):
        row = model.sources[s]
        peak_y, peak_x = np.unravel_index(np.nanargmax(model.data[s]), model.data[s].shape)
        assert abs(peak_x - (row["x"] - row["xstart"])) <= 1.0
        assert abs(peak_y - (row["y"] - row["ystart"])) <= 1.0
        assert np.all(model.wht[s][peak_y - 3:peak_y + 4, peak_x - 3:peak_x + 4] > 0)


def only_file(directory):
    files = sorted(p.name for p in directory.iterdir())
    assert len(files) == 1, files
    return directory / files[0]


@pytest.fixture(scope="module")
def stars(jwst_sim):
    """Two of the simulated stars."""
    return jwst_sim.stars[:2]


# --------------------------------------------------------------------------- strun


def test_strun_alias_comma_separated_ra_dec(jwst_asn, stars, tmp_path):
    """``strun drizzle_psf <asn> --ra=RA1,RA2 --dec=DEC1,DEC2`` models two sources.

    stpipe reads a list parameter from one argument with comma-separated values
    (``--ra=1.0,2.0`` or ``--ra 1.0,2.0``; a single value, ``--ra=1.0``, also works);
    negative values need the ``=`` form (``--dec=-27.79,-27.78``). Space-separated values
    are rejected (see `test_cmdline_rejects_space_separated_values`).
    """
    asn = copy_association(jwst_asn, tmp_path)
    inputs = file_digests(tmp_path)
    ra = ",".join(repr(float(v)) for v in stars["ra"])
    dec = ",".join(repr(float(v)) for v in stars["dec"])
    run_strun(["drizzle_psf", asn.name, f"--ra={ra}", f"--dec={dec}", "--method=optical"],
              cwd=tmp_path, tmp_path=tmp_path)

    after = file_digests(tmp_path)
    assert set(after) == set(inputs) | {f"{PRODUCT}_psf.asdf"}
    assert {name: after[name] for name in inputs} == inputs
    with spike_open(tmp_path / f"{PRODUCT}_psf.asdf") as model:
        assert_drizzled_product(model, stars["ra"], stars["dec"], ids=["1", "2"])
        assert model.meta.resample.pixfrac == 1.0
        assert model.meta.resample.kernel == "square"
        assert model.meta.resample.pixel_scale_ratio == 1.0


def test_strun_class_path_with_pixel_scale_ratio(jwst_asn, stars, tmp_path):
    """``strun spike.steps.DrizzlePSFStep`` with ``--output_dir`` and a finer output grid.

    With ``pixel_scale_ratio=0.5`` each output pixel covers a quarter of an input pixel and
    jwst resamples surface brightness, so the PSF sums to about 4.
    """
    inputs = file_digests(jwst_asn.parent)
    out = tmp_path / "out"
    run_strun(["spike.steps.DrizzlePSFStep", str(jwst_asn), f"--ra={float(stars['ra'][0])!r}",
               f"--dec={float(stars['dec'][0])!r}", "--pixel_scale_ratio=0.5",
               f"--output_dir={out}"], cwd=tmp_path, tmp_path=tmp_path)

    product = only_file(out)
    assert product.name == f"{PRODUCT}_psf.asdf"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert file_digests(jwst_asn.parent) == inputs
    with spike_open(product) as model:
        assert_drizzled_product(model, stars["ra"][:1], stars["dec"][:1], ids=["1"],
                                area_ratio=4.0)
        assert model.meta.resample.pixel_scale_ratio == pytest.approx(0.5)


def test_cmdline_rejects_space_separated_values(jwst_asn, capsys):
    """``--ra 1.0 2.0`` is not a list: stpipe's parser stops on the stray value."""
    with pytest.raises(SystemExit) as info:
        DrizzlePSFStep.from_cmdline(["drizzle_psf", str(jwst_asn), "--ra", "53.16", "53.17",
                                     "--dec=-27.79,-27.78"])
    assert info.value.code == 2
    assert "unrecognized arguments: 53.17" in capsys.readouterr().err


# --------------------------------------------------------------------------- Step.call / run


@pytest.fixture(scope="module")
def asn_run(jwst_asn, stars, tmp_path_factory):
    """``DrizzlePSFStep.call`` on a copy of the association, with every connection refused
    (and recorded, in case a library swallows the error)."""
    asn = copy_association(jwst_asn, tmp_path_factory.mktemp("asn_copy"))
    inputs = file_digests(asn.parent)
    out = tmp_path_factory.mktemp("asn_run_out")
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        result = DrizzlePSFStep.call(str(asn), ra=list(stars["ra"]), dec=list(stars["dec"]),
                                     method="optical", output_dir=str(out), save_results=True)
    return {"result": result, "asn": asn, "inputs": inputs, "out": out, "attempts": attempts}


def test_call_association_offline(asn_run, stars):
    """Step.call works with no CRDS and no network, and names the product after the asn."""
    assert asn_run["attempts"] == []
    result = asn_run["result"]
    assert file_digests(asn_run["asn"].parent) == asn_run["inputs"]
    product = only_file(asn_run["out"])
    assert product.name == f"{PRODUCT}_psf.asdf"
    assert_drizzled_product(result, stars["ra"], stars["dec"], ids=["1", "2"])
    with spike_open(product) as saved:
        assert_drizzled_product(saved, stars["ra"], stars["dec"], ids=["1", "2"])
        assert_allclose(saved.data, result.data, rtol=0, atol=0)
        assert_allclose(saved.wht, result.wht, rtol=0, atol=0)
        assert_allclose(saved.meta.wcs(10.0, 20.0), result.meta.wcs(10.0, 20.0), rtol=0,
                        atol=1e-12)


def _snapshot(models):
    return [{
        "data": m.data.copy(), "dq": m.dq.copy(), "err": m.err.copy(),
        "filename": m.meta.filename, "filter": m.meta.instrument.filter,
        "cal_step": m.meta.cal_step.instance.copy(),
        "background": m.meta.background.instance.copy(),
        "sky": m.meta.wcs(100.0, 120.0),
    } for m in models]


def _assert_unchanged(models, before):
    for m, b in zip(models, before, strict=True):
        np.testing.assert_array_equal(m.data, b["data"])
        np.testing.assert_array_equal(m.dq, b["dq"])
        np.testing.assert_array_equal(m.err, b["err"])
        assert m.meta.filename == b["filename"]
        assert m.meta.instrument.filter == b["filter"]
        assert m.meta.cal_step.instance == b["cal_step"]
        assert m.meta.background.instance == b["background"]
        assert not m.meta.hasattr("resample")
        assert_allclose(m.meta.wcs(100.0, 120.0), b["sky"], rtol=0, atol=0)


@pytest.mark.parametrize("kind", ["skycoord", "table"])
def test_run_in_memory_models(jwst_sim, stars, asn_run, kind, monkeypatch, tmp_path):
    """Models in memory, sources as the second positional argument; the models are unchanged.

    The PSFs equal those made from the same exposures read from the association's files.
    """
    monkeypatch.chdir(tmp_path)
    models = jwst_sim.models
    before = _snapshot(models)
    if kind == "skycoord":
        sources, ids = SkyCoord(stars["ra"], stars["dec"], unit="deg"), ["1", "2"]
    else:
        sources = Table({"id": ["bright", "faint"], "ra": stars["ra"], "dec": stars["dec"]})
        ids = ["bright", "faint"]
    result = DrizzlePSFStep(method="optical").run(models, sources)

    _assert_unchanged(models, before)
    assert list(tmp_path.iterdir()) == []  # Step.run does not save by default
    assert result.source_ids == ids
    assert_allclose(result.sources["ra"], stars["ra"], atol=1e-10)
    assert len(result.exposures) == N_EXPOSURES
    assert result.meta.cal_step.drizzle_psf == "COMPLETE"
    assert result.meta.product_name == models[0].meta.filename.rsplit("_", 1)[0]
    from_files = asn_run["result"]
    assert result.data.shape == from_files.data.shape
    assert_allclose(result.data, from_files.data, rtol=1e-6, atol=1e-9)
    assert_allclose(result.wht, from_files.wht, rtol=1e-6)
    assert_allclose(result.sources["psf_sum"], from_files.sources["psf_sum"], rtol=1e-6)


def test_save_exposure_psfs_and_plots(jwst_asn, stars, tmp_path):
    out = tmp_path / "out"
    members = [m["expname"] for m in
               json.loads(jwst_asn.read_text())["products"][0]["members"]]
    DrizzlePSFStep.call(str(jwst_asn), ra=list(stars["ra"]), dec=list(stars["dec"]),
                        method="optical", output_dir=str(out), save_results=True,
                        save_exposure_psfs=True, save_plots=True)

    expected = {name.replace("_cal.fits", "_psfexp.asdf") for name in members}
    expected |= {f"{PRODUCT}_psf.asdf", f"{PRODUCT}_psf.png"}
    assert {p.name for p in out.iterdir()} == expected
    for name in members:
        with spike_open(out / name.replace("_cal.fits", "_psfexp.asdf")) as model:
            assert isinstance(model, ExposurePSFModel)
            assert model.meta.exposure.filename == name
            assert model.meta.cal_step.generate_psf == "COMPLETE"
            assert model.source_ids == ["1", "2"]

    png = out / f"{PRODUCT}_psf.png"
    assert png.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image

    image = matplotlib.image.imread(png)
    assert image.ndim == 3
    assert image.shape[0] > 100
    assert image.shape[1] > 100
    assert np.ptp(image[..., :3]) > 0  # not a blank canvas


def test_output_file_overrides_name(jwst_sim, stars, tmp_path):
    """``output_file`` names the product and its quicklook; stpipe adds the ``_psf`` suffix.

    As for every stpipe step, ``custom``, ``custom.asdf`` and ``custom_psf.asdf`` all give
    ``custom_psf.asdf`` (a known suffix is replaced, the extension is ``output_ext``).
    """
    DrizzlePSFStep(method="optical", ra=[float(stars["ra"][0])], dec=[float(stars["dec"][0])],
                   output_dir=str(tmp_path), output_file="custom.asdf",
                   save_plots=True).run(jwst_sim.models)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["custom_psf.asdf", "custom_psf.png"]
    with spike_open(tmp_path / "custom_psf.asdf") as model:
        assert model.source_ids == ["1"]


# --------------------------------------------------------------------------- output grid


@pytest.fixture(scope="module")
def science_mosaic(jwst_asn, tmp_path_factory):
    """The science mosaic made by jwst's ResampleStep (``.run`` never queries CRDS)."""
    from jwst.resample import ResampleStep

    mosaic = ResampleStep(pixfrac=0.8, kernel="square").run(str(jwst_asn))
    path = tmp_path_factory.mktemp("mosaic") / f"{PRODUCT}_i2d.fits"
    mosaic.save(path)
    return mosaic, path


PIXELS = np.array([[0.0, 0.0], [17.3, 250.6], [160.0, 170.0], [300.5, 12.25]])


def _assert_same_grid(model, mosaic):
    assert (model.meta.mosaic.ny, model.meta.mosaic.nx) == mosaic.data.shape
    x, y = PIXELS.T
    assert_allclose(np.array(model.meta.wcs(x, y)), np.array(mosaic.meta.wcs(x, y)),
                    rtol=0, atol=1e-10)


def test_reference_mosaic_grid_and_parameters(science_mosaic, jwst_asn, stars):
    """The mosaic's grid and its recorded pixfrac/kernel win over the step's own values."""
    mosaic, path = science_mosaic
    before = file_digests(path.parent)
    result = DrizzlePSFStep.call(str(jwst_asn), ra=list(stars["ra"]), dec=list(stars["dec"]),
                                 method="optical", reference_mosaic=str(path), pixfrac=0.5,
                                 kernel="gaussian")
    assert file_digests(path.parent) == before
    assert_drizzled_product(result, stars["ra"], stars["dec"], ids=["1", "2"],
                            source="reference_mosaic")
    _assert_same_grid(result, mosaic)
    assert result.meta.mosaic.reference_mosaic == path.name
    assert result.meta.resample.pixfrac == pytest.approx(0.8)
    assert result.meta.resample.kernel == "square"
    assert mosaic.meta.resample.pixfrac == pytest.approx(0.8)


def test_output_wcs_file_gives_the_same_grid(science_mosaic, jwst_sim, stars, tmp_path):
    """``output_wcs`` (an ASDF file with the mosaic's gwcs) and ``pixfrac``/``kernel``."""
    mosaic, _ = science_mosaic
    wcs_file = tmp_path / "mosaic_wcs.asdf"
    asdf.AsdfFile({"wcs": mosaic.meta.wcs}).write_to(wcs_file)
    result = DrizzlePSFStep(method="optical", ra=list(stars["ra"]), dec=list(stars["dec"]),
                            output_wcs=str(wcs_file), pixfrac=0.5,
                            kernel="gaussian").run(jwst_sim.models)
    _assert_same_grid(result, mosaic)
    res = result.meta.resample
    assert res.output_wcs_source == "output_wcs"
    assert result.meta.mosaic.reference_mosaic is None
    assert res.pixfrac == pytest.approx(0.5)
    assert res.kernel == "gaussian"
    assert res.pixel_scale_ratio == pytest.approx(1.0, abs=1e-3)
    x, y = mosaic.meta.wcs.world_to_pixel_values(np.asarray(stars["ra"]),
                                                 np.asarray(stars["dec"]))
    assert_allclose(result.sources["x"], x, atol=1e-6)
    assert_allclose(result.sources["y"], y, atol=1e-6)
    assert np.all(np.nansum(result.data, axis=(1, 2)) > 0.8)
