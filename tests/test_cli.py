"""The ``spike`` command: ``spike demo`` simulates, drizzles and checks a NIRCam mosaic offline.

The demos' stars are drawn with independent truth PSFs (`spike.datasets.truth_psf`), so the
reported ratios are the drizzled model's error against them: the expectations below are the
measured values with their margins, and they fail if the stars were drawn with the model.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spike import cli
from spike.datamodels import DrizzledPSFModel
from spike.datamodels import open as spike_open

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """One run of the demo with two dithers per visit (four exposures)."""
    directory = tmp_path_factory.mktemp("demo") / "out"
    return directory, cli.run_demo(directory, n_exposures=2)


def test_demo_writes_its_products(demo):
    directory, result = demo
    names = sorted(p.name for p in directory.iterdir())
    cal = [n for n in names if n.endswith("_cal.fits")]
    assert len(cal) == 4
    assert sorted(set(names) - set(cal)) == [
        "spike_demo_asn.json", "spike_demo_i2d.fits", "spike_demo_psf.asdf",
        "spike_demo_psf.png"]
    assert result["asn"] == directory / "spike_demo_asn.json"
    assert result["mosaic"] == directory / "spike_demo_i2d.fits"
    assert result["psf"] == directory / "spike_demo_psf.asdf"
    assert (directory / "spike_demo_psf.png").read_bytes()[:8] == PNG_SIGNATURE
    with spike_open(result["psf"]) as model:
        assert isinstance(model, DrizzledPSFModel)
        assert model.source_ids == ["1", "2", "3"]
        assert model.meta.resample.output_wcs_source == "reference_mosaic"
        assert model.meta.mosaic.reference_mosaic == "spike_demo_i2d.fits"
        assert list(model.sources["n_exposures"]) == [4, 4, 4]


def test_demo_psf_matches_the_stars(demo):
    """The report: drizzled ``optical`` PSF vs. the stars of jwst's own mosaic, drawn with
    the poppy truth (70 nm rms WFE, jitter, charge diffusion, IPC). Measured (4 and 8
    exposures alike): centroids within 0.002 px, FWHM ratio 0.967, EE(2, 4, 8 px) ratios
    1.052, 1.021, 1.002: ``optical`` has none of those effects, so it is 3 % too narrow."""
    _, result = demo
    report = result["report"]
    assert [row["id"] for row in report] == ["1", "2", "3"]
    assert np.all(np.asarray(report["offset"]) < 0.02), report["offset"]
    assert np.all((0.95 < report["fwhm_ratio"]) & (report["fwhm_ratio"] < 0.985))
    assert np.all((1.03 < report["ee_ratio_2"]) & (report["ee_ratio_2"] < 1.08))
    assert np.all(np.abs(report["ee_ratio_8"] - 1) < 0.01)
    summary = result["summary"]
    assert summary["n"] == 3
    assert summary["fwhm_ratio"] == pytest.approx(np.median(report["fwhm_ratio"]))
    assert "70 nm rms WFE" in result["truth"]


def test_main_runs_the_demos(monkeypatch, tmp_path):
    """Hermetic: the demos are replaced and the working directory is the test's own."""
    monkeypatch.chdir(tmp_path)
    calls = []
    monkeypatch.setattr(cli, "run_demo", lambda *a, **k: calls.append(("jwst", a, k)))
    monkeypatch.setattr(cli, "run_roman_demo", lambda *a, **k: calls.append(("roman", a, k)))
    monkeypatch.setattr(cli, "run_hst_demo", lambda *a, **k: calls.append(("hst", a, k)))
    assert cli.main(["demo", "--output-dir", str(tmp_path), "--mission", "jwst",
                     "--method", "user"]) == 0
    assert calls == [("jwst", (str(tmp_path),), {"method": "user"})]
    calls.clear()
    assert cli.main(["demo"]) == 0
    assert calls == [("jwst", (str(Path("spike-demo") / "jwst"),), {"method": "optical"}),
                     ("roman", (Path("spike-demo") / "roman",), {"method": None}),
                     ("hst", (Path("spike-demo") / "hst",), {"method": None})]
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_main_needs_a_command(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    assert "the following arguments are required: command" in capsys.readouterr().err


@pytest.mark.parametrize("n", [0, 5])
def test_run_demo_checks_n_exposures(tmp_path, n):
    with pytest.raises(ValueError, match=rf"n_exposures must be between 1 and 4, got {n}"):
        cli.run_demo(tmp_path, n_exposures=n)


def test_console_script_installed():
    # the script of the running environment (found without activating it), else PATH's
    script = Path(sys.executable).with_name("spike")
    proc = subprocess.run([str(script) if script.is_file() else "spike", "demo", "--help"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--output-dir" in proc.stdout


@pytest.mark.slow
def test_roman_demo_end_to_end(tmp_path, capsys):
    """The Roman demo: simulated WFI exposures, romancal's mosaic, spike's galsim PSF."""
    result = cli.run_roman_demo(tmp_path)
    out = capsys.readouterr().out
    assert "their stars are drawn with an independent truth PSF: GalSim Roman model" in out
    assert "median of 3: centroid offset" in out
    assert "these ratios are the model's error, not the drizzle's" in out
    for key in ("asn", "mosaic", "psf"):
        assert result[key].is_file()
    assert (tmp_path / "spike_roman_demo_psf.png").read_bytes()[:8] == PNG_SIGNATURE
    product = spike_open(result["psf"])
    assert isinstance(product, DrizzledPSFModel)
    assert product.meta.mission == "roman"
    assert product.meta.psf.method == "galsim"
    # Stars drawn with GalSim's Roman model plus 25 nm of extra aberrations, jitter, charge
    # diffusion and IPC, which ``galsim`` leaves out. Measured: FWHM ratio 0.86-0.89,
    # EE(2 px) ratio 1.026-1.032, EE(8 px) 1.000; centroid offset 0.19-0.20 px, because
    # ``galsim`` centres each PSF on GalSim's centre of light and a star's position is its
    # core's centroid (they differ by the design's coma).
    report = result["report"]
    assert np.all((0.12 < report["offset"]) & (report["offset"] < 0.26)), report["offset"]
    assert np.all((0.82 < report["fwhm_ratio"]) & (report["fwhm_ratio"] < 0.92))
    assert np.all((1.01 < report["ee_ratio_2"]) & (report["ee_ratio_2"] < 1.05))
    assert np.all(np.abs(report["ee_ratio_8"] - 1) < 0.01)
    assert "extra aberrations" in result["truth"]


@pytest.mark.slow
def test_hst_demo(tmp_path):
    """``spike demo --mission hst``: real ACS/HRC exposures, AstroDrizzle, ePSFs."""
    import hashlib

    from spike.datasets.hst import hst_example_path

    original = hst_example_path("acs_hrc")
    before = hashlib.sha256(original.read_bytes()).hexdigest()
    result = cli.run_hst_demo(tmp_path / "hst")
    assert result["mosaic"].name == "spike_hst_demo_drz.fits"
    assert (tmp_path / "hst" / "j8bt06d10_psf.png").read_bytes()[:8] == PNG_SIGNATURE
    with spike_open(result["psf"]) as model:
        assert model.meta.mission == "hst" and model.meta.psf.method == "epsf"
        assert list(model.sources["n_exposures"]) == [4, 4, 4]
    for row in result["report"]:
        assert row["offset"] <= 0.05 and abs(row["fwhm_ratio"] - 1) <= 0.05, row
        # real stars vs epsf: EE(2, 4, 8 px) ratios measured 1.10-1.24, 1.09-1.23,
        # 1.03-1.06 (the 25 px ePSF has less light in its wings than the stars)
        assert 0.9 < row["ee_ratio_2"] < 1.35 and 0.95 < row["ee_ratio_8"] < 1.15, row
    assert hashlib.sha256(original.read_bytes()).hexdigest() == before
