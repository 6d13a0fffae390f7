"""Drizzle the per-exposure PSFs onto the science mosaic's grid, one cutout per source.

Mission independent: the adapter supplies the grid and resamples stamps with the mission's
own resample code; this module renders detector-sampled stamps and handles the cutout
geometry (see `spike.stamps.geometry` for why and how much it pads).
"""

import copy
import logging

import numpy as np

from spike.generate import fill_instrument_meta
from spike.progress import Progress
from spike.stamps.fitswcs import as_gwcs
from spike.stamps.geometry import OUTPUT_PAD, input_box, output_box
from spike.stamps.render import render_stamp

__all__ = ["drizzle_psfs", "default_output_size", "input_scales", "merge_products",
           "check_contributions"]

log = logging.getLogger(__name__)

DRIZZLED_SOURCE_DTYPE = [("id", "S64"), ("ra", "f8"), ("dec", "f8"), ("x", "f8"), ("y", "f8"),
                         ("xstart", "i4"), ("ystart", "i4"), ("n_exposures", "i4"),
                         ("psf_sum", "f8")]
EXPOSURE_DTYPE = [("filename", "S128"), ("instrument", "S32"), ("detector", "S32"),
                  ("filter", "S32"), ("pupil", "S32")]


def input_scales(adapter):
    """Mean pixel scale (arcsec) of every exposure of ``adapter``."""
    from stcal.resample.utils import compute_mean_pixel_area

    scales = []
    for e in range(adapter.n_exposures):
        det = adapter.detector_info(e)
        area = det.extra.get("pixelarea_steradians") or compute_mean_pixel_area(
            det.wcs, shape=det.shape)
        scales.append(3600.0 * np.degrees(np.sqrt(area)))
    return scales


def default_output_size(stamp_size, grid, adapter):
    """Odd output cutout size covering a detector stamp of ``stamp_size`` pixels.

    Parameters
    ----------
    stamp_size : int
        Detector stamp size.
    grid : spike.missions.base.OutputGrid
        The output grid.
    adapter : spike.missions.base.MissionAdapter
        The exposures (the largest input pixel scale is used).
    """
    size = int(np.ceil(stamp_size * max(input_scales(adapter)) / grid.pixel_scale))
    return size + 1 - size % 2


