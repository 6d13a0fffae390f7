"""Tests of the TinyTim method.

TinyTim cannot be installed offline on the test machines, so apart from the missing-TinyTim
error these tests run MOCK programs: small Python scripts named ``tiny1``, ``tiny2`` and
``tiny3`` written into ``tmp_path`` and put first on ``PATH``. They record their arguments
and stdin and write a Gaussian FITS "PSF" where TinyTim would write its output. They check
the questionnaire spike feeds to TinyTim and the ePSF conversion, not TinyTim's physics.
"""

import json
import os
import stat
import sys
import textwrap

import numpy as np
import pytest

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf.tinytim import (
    GILLIS2020_ZERNIKES,
    TinyTimPSFMethod,
    tiny1_answers,
    tinytim_camera,
)
from tests.psf._helpers import centroid, make_detector

MOCK = textwrap.dedent('''\
    #!{python}
    """MOCK of TinyTim's {name} for spike's tests (TinyTim itself is not installed)."""
    import json, os, sys
    import numpy as np
    from astropy.io import fits

    name, args = "{name}", sys.argv[1:]
    stdin = sys.stdin.read() if name == "tiny1" else ""
    with open(os.environ["MOCK_LOG"], "a") as f:
        f.write(json.dumps({{"prog": name, "args": args, "stdin": stdin, "cwd": os.getcwd(),
                            "tinytim": os.environ.get("TINYTIM")}}) + "\\n")
    par = args[0]
    if name == "tiny1":
        a = stdin.split("\\n")
        i = 2 if a[0] in ("5", "15", "22") else 1
        i += 2  # position, filter
        if a[i - 1] not in os.environ.get("MOCK_MONO", "").split(","):
            i += 2  # spectrum choice and value
        diameter = a[i]
        with open(par, "w") as f:
            f.write("psf  # Output PSF file rootname\\n")
            f.write("%s  # PSF diameter in arcsecs\\n" % diameter)
            for z in range(1, 23):
                f.write("0.0100  # Z%d = term\\n" % z)
        sys.exit(0)
    root = open(par).readline().split()[0]
    sub = 1
    for arg in args[1:]:
        if arg.upper().startswith("SUB="):
            sub = int(arg[4:])
    wfpc2 = name == "tiny2" and os.environ.get("MOCK_WFPC2")
    if name == "tiny2" and not wfpc2:
        fits.PrimaryHDU(np.ones((8, 8))).writeto(root + "00_psf.fits")
        sys.exit(0)
    if wfpc2:
        sub = int(os.environ.get("MOCK_WFPC2"))
    n = 21 * sub
    yy, xx = np.mgrid[:n, :n]
    c = (n - 1) / 2
    g = np.exp(-((xx - c) ** 2 + (yy - c) ** 2) / (2 * (1.2 * sub) ** 2))
    fits.PrimaryHDU(g * 0.98 / g.sum()).writeto(root + "00.fits")
''')


