"""Register spike's datamodel schemas with asdf (``asdf.resource_mappings``)."""

import importlib.resources
import logging

from asdf.resource import DirectoryResourceMapping

__all__ = ["SCHEMA_URI_PREFIX", "get_resource_mappings"]

log = logging.getLogger(__name__)

SCHEMA_URI_PREFIX = "asdf://spike-psf.org/spike/schemas/"
"""Prefix of every spike schema id; the file stem follows it."""


def get_resource_mappings():
    """
    Get the resource mapping of spike's datamodel schemas.

    Registered through the ``asdf.resource_mappings`` entry point. Each
    ``schemas/<name>.yaml`` resolves as ``SCHEMA_URI_PREFIX + <name>``
    (the mapping strips the ``.yaml`` extension).

    Returns
    -------
    list of `asdf.resource.DirectoryResourceMapping`
        One mapping for the ``spike.datamodels`` schemas directory.
    """
    root = importlib.resources.files("spike.datamodels") / "schemas"
    if not root.is_dir():
        msg = f"Missing spike schema directory: {root}"
        raise RuntimeError(msg)
    return [DirectoryResourceMapping(root, SCHEMA_URI_PREFIX)]
