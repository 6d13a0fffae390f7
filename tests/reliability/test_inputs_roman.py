"""Bad Roman inputs: broken ASDF files, missing metadata, mosaics as exposures, other bands."""

import json
import logging
import shutil

import numpy as np
import pytest
from roman_datamodels.dqflags import pixel

from spike.exceptions import SpikeError
from spike.steps import DrizzlePSFStep


def _first_member(roman_asn):
    name = json.loads(roman_asn.read_text())["products"][0]["members"][0]["expname"]
    return roman_asn.parent / name


@pytest.fixture
def data(tmp_path):
    directory = tmp_path / "in"
    directory.mkdir()
    return directory


def _replace_same_length(raw, old, new):
    """Edit the YAML tree of an ASDF file in place of bytes (block offsets stay valid)."""
    assert len(old) == len(new) and raw.count(old) >= 1
    return raw.replace(old, new, 1)


BROKEN = [
    ("truncated", lambda raw: raw[: len(raw) * 2 // 3],
     r"Cannot read array '\w+' of .*_cal\.asdf: ValueError"),
    ("zero-byte", lambda raw: b"", r"_cal\.asdf cannot be read as an ASDF file"),
    ("yaml-cut", lambda raw: raw[:200], r"_cal\.asdf cannot be read as an ASDF file"),
    ("missing-start_time", lambda raw: _replace_same_length(raw, b"start_time:", b"start_tXme:"),
     r"^Cannot open .*_cal\.asdf as a Roman datamodel: meta\.exposure: 'start_time' is a "
     r"required property$"),
    ("missing-detector", lambda raw: _replace_same_length(raw, b"detector:", b"detectXr:"),
     r"^Cannot open .*_cal\.asdf as a Roman datamodel: meta\.instrument: 'detector' is a "
     r"required property$"),
]


@pytest.mark.parametrize(("edit", "match"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_roman_file(clean_run, roman_asn, data, roman_star, edit, match):
    source = _first_member(roman_asn)
    path = data / source.name  # same name: roman_datamodels checks meta.filename
    path.write_bytes(edit(source.read_bytes()))
    err = clean_run(DrizzlePSFStep, str(path), **roman_star, exc=ValueError, match=match)
    assert len(str(err)) < 600  # not a schema dump


def test_mosaic_given_as_exposure(clean_run, roman_mosaic, roman_star):
    _, path = roman_mosaic
    clean_run(DrizzlePSFStep, str(path), **roman_star, exc=TypeError,
              match=rf"{path.name} is a MosaicModel, not a Roman WFI level-2 image")


def test_exposure_listed_twice(clean_run, roman_asn, data, roman_star):
    asn = json.loads(roman_asn.read_text())
    for member in asn["products"][0]["members"]:
        shutil.copy2(roman_asn.parent / member["expname"], data)
    asn["products"][0]["members"].append(asn["products"][0]["members"][0])
    (data / "twice_asn.json").write_text(json.dumps(asn))
    clean_run(DrizzlePSFStep, str(data / "twice_asn.json"), **roman_star, exc=ValueError,
              match=r"_cal\.asdf is given twice \(inputs 1 and 9\)")


def test_reference_mosaic_of_another_filter(clean_run, roman_asn, roman_mosaic, data,
                                            roman_star):
    mosaic, _ = roman_mosaic
    with mosaic.copy() as other:
        other.meta.instrument.optical_element = "F062"
        other.meta.filename = "other_f062_coadd.asdf"
        other.save(data / "other_f062_coadd.asdf")
    clean_run(DrizzlePSFStep, str(roman_asn), **roman_star,
              reference_mosaic=str(data / "other_f062_coadd.asdf"), exc=ValueError,
              match=r"reference_mosaic other_f062_coadd\.asdf is filter F062, the exposures "
                    r"are F158")


def test_reference_mosaic_is_an_exposure(clean_run, roman_asn, roman_star):
    clean_run(DrizzlePSFStep, str(roman_asn), **roman_star,
              reference_mosaic=str(_first_member(roman_asn)), exc=ValueError,
              match=r"reference_mosaic .*_cal\.asdf is a ImageModel, not a level-3 mosaic")


@pytest.mark.parametrize(("value", "match"), [
    ("BANANA", r"good_bits='BANANA' is not a ROMAN DQ flag combination"),
    ("~DO_NOT_USE+FOO", r"good_bits='~DO_NOT_USE\+FOO' is not a ROMAN DQ flag combination"),
], ids=["word", "unknown-flag"])
def test_roman_good_bits(clean_run, roman_asn, roman_star, value, match):
    clean_run(DrizzlePSFStep, str(roman_asn), **roman_star, good_bits=value, exc=ValueError,
              match=match)


def test_wrong_detector(clean_run, roman_sim, roman_star):
    model = roman_sim.models[0].copy()
    model.meta.instrument.detector = "WFI19"
    clean_run(DrizzlePSFStep, [model], **roman_star, exc=ValueError,
              match=r"detector 'WFI19' is not a Roman WFI SCA")


def test_every_roman_exposure_flagged(clean_run, roman_sim, roman_star, caplog):
    models = []
    for model in roman_sim.models[:4]:
        copy = model.copy()
        copy.dq = np.full(copy.dq.shape, pixel.DO_NOT_USE, np.uint32)
        models.append(copy)
    caplog.set_level(logging.WARNING, logger="spike")
    clean_run(DrizzlePSFStep, models, **roman_star, stamp_size=11, exc=SpikeError,
              match=r"No exposure pixel with weight reaches any source")
    assert caplog.text.count("every pixel is flagged in its DQ array") == 4
