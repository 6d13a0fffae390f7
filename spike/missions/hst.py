"""HST adapter: ACS, WFC3 and WFPC2 exposures, PSFs drizzled as AstroDrizzle's final drizzle.

Every chip of every exposure is one "exposure" of the adapter (`HSTAdapter.n_exposures`
counts chips), so a source is modelled on the chip that holds it. The output grid is the
science product's (``reference_mosaic``: a ``_drz``/``_drc``/``_drw``), a reference image
(``output_wcs``) or the grid AstroDrizzle computes from the chips (see
`spike.missions._hst_grid`).

Two engines drizzle the PSFs:

* ``"drizzle"`` (default): stamps drizzled with the ``drizzle`` package using AstroDrizzle's
  conventions and its own pixel mapping (`spike.stamps.hst_drizzle`);
* ``"astrodrizzle"``: AstroDrizzle itself on full-frame PSF copies of the exposures, in a
  temporary working directory (`spike.missions._hst_astrodrizzle`); slow, for checks.

Weights and holes: the science run's final masks (``<root>_sci<N>_final_mask.fits``, kept by
AstroDrizzle with ``clean=False``, listed in the drz as ``D###MASK``) are the weights when
found beside the ``reference_mosaic`` (or in ``mask_dir``); otherwise the weights are rebuilt
from the exposures' DQ (processed by the science run: cosmic rays flagged 4096) with
``good_bits`` as ``final_bits`` and ``final_wht_type``.

PSF units: the drizzled PSF is the drz image of a source of flux 1 in the drz's units. Stamps
hold the PSF times ``EXPTIME`` when AstroDrizzle reads the chip as counts (``_flt``
electrons), as is when it reads a rate, times drizzlepac's chip gain over the gain of the last
chip drizzled (WFPC2: its final drizzle multiplies each chip by its gain and divides the
product by the last chip's). The sum is about 1 times the flux factor drizzlepac applies
to the science data as well (see `spike.stamps.hst_drizzle`).
"""

import logging
from functools import partial
from pathlib import Path

import numpy as np

from spike.missions._hst_files import dq_good_mask, open_hst_exposure
from spike.missions._inputs import expand_input
from spike.missions.base import MissionAdapter, check_duplicates
from spike.psf.base import DetectorInfo, ExposurePixels
from spike.stamps.geometry import shift_wcs
from spike.stamps.hst_drizzle import (
    AstroDrizzleMapping,
    HstStamp,
    chip_wcslin_pscale,
    drizzle_hst_stamps,
    output_pscale,
)

__all__ = ["HSTAdapter", "HST_ENGINES", "parse_bits"]

log = logging.getLogger(__name__)

HST_ENGINES = ("drizzle", "astrodrizzle")
#: DQ flags marking saturation: ACS/WFC3 256 (full well) and 2048 (A-to-D); WFPC2 8.
_SATURATED = {"ACS": 256 | 2048, "WFC3": 256 | 2048, "WFPC2": 8}


def parse_bits(value):
    """AstroDrizzle-style ``final_bits``: None, an int, or ``"64,32"``/``"64+32"``."""
    if value is None or str(value).strip().upper() in ("", "NONE"):
        return 0
    if isinstance(value, (int, np.integer)):
        return int(value)
    text = str(value).strip()
    if text.startswith("~"):
        msg = (f"good_bits={value!r}: HST DQ flags are given as AstroDrizzle's final_bits "
               "(an integer or a sum/list of flags such as '64,32'), not inverted")
        raise ValueError(msg)
    try:
        return sum(int(v) for v in text.replace("+", ",").split(",") if v.strip())
    except ValueError as exc:
        msg = f"good_bits={value!r} is not an integer or a list of DQ flags such as '64,32'"
        raise ValueError(msg) from exc


def _fillval(value):
    if value is None or str(value).strip().upper() in ("NAN", "INDEF", "NONE", ""):
        return None
    try:
        return float(value)
    except ValueError as exc:
        msg = f"fillval={value!r} is not a number, 'NAN' or 'INDEF'"
        raise ValueError(msg) from exc


