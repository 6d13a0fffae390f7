"""Bad inputs of the empirical methods through the step: clear errors, nothing written."""

import pytest

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.steps import DrizzlePSFStep
from tests.psf.test_stdpsf import write_stdpsf

STAR = {"ra": 53.16, "dec": -27.79}


def test_epsf_too_few_stars(clean_run, jwst_asn):
    """The default simulation has 8 stars per exposure: too few for an ePSF."""
    clean_run(DrizzlePSFStep, str(jwst_asn), **STAR, method="epsf", exc=PSFMethodError,
              match=r"PSF method 'epsf' found \d+ usable star\(s\) in exposure "
                    r"'jw01234001001_02101_00001_nrca1_cal\.fits' \(detector NRCA1\), but needs "
                    r"at least min_stars=10")


def test_psfex_programs_missing(clean_run, jwst_asn, tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    clean_run(DrizzlePSFStep, str(jwst_asn), **STAR, method="psfex",
              exc=PSFDataUnavailableError, match=r"source-extractor|psfex")


def test_stdpsf_for_another_detector(clean_run, jwst_asn, tmp_path):
    (tmp_path / "lib").mkdir()
    library = write_stdpsf(tmp_path / "lib" / "STDPSF_NRCB1_F200W.fits", [0.0, 2047.0],
                           [0.0, 2047.0], lambda *a: 3.0, npix=41)
    clean_run(DrizzlePSFStep, str(jwst_asn), **STAR, method="stdpsf", psf_path=str(library),
              exc=PSFMethodError, match=r"NRCB1.*NRCA1|NRCA1.*NRCB1")


def test_stdpsf_path_missing(clean_run, jwst_asn):
    clean_run(DrizzlePSFStep, str(jwst_asn), **STAR, method="stdpsf",
              psf_path="no_such_dir", exc=PSFDataUnavailableError, match=r"no_such_dir")


@pytest.mark.parametrize("method", ["epsf", "psfex"])
def test_empirical_methods_refuse_models_without_pixels(method):
    from spike.psf.base import DetectorInfo
    from spike.psf.registry import get_method

    det = DetectorInfo(mission="jwst", instrument="NIRCAM", detector="NRCA1", filter="F200W",
                       pupil="CLEAR", wcs=None, shape=(10, 10), filename="x_cal.fits")
    with pytest.raises(PSFMethodError, match=r"x_cal\.fits"):
        get_method(method)().prepare(det)
