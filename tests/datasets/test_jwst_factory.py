"""Tests of the offline JWST ``_cal`` exposure factory (`spike.datasets.jwst`)."""

import json
import sys
import types

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from photutils.centroids import centroid_2dg
from scipy.special import erf
from stdatamodels.jwst.datamodels import dqflags

from spike.datasets import (
    make_jwst_cal_exposures,
    make_jwst_gwcs,
    simulate_jwst_cal_exposures,
    star_detector_positions,
    write_jwst_association,
)
from spike.datasets._jwst_wcs import aperture_info
from spike.psf.base import PSFMethod, PSFModel

DO_NOT_USE = dqflags.pixel["DO_NOT_USE"]
APERTURES = ["NRCA1_FULL", "NRCA5_FULL", "NIS_CEN", "MIRIM_FULL"]


class GaussianPSFModel(PSFModel):
    """Pixel-integrated circular Gaussian ePSF (the same at every position)."""

    def __init__(self, sigma, oversampling):
        self.sigma = sigma
        self.oversampling = oversampling

    def evaluate(self, x, y, *, size):
        n = size * self.oversampling
        offsets = (np.arange(n) - (n - 1) / 2) / self.oversampling
        s = self.sigma * np.sqrt(2)
        profile = 0.5 * (erf((offsets + 0.5) / s) - erf((offsets - 0.5) / s))
        return np.outer(profile, profile) * self.oversampling**2


class GaussianPSFMethod(PSFMethod):
    """Test back-end that records the detectors it was prepared for."""

    name = "test_gaussian"
    missions = ("jwst",)

    def __init__(self, *, sigma=1.2, oversampling=4):
        super().__init__(oversampling=oversampling, sigma=sigma)
        self.sigma = sigma
        self.prepared = []

    def prepare(self, detector):
        self.prepared.append(detector)
        return GaussianPSFModel(self.sigma, self.oversampling)


def measure_centroid(data, dq, x, y, *, background, half=5):
    """``centroid_2dg`` in a box around ``(x, y)``, ignoring NaN and DO_NOT_USE pixels."""
    ix, iy = round(x), round(y)
    cut = np.s_[iy - half : iy + half + 1, ix - half : ix + half + 1]
    box = data[cut] - background
    mask = ~np.isfinite(box)
    if dq is not None:
        mask |= (dq[cut] & DO_NOT_USE) != 0
    cx, cy = centroid_2dg(np.where(mask, 0.0, box), mask=mask)
    return cx + ix - half, cy + iy - half


def y_axis_position_angle(wcs, x, y):
    """Sky position angle (deg) of the detector +y direction at pixel ``(x, y)``."""
    ra, dec = wcs([x, x], [y, y + 1.0])
    start, end = SkyCoord(ra[0], dec[0], unit="deg"), SkyCoord(ra[1], dec[1], unit="deg")
    return start.position_angle(end).deg


@pytest.fixture(scope="module")
def method():
    return GaussianPSFMethod()


@pytest.fixture(scope="module")
def simulation(method):
    return simulate_jwst_cal_exposures(psf_method=method, seed=42)


# --------------------------------------------------------------------------------------
# gwcs


@pytest.mark.parametrize("aperture", APERTURES)
def test_gwcs_round_trip_and_scale(aperture):
    wcs = make_jwst_gwcs(aperture, ra_ref=150.1, dec_ref=2.2, v3pa=73.0)
    info = aperture_info(aperture)
    assert wcs.array_shape == info.sci_shape
    assert wcs.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
    assert wcs.output_frame.name == "world"
    assert [str(unit) for unit in wcs.v2v3.unit] == ["arcsec", "arcsec"]
    ny, nx = wcs.array_shape
    rng = np.random.default_rng(1)
    # random points and the array corners (just inside the bounding box)
    x = np.concatenate([rng.uniform(-0.49, nx - 0.51, 2000), [-0.49, nx - 0.51] * 2])
    y = np.concatenate([rng.uniform(-0.49, ny - 0.51, 2000), [-0.49] * 2 + [ny - 0.51] * 2])
    back_x, back_y = wcs.invert(*wcs(x, y))
    assert np.max(np.hypot(back_x - x, back_y - y)) < 1e-3

    # detector -> v2v3 is the SIAF science -> telescope transform (1-based science pixels)
    v2, v3 = wcs.get_transform("detector", "v2v3")(x[:50], y[:50])
    siaf_v2, siaf_v3 = info.siaf.sci_to_tel(x[:50] + 1, y[:50] + 1)
    np.testing.assert_allclose(v2, siaf_v2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v3, siaf_v3, rtol=0, atol=1e-9)

    # pixel scale at the reference pixel, along x and y
    xr, yr = info.siaf.XSciRef - 1, info.siaf.YSciRef - 1
    ra, dec = wcs([xr - 0.5, xr + 0.5, xr, xr], [yr, yr, yr - 0.5, yr + 0.5])
    sky = SkyCoord(ra, dec, unit="deg")
    np.testing.assert_allclose(sky[0].separation(sky[1]).arcsec, info.siaf.XSciScale, rtol=2e-3)
    np.testing.assert_allclose(sky[2].separation(sky[3]).arcsec, info.siaf.YSciScale, rtol=2e-3)


