"""Shared HST fixtures: dithered copies of the real ACS/HRC exposure and their science drizzle.

The science run is what a user would have: AstroDrizzle over the association with every
step on (static mask, sky, separate drizzle, median, blot, driz_cr), ``clean=False`` so the
``*_final_mask.fits`` weight maps stay beside the ``_drz``, on the default output grid.
"""

from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from spike.datasets.hst import make_acs_hrc_dithers, run_astrodrizzle
from tests.hst._stars import bright_isolated_stars, point_like, star_centroids
from tests.helpers import file_digests

OFFSETS = ((0.0, 0.0), (2.5, 1.5), (-1.5, 3.25), (1.25, -2.75))


@pytest.fixture(scope="session")
def hrc(tmp_path_factory):
    """Dithers, association, science drz and star positions measured on the first copy."""
    root = tmp_path_factory.mktemp("hst_hrc")
    dithers = make_acs_hrc_dithers(root / "flt", offsets=OFFSETS, seed=11)
    drz = run_astrodrizzle(dithers.asn, "hrc_sci", workdir=root / "sci", final_pixfrac=0.8)
    with fits.open(dithers.files[0]) as hdul:
        sci = hdul["SCI", 1].data.astype(float)
        bad = hdul["DQ", 1].data != 0
        wcs = WCS(hdul["SCI", 1].header, hdul)
    xy = star_centroids(sci, bright_isolated_stars(sci, bad, count=8, max_peak=20000.0))
    xy = xy[point_like(sci, xy)][:6]
    ra, dec = wcs.pixel_to_world_values(xy[:, 0], xy[:, 1])
    return SimpleNamespace(
        dithers=dithers, asn=dithers.asn, files=dithers.files, drz=drz, sci_dir=root / "sci",
        flt_dir=root / "flt", digests=file_digests(root / "flt"),
        ra=np.asarray(ra), dec=np.asarray(dec), root=root,
    )
