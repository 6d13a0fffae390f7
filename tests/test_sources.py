"""`spike.sources.resolve_sources`: every accepted form of source positions, every error."""

import re

import astropy.units as u
import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.table import QTable, Table
from numpy.testing import assert_allclose

from spike.sources import resolve_sources

RA = [53.16, 53.1612]
DEC = [-27.79, -27.7911]


def assert_sources(table, ids, ra=RA, dec=DEC):
    assert table.colnames == ["id", "ra", "dec"]
    assert [str(v) for v in table["id"]] == ids
    assert table["id"].dtype.kind == "U"
    assert_allclose(table["ra"], ra, rtol=0, atol=1e-10)
    assert_allclose(table["dec"], dec, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- accepted forms


def test_ra_dec_lists():
    assert_sources(resolve_sources(ra=RA, dec=DEC), ["1", "2"])


def test_ra_dec_scalars_and_arrays():
    assert_sources(resolve_sources(ra=RA[0], dec=DEC[0]), ["1"], RA[:1], DEC[:1])
    assert_sources(resolve_sources(ra=np.array(RA), dec=np.array(DEC)), ["1", "2"])


def test_numeric_strings_as_from_the_command_line():
    """``strun ... --ra=53.16,53.1612`` hands the step a list of strings."""
    assert_sources(resolve_sources(ra=[str(v) for v in RA], dec=[str(v) for v in DEC]),
                   ["1", "2"])
    assert_sources(resolve_sources(ra=str(RA[0]), dec=str(DEC[0])), ["1"], RA[:1], DEC[:1])


def test_ra_wraps_into_0_360():
    table = resolve_sources(ra=[-10.0, 370.0, 360.0], dec=[0.0, 1.0, 2.0])
    assert_allclose(table["ra"], [350.0, 10.0, 0.0], atol=1e-12)


def test_poles_are_valid():
    assert_allclose(resolve_sources(ra=[0, 0], dec=[90, -90])["dec"], [90, -90])


def test_skycoord_array_and_scalar():
    assert_sources(resolve_sources(sources=SkyCoord(RA, DEC, unit="deg")), ["1", "2"])
    assert_sources(resolve_sources(sources=SkyCoord(RA[0], DEC[0], unit="deg")), ["1"],
                   RA[:1], DEC[:1])


def test_skycoord_other_frame_converted_to_icrs():
    icrs = SkyCoord(RA, DEC, unit="deg")
    assert_sources(resolve_sources(sources=icrs.galactic), ["1", "2"])
    assert_sources(resolve_sources(sources=icrs.fk5), ["1", "2"])


def test_table_with_ids_and_alternative_names():
    table = Table({"SOURCE_ID": [101, 7], "RA_DEG": RA, "Dec_Deg": DEC, "flux": [1.0, 2.0]})
    assert_sources(resolve_sources(sources=table), ["101", "7"])


@pytest.mark.parametrize(("ra_name", "dec_name", "id_name"), [
    ("ra", "dec", "id"), ("ALPHA_J2000", "DELTA_J2000", "label"), ("RAJ2000", "DEJ2000", "name"),
])
def test_table_column_names(ra_name, dec_name, id_name):
    table = Table({id_name: ["a", "b"], ra_name: RA, dec_name: DEC})
    assert_sources(resolve_sources(sources=table), ["a", "b"])


def test_table_without_ids_is_numbered():
    assert_sources(resolve_sources(sources=Table({"ra": RA, "dec": DEC})), ["1", "2"])


def test_table_columns_with_units_are_converted():
    table = QTable({"ra": (np.array(RA) * u.deg).to(u.rad), "dec": (np.array(DEC) * u.deg).to(
        u.arcmin)})
    assert_sources(resolve_sources(sources=table), ["1", "2"])
    hours = Table({"ra": np.array(RA) / 15.0, "dec": DEC})
    hours["ra"].unit = u.hourangle
    hours["dec"].unit = u.deg
    assert_sources(resolve_sources(sources=hours), ["1", "2"])


def test_table_sky_centroid_column():
    """A JWST source catalog: ``label`` and a ``sky_centroid`` SkyCoord column."""
    sky = SkyCoord(RA, DEC, unit="deg")
    table = Table({"label": [3, 4], "sky_centroid": sky, "ra": [0.0, 0.0], "dec": [0.0, 0.0]})
    assert_sources(resolve_sources(sources=table), ["3", "4"])  # sky_centroid wins
    galactic = Table({"label": [3, 4], "sky_centroid": sky.galactic})
    assert_sources(resolve_sources(sources=galactic), ["3", "4"])


@pytest.mark.parametrize("fmt", ["ascii.ecsv", "ascii.csv"])
def test_catalog_sky_centroid(tmp_path, fmt):
    """ECSV keeps the SkyCoord; CSV writes it as "ra,dec" strings, which are read back."""
    path = tmp_path / ("cat.ecsv" if fmt == "ascii.ecsv" else "cat.csv")
    Table({"label": [3, 4], "sky_centroid": SkyCoord(RA, DEC, unit="deg")}).write(path,
                                                                                 format=fmt)
    assert_sources(resolve_sources(catalog=path), ["3", "4"])


@pytest.mark.parametrize("suffix", [".ecsv", ".csv", ".txt"])
def test_catalog_files_with_and_without_ids(tmp_path, suffix):
    fmt = "ascii.ecsv" if suffix == ".ecsv" else "ascii.csv"
    with_ids = tmp_path / f"ids{suffix}"
    Table({"id": ["x1", "x2"], "ra": RA, "dec": DEC}).write(with_ids, format=fmt)
    assert_sources(resolve_sources(catalog=str(with_ids)), ["x1", "x2"])
    without = tmp_path / f"noids{suffix}"
    Table({"ra": RA, "dec": DEC}).write(without, format=fmt)
    assert_sources(resolve_sources(catalog=without), ["1", "2"])


def test_ecsv_units_are_honoured(tmp_path):
    path = tmp_path / "cat.ecsv"
    table = QTable({"ra": (np.array(RA) * u.deg).to(u.arcsec), "dec": np.array(DEC) * u.deg})
    table.write(path)
    assert_sources(resolve_sources(catalog=path), ["1", "2"])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("kwargs", "got"), [
    ({}, "none"),
    ({"ra": RA, "dec": DEC, "catalog": "cat.ecsv"}, "ra/dec, catalog"),
    ({"catalog": "cat.ecsv", "sources": Table({"ra": RA, "dec": DEC})}, "catalog, sources"),
    ({"ra": RA, "sources": SkyCoord(RA, DEC, unit="deg")}, "ra/dec, sources"),
])
def test_exactly_one_kind_of_input(kwargs, got):
    with pytest.raises(ValueError, match=rf"Give the sources either as ra and dec, as a "
                                         rf"catalog file, or as a SkyCoord/Table \(got {got}\)"):
        resolve_sources(**kwargs)