class HSTAdapter(MissionAdapter):
    """Open HST exposures chip by chip and drizzle PSF stamps as AstroDrizzle did.

    Parameters
    ----------
    input_data : str, Path, dict or list
        An HST association table (``*_asn.fits``), a JSON association, an exposure, a
        list of exposures (or ``@list`` file), or a glob pattern. Nothing is modified.
    product_name : str, optional
        Overrides the association's product name.
    """

    mission = "hst"

    def __init__(self, input_data, *, product_name=None):
        items, asn = expand_input(input_data)
        check_duplicates(items)
        self.exposures, self.chips = [], []
        self._masks, self._mappings, self._good_bits = {}, {}, 0
        try:
            for item in items:
                if not isinstance(item, (str, Path)):
                    msg = (f"HST exposures are given as files, not {type(item).__name__} "
                           "objects")
                    raise TypeError(msg)
                exposure = open_hst_exposure(item)
                self.exposures.append(exposure)
                self.chips.extend(exposure.chips)
            self._infos = [self._make_info(i) for i in range(len(self.chips))]
            self._check_single_band()
        except Exception:
            self.close()
            raise
        self.product_name = product_name or _product_name(asn, self.exposures)
        #: drizzlepac divides a WFPC2 product by the gain of the last chip it drizzled
        self.output_gain = self.chips[-1].eff_gain

    def close(self):
        """Close the exposures and the science masks opened."""
        for exposure in getattr(self, "exposures", []):
            exposure.close()
        for hdul in getattr(self, "_masks", {}).values():
            hdul.close()
        self._masks = {}

    @property
    def n_exposures(self):
        """Number of chips over all exposures."""
        return len(self.chips)

    def detector_info(self, index):
        """Return the `~spike.psf.base.DetectorInfo` of chip ``index``."""
        return self._infos[index]

    def _make_info(self, index):
        chip = self.chips[index]
        primary = chip.exposure.primary
        from spike.missions._hst_grid import pixel_area_sr

        extra = {
            "chip": chip.chip, "extver": chip.extver, "chip_origin": chip.origin,
            "exposure_time": chip.exptime, "units": chip.units,
            "pixelarea_steradians": pixel_area_sr(chip.wcs, chip.shape),
            "rootname": chip.exposure.rootname,
        }
        for key in ("PA_V3", "EXPSTART", "IDCSCALE"):
            value = primary.get(key)
            if value is not None:
                extra[key.lower()] = float(value)
        if chip.idcscale is not None:
            extra["idcscale"] = chip.idcscale
        return DetectorInfo(
            mission="hst", instrument=chip.instrument, detector=chip.detector,
            filter=chip.filter, pupil=None, wcs=chip.wcs, shape=chip.shape,
            filename=chip.exposure.path.name, extra=extra,
            pixels=partial(self._pixels, index),
        )

    def _pixels(self, index):
        chip = self.chips[index]
        data = np.asarray(chip.array("sci"), dtype=np.float32)
        dq = chip.array("dq")
        good = np.isfinite(data)
        saturated = None
        if dq is not None:
            dq = np.asarray(dq)
            good &= dq_good_mask(dq, self._good_bits)
            saturated = (dq.astype(np.int64) & _SATURATED.get(chip.instrument, 0)) != 0
        err = chip.array("err")
        return ExposurePixels(data=data, good=good, saturated=saturated,
                              err=None if err is None else np.asarray(err))

    # ------------------------------------------------------------------ grid

    def output_grid(self, *, reference_mosaic=None, output_wcs=None, output_shape=None,
                    pixel_scale_ratio=1.0, pixel_scale=None, rotation=None, crpix=None,
                    crval=None, pixfrac=None, kernel=None, fillval=None, good_bits=None,
                    pixmap_stepsize=None, final_wht_type=None, engine=None, mask_dir=None,
                    explicit=(), **ignored):
        """Return the science drizzle's grid and final-drizzle parameters.

        Parameters
        ----------
        reference_mosaic : str or Path, optional
            The science ``_drz``/``_drc``/``_drw``: its grid, its recorded kernel, pixfrac,
            fill value and units, and its final masks are reused.
        output_wcs : str or Path, optional
            A FITS image whose WCS and shape define the grid (``final_refimage``).
        output_shape, pixel_scale, rotation, crpix, crval : optional
            ``final_outnx/outny``, ``final_scale``, ``final_rot``, ``final_crpix1/2``
            (here 0-based), ``final_ra/dec``.
        pixel_scale_ratio : float, optional
            Scale of the computed grid relative to AstroDrizzle's default (when
            ``pixel_scale`` is not given).
        pixfrac, kernel, fillval, good_bits, pixmap_stepsize, final_wht_type : optional
            ``final_pixfrac``, ``final_kernel``, ``final_fillval``, ``final_bits``,
            ``stepsize`` and ``final_wht_type`` (AstroDrizzle's defaults when None).
        engine : {"drizzle", "astrodrizzle"}, optional
            How the PSFs are drizzled (default ``"drizzle"``).
        mask_dir : str or Path, optional
            Directory of the science run's ``*_final_mask.fits`` (default: beside
            ``reference_mosaic``).
        explicit : tuple of str, optional
            Parameters the user set: replacing one by a value the drz recorded is a WARNING.
        **ignored
            Parameters of other missions (``weight_type``, ``pixmap_order``).
        """
        from spike.missions import _hst_grid

        engine = engine or "drizzle"
        if engine not in HST_ENGINES:
            msg = f"engine must be one of {HST_ENGINES}, got {engine!r}"
            raise ValueError(msg)
        wht_type = str(final_wht_type or "EXP").upper()
        if wht_type not in ("EXP", "ERR"):
            msg = (f"final_wht_type={final_wht_type!r}: spike reproduces AstroDrizzle's EXP "
                   "and ERR weighting (IVM needs inverse-variance files)")
            raise ValueError(msg)
        pars = dict(_hst_grid.HST_DEFAULTS)
        given = {"pixfrac": pixfrac, "kernel": kernel, "pixmap_stepsize": pixmap_stepsize}
        pars.update({k: v for k, v in given.items() if v is not None})
        pars.update(fillval=_fillval(fillval), good_bits=parse_bits(good_bits),
                    wht_type=wht_type, weight_type=wht_type, engine=engine)
        self._good_bits = pars["good_bits"]
        final = _hst_grid.final_wcs_pars(output_shape=output_shape, pixel_scale=pixel_scale,
                                         rotation=rotation, crpix=crpix, crval=crval)
        det = self.chips[0]
        if reference_mosaic is not None:
            if final:
                log.warning("reference_mosaic given: ignoring %s (the drz's grid is used)",
                            ", ".join(sorted(final)))
            grid = _hst_grid.grid_from_drz(reference_mosaic, pars, instrument=det.instrument,
                                           band=det.filter, chips=self.chips,
                                           mask_dir=mask_dir, explicit=explicit)
        elif output_wcs:
            grid = _hst_grid.grid_from_refimage(output_wcs, pars, final)
        else:
            grid = _hst_grid.grid_from_chips(self.chips, pars, final,
                                             pixel_scale_ratio=pixel_scale_ratio)
        self._report_masks(grid, mask_dir)
        self._mappings = {}
        return grid

    def _report_masks(self, grid, mask_dir):
        masks = grid.pars.get("final_masks") or {}
        keys = [(c.exposure.rootname, c.extver) for c in self.chips]
        found = [k for k in keys if masks.get(k, (None,))[0] is not None]
        if found and len(found) == len(keys):
            log.info("Weights: the science run's final masks (%d chips)", len(found))
            return
        where = mask_dir or (f"beside {grid.reference}" if grid.reference else None)
        missing = [f"{r}[sci,{e}]" for r, e in keys if (r, e) not in found]
        log.warning(
            "No science final mask for %s%s: their weights are rebuilt from DQ "
            "(final_bits=%d, final_wht_type=%s); static and cosmic-ray masks reach the PSF "
            "only if the science run flagged them in these files' DQ",
            ", ".join(missing), f" ({where})" if where else "", grid.pars["good_bits"],
            grid.pars["wht_type"])

    # ------------------------------------------------------------------ drizzling

    def resample_stamps(self, stamps, grid, box):
        """Drizzle ``stamps`` onto ``box`` of ``grid`` as AstroDrizzle's final drizzle.

        See `MissionAdapter.resample_stamps`.
        """
        if grid.pars.get("engine") == "astrodrizzle":
            from spike.missions._hst_astrodrizzle import astrodrizzle_stamps

            return astrodrizzle_stamps(self, stamps, grid, box)
        hst_stamps = [self.hst_stamp(s, grid, box) for s in stamps]
        pars = grid.pars
        return drizzle_hst_stamps(
            hst_stamps, shift_wcs(grid.wcs, box), pixfrac=float(pars["pixfrac"]),
            kernel=str(pars["kernel"]), fillval=pars["fillval"], wht_type=pars["wht_type"],
            bits=pars["good_bits"], out_pscale=output_pscale(grid.wcs), out_shape=box.shape,
        )

    def hst_stamp(self, stamp, grid, box):
        """Return the `~spike.stamps.hst_drizzle.HstStamp` of a `Stamp` for ``box``."""
        chip = self.chips[stamp.exposure]
        scale = self.flux_scale(stamp.exposure) * chip.eff_gain / self.output_gain
        weight, wt_scl = self.final_mask(stamp.exposure, grid, stamp.box.slices)
        return HstStamp(
            data=np.asarray(stamp.data, dtype=np.float64) * scale, wcs=None,
            exptime=chip.exptime, units=chip.units,
            wcslin_pscale=chip_wcslin_pscale(chip.wcs, idcscale=chip.idcscale,
                                             instrument=chip.instrument),
            dq=chip.array("dq", stamp.box.slices), err=chip.array("err", stamp.box.slices),
            weight=weight, wt_scl=wt_scl,
            pixmap=self._mapping(stamp.exposure, grid).pixmap(stamp.box, box),
        )

    def flux_scale(self, index):
        """Chip-unit value of a unit-per-second PSF: EXPTIME for counts, 1 for rates."""
        chip = self.chips[index]
        return chip.exptime if chip.units == "counts" else 1.0

    def final_mask(self, index, grid, slices=None):
        """The science run's final mask of chip ``index`` (or a cutout) and its weight scale.

        Returns ``(None, 1.0)`` when there is none (weights then come from DQ).
        """
        chip = self.chips[index]
        path, wt_scl = (grid.pars.get("final_masks") or {}).get(
            (chip.exposure.rootname, chip.extver), (None, 1.0))
        if path is None:
            return None, 1.0
        if path not in self._masks:
            from astropy.io import fits

            self._masks[path] = fits.open(path, memmap=True)
        data = self._masks[path][0].data
        if data is None or data.shape != tuple(chip.shape):
            msg = (f"final mask {path} does not match {chip.label} "
                   f"(shape {None if data is None else data.shape} vs {chip.shape})")
            raise ValueError(msg)
        return (data if slices is None else np.asarray(data[slices])), wt_scl

    def _mapping(self, index, grid):
        if index not in self._mappings:
            self._mappings[index] = AstroDrizzleMapping(
                self.chips[index].wcs, grid.wcs, stepsize=int(grid.pars["pixmap_stepsize"]))
        return self._mappings[index]


def _product_name(asn, exposures):
    if isinstance(asn, dict):
        try:
            name = asn["products"][0]["name"]
        except (KeyError, IndexError, TypeError):
            name = None
        if name:
            return str(name)
    return exposures[0].rootname
