"""spike's datamodels: stpipe interface, schema checks, round trips and helpers."""

import numpy as np
import pytest
from asdf.exceptions import ValidationError
from astropy.time import Time
from photutils.psf import ImagePSF
from stdatamodels.exceptions import ValidationWarning
from stpipe.datamodel import AbstractDataModel

import spike
from spike.datamodels import DrizzledPSFModel, ExposurePSFModel, SpikeDataModel
from spike.datamodels import open as open_model

CORE_META = [
    "telescope",
    "mission",
    "product_name",
    "instrument.name",
    "instrument.detector",
    "instrument.filter",
    "instrument.pupil",
    "instrument.channel",
    "instrument.module",
    "cal_step.generate_psf",
    "psf.method",
    "psf.oversampling",
]
EXPOSURE_META = [
    "oversampling",
    "stamp_size",
    "exposure.filename",
    "exposure.exposure_type",
    "exposure.chip",
]
DRIZZLED_META = [
    "cal_step.drizzle_psf",
    *(f"mosaic.{k}" for k in ("nx", "ny", "pixel_scale", "reference_mosaic")),
    *(
        f"resample.{k}"
        for k in (
            "pixfrac",
            "kernel",
            "fillval",
            "weight_type",
            "good_bits",
            "pixel_scale_ratio",
            "pixel_scale",
            "pixmap_stepsize",
            "pixmap_order",
            "output_wcs_source",
        )
    ),
]


def _get(node, dotted):
    for key in dotted.split("."):
        node = getattr(node, key)
    return node


def _as_str(value):
    return value.decode("ascii") if isinstance(value, bytes) else str(value)


def _native(dtype):
    """Return ``dtype`` in native byte order (FITS stores big-endian)."""
    return np.dtype(dtype).newbyteorder("=")


def _assert_tables_equal(actual, expected):
    assert list(actual.dtype.names) == list(expected.dtype.names)
    for name in expected.dtype.names:
        if expected.dtype[name].kind in "SU":
            assert [_as_str(v) for v in actual[name]] == [_as_str(v) for v in expected[name]]
        else:
            assert _native(actual[name].dtype) == _native(expected[name].dtype)
            np.testing.assert_array_equal(actual[name], expected[name])


def _assert_meta_equal(actual, expected, keys):
    for key in keys:
        assert _get(actual.meta, key) == _get(expected.meta, key), key
    assert actual.meta.psf.parameters.instance == expected.meta.psf.parameters.instance
    assert list(actual.meta.cal_logs.generate_psf) == list(expected.meta.cal_logs.generate_psf)


@pytest.mark.parametrize("cls", [SpikeDataModel, ExposurePSFModel, DrizzledPSFModel])
def test_stpipe_interface(cls):
    with cls() as model:
        assert isinstance(model, AbstractDataModel)
        assert model.crds_observatory == "jwst"
        model.meta.telescope = "HST"
        assert model.crds_observatory == "hst"
        assert model.meta.model_type == cls.__name__


def test_crds_parameters_are_flat_scalars(drizzled_model):
    params = drizzled_model.get_crds_parameters()
    assert params["meta.instrument.name"] == "NIRCAM"
    assert params["meta.resample.pixfrac"] == 1.0
    assert all(key.startswith("meta.") for key in params)
    assert all(isinstance(v, (str, int, float, complex, bool)) for v in params.values())


def test_init_and_save_stamp_date_and_version(tmp_path, exposure_model):
    assert exposure_model.meta.spike_version == spike.__version__
    created = Time(exposure_model.meta.date, format="isot", scale="utc")
    exposure_model.meta.spike_version = "0.0.0.dev"
    exposure_model.meta.date = "2000-01-01T00:00:00.000"
    exposure_model.save(tmp_path / "exposure.asdf")
    assert exposure_model.meta.spike_version == spike.__version__
    assert Time(exposure_model.meta.date) >= created


@pytest.mark.parametrize("ext", ["asdf", "fits"])
def test_exposure_round_trip(tmp_path, exposure_model, ext):
    path = exposure_model.save(tmp_path / f"exposure.{ext}")
    with open_model(path) as model:
        assert isinstance(model, ExposurePSFModel)
        assert _native(model.data.dtype) == np.float32
        np.testing.assert_array_equal(model.data, exposure_model.data)
        _assert_tables_equal(model.sources, exposure_model.sources)
        _assert_meta_equal(model, exposure_model, CORE_META + EXPOSURE_META)
        assert model.source_ids == ["src-1", "src-2", "gaia 1234567890"]


