"""HST inputs (association table, JSON, list, glob), multi-chip exposures and bad inputs."""

import json
import shutil

import numpy as np
import pytest
from astropy.io import fits

from spike.exceptions import NoCoverageError, PSFDataUnavailableError
from spike.missions import detect_mission
from spike.missions.hst import HSTAdapter, parse_bits
from spike.steps import DrizzlePSFStep
from tests.helpers import file_digests

#: Rows of the ACS/HRC frame given to each chip of the synthetic two-chip exposure.
CHIP_ROWS = {1: (0, 500), 2: (524, 1024)}  # SCI,1 = CCDCHIP 2 (as ACS/WFC); gap 500-523


def _two_chip_copy(flt, path):
    """The HRC exposure cut into two ACS/WFC-like chips with a 24-row gap between them."""
    with fits.open(flt) as hdul:
        primary = hdul[0].copy()
        primary.header["DETECTOR"] = "WFC"
        primary.header["NEXTEND"] = 6
        out = [primary]
        for extver, (y0, y1) in CHIP_ROWS.items():
            for name in ("SCI", "ERR", "DQ"):
                hdu = hdul[name, 1].copy()
                hdu.data = hdu.data[y0:y1].copy()
                hdu.header["EXTVER"] = extver
                hdu.header["CCDCHIP"] = 3 - extver
                if name == "SCI":
                    hdu.header["CRPIX2"] -= y0
                out.append(hdu)
    fits.HDUList(out).writeto(path)
    return path


@pytest.fixture(scope="module")
def two_chip(hrc, tmp_path_factory):
    directory = tmp_path_factory.mktemp("two_chip")
    path = _two_chip_copy(hrc.files[0], directory / "j8bt06x1q_flt.fits")
    with fits.open(path) as hdul:
        from astropy.wcs import WCS

        wcs = WCS(hdul["SCI", 2].header, hdul)
    return path, wcs


def test_every_input_form(hrc, tmp_path):
    names = [p.name for p in hrc.files]
    asn_json = tmp_path / "hrc_asn.json"
    asn_json.write_text(json.dumps({"products": [{"name": "from_json", "members": [
        {"expname": str(p), "exptype": "science"} for p in hrc.files]}]}))
    forms = {
        "asn table": (str(hrc.asn), "j8bt06d10"),
        "json": (str(asn_json), "from_json"),
        "@list": (f"@{hrc.dithers.list_file}", "j8bt06d0q"),
        "glob": (str(hrc.flt_dir / "j8bt06d?q_flt.fits"), "j8bt06d0q"),
        "list": ([str(p) for p in hrc.files], "j8bt06d0q"),
    }
    for form, (value, product) in forms.items():
        assert detect_mission(value) == "hst", form
        with HSTAdapter(value) as adapter:
            assert [c.exposure.path.name for c in adapter.chips] == names, form
            assert adapter.product_name == product, form
            info = adapter.detector_info(0)
            assert (info.instrument, info.detector, info.filter) == ("ACS", "HRC", "F606W")
            assert info.extra["pa_v3"] == pytest.approx(fits.getval(hrc.files[0], "PA_V3"))
            pixels = info.pixels()
            assert pixels.data.shape == info.shape == (1024, 1024)
            assert pixels.good.dtype == bool and pixels.saturated.any()
    assert file_digests(hrc.flt_dir) == hrc.digests


def test_psf_made_on_the_chip_that_holds_the_source(two_chip):
    path, wcs = two_chip
    ra, dec = wcs.pixel_to_world_values(300.0, 200.0)  # on SCI,2 (WFC1)
    result = DrizzlePSFStep.call(str(path), ra=float(ra), dec=float(dec), stamp_size=15)
    assert [str(row["detector"]) for row in result.exposures] == ["WFC2", "WFC1"]
    np.testing.assert_array_equal(result.contributions, [[0, 1]])
    assert result.meta.instrument.detector == "MULTIPLE"


def test_source_in_chip_gap(clean_run, two_chip):
    path, wcs = two_chip
    ra, dec = wcs.pixel_to_world_values(300.0, -12.0)  # between the chips
    clean_run(DrizzlePSFStep, str(path), ra=float(ra), dec=float(dec), exc=NoCoverageError,
              match=r"No input exposure covers source\(s\) 1 .*outside every exposure's "
                    r"detectors or in a gap between chips")


def _modified(source, path, **keywords):
    shutil.copyfile(source, path)
    with fits.open(path, mode="update") as hdul:
        for key, value in keywords.items():
            hdul[0].header[key] = value
    return path


def test_stis_spectroscopy_rejected(clean_run, hrc, tmp_path):
    (tmp_path / "data").mkdir()
    path = _modified(hrc.files[0], tmp_path / "data" / "o8k401010_flt.fits",
                     INSTRUME="STIS", OBSTYPE="SPECTROSCOPIC")
    clean_run(DrizzlePSFStep, str(path), ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
              exc=ValueError,
              match=r"o8k401010_flt\.fits is an HST STIS exposure, OBSTYPE=SPECTROSCOPIC; "
                    r"spike drizzles PSFs of HST imaging with ACS, WFC3, WFPC2")


def test_grism_rejected(clean_run, hrc, tmp_path):
    (tmp_path / "data").mkdir()
    path = _modified(hrc.files[0], tmp_path / "data" / "j8bt06g1q_flt.fits", FILTER1="G800L")
    clean_run(DrizzlePSFStep, str(path), ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
              exc=ValueError, match=r"j8bt06g1q_flt\.fits: ACS G800L is a spectroscopic "
                                    r"element; spike models the PSF of direct images only")


