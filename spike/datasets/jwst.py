"""Realistic, offline JWST level-2 calibrated (``_cal``) imaging exposures for tests.

The exposures carry a SIAF-based gwcs (see `make_jwst_gwcs`), the metadata the jwst
resample and association code read, stars injected with a spike PSF back-end, sky,
Poisson and read noise, and a few flagged pixels, so that ``jwst.resample`` and
``jwst.datamodels.ModelLibrary`` accept them without CRDS or network access.
"""

import logging
import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table, vstack
from astropy.time import Time
from stdatamodels.jwst.datamodels import ImageModel, dqflags

from spike.datasets import _common
from spike.datasets._common import star_detector_positions  # re-exported
from spike.datasets._jwst_wcs import (
    aperture_info,
    band_elements,
    make_jwst_gwcs,  # re-exported
    reference_pixel_mask,
    solve_pointing,
    wcs_metadata,
)
from spike.psf.base import DetectorInfo

__all__ = [
    "JwstSimulation",
    "default_jwst_stars",
    "make_jwst_cal_exposures",
    "make_jwst_gwcs",
    "simulate_jwst_cal_exposures",
    "star_detector_positions",
    "write_jwst_association",
]

log = logging.getLogger(__name__)

_DQ = dqflags.pixel
#: Instrument defaults: PHOTMJSR (MJy/sr per DN/s) and sky (MJy/sr).
_PHOTMJSR = {"NIRCAM": 0.2, "NIRISS": 0.25, "MIRI": 0.4, "FGS": 1.0}
_SKY = {"NIRCAM": 0.2, "NIRISS": 0.2, "MIRI": 8.0, "FGS": 0.2}
_GAIN = 2.0
_CAL_STEPS = (
    "dq_init", "saturation", "superbias", "refpix", "linearity", "persistence", "dark_sub",
    "jump", "ramp_fit", "gain_scale", "assign_wcs", "flat_field", "photom",
)
_MIRI_STEPS = ("emicorr", "firstframe", "lastframe", "reset", "rscd")
_ARRAYS = ("data", "err", "var_poisson", "var_rnoise", "var_flat")


@dataclass(frozen=True)
class JwstSimulation:
    """Output of `simulate_jwst_cal_exposures`: the exposures and their truth.

    Attributes
    ----------
    models : list of `~stdatamodels.jwst.datamodels.ImageModel`
        The ``_cal`` exposures, in time order.
    stars : `~astropy.table.Table`
        True stars: ``star``, ``ra``, ``dec`` (deg), ``flux`` (Jy).
    positions : `~astropy.table.Table`
        One row per exposure and star: ``exposure`` (index into `models`), ``filename``,
        ``star``, ``x``, ``y`` (0-based true detector position, NaN off the array) and
        ``flux_data`` (injected flux as a sum of data values, MJy/sr x pixels).
    flagged : `~astropy.table.Table`
        Pixels with any DQ flag within 3 px of a star: ``exposure``, ``star``, ``x``, ``y``
        (integer pixel), ``dq`` and ``distance`` (px).
    """

    models: list
    stars: Table
    positions: Table
    flagged: Table


def default_jwst_stars(*, ra, dec, radius_arcsec):
    """Return the default star table: 8 stars within ``radius_arcsec`` of ``(ra, dec)``.

    Parameters
    ----------
    ra, dec : float
        Centre of the pattern (deg).
    radius_arcsec : float
        Largest distance of a star from the centre (arcsec).

    Returns
    -------
    `~astropy.table.Table`
        Columns ``star``, ``ra``, ``dec`` (deg) and ``flux`` (Jy, 6-30 uJy).
    """
    return _common.star_pattern(ra=ra, dec=dec, radius_arcsec=radius_arcsec)


def _update(node, values):
    for key, value in values.items():
        if value is not None:
            setattr(node, key, value)


