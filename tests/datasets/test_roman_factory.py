"""Tests of the offline Roman WFI ``_cal`` exposure factory (`spike.datasets.roman`)."""

import json
import sys
import types

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from photutils.centroids import centroid_2dg
from roman_datamodels import dqflags

from spike.datasets._roman_wcs import SCA_SHAPE, sca_info
from spike.datasets.roman import (
    make_roman_cal_exposures,
    make_roman_gwcs,
    simulate_roman_cal_exposures,
    write_roman_association,
)
from tests.helpers import GaussianPSFMethod

DO_NOT_USE = dqflags.pixel.DO_NOT_USE
#: Cut-outs at the facing edges of WFI01 (bottom) and WFI02 (top): ~830 px apart on the sky.
TWO_SCA_ORIGINS = {"WFI01": (1916, 0), "WFI02": (1916, SCA_SHAPE[0] - 256)}


class RomanGaussianPSFMethod(GaussianPSFMethod):
    """The analytic Gaussian test back-end, for Roman, recording what it was prepared for."""

    name = "test_gaussian_roman"
    missions = ("roman",)

    def __init__(self, *, sigma=1.2, oversampling=4):
        super().__init__(sigma=sigma, oversampling=oversampling)
        self.prepared = []

    def prepare(self, detector):
        self.prepared.append(detector)
        return super().prepare(detector)


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
    return SkyCoord(ra[0], dec[0], unit="deg").position_angle(
        SkyCoord(ra[1], dec[1], unit="deg")
    ).deg


def on_array_rows(sim, index, *, margin=25):
    rows = sim.positions[sim.positions["exposure"] == index]
    ny, nx = sim.models[index].shape
    keep = np.isfinite(rows["x"]) & np.isfinite(rows["y"])
    keep &= (rows["x"] >= margin) & (rows["x"] <= nx - 1 - margin)
    keep &= (rows["y"] >= margin) & (rows["y"] <= ny - 1 - margin)
    return rows[keep]


@pytest.fixture(scope="module")
def method():
    return RomanGaussianPSFMethod()


@pytest.fixture(scope="module")
def simulation(method):
    """WFI01, F158: two visits (the second rolled by 20 deg) of four dithers."""
    return simulate_roman_cal_exposures(psf_method=method, seed=42)


@pytest.fixture(scope="module")
def two_sca():
    """WFI01 + WFI02 read out together, four dithers, F106."""
    return simulate_roman_cal_exposures(
        detectors=("WFI01", "WFI02"), filter="F106", cutout_origin=TWO_SCA_ORIGINS,
        rotations=(0.0,), psf_method=RomanGaussianPSFMethod(sigma=1.0), seed=7,
    )


def resample(models, **pars):
    """The real romancal resample, offline, on copies of ``models``."""
    from romancal.datamodels import ModelLibrary
    from romancal.resample import ResampleStep

    library = ModelLibrary([model.copy() for model in models])
    return ResampleStep(resample_on_skycell=False, **pars).run(library)


# --------------------------------------------------------------------------------------
# gwcs


@pytest.mark.parametrize(
    ("detector", "origin", "shape"),
    [("WFI01", (1916, 1916), (256, 256)), ("WFI03", (3000, 100), (200, 300)),
     ("WFI18", (0, 0), None)],
)
def test_gwcs_round_trip_and_siaf_distortion(detector, origin, shape):
    wcs = make_roman_gwcs(
        detector, ra_ref=150.1, dec_ref=2.2, roll_ref=73.0, cutout_origin=origin, shape=shape
    )
    assert wcs.available_frames == ["detector", "v2v3", "v2v3vacorr", "world"]
    assert [str(unit) for unit in wcs.v2v3.unit] == ["arcsec", "arcsec"]
    assert wcs.array_shape == (shape or SCA_SHAPE)
    ny, nx = wcs.array_shape
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-0.49, nx - 0.51, 2000), [-0.49, nx - 0.51] * 2])
    y = np.concatenate([rng.uniform(-0.49, ny - 0.51, 2000), [-0.49] * 2 + [ny - 0.51] * 2])
    back_x, back_y = wcs.invert(*wcs(x, y))
    assert np.max(np.hypot(back_x - x, back_y - y)) < 1e-4

    # detector -> v2v3 is pysiaf's science -> telescope transform (1-based SCA pixels)
    ap = sca_info(detector).siaf
    v2, v3 = wcs.get_transform("detector", "v2v3")(x[:50], y[:50])
    siaf_v2, siaf_v3 = ap.sci_to_tel(x[:50] + origin[0] + 1, y[:50] + origin[1] + 1)
    np.testing.assert_allclose(v2, siaf_v2, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v3, siaf_v3, rtol=0, atol=1e-9)

    # ~0.11" pixels along x and y in the middle of the array
    xc, yc = (nx - 1) / 2, (ny - 1) / 2
    ra, dec = wcs([xc - 0.5, xc + 0.5, xc, xc], [yc, yc, yc - 0.5, yc + 0.5])
    sky = SkyCoord(ra, dec, unit="deg")
    scales = [sky[0].separation(sky[1]).arcsec, sky[2].separation(sky[3]).arcsec]
    assert all(0.1 < s < 0.12 for s in scales)


