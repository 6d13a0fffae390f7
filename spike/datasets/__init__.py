"""Offline data sets for tests and examples: simulated JWST and Roman ``_cal`` exposures, and
realistic dithers of the real HST exposures shipped inside installed packages."""

from spike.datasets.jwst import (
    JwstSimulation,
    default_jwst_stars,
    make_jwst_cal_exposures,
    make_jwst_gwcs,
    simulate_jwst_cal_exposures,
    star_detector_positions,
    write_jwst_association,
)
from spike.datasets.hst import (
    ACS_DQ,
    HstDithers,
    hst_example_path,
    make_acs_hrc_dithers,
    prepare_wfpc2,
    run_astrodrizzle,
    write_hst_association,
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
    "ACS_DQ",
    "HstDithers",
    "hst_example_path",
    "make_acs_hrc_dithers",
    "prepare_wfpc2",
    "run_astrodrizzle",
    "write_hst_association",
    "RomanSimulation",
    "default_roman_stars",
    "make_roman_cal_exposures",
    "make_roman_gwcs",
    "simulate_roman_cal_exposures",
    "write_roman_association",
]
