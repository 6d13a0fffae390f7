"""Synthetic, offline data sets (JWST ``_cal`` exposures) for spike's tests and examples."""

from spike.datasets.jwst import (
    JwstSimulation,
    default_jwst_stars,
    make_jwst_cal_exposures,
    make_jwst_gwcs,
    simulate_jwst_cal_exposures,
    star_detector_positions,
    write_jwst_association,
)

__all__ = [
    "JwstSimulation",
    "default_jwst_stars",
    "make_jwst_cal_exposures",
    "make_jwst_gwcs",
    "simulate_jwst_cal_exposures",
    "star_detector_positions",
    "write_jwst_association",
]
