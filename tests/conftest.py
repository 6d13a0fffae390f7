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


@pytest.fixture(scope="session")
def roman_sim():
    """Eight WFI exposures (4 dithers x 2 SCAs, F158) with stars drawn by GalSim."""
    from spike.datasets import simulate_roman_cal_exposures
    from tests.roman.conftest import DETECTORS, FILTER, ORIGINS, SHAPE

    return simulate_roman_cal_exposures(detectors=DETECTORS, filter=FILTER, shape=SHAPE,
                                        cutout_origin=ORIGINS, rotations=(0.0,), seed=11)


@pytest.fixture(scope="session")
def roman_asn(roman_sim, tmp_path_factory):
    """The exposures saved as ``_cal.asdf`` files plus a romancal level-3 association.

    ``target="None"``: romancal's own ResampleStep, whose default is to look the target up
    as a sky cell (that needs CRDS), then falls back to a grid around the inputs.
    """
    from spike.datasets import write_roman_association
    from tests.roman.conftest import PRODUCT

    directory = tmp_path_factory.mktemp("roman_data")
    return write_roman_association(roman_sim.models, directory, product_name=PRODUCT,
                                   target="None")


@pytest.fixture(scope="session")
def roman_mosaic(roman_sim, tmp_path_factory):
    """The science mosaic: romancal's ResampleStep on copies of the exposures, saved.

    ``resample_on_skycell=False``: the grid romancal computes from the inputs' footprints,
    the one spike computes when no ``reference_mosaic`` is given.
    """
    from romancal.datamodels import ModelLibrary
    from romancal.resample import ResampleStep

    from tests.roman.conftest import MOSAIC_PIXFRAC, PRODUCT

    library = ModelLibrary([model.copy() for model in roman_sim.models])
    mosaic = ResampleStep(resample_on_skycell=False, pixfrac=MOSAIC_PIXFRAC).run(library)
    path = tmp_path_factory.mktemp("roman_mosaic") / f"{PRODUCT}_coadd.asdf"
    mosaic.save(path)
    return mosaic, path


@pytest.fixture(scope="session")
def hrc(tmp_path_factory):
    """HST: dithered copies of the real ACS/HRC exposure, their association, the science run
    (AstroDrizzle with every step on, ``clean=False`` so the final masks stay beside the
    ``_drz``) and star positions measured on the first copy."""
    from types import SimpleNamespace

    import numpy as np
    from astropy.io import fits
    from astropy.wcs import WCS

    from spike.datasets.hst import make_acs_hrc_dithers, run_astrodrizzle
    from tests.helpers import file_digests
    from tests.hst._stars import bright_isolated_stars, point_like, star_centroids
    from tests.hst.conftest import OFFSETS

    root = tmp_path_factory.mktemp("hst_hrc")
    dithers = make_acs_hrc_dithers(root / "flt", offsets=OFFSETS, seed=11)
    drz = run_astrodrizzle(dithers.asn, "hrc_sci", workdir=root / "sci", final_pixfrac=0.8)
    with fits.open(dithers.files[0]) as hdul:
        sci = hdul["SCI", 1].data.astype(float)
        bad = hdul["DQ", 1].data != 0
        wcs = WCS(hdul["SCI", 1].header, hdul)
    xy = star_centroids(sci, bright_isolated_stars(sci, bad, count=8, max_peak=20000.0))
    xy = xy[point_like(sci, xy)][:6]
    ra, dec = wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    return SimpleNamespace(
        dithers=dithers, asn=dithers.asn, files=dithers.files, drz=drz, sci_dir=root / "sci",
        flt_dir=root / "flt", digests=file_digests(root / "flt"),
        ra=np.asarray(ra), dec=np.asarray(dec), root=root,
    )