def _set_cal_metadata(model, *, info, pointing, origin, elements, visit, exposure, options):
    """Fill the level-2 ``_cal`` metadata of an exposure whose ``meta.wcs`` is set."""
    meta = model.meta
    program = options["program"]
    obs = {
        "program_number": program, "observation_number": "001", "visit_number": f"{visit:03d}",
        "visit_group": "02", "sequence_id": "1", "activity_id": "01",
        "exposure_number": f"{exposure:05d}",
    }
    obs_id = f"jw{program}001{visit:03d}_02101_{exposure:05d}"
    meta.filename = f"{obs_id}_{info.detector.lower()}_cal.fits"
    start = options["start_mjd"]
    t_exp = options["exposure_time"]
    duration = t_exp + 21.5  # resets and overheads
    end = start + duration / 86400
    date, time = Time(start, format="mjd", scale="utc").isot.split("T")
    meta.telescope = "JWST"
    meta.bunit_data = meta.bunit_err = "MJy/sr"
    _update(meta.observation, obs | {"obs_id": obs_id, "visit_id": obs_id[2:13]})
    _update(meta.observation, {"date": date, "time": time, "date_beg": f"{date}T{time}"})
    _update(meta.target, {
        "catalog_name": "SPIKE-STARS", "proposer_name": "SPIKE-STARS", "type": "FIXED",
        "ra": options["ra"], "dec": options["dec"],
    })
    _update(meta.instrument, {
        "name": info.instrument, "detector": info.detector, "channel": info.channel,
        "module": info.module, "filter": elements[0], "pupil": elements[1],
    })
    _update(meta.exposure, {
        "type": info.exp_type, "nints": 1, "ngroups": 8,
        "start_time": start, "start_time_mjd": start, "end_time": end, "end_time_mjd": end,
        "mid_time": (start + end) / 2, "mid_time_mjd": (start + end) / 2,
        "exposure_time": t_exp, "effective_exposure_time": t_exp, "measurement_time": t_exp,
        "elapsed_exposure_time": t_exp, "duration": duration,
    })
    sections = wcs_metadata(info.name, pointing=pointing, wcs=meta.wcs, subarray_origin=origin)
    for section, values in sections.items():
        _update(getattr(meta, section), values)
    photmjsr = _PHOTMJSR[info.instrument]
    _update(meta.photometry, {
        "conversion_megajanskys": photmjsr,
        "conversion_microjanskys": photmjsr * 23.50443,  # uJy/arcsec2 per DN/s
        "pixelarea_steradians": options["pixel_area_sr"],
        "pixelarea_arcsecsq": info.pixel_scale[0] * info.pixel_scale[1],
    })
    _update(meta.background, {"level": options["sky"], "subtracted": False, "method": "local"})
    for step in _CAL_STEPS + (_MIRI_STEPS if info.instrument == "MIRI" else ()):
        skipped = info.instrument == "MIRI" and step in ("superbias", "persistence")
        setattr(meta.cal_step, step, "SKIPPED" if skipped else "COMPLETE")
    meta.asn.pool_name = "spike_simulation"