def test_gwcs_reference_point_and_roll():
    wcs = make_jwst_gwcs("NRCA1_FULL", ra_ref=150.1, dec_ref=2.2, v3pa=73.0)
    ap = aperture_info("NRCA1_FULL").siaf
    ra, dec = wcs(ap.XSciRef - 1, ap.YSciRef - 1)
    np.testing.assert_allclose([ra, dec], [150.1, 2.2], rtol=0, atol=1e-9)
    ra, dec = wcs.get_transform("v2v3", "world")([ap.V2Ref, ap.V2Ref], [ap.V3Ref, ap.V3Ref + 1])
    pa = SkyCoord(ra[0], dec[0], unit="deg").position_angle(SkyCoord(ra[1], dec[1], unit="deg"))
    np.testing.assert_allclose(pa.deg, 73.0, atol=1e-6)


def test_subarray_gwcs_matches_full_frame():
    kwargs = {"ra_ref": 10.0, "dec_ref": -40.0, "v3pa": 300.0}
    full = make_jwst_gwcs("NRCA5_FULL", **kwargs)
    sub = make_jwst_gwcs("NRCA5_FULL", subarray_origin=(300, 700), shape=(128, 200), **kwargs)
    assert sub.array_shape == (128, 200)
    assert tuple(tuple(iv) for iv in sub.bounding_box.bounding_box()) == (
        (-0.5, 199.5),
        (-0.5, 127.5),
    )
    x, y = np.meshgrid(np.arange(0, 200, 13.3), np.arange(0, 128, 9.1))
    np.testing.assert_allclose(sub(x, y), full(x + 300, y + 700), rtol=0, atol=1e-10)
    assert np.all(np.isnan(sub(250.0, 10.0)))  # outside the bounding box


def test_make_jwst_gwcs_rejects_bad_input():
    with pytest.raises(ValueError, match="not a NIRCam"):
        make_jwst_gwcs("NRS1_FULL", ra_ref=0, dec_ref=0, v3pa=0)
    with pytest.raises(ValueError, match="does not fit"):
        make_jwst_gwcs(
            "MIRIM_FULL", ra_ref=0, dec_ref=0, v3pa=0, subarray_origin=(900, 0), shape=(256, 256)
        )


# --------------------------------------------------------------------------------------
# exposures


def test_exposure_metadata(simulation):
    models = simulation.models
    assert len(models) == 8
    names = [m.meta.filename for m in models]
    assert len(set(names)) == 8
    assert all(name.startswith("jw01234001") and name.endswith("_nrca1_cal.fits") for name in names)
    from jwst.datamodels.utils.group_id import attrs_to_group_id

    assert len({attrs_to_group_id(m.meta.observation) for m in models}) == 8
    starts = [m.meta.exposure.start_time for m in models]
    assert np.all(np.diff(starts) > 0)
    area_sr = (0.0311 * 0.0313) * (np.pi / 648000) ** 2
    for m in models:
        meta = m.meta
        assert m.data.dtype == np.float32 and m.dq.dtype == np.uint32 and m.data.shape == (256, 256)
        assert meta.exposure.start_time < meta.exposure.mid_time < meta.exposure.end_time
        assert meta.exposure.type == "NRC_IMAGE" and meta.telescope == "JWST"
        assert (meta.instrument.name, meta.instrument.detector) == ("NIRCAM", "NRCA1")
        assert (meta.instrument.filter, meta.instrument.pupil) == ("F200W", "CLEAR")
        assert (meta.instrument.channel, meta.instrument.module) == ("SHORT", "A")
        sub = meta.subarray
        assert (sub.name, sub.xstart, sub.ystart) == ("SUB256", 897, 897)
        assert (sub.xsize, sub.ysize) == (256, 256)
        assert meta.bunit_data == "MJy/sr"
        assert meta.background.level == pytest.approx(0.2) and meta.background.subtracted is False
        assert meta.photometry.pixelarea_steradians == pytest.approx(area_sr, rel=1e-2)
        assert meta.wcsinfo.s_region.startswith("POLYGON ICRS")
        assert meta.wcsinfo.vparity == -1 and meta.wcsinfo.v2_ref == pytest.approx(120.576793)
        assert meta.cal_step.flat_field == "COMPLETE" and meta.cal_step.photom == "COMPLETE"
        m.validate()  # a schema problem would warn, and warnings are errors
    rolls = [m.meta.wcsinfo.roll_ref for m in models]
    np.testing.assert_allclose(rolls, [60.0] * 4 + [80.0] * 4, atol=1e-3)


