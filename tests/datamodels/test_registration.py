"""The spike schemas are registered with asdf and are valid schemas."""

import importlib.resources
from importlib.metadata import entry_points

import asdf
import pytest
from asdf.resource import DirectoryResourceMapping
from asdf.schema import check_schema, load_schema

from spike.datamodels import DrizzledPSFModel, ExposurePSFModel, SpikeDataModel
from spike.datamodels.integration import SCHEMA_URI_PREFIX, get_resource_mappings

SCHEMA_DIR = importlib.resources.files("spike.datamodels") / "schemas"
SCHEMA_FILES = sorted(p.name for p in SCHEMA_DIR.iterdir() if p.name.endswith(".yaml"))
SCHEMA_URIS = [SCHEMA_URI_PREFIX + name.removesuffix(".yaml") for name in SCHEMA_FILES]


def test_schema_files_shipped():
    assert SCHEMA_FILES == [
        "core-1.0.0.yaml",
        "drizzled_psf-1.0.0.yaml",
        "exposure_psf-1.0.0.yaml",
    ]


def test_entry_point_registered():
    values = {ep.value for ep in entry_points(group="asdf.resource_mappings")}
    assert "spike.datamodels.integration:get_resource_mappings" in values


def test_get_resource_mappings():
    mappings = get_resource_mappings()
    assert len(mappings) == 1
    assert isinstance(mappings[0], DirectoryResourceMapping)
    assert sorted(mappings[0]) == sorted(SCHEMA_URIS)


@pytest.mark.parametrize("uri", SCHEMA_URIS)
def test_schema_resolves_and_is_valid(uri):
    assert uri in asdf.get_config().resource_manager
    schema = load_schema(uri)
    assert schema["id"] == uri
    check_schema(schema)
    # every $ref resolves
    load_schema(uri, resolve_references=True)


@pytest.mark.parametrize("cls", [SpikeDataModel, ExposurePSFModel, DrizzledPSFModel])
def test_model_schema_url_registered(cls):
    assert cls.schema_url in SCHEMA_URIS
