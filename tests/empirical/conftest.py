"""Simulated JWST and Roman exposures with enough stars to build empirical PSFs from."""

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

SHAPE = (384, 384)


def star_grid(ra, dec, *, n_side, spacing_arcsec, flux_jy, seed=0):
    """``n_side`` x ``n_side`` stars ``spacing_arcsec`` apart (jittered), all of ``flux_jy``."""
    rng = np.random.default_rng(seed)
    offsets = (np.arange(n_side) - (n_side - 1) / 2) * spacing_arcsec
    east, north = np.meshgrid(offsets, offsets)
    east = east.ravel() + rng.uniform(-0.1, 0.1, east.size) * spacing_arcsec
    north = north.ravel() + rng.uniform(-0.1, 0.1, north.size) * spacing_arcsec
    sky = SkyCoord(ra, dec, unit="deg").spherical_offsets_by(east * u.arcsec, north * u.arcsec)
    return Table({"star": np.arange(east.size), "ra": sky.ra.deg, "dec": sky.dec.deg,
                  "flux": np.full(east.size, flux_jy)})


@pytest.fixture(scope="session")
def jwst_crowded():
    """Four NIRCam F200W dithers of a 6x6 star grid (stars drawn with the optical model)."""
    from spike.datasets import simulate_jwst_cal_exposures

    stars = star_grid(53.16, -27.79, n_side=6, spacing_arcsec=1.6, flux_jy=60e-6)
    return simulate_jwst_cal_exposures(shape=SHAPE, rotations=(0.0,), stars=stars, seed=3)


@pytest.fixture(scope="session")
def roman_crowded():
    """Four WFI F158 dithers of a 6x6 star grid (stars drawn with GalSim's Roman model)."""
    from spike.datasets import simulate_roman_cal_exposures

    stars = star_grid(270.0, 66.0, n_side=8, spacing_arcsec=4.4, flux_jy=300e-6)
    return simulate_roman_cal_exposures(shape=SHAPE, rotations=(0.0,), stars=stars, seed=3)
