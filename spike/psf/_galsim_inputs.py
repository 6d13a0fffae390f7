"""Checks and conversions of `~spike.psf.galsim_method.GalSimPSFMethod`'s inputs.

Roman SCA names, source spectra (``sed``) and their split into wavelengths of equal photon
count for the chromatic integration, and positive-integer options. See the docstring of
`spike.psf.galsim_method` ("Chromatic integration").
"""

import re
import sys

import numpy as np

from spike.exceptions import PSFMethodError

#: Number of Roman SCAs.
N_SCA = 18
#: Accepted ``sed`` strings.
_SED_NAMES = ("flat_fnu", "flat_flambda", "blackbody:<T>")
# h c / k in nm K, for black bodies
_HC_OVER_K = 1.438776877e7


def _parse_sca(detector_name):
    match = re.fullmatch(r"(?:WFI|SCA)(\d{1,2})", str(detector_name or "").strip().upper())
    sca = int(match.group(1)) if match else 0
    if not 1 <= sca <= N_SCA:
        msg = (f"PSF method 'galsim' needs a Roman WFI detector 'WFI01' .. 'WFI{N_SCA}', "
               f"got {detector_name!r}")
        raise PSFMethodError(msg)
    return sca


def _sed_photons(sed):
    """Return ``(label, photons)``: ``photons(wave_nm)`` is proportional to photons/nm."""
    if isinstance(sed, str):
        spec = sed.strip().lower()
        if spec in ("flat_fnu", "fnu"):
            return "flat_fnu", lambda w: 1.0 / w
        if spec in ("flat_flambda", "flambda"):
            return "flat_flambda", lambda w: np.asarray(w, dtype=float)
        match = re.fullmatch(r"(?:blackbody|bb):\s*([0-9.]+(?:e[+-]?[0-9]+)?)\s*k?", spec)
        if match and float(match.group(1)) > 0:
            temp = float(match.group(1))
            return (f"blackbody:{temp:g}",
                    lambda w: w**-4.0 / np.expm1(_HC_OVER_K / (w * temp)))
    else:
        galsim = sys.modules.get("galsim")  # a galsim.SED means galsim is imported
        if galsim is not None and isinstance(sed, galsim.SED):
            if not sed.spectral:
                msg = "sed must be a spectral galsim.SED (with a flux_type), not dimensionless"
                raise ValueError(msg)
            return f"galsim.SED(flux_type={sed.flux_type!r})", sed
        if callable(sed):
            name = getattr(sed, "__qualname__", type(sed).__name__)
            return f"callable {name}", lambda w: w * np.asarray(sed(w), dtype=float)
    msg = (f"sed must be a galsim.SED, a callable f_lambda(wavelength_nm) or one of "
           f"{', '.join(_SED_NAMES)}; got {sed!r}")
    raise ValueError(msg)


def _wavelength_samples(bandpass, photons, n_waves):
    """Split the band into ``n_waves`` bins of equal photon count.

    Returns the photon-weighted mean wavelength (nm) of each bin and equal weights.
    """
    wave = np.linspace(bandpass.blue_limit, bandpass.red_limit, 4001)
    try:
        sed = np.broadcast_to(np.asarray(photons(wave), dtype=float), wave.shape)
    except (ValueError, TypeError) as exc:  # e.g. a galsim.SED not covering the band
        msg = (f"the SED cannot be evaluated over the band "
               f"({bandpass.blue_limit:g}-{bandpass.red_limit:g} nm): {exc}")
        raise PSFMethodError(msg) from exc
    if not np.all(np.isfinite(sed)) or sed.min() < 0:
        msg = "the SED must be finite and non-negative across the band"
        raise PSFMethodError(msg)
    # GalSim's tabulated R062 throughput dips to -1e-5 at the band edge: clip
    rate = sed * np.clip(np.asarray(bandpass(wave), dtype=float), 0.0, None)
    if not rate.sum() > 0:
        msg = "the SED times the bandpass is zero everywhere in the band"
        raise PSFMethodError(msg)
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(wave))])
    cum /= cum[-1]
    edges = np.interp(np.linspace(0.0, 1.0, n_waves + 1), cum, wave)
    fine = np.linspace(0.0, 1.0, 201)
    lams = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        w = lo + (hi - lo) * fine
        r = np.interp(w, wave, rate)
        lams.append(float((w * r).sum() / r.sum()) if r.sum() > 0 else 0.5 * (lo + hi))
    return tuple(round(v, 6) for v in lams), (1.0 / n_waves,) * n_waves


def _positive_int(name, value):
    try:
        ok = not isinstance(value, (bool, np.bool_)) and int(value) == value and value >= 1
    except (TypeError, ValueError):
        ok = False
    if not ok:
        msg = f"{name} must be a positive integer, got {value!r}"
        raise ValueError(msg)
    return int(value)
