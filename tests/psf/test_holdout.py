"""Leaving stars out of empirical PSF fits (cross-validation): ``exclude_stars``.

The shared parsing (`spike.psf._holdout`), the rejection in the ``epsf`` star selection and
the filtering of Source Extractor's catalogue before PSFEx.
"""

import shutil

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

import spike.psf.psfex as psfex_module
from spike.exceptions import PSFMethodError
from spike.psf._epsf_stars import select_stars
from spike.psf._holdout import (
    check_exclude_radius,
    exclusion_pixels,
    parse_exclude_stars,
    pixel_scale,
)
from spike.psf._ldac import exclude_sources
from spike.psf.base import DetectorInfo, ExposurePixels
from spike.psf.epsf import EPSFMethod
from spike.psf.psfex import PSFExMethod
from tests.helpers import needs_psfex
from tests.psf._helpers import make_gwcs

SCALE = 0.05  # arcsec per pixel of the synthetic detector


def _star_field(n=60, shape=(300, 300), seed=4):
    """Gaussian stars (sigma 1.2 px) on a noisy sky, with a gwcs; returns detector, xy."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    # a jittered grid keeps the stars isolated
    side = int(np.ceil(np.sqrt(n)))
    step = (nx - 40) / side
    gx, gy = np.meshgrid(np.arange(side), np.arange(side))
    xy = np.column_stack([gx.ravel(), gy.ravel()])[:n] * step + 20 + step / 2
    xy += rng.uniform(-3, 3, xy.shape)
    yy, xx = np.mgrid[:ny, :nx]
    image = np.full(shape, 50.0)
    for (x, y), flux in zip(xy, rng.uniform(2e4, 5e4, n), strict=True):
        sl = (slice(int(y) - 10, int(y) + 11), slice(int(x) - 10, int(x) + 11))
        r2 = (xx[sl] - x) ** 2 + (yy[sl] - y) ** 2
        image[sl] += flux * np.exp(-r2 / (2 * 1.2**2)) / (2 * np.pi * 1.2**2)
    data = rng.poisson(image).astype(float)
    pixels = ExposurePixels(data=data, good=np.ones(shape, bool), err=np.sqrt(image))
    wcs = make_gwcs(scale=SCALE, shape=shape, rotation=20.0, roll=35.0)
    det = DetectorInfo(mission="jwst", instrument="NIRCAM", detector="NRCA1", filter="F200W",
                       pupil="CLEAR", wcs=wcs, shape=shape, filename="field_cal.fits",
                       pixels=lambda: pixels)
    return det, xy


@pytest.fixture(scope="module")
def field():
    return _star_field()


def test_parse_forms(tmp_path):
    pairs = [(53.16, -27.78), (53.161, -27.781)]
    from_list = parse_exclude_stars(pairs)
    assert len(from_list) == 2 and from_list.label == "2 positions"
    np.testing.assert_allclose(from_list.ra, [53.16, 53.161])
    sky = parse_exclude_stars(SkyCoord([53.16, 53.161], [-27.78, -27.781], unit="deg"))
    np.testing.assert_allclose(sky.dec, from_list.dec)
    table = Table({"ra": [53.16, 53.161], "dec": [-27.78, -27.781]})
    table.write(tmp_path / "held.ecsv")
    table.write(tmp_path / "held.csv", format="ascii.csv")
    for name in ("held.ecsv", "held.csv"):
        read = parse_exclude_stars(str(tmp_path / name))
        np.testing.assert_allclose(read.ra, from_list.ra)
        assert read.label.endswith(name)
    assert parse_exclude_stars(None) is None and parse_exclude_stars([]) is None


@pytest.mark.parametrize("value", ["no_such_file.ecsv", [(1.0, 2.0, 3.0)], [(10.0, 95.0)],
                                   "x", object()])
def test_parse_errors_name_the_option(value):
    with pytest.raises(ValueError, match="exclude_stars"):
        parse_exclude_stars(value)


@pytest.mark.parametrize("value", [0, -1.0, "a", None, float("nan"), True])
def test_radius_errors_name_the_option(value):
    with pytest.raises(ValueError, match="exclude_radius"):
        check_exclude_radius(value)


def test_exclusion_pixels_gwcs_and_fits_wcs(field):
    from astropy.wcs import WCS

    det, xy = field
    ra, dec = det.wcs.pixel_to_world_values(xy[:5, 0], xy[:5, 1])
    stars = parse_exclude_stars(list(zip(ra, dec, strict=True)))
    got, radius = exclusion_pixels(stars, det, radius=0.5)
    np.testing.assert_allclose(got, xy[:5], atol=1e-6)
    assert pixel_scale(det.wcs, det.shape) == pytest.approx(SCALE, rel=1e-6)
    assert radius == pytest.approx(0.5 / SCALE, rel=1e-6)
    # an astropy FITS WCS (HST) works the same way
    fits_wcs = WCS(naxis=2)
    fits_wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    fits_wcs.wcs.crval, fits_wcs.wcs.crpix = [6.0, -72.0], [150.5, 150.5]
    fits_wcs.wcs.cd = np.array([[-0.025, 0.0], [0.0, 0.025]]) / 3600
    hst = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                       pupil=None, wcs=fits_wcs, shape=(300, 300))
    ra, dec = fits_wcs.pixel_to_world_values([10.0, 250.5], [20.0, 100.25])
    got, radius = exclusion_pixels(parse_exclude_stars(list(zip(ra, dec, strict=True))), hst,
                                   radius=0.5)
    np.testing.assert_allclose(got, [[10.0, 20.0], [250.5, 100.25]], atol=1e-6)
    assert radius == pytest.approx(20.0, rel=1e-6)
    assert exclusion_pixels(None, hst, radius=0.5)[0].shape == (0, 2)
    no_wcs = DetectorInfo(mission="hst", instrument="ACS", detector="HRC", filter="F606W",
                          pupil=None, wcs=None, shape=(10, 10), filename="x_flt.fits")
    with pytest.raises(PSFMethodError, match=r"exclude_stars needs.*x_flt\.fits"):
        exclusion_pixels(stars, no_wcs, radius=0.5)


def _select(pixels, **kwargs):
    return select_stars(pixels, box_size=21, min_snr=50, isolation=10, isolation_ratio=0.1,
                        max_peak=None, edge=2, clean_radius=None, sharpness_clip=5.0, **kwargs)


def test_select_stars_excludes(field):
    det, xy = field
    pixels = det.pixels()
    everything = _select(pixels)
    assert len(everything) >= 50 and everything.rejected["excluded"] == 0
    held = xy[::2]
    kept = _select(pixels, exclude_xy=held, exclude_radius=3.0)
    assert kept.rejected["excluded"] == len(held)
    assert len(kept) == len(everything) - len(held)
    dist = np.hypot(kept.x[:, None] - held[None, :, 0], kept.y[:, None] - held[None, :, 1])
    assert dist.min() > 3.0
    # the others are unchanged (excluded stars still count as neighbours, none is close)
    used = np.hypot(everything.x[:, None] - held[None, :, 0],
                    everything.y[:, None] - held[None, :, 1]).min(axis=1) > 3.0
    np.testing.assert_allclose(np.sort(kept.x), np.sort(everything.x[used]))


def test_epsf_method_excludes_stars(field, tmp_path):
    det, xy = field
    held = xy[1::2]
    ra, dec = det.wcs.pixel_to_world_values(held[:, 0], held[:, 1])
    Table({"ra": ra, "dec": dec}).write(tmp_path / "held.ecsv")
    options = {"box_size": 15, "grid_size": 1, "wings": None}
    method = EPSFMethod(exclude_stars=str(tmp_path / "held.ecsv"), exclude_radius=0.3,
                        **options)
    described = method.describe()
    assert described["exclude_stars"].endswith("held.ecsv")
    assert described["exclude_radius"] == 0.3
    model = method.prepare(det)
    dist = np.hypot(model.stars["x"][:, None] - held[None, :, 0],
                    model.stars["y"][:, None] - held[None, :, 1])
    assert dist.min() > 0.3 / SCALE
    full = EPSFMethod(**options).prepare(det)
    assert model.n_stars <= full.n_stars - len(held) + 2
    assert EPSFMethod().describe()["exclude_stars"] is None
    with pytest.raises(ValueError, match="exclude_radius"):
        EPSFMethod(exclude_radius=-1)


def _ldac(path, x, y):
    """A small FITS_LDAC-like catalogue: primary, LDAC_IMHEAD, LDAC_OBJECTS."""
    head = fits.BinTableHDU.from_columns(
        [fits.Column(name="Field Header Card", format="160A", array=np.array(["A" * 160]))],
        name="LDAC_IMHEAD")
    cols = [fits.Column(name="X_IMAGE", format="1E", array=np.asarray(x, np.float32)),
            fits.Column(name="Y_IMAGE", format="1E", array=np.asarray(y, np.float32)),
            fits.Column(name="VIGNET", format="9E", dim="(3, 3)",
                        array=np.arange(len(x) * 9, dtype=np.float32).reshape(-1, 3, 3))]
    objects = fits.BinTableHDU.from_columns(cols, name="LDAC_OBJECTS")
    fits.HDUList([fits.PrimaryHDU(), head, objects]).writeto(path)
    return path


def test_exclude_sources_rewrites_rows_only(tmp_path):
    x = np.arange(1.0, 41.0)  # 1-based, as Source Extractor writes them
    path = _ldac(tmp_path / "cat.ldac", x, np.full(40, 5.0))
    before = fits.getheader(path, "LDAC_OBJECTS")
    removed = exclude_sources(path, np.array([[9.0, 4.0], [30.0, 4.0]]), 1.5)
    assert removed == 6  # X_IMAGE 9, 10, 11 and 30, 31, 32 (0-based 8..10 and 29..31)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "LDAC_IMHEAD", "LDAC_OBJECTS"]
        table = hdul["LDAC_OBJECTS"].data
        kept = ~np.isin(x, [9, 10, 11, 30, 31, 32])
        np.testing.assert_array_equal(table["X_IMAGE"], x[kept])
        np.testing.assert_array_equal(table["VIGNET"][0], np.arange(9).reshape(3, 3))
        header = hdul["LDAC_OBJECTS"].header
        assert header["NAXIS2"] == 34
        assert [k for k in header if k != "NAXIS2"] == [k for k in before if k != "NAXIS2"]
        assert hdul["LDAC_IMHEAD"].data[0][0] == "A" * 160
    assert exclude_sources(path, np.zeros((0, 2)), 1.0) == 0


@needs_psfex
def test_psfex_catalogue_filtered(tmp_path, monkeypatch, field):
    """PSFEx runs on the filtered catalogue (it crashed on one re-serialised by astropy)
    and never sees a source near an excluded star."""
    det, xy = field
    held = xy[::3]
    ra, dec = det.wcs.pixel_to_world_values(held[:, 0], held[:, 1])
    seen = []

    def spy(path, positions, radius):
        removed = exclude_sources(path, positions, radius)
        shutil.copy(path, tmp_path / "filtered.ldac")
        seen.append(removed)
        return removed

    monkeypatch.setattr(psfex_module, "exclude_sources", spy)
    model = PSFExMethod(exclude_stars=list(zip(ra, dec, strict=True)), exclude_radius=0.25,
                        degree=0, min_stars=5, wings=None).prepare(det)
    assert model.data.accepted >= 5
    assert seen and seen[0] >= len(held)
    table = fits.getdata(tmp_path / "filtered.ldac", "LDAC_OBJECTS")
    dist = np.hypot(table["X_IMAGE"][:, None] - 1 - held[None, :, 0],
                    table["Y_IMAGE"][:, None] - 1 - held[None, :, 1])
    assert dist.min() > 0.25 / SCALE
