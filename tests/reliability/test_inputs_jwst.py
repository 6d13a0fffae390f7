"""Bad JWST inputs: broken files and associations, mosaics given as exposures, repeats,
reference mosaics of another band, and exposures without usable pixels."""

import json
import logging
import shutil

import numpy as np
import pytest
from astropy.io import fits
from stdatamodels.jwst.datamodels.dqflags import pixel

from spike.exceptions import SpikeError
from spike.steps import DrizzlePSFStep, GeneratePSFStep


def _members(asn_path):
    return json.loads(asn_path.read_text())["products"][0]["members"]


@pytest.fixture
def data(tmp_path):
    directory = tmp_path / "in"
    directory.mkdir()
    return directory


def _copy_asn(jwst_asn, data, members=None, **changes):
    """A copy of the association (and its members) in ``data``, with changes."""
    asn = json.loads(jwst_asn.read_text())
    for member in _members(jwst_asn):
        shutil.copy2(jwst_asn.parent / member["expname"], data)
    if members is not None:
        asn["products"][0]["members"] = members
    asn.update(changes)
    path = data / "test_asn.json"
    path.write_text(json.dumps(asn))
    return path


# --------------------------------------------------------------------- associations


ASSOCIATIONS = [
    ("not-json", "{ this is not json", ValueError,
     r"test_asn\.json is not a valid association \(no products/members\)"),
    ("no-products", json.dumps({"asn_type": "image3"}), ValueError,
     r"test_asn\.json is not a valid association \(no products/members\)"),
    ("empty-products", json.dumps({"products": []}), ValueError,
     r"test_asn\.json is not a valid association"),
    ("no-science", json.dumps({"products": [{"name": "p", "members": [
        {"expname": "x_cal.fits", "exptype": "background"}]}]}), ValueError,
     r"Association .*test_asn\.json has no science members"),
    ("missing-member", json.dumps({"products": [{"name": "p", "members": [
        {"expname": "gone_cal.fits", "exptype": "science"}]}]}), FileNotFoundError,
     r"test_asn\.json lists gone_cal\.fits, which does not exist"),
]


@pytest.mark.parametrize(("text", "exc", "match"), [c[1:] for c in ASSOCIATIONS],
                         ids=[c[0] for c in ASSOCIATIONS])
def test_broken_association(clean_run, data, jwst_star, text, exc, match):
    (data / "test_asn.json").write_text(text)
    clean_run(DrizzlePSFStep, str(data / "test_asn.json"), **jwst_star, exc=exc, match=match)


def test_exposure_listed_twice(clean_run, jwst_asn, data, jwst_star):
    members = _members(jwst_asn)
    path = _copy_asn(jwst_asn, data, members=[*members, members[2]])
    name = members[2]["expname"]
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError,
              match=rf"Exposure .*{name} is given twice \(inputs 3 and 9\)")


def test_file_listed_twice(clean_run, jwst_asn, jwst_star):
    first = str(jwst_asn.parent / _members(jwst_asn)[0]["expname"])
    clean_run(GeneratePSFStep, [first, first], **jwst_star, exc=ValueError,
              match=r"_cal\.fits is given twice \(inputs 1 and 2\)")


def test_model_listed_twice(clean_run, jwst_sim, jwst_star):
    model = jwst_sim.models[0]
    clean_run(DrizzlePSFStep, [model, jwst_sim.models[1], model], **jwst_star, exc=ValueError,
              match=rf"Exposure {model.meta.filename} is given twice \(inputs 1 and 3\)")


INPUTS = [
    ("empty-list", [], ValueError, r"The input list is empty"),
    ("glob-no-match", "nothing_here_*_cal.fits", FileNotFoundError,
     r"No file matches the pattern 'nothing_here_\*_cal\.fits'"),
    ("list-file-missing", "@absent.lst", FileNotFoundError, r"List file absent\.lst does not"),
    ("not-a-file-type", 42, TypeError, r"Cannot tell which mission a int input belongs to"),
]


@pytest.mark.parametrize(("value", "exc", "match"), [c[1:] for c in INPUTS],
                         ids=[c[0] for c in INPUTS])
def test_bad_input_argument(clean_run, jwst_star, value, exc, match):
    clean_run(DrizzlePSFStep, value, **jwst_star, exc=exc, match=match)


# --------------------------------------------------------------------- broken files


def _write(path, content):
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


FILES = [
    ("zero-byte-fits", "jw_x_cal.fits", b"",
     r"jw_x_cal\.fits is not a FITS exposure with a TELESCOP keyword"),
    ("text-as-fits", "jw_x_cal.fits", "SIMPLE = nonsense\n" * 50,
     r"jw_x_cal\.fits is not a FITS exposure with a TELESCOP keyword"),
    ("zero-byte-asdf", "jw_x_cal.asdf", b"",
     r"jw_x_cal\.asdf cannot be read as an ASDF file"),
    ("text-as-asdf", "jw_x_cal.asdf", "just some words\n",
     r"jw_x_cal\.asdf cannot be read as an ASDF file"),
    ("yaml-list-asdf", "jw_x_cal.asdf", "#ASDF 1.0.0\n%YAML 1.1\n---\n- 1\n- 2\n...\n",
     r"jw_x_cal\.asdf is not an ASDF file holding a datamodel"),
    ("unknown-extension", "jw_x_cal.txt", "hello",
     r"jw_x_cal\.txt: unrecognised file type '\.txt'"),
]


@pytest.mark.parametrize(("name", "content", "match"), [c[1:] for c in FILES],
                         ids=[c[0] for c in FILES])
def test_broken_file(clean_run, data, jwst_star, name, content, match):
    path = _write(data / name, content)
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError, match=match)


