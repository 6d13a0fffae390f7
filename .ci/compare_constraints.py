"""Print the installed distributions whose version differs from a constraints file.

Informational only (exit status 0): CI installs the newest releases allowed by
``pyproject.toml`` and tests them; this tells which of them are newer (or older) than the
versions last recorded as tested in ``constraints/tested.txt``.

Usage: ``python .ci/compare_constraints.py constraints/tested.txt``
"""

import re
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["differences", "main", "read_constraints"]

_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_constraints(path):
    """``{normalised name: (name, version)}`` of the ``name==version`` lines of ``path``."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        match = _PIN.match(line)
        if match:
            pins[_normalise(match.group(1))] = (match.group(1), match.group(2))
    return pins


def differences(pins):
    """``[(name, tested, installed or None)]`` for every pin the environment differs from."""
    installed = {_normalise(d.metadata["Name"]): d.version for d in metadata.distributions()
                 if d.metadata["Name"]}
    out = []
    for key, (name, tested) in sorted(pins.items()):
        if installed.get(key) != tested:
            out.append((name, tested, installed.get(key)))
    return out


def main(argv=None):
    """Print the differences; always return 0."""
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "constraints/tested.txt"
    pins = read_constraints(path)
    diff = differences(pins)
    if not diff:
        print(f"Installed versions equal the {len(pins)} tested ones in {path}")
        return 0
    print(f"{len(diff)} installed distribution(s) differ from {path} (informational):")
    for name, tested, now in diff:
        print(f"  {name}: tested {tested}, installed {now or 'not installed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
