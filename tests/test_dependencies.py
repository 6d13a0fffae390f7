"""Every imported package is declared, and the tested dependency set is recorded.

A package imported by spike (or its tests) but not declared in ``pyproject.toml`` installs
only by accident (as a dependency of a dependency) and can vanish with any release.
``constraints/tested.txt`` records the versions the suite passed with.
"""

import ast
import functools
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _requirement_name(text):
    name = text.split(";")[0]
    for sep in "<>=!~[ ":
        name = name.split(sep)[0]
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_requirement_name(r) for r in project["dependencies"]}
    test = {_requirement_name(r) for r in project["optional-dependencies"]["test"]}
    return runtime, test


def _imports(directory):
    """Top-level names of absolute imports in the Python files below ``directory``."""
    names = {}
    for path in sorted(directory.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = [node.module]
            else:
                continue
            for name in found:
                names.setdefault(name.split(".")[0], path.relative_to(ROOT))
    return names


@functools.cache
def _packages():
    return metadata.packages_distributions()


def _distributions(module):
    """The distribution names providing top-level module ``module``."""
    names = _packages().get(module, [])
    return {n.lower().replace("_", "-").replace(".", "-") for n in names}


@pytest.mark.parametrize(("directory", "extra"), [("spike", False), ("tests", True)])
def test_every_import_is_declared(directory, extra):
    runtime, test = _declared()
    allowed = runtime | (test if extra else set())
    if "dask" in allowed:  # dask[distributed] declares both
        allowed |= {"distributed"}
    missing = []
    for module, where in _imports(ROOT / directory).items():
        if module in sys.stdlib_module_names or module in ("spike", "tests"):
            continue
        dists = _distributions(module)
        if not dists & allowed:
            missing.append(f"{module} ({where}; distributions {sorted(dists) or 'none'})")
    assert missing == []


def test_constraints_pin_the_declared_dependencies():
    lines = (ROOT / "constraints" / "tested.txt").read_text().splitlines()
    pins = {_requirement_name(line): line for line in lines
            if "==" in line and not line.lstrip().startswith("#")}
    runtime, test = _declared()
    assert sorted((runtime | test) - set(pins)) == []
    assert "spike" not in pins
    assert all(line.count("==") == 1 for line in pins.values())


def test_ci_prints_the_differences(tmp_path):
    pins = tmp_path / "pins.txt"
    pins.write_text("numpy==0.0.1\n# a comment\nnot-a-real-distribution==1.0\n")
    proc = subprocess.run([sys.executable, str(ROOT / ".ci" / "compare_constraints.py"),
                           str(pins)], capture_output=True, text=True, check=False,
                          timeout=60)
    assert proc.returncode == 0
    assert "numpy: tested 0.0.1, installed " in proc.stdout
    assert "not-a-real-distribution: tested 1.0, installed not installed" in proc.stdout