@pytest.mark.parametrize("kwargs", [{"ra": RA}, {"dec": DEC}])
def test_ra_and_dec_go_together(kwargs):
    with pytest.raises(ValueError, match=r"^Both ra and dec must be given$"):
        resolve_sources(**kwargs)


@pytest.mark.parametrize(("name", "kwargs"), [
    ("ra", {"ra": ["53.16", "abc"], "dec": DEC}),
    ("dec", {"ra": RA, "dec": ["-27.79", "-27d47m"]}),
])
def test_coordinates_must_be_numbers(name, kwargs):
    with pytest.raises(ValueError, match=rf"^{name} must be a number or a list of numbers "
                                         rf"\(degrees\), got "):
        resolve_sources(**kwargs)


def test_lengths_must_match():
    with pytest.raises(ValueError, match=r"^ra has 2 value\(s\) but dec has 1$"):
        resolve_sources(ra=RA, dec=DEC[:1])


def test_no_sources():
    with pytest.raises(ValueError, match=r"^No sources given \(ra/dec is empty\)$"):
        resolve_sources(ra=[], dec=[])
    with pytest.raises(ValueError, match=r"^No sources given \(the sources table is empty\)$"):
        resolve_sources(sources=Table({"ra": np.zeros(0), "dec": np.zeros(0)}))


@pytest.mark.parametrize(("ra", "dec"), [([np.nan], [0.0]), ([0.0], [np.inf])])
def test_coordinates_must_be_finite(ra, dec):
    with pytest.raises(ValueError, match=r"^ra/dec: (ra|dec) of source 1 is (nan|inf); "
                                         r"source coordinates must be finite numbers$"):
        resolve_sources(ra=ra, dec=dec)


def test_dec_range():
    with pytest.raises(ValueError, match=r"^ra/dec: dec must lie in \[-90, 90\] degrees, "
                                         r"got 91\.5 for source 2$"):
        resolve_sources(ra=[0.0, 1.0], dec=[10.0, 91.5])


def test_ids_must_be_unique():
    with pytest.raises(ValueError, match=r"^the sources table: source id '1' repeats \(rows 1 "
                                         r"and 2\)$"):
        resolve_sources(sources=Table({"id": [1, 1], "ra": RA, "dec": DEC}))


def test_sources_type():
    with pytest.raises(TypeError, match=r"^sources must be a SkyCoord or a Table, not list$"):
        resolve_sources(sources=[RA, DEC])


def test_table_without_coordinates():
    with pytest.raises(ValueError, match=r"^the sources table needs 'ra' and 'dec' columns "
                                         r"\(degrees\); it has x, ra$"):
        resolve_sources(sources=Table({"x": [1.0], "ra": [1.0]}))
    with pytest.raises(ValueError, match=r"it has no columns$"):
        resolve_sources(sources=Table())


def test_bad_sky_centroid_column():
    with pytest.raises(ValueError, match=r"column 'sky_centroid' must hold sky coordinates "
                                         r"\(a SkyCoord, or 'ra,dec' in degrees\), not values "
                                         r"such as 'M31'"):
        resolve_sources(sources=Table({"sky_centroid": ["M31", "M33"]}))


def test_missing_catalog(tmp_path):
    path = tmp_path / "nope.ecsv"
    name = re.escape(str(path))
    with pytest.raises(FileNotFoundError, match=rf"^catalog {name} does not exist$"):
        resolve_sources(catalog=path)


def test_catalog_without_coordinates(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("name,x,y\na,1,2\n")
    name = re.escape(str(path))
    with pytest.raises(ValueError, match=rf"^catalog {name} needs 'ra' and 'dec' columns "
                                         r"\(degrees\); it has name, x, y$"):
        resolve_sources(catalog=path)


@pytest.mark.parametrize(("name", "text"), [
    ("ragged.csv", "ra,dec\n1,2,3\n4\n"),
    ("broken.ecsv", "# %ECSV 1.0\n# ---\n# datatype: [\nra dec\n1 2\n"),
])
def test_unreadable_catalog(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    name = re.escape(str(path))
    with pytest.raises(ValueError, match=rf"^catalog {name} cannot be read as ECSV or CSV: "):
        resolve_sources(catalog=path)
