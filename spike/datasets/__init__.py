"""Offline data sets for tests and examples: simulated JWST and Roman ``_cal`` exposures, and
realistic dithers of the real HST exposures shipped inside installed packages.

The names are imported from their submodule on first use (PEP 562), so that using one
mission's factory does not import the other missions' software (``import
spike.datasets.roman`` does not import ``jwst``).
"""

import importlib

#: Submodule -> the names it exports here (each submodule's own ``__all__``).
_EXPORTS = {
    "jwst": (
        "JwstSimulation", "default_jwst_stars", "make_jwst_cal_exposures", "make_jwst_gwcs",
        "simulate_jwst_cal_exposures", "star_detector_positions", "write_jwst_association",
    ),
    "hst": (
        "ACS_DQ", "HstDithers", "hst_example_path", "make_acs_hrc_dithers", "prepare_wfpc2",
        "run_astrodrizzle", "write_hst_association",
    ),
    "roman": (
        "RomanSimulation", "default_roman_stars", "make_roman_cal_exposures", "make_roman_gwcs",
        "simulate_roman_cal_exposures", "write_roman_association",
    ),
}
_SUBMODULE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = list(_SUBMODULE)  # noqa: PLE0605 - names resolved by __getattr__


def __getattr__(name):
    """Import ``name`` from its submodule on first access (PEP 562)."""
    module = _SUBMODULE.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    """List the module's attributes, including the names not imported yet."""
    return sorted(set(globals()) | set(__all__))