def test_mixed_filters_rejected(clean_run, hrc, tmp_path):
    (tmp_path / "data").mkdir()
    other = _modified(hrc.files[1], tmp_path / "data" / "j8bt06f1q_flt.fits",
                      FILTER1="F814W")
    clean_run(DrizzlePSFStep, [str(hrc.files[0]), str(other)], ra=float(hrc.ra[0]),
              dec=float(hrc.dec[0]), exc=ValueError,
              match=r"The input mixes instruments or filters.*ACS F606W: 1 exposure\(s\); "
                    r"ACS F814W: 1 exposure\(s\)")


def test_reference_mosaic_of_another_filter(clean_run, hrc, tmp_path):
    drz = _modified(hrc.drz, tmp_path / "other_drz.fits", FILTER1="F814W")
    clean_run(DrizzlePSFStep, str(hrc.asn), ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
              reference_mosaic=str(drz), exc=ValueError,
              match=r"reference_mosaic other_drz\.fits was drizzled in CLEAR2S/F814W|"
                    r"reference_mosaic other_drz\.fits was drizzled in F814W")


def test_dq_file_given_instead_of_science(clean_run, tmp_path):
    (tmp_path / "data").mkdir()
    path = tmp_path / "data" / "u40x010hm_c1m.fits"
    fits.PrimaryHDU(header=fits.Header({"TELESCOP": "HST", "INSTRUME": "WFPC2"})).writeto(path)
    clean_run(DrizzlePSFStep, str(path), ra=201.8, dec=-47.5, exc=ValueError,
              match=r"u40x010hm_c1m\.fits is a WFPC2 data-quality file; give the science file "
                    r"\(u40x010hm_c0m\.fits\)")


def test_tinytim_absent(clean_run, hrc, monkeypatch):
    monkeypatch.delenv("TINYTIM", raising=False)
    clean_run(DrizzlePSFStep, str(hrc.asn), ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
              method="tinytim", reference_mosaic=str(hrc.drz), exc=PSFDataUnavailableError,
              match=r"\$TINYTIM is not set; tiny1 is not on PATH.*TinyTim is not installed")


def test_unknown_association_member(clean_run, hrc, tmp_path):
    asn = tmp_path / "data" / "bad_asn.fits"
    asn.parent.mkdir()
    shutil.copyfile(hrc.asn, asn)
    clean_run(DrizzlePSFStep, str(asn), ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
              exc=FileNotFoundError,
              match=r"bad_asn\.fits lists j8bt06d0q, but no j8bt06d0q_flt/_flc/_c0m/_c0f\.fits")


def test_final_bits_parsing():
    assert parse_bits(None) == 0
    assert parse_bits("64,32") == 96
    assert parse_bits("64+32") == 96
    assert parse_bits(4096) == 4096
    with pytest.raises(ValueError, match=r"HST DQ flags are given as AstroDrizzle's final_bits"):
        parse_bits("~DO_NOT_USE")
    with pytest.raises(ValueError, match=r"good_bits='bad' is not an integer"):
        parse_bits("bad")


def test_generate_psf_step_one_product_per_chip(two_chip, tmp_path):
    """``GeneratePSFStep`` on a two-chip exposure: one ``<root>_sci<N>_psfexp.asdf`` per chip."""
    from spike.datamodels import ExposurePSFModel
    from spike.steps import GeneratePSFStep

    from astropy.wcs import WCS

    path, wcs = two_chip
    with fits.open(path) as hdul:
        wcs1 = WCS(hdul["SCI", 1].header, hdul)
    sky = [wcs.pixel_to_world_values(300.0, 200.0), wcs1.pixel_to_world_values(200.0, 250.0)]
    GeneratePSFStep.call(str(path), ra=[float(s[0]) for s in sky], dec=[float(s[1]) for s in sky],
                         stamp_size=11, save_results=True, output_dir=str(tmp_path))
    names = sorted(p.name for p in tmp_path.glob("*.asdf"))
    assert names == ["j8bt06x1q_sci1_psfexp.asdf", "j8bt06x1q_sci2_psfexp.asdf"]
    with ExposurePSFModel(tmp_path / names[1]) as model:
        assert model.meta.instrument.detector == "WFC1" and model.meta.exposure.chip == 1
        assert len(model.sources) == 1 and model.sources["x"][0] == pytest.approx(300.0)


def test_product_keeps_the_input_source_order(two_chip):
    """Sources on different chips come out in the catalog's order, each from its chip."""
    from astropy.wcs import WCS

    path, wcs2 = two_chip
    with fits.open(path) as hdul:
        wcs1 = WCS(hdul["SCI", 1].header, hdul)
    sky = [wcs2.pixel_to_world_values(300.0, 200.0), wcs1.pixel_to_world_values(200.0, 250.0),
           wcs2.pixel_to_world_values(700.0, 300.0)]
    result = DrizzlePSFStep.call(str(path), ra=[float(s[0]) for s in sky],
                                 dec=[float(s[1]) for s in sky], stamp_size=11)
    assert result.source_ids == ["1", "2", "3"]
    np.testing.assert_array_equal(result.contributions, [[0, 1], [1, 0], [0, 1]])