def test_truncated_fits_exposure(clean_run, jwst_asn, data, jwst_star):
    source = jwst_asn.parent / _members(jwst_asn)[0]["expname"]
    raw = source.read_bytes()
    path = _write(data / source.name, raw[: len(raw) // 2])
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError,
              match=rf"{source.name} is truncated \(File may have been truncated")


def test_fits_without_telescope(clean_run, data, jwst_star):
    path = data / "plain_cal.fits"
    fits.PrimaryHDU(np.zeros((8, 8), np.float32)).writeto(path)
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError,
              match=r"plain_cal\.fits is not a FITS exposure with a TELESCOP keyword")


# --------------------------------------------------------------------- content


def _save(model, path, **meta):
    with model.copy() as copy:
        for dotted, value in meta.items():
            node = copy.meta
            *parents, last = dotted.split(".")
            for key in parents:
                node = getattr(node, key)
            setattr(node, last, value)
        copy.save(path)
    return path


def test_mosaic_given_as_exposure(clean_run, jwst_sim, data, jwst_star):
    """A level-3 product (``cal_step.resample`` COMPLETE) among the exposures."""
    path = _save(jwst_sim.models[0], data / "jw01234-o001_t001_nircam_clear-f200w_i2d.fits",
                 **{"cal_step.resample": "COMPLETE"})
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError,
              match=r"clear-f200w_i2d\.fits is a resampled mosaic \(_i2d\), not a calibrated "
                    r"exposure: .* as reference_mosaic")


def test_non_imaging_exposure(clean_run, jwst_sim, data, jwst_star):
    path = _save(jwst_sim.models[0], data / "jw01234001001_02101_00001_nrca1_cal.fits",
                 **{"exposure.type": "NRC_WFSS"})
    clean_run(DrizzlePSFStep, str(path), **jwst_star, exc=ValueError,
              match=r"nrca1_cal\.fits: exposure type NRC_WFSS is not direct imaging")


def test_mixed_filters(clean_run, jwst_sim, jwst_star):
    other = jwst_sim.models[1].copy()
    other.meta.instrument.filter = "F150W"
    clean_run(DrizzlePSFStep, [jwst_sim.models[0], other], **jwst_star, exc=ValueError,
              match=r"The input mixes instruments or filters.*F150W/CLEAR: 1 exposure")


@pytest.mark.parametrize(("meta", "match"), [
    ({"instrument.filter": "F150W"}, r"is filter F150W, the exposures are F200W"),
    ({"instrument.name": "NIRISS", "instrument.filter": "F200W", "instrument.pupil": "CLEARP"},
     r"is instrument NIRISS, the exposures are NIRCAM"),
    ({"instrument.pupil": "F162M"}, r"is pupil F162M, the exposures are CLEAR"),
], ids=["filter", "instrument", "pupil"])
def test_reference_mosaic_of_another_band(clean_run, jwst_asn, jwst_sim, data, jwst_star,
                                          meta, match):
    mosaic = _save(jwst_sim.models[0], data / "other_i2d.fits",
                   **{"cal_step.resample": "COMPLETE", **meta})
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, reference_mosaic=str(mosaic),
              exc=ValueError, match=r"reference_mosaic other_i2d\.fits " + match)


def test_reference_mosaic_not_a_datamodel(clean_run, jwst_asn, data, jwst_star):
    mosaic = _write(data / "junk_i2d.fits", "not fits at all\n" * 100)
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, reference_mosaic=str(mosaic),
              exc=ValueError,
              match=r"reference_mosaic .*junk_i2d\.fits cannot be opened as a JWST image")


def test_output_wcs_not_asdf(clean_run, jwst_asn, data, jwst_star):
    path = _write(data / "grid.asdf", "no gwcs here\n")
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, output_wcs=str(path),
              exc=ValueError, match=r"output_wcs .*grid\.asdf cannot be read as an ASDF file")


def _unusable(model, how):
    copy = model.copy()
    if how == "nan":
        copy.data = np.full(copy.data.shape, np.nan, np.float32)
    else:
        copy.dq = np.full(copy.dq.shape, pixel["DO_NOT_USE"], np.uint32)
    return copy


@pytest.mark.parametrize("how", ["nan", "do_not_use"])
def test_every_exposure_unusable(clean_run, jwst_sim, jwst_star, gaussian_psf, how, caplog):
    """No pixel of any exposure can carry weight: an error, not an all-NaN product."""
    models = [_unusable(m, how) for m in jwst_sim.models[:3]]
    caplog.set_level(logging.WARNING, logger="spike")
    clean_run(DrizzlePSFStep, models, None, gaussian_psf, **jwst_star, method="user",
              stamp_size=11, exc=SpikeError,
              match=r"No exposure pixel with weight reaches any source \(1\): every exposure "
                    r"covering it has NaN data or data-quality flags")
    why = "all NaN" if how == "nan" else "every pixel is flagged"
    warned = [r.getMessage() for r in caplog.records if "has no usable pixel" in r.getMessage()]
    assert len(warned) == 3 and all(why in w for w in warned)


def test_one_exposure_unusable_is_a_warning(jwst_sim, jwst_star, gaussian_psf, caplog):
    """One dead exposure: the product is made from the others, and n_exposures says so."""
    models = [_unusable(jwst_sim.models[0], "nan"), *jwst_sim.models[1:4]]
    caplog.set_level(logging.WARNING, logger="spike")
    result = DrizzlePSFStep.call(models, None, gaussian_psf, **jwst_star, method="user",
                                 stamp_size=11)
    assert list(result.sources["n_exposures"]) == [3]
    assert list(result.contributions[0]) == [0, 1, 1, 1]
    assert f"Exposure {models[0].meta.filename}" in caplog.text
    assert "has no usable pixel: its data are all NaN" in caplog.text
