"""Model the PSF of every exposure at every source it covers.

Mission independent: it sees a mission adapter (exposures as `~spike.psf.base.DetectorInfo`)
and a PSF method, and returns one `~spike.datamodels.ExposurePSFModel` per exposure that
covers at least one source. Each exposure's PSF model is prepared once and evaluated at every
source.
"""

import logging
from dataclasses import dataclass

import numpy as np

from spike.exceptions import NoCoverageError
from spike.psf.choice import warn_if_unfitted
from spike.stamps.geometry import contains

__all__ = ["Coverage", "sky_to_pixel", "locate_sources", "generate_psfs", "fill_instrument_meta",
           "model_diagnostics", "exposure_diagnostics", "SOURCE_DTYPE"]

log = logging.getLogger(__name__)

#: Columns of `ExposurePSFModel.sources`.
SOURCE_DTYPE = [("id", "S64"), ("ra", "f8"), ("dec", "f8"), ("x", "f8"), ("y", "f8"),
                ("xstart", "i4"), ("ystart", "i4"), ("psf_sum", "f8")]


@dataclass
class Coverage:
    """Where every source falls on every exposure.

    Attributes
    ----------
    x, y : numpy.ndarray
        ``(n_exposures, n_sources)`` 0-based detector positions (NaN when unmappable).
    covered : numpy.ndarray
        ``(n_exposures, n_sources)`` True when the source lies on the exposure's data.
    """

    x: np.ndarray
    y: np.ndarray
    covered: np.ndarray


def sky_to_pixel(wcs, ra, dec):
    """Map sky positions onto a detector, each independently of the others mapped with it.

    astropy's models evaluate a one-element array on another code path than longer
    arrays (the results differ by ~1e-10 px for a distorted JWST WCS), so a source's
    position would depend on how many sources share its run, batch or parallel chunk.
    One-element inputs are therefore evaluated as two.

    Parameters
    ----------
    wcs : WCS
        APE-14 WCS (gwcs or astropy).
    ra, dec : array-like
        ICRS positions in degrees.

    Returns
    -------
    x, y : numpy.ndarray
        0-based pixel positions (NaN where unmappable).
    """
    ra, dec = np.atleast_1d(np.asarray(ra, float)), np.atleast_1d(np.asarray(dec, float))
    n = ra.size
    if n == 1:
        ra, dec = np.repeat(ra, 2), np.repeat(dec, 2)
    with np.errstate(invalid="ignore"):
        x, y = wcs.world_to_pixel_values(ra, dec)
    return np.asarray(x, float)[:n], np.asarray(y, float)[:n]


def _listing(sources, indices, limit=10):
    """``"a (RA=.., Dec=..), b (...) and 12 more"`` for the sources at ``indices``."""
    shown = ", ".join(
        f"{sources['id'][i]} (RA={sources['ra'][i]:.6f}, Dec={sources['dec'][i]:.6f})"
        for i in indices[:limit])
    return shown + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def locate_sources(adapter, sources):
    """Map every source onto every exposure of ``adapter``.

    Parameters
    ----------
    adapter : spike.missions.base.MissionAdapter
        The science exposures.
    sources : `~astropy.table.Table`
        ``id``, ``ra``, ``dec`` (from `spike.sources.resolve_sources`).

    Returns
    -------
    Coverage

    Raises
    ------
    spike.exceptions.NoCoverageError
        When a source lies on no exposure; the message names such sources (the first ten,
        and how many more).
    """
    n_exp, n_src = adapter.n_exposures, len(sources)
    x = np.full((n_exp, n_src), np.nan)
    y = np.full((n_exp, n_src), np.nan)
    covered = np.zeros((n_exp, n_src), dtype=bool)
    ra, dec = np.asarray(sources["ra"], float), np.asarray(sources["dec"], float)
    for e in range(n_exp):
        det = adapter.detector_info(e)
        x[e], y[e] = sky_to_pixel(det.wcs, ra, dec)
        covered[e] = [contains(det.wcs, det.shape, a, b) for a, b in zip(x[e], y[e],
                                                                          strict=True)]
        off = np.flatnonzero(~covered[e])
        if off.size:
            log.info("%d of %d source(s) are not on exposure %s (skipped there): %s", off.size,
                     n_src, det.filename, ", ".join(str(sources["id"][i]) for i in off[:5])
                     + (", ..." if off.size > 5 else ""))
    missing = np.flatnonzero(~covered.any(axis=0))
    if missing.size:
        what = (f"all {n_src} sources lie" if missing.size == n_src
                else f"{missing.size} of {n_src} source(s) lie")
        msg = (f"No input exposure covers source(s) {_listing(sources, missing)}: "
               f"{what} outside every exposure's detectors or in a gap between chips")
        raise NoCoverageError(msg)
    return Coverage(x=x, y=y, covered=covered)


