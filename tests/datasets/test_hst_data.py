"""Tests of the offline HST data utilities (`spike.datasets.hst`) on real HST exposures."""

import hashlib
import logging
import os

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from photutils.psf import fit_fwhm

from spike.datasets import hst
from spike.datasets.hst import (
    ACS_DQ,
    hst_example_path,
    make_acs_hrc_dithers,
    prepare_wfpc2,
    run_astrodrizzle,
)
from spike.exceptions import SpikeWarning
from tests.hst._stars import bright_isolated_stars
from tests.hst._stars import star_centroids as centroids

OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25), (4.25, -2.0))
#: Final-drizzle parameters a PSF run copies from the science run.
PSF_OPTIONS = {
    "static": False, "skysub": False, "driz_separate": False, "median": False,
    "blot": False, "driz_cr": False,
}


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pixel_scale(wcs):
    """Geometric-mean pixel scale (arcsec) of a celestial FITS WCS."""
    return float(np.sqrt(abs(np.linalg.det(wcs.pixel_scale_matrix))) * 3600)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def original():
    path = hst_example_path("acs_hrc")
    return {"path": path, "sha": sha256(path)}


@pytest.fixture(scope="module")
def dithers(original, tmp_path_factory):
    return make_acs_hrc_dithers(tmp_path_factory.mktemp("hrc_dithers"), offsets=OFFSETS, seed=3)


@pytest.fixture(scope="module")
def science_run(dithers, tmp_path_factory):
    """AstroDrizzle science run on the association, as a pipeline would do it."""
    before = {p: sha256(p) for p in [*dithers.files, dithers.asn]}
    cwd_listing = sorted(os.listdir(os.getcwd()))
    root = logging.getLogger()
    logging_state = (root.level, list(root.handlers))
    workdir = tmp_path_factory.mktemp("hrc_science")
    drz = run_astrodrizzle(dithers.asn, "hrc_sci", workdir=workdir, final_pixfrac=0.8)
    return {
        "drz": drz, "workdir": workdir, "before": before,
        "after": {p: sha256(p) for p in before},
        "cwd_unchanged": sorted(os.listdir(os.getcwd())) == cwd_listing,
        "logging_unchanged": (root.level, list(root.handlers)) == logging_state,
    }


@pytest.fixture(scope="module")
def wfpc2(tmp_path_factory):
    c0f = hst_example_path("wfpc2_c0f")
    sha = sha256(c0f)
    with pytest.warns(SpikeWarning, match="u40x010hm_c1f.fits"):
        flt = prepare_wfpc2(c0f, tmp_path_factory.mktemp("wfpc2"))
    return {"c0f": c0f, "sha": sha, "flt": flt}


# ------------------------------------------------------------------------------ examples


def test_example_paths():
    acs = hst_example_path("acs_hrc")
    wfpc2_c0f = hst_example_path("wfpc2_c0f")
    assert acs.name == "j8bt06nyq_flt.fits" and "spherical_geometry" in acs.parts
    assert wfpc2_c0f.name == "u40x010hm_c0f.fits" and "tools" in wfpc2_c0f.parts
    assert fits.getval(acs, "DETECTOR") == "HRC"
    assert fits.getval(wfpc2_c0f, "INSTRUME").strip() == "WFPC2"
    with pytest.raises(ValueError, match="must be one of"):
        hst_example_path("nicmos")


def test_example_paths_missing(monkeypatch):
    monkeypatch.setitem(hst._EXAMPLES, "gone", ("spike_no_such_package", "x.fits"))
    monkeypatch.setitem(hst._EXAMPLES, "stripped", ("spike", "tests/data/none.fits"))
    with pytest.raises(FileNotFoundError, match="'spike_no_such_package', which is not installed"):
        hst_example_path("gone")
    with pytest.raises(FileNotFoundError, match="missing from the installed 'spike'"):
        hst_example_path("stripped")


# ------------------------------------------------------------------------------ dithers