def test_gwcs_reference_point_scale_and_orientation():
    wcs = make_roman_gwcs("WFI07", ra_ref=10.0, dec_ref=-40.0, roll_ref=300.0)
    ap = sca_info("WFI07").siaf
    xr, yr = ap.XSciRef - 1, ap.YSciRef - 1
    np.testing.assert_allclose(wcs(xr, yr), [10.0, -40.0], rtol=0, atol=1e-9)
    ra, dec = wcs([xr - 0.5, xr + 0.5, xr, xr], [yr, yr, yr - 0.5, yr + 0.5])
    sky = SkyCoord(ra, dec, unit="deg")
    scales = [sky[0].separation(sky[1]).arcsec, sky[2].separation(sky[3]).arcsec]
    assert all(0.105 < s < 0.112 for s in scales)
    x_sci, y_sci = np.array([xr - 0.5, xr + 0.5, xr, xr]), np.array([yr, yr, yr - 0.5, yr + 0.5])
    v2, v3 = ap.sci_to_tel(x_sci + 1, y_sci + 1)
    siaf = [np.hypot(v2[1] - v2[0], v3[1] - v3[0]), np.hypot(v2[3] - v2[2], v3[3] - v3[2])]
    np.testing.assert_allclose(scales, siaf, rtol=1e-4)  # pysiaf; V2 spacing has cos(V3)
    # roll_ref is the V3 position angle at the reference point
    tel2sky = wcs.get_transform("v2v3", "world")
    ra, dec = tel2sky([ap.V2Ref, ap.V2Ref], [ap.V3Ref, ap.V3Ref + 1.0])
    start, end = SkyCoord(ra[0], dec[0], unit="deg"), SkyCoord(ra[1], dec[1], unit="deg")
    assert start.position_angle(end).deg == pytest.approx(300.0, abs=1e-6)
    # the science y axis is (within the distortion) the ideal Y axis, at V3IdlYAngle from V3
    assert (y_axis_position_angle(wcs, xr, yr) - 300.0) % 360 == pytest.approx(300.0, abs=1.5)


def test_cutout_gwcs_matches_full_sca():
    kwargs = {"ra_ref": 270.0, "dec_ref": 66.0, "roll_ref": 10.0}
    full = make_roman_gwcs("WFI05", **kwargs)
    sub = make_roman_gwcs("WFI05", cutout_origin=(300, 3700), shape=(128, 200), **kwargs)
    assert sub.array_shape == (128, 200)
    x, y = np.meshgrid(np.arange(0, 200, 13.3), np.arange(0, 128, 9.1))
    np.testing.assert_allclose(sub(x, y), full(x + 300, y + 3700), rtol=0, atol=1e-10)
    assert np.all(np.isnan(sub(250.0, 10.0)))  # outside the bounding box


def test_make_roman_gwcs_rejects_bad_input():
    with pytest.raises(ValueError, match="WFI01..WFI18"):
        make_roman_gwcs("WFI19", ra_ref=0, dec_ref=0, roll_ref=0)
    with pytest.raises(ValueError, match="does not fit"):
        make_roman_gwcs(
            "WFI02", ra_ref=0, dec_ref=0, roll_ref=0, cutout_origin=(4000, 0), shape=(256, 256)
        )


