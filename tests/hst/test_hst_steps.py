"""`DrizzlePSFStep` on real ACS/HRC exposures drizzled by AstroDrizzle (issue: HST adapter).

Four dithered copies of the real 47 Tuc exposure (data shifted, WCS moved, fresh cosmic
rays) were drizzled by a full AstroDrizzle science run (`conftest.hrc`). PSFs are made at
stars whose positions were measured on the first copy and converted to the sky with its
WCS, independently of the science drizzle.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from spike.datamodels import DrizzledPSFModel
from spike.missions.hst import HSTAdapter
from spike.stamps.geometry import OUTPUT_PAD
from spike.steps import DrizzlePSFStep
from spike.validation import compare_with_stars
from tests.helpers import file_digests
from tests.steps.test_drizzle_psf_step import run_strun

TOL = 1e-4


@pytest.fixture(scope="module")
def psf_run(hrc):
    """The default run: engine 'drizzle', method 'optical', the science drz as reference."""
    return DrizzlePSFStep.call(str(hrc.asn), ra=list(hrc.ra), dec=list(hrc.dec),
                               reference_mosaic=str(hrc.drz), stamp_size=25)


def test_psf_lands_on_the_science_stars(psf_run, hrc):
    science = SimpleNamespace(data=fits.getdata(hrc.drz, "SCI"))
    rows = compare_with_stars(psf_run, science, box=9)
    offsets = [row["offset"] for row in rows]
    assert len(offsets) == len(hrc.ra) >= 5
    assert max(offsets) <= 0.05, offsets


def test_product_describes_the_run(psf_run, hrc):
    meta = psf_run.meta
    assert meta.mission == "hst" and meta.telescope == "HST"
    assert meta.instrument.name == "ACS" and meta.instrument.detector == "HRC"
    assert meta.instrument.filter == "F606W"
    assert meta.psf.method == "optical"
    assert meta.resample.pixfrac == 0.8 and meta.resample.kernel == "square"
    assert meta.resample.output_wcs_source == "reference_mosaic"
    assert meta.resample.fillval == "INDEF"  # the drz's D001FVAL, not the string 'None'
    assert meta.mosaic.reference_mosaic == hrc.drz.name
    # the product's gwcs is the drz WCS
    drz_wcs = WCS(fits.getheader(hrc.drz, "SCI"))
    x, y = np.array([0.0, 500.3, 1000.0]), np.array([0.0, 700.7, 1000.0])
    ra1, dec1 = meta.wcs.pixel_to_world_values(x, y)
    ra2, dec2 = drz_wcs.pixel_to_world_values(x, y)
    assert np.max(np.hypot((ra1 - ra2) * np.cos(np.radians(dec2)), dec1 - dec2)) * 3600 < 1e-6
    assert list(psf_run.contributions.sum(axis=1)) == [4] * len(hrc.ra)
    # unit flux per second in, the drz's flux scale (drizzlepac's first-CD-column factor) out
    ratio = _drizzlepac_flux_factor(hrc.files[0], hrc.drz)
    sums = psf_run.sources["psf_sum"]
    assert np.all((sums > 0.9 * ratio) & (sums <= ratio * 1.001)), (sums, ratio)


def _drizzlepac_flux_factor(flt, drz):
    """Flux in the drz of a unit flux in the flt (no SIP: first CD column lengths)."""
    def column(header):
        return np.hypot(header["CD1_1"], header["CD2_1"])

    out, inp = column(fits.getheader(drz, "SCI")), column(fits.getheader(flt, ("SCI", 1)))
    area_in = abs(np.linalg.det(WCS(fits.getheader(flt, ("SCI", 1))).pixel_scale_matrix))
    area_out = abs(np.linalg.det(WCS(fits.getheader(drz, "SCI")).pixel_scale_matrix))
    return float((out / inp) ** 2 * area_in / area_out)


def test_weights_are_the_science_weights(psf_run, hrc):
    """The science run's final masks are reused: the PSF weight is the drz WHT there."""
    wht = fits.getdata(hrc.drz, "WHT")
    for s, row in enumerate(psf_run.sources):
        n = psf_run.wht.shape[-1]
        cut = wht[row["ystart"] : row["ystart"] + n, row["xstart"] : row["xstart"] + n]
        np.testing.assert_allclose(psf_run.wht[s], cut, rtol=2e-6, atol=1e-3)


def test_inputs_unchanged(psf_run, hrc):
    assert psf_run is not None
    assert file_digests(hrc.flt_dir) == hrc.digests


@pytest.mark.slow
def test_engines_agree(hrc):
    """Stamps drizzled with the drizzle package equal AstroDrizzle's own drizzle."""
    kwargs = {"ra": list(hrc.ra[:2]), "dec": list(hrc.dec[:2]), "reference_mosaic": str(hrc.drz),
              "stamp_size": 21}
    fast = DrizzlePSFStep.call(str(hrc.asn), **kwargs)
    slow = DrizzlePSFStep.call(str(hrc.asn), engine="astrodrizzle", **kwargs)
    good = (fast.wht > 0) & (slow.wht > 0)
    np.testing.assert_array_equal(fast.wht > 0, slow.wht > 0)
    assert good.mean() > 0.9
    peak = np.nanmax(slow.data)
    assert np.abs(fast.data - slow.data)[good].max() <= TOL * peak
    assert np.abs(fast.wht - slow.wht).max() <= TOL * slow.wht.max()
    np.testing.assert_array_equal(fast.con, slow.con)
    assert slow.meta.resample.output_wcs_source == "reference_mosaic"
    assert file_digests(hrc.flt_dir) == hrc.digests