def test_dithers_files_and_headers(dithers, original):
    assert sha256(original["path"]) == original["sha"]
    assert [p.name for p in dithers.files] == [f"j8bt06d{i}q_flt.fits" for i in range(4)]
    with fits.open(original["path"]) as orig:
        shapes = [(h.name, h.data.shape, h.data.dtype) for h in orig[1:]]
        crpix = orig[1].header["CRPIX1"], orig[1].header["CRPIX2"]
    starts = []
    for path, row in zip(dithers.files, dithers.offsets, strict=True):
        with fits.open(path) as copy:
            assert [(h.name, h.data.shape, h.data.dtype) for h in copy[1:]] == shapes
            primary = copy[0].header
            assert primary["ROOTNAME"] == row["rootname"] == path.name[:9]
            assert primary["FILENAME"] == path.name
            assert all(h.header["EXPNAME"] == row["rootname"] for h in copy[1:])
            assert primary["EXPEND"] > primary["EXPSTART"] == row["expstart"]
            assert primary["ASN_ID"] == "J8BT06D10"
            for hdu in copy[1:]:
                assert (hdu.header["CRPIX1"], hdu.header["CRPIX2"]) == crpix
                assert hdu.header["CRVAL1"] == row["crval1"]
            starts.append(primary["EXPSTART"])
    assert np.all(np.diff(starts) > 60 / 86400)
    assert len(set(dithers.offsets["crval1"])) == 4
    assert np.all(dithers.offsets["n_cosmic_rays"] > 100)


def test_association_files(dithers):
    table = Table.read(dithers.asn, hdu=1)
    members = [f"J8BT06D{i}Q" for i in range(4)]
    assert list(table["MEMNAME"]) == [*members, "J8BT06D10"]
    assert list(table["MEMTYPE"]) == ["EXP-DTH"] * 4 + ["PROD-DTH"]
    assert all(table["MEMPRSNT"])
    assert fits.getval(dithers.asn, "ASN_ID") == "J8BT06D10"
    assert dithers.list_file.read_text().split() == [p.name for p in dithers.files]
    assert "_asn" not in dithers.list_file.name  # drizzlepac would read it as a table


def test_dithers_dq(dithers, original):
    with fits.open(original["path"]) as orig:
        sci0, dq0 = orig["SCI"].data, orig["DQ"].data
    scene_bits = ACS_DQ["SATURATED"] | ACS_DQ["ATOD_SATURATED"]
    defects = (dq0 & (4 | 8 | 16 | 64 | 128)) != 0
    for path, (dx, dy) in zip(dithers.files, OFFSETS, strict=True):
        with fits.open(path) as copy:
            sci, dq = copy["SCI"].data, copy["DQ"].data
        fill = (dq & ACS_DQ["FILL"]) != 0
        # uncovered edges: columns/rows the scene left, nowhere else
        yy, xx = np.indices(dq.shape)
        expected_fill = (xx - dx < 0) | (xx - dx > 1023) | (yy - dy < 0) | (yy - dy > 1023)
        np.testing.assert_array_equal(fill, expected_fill)
        # detector flags stay on the detector, with the defect pixel values (plus the charge
        # of the odd injected cosmic ray)
        np.testing.assert_array_equal(dq & ~scene_bits & ~ACS_DQ["FILL"], dq0 & ~scene_bits)
        kept = sci[defects & ~fill], sci0[defects & ~fill]
        assert np.mean(kept[0] == kept[1]) > 0.995
        assert np.all(kept[0] >= kept[1])
        # saturation moves with the scene by the nearest whole pixel
        moved = np.roll(dq0 & scene_bits, (round(dy), round(dx)), axis=(0, 1))
        inner = (slice(8, -8), slice(8, -8))
        np.testing.assert_array_equal((dq & scene_bits)[inner], moved[inner])


def test_dithers_wcs_matches_the_stars(dithers, original):
    """Stars found in the original land where each copy's WCS puts their sky position."""
    with fits.open(original["path"]) as orig:
        sci0 = orig["SCI"].data.astype(float)
        bad0 = orig["DQ"].data != 0
        wcs0 = WCS(orig["SCI"].header)
    xy = bright_isolated_stars(sci0, bad0, count=12, max_peak=40000)
    assert len(xy) == 12
    xy0 = centroids(sci0, xy)
    sky = wcs0.all_pix2world(xy0, 0)
    checked = 0
    for path, (dx, dy) in zip(dithers.files, OFFSETS, strict=True):
        with fits.open(path) as copy:
            predicted = WCS(copy["SCI"].header).all_world2pix(sky, 0)
            measured = centroids(copy["SCI"].data.astype(float), predicted)
        np.testing.assert_allclose(predicted, xy0 + [dx, dy], atol=1e-6)
        # leave out the stars an injected cosmic ray hit (listed by the factory)
        hits = dithers.cosmic_rays[dithers.cosmic_rays["filename"] == path.name]
        distance = np.hypot(
            predicted[:, :1] - np.asarray(hits["x"]), predicted[:, 1:] - np.asarray(hits["y"])
        )
        clean = distance.min(axis=1, initial=np.inf) > 7
        np.testing.assert_allclose(measured[clean], predicted[clean], atol=0.05)
        checked += clean.sum()
    assert checked >= 40


