"""Bad step parameters: refused before any PSF is modelled, naming the parameter and value.

Most are refused before an exposure is opened (`spike.steps._checks`); the DQ flag names
and the memory a run needs are checked once the exposures are open, still before any
modelling. configobj's own checks (types, options) surface as stpipe's ``ValidationError``.
"""

import pytest
from stpipe.config_parser import ValidationError

from spike.steps import DrizzlePSFStep, GeneratePSFStep

# (id, parameters, exception, message pattern)
CASES = [
    ("good_bits-unknown-flag", {"good_bits": "BANANA"}, ValueError,
     r"good_bits='BANANA' is not a JWST DQ flag combination .*DO_NOT_USE"),
    ("good_bits-inverted-unknown", {"good_bits": "~BANANA+DO_NOT_USE"}, ValueError,
     r"good_bits='~BANANA\+DO_NOT_USE' is not a JWST DQ flag"),
    ("good_bits-empty-token", {"good_bits": "~DO_NOT_USE+"}, ValueError,
     r"good_bits='~DO_NOT_USE\+' is not a DQ flag list"),
    ("good_bits-punctuation", {"good_bits": "4;8"}, ValueError,
     r"good_bits='4;8' is not a DQ flag list"),
    ("fillval-word", {"fillval": "banana"}, ValueError,
     r"fillval='banana' must be a number, 'NAN' or 'INDEF'"),
    ("pixel_scale-zero", {"pixel_scale": 0.0}, ValueError,
     r"pixel_scale=0\.0 must be a positive pixel scale in arcsec"),
    ("pixel_scale-negative", {"pixel_scale": -0.03}, ValueError,
     r"pixel_scale=-0\.03 must be a positive pixel scale"),
    ("pixel_scale-nan", {"pixel_scale": float("nan")}, ValueError,
     r"pixel_scale=nan must be a finite number"),
    ("pixel_scale-tiny", {"pixel_scale": 1e-5}, ValueError,
     r"output_size=\d+ \(computed from stamp_size and the 1e-05 arcsec output pixels\)"),
    ("pixel_scale_ratio-negative", {"pixel_scale_ratio": -1.0}, ValueError,
     r"pixel_scale_ratio=-1\.0 must be a positive number"),
    ("pixel_scale_ratio-zero", {"pixel_scale_ratio": 0.0}, ValueError,
     r"pixel_scale_ratio=0\.0 must be a positive number"),
    ("crval-nan", {"crval": [float("nan"), float("nan")]}, ValueError,
     r"crval=nan must be a finite number"),
    ("crval-dec-95", {"crval": [53.1, 95.0]}, ValueError,
     r"crval=\[53\.1, 95\.0\]: the declination must lie in \[-90, 90\]"),
    ("crpix-inf", {"crpix": [float("inf"), 10.0]}, ValueError,
     r"crpix=inf must be a finite number"),
    ("rotation-nan", {"rotation": float("nan")}, ValueError,
     r"rotation=nan must be a finite number"),
    ("rotation-inf", {"rotation": float("inf")}, ValueError,
     r"rotation=inf must be a finite number"),
    ("output_shape-negative", {"output_shape": [-10, -10]}, ValueError,
     r"output_shape=\[-10, -10\] must be two integers >= 1"),
    ("output_shape-zero", {"output_shape": [0, 100]}, ValueError,
     r"output_shape=\[0, 100\] must be two integers >= 1"),
    ("output_size-huge", {"output_size": 99999}, ValueError,
     r"needs about .* GiB .*output_size=99999.*lower stamp_size, oversampling or "
     r"output_size"),
    ("output_size-even", {"output_size": 40}, ValueError, r"^output_size must be odd, got 40$"),
    ("stamp_size-huge", {"stamp_size": 20001}, ValueError,
     r"needs about .* GiB \(stamp_size=20001 at oversampling=4"),
    ("stamp_size-even", {"stamp_size": 40}, ValueError, r"^stamp_size must be odd, got 40$"),
    ("pixmap_stepsize-negative", {"pixmap_stepsize": -1.0}, ValueError,
     r"pixmap_stepsize=-1\.0 must be a positive number of pixels"),
    ("pixmap_stepsize-zero", {"pixmap_stepsize": 0.0}, ValueError,
     r"pixmap_stepsize=0\.0 must be a positive number"),
    ("pixmap_order-2", {"pixmap_order": 2}, ValueError, r"pixmap_order must be 1 or 3, got 2"),
    ("method_options-not-a-number", {"method": "optical", "method_options": "nlambda=abc"},
     ValueError, r"method 'optical' with method_options nlambda='abc': invalid literal"),
    ("method_options-negative", {"method": "optical", "method_options": "nlambda=-3"},
     ValueError, r"method 'optical' with method_options nlambda=-3: nlambda must be"),
    ("method_options-unknown", {"method": "optical", "method_options": "bogus=1"}, ValueError,
     r"method_options \['bogus'\] for method 'optical'"),
    ("method_options-syntax", {"method_options": "=3"}, ValueError,
     r"method_options: '=3' is not 'name=value'"),
    ("method-unknown", {"method": "nope"}, ValueError, r"Unknown PSF method 'nope'"),
    ("scheduler-threads", {"scheduler": "threads"}, ValueError,
     r"scheduler='threads': expected 'processes'"),
    ("scheduler-zero", {"scheduler": "dask:0"}, ValueError,
     r"scheduler='dask:0': the worker count must be at least 1"),
    ("scheduler-word", {"scheduler": "processes:many"}, ValueError,
     r"scheduler='processes:many': the worker count must be an integer"),
    ("reference_mosaic-and-output_wcs", {"reference_mosaic": "a_i2d.fits",
                                          "output_wcs": "b.asdf"}, ValueError,
     r"Give either reference_mosaic or output_wcs, not both"),
    ("reference_mosaic-missing", {"reference_mosaic": "gone_i2d.fits"}, FileNotFoundError,
     r"reference_mosaic gone_i2d\.fits does not exist"),
    ("output_wcs-missing", {"output_wcs": "gone_wcs.asdf"}, FileNotFoundError,
     r"output_wcs gone_wcs\.asdf does not exist"),
    ("mask_dir-missing", {"mask_dir": "no_masks_here"}, FileNotFoundError,
     r"mask_dir no_masks_here is not a directory"),
    ("weight_type-ivm-sky-jwst", {"weight_type": "ivm-sky"}, ValueError,
     r"weight_type='ivm-sky' is a romancal option"),
    ("engine-astrodrizzle-jwst", {"engine": "astrodrizzle"}, ValueError,
     r"engine='astrodrizzle' and mask_dir are HST \(AstroDrizzle\) parameters"),
    ("kernel-unknown", {"kernel": "bilinear"}, ValidationError,
     r"Config parameter 'kernel': the value \"bilinear\" is unacceptable"),
    ("oversampling-zero", {"oversampling": 0}, ValidationError,
     r"Config parameter 'oversampling'"),
    ("pixfrac-above-one", {"pixfrac": 1.5}, ValidationError, r"Config parameter 'pixfrac'"),
    ("crval-one-value", {"crval": [53.1]}, ValidationError, r"Config parameter 'crval'"),
]


