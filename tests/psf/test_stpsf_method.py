"""Tests of the STPSF method without STPSF's data: the missing- and incomplete-data errors.

STPSF computing PSFs for real (on a generated data directory) is tested in
``tests/psf/test_stpsf_real.py``.
"""

import socket

import pytest
import stpsf  # a hard dependency, imported before the network guard below

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf import stpsf_method
from spike.psf.stpsf_method import STPSFMethod, find_stpsf_data
from tests.psf._helpers import make_detector


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test if anything opens a socket or calls STPSF's downloader."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(stpsf.utils, "auto_download_stpsf_data", refuse)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An STPSF_PATH directory the test fills in."""
    path = tmp_path / "stpsf-data"
    monkeypatch.setattr(stpsf.conf, "STPSF_PATH", "from_environment_variable")
    monkeypatch.setenv("STPSF_PATH", str(path))
    return path


def test_real_missing_data_raises_clear_error(no_network):
    """On this machine STPSF's data are not installed: prepare() must say so, offline."""
    try:
        find_stpsf_data("NIRCAM")
    except PSFDataUnavailableError:
        pass
    else:
        pytest.skip("STPSF data are installed here")
    with pytest.raises(PSFDataUnavailableError) as info:
        STPSFMethod().prepare(make_detector())
    msg = str(info.value)
    assert "STPSF's data files are missing" in msg
    assert "looked in" in msg
    assert "STPSF_PATH" in msg
    assert "Installing the Required Data Files" in msg
    assert "'optical'" in msg
    assert isinstance(info.value, PSFMethodError)


def test_missing_directory(no_network, data_dir):
    with pytest.raises(PSFDataUnavailableError, match="does not exist") as info:
        STPSFMethod().prepare(make_detector())
    assert str(data_dir) in str(info.value)
    assert "$STPSF_PATH" in str(info.value)


def test_default_location_when_env_unset(no_network, tmp_path, monkeypatch):
    monkeypatch.setattr(stpsf.conf, "STPSF_PATH", "from_environment_variable")
    monkeypatch.delenv("STPSF_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PSFDataUnavailableError, match="default location") as info:
        find_stpsf_data()
    assert str(tmp_path / "data" / "stpsf-data") in str(info.value)
    assert not (tmp_path / "data").exists()  # nothing created, nothing downloaded


@pytest.mark.parametrize(
    ("version", "subdirs", "match"),
    [
        (None, [], "no version.txt"),
        ("1.0.0", ["NIRCam"], "older than"),
        ("x.y", ["NIRCam"], "cannot read the data version"),
        ("2.2.0", ["MIRI"], "no NIRCam/ sub-directory"),
        ("2.2.0", ["NIRCam"], "no NIRCam/filters.tsv"),
    ],
)
def test_incomplete_data(no_network, data_dir, version, subdirs, match):
    data_dir.mkdir()
    if version is not None:
        (data_dir / "version.txt").write_text(version)
    for sub in subdirs:
        (data_dir / sub).mkdir()
    with pytest.raises(PSFDataUnavailableError, match=match):
        STPSFMethod().prepare(make_detector())


def write_filter_table(data_dir, subdir="NIRCam"):
    """The smallest directory `find_stpsf_data` accepts: ``version.txt`` and a filter table."""
    (data_dir / subdir).mkdir(parents=True)
    (data_dir / "version.txt").write_text("2.2.0")
    (data_dir / subdir / "filters.tsv").write_text("filter\tnlambda\nF200W\t9\n")


def test_complete_data_found(no_network, data_dir):
    write_filter_table(data_dir)
    assert find_stpsf_data("NIRCAM") == data_dir


def test_data_without_wavefront_maps(no_network, data_dir):
    """A directory that passes the check but lacks the rest: the real STPSF fails when it
    creates the instrument (no OPD file), and spike reports incomplete data, offline."""
    write_filter_table(data_dir)
    with pytest.raises(PSFDataUnavailableError, match="incomplete") as info:
        STPSFMethod().prepare(make_detector())
    msg = str(info.value)
    assert str(data_dir) in msg
    assert "No pupil OPD files found" in msg
    assert "Installing the Required Data Files" in msg
    assert sorted(p.name for p in data_dir.iterdir()) == ["NIRCam", "version.txt"]


def test_stpsf_not_installed(monkeypatch):
    """``importlib.util.find_spec`` is patched to say stpsf is absent (it is installed here)."""
    monkeypatch.setattr(stpsf_method.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PSFDataUnavailableError, match="not installed"):
        find_stpsf_data()


def test_unsupported():
    """Rejected before STPSF or its data are looked at."""
    with pytest.raises(PSFMethodError, match="'hst'"):
        STPSFMethod().prepare(make_detector(mission="hst", instrument="ACS"))
    with pytest.raises(PSFMethodError, match="NIRSPEC"):
        STPSFMethod().prepare(make_detector(instrument="NIRSPEC"))
    with pytest.raises(ValueError, match="nlambda"):
        STPSFMethod(nlambda=0)
    assert STPSFMethod().describe() == {"method": "stpsf", "oversampling": 4, "nlambda": None,
                                         "add_distortion": True}