def test_psf_method_prepared_once_per_exposure(simulation, method):
    assert len(method.prepared) == len(simulation.models)
    for detector, model in zip(method.prepared, simulation.models, strict=True):
        assert (detector.mission, detector.instrument) == ("jwst", "NIRCAM")
        assert detector.detector == "NRCA1"
        assert (detector.filter, detector.pupil, detector.shape) == ("F200W", "CLEAR", (256, 256))
        assert detector.wcs is model.meta.wcs and detector.filename == model.meta.filename


def test_star_centroids_match_wcs(simulation):
    assert 6 <= len(simulation.stars) <= 10
    for index, model in enumerate(simulation.models):
        rows = simulation.positions[simulation.positions["exposure"] == index]
        x, y = star_detector_positions(model, simulation.stars)
        np.testing.assert_allclose(rows["x"], x)
        ny, nx = model.shape
        assert np.all((x >= 25) & (x <= nx - 26) & (y >= 25) & (y <= ny - 26))
        background = model.meta.background.level
        for xi, yi in zip(x, y, strict=True):
            cx, cy = measure_centroid(model.data, model.dq, xi, yi, background=background)
            assert np.hypot(cx - xi, cy - yi) < 0.05


def test_dithers_move_stars(simulation):
    positions = simulation.positions
    scale = np.mean(aperture_info("NRCA1_FULL").pixel_scale)
    expected = [0.0, np.hypot(3.37, 1.71), np.hypot(1.24, 4.58), np.hypot(4.63, 6.29)]
    first = positions[positions["exposure"] == 0]
    for index in range(1, 4):
        rows = positions[positions["exposure"] == index]
        shift = np.hypot(rows["x"] - first["x"], rows["y"] - first["y"])
        np.testing.assert_allclose(shift, expected[index], rtol=0.03)
        assert shift.min() > 1.0
        assert np.ptp(rows["x"] - first["x"]) < 0.05 and np.ptp(rows["y"] - first["y"]) < 0.05
    assert scale == pytest.approx(0.0312, abs=1e-3)


def test_rotated_visit(simulation):
    models = simulation.models
    centre = (127.5, 127.5)
    for index in range(4):
        pa_1 = y_axis_position_angle(models[index].meta.wcs, *centre)
        pa_2 = y_axis_position_angle(models[index + 4].meta.wcs, *centre)
        assert (pa_2 - pa_1) % 360 == pytest.approx(20.0, abs=1e-4)


def test_flags_noise_and_variances(simulation):
    flagged = simulation.flagged
    near = flagged[(flagged["dq"] & DO_NOT_USE) != 0]
    assert set(near["exposure"]) == {1, 3, 5, 7}
    assert np.all(near["distance"] <= 3.0)
    for model in simulation.models:
        nan = ~np.isfinite(model.data)
        assert 0 < nan.sum() < 100
        assert np.all((model.dq[nan] & DO_NOT_USE) != 0)
        good = (model.dq & DO_NOT_USE) == 0
        for name in ("err", "var_rnoise", "var_poisson", "var_flat"):
            assert np.all(np.isfinite(getattr(model, name)[good]))
        var_rnoise = model.var_rnoise[good]
        assert 0.05 < np.std(var_rnoise) / np.mean(var_rnoise) < 0.3
        sky = np.median(model.data[good])
        noise = np.median(model.err[good])
        assert abs(sky - model.meta.background.level) < 0.1 * noise
        robust_std = 1.4826 * np.median(np.abs(model.data[good] - sky))
        assert robust_std == pytest.approx(noise, rel=0.1)


