"""Every PSF method without the data or programs it needs: a clear error, nothing written."""

import numpy as np
import pytest
from astropy.io import fits

from spike.exceptions import PSFDataUnavailableError, PSFMethodError
from spike.steps import DrizzlePSFStep, GeneratePSFStep
from tests.psf.test_stdpsf import write_stdpsf


@pytest.fixture
def lib(tmp_path):
    directory = tmp_path / "lib"
    directory.mkdir()
    return directory


def test_stdpsf_without_psf_path(clean_run, jwst_asn, jwst_star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="stdpsf", exc=ValueError,
              match=r"method='stdpsf' needs psf_path")


def test_stdpsf_library_missing_from_directory(clean_run, jwst_asn, jwst_star, lib):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="stdpsf", psf_path=str(lib),
              exc=PSFDataUnavailableError,
              match=r"No STDPSF file for exposure .*nrca1_cal\.fits.*looked for "
                    r"STDPSF_NRCA1_F200W")


@pytest.mark.parametrize(("image", "why"), [
    (np.random.default_rng(1).normal(100.0, 5.0, (64, 64)), r"its brightest pixel is at"),
    (np.ones((32, 48)), r"it is 32 x 48 pixels, not square"),
    (np.full((33, 33), np.nan), r"it holds NaN or infinite values"),
], ids=["science-image", "not-square", "nan"])
def test_stdpsf_plain_image(clean_run, jwst_asn, jwst_star, lib, image, why):
    """A 2-D image named like a library is not a PSF (it used to be taken as one)."""
    path = lib / "STDPSF_NRCA1_F200W.fits"
    fits.PrimaryHDU(image.astype(np.float32)).writeto(path)
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="stdpsf",
              psf_path=str(path), exc=PSFMethodError,
              match=r"STDPSF file .*STDPSF_NRCA1_F200W\.fits.* is a plain 2-D image, not a "
                    r"STDPSF library: " + why)


def test_stdpsf_single_centred_psf_still_accepted(jwst_sim, jwst_star, lib):
    """One centred 2-D PSF (no grid keywords) remains a valid library."""
    yy, xx = np.mgrid[0:41, 0:41]
    psf = np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / (2 * 6.0**2))
    path = lib / "STDPSF_NRCA1_F200W.fits"
    fits.PrimaryHDU(psf.astype(np.float32)).writeto(path)
    result = GeneratePSFStep.call(jwst_sim.models[:1], **jwst_star, method="stdpsf",
                                  psf_path=str(path), stamp_size=9)
    assert result[0].data.shape == (1, 36, 36)


def test_stdpsf_for_another_filter(clean_run, jwst_asn, jwst_star, lib):
    path = write_stdpsf(lib / "STDPSF_NRCA1_F150W.fits", [0.0, 2047.0], [0.0, 2047.0],
                        lambda *a: 3.0, npix=21)
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="stdpsf",
              psf_path=str(path), exc=PSFMethodError, match=r"is for filter F150W")


def test_user_method_without_psf(clean_run, jwst_asn, jwst_star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="user", exc=ValueError,
              match=r"method='user' needs psf_path")


def test_user_psf_directory_missing(clean_run, jwst_asn, jwst_star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="user",
              psf_path="no_psfs_here", exc=PSFMethodError,
              match=r"PSF directory 'no_psfs_here' does not exist")


def test_user_psf_directory_without_the_exposure(clean_run, jwst_asn, jwst_star, lib):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="user", psf_path=str(lib),
              exc=PSFMethodError, match=r"nrca1")


def test_psf_path_given_to_a_model_method(clean_run, jwst_asn, jwst_star, lib):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="optical",
              psf_path=str(lib), exc=ValueError,
              match=r"psf_path / a user PSF are only used with method='user' or 'stdpsf', not "
                    r"'optical'")


def test_galsim_on_jwst(clean_run, jwst_asn, jwst_star):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, method="galsim", stamp_size=11,
              exc=ValueError, match=r"PSF method 'galsim' does not support JWST exposure "
                                    r".*nrca1_cal\.fits")


def test_tinytim_without_the_program(clean_run, hrc, hst_star, tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("TINYTIM", raising=False)
    clean_run(DrizzlePSFStep, str(hrc.asn), **hst_star, method="tinytim", stamp_size=11,
              exc=PSFDataUnavailableError, match=r"(?i)tinytim")


def test_optical_for_an_unknown_filter(clean_run, jwst_sim, jwst_star):
    other = [m.copy() for m in jwst_sim.models[:2]]
    for model in other:
        model.meta.instrument.filter = "OPAQUE"
    clean_run(DrizzlePSFStep, other, **jwst_star, method="optical", stamp_size=11,
              exc=PSFMethodError, match=r"Filter 'OPAQUE' is not known for instrument 'NIRCAM'")
