"""Shared fixtures: simulated JWST NIRCam exposures (offline) and their association.

The exposures come from `spike.datasets.simulate_jwst_cal_exposures`: 256x256 NRCA1
subarrays with pysiaf distortion, two visits of four dithers (the second rotated by 20 deg),
stars injected with spike's real ``optical`` PSF model, noise and flagged pixels (some under
the stars). They are built once per test session.
"""

import socket

import pytest

_LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "", None)
_real_getaddrinfo = socket.getaddrinfo


def _offline_getaddrinfo(host, *args, **kwargs):
    if host in _LOCAL_HOSTS or str(host).startswith("127."):
        return _real_getaddrinfo(host, *args, **kwargs)
    msg = f"spike's tests never use the network (attempted lookup of {host!r})"
    raise OSError(msg)


def pytest_configure(config):  # noqa: ARG001
    """Make any network access during the tests fail at once (some third-party packages,
    e.g. pysiaf, try the network when imported; they handle the failure)."""
    socket.getaddrinfo = _offline_getaddrinfo


@pytest.fixture(scope="session")
def jwst_sim():
    """Simulated NIRCam F200W exposures (8: two visits of 4 dithers), stars by ``optical``."""
    from spike.datasets import simulate_jwst_cal_exposures

    return simulate_jwst_cal_exposures(seed=1)


@pytest.fixture(scope="session")
def jwst_asn(jwst_sim, tmp_path_factory):
    """The simulated exposures saved as ``_cal.fits`` files plus a level-3 association."""
    from spike.datasets import write_jwst_association

    directory = tmp_path_factory.mktemp("jwst_data")
    return write_jwst_association(jwst_sim.models, directory, product_name="sim_f200w")


def files_under(directory):
    """Return the relative paths of every file below ``directory``."""
    return {p.relative_to(directory) for p in directory.rglob("*") if p.is_file()}


@pytest.fixture
def clean_run(tmp_path, monkeypatch):
    """Run a step expecting an error; check that nothing was written under ``tmp_path``."""
    from spike.steps import DrizzlePSFStep

    monkeypatch.chdir(tmp_path)

    def run(step_class, *args, exc, match, **kwargs):
        before = files_under(tmp_path)
        out = tmp_path / "out"
        if step_class is DrizzlePSFStep:  # every output it can write is requested
            kwargs.update(save_plots=True, save_exposure_psfs=True)
        with pytest.raises(exc, match=match) as info:
            step_class.call(*args, output_dir=str(out), save_results=True, **kwargs)
        assert files_under(tmp_path) == before
        assert not out.exists() or list(out.iterdir()) == []
        return info.value

    return run
