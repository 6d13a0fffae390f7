"""What importing `spike.datasets` and its factories pulls in, checked in fresh interpreters."""

import json
import subprocess
import sys

import pytest

import spike.datasets

#: Print, as JSON, the loaded modules of the mission packages and of spike.datasets.
_LOADED = """
import json, sys
print(json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in ("jwst", "romancal", "roman_datamodels")
    or m.startswith(("stdatamodels.jwst", "spike.datasets."))
)))
"""


def _loaded_after(code):
    """Run ``code`` in a new interpreter and return the mission modules loaded after it."""
    result = subprocess.run(
        [sys.executable, "-c", code + _LOADED], capture_output=True, text=True, check=True
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "module", ["spike.datasets", "spike.datasets._common", "spike.datasets._siaf_poly"]
)
def test_shared_modules_import_no_mission_package(module):
    loaded = _loaded_after(f"import {module}")
    assert not {m for m in loaded if not m.startswith("spike.datasets.")}
    assert not {m for m in loaded if m.startswith(("spike.datasets.jwst", "spike.datasets.roman"))}


def test_roman_factory_does_not_import_jwst():
    loaded = _loaded_after("import spike.datasets.roman")
    assert "spike.datasets.roman" in loaded
    assert not {m for m in loaded if m.split(".")[0] == "jwst"}
    assert not loaded & {"spike.datasets.jwst", "spike.datasets._jwst_wcs"}


def test_roman_factory_adds_no_stdatamodels_jwst_to_roman_datamodels():
    # roman_datamodels itself loads stdatamodels.jwst: asdf imports every package's
    # resource mappings, stdatamodels' included. The factory must add nothing to that.
    baseline = _loaded_after("import roman_datamodels")
    loaded = _loaded_after("import roman_datamodels, spike.datasets.roman")
    assert not {m for m in loaded - baseline if m.startswith("stdatamodels.jwst")}


def test_lazy_names_match_the_submodules():
    from spike.datasets import hst, jwst, roman

    modules = (jwst, hst, roman)
    assert spike.datasets.__all__ == [name for m in modules for name in m.__all__]
    for module in modules:
        for name in module.__all__:
            assert getattr(spike.datasets, name) is getattr(module, name)
    assert set(spike.datasets.__all__) <= set(dir(spike.datasets))
    with pytest.raises(AttributeError, match="no_such_name"):
        spike.datasets.no_such_name  # noqa: B018