# --------------------------------------------------------------------------------------
# exposures


def test_exposure_metadata(simulation):
    from romancal.assign_wcs.assign_wcs import v23tosky

    models = simulation.models
    assert len(models) == 8
    names = [m.meta.filename for m in models]
    assert len(set(names)) == 8
    assert names[0] == "r0000101001001001001_01101_0001_wfi01_cal.asdf"
    assert names[4] == "r0000101001001001002_01101_0001_wfi01_cal.asdf"
    assert len({m.meta.observation.observation_id for m in models}) == 8  # romancal group ids
    starts = [m.meta.exposure.start_time.mjd for m in models]
    assert np.all(np.diff(starts) > 0)
    for m in models:
        meta = m.meta
        assert m.data.dtype == np.float32 and m.dq.dtype == np.uint32 and m.shape == (256, 256)
        for name in ("err", "var_poisson", "var_rnoise", "var_flat"):
            assert getattr(m, name).dtype == np.float16
        assert meta.exposure.end_time.mjd > meta.exposure.start_time.mjd
        assert meta.exposure.exposure_time == pytest.approx(139.15, abs=0.01)
        assert (meta.instrument.name, meta.instrument.detector) == ("WFI", "WFI01")
        assert meta.instrument.optical_element == "F158"
        assert meta.wcsinfo.aperture_name == "WFI01_FULL" and meta.wcsinfo.vparity == -1
        assert meta.wcsinfo.s_region.startswith("POLYGON ICRS")
        assert meta.pointing.target_aperture == "WFI_CEN"
        assert meta.background.level == pytest.approx(0.19) and not meta.background.subtracted
        assert meta.cal_step.flat_field == "COMPLETE" and meta.cal_step.flux == "INCOMPLETE"
        assert meta.spike_cutout.origin == [1916, 1916]
        assert 2.5e-13 < meta.photometry.pixel_area < 3e-13  # (0.1075")^2 in sr
        # romancal rebuilds the same V2V3 -> sky transform from meta.wcsinfo
        v2, v3 = meta.wcsinfo.v2_ref + 30.0, meta.wcsinfo.v3_ref - 20.0
        np.testing.assert_allclose(
            v23tosky(m)(v2, v3), meta.wcs.get_transform("v2v3", "world")(v2, v3), atol=1e-11
        )
        m.validate()  # a schema problem would warn, and warnings are errors
    rolls = [m.meta.wcsinfo.roll_ref for m in models]
    np.testing.assert_allclose(rolls, [60.0] * 4 + [80.0] * 4, atol=1e-3)


def test_psf_method_prepared_once_per_exposure(simulation, method):
    assert len(method.prepared) == len(simulation.models)
    for detector, model in zip(method.prepared, simulation.models, strict=True):
        assert (detector.mission, detector.instrument) == ("roman", "WFI")
        assert detector.detector == "WFI01"
        assert (detector.filter, detector.pupil, detector.shape) == ("F158", None, (256, 256))
        assert detector.wcs is model.meta.wcs and detector.filename == model.meta.filename
        assert detector.extra["cutout_origin"] == (1916, 1916)


def test_star_centroids_match_wcs(simulation):
    assert len(simulation.stars) == 8
    for index, model in enumerate(simulation.models):
        rows = on_array_rows(simulation, index)
        assert len(rows) == 8
        x, y = model.meta.wcs.invert(np.asarray(simulation.stars["ra"]),
                                     np.asarray(simulation.stars["dec"]))
        np.testing.assert_allclose(rows["x"], x)
        background = model.meta.background.level
        for xi, yi in zip(x, y, strict=True):
            cx, cy = measure_centroid(model.data, model.dq, xi, yi, background=background)
            assert np.hypot(cx - xi, cy - yi) < 0.05