@pytest.fixture
def mock_tinytim(tmp_path, monkeypatch):
    """Install MOCK tiny1/tiny2/tiny3 on PATH and a fake $TINYTIM; return the log reader."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("tiny1", "tiny2", "tiny3"):
        path = bindir / name
        path.write_text(MOCK.format(python=sys.executable, name=name))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    data = tmp_path / "tinytim-data"
    data.mkdir()
    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("TINYTIM", str(data))
    monkeypatch.setenv("MOCK_LOG", str(log))

    def calls():
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


def hst(instrument="ACS", detector="WFC", filter="F814W", **extra):
    return make_detector(mission="hst", instrument=instrument, detector=detector,
                         filter=filter, pupil=None, filename="j_flt.fits", extra=extra)


def test_missing_tinytim_raises_clear_error(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("TINYTIM", raising=False)
    workdir = tmp_path / "work"
    method = TinyTimPSFMethod(workdir=str(workdir))
    with pytest.raises(PSFDataUnavailableError) as info:
        method.prepare(hst(chip=1))
    msg = str(info.value)
    for text in ("TinyTim is not installed", "tiny1", "tiny2", "tiny3", "TINYTIM",
                 "spacetelescope/tinytim", "make", "'optical'", "$TINYTIM is not set"):
        assert text in msg
    assert isinstance(info.value, PSFMethodError)
    assert not workdir.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_missing_tinytim_checked_before_detector(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TINYTIM", str(tmp_path / "nowhere"))
    with pytest.raises(PSFDataUnavailableError, match="is not a directory"):
        TinyTimPSFMethod().prepare(hst(instrument="STIS", detector="CCD"))


@pytest.mark.parametrize(
    ("instrument", "detector", "chip", "expected"),
    [
        ("ACS", "WFC", 1, (15, 1)),
        ("ACS", "WFC2", None, (15, 2)),
        ("ACS", "HRC", None, (16, None)),
        ("ACS", "SBC", None, (18, None)),
        ("WFC3", "UVIS", 2, (22, 2)),
        ("WFC3", "UVIS1", None, (22, 1)),
        ("WFC3", "IR", None, (23, None)),
        ("WFPC2", "PC", None, (6, None)),
        ("WFPC2", "WF", 3, (5, 3)),
        ("WFPC2", "WF4", None, (5, 4)),
        ("WFPC2", "", 2, (5, 2)),
        ("WFPC2", "", 1, (6, None)),
    ],
)
def test_camera_map(instrument, detector, chip, expected):
    assert tinytim_camera(instrument, detector, chip) == expected


@pytest.mark.parametrize(
    ("instrument", "detector", "chip", "match"),
    [
        ("STIS", "CCD", None, "ACS, WFC3 and WFPC2"),
        ("NIRCAM", "NRCA1", None, "ACS, WFC3 and WFPC2"),
        ("ACS", "WFC", None, "CCDCHIP 1 or 2"),
        ("WFC3", "UVIS", 3, "CCDCHIP 1 or 2"),
        ("WFPC2", "WF", None, "chip number 1-4"),
        ("ACS", "XYZ", None, "does not know"),
    ],
)
def test_bad_detectors(mock_tinytim, instrument, detector, chip, match):
    with pytest.raises(PSFMethodError, match=match):
        TinyTimPSFMethod().prepare(hst(instrument=instrument, detector=detector, chip=chip))
    assert not os.path.exists(os.environ["MOCK_LOG"])  # nothing run


def test_non_hst_rejected(mock_tinytim):
    with pytest.raises(PSFMethodError, match="mission 'hst'"):
        TinyTimPSFMethod().prepare(make_detector())


@pytest.mark.parametrize("kwargs", [{"spectrum": "xx:1"}, {"spectrum": "bb:-5"},
                                    {"spectrum": "pl"}, {"diameter": 0},
                                    {"oversampling": 11}])
def test_bad_options(kwargs):
    with pytest.raises(ValueError):
        TinyTimPSFMethod(**kwargs)


@pytest.mark.parametrize("oversampling", [1, 2, 3])
def test_questionnaire_and_epsf(mock_tinytim, tmp_path, oversampling):
    workdir = tmp_path / "work"
    method = TinyTimPSFMethod(oversampling=oversampling, diameter=2.5, focus=-1.5,
                              spectrum="bb:5800", workdir=str(workdir))
    model = method.prepare(hst(chip=2))
    psf = model.evaluate(1000.2, 499.7, size=11)
    calls = mock_tinytim()
    assert [c["prog"] for c in calls] == ["tiny1", "tiny2", "tiny3"]
    assert calls[0]["stdin"].split("\n") == [
        "15", "2", "1001 501", "f814w", "2", "5800", "2.5", "-1.5", "psf", ""]
    assert calls[0]["args"] == ["psf.par"]
    assert calls[1]["args"] == ["psf.par"]
    assert calls[2]["args"] == (["psf.par", f"SUB={oversampling}"] if oversampling > 1
                                else ["psf.par"])
    assert all(c["tinytim"] == os.environ["TINYTIM"] for c in calls)
    assert all(c["cwd"].startswith(str(workdir)) for c in calls)
    assert list(workdir.iterdir()) == []  # run directory cleaned
    n = 11 * oversampling
    assert psf.shape == (n, n) and psf.dtype == np.float64
    assert psf.sum() == pytest.approx(oversampling**2 * 0.98, rel=2e-3)
    cx, cy = centroid(psf)
    assert abs(cx) < 1e-6 and abs(cy) < 1e-6
    assert psf[n // 2, n // 2] == psf.max()
    # cached per (chip, rounded position); other sizes reuse the run
    again = model.evaluate(1000.4, 499.9, size=7)
    assert len(mock_tinytim()) == 3
    np.testing.assert_allclose(again, psf[2 * oversampling:-2 * oversampling,
                                          2 * oversampling:-2 * oversampling])
    model.evaluate(1500.0, 499.9, size=7)
    assert len(mock_tinytim()) == 6


def test_describe_records_options():
    desc = TinyTimPSFMethod(oversampling=3, spectrum="pl:-1", gillis2020=True).describe()
    assert desc == {"method": "tinytim", "oversampling": 3, "diameter": 3.0, "focus": 0.0,
                    "spectrum": "pl:-1", "gillis2020": True, "tinytim_dir": None,
                    "workdir": None, "timeout": 600.0}


def test_spectrum_codes_and_wfc3_ir_position():
    common = dict(filter="F160W", diameter=3, focus=0, rootname="r")
    assert tiny1_answers(camera=23, chip=None, position=(10, 20), spectrum="pl:-1",
                         **common) == ["23", "10 20", "f160w", "3", "-1", "3", "0", "r"]
    for spec, expect in (("list:15", ["1", "15"]), ("pllam:2", ["4", "2"]),
                         ("file:/a/s.txt", ["5", "/a/s.txt"])):
        assert tiny1_answers(camera=23, chip=None, position=(1, 1), spectrum=spec,
                             **common)[3:5] == expect


def test_wfpc2_subsampled_by_tiny1(mock_tinytim, monkeypatch):
    monkeypatch.setenv("MOCK_WFPC2", "2")
    model = TinyTimPSFMethod(oversampling=2).prepare(
        hst(instrument="WFPC2", detector="WF3", filter="F606W"))
    psf = model.evaluate(900.0, 10.0, size=9)
    calls = mock_tinytim()
    assert [c["prog"] for c in calls] == ["tiny1", "tiny2"]  # no tiny3 for WFPC2
    assert calls[0]["stdin"].split("\n")[:9] == [
        "5", "3", "799 11", "f606w", "3", "-1", "3", "Y", "2"]
    assert psf.shape == (18, 18)


def test_single_wavelength_filter_retry(mock_tinytim, monkeypatch):
    monkeypatch.setenv("MOCK_MONO", "f658n")
    method = TinyTimPSFMethod(oversampling=1, diameter=2.5)
    method.prepare(hst(filter="F658N", chip=1)).evaluate(10, 10, size=5)
    tiny1 = [c for c in mock_tinytim() if c["prog"] == "tiny1"]
    assert len(tiny1) == 2
    assert tiny1[1]["stdin"].split("\n")[:6] == ["15", "1", "11 11", "f658n", "2.5", "0"]


def test_gillis_changes_parameters(mock_tinytim, tmp_path, monkeypatch):
    # a tiny2 that copies the parameter file it receives, to see what spike passed on
    seen = tmp_path / "seen.par"
    tiny2 = tmp_path / "bin" / "tiny2"
    tiny2.write_text(tiny2.read_text().replace(
        'root = open(par).readline().split()[0]',
        f'root = open(par).readline().split()[0]\nopen({str(seen)!r}, "w").write(open(par).read())'))
    for gillis in (False, True):
        TinyTimPSFMethod(gillis2020=gillis).prepare(hst(chip=1)).evaluate(5, 5, size=3)
        zern = {int(line.split("Z")[1].split()[0]): float(line.split()[0])
                for line in seen.read_text().splitlines() if "# Z" in line}
        if gillis:
            for index, value in GILLIS2020_ZERNIKES.items():
                assert zern[index] == pytest.approx(value)
            assert zern[4] == pytest.approx(0.01)  # focus untouched
        else:
            assert set(zern.values()) == {0.01}
    with pytest.raises(PSFMethodError, match="only to ACS/WFC"):
        TinyTimPSFMethod(gillis2020=True).prepare(hst(instrument="WFC3", detector="IR"))


def test_tinytim_failure_is_reported(mock_tinytim, tmp_path):
    tiny3 = tmp_path / "bin" / "tiny3"
    tiny3.write_text(f"#!{sys.executable}\nimport sys\nsys.stderr.write('boom')\nsys.exit(3)\n")
    model = TinyTimPSFMethod(oversampling=1).prepare(hst(chip=1))
    with pytest.raises(PSFMethodError, match="tiny3 exited with 3: boom"):
        model.evaluate(5, 5, size=3)
