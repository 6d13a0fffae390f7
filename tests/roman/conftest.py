"""Roman fixtures: small simulated WFI ``_cal`` exposures, their association and mosaic.

`spike.datasets.simulate_roman_cal_exposures` makes 256 x 256 cut-outs at the facing edges
of SCAs WFI01 (bottom rows) and WFI02 (top rows), so the two cut-outs are ~830 px apart on
the sky and the mosaic of both stays small (about 1300 x 270 pixels). One visit of the
default four dithers gives eight exposures (four per SCA) and sixteen stars (eight per
SCA), injected with spike's default Roman PSF (``galsim``). Everything is built once per
session and offline: no CRDS (romancal's `ResampleStep` needs no reference file) and no
network. The session fixtures ``roman_sim``, ``roman_asn`` and ``roman_mosaic`` live in
``tests/conftest.py`` (shared with ``tests/reliability``); the constants are here.
"""

import numpy as np
import pytest

#: The cut-outs: WFI01's bottom edge faces WFI02's top edge across the chip gap.
ORIGINS = {"WFI01": (1916, 0), "WFI02": (1916, 4088 - 256)}
SHAPE = (256, 256)
DETECTORS = ("WFI01", "WFI02")
FILTER = "F158"
PRODUCT = "sim_roman_f158"
#: pixfrac of the science mosaic made with romancal's ResampleStep
MOSAIC_PIXFRAC = 0.7


def stars_on(sim, detector, *, margin=30):
    """Indices (into ``sim.stars``) of the stars seen by every exposure of ``detector``,
    at least ``margin`` pixels from the edges."""
    pos = sim.positions
    ny, nx = SHAPE
    keep = []
    for star in sim.stars["star"]:
        rows = pos[(pos["star"] == star) & (pos["detector"] == detector)]
        x, y = np.asarray(rows["x"]), np.asarray(rows["y"])
        if np.all((x >= margin) & (x <= nx - 1 - margin) & (y >= margin) &
                  (y <= ny - 1 - margin)):
            keep.append(int(star))
    return keep


@pytest.fixture(scope="session")
def roman_stars(roman_sim):
    """Two stars: one seen only by WFI01, one only by WFI02 (rows of ``sim.stars``)."""
    first = stars_on(roman_sim, "WFI01")
    second = stars_on(roman_sim, "WFI02")
    assert first and second and not set(first) & set(second)
    return roman_sim.stars[[first[0], second[0]]]
