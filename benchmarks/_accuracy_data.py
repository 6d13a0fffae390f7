"""Data sets of the accuracy benchmark: science mosaics with real or independently drawn stars.

Each builder writes its inputs and the science mosaic into a work directory (reused when
already there) and returns a `Dataset`: what `DrizzlePSFStep` needs (input, reference
mosaic), the mosaic's pixels and weights for scoring, and a pixel -> sky function.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BUILDERS", "Dataset"]

#: Whole-pixel dithers of the real ACS/HRC exposure. Sub-pixel copies are made by spline
#: interpolation, which broadens the stars by 2-4 % in FWHM (FIELD-NOTES): no physical
#: model could match those stars, so the accuracy benchmark dithers by whole pixels.
HRC_OFFSETS = ((0.0, 0.0), (3.0, 2.0), (-2.0, 3.0), (4.0, -2.0))


@dataclass
class Dataset:
    """A science mosaic to score drizzled PSFs against.

    Attributes
    ----------
    name : str
        Short label (``acs_hrc``, ``wfpc2_pc1``...).
    description : str
        What it is, for the printed table.
    input : str
        Exposures as `DrizzlePSFStep` takes them (association or file).
    mosaic : str
        The science mosaic (reference_mosaic).
    data, weight : numpy.ndarray
        The mosaic's science and weight arrays.
    to_world : callable
        ``(x, y) -> (ra, dec)`` in degrees for 0-based mosaic pixels.
    select : callable or None
        ``(x, y) -> bool array``: which stars belong to this data set (e.g. one chip).
    real : bool
        True for real stars, False for simulated ones (drawn with `truth`).
    truth : str
        How the stars were made.
    saturated : numpy.ndarray or None
        Boolean mask of mosaic pixels that are saturated (or above 60 % of saturation) in
        any exposure: stars near them are not scored.
    refine : callable or None
        ``(x, y) -> (x, y)``: star positions measured independently of the mosaic's
        resampling (on an exposure at its native sampling), where the PSFs are placed.
        Centroids measured on the mosaic itself carry the drizzle's pixel-phase bias
        (0.05-0.2 px for undersampled HST data dithered by whole pixels).
    extra : dict
        Anything else (pixel scale...).
    """

    name: str
    description: str
    input: str
    mosaic: str
    data: np.ndarray
    weight: np.ndarray
    to_world: Any
    select: Any = None
    saturated: Any = None
    refine: Any = None
    real: bool = True
    truth: str = "real stars"
    extra: dict = field(default_factory=dict)


def _fits_mosaic(path):
    from astropy.io import fits
    from astropy.wcs import WCS

    with fits.open(path) as hdul:
        data = hdul["SCI"].data.astype(float)
        weight = hdul["WHT"].data.astype(float)
        wcs = WCS(hdul["SCI"].header)
    return data, weight, wcs.pixel_to_world_values


def _saturated_in_mosaic(files, mosaic_wcs, shape, *, bits, level):
    """Mosaic pixels onto which a saturated exposure pixel falls (DQ ``bits`` set, or a
    value at or above ``level`` = 60 % of the saturation level, in the exposure's units)."""
    from astropy.io import fits
    from astropy.wcs import WCS
    from scipy import ndimage

    out = np.zeros(shape, dtype=bool)
    for path in files:
        with fits.open(path) as hdul:
            for ext in [h for h in hdul if h.name == "SCI"]:
                ver = ext.ver
                sci = ext.data
                dq = hdul["DQ", ver].data if ("DQ", ver) in hdul else np.zeros_like(sci, int)
                ys, xs = np.nonzero(((dq & bits) != 0) | (sci >= level))
                if not len(xs):
                    continue
                wcs = WCS(ext.header, hdul)
                mx, my = mosaic_wcs.world_to_pixel_values(*wcs.pixel_to_world_values(xs, ys))
                mx, my = np.rint(mx).astype(int), np.rint(my).astype(int)
                ok = (mx >= 0) & (my >= 0) & (mx < shape[1]) & (my < shape[0])
                out[my[ok], mx[ok]] = True
    return ndimage.binary_dilation(out, iterations=2)


def _exposure_centroids(flt, mosaic_wcs):
    """``refine`` for HST: 2-D Gaussian centroids on the exposure ``flt`` (9x9 px, local
    background), mapped to mosaic pixels; positions on no chip are kept."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from spike.accuracy import profile

    with fits.open(flt) as hdul:
        chips = [(hdul[i].data.astype(float), WCS(hdul[i].header, hdul))
                 for i in range(len(hdul)) if hdul[i].name == "SCI"]

    def refine(x, y):
        x, y = np.array(x, float), np.array(y, float)
        ra, dec = mosaic_wcs.pixel_to_world_values(x, y)
        for sci, wcs in chips:
            cx, cy = wcs.world_to_pixel_values(ra, dec)
            ny, nx = sci.shape
            for i in np.nonzero((cx > 20) & (cx < nx - 21) & (cy > 20) & (cy < ny - 21))[0]:
                xi, yi = int(round(cx[i])), int(round(cy[i]))
                cut = sci[yi - 20 : yi + 21, xi - 20 : xi + 21]
                m = profile(cut, ~np.isfinite(cut), cx[i] - xi + 20, cy[i] - yi + 20,
                            background=(10.0, 15.0), norm_radius=6.0, radii=(2.0,))
                fx, fy = m["x"] + xi - 20, m["y"] + yi - 20
                x[i], y[i] = mosaic_wcs.world_to_pixel_values(*wcs.pixel_to_world_values(fx, fy))
        return x, y
    return refine


def acs_hrc(workdir):
    """Four whole-pixel dithers of the real ACS/HRC F606W 47 Tuc exposure, AstroDrizzle
    (0.025"/px, pixfrac 0.8, every science step on)."""
    from spike.datasets.hst import make_acs_hrc_dithers, run_astrodrizzle

    root = Path(workdir) / "acs_hrc"
    drz = root / "sci" / "hrc_acc_drz.fits"
    asn = root / "flt" / "j8bt06d10_asn.fits"
    if not drz.is_file():
        dithers = make_acs_hrc_dithers(root / "flt", offsets=HRC_OFFSETS, seed=3)
        asn = dithers.asn
        drz = run_astrodrizzle(dithers.asn, "hrc_acc", workdir=root / "sci",
                               final_pixfrac=0.8, final_scale=0.025)
    data, weight, to_world = _fits_mosaic(drz)
    from astropy.io import fits
    from astropy.wcs import WCS

    # ACS/HRC full well ~155 000 e- (ACS Instrument Handbook); DQ 256 | 2048 saturation
    saturated = _saturated_in_mosaic(sorted((root / "flt").glob("*_flt.fits")),
                                     WCS(fits.getheader(drz, "SCI")), data.shape,
                                     bits=256 | 2048, level=0.6 * 155000.0)
    return [Dataset("acs_hrc", "ACS/HRC F606W, 4 dithers, AstroDrizzle 0.025\"/px pixfrac 0.8",
                    str(asn), str(drz), data, weight, to_world, saturated=saturated,
                    refine=_exposure_centroids(sorted((root / "flt").glob("*_flt.fits"))[0],
                                               WCS(fits.getheader(drz, "SCI"))))]


def wfpc2(workdir):
    """The real WFPC2 F555W omega Cen exposure (one, four chips), AstroDrizzle at the PC1
    scale 0.0455"/px; scored on PC1 and on WF3."""
    from astropy.io import fits
    from astropy.wcs import WCS

    from spike.datasets.hst import hst_example_path, prepare_wfpc2, run_astrodrizzle

    root = Path(workdir) / "wfpc2"
    flt = root / "flt" / "u40x010hm_flt.fits"
    drw = root / "sci" / "wfpc2_acc_drw.fits"
    if not drw.is_file():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no _c1f ships: DQ = 0
            flt = prepare_wfpc2(hst_example_path("wfpc2_c0f"), root / "flt")
        drw = run_astrodrizzle([flt], "wfpc2_acc", workdir=root / "sci", final_scale=0.0455)
    data, weight, to_world = _fits_mosaic(drw)
    with fits.open(flt) as hdul:
        chips = {hdul[i].header.get("DETECTOR"): (WCS(hdul[i].header, hdul), hdul[i].data.shape)
                 for i in range(len(hdul)) if hdul[i].name == "SCI"}

    def on_chip(chip, margin=30):
        chip_wcs, (ny, nx) = chips[chip]

        def select(x, y):
            cx, cy = chip_wcs.world_to_pixel_values(*to_world(x, y))
            return ((cx > margin) & (cx < nx - 1 - margin) & (cy > margin)
                    & (cy < ny - 1 - margin))
        return select

    # WFPC2's A/D converter saturates at 4095 DN; no DQ file ships with the example
    saturated = _saturated_in_mosaic([flt], WCS(fits.getheader(drw, "SCI")), data.shape,
                                     bits=0, level=0.6 * 4095.0)
    common = {"input": str(flt), "mosaic": str(drw), "data": data, "weight": weight,
              "to_world": to_world, "saturated": saturated,
              "refine": _exposure_centroids(flt, WCS(fits.getheader(drw, "SCI")))}
    return [Dataset("wfpc2_pc1", "WFPC2 F555W PC1, 1 exposure, AstroDrizzle 0.0455\"/px",
                    select=on_chip(1), **common),
            Dataset("wfpc2_wf3", "WFPC2 F555W WF3, 1 exposure, AstroDrizzle 0.0455\"/px",
                    select=on_chip(3), **common)]


#: Simulated data sets: a cut-out of ``SIM_SHAPE`` pixels, two visits (the second rolled by
#: 20 deg) of four sub-pixel dithers, stars on a square grid ``SIM_SPACING`` pixels apart
#: (isolated for the 12 px normalisation and 14-19 px background annulus of the scoring)
#: within ``SIM_RADIUS`` pixels of the centre (25 px from the edges of every exposure).
#: Stars are drawn in ``SIM_STAMP`` px stamps, wider than the 19 px background annulus: with
#: the factories' default 25 px, a star lacks the wings the scored PSF has there, which biases
#: every EE ratio by 1-1.5 % (measured with stars drawn by the scored model itself; at 41 px
#: such stars score within 0.2 %).
SIM_SHAPE, SIM_SPACING, SIM_RADIUS, SIM_STAMP = (384, 384), 45.0, 155.0, 41


def _grid_stars(ra, dec, *, scale, fluxes, seed):
    """Stars on a square grid (east, north) about ``(ra, dec)``, log-uniform ``fluxes`` (Jy)."""
    from astropy import units as u
    from astropy.coordinates import SkyCoord
    from astropy.table import Table

    steps = np.arange(-4, 5) * SIM_SPACING
    east, north = (a.ravel() for a in np.meshgrid(steps, steps))
    keep = np.hypot(east, north) <= SIM_RADIUS
    east, north = east[keep] + 0.37, north[keep] - 0.21  # off the pixel grid of the centre
    sky = SkyCoord(ra, dec, unit="deg").spherical_offsets_by(east * scale * u.arcsec,
                                                             north * scale * u.arcsec)
    rng = np.random.default_rng(seed)
    flux = np.exp(rng.uniform(np.log(fluxes[0]), np.log(fluxes[1]), keep.sum()))
    return Table({"star": np.arange(keep.sum()), "ra": sky.ra.deg, "dec": sky.dec.deg,
                  "flux": flux})


def _snap_to_truth(wcs, stars, *, max_distance=1.5):
    """``refine`` for simulations: the true mosaic position of the nearest simulated star
    (within ``max_distance`` mosaic px; farther positions are kept as measured)."""
    tx, ty = (np.asarray(v, float) for v in wcs.world_to_pixel_values(
        np.asarray(stars["ra"], float), np.asarray(stars["dec"], float)))

    def refine(x, y):
        x, y = np.array(x, float), np.array(y, float)
        for i in range(x.size):
            d = np.hypot(tx - x[i], ty - y[i])
            j = int(np.argmin(d))
            if d[j] <= max_distance:
                x[i], y[i] = tx[j], ty[j]
        return x, y
    return refine


def nircam(workdir):
    """Simulated NIRCam F200W (NRCA1, 384 x 384 px): 8 exposures whose stars are drawn with
    the independent poppy truth PSF (`spike.datasets.truth_psf.JwstTruthPSFMethod`);
    science mosaic by jwst's own ``ResampleStep`` (native scale, pixfrac 1)."""
    from astropy.table import Table

    from spike.datasets import simulate_jwst_cal_exposures, write_jwst_association
    from spike.datasets.truth_psf import JwstTruthPSFMethod

    root = Path(workdir) / "nircam"
    asn, mosaic = root / "nircam_acc_asn.json", root / "nircam_acc_i2d.fits"
    truth = JwstTruthPSFMethod()
    if not mosaic.is_file():
        from jwst.resample import ResampleStep

        # 0.4-3 uJy: S/N 150-500 within 4 px, peaks below 60 % of NIRCam's full well
        stars = _grid_stars(53.16, -27.79, scale=0.0311, fluxes=(0.4e-6, 3e-6), seed=11)
        sim = simulate_jwst_cal_exposures(shape=SIM_SHAPE, stars=stars, psf_method=truth,
                                          psf_size=SIM_STAMP, seed=11)
        asn = write_jwst_association(sim.models, root, product_name="nircam_acc")
        stars.write(root / "truth_stars.ecsv", overwrite=True)
        ResampleStep().run(str(asn)).save(mosaic)
    from stdatamodels.jwst.datamodels import ImageModel

    with ImageModel(str(mosaic)) as model:
        data, weight = np.asarray(model.data, float), np.asarray(model.wht, float)
        wcs = model.meta.wcs
    stars = Table.read(root / "truth_stars.ecsv")
    return [Dataset("nircam", "simulated NIRCam F200W NRCA1, 8 exposures (2 rolls), jwst "
                    "resample", str(asn), str(mosaic), data, weight, wcs.pixel_to_world_values,
                    refine=_snap_to_truth(wcs, stars), real=False,
                    truth=f"stars drawn with {truth.summary()}")]


def roman(workdir):
    """Simulated Roman WFI01 F158 (384 x 384 px cut-out): 8 exposures whose stars are drawn
    with GalSim's Roman model plus extra aberrations, jitter, charge diffusion and IPC
    (`spike.datasets.truth_psf.RomanTruthPSFMethod`); science mosaic by romancal's own
    ``ResampleStep`` (no sky cells)."""
    from astropy.table import Table

    from spike.datasets import simulate_roman_cal_exposures, write_roman_association
    from spike.datasets.truth_psf import RomanTruthPSFMethod

    root = Path(workdir) / "roman"
    asn, mosaic = root / "roman_acc_asn.json", root / "roman_acc_coadd.asdf"
    truth = RomanTruthPSFMethod()
    if not mosaic.is_file():
        from romancal.resample import ResampleStep

        # 20-150 uJy: S/N 150-600 within 4 px, peaks below 60 % of the H4RG full well
        stars = _grid_stars(270.0, 66.0, scale=0.11, fluxes=(20e-6, 150e-6), seed=12)
        sim = simulate_roman_cal_exposures(shape=SIM_SHAPE, stars=stars, psf_method=truth,
                                           psf_size=SIM_STAMP, seed=12)
        asn = write_roman_association(sim.models, root, product_name="roman_acc",
                                      target="None")
        stars.write(root / "truth_stars.ecsv", overwrite=True)
        ResampleStep(resample_on_skycell=False).run(str(asn)).save(mosaic)
    from roman_datamodels import datamodels as rdm

    with rdm.open(mosaic) as model:
        data, weight = np.asarray(model.data, float), np.asarray(model.weight, float)
        wcs = model.meta.wcs
    stars = Table.read(root / "truth_stars.ecsv")
    return [Dataset("roman", "simulated Roman WFI01 F158, 8 exposures (2 rolls), romancal "
                    "resample", str(asn), str(mosaic), data, weight, wcs.pixel_to_world_values,
                    refine=_snap_to_truth(wcs, stars), real=False,
                    truth=f"stars drawn with {truth.summary()}")]


BUILDERS = {"acs_hrc": acs_hrc, "wfpc2": wfpc2, "nircam": nircam, "roman": roman}


def save_stars(path, table):
    """Write a star table (ECSV) for reuse."""
    table.write(path, overwrite=True)


def describe(dataset):
    """One JSON line describing a data set (for logs)."""
    return json.dumps({"name": dataset.name, "input": dataset.input, "mosaic": dataset.mosaic,
                       "truth": dataset.truth})