@pytest.mark.parametrize("ext", ["asdf", "fits"])
def test_drizzled_round_trip(tmp_path, drizzled_model, ext):
    path = drizzled_model.save(tmp_path / f"drizzled.{ext}")
    with open_model(path) as model:
        assert isinstance(model, DrizzledPSFModel)
        for name, dtype in [
            ("data", np.float32),
            ("wht", np.float32),
            ("con", np.int32),
            ("contributions", np.uint8),
        ]:
            assert _native(getattr(model, name).dtype) == dtype, name
            np.testing.assert_array_equal(getattr(model, name), getattr(drizzled_model, name))
        _assert_tables_equal(model.sources, drizzled_model.sources)
        _assert_tables_equal(model.exposures, drizzled_model.exposures)
        _assert_meta_equal(model, drizzled_model, CORE_META + DRIZZLED_META)
        x, y = np.meshgrid(np.arange(0, 200, 37.0), np.arange(0, 150, 29.0))
        np.testing.assert_allclose(
            model.meta.wcs(x, y), drizzled_model.meta.wcs(x, y), rtol=0, atol=1e-12
        )
        assert model.meta.wcs.bounding_box.bounding_box() == ((-0.5, 199.5), (-0.5, 149.5))


def test_fits_layout(tmp_path, drizzled_model):
    from astropy.io import fits

    path = drizzled_model.save(tmp_path / "drizzled.fits")
    with fits.open(path) as hdulist:
        names = [hdu.name for hdu in hdulist]
        header = hdulist[0].header
    assert names == ["PRIMARY", "SCI", "WHT", "CON", "SOURCES", "EXPOSURES", "CONTRIB", "ASDF"]
    assert header["DATAMODL"] == "DrizzledPSFModel"
    assert header["TELESCOP"] == "JWST"
    assert header["INSTRUME"] == "NIRCAM"
    assert header["FILTER"] == "F200W"
    assert header["PIXFRAC"] == 1.0


def test_strict_validation_raises():
    with ExposurePSFModel(strict_validation=True) as model, pytest.raises(ValidationError):
        model.meta.mission = "spitzer"


def test_validation_warns_and_rejects_by_default():
    with ExposurePSFModel() as model:
        with pytest.warns(ValidationWarning, match="minimum of 1"):
            model.meta.oversampling = 0
        assert model.meta.oversampling is None


def test_wrong_ndim_raises():
    with DrizzledPSFModel() as model, pytest.raises(ValueError, match="wrong number of dim"):
        model.data = np.zeros((4, 4))


def test_source_index(exposure_model):
    assert exposure_model.source_index("gaia 1234567890") == 2
    with pytest.raises(KeyError, match="nope"):
        exposure_model.source_index("nope")


def test_to_imagepsf(exposure_model):
    psf = exposure_model.to_imagepsf(1)
    assert isinstance(psf, ImagePSF)
    np.testing.assert_array_equal(psf.data, exposure_model.data[1])
    assert psf.x_0.value == 30.25
    assert psf.y_0.value == 20.5
    np.testing.assert_array_equal(psf.oversampling, [4, 4])
    with pytest.raises(IndexError, match="out of range"):
        exposure_model.to_imagepsf(3)


@pytest.mark.parametrize("i", [0, 1, 2])
def test_cutout_wcs(drizzled_model, i):
    mosaic = drizzled_model.meta.wcs
    row = drizzled_model.sources[i]
    cutout = drizzled_model.cutout_wcs(i)
    ny, nx = drizzled_model.data.shape[1:]
    assert cutout.array_shape == (ny, nx)
    assert cutout.bounding_box.bounding_box() == ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    assert cutout.input_frame.name == mosaic.input_frame.name
    assert cutout.output_frame.name == mosaic.output_frame.name
    expected = mosaic.pixel_to_world(row["xstart"], row["ystart"])
    assert cutout.pixel_to_world(0, 0).separation(expected).to_value("arcsec") < 1e-9
    xs, ys = np.meshgrid(np.arange(nx, dtype=float), np.arange(ny, dtype=float))
    world = cutout.pixel_to_world(xs, ys)
    np.testing.assert_allclose(
        cutout(xs, ys), mosaic(xs + row["xstart"], ys + row["ystart"]), rtol=0, atol=1e-12
    )
    x_back, y_back = cutout.world_to_pixel(world)
    np.testing.assert_allclose(x_back, xs, rtol=0, atol=1e-6)
    np.testing.assert_allclose(y_back, ys, rtol=0, atol=1e-6)


def test_cutout_wcs_needs_wcs(exposure_model):
    with DrizzledPSFModel(exposure_model.data) as model, pytest.raises(ValueError, match="wcs"):
        model.cutout_wcs(0)


def test_normalized(drizzled_model):
    for i in range(3):
        np.testing.assert_allclose(drizzled_model.normalized(i).sum(), 1.0, rtol=1e-5)
    drizzled_model.sources["psf_sum"][1] = 0.0
    with pytest.raises(ValueError, match="psf_sum is 0.0"):
        drizzled_model.normalized(1)