def drizzle_psfs(adapter, exposure_psfs, grid, *, output_size, source_ids=None):
    """Drizzle every source's exposure PSFs onto its cutout of the mosaic grid.

    Parameters
    ----------
    adapter : spike.missions.base.MissionAdapter
        The science exposures and the mission's resample code.
    exposure_psfs : list of tuple
        ``(exposure_index, ExposurePSFModel)`` from `spike.generate.generate_psfs`.
    grid : spike.missions.base.OutputGrid
        The science mosaic's grid.
    output_size : int
        Odd cutout size in output pixels.
    source_ids : sequence of str, optional
        Order of the sources in the product (the input catalog's); by default the order in
        which the exposures first list them (the same when the first exposure covers every
        source, not with several chips or partial coverage).

    Returns
    -------
    `~spike.datamodels.DrizzledPSFModel`
    """
    from spike.datamodels import DrizzledPSFModel
    from spike.datamodels._base import str_table

    order, per_source = _collect(exposure_psfs)
    if source_ids is not None:
        wanted = [str(i) for i in source_ids]
        order = [i for i in wanted if i in per_source] + [i for i in order if i not in wanted]
    n_src, n_exp = len(order), adapter.n_exposures
    n_planes = max(1, (n_exp + 31) // 32)
    data = np.zeros((n_src, output_size, output_size), dtype=np.float32)
    wht = np.zeros_like(data)
    con = np.zeros((n_src, n_planes, output_size, output_size), dtype=np.int32)
    table = np.zeros(n_src, dtype=DRIZZLED_SOURCE_DTYPE)
    contributions = np.zeros((n_src, n_exp), dtype=np.uint8)

    progress = Progress(n_src, "sources drizzled", log)
    for s, sid in enumerate(order):
        progress.update(s)
        ra, dec, entries = per_source[sid]
        xm, ym = (float(v) for v in grid.wcs.world_to_pixel_values(ra, dec))
        box = output_box(xm, ym, output_size)
        padded = box.pad(OUTPUT_PAD)
        stamps, used = _stamps_for(adapter, grid, padded, entries)
        if not stamps:
            log.warning("Source %s: no exposure pixels reach its cutout", sid)
            table[s] = (sid.encode(), ra, dec, xm, ym, box.xstart, box.ystart, 0, 0.0)
            data[s] = np.nan
            continue
        d, w, c = adapter.resample_stamps(stamps, grid, padded)
        inner = (slice(OUTPUT_PAD, -OUTPUT_PAD), slice(OUTPUT_PAD, -OUTPUT_PAD))
        data[s], wht[s] = d[inner], w[inner]
        con[s] = _global_context(c[(slice(None), *inner)], used, n_planes)
        # contributing = some weight on the cutout (masked or NaN pixels give none)
        contributing = [e for e in used if _has_bit(con[s], e)]
        contributions[s, contributing] = 1
        table[s] = (sid.encode(), ra, dec, xm, ym, box.xstart, box.ystart, len(contributing),
                    float(np.nansum(data[s])))
        log.log(logging.DEBUG if progress.enabled else logging.INFO,
                "Source %s: drizzled %d exposure PSF(s), %d with weight on the cutout", sid,
                len(used), len(contributing))
    progress.update(n_src)

    out = DrizzledPSFModel(data=data, wht=wht, con=con, sources=str_table(table),
                           exposures=str_table(_exposure_table(adapter)),
                           contributions=contributions)
    _fill_meta(out, adapter, grid, exposure_psfs)
    return out


def _fill_meta(out, adapter, grid, exposure_psfs):
    meta = out.meta
    det = adapter.detector_info(0)
    meta.mission = adapter.mission
    meta.telescope = adapter.mission.upper()
    meta.product_name = adapter.product_name
    fill_instrument_meta(meta.instrument, det)
    detectors = sorted({adapter.detector_info(e).detector for e in range(adapter.n_exposures)})
    meta.instrument.detector = detectors[0] if len(detectors) == 1 else "MULTIPLE"
    if exposure_psfs:
        first = exposure_psfs[0][1].meta.psf
        meta.psf.method = first.method
        meta.psf.oversampling = first.oversampling
        meta.psf.parameters = first.parameters.instance if hasattr(
            first.parameters, "instance") else dict(first.parameters)
    meta.wcs = as_gwcs(grid.wcs)
    meta.mosaic.ny, meta.mosaic.nx = (int(v) for v in grid.shape)
    meta.mosaic.pixel_scale = float(grid.pixel_scale)
    if grid.source == "reference_mosaic":
        meta.mosaic.reference_mosaic = str(grid.reference)
    res = meta.resample
    for key in ("pixfrac", "kernel", "weight_type", "pixmap_stepsize", "pixmap_order"):
        if grid.pars.get(key) is not None:
            setattr(res, key, grid.pars[key])
    fillval = grid.pars.get("fillval")
    res.fillval = "INDEF" if fillval is None else str(fillval)
    res.good_bits = str(grid.pars.get("good_bits"))
    if grid.pixel_scale_ratio is not None:
        res.pixel_scale_ratio = float(grid.pixel_scale_ratio)
    res.pixel_scale = float(grid.pixel_scale)
    res.output_wcs_source = grid.source


def _collect(exposure_psfs):
    """Group the exposure PSF stamps by source id, keeping first-seen source order."""
    order, per_source = [], {}
    for e, model in exposure_psfs:
        os_ = int(model.meta.oversampling)
        for k, row in enumerate(model.sources):
            sid = _as_str(row["id"])
            if sid not in per_source:
                order.append(sid)
                per_source[sid] = (float(row["ra"]), float(row["dec"]), [])
            per_source[sid][2].append((e, float(row["x"]), float(row["y"]), model.data[k], os_))
    return order, per_source


def _stamps_for(adapter, grid, padded, entries):
    from spike.missions.base import Stamp

    stamps, used = [], []
    for e, x, y, epsf, os_ in entries:
        det = adapter.detector_info(e)
        ibox = input_box(padded, grid.wcs, det.wcs, det.shape)
        if ibox is None:
            continue
        psf = render_stamp(epsf, os_, x - ibox.xstart, y - ibox.ystart, ibox.shape)
        stamps.append(Stamp(exposure=e, box=ibox, data=psf))
        used.append(e)
    return stamps, used


def _global_context(con, used, n_planes):
    """Re-index context bits from stamp order to the adapter's exposure order."""
    out = np.zeros((n_planes, *con.shape[1:]), dtype=np.int64)
    for j, e in enumerate(used):
        bit = (con[j // 32].astype(np.int64) >> (j % 32)) & 1
        out[e // 32] |= bit << (e % 32)
    return out.astype(np.uint32).view(np.int32)


def _has_bit(con, e):
    """True when exposure ``e``'s context bit is set anywhere in ``con`` (planes, ny, nx)."""
    plane = con[e // 32].view(np.uint32)
    return bool(np.any(plane & np.uint32(1 << (e % 32))))


def check_contributions(result):
    """Warn about sources no exposure pixel with weight reaches; raise if that is all of them.

    A source gets no weight when every exposure covering it has NaN data or data-quality
    flags excluding its pixels (e.g. an all-NaN SCI, or DQ all ``DO_NOT_USE``): its
    cutout is the fill value and its PSF sum 0.

    Parameters
    ----------
    result : `~spike.datamodels.DrizzledPSFModel`
        The product (after merging batches and parallel chunks).

    Raises
    ------
    spike.exceptions.SpikeError
        When no source received any weight.
    """
    from spike.exceptions import SpikeError

    empty = np.flatnonzero(np.asarray(result.sources["n_exposures"]) == 0)
    if empty.size == 0:
        return
    ids = [_as_str(result.sources["id"][i]) for i in empty]
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    why = ("every exposure covering it has NaN data or data-quality flags that exclude "
           "its pixels (e.g. SCI all NaN, or DQ all DO_NOT_USE)")
    if empty.size == len(result.sources):
        names = ", ".join(_as_str(f) for f in result.exposures["filename"][:10])
        msg = (f"No exposure pixel with weight reaches any source ({shown}): {why}; "
               f"exposures: {names}")
        raise SpikeError(msg)
    log.warning("%d source(s) get no weight from any exposure, so their drizzled PSF is "
                "empty (psf_sum 0): %s; %s", empty.size, shown, why)


def _exposure_table(adapter):
    rows = np.zeros(adapter.n_exposures, dtype=EXPOSURE_DTYPE)
    for e in range(adapter.n_exposures):
        det = adapter.detector_info(e)
        rows[e] = (det.filename, det.instrument, det.detector, det.filter, det.pupil or "")
    return rows


def _as_str(value):
    return value.decode() if isinstance(value, bytes) else str(value)


def merge_products(parts):
    """Concatenate `~spike.datamodels.DrizzledPSFModel` s of the same run along sources."""
    from spike.datamodels import DrizzledPSFModel
    from spike.datamodels._base import str_table

    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    out = DrizzledPSFModel(
        data=np.concatenate([p.data for p in parts]),
        wht=np.concatenate([p.wht for p in parts]),
        con=np.concatenate([p.con for p in parts]),
        sources=str_table(np.concatenate([np.asarray(p.sources) for p in parts])),
        exposures=str_table(np.asarray(first.exposures)),
        contributions=np.concatenate([p.contributions for p in parts]),
    )
    out._instance["meta"] = copy.deepcopy(first._instance["meta"])
    # each part lists the exposures whose models it prepared: keep every exposure's
    exposures = [p._instance["meta"].get("psf", {}).get("exposures") or [] for p in parts]
    if any(exposures):
        n = max(len(e) for e in exposures)
        out.meta.psf.exposures = [
            next((e[i] for e in exposures if i < len(e) and e[i]), {}) for i in range(n)]
    return out