def test_star_flux_matches_photometry(simulation):
    rows = simulation.positions[simulation.positions["exposure"] == 0]
    meta = simulation.models[0].meta
    flux_jy = np.asarray(simulation.stars["flux"])
    expected = flux_jy * 1e-6 / meta.photometry.pixel_area / meta.photometry.conversion_megajanskys
    np.testing.assert_allclose(rows["flux_data"], expected, rtol=1e-9)
    data = simulation.models[0].data - meta.background.level
    for row in rows[:3]:  # bright stars: a 21 x 21 box holds the whole Gaussian
        ix, iy = round(row["x"]), round(row["y"])
        total = np.nansum(data[iy - 10 : iy + 11, ix - 10 : ix + 11])
        assert total == pytest.approx(row["flux_data"], rel=0.05)


def test_dithers_and_rotation(simulation):
    positions = simulation.positions
    scale = np.mean(sca_info("WFI01").pixel_scale)
    expected = [0.0, np.hypot(3.37, 1.71), np.hypot(1.24, 4.58), np.hypot(4.63, 6.29)]
    first = positions[positions["exposure"] == 0]
    for index in range(1, 4):
        rows = positions[positions["exposure"] == index]
        shift = np.hypot(rows["x"] - first["x"], rows["y"] - first["y"])
        np.testing.assert_allclose(shift, expected[index], rtol=0.03)
        assert np.ptp(rows["x"] - first["x"]) < 0.05 and np.ptp(rows["y"] - first["y"]) < 0.05
    assert scale == pytest.approx(0.108, abs=2e-3)
    models = simulation.models
    for index in range(4):
        pa_1 = y_axis_position_angle(models[index].meta.wcs, 127.5, 127.5)
        pa_2 = y_axis_position_angle(models[index + 4].meta.wcs, 127.5, 127.5)
        assert (pa_2 - pa_1) % 360 == pytest.approx(20.0, abs=1e-3)


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
        var_rnoise = model.var_rnoise[good].astype(float)
        assert 0.05 < np.std(var_rnoise) / np.mean(var_rnoise) < 0.3
        sky = np.median(model.data[good])
        noise = np.median(model.err[good].astype(float))
        assert abs(sky - model.meta.background.level) < 0.1 * noise
        robust_std = 1.4826 * np.median(np.abs(model.data[good] - sky))
        assert robust_std == pytest.approx(noise, rel=0.1)


def test_two_scas_share_the_attitude_and_see_their_own_stars(two_sca):
    models = two_sca.models
    assert [m.meta.instrument.detector for m in models] == ["WFI01", "WFI02"] * 4
    for first, second in zip(models[::2], models[1::2], strict=True):
        # one exposure: same attitude and group id, different SCA and sky
        assert first.meta.observation.observation_id == second.meta.observation.observation_id
        assert first.meta.pointing.ra_v1 == pytest.approx(second.meta.pointing.ra_v1, abs=1e-10)
        assert first.meta.exposure.start_time == second.meta.exposure.start_time
        assert first.meta.instrument.optical_element == "F106"
    assert len(two_sca.stars) == 16
    for index, model in enumerate(models):
        rows = on_array_rows(two_sca, index)
        assert len(rows) == 8  # each cut-out sees its own pattern only
        for row in rows:
            cx, cy = measure_centroid(model.data, model.dq, row["x"], row["y"],
                                      background=model.meta.background.level)
            assert np.hypot(cx - row["x"], cy - row["y"]) < 0.05


# --------------------------------------------------------------------------------------
# romancal


def test_romancal_resample_puts_stars_where_the_mosaic_wcs_says(simulation):
    before = [(m.data.copy(), m.dq.copy(), m.meta.wcsinfo.ra_ref) for m in simulation.models]
    results = {step: resample(simulation.models, pixmap_stepsize=step) for step in (1, 10)}
    result = results[1]
    assert result.meta.resample.pixmap_stepsize == 1
    # the default sparse pixel map (every 10 px + cubic splines) is exact at this level
    peak = np.nanmax(result.data)
    assert np.nanmax(np.abs(results[10].data - result.data)) < 1e-6 * peak
    x, y = result.meta.wcs.invert(np.asarray(simulation.stars["ra"]),
                                  np.asarray(simulation.stars["dec"]))
    assert np.all(np.isfinite(x) & np.isfinite(y))
    background = np.nanmedian(result.data)
    assert abs(background) < 0.01  # meta.background.level was subtracted
    for xi, yi in zip(x, y, strict=True):
        cx, cy = measure_centroid(result.data, None, xi, yi, background=background)
        assert np.hypot(cx - xi, cy - yi) < 0.05
    for model, (data, dq, ra_ref) in zip(simulation.models, before, strict=True):
        np.testing.assert_array_equal(model.data, data)
        np.testing.assert_array_equal(model.dq, dq)
        assert model.meta.wcsinfo.ra_ref == ra_ref