def test_resample_puts_stars_where_the_mosaic_wcs_says(simulation):
    from jwst.datamodels import ModelLibrary
    from jwst.resample.resample import ResampleImage

    before = [model.data.copy() for model in simulation.models]
    library = ModelLibrary([model.copy() for model in simulation.models], on_disk=False)
    result = ResampleImage(library, pixfrac=1.0, kernel="square").resample_many_to_one()
    wcs = result.meta.wcs
    x, y = wcs.invert(np.asarray(simulation.stars["ra"]), np.asarray(simulation.stars["dec"]))
    assert np.all(np.isfinite(x) & np.isfinite(y))
    background = np.nanmedian(result.data)
    assert abs(background) < 0.01  # the sky level in meta.background was subtracted
    for xi, yi in zip(x, y, strict=True):
        cx, cy = measure_centroid(result.data, None, xi, yi, background=background)
        assert np.hypot(cx - xi, cy - yi) < 0.05
    for model, data in zip(simulation.models, before, strict=True):
        np.testing.assert_array_equal(model.data, data)


def test_association_round_trip(simulation, tmp_path):
    from jwst.datamodels import ModelLibrary

    models = simulation.models[:4]
    path = write_jwst_association(models, tmp_path, product_name="spike_test")
    assert path.name == "spike_test_asn.json"
    asn = json.loads(path.read_text())
    assert asn["products"][0]["name"] == "spike_test"
    members = asn["products"][0]["members"]
    assert [m["expname"] for m in members] == [m.meta.filename for m in models]
    library = ModelLibrary(path)
    assert len(library) == 4
    with library:
        for index, original in enumerate(models):
            model = library.borrow(index)
            np.testing.assert_array_equal(model.data, original.data)
            np.testing.assert_array_equal(model.dq, original.dq)
            np.testing.assert_allclose(model.meta.wcs(10.0, 20.0), original.meta.wcs(10.0, 20.0))
            library.shelve(model, index, modify=False)
    with pytest.raises(ValueError, match="distinct"):
        write_jwst_association([models[0], models[0]], tmp_path / "dup")


@pytest.mark.parametrize(
    ("aperture", "detector", "exp_type", "elements"),
    [
        ("NRCA5_FULL", "NRCALONG", "NRC_IMAGE", ("F444W", "CLEAR")),
        ("NIS_CEN", "NIS", "NIS_IMAGE", ("CLEAR", "F150W")),
        ("MIRIM_FULL", "MIRIMAGE", "MIR_IMAGE", ("F770W", None)),
    ],
)
def test_other_instruments(aperture, detector, exp_type, elements):
    method = GaussianPSFMethod(sigma=1.0)
    sim = simulate_jwst_cal_exposures(
        aperture=aperture, shape=(128, 144), rotations=(0.0,), dithers=[(0.0, 0.0), (0.21, 0.13)],
        psf_method=method, seed=3,
    )
    band = elements[1] if aperture == "NIS_CEN" else elements[0]
    assert [d.filter for d in method.prepared] == [band, band]
    for index, model in enumerate(sim.models):
        meta = model.meta
        assert (meta.instrument.detector, meta.exposure.type) == (detector, exp_type)
        assert (meta.instrument.filter, meta.instrument.pupil) == elements
        assert meta.subarray.name == "GENERIC" and model.shape == (128, 144)
        rows = sim.positions[sim.positions["exposure"] == index]
        for xi, yi in zip(rows["x"], rows["y"], strict=True):
            assert 25 <= xi <= 144 - 26 and 25 <= yi <= 128 - 26
            background = meta.background.level
            cx, cy = measure_centroid(model.data, model.dq, xi, yi, background=background)
            assert np.hypot(cx - xi, cy - yi) < 0.05


def test_default_psf_method_is_imported_lazily(monkeypatch):
    fake = types.ModuleType("spike.psf.optical")
    fake.OpticalPSFMethod = GaussianPSFMethod
    monkeypatch.setitem(sys.modules, "spike.psf.optical", fake)
    models = make_jwst_cal_exposures(shape=(96, 96), dithers=[(0.0, 0.0)], rotations=(0.0,))
    assert len(models) == 1 and models[0].meta.subarray.name == "GENERIC"


def test_bad_options_raise():
    method = GaussianPSFMethod()
    with pytest.raises(ValueError, match="psf_size"):
        make_jwst_cal_exposures(psf_method=method, psf_size=24)
    with pytest.raises(ValueError, match="shape"):
        make_jwst_cal_exposures(psf_method=method, shape=(40, 40))
    with pytest.raises(ValueError, match="rotations and dithers"):
        make_jwst_cal_exposures(psf_method=method, rotations=())