def test_dithers_keep_noise_level(dithers, original):
    """The spline shift smooths noise; the injected noise restores it (within 5 %)."""

    def noise(image):
        diff = np.diff(image[100:900, 100:901].astype(float), axis=1)
        faint = image[100:900, 101:901] < 300
        values = diff[faint]
        return 1.4826 * np.median(np.abs(values - np.median(values))) / np.sqrt(2)

    reference = noise(fits.getdata(original["path"], "SCI"))
    for path in dithers.files[1:]:
        assert noise(fits.getdata(path, "SCI")) == pytest.approx(reference, rel=0.05)


@pytest.mark.parametrize(
    ("offsets", "match"),
    [([], "sequence of"), ([(1.0, 2.0, 3.0)], "sequence of"), ([(300.0, 0.0)], "below 256")],
)
def test_bad_offsets(tmp_path, offsets, match):
    with pytest.raises(ValueError, match=match):
        make_acs_hrc_dithers(tmp_path, offsets=offsets)


# ------------------------------------------------------------------------------ AstroDrizzle


def test_astrodrizzle_product(science_run, dithers):
    with fits.open(science_run["drz"]) as drz:
        assert [h.name for h in drz[1:4]] == ["SCI", "WHT", "CTX"]
        assert drz[0].header["NDRIZIM"] == 4
        assert drz["CTX"].data.max() == 15  # all four inputs contribute
        assert np.nanmedian(drz["WHT"].data[drz["WHT"].data > 0]) > 100
    for path in dithers.files:
        root = path.name[:9]
        final_mask = fits.getdata(science_run["workdir"] / f"{root}_sci1_final_mask.fits")
        assert 0.02 < np.mean(final_mask == 0) < 0.06  # DQ (finger: 1.6 %) + cosmic rays
        # driz_cr finds the cosmic rays injected in each copy (crmask: 0 = cosmic ray)
        crmask = fits.getdata(science_run["workdir"] / f"{root}_sci1_crmask.fits")
        hits = dithers.cosmic_rays[dithers.cosmic_rays["filename"] == path.name]
        assert np.mean(crmask[hits["y"], hits["x"]] == 0) > 0.8
        assert np.mean(crmask == 0) < 0.03


def test_astrodrizzle_leaves_inputs_alone(science_run, dithers):
    assert science_run["after"] == science_run["before"]
    assert science_run["cwd_unchanged"] and science_run["logging_unchanged"]
    # the working copies were edited in place (sky written), the originals were not
    copy = science_run["workdir"] / dithers.files[0].name
    assert fits.getval(copy, "MDRIZSKY", ext=1) > 0
    assert "MDRIZSKY" not in fits.getheader(dithers.files[0], 1)


def test_astrodrizzle_stars_coincide(science_run, dithers):
    """No doubled stars: the drizzled FWHM stays close to the exposures' (in arcsec)."""
    with fits.open(dithers.files[0]) as flt:
        sci = flt["SCI"].data.astype(float)
        bad = (flt["DQ"].data & ~ACS_DQ["BAD_FLAT"]) != 0
        wcs = WCS(flt["SCI"].header)
    xy = bright_isolated_stars(sci, bad, count=10, max_peak=40000)
    fwhm_flt = np.median(fit_fwhm(sci - np.median(sci), xypos=xy, fit_shape=7)) * pixel_scale(wcs)
    with fits.open(science_run["drz"]) as drz:
        drz_wcs = WCS(drz["SCI"].header)
        drz_xy = drz_wcs.all_world2pix(wcs.all_pix2world(xy, 0), 0)
        drz_sci = np.nan_to_num(drz["SCI"].data.astype(float))  # NaN where no input
        drz_fwhm = fit_fwhm(drz_sci, xypos=drz_xy, fit_shape=7)
    ratio = np.median(drz_fwhm) * pixel_scale(drz_wcs) / fwhm_flt
    assert 1.0 < ratio < 1.3  # drizzling broadens a little; 2-4 px doubling would not pass
    # each exposure drizzled alone (kept by clean=False) puts the stars at the same place
    singles = [
        centroids(fits.getdata(science_run["workdir"] / f"{p.name[:9]}_single_sci.fits"), drz_xy)
        for p in dithers.files
    ]
    spread = np.abs(np.array(singles) - np.mean(singles, axis=0))
    assert spread.max() < 0.1


