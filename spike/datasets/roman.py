"""Realistic, offline Roman WFI level-2 calibrated (``_cal.asdf``) exposures for tests.

Each exposure is a `roman_datamodels.datamodels.ImageModel` whose data array is a *cut-out*
(default 256 x 256) of one SCA's 4088 x 4088 science area: its gwcs is the SIAF-based gwcs of
the whole SCA shifted by the cut-out origin (see `make_roman_gwcs`), and ``meta.spike_cutout``
records the origin. Stars are injected with a spike PSF back-end; sky, Poisson and read noise,
and flagged pixels are added; the metadata are those ``romancal.resample`` and
``romancal.datamodels.ModelLibrary`` read, so both accept the exposures without CRDS.
"""

import logging
import math
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table, vstack
from astropy.time import Time
from roman_datamodels import datamodels as rdm
from roman_datamodels import dqflags

from spike import __version__
from spike.datasets import _common
from spike.datasets._roman_wcs import (
    SCA_SHAPE,
    attitude_gwcs,
    cal_metadata,
    exposure_times,
    make_roman_gwcs,  # re-exported
    pixel_area,
    sca_info,
    solve_attitude,
)
from spike.psf.base import DetectorInfo

__all__ = [
    "RomanSimulation",
    "default_roman_stars",
    "make_roman_cal_exposures",
    "make_roman_gwcs",
    "simulate_roman_cal_exposures",
    "write_roman_association",
]

log = logging.getLogger(__name__)

_DQ = dqflags.pixel
#: Count rate (electrons/s) of an AB = 0 (3631 Jy) source, mean of the 18 SCAs (they differ
#: by 3-4 % rms), from the GSFC effective areas as ``romanisim.models.bandpass.get_abflux``.
_AB_RATE = {
    "F062": 4.441e10, "F087": 3.320e10, "F106": 3.484e10, "F129": 3.480e10,
    "F146": 1.081e11, "F158": 3.553e10, "F184": 2.318e10, "F213": 2.216e10,
}
#: Typical sky (electrons/s/pixel): ``galsim.roman.getSkyLevel`` at (270, 66) deg + thermal.
_SKY_RATE = {
    "F062": 0.34, "F087": 0.31, "F106": 0.34, "F129": 0.35,
    "F146": 2.0, "F158": 0.38, "F184": 0.36, "F213": 4.6,
}
_GAIN = 2.0  # electrons per DN, romanisim's default
_NRESULTANTS = 9  # MA table 4


@dataclass(frozen=True)
class RomanSimulation:
    """Output of `simulate_roman_cal_exposures`: the exposures and their truth.

    Attributes
    ----------
    models : list of `~roman_datamodels.datamodels.ImageModel`
        The ``_cal`` exposures, in time order (SCAs of one exposure in ``detectors`` order).
    stars : `~astropy.table.Table`
        True stars: ``star``, ``ra``, ``dec`` (deg), ``flux`` (Jy).
    positions : `~astropy.table.Table`
        One row per exposure and star: ``exposure`` (index into `models`), ``filename``,
        ``detector``, ``star``, ``x``, ``y`` (0-based true position in the data array, NaN
        off the array) and ``flux_data`` (injected flux as a sum of data values, DN/s).
    flagged : `~astropy.table.Table`
        Pixels with any DQ flag within 3 px of a star: ``exposure``, ``star``, ``x``, ``y``
        (integer pixel), ``dq`` and ``distance`` (px).
    """

    models: list
    stars: Table
    positions: Table
    flagged: Table


