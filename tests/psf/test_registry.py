"""Tests of the PSF method registry and the `spike.psf` package surface."""

import subprocess
import sys

import pytest

import spike.psf
from spike.psf import registry
from spike.psf.base import PSFMethod
from spike.psf.epsf import EPSFMethod
from spike.psf.optical import OpticalPSFMethod
from spike.psf.psfex import PSFExMethod
from spike.psf.stdpsf import STDPSFMethod
from spike.psf.stpsf_method import STPSFMethod
from spike.psf.user import UserPSFMethod


@pytest.mark.parametrize(
    ("name", "cls", "missions"),
    [
        ("optical", OpticalPSFMethod, ("jwst", "hst")),
        ("stpsf", STPSFMethod, ("jwst", "roman")),
        ("user", UserPSFMethod, ("jwst", "roman", "hst")),
        ("epsf", EPSFMethod, ("hst", "jwst", "roman")),
        ("psfex", PSFExMethod, ("hst", "jwst", "roman")),
        ("stdpsf", STDPSFMethod, ("hst", "jwst", "roman")),
    ],
)
def test_builtin_methods_registered(name, cls, missions):
    assert name in registry.available_methods()
    loaded = registry.get_method(name)
    assert loaded is cls
    assert issubclass(loaded, PSFMethod)
    assert loaded.name == name
    assert loaded.missions == missions


def test_unknown_method():
    with pytest.raises(ValueError, match=r"Unknown PSF method 'nope'; available methods: .*user"):
        registry.get_method("nope")


def test_package_exports():
    for name in spike.psf.__all__:
        assert hasattr(spike.psf, name)
    assert spike.psf.base.PSFMethod is PSFMethod
    assert spike.psf.registry is registry


def test_import_does_not_load_heavy_optional_packages():
    code = (
        "import sys, spike.psf, spike.psf.optical, spike.psf.stpsf_method, spike.psf.user; "
        "print(sorted(m for m in ('poppy', 'stpsf', 'photutils') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_keyword_only_options():
    for cls in (OpticalPSFMethod, STPSFMethod):
        with pytest.raises(TypeError):
            cls(4)
    with pytest.raises(TypeError):
        UserPSFMethod(lambda *a: None)
