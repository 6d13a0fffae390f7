"""Tests of the STPSF method: the missing-data error, and a mocked data-present path."""

import socket

import pytest
import stpsf  # a hard dependency, imported before the network guard below
from astropy.io import fits

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.psf import stpsf_method
from spike.psf.stpsf_method import STPSFMethod, find_stpsf_data
from tests.psf._helpers import gaussian_psf, make_detector


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


def test_complete_data_found(no_network, data_dir):
    data_dir.mkdir()
    (data_dir / "version.txt").write_text("2.2.0")
    (data_dir / "NIRCam").mkdir()
    assert find_stpsf_data("NIRCAM") == data_dir


def test_stpsf_not_installed(monkeypatch):
    monkeypatch.setattr(stpsf_method.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(PSFDataUnavailableError, match="not installed"):
        find_stpsf_data()


class FakeInstrument:
    """Stands in for an ``stpsf`` instrument; records settings and calls."""

    pupil_mask_list = ["CLEARP", "WLP8"]
    calls = []

    def __init__(self):
        self.filter = None
        self.pupil_mask = None
        self.detector = None
        self.detector_position = None

    def calc_psf(self, **kwargs):
        FakeInstrument.calls.append(dict(kwargs, position=self.detector_position))
        n = kwargs["fov_pixels"] * kwargs["oversample"]
        # point-sampled PSF holding 97 % of the flux, like STPSF's OVERSAMP/OVERDIST
        psf = gaussian_psf((n, n), sigma=3.0, total=0.97)
        return fits.HDUList([
            fits.PrimaryHDU(psf, header=fits.Header({"EXTNAME": "OVERSAMP"})),
            fits.ImageHDU(psf, name="DET_SAMP"),
            fits.ImageHDU(psf * 1.0, name="OVERDIST"),
            fits.ImageHDU(psf, name="DET_DIST"),
        ])


@pytest.fixture
def fake_stpsf(monkeypatch, tmp_path):
    """Mock of an installed STPSF with data.

    This is a mock because STPSF's data files cannot be installed offline: the data check
    returns a fake directory and ``stpsf`` is replaced by an object whose instruments
    return Gaussian PSFs in STPSF's HDU layout.
    """

    class FakeModule:
        NIRCam = FakeInstrument
        NIRISS = FakeInstrument
        MIRI = FakeInstrument
        WFI = FakeInstrument

    FakeInstrument.calls = []
    monkeypatch.setattr(stpsf_method, "find_stpsf_data", lambda instrument=None: tmp_path)
    monkeypatch.setattr(stpsf_method, "_load_stpsf", lambda: FakeModule)
    return FakeModule


def test_mocked_data_present_path(fake_stpsf):
    """Mocked (STPSF data cannot be installed offline): configuration and ePSF output."""
    detector = make_detector(detector="NRCALONG", filter="F444W", pupil="F405N", scale=0.063,
                             extra={"substrt1": 1025, "substrt2": 513})
    model = STPSFMethod(oversampling=4, nlambda=3).prepare(detector)
    inst = model.instrument
    assert inst.filter == "F405N"  # the pupil-wheel filter defines the band
    assert inst.detector == "NRCA5"
    assert inst.pupil_mask is None
    epsf = model.evaluate(100.4, 200.6, size=21)
    call = FakeInstrument.calls[-1]
    assert call["position"] == (1124, 713)  # full-frame science pixels
    assert call["oversample"] == 4
    assert call["fov_pixels"] == 21
    assert call["nlambda"] == 3
    assert call["add_distortion"] is True
    assert epsf.shape == (84, 84)
    # box-integrated over one detector pixel and scaled by oversampling**2
    assert epsf.sum() == pytest.approx(16 * 0.97, rel=1e-3)
    raw = gaussian_psf((84, 84), sigma=3.0, total=0.97) * 16
    assert epsf.max() < raw.max()
    # cached per (rounded) position
    model.evaluate(100.1, 200.9, size=21)
    assert len(FakeInstrument.calls) == 1


def test_mocked_roman_cutout_origin(fake_stpsf):
    """Mocked (STPSF data cannot be installed offline): a Roman SCA cut-out's position is
    passed to STPSF in full-SCA pixels."""
    detector = make_detector(mission="roman", instrument="WFI", detector="WFI07",
                             filter="F158", pupil=None, scale=0.11, shape=(256, 256),
                             extra={"cutout_origin": (1916, 3832)})
    model = STPSFMethod().prepare(detector)
    model.evaluate(10.2, 20.7, size=11)
    assert FakeInstrument.calls[-1]["position"] == (1926, 3853)


def test_mocked_niriss_clearp_and_undistorted(fake_stpsf):
    """Mocked (STPSF data cannot be installed offline): pupil mask and OVERSAMP choice."""
    detector = make_detector(instrument="NIRISS", detector="NIS", filter="F277W",
                             pupil="CLEARP", scale=0.0656)
    model = STPSFMethod(add_distortion=False).prepare(detector)
    assert model.instrument.filter == "F277W"
    assert model.instrument.pupil_mask == "CLEARP"
    model.evaluate(10.0, 10.0, size=11)
    assert FakeInstrument.calls[-1]["add_distortion"] is False
    assert "nlambda" not in FakeInstrument.calls[-1]


def test_unsupported(fake_stpsf):
    with pytest.raises(PSFMethodError, match="'hst'"):
        STPSFMethod().prepare(make_detector(mission="hst", instrument="ACS"))
    with pytest.raises(PSFMethodError, match="NIRSPEC"):
        STPSFMethod().prepare(make_detector(instrument="NIRSPEC"))
    with pytest.raises(ValueError, match="nlambda"):
        STPSFMethod(nlambda=0)
    assert STPSFMethod().describe() == {"method": "stpsf", "oversampling": 4, "nlambda": None,
                                         "add_distortion": True}
