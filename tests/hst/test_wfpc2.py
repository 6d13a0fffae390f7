"""WFPC2: the real omega Cen ``_c0f`` (stsci.tools), four chips, PC and WF plate scales.

The waivered file is converted (``_c0m`` -> ``wfpc2_to_flt``) and drizzled by AstroDrizzle
at 0.05"/px, as a science run would; PSFs are then drizzled at stars of the PC1 chip and
of the WF chips, from the ``_flt`` and straight from the ``_c0f``. No ``_c1f`` ships with
the example, so DQ is 0 everywhere (the adapter warns).
"""

import warnings
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from spike.datasets.hst import hst_example_path, prepare_wfpc2, run_astrodrizzle
from spike.exceptions import SpikeWarning
from spike.missions.hst import HSTAdapter
from spike.steps import DrizzlePSFStep
from spike.validation import compare_with_stars, measure
from tests.helpers import file_digests
from tests.hst._stars import bright_isolated_stars, point_like

#: Stars taken per chip; drz pixels are 0.05".
PER_CHIP = 2


@pytest.fixture(scope="module")
def wfpc2(tmp_path_factory):
    root = tmp_path_factory.mktemp("wfpc2")
    with pytest.warns(SpikeWarning, match="u40x010hm_c1f.fits"):
        flt = prepare_wfpc2(hst_example_path("wfpc2_c0f"), root / "flt")
    drw = run_astrodrizzle([flt], "omega_cen", workdir=root / "sci", final_scale=0.05)
    image = fits.getdata(drw, "SCI").astype(float)
    drw_wcs = WCS(fits.getheader(drw, "SCI"))
    ra, dec, chips = [], [], []
    with fits.open(flt) as hdul:
        for chip in (1, 2, 3, 4):
            sci = hdul["SCI", chip].data.astype(float)
            wcs = WCS(hdul["SCI", chip].header, hdul)
            xy = bright_isolated_stars(sci, ~np.isfinite(sci), count=8, max_peak=2000.0,
                                       border=100)
            # positions measured on the well-sampled drizzled image
            x, y = drw_wcs.world_to_pixel_values(*wcs.pixel_to_world_values(xy[:, 0], xy[:, 1]))
            fitted = np.array([measure(image, a, b, box=9)[:2] for a, b in zip(x, y, strict=True)])
            fitted = fitted[point_like(image, fitted)][:PER_CHIP]
            r, d = drw_wcs.pixel_to_world_values(fitted[:, 0], fitted[:, 1])
            ra += list(r)
            dec += list(d)
            chips += [chip] * len(fitted)
    return SimpleNamespace(root=root, flt=flt, drw=drw, ra=ra, dec=dec, chips=chips,
                           digests=file_digests(root / "flt"))


@pytest.fixture(scope="module")
def wfpc2_psf(wfpc2):
    return DrizzlePSFStep.call(str(wfpc2.flt), ra=wfpc2.ra, dec=wfpc2.dec,
                               reference_mosaic=str(wfpc2.drw), stamp_size=25)


def test_four_chips_with_their_scales(wfpc2):
    with HSTAdapter(str(wfpc2.flt)) as adapter:
        infos = [adapter.detector_info(i) for i in range(adapter.n_exposures)]
    assert [d.detector for d in infos] == ["PC1", "WF2", "WF3", "WF4"]
    assert all(d.instrument == "WFPC2" and d.filter == "F555W" for d in infos)
    scales = [3600 * np.degrees(np.sqrt(d.extra["pixelarea_steradians"])) for d in infos]
    assert scales[0] == pytest.approx(0.0455, rel=0.02)
    assert scales[1:] == pytest.approx([0.0996] * 3, rel=0.02)


