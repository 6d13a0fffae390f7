"""HST stamps drizzled with `spike.stamps.hst_drizzle` equal full-frame AstroDrizzle.

Three dithered copies of the real ACS/HRC exposure become PSF exposures (SCI = Gaussian
stars at three sky positions, zero elsewhere; DQ and ERR kept, plus a few flagged pixels);
AstroDrizzle drizzles them (static mask, sky, separate drizzle, median, blot and driz_cr
off; 0.03"/px, rot 0, 1000x1000 grid, ``final_bits=64``) and the same PSFs are drizzled
as stamps onto padded 25x25 cutouts of the drz grid, trimmed and compared where the drz
weight is > 0.

Measured (max |diff| / peak where wht > 0, max |wht diff| / max wht), 3 stars:

- linear WCS, square, pixfrac 1.0, EXP: 2.1e-7, 1.3e-7 (also checked with the run's own
  ``*_final_mask.fits`` weight maps given as `HstStamp.weight`);
- linear WCS, square, pixfrac 0.5, ERR: 2.0e-7, 1.5e-7;
- linear WCS, gaussian, pixfrac 0.8, EXP: 2.4e-7, 1.8e-7;
- 3rd-order SIP, square, pixfrac 1.0, EXP, default ``stepsize=10``, stamps mapped with
  AstroDrizzle's own interpolated mapping (`AstroDrizzleMapping`): 1.7e-7, 0 (with the
  exact pixmap instead: 3.4e-5, 1.04e-4);
- same SIP, pixfrac 0.5, ``stepsize=1`` (exact mapping in drizzlepac too), stamps with
  the exact pixmap of their sliced WCS: 2.6e-7, 0;
- SIP plus NPOL lookup tables (``WCSDVARR``, up to ~0.2 px), ``stepsize=10``,
  `AstroDrizzleMapping`: 2.7e-7, 0.
"""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, Sip

from spike.datasets.hst import make_acs_hrc_dithers, run_astrodrizzle
from spike.stamps.geometry import OUTPUT_PAD, input_box, output_box, shift_wcs
from spike.stamps.hst_drizzle import (
    AstroDrizzleMapping,
    HstStamp,
    chip_wcslin_pscale,
    drizzle_hst_stamps,
    drz_grid,
    final_weight_map,
    output_pscale,
)

OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25))
#: Star positions on the first copy (0-based px); the others see them at the same sky.
STARS_XY = ((300.2, 300.7), (600.3, 500.7), (800.6, 200.2))
SIGMA, FLUX = 1.5, 1000.0  # px, electrons
SIZE = 25
TOL = 1e-4
OPTIONS = {
    "skysub": False, "static": False, "driz_separate": False, "median": False,
    "blot": False, "driz_cr": False,
}
GRID = {"final_scale": 0.03, "final_rot": 0.0, "final_outnx": 1000, "final_outny": 1000}
BITS = 64
#: 3rd-order SIP distortion given to every copy (shifts up to ~1 px at the chip corners).
SIP = {
    "A_ORDER": 3, "B_ORDER": 3,
    "A_2_0": 2e-6, "A_1_1": -1e-6, "A_0_2": 1.5e-6,
    "A_3_0": 3e-9, "A_2_1": -2e-9, "A_1_2": 1e-9, "A_0_3": 2e-9,
    "B_2_0": -1e-6, "B_1_1": 2e-6, "B_0_2": 1e-6,
    "B_3_0": 1e-9, "B_2_1": 2e-9, "B_1_2": -3e-9, "B_0_3": 1e-9,
}


def _add_npol(hdul):
    """NPOL lookup tables (65x65, every 16 px) shifting pixels by up to ~0.2 px."""
    header = hdul["SCI", 1].header
    n = 65
    yy, xx = np.mgrid[0:n, 0:n] / (n - 1)
    for axis, amp in ((1, 0.06), (2, -0.05)):
        table = amp * np.sin(2.3 * np.pi * xx + axis) * np.cos(1.7 * np.pi * yy)
        ext = fits.ImageHDU(table.astype(np.float32), name="WCSDVARR", ver=axis)
        for k in (1, 2):
            ext.header[f"CRPIX{k}"], ext.header[f"CRVAL{k}"], ext.header[f"CDELT{k}"] = 1, 1, 16
        hdul.append(ext)
        header[f"CPDIS{axis}"] = "Lookup"
        header[f"CPERR{axis}"] = float(np.abs(table).max())
        header[f"DP{axis}.EXTVER"] = float(axis)
        header[f"DP{axis}.NAXES"] = 2.0
        header[f"DP{axis}.AXIS.1"] = 1.0
        header[f"DP{axis}.AXIS.2"] = 2.0


@pytest.fixture(scope="module")
def dithers(tmp_path_factory):
    path = tmp_path_factory.mktemp("hrc")
    return make_acs_hrc_dithers(
        path / "flt", offsets=OFFSETS, cosmic_rays=False, clean_cosmic_rays=False
    )