def test_romancal_resample_of_two_scas(two_sca):
    result = resample(two_sca.models)
    assert max(result.data.shape) < 1600  # the cut-outs face each other across the gap
    x, y = result.meta.wcs.invert(np.asarray(two_sca.stars["ra"]), np.asarray(two_sca.stars["dec"]))
    background = np.nanmedian(result.data)
    for xi, yi in zip(x, y, strict=True):
        cx, cy = measure_centroid(result.data, None, xi, yi, background=background)
        assert np.hypot(cx - xi, cy - yi) < 0.05


def test_association_round_trip(two_sca, tmp_path):
    from romancal.datamodels import ModelLibrary
    from romancal.resample import ResampleStep

    models = two_sca.models[:4]
    path = write_roman_association(models, tmp_path, product_name="spike_test")
    assert path.name == "spike_test_asn.json"
    asn = json.loads(path.read_text())
    assert asn["target"] == "spike_sim" and asn["program"] == "00001"
    assert asn["products"][0]["name"] == "spike_test"
    assert [m["expname"] for m in asn["products"][0]["members"]] == [
        m.meta.filename for m in models
    ]
    library = ModelLibrary(path)
    assert len(library) == 4
    assert sorted(library.group_names) == sorted({m.meta.observation.observation_id
                                                  for m in models})
    with library:
        for index, original in enumerate(models):
            model = library.borrow(index)
            np.testing.assert_array_equal(model.data, original.data)
            np.testing.assert_array_equal(model.var_rnoise, original.var_rnoise)
            np.testing.assert_allclose(model.meta.wcs(10.0, 20.0), original.meta.wcs(10.0, 20.0))
            origin = TWO_SCA_ORIGINS[model.meta.instrument.detector]
            assert model.meta.spike_cutout.origin == list(origin)
            library.shelve(model, index, modify=False)
    # target "None": the default sky-cell lookup falls back to a grid around the inputs
    path = write_roman_association(models[:2], tmp_path / "none", target="None")
    result = ResampleStep().run(str(path))
    assert result.meta.filename == "spike_roman_mosaic"
    assert result.meta.wcsinfo.skycell_name == "None"
    with pytest.raises(ValueError, match="distinct"):
        write_roman_association([models[0], models[0]], tmp_path / "dup")


def test_default_psf_method_is_imported_lazily(monkeypatch):
    fake = types.ModuleType("spike.psf.galsim_method")
    fake.GalSimPSFMethod = RomanGaussianPSFMethod
    monkeypatch.setitem(sys.modules, "spike.psf.galsim_method", fake)
    models = make_roman_cal_exposures(shape=(96, 96), dithers=[(0.0, 0.0)], rotations=(0.0,))
    assert len(models) == 1 and models[0].shape == (96, 96)


def test_bad_options_raise(method):
    with pytest.raises(ValueError, match="psf_size"):
        make_roman_cal_exposures(psf_method=method, psf_size=24)
    with pytest.raises(ValueError, match="shape"):
        make_roman_cal_exposures(psf_method=method, shape=(40, 40))
    with pytest.raises(ValueError, match="rotations and dithers"):
        make_roman_cal_exposures(psf_method=method, rotations=())
    with pytest.raises(ValueError, match="filter"):
        make_roman_cal_exposures(psf_method=method, filter="GRISM")
    with pytest.raises(ValueError, match="distinct"):
        make_roman_cal_exposures(psf_method=method, detectors=("WFI01", "WFI01"))
    with pytest.raises(ValueError, match="no origin for"):
        make_roman_cal_exposures(
            psf_method=method, detectors=("WFI01", "WFI02"), cutout_origin={"WFI01": (0, 0)}
        )