@pytest.mark.parametrize(("kwargs", "exc", "match"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_parameter(clean_run, jwst_asn, jwst_star, kwargs, exc, match):
    clean_run(DrizzlePSFStep, str(jwst_asn), **jwst_star, stamp_size=kwargs.pop(
        "stamp_size", 11), **kwargs, exc=exc, match=match)


def test_generate_step_checks_its_parameters(clean_run, jwst_asn, jwst_star):
    clean_run(GeneratePSFStep, str(jwst_asn), **jwst_star, method_options="=3",
              exc=ValueError, match=r"method_options: '=3' is not 'name=value'")


def test_unwritable_output_dir(jwst_asn, jwst_star, tmp_path, monkeypatch):
    """Refused before any computation (files cannot be created in /sys, even by root)."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PermissionError, match=r"output_dir '/sys' does not accept new files"):
        DrizzlePSFStep.call(str(jwst_asn), **jwst_star, output_dir="/sys", save_results=True)
    assert list(tmp_path.iterdir()) == []


def test_output_dir_is_a_file(jwst_asn, jwst_star, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").write_text("a file")
    with pytest.raises(OSError, match=r"taken"):
        DrizzlePSFStep.call(str(jwst_asn), **jwst_star, output_dir=str(tmp_path / "taken"),
                            save_results=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_unwritable_working_directory_when_saving_plots(jwst_asn, jwst_star, monkeypatch):
    monkeypatch.chdir("/sys")
    with pytest.raises(PermissionError, match=r"the working directory \(no output_dir\)"):
        DrizzlePSFStep.call(str(jwst_asn), **jwst_star, save_plots=True)


def test_generate_step_refuses_a_huge_stamp(clean_run, jwst_asn, jwst_star):
    clean_run(GeneratePSFStep, str(jwst_asn), **jwst_star, stamp_size=20001, exc=ValueError,
              match=r"needs about .* GiB \(stamp_size=20001 at oversampling=4: .* GiB per "
                    r"source on 8 exposure\(s\)\), more than the .* GiB .*lower stamp_size")