def test_without_final_masks_weights_come_from_dq(hrc, tmp_path, caplog):
    """mask_dir without the masks: a warning, and cosmic rays the science run caught (and
    only flagged in its own copies) are no longer holes in the PSF weights."""
    kwargs = {"ra": list(hrc.ra[:3]), "dec": list(hrc.dec[:3]), "stamp_size": 21}
    with_masks = DrizzlePSFStep.call(str(hrc.asn), reference_mosaic=str(hrc.drz), **kwargs)
    (tmp_path / "empty").mkdir()
    caplog.set_level("WARNING", logger="spike.missions.hst")
    no_masks = DrizzlePSFStep.call(str(hrc.asn), reference_mosaic=str(hrc.drz),
                                   mask_dir=str(tmp_path / "empty"), **kwargs)
    assert "No science final mask for j8bt06d0q[sci,1]" in caplog.text
    assert "weights are rebuilt from DQ (final_bits=0, final_wht_type=EXP)" in caplog.text
    assert np.all(no_masks.wht >= with_masks.wht - 1e-3)


def test_computed_grid_is_astrodrizzles_default(hrc):
    """Without reference_mosaic the grid is the one AstroDrizzle computed for the science."""
    drz_wcs = WCS(fits.getheader(hrc.drz, "SCI"))
    shape = fits.getdata(hrc.drz, "SCI").shape
    with HSTAdapter(str(hrc.asn)) as adapter:
        grid = adapter.output_grid()
        ref = adapter.output_grid(output_wcs=str(hrc.drz))
        custom = adapter.output_grid(pixel_scale=0.02, rotation=0.0, output_shape=(300, 200))
    for g in (grid, ref):
        assert g.shape == shape
        np.testing.assert_allclose(g.wcs.wcs.crval, drz_wcs.wcs.crval, rtol=0, atol=1e-10)
        np.testing.assert_allclose(g.wcs.wcs.crpix, drz_wcs.wcs.crpix, atol=1e-8)
        np.testing.assert_allclose(g.wcs.pixel_scale_matrix, drz_wcs.pixel_scale_matrix,
                                   rtol=1e-10, atol=0)
    assert grid.source == "computed" and ref.source == "output_wcs"
    assert custom.shape == (200, 300)
    assert custom.pixel_scale == pytest.approx(0.02, rel=1e-9)
    cd = custom.wcs.pixel_scale_matrix
    assert abs(cd[0, 1]) < 1e-15 and cd[0, 0] < 0 < cd[1, 1]  # north up, east left


@pytest.mark.slow
def test_strun_command_line(hrc, tmp_path):
    """``strun drizzle_psf hst_asn.json`` offline, with a JSON association of the flt files."""
    import json

    asn = {"asn_type": "image3", "asn_id": "a1", "products": [{
        "name": "hrc_psf_test",
        "members": [{"expname": str(p), "exptype": "science"} for p in hrc.files]}]}
    asn_path = tmp_path / "hst_asn.json"
    asn_path.write_text(json.dumps(asn))
    run_strun(["drizzle_psf", str(asn_path), f"--ra={float(hrc.ra[0])!r}", f"--dec={float(hrc.dec[0])!r}",
               f"--reference_mosaic={hrc.drz}", "--stamp_size=15", f"--output_dir={tmp_path}"],
              cwd=tmp_path, tmp_path=tmp_path)
    out = tmp_path / "hrc_psf_test_psf.asdf"
    with DrizzledPSFModel(out) as model:
        assert model.data.shape[0] == 1 and model.meta.mission == "hst"
        assert np.nanmax(model.data) > 0
    assert file_digests(hrc.flt_dir) == hrc.digests


def test_trimmed_cutout_has_no_padding_artifacts(psf_run):
    """Every output pixel with weight has a finite PSF value (no fill inside the stamp)."""
    assert OUTPUT_PAD > 0
    finite = np.isfinite(psf_run.data)
    assert np.all(finite[psf_run.wht > 0])


def test_recorded_numeric_fill_value(hrc, tmp_path):
    """A science run with ``final_fillval=0``: the PSF's empty pixels are 0, as the drz's."""
    from spike.datasets.hst import run_astrodrizzle

    quick = {"static": False, "skysub": False, "driz_separate": False, "median": False,
             "blot": False, "driz_cr": False}
    drz = run_astrodrizzle(hrc.files[:1], "fill0", workdir=tmp_path, options=quick,
                           final_fillval=0)
    with HSTAdapter([str(hrc.files[0])]) as adapter:
        grid = adapter.output_grid(reference_mosaic=str(drz), mask_dir=str(tmp_path))
    assert grid.pars["fillval"] == 0.0
    # a source near a corner of the exposure: part of its cutout gets no input
    wcs = WCS(fits.getheader(hrc.files[0], ("SCI", 1)))
    ra, dec = wcs.pixel_to_world_values(3.0, 3.0)
    result = DrizzlePSFStep.call([str(hrc.files[0])], ra=float(ra), dec=float(dec),
                                 reference_mosaic=str(drz), stamp_size=15)
    empty = result.wht[0] == 0
    assert empty.any() and np.all(result.data[0][empty] == 0)
