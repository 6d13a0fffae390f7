"""spike's registration with stpipe and asdf, and what `SpikeStep` gives every step."""

from importlib.metadata import entry_points

import asdf
from asdf.schema import load_schema
import pytest
from configobj import ConfigObj
from stpipe import Step
from stpipe.entry_points import get_steps as stpipe_steps
from stpipe.utilities import import_class, resolve_step_class_alias

import spike.steps
from spike.datamodels import DrizzledPSFModel, ExposurePSFModel, SpikeDataModel
from spike.steps import DrizzlePSFStep, GeneratePSFStep
from spike.steps._common import GENERATE_SPEC, RESAMPLE_SPEC
from spike.stpipe.core import SpikeStep
from spike.stpipe.integration import get_steps

STEP_CLASSES = [getattr(spike.steps, name) for name in spike.steps.__all__]


def test_get_steps_matches_all_and_class_alias():
    steps = get_steps()
    assert sorted(name for name, _, _ in steps) == sorted(
        f"spike.steps.{name}" for name in spike.steps.__all__)
    for class_name, alias, is_pipeline in steps:
        cls = import_class(class_name, subclassof=Step)
        assert issubclass(cls, SpikeStep)
        assert cls.class_alias == alias
        assert is_pipeline is False
    assert len({alias for _, alias, _ in steps}) == len(steps)


def test_get_steps_returns_plain_strings():
    """The entry point must not need spike's steps imported (keeps ``strun`` snappy)."""
    for entry in get_steps():
        assert all(isinstance(v, str) for v in entry[:2])


def test_stpipe_entry_point():
    eps = [ep for ep in entry_points(group="stpipe.steps") if ep.name == "spike"]
    assert len(eps) == 1
    assert eps[0].value == "spike.stpipe.integration:get_steps"
    assert eps[0].dist.name == "spike"
    assert eps[0].load()() == get_steps()
    infos = [s for s in stpipe_steps() if s.package_name == "spike"]
    assert {(s.class_name, s.class_alias) for s in infos} == {
        (name, alias) for name, alias, _ in get_steps()}


@pytest.mark.parametrize("cls", STEP_CLASSES)
def test_alias_resolves_to_the_class(cls):
    for name in (cls.class_alias, f"spike::{cls.class_alias}"):
        path = resolve_step_class_alias(name)
        assert path == f"spike.steps.{cls.__name__}"
        assert import_class(path, subclassof=Step) is cls


@pytest.mark.parametrize("cls", STEP_CLASSES)
def test_spike_step_defaults(cls):
    step = cls()
    assert step.output_ext == ".asdf"
    assert step.output_use_model is False
    assert "spike" in cls.get_stpipe_loggers()
    assert cls._datamodels_open.__func__ is SpikeStep._datamodels_open.__func__


def test_no_crds_parameters(tmp_path):
    """Parameters never come from CRDS, for any input (even a missing file)."""
    for dataset in ("missing_asn.json", str(tmp_path / "x_cal.fits"), None):
        config = SpikeStep.get_config_from_reference(dataset)
        assert isinstance(config, ConfigObj)
        assert dict(config) == {}
        assert DrizzlePSFStep.get_config_from_reference(dataset, crds_observatory="jwst") == {}
        assert GeneratePSFStep._get_crds_parameters(dataset) == ({}, None)


def test_suffixes():
    assert DrizzlePSFStep().default_suffix() == "psf"
    assert GeneratePSFStep().default_suffix() == "psfexp"
    for name in ("jw01_nrca1_cal", "mosaic_i2d", "x_psf", "x_psfexp", "y_asn"):
        stem, sep = SpikeStep.remove_suffix(name)
        assert sep == "_"
        assert stem == name.rsplit("_", 1)[0]
    assert SpikeStep.remove_suffix("mosaic_final") == ("mosaic_final", "_")


