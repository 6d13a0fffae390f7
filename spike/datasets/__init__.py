"""Synthetic, offline data sets (JWST and Roman ``_cal`` exposures) for tests and examples."""

from spike.datasets.jwst import (
    JwstSimulation,
    default_jwst_stars,
    make_jwst_cal_exposures,
    make_jwst_gwcs,
    simulate_jwst_cal_exposures,
    star_detector_positions,
    write_jwst_association,
)
from spike.datasets.roman import (
    RomanSimulation,
    default_roman_stars,
    make_roman_cal_exposures,
    make_roman_gwcs,
    simulate_roman_cal_exposures,
    write_roman_association,
)

__all__ = [
    "JwstSimulation",
    "default_jwst_stars",
    "make_jwst_cal_exposures",
    "make_jwst_gwcs",
    "simulate_jwst_cal_exposures",
    "star_detector_positions",
    "write_jwst_association",
    "RomanSimulation",
    "default_roman_stars",
    "make_roman_cal_exposures",
    "make_roman_gwcs",
    "simulate_roman_cal_exposures",
    "write_roman_association",
]
