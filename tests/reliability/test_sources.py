"""Bad source positions and catalogs: the catalog, column and row are named.

A blank cell used to be read as 0 (a wrong position, silently); text and metres failed
inside numpy or astropy units without naming the catalog.
"""

import logging

import numpy as np
import pytest
from astropy import units as u
from astropy.table import Table

from spike.exceptions import NoCoverageError
from spike.steps import DrizzlePSFStep, GeneratePSFStep


def _csv(path, text):
    path.write_text(text)
    return str(path)


CATALOGS = [
    ("non-numeric", "cat.csv", "id,ra,dec\na,53.16,-27.79\nb,abc,-27.79\n",
     r"catalog .*cat\.csv: column 'ra' row 2 holds 'abc', not a number of degrees"),
    ("blank-ra", "cat.csv", "id,ra,dec\na,53.16,-27.79\nb,,-27.79\n",
     r"catalog .*cat\.csv: column 'ra' is empty in row 2 \(of 2\)"),
    ("blank-dec", "cat.csv", "id,ra,dec\na,53.16,\n",
     r"catalog .*cat\.csv: column 'dec' is empty in row 1"),
    ("blank-id", "cat.csv", "id,ra,dec\n,53.16,-27.79\n",
     r"catalog .*cat\.csv: column 'id' is empty in row 1"),
    ("no-coordinates", "cat.csv", "x,y\n1,2\n",
     r"catalog .*cat\.csv needs 'ra' and 'dec' columns \(degrees\); it has x, y"),
    ("header-only", "cat.csv", "id,ra,dec\n",
     r"No sources given \(catalog .*cat\.csv is empty\)"),
    ("duplicate-ids", "cat.csv", "id,ra,dec\ns1,53.16,-27.79\ns1,53.17,-27.79\n",
     r"catalog .*cat\.csv: source id 's1' repeats \(rows 1 and 2\)"),
    ("dec-beyond-pole", "cat.csv", "ra,dec\n53.16,-27.79\n53.16,-91\n",
     r"catalog .*cat\.csv: dec must lie in \[-90, 90\] degrees, got -91\.0 for source 2"),
    ("sky_centroid-text", "cat.csv", "sky_centroid\nfoo\n",
     r"catalog .*cat\.csv: column 'sky_centroid' must hold sky coordinates"),
    ("not-a-table", "cat.ecsv", "\x00\x01 binary junk \x02",
     r"catalog .*cat\.ecsv cannot be read as ECSV or CSV"),
]


@pytest.mark.parametrize(("name", "text", "match"), [c[1:] for c in CATALOGS],
                         ids=[c[0] for c in CATALOGS])
def test_bad_catalog(clean_run, jwst_asn, tmp_path, name, text, match):
    catalog = tmp_path / "in" / name
    catalog.parent.mkdir()
    _csv(catalog, text)
    clean_run(DrizzlePSFStep, str(jwst_asn), catalog=str(catalog), exc=ValueError,
              match=match)


def test_catalog_in_metres(clean_run, jwst_asn, tmp_path):
    catalog = tmp_path / "in" / "metres.ecsv"
    catalog.parent.mkdir()
    Table({"ra": [53.16] * u.m, "dec": [-27.79] * u.deg}).write(catalog)
    clean_run(DrizzlePSFStep, str(jwst_asn), catalog=str(catalog), exc=ValueError,
              match=r"catalog .*metres\.ecsv: column 'ra' is in m, not an angle")


def test_catalog_in_arcsec_is_converted():
    """Angle units other than degrees are fine (a check that the unit test is not too eager)."""
    from spike.sources import resolve_sources

    table = Table({"ra": [3600.0 * 53.16] * u.arcsec, "dec": [-27.79] * u.deg})
    assert resolve_sources(sources=table)["ra"][0] == pytest.approx(53.16)


def test_missing_catalog(clean_run, jwst_asn):
    clean_run(DrizzlePSFStep, str(jwst_asn), catalog="nowhere.ecsv", exc=FileNotFoundError,
              match=r"catalog nowhere\.ecsv does not exist")


POSITIONS = [
    ("ra-without-dec", {"ra": [53.16]}, r"Both ra and dec must be given"),
    ("ra-text", {"ra": ["53.16h"], "dec": [-27.79]},
     r"ra must be a number or a list of numbers \(degrees\), got \['53.16h'\]"),
    ("lengths-differ", {"ra": [53.16, 53.17], "dec": [-27.79]},
     r"ra has 2 value\(s\) but dec has 1"),
    ("dec-95", {"ra": [53.16], "dec": [95.0]}, r"ra/dec: dec must lie in \[-90, 90\] degrees"),
    ("ra-nan", {"ra": [float("nan")], "dec": [-27.79]},
     r"ra/dec: ra of source 1 is nan; source coordinates must be finite"),
    ("no-sources", {}, r"Give the sources either as ra and dec, as a catalog file"),
]


@pytest.mark.parametrize(("kwargs", "match"), [c[1:] for c in POSITIONS],
                         ids=[c[0] for c in POSITIONS])
@pytest.mark.parametrize("step_class", [DrizzlePSFStep, GeneratePSFStep])
def test_bad_positions(clean_run, jwst_asn, step_class, kwargs, match):
    clean_run(step_class, str(jwst_asn), **kwargs, exc=ValueError, match=match)


def test_sources_table_of_wrong_type(clean_run, jwst_asn):
    clean_run(DrizzlePSFStep, str(jwst_asn), [(53.16, -27.79)], exc=TypeError,
              match=r"sources must be a SkyCoord or a Table, not list")


def test_all_sources_off_the_data_is_summarised(clean_run, jwst_asn, caplog):
    """Thousands of sources on no exposure: a short message and one log line per exposure."""
    n = 3000
    rng = np.random.default_rng(3)
    sources = Table({"ra": rng.uniform(10.0, 11.0, n), "dec": rng.uniform(-5.0, -4.0, n)})
    caplog.set_level(logging.INFO, logger="spike")
    err = clean_run(DrizzlePSFStep, str(jwst_asn), sources, exc=NoCoverageError,
                    match=r"No input exposure covers source\(s\) 1 \(RA=.*\), .* and 2990 "
                          r"more: all 3000 sources lie outside every exposure's detectors")
    assert len(str(err)) < 2000
    spike_lines = [r for r in caplog.records if r.name.startswith("spike")]
    assert len(spike_lines) < 60
    assert any("3000 of 3000 source(s) are not on exposure" in r.getMessage()
               for r in spike_lines)


def test_some_sources_off_the_data(clean_run, jwst_asn, jwst_star):
    sources = Table({"id": ["star", "far"], "ra": [jwst_star["ra"][0], 10.0],
                     "dec": [jwst_star["dec"][0], 10.0]})
    err = clean_run(DrizzlePSFStep, str(jwst_asn), sources, exc=NoCoverageError,
                    match=r"No input exposure covers source\(s\) far \(RA=10\.000000, "
                          r"Dec=10\.000000\): 1 of 2 source\(s\) lie outside")
    assert "star" not in str(err)