def generate_psfs(adapter, sources, method, *, stamp_size, coverage=None, prepared=None):
    """Return the model PSFs of every exposure at the sources it covers.

    Parameters
    ----------
    adapter : spike.missions.base.MissionAdapter
        The science exposures.
    sources : `~astropy.table.Table`
        ``id``, ``ra``, ``dec``.
    method : spike.psf.base.PSFMethod
        The PSF back-end.
    stamp_size : int
        Odd PSF stamp size in detector pixels.
    coverage : Coverage, optional
        Result of `locate_sources`, computed when not given.
    prepared : dict, optional
        ``{exposure_index: PSFModel}`` of models already prepared (by an earlier call for
        other sources); models prepared here are added to it, so a run in batches prepares
        each exposure once.

    Returns
    -------
    list of tuple
        ``(exposure_index, ExposurePSFModel)`` for every exposure covering a source, in
        exposure order.
    """
    from spike.datamodels import ExposurePSFModel
    from spike.datamodels._base import str_table

    stamp_size = _odd_size(stamp_size, "stamp_size")
    if coverage is None:
        coverage = locate_sources(adapter, sources)
    products = []
    for e in range(adapter.n_exposures):
        idx = np.flatnonzero(coverage.covered[e])
        det = adapter.detector_info(e)
        if idx.size == 0:
            log.info("Exposure %s covers none of the sources: no PSF made", det.filename)
            continue
        if not method.supports(det):
            msg = (f"PSF method {method.name!r} does not support {det.mission.upper()} "
                   f"exposure {det.filename} ({det.label()})")
            raise ValueError(msg)
        if prepared is None:
            prepared = {}
        if e not in prepared:
            prepared[e] = method.prepare(det)
            if getattr(method, "choice", None) is not None:
                warn_if_unfitted(method.choice, prepared[e], det)
        model = prepared[e]
        os_ = int(model.oversampling)
        cube = np.empty((idx.size, stamp_size * os_, stamp_size * os_), dtype=np.float32)
        table = np.zeros(idx.size, dtype=SOURCE_DTYPE)
        for k, i in enumerate(idx):
            xe, ye = coverage.x[e, i], coverage.y[e, i]
            psf = model.evaluate(xe, ye, size=stamp_size)
            cube[k] = psf
            table[k] = (str(sources["id"][i]).encode(), sources["ra"][i], sources["dec"][i],
                        xe, ye, int(np.floor(xe + 0.5)) - stamp_size // 2,
                        int(np.floor(ye + 0.5)) - stamp_size // 2,
                        float(psf.sum()) / os_**2)
        log.info("Modelled %d PSF(s) on %s with method %s", idx.size, det.filename, method.name)
        out = ExposurePSFModel(data=cube, sources=str_table(table))
        _fill_meta(out, det, method, os_, stamp_size, adapter.mission)
        out.meta.psf.diagnostics = model_diagnostics(model)
        products.append((e, out))
    return products


def _fill_meta(out, det, method, oversampling, stamp_size, mission):
    desc = method.describe()
    params = {k: v for k, v in desc.items() if k not in ("method", "oversampling")}
    meta = out.meta
    meta.mission = mission
    meta.telescope = mission.upper()
    fill_instrument_meta(meta.instrument, det)
    meta.oversampling = oversampling
    meta.stamp_size = stamp_size
    meta.exposure.filename = det.filename
    if det.extra.get("exposure_type"):
        meta.exposure.exposure_type = str(det.extra["exposure_type"])
    if det.extra.get("chip") is not None:
        meta.exposure.chip = det.extra["chip"]
    meta.psf.method = method.name
    meta.psf.oversampling = oversampling
    meta.psf.parameters = params
    if getattr(method, "choice", None) is not None:
        meta.psf.choice = method.choice.as_meta()
    stem = det.filename.rsplit(".", 1)[0]
    if det.extra.get("extver") is not None and det.mission == "hst":
        # one product per chip, named as drizzlepac names chips' files: <root>_sci<N>
        stem = f"{det.extra.get('rootname') or stem}_sci{int(det.extra['extver'])}"
    meta.filename = f"{stem}.asdf"


def model_diagnostics(model):
    """A prepared PSF model's ``diagnostics`` as plain data (see `spike.psf.base.PSFModel`)."""
    from spike.datamodels.util import plain

    return plain(dict(getattr(model, "diagnostics", None) or {}))


def exposure_diagnostics(adapter, prepared):
    """One mapping per exposure of ``adapter``: its file, detector and model diagnostics.

    Parameters
    ----------
    adapter : spike.missions.base.MissionAdapter
        The exposures.
    prepared : dict
        ``{exposure_index: PSFModel}`` of the models prepared in this run.

    Returns
    -------
    list of dict
        ``{}`` for exposures without a prepared model, else ``filename``, ``detector``,
        the model's diagnostics and, when spike fitted an inverse to the exposure's WCS,
        ``wcs_inverse`` (its degree and round-trip error, `spike.stamps.wcs_inverse`).
    """
    out = []
    for e in range(adapter.n_exposures):
        if e not in prepared:
            out.append({})
            continue
        det = adapter.detector_info(e)
        entry = {"filename": det.filename, "detector": det.detector,
                 **model_diagnostics(prepared[e])}
        if det.extra.get("wcs_inverse"):
            entry["wcs_inverse"] = det.extra["wcs_inverse"]
        out.append(entry)
    return out


def fill_instrument_meta(node, det):
    """Fill ``meta.instrument`` from a `~spike.psf.base.DetectorInfo`."""
    node.name = det.instrument
    node.detector = det.detector
    node.filter = det.filter
    for key, value in (("pupil", det.pupil), ("channel", det.extra.get("channel")),
                       ("module", det.extra.get("module"))):
        if value is not None:
            setattr(node, key, str(value))


def _odd_size(value, name):
    size = int(value)
    if size < 3 or size % 2 == 0:
        msg = f"{name} must be an odd integer >= 3, got {value}"
        raise ValueError(msg)
    return size