def simulate_jwst_cal_exposures(
    *,
    aperture="NRCA1_FULL",
    filter=None,  # noqa: A002 - the JWST keyword name
    pupil=None,
    shape=(256, 256),
    subarray_origin=None,
    ra=53.16,
    dec=-27.79,
    v3pa=60.0,
    dithers=None,
    rotations=(0.0, 20.0),
    stars=None,
    psf_method=None,
    psf_size=25,
    exposure_time=300.0,
    sky=None,
    read_noise=12.0,
    seed=0,
    program="01234",
    start_mjd=60400.0,
):
    """Make dithered JWST ``_cal`` imaging exposures of a star field, with their truth.

    Parameters
    ----------
    aperture : str, optional
        SIAF aperture (``"NRCA1_FULL"``, ``"NRCA5_FULL"``, ``"NIS_CEN"``, ``"MIRIM_FULL"``...).
    filter, pupil : str, optional
        Filter and pupil wheel elements (NIRCam default: ``F200W`` + ``CLEAR``).
    shape : tuple of int, optional
        ``(ny, nx)`` of each data array, cut from the aperture's science frame.
    subarray_origin : tuple of int, optional
        0-based ``(x, y)`` of the array's first pixel in the aperture frame (default: centred).
    ra, dec : float, optional
        ICRS position (deg) seen by the array centre in the undithered pointing.
    v3pa : float, optional
        Position angle (deg, North through East) of V3 at that position in the first visit.
    dithers : sequence of (float, float), optional
        ``(dx, dy)`` in arcsec in the aperture's ideal frame by which the scene moves on the
        detector (the telescope moves the other way). Default: 4 points of 0-7 px with
        sub-pixel parts.
    rotations : sequence of float, optional
        One visit per entry, with V3 position angle ``v3pa + rotation`` (deg).
    stars : `~astropy.table.Table`, optional
        Columns ``ra``, ``dec`` (deg) and ``flux`` (Jy). Default: `default_jwst_stars`,
        placed at least 25 px from the edges of every exposure.
    psf_method : `spike.psf.base.PSFMethod`, optional
        PSF back-end, prepared once per exposure (default: ``OpticalPSFMethod()``).
    psf_size : int, optional
        Odd width (detector pixels) of the PSF stamp rendered for each star.
    exposure_time : float, optional
        Effective exposure time (s) of each exposure.
    sky : float, optional
        Sky level (MJy/sr), recorded as ``meta.background.level`` (not subtracted).
        Default: 0.2 (NIRCam, NIRISS), 8 (MIRI).
    read_noise : float, optional
        Effective read noise of an exposure (electrons); VAR_RNOISE varies by -22/+28 %
        from pixel to pixel (one map for all exposures).
    seed : int, optional
        Seed of `numpy.random.default_rng` (noise and flagged pixels).
    program : str, optional
        5-digit program number used in ``meta.observation`` and the file names.
    start_mjd : float, optional
        Start time (MJD) of the first exposure.

    Returns
    -------
    JwstSimulation

    Raises
    ------
    ValueError
        For an unsupported aperture, an array that does not fit it, or bad options.

    Notes
    -----
    A star of ``flux`` Jy sums to ``flux * 1e-6 / pixelarea_steradians`` data units
    (MJy/sr x pixels, nominal SIAF pixel area) times the PSF's encircled fraction. Noise
    uses a gain of 2 e/DN and an instrument typical PHOTMJSR. Within a visit the V3
    position angle is held at the scene centre (a real visit holds it at V1; the
    difference is negligible for arcsecond dithers).
    """
    info = aperture_info(aperture)
    shape = tuple(int(n) for n in shape)
    if subarray_origin is None:
        subarray_origin = ((info.sci_shape[1] - shape[1]) // 2, (info.sci_shape[0] - shape[0]) // 2)
    origin = tuple(int(v) for v in subarray_origin)
    scale = float(np.mean(info.pixel_scale))
    if dithers is None:
        dithers = [(dx * scale, dy * scale) for dx, dy in _common.DITHER_PIXELS]
    _common.check_options(shape, psf_size, rotations, dithers)
    if stars is None:
        max_dither = max(math.hypot(dx, dy) for dx, dy in dithers) / scale
        radius = 0.96 * min(shape) / 2 - _common.EDGE - max_dither - 2
        stars = default_jwst_stars(ra=ra, dec=dec, radius_arcsec=radius * scale)
    else:
        stars = Table(stars, copy=True)
        if "star" not in stars.colnames:
            stars["star"] = np.arange(len(stars))
    filter_name, pupil, band = band_elements(info.name, filter_name=filter, pupil=pupil)
    method = _common.resolve_psf_method(psf_method, "spike.psf.optical", "OpticalPSFMethod")
    rng = np.random.default_rng(seed)
    conv = exposure_time * _GAIN / _PHOTMJSR[info.instrument]  # electrons per MJy/sr
    var_rnoise = (read_noise / conv) ** 2 * rng.uniform(0.78, 1.28, shape)
    refpix = reference_pixel_mask(info.name, subarray_origin=origin, shape=shape)
    options = {
        "program": program, "exposure_time": exposure_time, "ra": ra, "dec": dec,
        "sky": _SKY[info.instrument] if sky is None else float(sky),
        "pixel_area_sr": info.pixel_scale[0] * info.pixel_scale[1] * (math.pi / 648000) ** 2,
    }
    star_sums = np.asarray(stars["flux"], float) * 1e-6 / options["pixel_area_sr"]
    centre = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    models, positions, flagged = [], [], []
    mjd = float(start_mjd)
    for visit, rotation in enumerate(rotations, start=1):
        for number, offset in enumerate(dithers, start=1):
            index = len(models)
            pointing = solve_pointing(
                info.name, ra=ra, dec=dec, pa=v3pa + rotation, pixel=centre,
                subarray_origin=origin, offset=offset,
            )
            model = ImageModel(shape)
            model.meta.wcs = make_jwst_gwcs(
                info.name, ra_ref=pointing["ra_ref"], dec_ref=pointing["dec_ref"],
                v3pa=pointing["roll_ref"], subarray_origin=origin, shape=shape,
            )
            _set_cal_metadata(
                model, info=info, pointing=pointing, origin=origin,
                elements=(filter_name, pupil), visit=visit, exposure=number,
                options=options | {"start_mjd": mjd},
            )
            mjd += (exposure_time + 80.0) / 86400
            xs, ys = star_detector_positions(model, stars)
            detector = DetectorInfo(
                mission="jwst", instrument=info.instrument, detector=info.detector,
                filter=band, pupil=pupil, wcs=model.meta.wcs, shape=shape,
                filename=model.meta.filename,
                extra={"exposure_time": exposure_time, "aperture": info.name},
            )
            truth = np.full(shape, options["sky"])
            _common.render_stars(truth, method.prepare(detector), xs, ys, star_sums, psf_size)
            arrays = _common.noisy_arrays(rng, truth, conv=conv, var_rnoise=var_rnoise)
            model.dq = _common.flag_pixels(
                rng, arrays, xs=xs, ys=ys, conv=conv, dq_flags=_DQ, refpix=refpix,
                cosmic_ray=index // 2 if index % 2 == 1 else None,  # on odd exposures
            )
            for name, array in zip(_ARRAYS, arrays, strict=True):
                setattr(model, name, array.astype(np.float32))
            models.append(model)
            positions.append(Table({
                "exposure": np.full(len(stars), index),
                "filename": [model.meta.filename] * len(stars),
                "star": np.asarray(stars["star"]), "x": xs, "y": ys, "flux_data": star_sums,
            }))
            flagged.append(_common.flagged_near_stars(model.dq, xs, ys, index))
            log.debug("made %s (%s, visit %d)", model.meta.filename, info.name, visit)
        mjd += 0.5  # the next visit starts half a day later
    return JwstSimulation(
        models=models, stars=stars, positions=vstack(positions), flagged=vstack(flagged)
    )


def make_jwst_cal_exposures(**kwargs):
    """Make dithered JWST ``_cal`` imaging exposures of a star field.

    Parameters
    ----------
    **kwargs
        Keyword options of `simulate_jwst_cal_exposures`.

    Returns
    -------
    list of `~stdatamodels.jwst.datamodels.ImageModel`
        The exposures; `simulate_jwst_cal_exposures` also returns the true stars.
    """
    return simulate_jwst_cal_exposures(**kwargs).models


def write_jwst_association(models, directory, *, product_name="spike_jwst_mosaic"):
    """Save exposures as ``_cal.fits`` files and write a level-3 association for them.

    Parameters
    ----------
    models : list of `~stdatamodels.jwst.datamodels.ImageModel`
        Exposures with distinct ``meta.filename``; copies are saved, the models are unchanged.
    directory : str or `~pathlib.Path`
        Output directory (created if needed).
    product_name : str, optional
        Level-3 product name in the association.

    Returns
    -------
    `~pathlib.Path`
        Path of ``<product_name>_asn.json``; ``jwst.datamodels.ModelLibrary`` opens it.

    Raises
    ------
    ValueError
        If two models share a file name.
    """
    from jwst.associations.asn_from_list import asn_from_list
    from jwst.associations.lib.rules_level3_base import DMS_Level3_Base

    directory, names = _common.save_members(models, directory)
    asn = asn_from_list(names, rule=DMS_Level3_Base, product_name=product_name)
    program = models[0].meta.observation.program_number if models else None
    asn.data.update({"asn_type": "image3", "target": "t001", "asn_pool": "spike_simulation"})
    asn.data["program"] = program or "noprogram"
    _, serialized = asn.dump(format="json")
    path = directory / f"{product_name}_asn.json"
    path.write_text(serialized)
    log.info("wrote %s with %d members", path, len(names))
    return path