def test_psfs_on_pc_and_wf_chips_land_on_the_stars(wfpc2, wfpc2_psf):
    assert sorted(set(wfpc2.chips)) == [1, 2, 3, 4]
    science = SimpleNamespace(data=fits.getdata(wfpc2.drw, "SCI"))
    rows = compare_with_stars(wfpc2_psf, science, box=9)
    offsets = np.array([row["offset"] for row in rows])
    # Undersampled single exposure: star and PSF are blocky copies of 0.0455"/0.0996"
    # pixels, so Gaussian centroids of the two differ by the model's shape mismatch at
    # the pixel phase (measured: PC <= 0.07, WF <= 0.25 chip pixels). The drizzle itself
    # is exact: see test_engines_agree_on_wfpc2.
    chip_scale = np.where(np.array(wfpc2.chips) == 1, 0.0455, 0.0996)
    assert np.all(offsets * 0.05 / chip_scale <= 0.35), offsets * 0.05 / chip_scale
    # each PSF came from the chip that holds its star (one chip per star here)
    assert list(wfpc2_psf.sources["n_exposures"]) == [1] * len(wfpc2.ra)
    used = wfpc2_psf.contributions.argmax(axis=1) + 1
    assert list(used) == wfpc2.chips
    # WF pixels are 2.2x the PC's: drizzled at 0.05", the WF PSFs are broader
    fwhm = np.array([row["fwhm_psf"] for row in rows])
    chips = np.array(wfpc2.chips)
    assert np.median(fwhm[chips > 1]) > 1.3 * np.median(fwhm[chips == 1])


def test_c0f_input_gives_the_same_psfs(wfpc2, wfpc2_psf, caplog):
    """The waivered file (converted in memory) drizzles exactly as the _flt.

    stpipe turns warnings shown inside a step into log records (``py.warnings``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", SpikeWarning)  # shown (logged), not raised
        direct = DrizzlePSFStep.call(str(hst_example_path("wfpc2_c0f")), ra=wfpc2.ra,
                                     dec=wfpc2.dec, reference_mosaic=str(wfpc2.drw),
                                     stamp_size=25)
    assert "u40x010hm_c0f.fits: no data-quality file u40x010hm_c1f.fits" in caplog.text
    np.testing.assert_array_equal(direct.wht, wfpc2_psf.wht)
    np.testing.assert_allclose(direct.data, wfpc2_psf.data, rtol=1e-6, atol=1e-9)


@pytest.mark.slow
def test_engines_agree_on_wfpc2(wfpc2):
    """drizzlepac's WFPC2 gain handling is reproduced by the stamp engine."""
    kwargs = {"ra": [wfpc2.ra[0], wfpc2.ra[-1]], "dec": [wfpc2.dec[0], wfpc2.dec[-1]],
              "reference_mosaic": str(wfpc2.drw), "stamp_size": 15}
    fast = DrizzlePSFStep.call(str(wfpc2.flt), **kwargs)
    slow = DrizzlePSFStep.call(str(wfpc2.flt), engine="astrodrizzle", **kwargs)
    good = (fast.wht > 0) & (slow.wht > 0)
    assert good.mean() > 0.9
    assert np.abs(fast.data - slow.data)[good].max() <= 1e-4 * np.nanmax(slow.data)
    assert np.abs(fast.wht - slow.wht).max() <= 1e-4 * slow.wht.max()
    assert file_digests(wfpc2.root / "flt") == wfpc2.digests


def test_c0m_without_c1m_warns(wfpc2, tmp_path):
    from spike.datasets._wfpc2 import waivered_to_mef

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        c0m = waivered_to_mef(hst_example_path("wfpc2_c0f"), tmp_path / "u40x010hm_c0m.fits")
    with pytest.warns(SpikeWarning, match=r"u40x010hm_c0m\.fits: no data-quality file "
                                          r"u40x010hm_c1m\.fits beside it; all its pixels are "
                                          r"treated as good"), HSTAdapter(str(c0m)) as adapter:
        assert adapter.n_exposures == 4
        assert adapter.chips[0].array("dq") is None


@pytest.mark.slow
def test_strun_wfpc2(wfpc2, tmp_path):
    """``strun drizzle_psf <WFPC2 _flt> --reference_mosaic=<_drw>`` offline."""
    from spike.datamodels import DrizzledPSFModel
    from tests.steps.test_drizzle_psf_step import run_strun

    run_strun(["drizzle_psf", str(wfpc2.flt), f"--ra={float(wfpc2.ra[0])!r}",
               f"--dec={float(wfpc2.dec[0])!r}", f"--reference_mosaic={wfpc2.drw}",
               "--stamp_size=15", f"--output_dir={tmp_path}"], cwd=tmp_path, tmp_path=tmp_path)
    with DrizzledPSFModel(tmp_path / "u40x010hm_psf.asdf") as model:
        assert model.meta.instrument.name == "WFPC2"  # detector: MULTIPLE (four chips)
        assert model.meta.instrument.detector == "MULTIPLE"
        assert list(model.contributions[0]) == [1, 0, 0, 0]
