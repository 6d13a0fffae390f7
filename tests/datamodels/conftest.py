"""Fixtures for the spike datamodels tests: a small TAN gwcs and filled models."""

import numpy as np
import pytest
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import models
from gwcs import coordinate_frames as cf
from gwcs.wcs import WCS

from spike.datamodels import DrizzledPSFModel, ExposurePSFModel

N_SOURCES = 3
SHAPE = (N_SOURCES, 12, 10)


@pytest.fixture
def mosaic_wcs():
    """Return a 0.05"/pix TAN gwcs of a 200 x 150 mosaic centred on (150, 2) deg."""
    scale = 0.05 / 3600
    transform = (
        (models.Shift(-99.5) & models.Shift(-74.5))
        | (models.Scale(scale) & models.Scale(scale))
        | models.Pix2Sky_TAN()
        | models.RotateNative2Celestial(150.0, 2.0, 180.0)
    )
    detector = cf.Frame2D(name="detector", axes_names=("x", "y"), unit=(u.pix, u.pix))
    world = cf.CelestialFrame(reference_frame=coord.ICRS(), name="world", unit=(u.deg, u.deg))
    wcs = WCS([(detector, transform), (world, None)])
    wcs.bounding_box = ((-0.5, 199.5), (-0.5, 149.5))
    wcs.array_shape = (150, 200)
    return wcs


def _sources_table(extra=()):
    dtype = [
        ("id", "U64"),
        ("ra", "f8"),
        ("dec", "f8"),
        ("x", "f8"),
        ("y", "f8"),
        ("xstart", "i4"),
        ("ystart", "i4"),
        *extra,
        ("psf_sum", "f8"),
    ]
    table = np.zeros(N_SOURCES, dtype=dtype)
    table["id"] = ["src-1", "src-2", "gaia 1234567890"]
    table["ra"] = [150.0, 150.001, 149.999]
    table["dec"] = [2.0, 2.0005, 1.9995]
    table["x"] = [99.5, 30.25, 170.75]
    table["y"] = [74.5, 20.5, 130.0]
    table["xstart"] = [95, 25, 165]
    table["ystart"] = [68, 14, 124]
    table["psf_sum"] = [0.97, 0.95, 0.5]
    return table


def _fill_core(model, rng):
    model.data = rng.random(SHAPE, dtype=np.float32)
    model.meta.telescope = "JWST"
    model.meta.mission = "jwst"
    model.meta.product_name = "jw01234-o001_t001_nircam_clear-f200w"
    model.meta.instrument.name = "NIRCAM"
    model.meta.instrument.detector = "NRCB1"
    model.meta.instrument.filter = "F200W"
    model.meta.instrument.pupil = "CLEAR"
    model.meta.instrument.channel = "SHORT"
    model.meta.instrument.module = "B"
    model.meta.cal_step.generate_psf = "COMPLETE"
    model.meta.cal_logs.generate_psf = ["2025-01-01T00:00:00 INFO started", "done"]
    model.meta.psf.method = "stpsf"
    model.meta.psf.oversampling = 4
    model.meta.psf.parameters = {
        "fov_pixels": 41,
        "jitter_sigma": 0.007,
        "add_distortion": True,
        "options": {"jitter": "gaussian", "weights": [0.25, 0.75]},
    }


@pytest.fixture
def exposure_model():
    """Return a filled `ExposurePSFModel` of three sources."""
    rng = np.random.default_rng(13)
    model = ExposurePSFModel()
    _fill_core(model, rng)
    model.sources = _sources_table()
    model.meta.oversampling = 4
    model.meta.stamp_size = 3
    model.meta.exposure.filename = "jw01234001001_02101_00001_nrcb1_cal.fits"
    model.meta.exposure.exposure_type = "NRC_IMAGE"
    model.meta.exposure.chip = 1
    return model


@pytest.fixture
def drizzled_model(mosaic_wcs):
    """Return a filled `DrizzledPSFModel` of three sources from two exposures."""
    rng = np.random.default_rng(7)
    model = DrizzledPSFModel()
    _fill_core(model, rng)
    model.wht = rng.random(SHAPE, dtype=np.float32)
    model.con = rng.integers(0, 4, size=(N_SOURCES, 1, *SHAPE[1:]), dtype=np.int32)
    sources = _sources_table(extra=[("n_exposures", "i4")])
    sources["n_exposures"] = [2, 1, 2]
    sources["psf_sum"] = model.data.sum(axis=(1, 2))
    model.sources = sources
    exposures = np.zeros(
        2,
        dtype=[
            ("filename", "U128"),
            ("instrument", "U32"),
            ("detector", "U32"),
            ("filter", "U32"),
            ("pupil", "U32"),
        ],
    )
    exposures["filename"] = ["a_cal.fits", "b_cal.fits"]
    exposures["instrument"] = "NIRCAM"
    exposures["detector"] = ["NRCB1", "NRCB2"]
    exposures["filter"] = "F200W"
    exposures["pupil"] = "CLEAR"
    model.exposures = exposures
    model.contributions = np.array([[1, 1], [1, 0], [1, 1]], dtype=np.uint8)
    model.meta.cal_step.drizzle_psf = "COMPLETE"
    model.meta.wcs = mosaic_wcs
    model.meta.mosaic.nx = 200
    model.meta.mosaic.ny = 150
    model.meta.mosaic.pixel_scale = 0.05
    model.meta.mosaic.reference_mosaic = "jw01234-o001_t001_nircam_clear-f200w_i2d.fits"
    model.meta.resample.pixfrac = 1.0
    model.meta.resample.kernel = "square"
    model.meta.resample.fillval = "NAN"
    model.meta.resample.weight_type = "ivm"
    model.meta.resample.good_bits = "~DO_NOT_USE+NON_SCIENCE"
    model.meta.resample.pixel_scale_ratio = 1.0
    model.meta.resample.pixel_scale = 0.05
    model.meta.resample.pixmap_stepsize = 10.0
    model.meta.resample.pixmap_order = 1
    model.meta.resample.output_wcs_source = "reference_mosaic"
    return model
