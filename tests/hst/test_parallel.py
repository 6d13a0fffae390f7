"""A run spread over worker processes or a local Dask cluster equals the serial run.

Method ``epsf``: each worker builds every exposure's ePSF from the exposure's stars itself;
the build is deterministic, so the products are identical, not merely close.
"""

import numpy as np
import pytest

from spike.parallel import parse_scheduler
from spike.steps import DrizzlePSFStep


@pytest.fixture(scope="module")
def serial(hrc):
    return DrizzlePSFStep.call(str(hrc.asn), ra=list(hrc.ra), dec=list(hrc.dec),
                               reference_mosaic=str(hrc.drz), stamp_size=15, method="epsf")


def _assert_same(a, b):
    for name in ("data", "wht", "con", "contributions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(np.asarray(a.sources), np.asarray(b.sources))
    np.testing.assert_array_equal(np.asarray(a.exposures), np.asarray(b.exposures))
    assert a.meta.resample.pixfrac == b.meta.resample.pixfrac
    assert a.meta.product_name == b.meta.product_name


@pytest.mark.parametrize("scheduler", ["processes:2", "dask:2"])
@pytest.mark.slow
def test_parallel_equals_serial(hrc, serial, scheduler, tmp_path):
    parallel = DrizzlePSFStep.call(str(hrc.asn), ra=list(hrc.ra), dec=list(hrc.dec),
                                   reference_mosaic=str(hrc.drz), stamp_size=15,
                                   method="epsf", scheduler=scheduler, save_exposure_psfs=True,
                                   output_dir=str(tmp_path))
    _assert_same(serial, parallel)
    # the per-exposure PSFs of the chunks are merged back: one file per exposure
    saved = sorted(p.name for p in tmp_path.glob("*_psfexp.asdf"))
    assert len(saved) == len(hrc.files)


def test_batches_equal_one_pass(hrc, serial, monkeypatch, caplog):
    """Sources go through in batches (bounded memory); each exposure's ePSF is built once."""
    import spike.workflow

    monkeypatch.setattr(spike.workflow, "BATCH", 4)
    caplog.set_level("INFO", logger="spike")
    batched = DrizzlePSFStep.call(str(hrc.asn), ra=list(hrc.ra), dec=list(hrc.dec),
                                  reference_mosaic=str(hrc.drz), stamp_size=15, method="epsf")
    _assert_same(serial, batched)
    assert "Sources 5-6 of 6" in caplog.text
    assert caplog.text.count("epsf exposure 'j8bt06d0q_flt.fits'") == 1


def test_scheduler_parsing():
    assert parse_scheduler("processes:3") == ("processes", 3)
    assert parse_scheduler("dask") == ("dask", 2)
    assert parse_scheduler("tcp://10.0.0.1:8786") == ("address", "tcp://10.0.0.1:8786")
    with pytest.raises(ValueError, match=r"scheduler='threads': expected 'processes'"):
        parse_scheduler("threads")
    with pytest.raises(ValueError, match=r"the worker count must be at least 1"):
        parse_scheduler("dask:0")


def test_parallel_needs_files(hrc):
    from astropy.io import fits

    with fits.open(hrc.files[0]) as hdul, pytest.raises(
            TypeError, match=r"scheduler: workers open the exposures themselves"):
        DrizzlePSFStep.call([hdul], ra=float(hrc.ra[0]), dec=float(hrc.dec[0]),
                            scheduler="processes:2")
