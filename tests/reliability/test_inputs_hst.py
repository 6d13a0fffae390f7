"""Bad HST inputs: truncated exposures, drizzled products as exposures, repeats, bad DQ bits,
reference products of another band."""

import shutil

import numpy as np
import pytest
from astropy.io import fits

from spike.steps import DrizzlePSFStep


@pytest.fixture
def data(tmp_path):
    directory = tmp_path / "in"
    directory.mkdir()
    return directory


def test_truncated_flt(clean_run, hrc, data, hst_star):
    raw = hrc.files[0].read_bytes()
    path = data / hrc.files[0].name
    path.write_bytes(raw[: int(len(raw) * 0.6)])
    clean_run(DrizzlePSFStep, str(path), **hst_star, method="optical", exc=ValueError,
              match=rf"{path.name} is truncated \(File may have been truncated.*\); the file "
                    r"is incomplete")


def test_drz_given_as_exposure(clean_run, hrc, hst_star):
    clean_run(DrizzlePSFStep, str(hrc.drz), **hst_star, exc=ValueError,
              match=rf"{hrc.drz.name} is a drizzled product \(AstroDrizzle _drz/_drc\), not a "
                    r"calibrated exposure")


def test_drz_among_exposures(clean_run, hrc, hst_star):
    clean_run(DrizzlePSFStep, [*map(str, hrc.files[:2]), str(hrc.drz)], **hst_star,
              exc=ValueError, match=rf"{hrc.drz.name} is a drizzled product")


def test_flt_listed_twice(clean_run, hrc, hst_star):
    clean_run(DrizzlePSFStep, [str(hrc.files[1]), str(hrc.files[0]), str(hrc.files[1])],
              **hst_star, exc=ValueError,
              match=rf"{hrc.files[1].name} is given twice \(inputs 1 and 3\)")


@pytest.mark.parametrize(("value", "match"), [
    ("~4", r"good_bits='~4': HST DQ flags are given as AstroDrizzle's final_bits"),
    ("64,banana", r"good_bits='64,banana' is not an integer or a list of DQ flags"),
], ids=["inverted", "word"])
def test_hst_good_bits(clean_run, hrc, hst_star, value, match):
    clean_run(DrizzlePSFStep, str(hrc.asn), **hst_star, reference_mosaic=str(hrc.drz),
              good_bits=value, exc=ValueError, match=match)


def test_hst_fillval(clean_run, hrc, hst_star):
    clean_run(DrizzlePSFStep, str(hrc.asn), **hst_star, fillval="zero", exc=ValueError,
              match=r"fillval='zero' must be a number, 'NAN' or 'INDEF'")


def test_reference_drz_of_another_filter(clean_run, hrc, data, hst_star):
    path = data / "other_drz.fits"
    shutil.copyfile(hrc.drz, path)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["FILTER1"] = "F814W"
    clean_run(DrizzlePSFStep, str(hrc.asn), **hst_star, reference_mosaic=str(path),
              exc=ValueError,
              match=r"reference_mosaic other_drz\.fits was drizzled in .*F814W.*, the "
                    r"exposures are F606W")


def test_flt_without_sci(clean_run, hrc, data, hst_star):
    path = data / "j8bt06zzq_flt.fits"
    with fits.open(hrc.files[0]) as hdul:
        fits.HDUList([hdul[0].copy(), fits.ImageHDU(np.zeros((4, 4), np.float32),
                                                    name="ERR")]).writeto(path)
    clean_run(DrizzlePSFStep, str(path), **hst_star, exc=ValueError,
              match=r"j8bt06zzq_flt\.fits has no 2-D SCI extension")


def test_flt_with_zero_exptime(clean_run, hrc, data, hst_star):
    path = data / hrc.files[0].name
    shutil.copyfile(hrc.files[0], path)
    with fits.open(path, mode="update") as hdul:
        hdul[0].header["EXPTIME"] = 0.0
    clean_run(DrizzlePSFStep, str(path), **hst_star, exc=ValueError,
              match=rf"{path.name}: EXPTIME=0\.0; AstroDrizzle needs a positive one")
