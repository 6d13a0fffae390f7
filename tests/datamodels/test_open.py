"""`spike.datamodels.open` dispatches on model_type and names bad files."""

from pathlib import Path

import asdf
import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst.datamodels import ImageModel

import spike.datamodels as sdm


@pytest.mark.parametrize("ext", ["asdf", "fits"])
@pytest.mark.parametrize(
    ("fixture", "cls"),
    [("exposure_model", sdm.ExposurePSFModel), ("drizzled_model", sdm.DrizzledPSFModel)],
)
def test_open_dispatches(request, tmp_path, fixture, cls, ext):
    path = tmp_path / f"product.{ext}"
    request.getfixturevalue(fixture).save(path)
    for init in (path, str(path)):
        with sdm.open(init) as model:
            assert type(model) is cls
            assert model.meta.filename == path.name
            with sdm.open(model) as copy:
                assert type(copy) is cls


def test_open_hdulist(tmp_path, exposure_model):
    path = exposure_model.save(tmp_path / "exposure.fits")
    with fits.open(path) as hdulist, sdm.open(hdulist) as model:
        assert isinstance(model, sdm.ExposurePSFModel)
        np.testing.assert_array_equal(model.data, exposure_model.data)


def test_open_missing_file(tmp_path):
    path = tmp_path / "missing.asdf"
    with pytest.raises(FileNotFoundError, match="missing.asdf"):
        sdm.open(path)


def test_open_plain_fits(tmp_path):
    path = tmp_path / "plain.fits"
    fits.PrimaryHDU(np.zeros((4, 4))).writeto(path)
    with pytest.raises(ValueError, match=r"plain\.fits.* not a spike product"):
        sdm.open(path)


def test_open_other_datamodel(tmp_path):
    path = tmp_path / "image.fits"
    with ImageModel((4, 4)) as image:
        image.save(path)
    with pytest.raises(ValueError, match="'ImageModel'"):
        sdm.open(path)


def test_open_asdf_without_model_type(tmp_path):
    path = tmp_path / "plain.asdf"
    asdf.AsdfFile({"data": np.zeros(3)}).write_to(path)
    with pytest.raises(ValueError, match=r"plain\.asdf.* not a spike product"):
        sdm.open(path)


@pytest.mark.parametrize("name", ["garbage.fits", "garbage.asdf"])
def test_open_unreadable(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\x00\x01 definitely not a product" * 100)
    with pytest.raises(ValueError, match=f"Cannot read .*{name}"):
        sdm.open(path)


def test_open_wrong_extension(tmp_path):
    path = tmp_path / "table.ecsv"
    path.write_text("# %ECSV 1.0\n")
    with pytest.raises(ValueError, match=r"table\.ecsv.* not a \.fits or \.asdf file"):
        sdm.open(path)


@pytest.mark.parametrize("init", [None, 3, (2, 4, 4), Path])
def test_open_unsupported_type(init):
    with pytest.raises(TypeError, match="Cannot open a spike product"):
        sdm.open(init)


@pytest.mark.parametrize("ext", ["asdf", "fits"])
def test_open_one_liner(tmp_path, drizzled_model, ext):
    """``open(path).data`` works without keeping the model: products are read at once."""
    path = drizzled_model.save(tmp_path / f"product.{ext}")
    data = sdm.open(path).data
    np.testing.assert_array_equal(data, drizzled_model.data)
    assert sdm.open(path).sources["psf_sum"][0] == drizzled_model.sources["psf_sum"][0]


@pytest.mark.parametrize("ext", ["asdf", "fits"])
def test_text_columns_read_as_str(tmp_path, drizzled_model, exposure_model, ext):
    """One type for text, whether the product was saved as ASDF or FITS."""
    with sdm.open(drizzled_model.save(tmp_path / f"d.{ext}")) as model:
        assert type(model.exposures["filename"][0]) is str
        assert type(model.exposures[1]["detector"]) is str
        assert type(model.sources["id"][2]) is str
        assert model.source_ids == ["src-1", "src-2", "gaia 1234567890"]
        assert list(model.exposures["filename"]) == ["a_cal.fits", "b_cal.fits"]
    with sdm.open(exposure_model.save(tmp_path / f"e.{ext}")) as model:
        assert type(model.sources["id"][0]) is str and model.sources[1]["id"] == "src-2"