def _chip_wcs(hdul):
    wcs = WCS(hdul["SCI", 1].header, hdul)
    wcs.pixel_shape = hdul["SCI", 1].data.shape[::-1]
    return wcs


def _psf_exposures(dithers, directory, *, sip):
    """PSF copies of the dithers: Gaussian stars, DQ/ERR kept, a few extra DQ flags."""
    directory.mkdir()
    with fits.open(dithers.files[0]) as first:
        sky = _chip_wcs(first).pixel_to_world_values(*np.transpose(STARS_XY))
    files = []
    for index, path in enumerate(dithers.files):
        with fits.open(path) as hdul:
            hdul = fits.HDUList([hdu.copy() for hdu in hdul])
        if sip:
            header = hdul["SCI", 1].header
            header["CTYPE1"], header["CTYPE2"] = "RA---TAN-SIP", "DEC--TAN-SIP"
            header.update(SIP)
        if sip == "npol":
            _add_npol(hdul)
        x, y = _chip_wcs(hdul).world_to_pixel_values(*sky)
        shape = hdul["SCI", 1].data.shape
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
        image = np.zeros(shape)
        for xs, ys in zip(x, y, strict=True):
            image += np.exp(-((xx - xs) ** 2 + (yy - ys) ** 2) / (2 * SIGMA**2))
        hdul["SCI", 1].data = (FLUX / (2 * np.pi * SIGMA**2) * image).astype(np.float32)
        dq = hdul["DQ", 1].data
        ix, iy = np.rint(x).astype(int), np.rint(y).astype(int)
        dq[iy - 2, ix + 2] |= BITS  # ignored (final_bits)
        if index == 0:
            dq[iy + 1, ix - 1] |= 16  # hot pixel in one exposure
        dq[iy[2] + 2 : iy[2] + 5, ix[2] + 2 : ix[2] + 5] |= 4  # bad in every exposure
        out = directory / path.name
        hdul.writeto(out)
        files.append(out)
    return files, sky


@pytest.fixture(scope="module")
def psf_sets(dithers, tmp_path_factory):
    root = tmp_path_factory.mktemp("psf")
    return {sip: _psf_exposures(dithers, root / f"dist{sip}", sip=sip)
            for sip in (False, True, "npol")}


def _stamps(files, grid, pbox, *, weights_dir=None, stepsize=None):
    out_wcs = shift_wcs(grid.wcs, pbox)
    stamps = []
    for path in files:
        with fits.open(path) as hdul:
            chip = _chip_wcs(hdul)
            box = input_box(pbox, grid.wcs, chip, chip.array_shape)
            header, primary = hdul["SCI", 1].header, hdul[0].header
            weight = None
            if weights_dir is not None:
                mask = weights_dir / f"{primary['ROOTNAME'].strip().lower()}_sci1_final_mask.fits"
                weight = fits.getdata(mask)[box.slices]
            pixmap = None
            if stepsize is not None:  # AstroDrizzle's own (interpolated) mapping
                pixmap = AstroDrizzleMapping(chip, grid.wcs, stepsize=stepsize).pixmap(box, pbox)
            stamps.append(HstStamp(
                data=hdul["SCI", 1].data[box.slices], wcs=shift_wcs(chip, box), pixmap=pixmap,
                exptime=float(primary["EXPTIME"]), units="counts",
                wcslin_pscale=chip_wcslin_pscale(
                    chip, idcscale=header.get("IDCSCALE"), instrument=primary["INSTRUME"]
                ),
                dq=hdul["DQ", 1].data[box.slices], err=hdul["ERR", 1].data[box.slices],
                weight=weight,
            ))
    return stamps, out_wcs


def _compare(files, sky, drz, *, wht_type, weights_dir=None, stepsize=None):
    grid = drz_grid(drz)
    full, full_wht = fits.getdata(drz, "SCI"), fits.getdata(drz, "WHT")
    trim = (slice(OUTPUT_PAD, -OUTPUT_PAD),) * 2
    worst = [0.0, 0.0]
    for ra, dec in zip(*sky, strict=True):
        box = output_box(*grid.wcs.world_to_pixel_values(ra, dec), SIZE)
        pbox = box.pad(OUTPUT_PAD)
        stamps, out_wcs = _stamps(files, grid, pbox, weights_dir=weights_dir, stepsize=stepsize)
        data, wht, ctx = drizzle_hst_stamps(
            stamps, out_wcs, pixfrac=grid.pars["pixfrac"], kernel=grid.pars["kernel"],
            fillval=grid.pars["fillval"], wht_type=wht_type, bits=BITS,
            out_pscale=grid.pscale, out_shape=pbox.shape,
        )
        assert data.shape == wht.shape == pbox.shape and ctx.shape[1:] == pbox.shape
        data, wht = data[trim], wht[trim]
        ref, ref_wht = full[box.slices], full_wht[box.slices]
        good = ref_wht > 0
        assert good.sum() > 0.9 * good.size
        np.testing.assert_array_equal(wht > 0, good)
        worst[0] = max(worst[0], np.abs(data - ref)[good].max() / ref[good].max())
        worst[1] = max(worst[1], np.abs(wht - ref_wht).max() / ref_wht.max())
    return worst