def test_finalize_result_stamps_version_and_logs():
    import spike

    step = DrizzlePSFStep()
    model = DrizzledPSFModel()
    model.meta.spike_version = "old"
    step.finalize_result(model, [])
    assert model.meta.spike_version == spike.__version__
    assert model.meta.cal_logs.drizzle_psf == list(step.log_records)
    step.finalize_result(object(), [])  # anything else is left alone


def test_spec_lines_have_validators_and_help():
    """One parameter per line, each with a validator and a ``# help`` comment."""
    lines = [line for line in (GENERATE_SPEC + RESAMPLE_SPEC).splitlines() if line.strip()]
    names = []
    for line in lines:
        name, _, rest = line.strip().partition("=")
        names.append(name.strip())
        assert names[-1].isidentifier(), line
        assert "(" in rest, line
        assert rest.split("#", 1)[1].strip(), line
    assert len(set(names)) == len(names)
    assert set(names) <= set(DrizzlePSFStep().get_pars())
    assert set(GeneratePSFStep().get_pars()) >= {
        line.split("=")[0].strip() for line in GENERATE_SPEC.splitlines() if line.strip()}


#: Parameters whose default is "the mission's own" (None), resolved by the adapters.
MISSION_DEFAULTS = {"pixmap_stepsize", "pixmap_order", "good_bits"}


@pytest.mark.parametrize("package", ["jwst", "romancal"])
def test_resample_parameters_match_the_missions_resample_steps(package):
    """Names shared with jwst's and romancal's ResampleStep have their defaults (same names,
    same meanings); where the two pipelines differ, spike's default is None and the adapter
    applies the mission's value."""
    from spike.missions.roman import ROMAN_PIXMAP_ORDER, ROMAN_PIXMAP_STEPSIZE

    if package == "jwst":
        from jwst.resample import ResampleStep
    else:
        from romancal.resample import ResampleStep
    ours, theirs = DrizzlePSFStep().get_pars(), ResampleStep().get_pars()
    shared = [line.split("=")[0].strip() for line in RESAMPLE_SPEC.strip().splitlines()]
    shared = [name for name in shared if name in theirs]
    assert len(shared) >= 12
    common = [k for k in shared if k not in MISSION_DEFAULTS]
    assert {k: ours[k] for k in common} == {k: theirs[k] for k in common}
    assert all(ours[k] is None for k in MISSION_DEFAULTS)
    if package == "romancal":
        assert theirs["pixmap_stepsize"] == ROMAN_PIXMAP_STEPSIZE
        assert theirs["pixmap_order"] == ROMAN_PIXMAP_ORDER
        assert theirs["good_bits"] == "~DO_NOT_USE"
    else:
        assert (theirs["pixmap_stepsize"], theirs["pixmap_order"]) == (1.0, 1)


@pytest.mark.parametrize("cls", [SpikeDataModel, ExposurePSFModel, DrizzledPSFModel])
def test_asdf_resource_mapping_resolves_schemas(cls):
    eps = [ep for ep in entry_points(group="asdf.resource_mappings") if ep.name == "spike"]
    assert len(eps) == 1
    assert eps[0].value == "spike.datamodels.integration:get_resource_mappings"
    manager = asdf.get_config().resource_manager
    assert cls.schema_url in manager
    assert load_schema(cls.schema_url)["id"] == cls.schema_url


def test_command_line_lists_survive_save_parameters(tmp_path):
    """``strun ... --ra=53.1 --save-parameters=p.asdf``: list values typed on the command
    line are stpipe string subclasses; the saved parameter file must hold plain values and
    reload into an equivalent step."""
    from stpipe._cmdline import FromCommandLine

    step = DrizzlePSFStep(ra=[FromCommandLine("53.16")], dec=[FromCommandLine("-27.79")])
    path = tmp_path / "pars.asdf"
    step.export_config(str(path))
    reloaded = DrizzlePSFStep.from_config_file(str(path))
    assert [float(v) for v in reloaded.ra] == [53.16]
    assert [float(v) for v in reloaded.dec] == [-27.79]
