"""The bad-input corpus: every case fails clearly, writes nothing and leaves inputs intact.

Each case runs a step on a bad input or parameter and asserts

* the exception type (``Step.call``) or a non-zero exit status (``strun``);
* that the message names the input file, catalog column or parameter at fault;
* that nothing was written (the ``clean_run`` fixture of ``tests/conftest.py``: every
  output the step can write is requested, and no file may appear under the test's
  directory);
* that the shared inputs are byte-identical afterwards (`inputs_unchanged`, autouse).

Bad files are made per test in ``tmp_path``; the session data sets (``jwst_asn``,
``roman_asn``, ``hrc``) are shared and must not change.
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

#: Session fixtures holding input files, and the directory to digest for each.
_DATA = {"jwst_asn": lambda v: v.parent, "roman_asn": lambda v: v.parent,
         "hrc": lambda v: v.root}


def digests(directory):
    """``{relative path: sha256}`` of every file below ``directory``."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(directory).rglob("*")) if p.is_file()}


@pytest.fixture(autouse=True)
def inputs_unchanged(request):
    """Fail the test if a shared input file changed (content, or files added/removed)."""
    dirs = [where(request.getfixturevalue(name)) for name, where in _DATA.items()
            if name in request.fixturenames]
    before = [digests(d) for d in dirs]
    yield
    for directory, old in zip(dirs, before, strict=True):
        assert digests(directory) == old, f"inputs under {directory} changed"


@pytest.fixture(scope="session")
def jwst_star(jwst_sim):
    """A star of the JWST simulation (seen by every exposure)."""
    return {"ra": [float(jwst_sim.stars["ra"][0])], "dec": [float(jwst_sim.stars["dec"][0])]}


@pytest.fixture(scope="session")
def roman_star(roman_sim):
    """A star seen by the WFI01 exposures."""
    from tests.roman.conftest import stars_on

    s = stars_on(roman_sim, "WFI01")[0]
    return {"ra": [float(roman_sim.stars["ra"][s])], "dec": [float(roman_sim.stars["dec"][s])]}


@pytest.fixture(scope="session")
def hst_star(hrc):
    """A star of the ACS/HRC dithers."""
    return {"ra": [float(hrc.ra[0])], "dec": [float(hrc.dec[0])]}


@pytest.fixture(scope="session")
def gaussian_psf():
    """A fast user PSF (photutils `ImagePSF`, 4x oversampled Gaussian)."""
    from photutils.psf import ImagePSF

    yy, xx = np.mgrid[0:61, 0:61]
    data = np.exp(-((xx - 30) ** 2 + (yy - 30) ** 2) / (2 * 5.0**2))
    return ImagePSF(data / data.sum() * 16, oversampling=4)


def strun(args, tmp_path):
    """Run ``strun`` (of this interpreter's environment) offline; return the process."""
    env = dict(os.environ, CRDS_SERVER_URL="https://crds.invalid",
               CRDS_PATH=str(tmp_path / "crds"))
    exe = Path(sys.executable).with_name("strun")
    return subprocess.run([str(exe), *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