def test_astrodrizzle_psf_style_rerun_reproduces_grid(science_run, dithers, tmp_path):
    """A second run from the @list, steps off, on the science grid (``final_refimage``)."""
    drz = run_astrodrizzle(
        f"@{dithers.list_file}", "psf", workdir=tmp_path, options=PSF_OPTIONS,
        final_refimage=f"{science_run['drz']}[1]", final_pixfrac=0.8,
    )
    assert drz == tmp_path / "psf_drz.fits"
    science, psf = (fits.getheader(p, "SCI") for p in (science_run["drz"], drz))
    for key in ("NAXIS1", "NAXIS2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CD1_1", "CD2_1"):
        assert psf[key] == pytest.approx(science[key], rel=1e-12)
    assert not list(tmp_path.glob("*_crmask.fits"))


def test_astrodrizzle_argument_checks(dithers, tmp_path):
    with pytest.raises(TypeError, match="final_pixfrax"):
        run_astrodrizzle(dithers.files, "x", workdir=tmp_path, final_pixfrax=1)
    with pytest.raises(TypeError, match="'driz_cr'"):
        run_astrodrizzle(dithers.files, "x", workdir=tmp_path, driz_cr=False)
    with pytest.raises(ValueError, match="'bogus'"):
        run_astrodrizzle(dithers.files, "x", workdir=tmp_path, options={"bogus": 1})
    with pytest.raises(ValueError, match="'output'"):
        run_astrodrizzle(dithers.files, "x", workdir=tmp_path, options={"output": "y"})
    with pytest.raises(ValueError, match="would edit it"):
        run_astrodrizzle(dithers.files, "x", workdir=dithers.files[0].parent)
    with pytest.raises(ValueError, match="at least one"):
        run_astrodrizzle([], "x", workdir=tmp_path)


# ------------------------------------------------------------------------------ WFPC2


def test_wfpc2_flt_has_four_chips(wfpc2):
    assert sha256(wfpc2["c0f"]) == wfpc2["sha"]
    c0m = wfpc2["flt"].with_name("u40x010hm_c0m.fits")
    assert fits.getval(c0m, "FILENAME") == c0m.name
    scales = {}
    with fits.open(wfpc2["flt"]) as flt:
        assert flt[0].header["FILENAME"] == "u40x010hm_flt.fits"
        for chip in range(1, 5):
            header = flt["SCI", chip].header
            scales[header["DETECTOR"]] = pixel_scale(WCS(header))
            assert flt["SCI", chip].data.shape == (800, 800)
            assert not flt["DQ", chip].data.any()
            err = flt["ERR", chip].data
            assert np.all(np.isfinite(err)) and err.min() > 0
    assert scales[1] == pytest.approx(0.0455, rel=0.01)
    for wf in (2, 3, 4):
        assert scales[wf] == pytest.approx(0.0996, rel=0.01)


def test_wfpc2_drizzles_offline(wfpc2, tmp_path):
    drz = run_astrodrizzle([wfpc2["flt"]], "omega_cen", workdir=tmp_path, final_scale=0.1)
    assert drz.name == "omega_cen_drw.fits"  # drizzlepac's WFPC2 suffix
    with fits.open(drz) as product:
        context = product["CTX"].data
        assert abs(product["SCI"].header["CD1_1"]) < 0.1 / 3600 * 1.001
        # every chip drizzled; WF chips cover ~4.8x the PC's sky area
        area = [np.count_nonzero(context & bit) for bit in (1, 2, 4, 8)]
    assert all(a > 0 for a in area)
    assert 4.0 < np.mean(area[1:]) / area[0] < 5.6
    for chip in range(1, 5):
        assert (tmp_path / f"u40x010hm_sci{chip}_final_mask.fits").is_file()


def test_wfpc2_uses_c1f_when_present(tmp_path):
    """A ``_c1f`` beside the ``_c0f`` becomes the DQ of the ``_flt``."""
    source = tmp_path / "src"
    source.mkdir()
    with fits.open(hst_example_path("wfpc2_c0f")) as c0f:
        c0f.writeto(source / "u40x010hm_c0f.fits", output_verify="silentfix")
        dq = np.zeros(c0f[0].data.shape, np.int16)
        dq[:, 10, 20] = 2
        dq[2, 400:410, 300] = 8
        c0f[0].data = dq
        c0f[0].header["FILETYPE"] = "SDQ"
        c0f.writeto(source / "u40x010hm_c1f.fits", output_verify="silentfix")
    flt = prepare_wfpc2(source / "u40x010hm_c0f.fits", tmp_path / "out")
    with fits.open(flt) as product:
        for chip in range(1, 5):
            np.testing.assert_array_equal(product["DQ", chip].data, dq[chip - 1])
