"""The registry of PSF methods (back-ends).

Built-in methods and third-party ones are found through the ``spike.psf_methods`` entry-point
group; `register_method` adds one at run time.
"""

import logging
from importlib.metadata import entry_points

from spike.psf.base import PSFMethod

__all__ = ["ENTRY_POINT_GROUP", "available_methods", "get_method", "register_method"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "spike.psf_methods"

_REGISTERED = {}


def register_method(cls):
    """Register a `~spike.psf.base.PSFMethod` subclass under ``cls.name``.

    Can be used as a class decorator.

    Parameters
    ----------
    cls : type
        The method class.

    Returns
    -------
    type
        ``cls`` unchanged.
    """
    if not (isinstance(cls, type) and issubclass(cls, PSFMethod)) or not cls.name:
        msg = f"{cls!r} is not a PSFMethod subclass with a name"
        raise TypeError(msg)
    _REGISTERED[cls.name] = cls
    return cls


def _entry_point_methods():
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_methods():
    """Return the sorted names of every known PSF method."""
    return sorted(set(_REGISTERED) | set(_entry_point_methods()))


def get_method(name):
    """Return the PSF method class registered as ``name``.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"optical"``.

    Returns
    -------
    type
        A `~spike.psf.base.PSFMethod` subclass.

    Raises
    ------
    ValueError
        If no method of that name is known; the message lists the known ones.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    eps = _entry_point_methods()
    if name not in eps:
        msg = f"Unknown PSF method {name!r}; available methods: {', '.join(available_methods())}"
        raise ValueError(msg)
    cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, PSFMethod)):
        msg = f"Entry point {name!r} in group {ENTRY_POINT_GROUP!r} is not a PSFMethod subclass"
        raise TypeError(msg)
    log.debug("Loaded PSF method %r from %s", name, eps[name].value)
    return cls
