"""Every source's drizzled PSF is independent of batches and schedulers, bit for bit.

Three NIRCam sources with the ``optical`` model: run serially, in batches of one source,
on two local processes (chunks of two and one source) from a script *without* an
``if __name__ == "__main__":`` guard, and on a local Dask cluster of two workers. A source
alone in its chunk used to be mapped onto the detectors through another code path of
astropy's models (1e-10 px apart, 2e-9 of the PSF peak after drizzling). The local Dask
cluster must start while another one holds the default dashboard port, and close without
killing its workers.
"""

import logging
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import spike.workflow
from spike.datamodels import open as spike_open
from spike.steps import DrizzlePSFStep

PARS = {"method": "optical", "stamp_size": 11}


@pytest.fixture(scope="module")
def stars(jwst_sim):
    return {"ra": [float(v) for v in jwst_sim.stars["ra"][:3]],
            "dec": [float(v) for v in jwst_sim.stars["dec"][:3]]}


@pytest.fixture(scope="module")
def serial(jwst_asn, stars):
    return DrizzlePSFStep.call(str(jwst_asn), **stars, **PARS)


def assert_identical(a, b):
    for name in ("data", "wht", "con", "contributions"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    np.testing.assert_array_equal(np.asarray(a.sources), np.asarray(b.sources))


def test_batches_of_one(jwst_asn, stars, serial, monkeypatch):
    monkeypatch.setattr(spike.workflow, "BATCH", 1)
    assert_identical(serial, DrizzlePSFStep.call(str(jwst_asn), **stars, **PARS))


def test_single_source_run_equals_its_row(jwst_asn, stars, serial):
    alone = DrizzlePSFStep.call(str(jwst_asn), ra=stars["ra"][2:], dec=stars["dec"][2:],
                                **PARS)
    np.testing.assert_array_equal(alone.data[0], serial.data[2])
    np.testing.assert_array_equal(alone.sources["x"], serial.sources["x"][2:])


@pytest.mark.slow
def test_processes_from_an_unguarded_script(jwst_asn, stars, serial, tmp_path):
    """``scheduler='processes:2'`` called at a script's top level (no main guard)."""
    out = tmp_path / "parallel_psf.asdf"
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""\
        from spike.steps import DrizzlePSFStep

        result = DrizzlePSFStep.call({str(jwst_asn)!r}, ra={stars['ra']!r},
                                     dec={stars['dec']!r}, scheduler="processes:2",
                                     **{PARS!r})
        result.save({str(out)!r})
        """))
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "bootstrapping phase" not in proc.stderr
    assert_identical(serial, spike_open(out))


@pytest.fixture
def dashboard_port_taken():
    """Hold Dask's default dashboard port (8787), as another running cluster would."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", 8787))
        sock.listen()
    except OSError:
        pass  # already taken by someone else: the same situation
    yield
    sock.close()


@pytest.mark.slow
def test_dask_equals_serial_and_shuts_down_cleanly(jwst_asn, stars, serial, caplog,
                                                    dashboard_port_taken):
    caplog.set_level(logging.INFO)
    result = DrizzlePSFStep.call(str(jwst_asn), **stars, scheduler="dask:2", **PARS)
    assert_identical(serial, result)
    noisy = [r.getMessage() for r in caplog.records
             if r.name.startswith("distributed") and r.levelno >= logging.WARNING]
    assert noisy == []