CASES = [
    pytest.param(False, "square", 1.0, "EXP", 10, None, id="linear-square-1.0-EXP"),
    pytest.param(False, "square", 0.5, "ERR", 10, None, id="linear-square-0.5-ERR"),
    pytest.param(False, "gaussian", 0.8, "EXP", 10, None, id="linear-gaussian-0.8-EXP"),
    pytest.param(True, "square", 1.0, "EXP", 10, 10, id="sip-square-1.0-EXP-mapping"),
    pytest.param(True, "square", 0.5, "EXP", 1, None, id="sip-square-0.5-EXP-stepsize1-exact"),
    pytest.param("npol", "square", 1.0, "EXP", 10, 10, id="sip-npol-square-1.0-EXP-mapping"),
]


@pytest.mark.parametrize(("sip", "kernel", "pixfrac", "wht_type", "stepsize", "mapping"), CASES)
def test_stamps_match_astrodrizzle(psf_sets, tmp_path, sip, kernel, pixfrac, wht_type, stepsize,
                                   mapping):
    files, sky = psf_sets[sip]
    drz = run_astrodrizzle(
        files, "psf", workdir=tmp_path, options=OPTIONS | {"stepsize": stepsize},
        final_kernel=kernel,
        final_pixfrac=pixfrac, final_wht_type=wht_type, final_bits=BITS, **GRID,
    )
    grid = drz_grid(drz)
    assert grid.pars["kernel"] == kernel and grid.pars["pixfrac"] == pixfrac
    assert grid.pars["units"] == "cps" and grid.pars["fillval"] is None
    assert grid.pars["exptimes"] == [60.0] * len(files) and grid.pars["texptime"] == 180.0
    assert grid.shape == (1000, 1000)
    data_diff, wht_diff = _compare(files, sky, drz, wht_type=wht_type, stepsize=mapping)
    assert data_diff <= TOL, data_diff
    assert wht_diff <= TOL, wht_diff
    if wht_type == "EXP" and not sip and kernel == "square":
        # the science run's own weight maps (clean=False) used as ready-made weights
        data_diff, wht_diff = _compare(files, sky, drz, wht_type=wht_type, weights_dir=tmp_path)
        assert data_diff <= TOL and wht_diff <= TOL, (data_diff, wht_diff)


def test_pixel_scales():
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.cd = [[-7.3605e-06, 1.8456e-06], [2.86858e-06, 6.64946e-06]]  # ACS/HRC flt
    column = np.hypot(-7.3605e-06, 2.86858e-06) * 3600
    assert chip_wcslin_pscale(wcs) == pytest.approx(column, rel=1e-12)
    assert output_pscale(wcs) == pytest.approx(column, rel=1e-12)
    sip = WCS(naxis=2)
    sip.wcs.ctype = ["RA---TAN-SIP", "DEC--TAN-SIP"]
    sip.wcs.cd = wcs.wcs.cd
    sip.sip = Sip(np.zeros((4, 4)), np.zeros((4, 4)), None, None, [0.0, 0.0])
    det = np.sqrt(abs(np.linalg.det(wcs.wcs.cd))) * 3600
    assert chip_wcslin_pscale(sip, instrument="ACS") == pytest.approx(det, rel=1e-12)
    assert chip_wcslin_pscale(sip, idcscale=0.025, instrument="ACS") == 0.025
    assert chip_wcslin_pscale(sip, instrument="DEFAULT") == pytest.approx(column, rel=1e-12)


def test_final_weight_map():
    dq = np.array([[0, 64, 16], [4, 0, 80]], dtype=np.int16)
    err = np.full(dq.shape, 2.0)
    weight, wt_scl = final_weight_map(dq, exptime=60.0, bits=64)
    np.testing.assert_array_equal(weight, [[60, 60, 0], [0, 60, 0]])
    assert wt_scl == 1.0
    mask = np.array([[1, 0, 1], [1, 1, 1]])
    weight, wt_scl = final_weight_map(
        dq, exptime=60.0, bits=64, wht_type="ERR", err=err, mask=mask, pixel_scale_ratio=1.2
    )
    np.testing.assert_allclose(weight, [[900, 0, 0], [0, 900, 0]])
    assert wt_scl == pytest.approx(1 / 1.2**4)
    weight, wt_scl = final_weight_map(dq, exptime=60.0, wht_type="IVM", ivm=err,
                                      pixel_scale_ratio=2.0)
    np.testing.assert_allclose(weight, [[2, 0, 0], [0, 2, 0]])
    assert wt_scl == pytest.approx(3600 / 16)
    with pytest.raises(ValueError, match="IVM"):
        final_weight_map(dq, exptime=1.0, wht_type="IVM")