def default_roman_stars(*, ra, dec, radius_arcsec):
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
        Columns ``star``, ``ra``, ``dec`` (deg) and ``flux`` (Jy, 30-150 uJy, AB 18.4-20.2:
        the JWST factory's pattern, 5 times brighter for Roman's 7 times smaller mirror).
    """
    stars = _common.star_pattern(ra=ra, dec=dec, radius_arcsec=radius_arcsec)
    stars["flux"] *= 5.0
    return stars


def _apply_metadata(model, sections):
    """Set ``meta`` keywords and sections; unused reference-file names become ``N/A``."""
    meta = model.meta
    for key, value in sections.items():
        if isinstance(value, dict) and key in meta and key not in ("photometry", "cal_step"):
            for name, item in value.items():
                meta[key][name] = item
        else:
            meta[key] = value
    meta.ref_file.crds.version = meta.ref_file.crds.context = "N/A"
    for key in set(meta.ref_file) - {"crds"}:
        meta.ref_file[key] = "N/A"


def _check_options(shape, psf_size, rotations, dithers, filter_name, detectors, origins):
    """Check the options all factories share, then the filter, SCAs and cut-out origins."""
    _common.check_options(shape, psf_size, rotations, dithers)
    if filter_name not in _AB_RATE:
        msg = f"filter must be one of {sorted(_AB_RATE)}, got {filter_name!r}"
    elif len(detectors) == 0 or len(set(detectors)) != len(detectors):
        msg = f"detectors must hold distinct SCAs, got {detectors!r}"
    elif not set(detectors) <= set(origins):
        msg = f"cutout_origin has no origin for {sorted(set(detectors) - set(origins))}"
    else:
        return
    raise ValueError(msg)


def _default_stars(detectors, origins, shape, *, attitudes, radius_px):
    """Star patterns centred on each SCA cut-out (per visit when the SCA sees new sky)."""
    centre = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    scale = float(np.mean(sca_info(detectors[0]).pixel_scale))
    min_separation = 1.5 * math.hypot(*shape) * scale
    centres = []
    for attitude in attitudes:
        for det in detectors:
            wcs = attitude_gwcs(det, attitude, cutout_origin=origins[det], shape=shape)
            sky = SkyCoord(*wcs(*centre), unit="deg")
            if all(sky.separation(c).arcsec > min_separation for c in centres):
                centres.append(sky)
    stars = vstack([
        default_roman_stars(ra=c.ra.deg, dec=c.dec.deg, radius_arcsec=radius_px * scale)
        for c in centres
    ])
    stars["star"] = np.arange(len(stars))
    return stars


def simulate_roman_cal_exposures(
    *,
    detectors=("WFI01",),
    filter="F158",  # noqa: A002 - mirrors the JWST factory; meta.instrument.optical_element
    shape=(256, 256),
    cutout_origin=None,
    ra=270.0,
    dec=66.0,
    v3pa=60.0,
    dithers=None,
    rotations=(0.0, 20.0),
    stars=None,
    psf_method=None,
    psf_size=25,
    sky=None,
    read_noise=8.0,
    seed=0,
    program=1,
    start_time="2027-03-01T00:00:00",
):
    """Make dithered Roman WFI ``_cal`` exposures of a star field, with their truth.

    Parameters
    ----------
    detectors : sequence of str, optional
        SCAs read out in every exposure (``("WFI01", "WFI02")``...), all at one telescope
        attitude, so each SCA sees its own patch of sky.
    filter : str, optional
        Optical element: ``F062``, ``F087``, ``F106``, ``F129``, ``F146``, ``F158``, ``F184``
        or ``F213``.
    shape : tuple of int, optional
        ``(ny, nx)`` of each data array, a cut-out of the 4088 x 4088 SCA science area.
    cutout_origin : tuple of int or dict, optional
        0-based ``(x, y)`` of the cut-out in the science area (default: centred), or a dict
        ``{detector: (x, y)}``.
    ra, dec : float, optional
        ICRS position (deg) seen by the centre of the first SCA's cut-out in the undithered
        pointing.
    v3pa : float, optional
        Position angle (deg, North through East) of V3 at that position in the first visit.
    dithers : sequence of (float, float), optional
        ``(dx, dy)`` in arcsec in the first SCA's ideal frame by which the scene moves on the
        detectors. Default: 4 points of 0-7 px with sub-pixel parts.
    rotations : sequence of float, optional
        One visit per entry, with V3 position angle ``v3pa + rotation`` (deg) at ``(ra, dec)``.
    stars : `~astropy.table.Table`, optional
        Columns ``ra``, ``dec`` (deg) and ``flux`` (Jy). Default: `default_roman_stars`
        centred on each SCA cut-out (and again in each visit where an SCA sees new sky),
        at least 25 px from the edges.
    psf_method : `spike.psf.base.PSFMethod`, optional
        PSF back-end, prepared once per exposure and SCA (default: ``GalSimPSFMethod()``).
        Its `~spike.psf.base.DetectorInfo` has ``extra["cutout_origin"]``: add it to the
        detector position to get the SCA position.
    psf_size : int, optional
        Odd width (detector pixels) of the PSF stamp rendered for each star.
    sky : float, optional
        Sky level (DN/s), recorded as ``meta.background.level`` (not subtracted). Default:
        a typical zodiacal + thermal level of the filter.
    read_noise : float, optional
        Effective read noise of an exposure (electrons); VAR_RNOISE varies by -22/+28 %
        from pixel to pixel (one map per SCA).
    seed : int, optional
        Seed of `numpy.random.default_rng` (noise and flagged pixels).
    program : int, optional
        Program number (``meta.observation.program`` and the file names).
    start_time : str, optional
        UTC start (ISO) of the first exposure.

    Returns
    -------
    RomanSimulation

    Raises
    ------
    ValueError
        For an unknown SCA or filter, an array that does not fit the SCA, or bad options.

    Notes
    -----
    Data are count rates (DN/s, before romancal's ``flux`` step) with gain 2 e/DN and MA table
    4 (139 s). A star of ``flux`` Jy sums to ``flux / 3631 * AB rate / gain`` DN/s times the
    PSF's encircled fraction, with an SCA-averaged AB count rate; ``meta.photometry`` is
    consistent with it. No velocity aberration (scale 1), persistence, non-linearity, IPC or
    saturation. Within a visit the V3 position angle is held at ``(ra, dec)``.
    """
    detectors = tuple(sca_info(d).name for d in detectors)
    shape = tuple(int(n) for n in shape)
    if cutout_origin is None:
        cutout_origin = ((SCA_SHAPE[1] - shape[1]) // 2, (SCA_SHAPE[0] - shape[0]) // 2)
    if isinstance(cutout_origin, dict):
        origins = {sca_info(k).name: tuple(int(v) for v in xy) for k, xy in cutout_origin.items()}
    else:
        origins = dict.fromkeys(detectors, tuple(int(v) for v in cutout_origin))
    _check_options(shape, psf_size, rotations, dithers or [0], filter, detectors, origins)
    scale = float(np.mean(sca_info(detectors[0]).pixel_scale))
    if dithers is None:
        dithers = [(dx * scale, dy * scale) for dx, dy in _common.DITHER_PIXELS]
    centre = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)

    def attitude(rotation, offset):
        return solve_attitude(
            detectors[0], ra=ra, dec=dec, pa=v3pa + rotation, pixel=centre,
            cutout_origin=origins[detectors[0]], offset=offset,
        )

    if stars is None:
        max_dither = max(math.hypot(dx, dy) for dx, dy in dithers) / scale
        radius = 0.96 * min(shape) / 2 - _common.EDGE - max_dither - 2
        stars = _default_stars(
            detectors, origins, shape, radius_px=radius,
            attitudes=[attitude(rotation, (0.0, 0.0)) for rotation in rotations],
        )
    else:
        stars = Table(stars, copy=True)
        if "star" not in stars.colnames:
            stars["star"] = np.arange(len(stars))
    rng = np.random.default_rng(seed)
    t_exp = exposure_times(Time(start_time))[0]
    conv = t_exp * _GAIN  # electrons per DN/s
    method = _common.resolve_psf_method(psf_method, "spike.psf.galsim_method", "GalSimPSFMethod")
    setup = {
        "method": method, "psf_size": psf_size, "conv": conv,
        "var_rnoise": {d: (read_noise / conv) ** 2 * rng.uniform(0.78, 1.28, shape)
                       for d in detectors},
        "star_sums": np.asarray(stars["flux"], float) / 3631.0 * _AB_RATE[filter] / _GAIN,
    }
    options = {
        "program": int(program), "filter": filter, "version": __version__, "dithers": dithers,
        "sky": _SKY_RATE[filter] / _GAIN if sky is None else float(sky),
    }
    models, positions, flagged = [], [], []
    start = Time(start_time)
    for visit, rotation in enumerate(rotations, start=1):
        options["visit_start"] = start
        for number, offset in enumerate(dithers, start=1):
            pointing = attitude(rotation, offset)
            for detector in detectors:
                options["origin"] = origins[detector]
                model, xs, ys = _make_exposure(
                    rng, detector, stars, attitude=pointing, ids=(visit, number), start=start,
                    shape=shape, setup=setup, options=options,
                )
                index = len(models)
                models.append(model)
                positions.append(Table({
                    "exposure": np.full(len(stars), index),
                    "filename": [model.meta.filename] * len(stars),
                    "detector": [detector] * len(stars), "star": np.asarray(stars["star"]),
                    "x": xs, "y": ys, "flux_data": setup["star_sums"],
                }))
                flagged.append(_common.flagged_near_stars(model.dq, xs, ys, index))
            start = start + (t_exp + 60.0) * u.s  # slew and settle between dithers
        start = start + 0.5 * u.day  # the next visit starts half a day later
    return RomanSimulation(
        models=models, stars=stars, positions=vstack(positions), flagged=vstack(flagged)
    )


def _make_exposure(rng, detector, stars, *, attitude, ids, start, shape, setup, options):
    """One SCA exposure: gwcs, metadata, stars, noise and flags; returns (model, x, y)."""
    centre = ((shape[1] - 1) / 2, (shape[0] - 1) / 2)
    model = rdm.ImageModel.create_fake_data(shape=shape)
    model.meta.wcs = attitude_gwcs(detector, attitude, cutout_origin=options["origin"], shape=shape)
    area = pixel_area(model.meta.wcs, *centre)
    conversion = _GAIN * 3631.0 / _AB_RATE[options["filter"]] / 1e6 / area  # MJy/sr per DN/s
    sections = cal_metadata(
        detector, attitude=attitude, wcs=model.meta.wcs, ids=ids, start=start,
        options=options | {"pixel_area": area, "conversion_megajanskys": conversion},
    )
    _apply_metadata(model, sections)
    xs, ys = _common.star_detector_positions(model, stars)
    detector_info = DetectorInfo(
        mission="roman", instrument="WFI", detector=detector, filter=options["filter"],
        pupil=None, wcs=model.meta.wcs, shape=shape, filename=model.meta.filename,
        extra={
            "exposure_time": model.meta.exposure.exposure_time, "aperture": f"{detector}_FULL",
            "cutout_origin": options["origin"], "sca_shape": SCA_SHAPE,
            "start_time": start.isot,
        },
    )
    truth = np.full(shape, options["sky"])
    psf_model = setup["method"].prepare(detector_info)
    _common.render_stars(truth, psf_model, xs, ys, setup["star_sums"], setup["psf_size"])
    arrays = _common.noisy_arrays(
        rng, truth, conv=setup["conv"], var_rnoise=setup["var_rnoise"][detector]
    )
    visit, number = ids
    model.dq = _common.flag_pixels(
        rng, arrays, xs=xs, ys=ys, conv=setup["conv"], dq_flags=_DQ, margin=4,
        cosmic_ray=number // 2 + visit if number % 2 == 0 else None,  # on even dithers
    )
    model.data = arrays[0].astype(np.float32)
    variances = ("err", "var_poisson", "var_rnoise", "var_flat")
    for name, array in zip(variances, arrays[1:], strict=True):
        model[name] = array.astype(np.float16)  # float16 in the rad 2.x schema
    _reference_arrays(model, shape)
    log.debug("made %s (%s, visit %d)", model.meta.filename, detector, visit)
    return model, xs, ys


def _reference_arrays(model, shape):
    """Zero ramp-fit extras and reference-pixel arrays sized for the cut-out."""
    ny, nx = shape
    model.chisq = np.zeros(shape, np.float16)
    model.dumo = np.zeros(shape, np.float16)
    model.amp33 = np.zeros((_NRESULTANTS, ny + 8, 128), np.uint16)
    for side in ("left", "right", "top", "bottom"):
        size = (_NRESULTANTS, ny + 8, 4) if side in ("left", "right") else (_NRESULTANTS, 4, nx + 8)
        model[f"border_ref_pix_{side}"] = np.zeros(size, np.float32)
        model[f"dq_border_ref_pix_{side}"] = np.zeros(size[1:], np.uint32)


def make_roman_cal_exposures(**kwargs):
    """Make dithered Roman WFI ``_cal`` exposures of a star field.

    Parameters
    ----------
    **kwargs
        Keyword options of `simulate_roman_cal_exposures`.

    Returns
    -------
    list of `~roman_datamodels.datamodels.ImageModel`
        The exposures; `simulate_roman_cal_exposures` also returns the true stars.
    """
    return simulate_roman_cal_exposures(**kwargs).models


def write_roman_association(models, directory, *, product_name="spike_roman_mosaic",
                            target="spike_sim"):
    """Save exposures as ``_cal.asdf`` files and write a level-3 association for them.

    Parameters
    ----------
    models : list of `~roman_datamodels.datamodels.ImageModel`
        Exposures with distinct ``meta.filename``; copies are saved, the models are unchanged.
    directory : str or `~pathlib.Path`
        Output directory (created if needed).
    product_name : str, optional
        Level-3 product name in the association.
    target : str, optional
        Association ``target``, which romancal's resample (``resample_on_skycell=True``, the
        default) reads as a sky-cell name: a real name needs the CRDS sky map (offline: the
        step exits); ``"None"`` makes it fall back to a grid around the inputs. Without a
        target ``asn_from_list`` writes ``null``, on which that lookup crashes.

    Returns
    -------
    `~pathlib.Path`
        Path of ``<product_name>_asn.json``; ``romancal.datamodels.ModelLibrary`` opens it.

    Raises
    ------
    ValueError
        If two models share a file name.
    """
    from romancal.associations.asn_from_list import asn_from_list

    directory, names = _common.save_members(models, directory)
    asn = asn_from_list(names, product_name=product_name, target=target)
    asn.data["asn_pool"] = "spike_simulation"
    if models:
        asn.data["program"] = f"{models[0].meta.observation.program:05d}"
    _, serialized = asn.dump()  # JSON
    path = directory / f"{product_name}_asn.json"
    path.write_text(serialized)
    log.info("wrote %s with %d members", path, len(names))
    return path
