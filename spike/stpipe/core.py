"""`SpikeStep`: the stpipe base class of spike's steps.

It gives steps what the mission base classes (`JwstStep`, `RomanStep`) give theirs, without
any CRDS access: an output extension, spike's datamodels for opening files, the loggers stpipe
should capture, and a result stamp with spike's version and the step's log.
"""

import logging
import time

from configobj import ConfigObj
from stpipe import Step

__all__ = ["SpikeStep", "KNOWN_SUFFIXES"]

#: Product suffixes replaced when spike names its outputs.
KNOWN_SUFFIXES = ("cal", "crf", "i2d", "flt", "flc", "c0m", "c0f", "drz", "drc", "asn",
                  "psfexp", "psf")

log = logging.getLogger(__name__)

_LOG_FORMATTER = logging.Formatter(
    "%(asctime)s.%(msecs)03dZ :: %(name)s :: %(levelname)s :: %(message)s",
    datefmt="%Y-%m-%dT%H:%M:%S",
)
_LOG_FORMATTER.converter = time.gmtime


class SpikeStep(Step):
    """Base class of spike's steps.

    Step parameters never come from CRDS: `get_config_from_reference` returns an empty
    configuration, so ``strun`` and ``Step.call`` work with no network. Parameters come from
    the step's ``spec`` defaults, a parameter file (``--config``/``config_file``) or the
    command line / keyword arguments, as for any stpipe step.
    """

    spec = """
    output_ext = string(default='.asdf')  # Default type of output
    """

    _log_records_formatter = _LOG_FORMATTER

    @classmethod
    def _get_crds_parameters(cls, dataset):  # noqa: ARG003
        """Return no CRDS selection parameters, without opening ``dataset``."""
        return {}, None

    @classmethod
    def get_config_from_reference(cls, dataset, disable=None, crds_observatory=None):  # noqa: ARG003
        """Return an empty configuration: spike has no CRDS parameter reference files."""
        return ConfigObj()

    @staticmethod
    def remove_suffix(name):
        """Remove a known product suffix (``_cal``, ``_i2d``, ``_psf``, ...) from ``name``.

        Returns
        -------
        name : str
            ``name`` without the suffix.
        separator : str
            The separator that preceded the suffix (``"_"``).
        """
        stem, sep, last = name.rpartition("_")
        if sep and last in KNOWN_SUFFIXES:
            return stem, sep
        return name, "_"

    @classmethod
    def _datamodels_open(cls, init, **kwargs):
        from spike.datamodels import open as spike_open

        return spike_open(init, **kwargs)

    def get_pars(self, full_spec=True):
        """Return the step parameters as plain Python values.

        stpipe turns command-line strings into plain `str` only at the top level; list
        parameters given on the command line (``--ra=1.0``) keep its string subclass, which
        ASDF cannot write (``--save-parameters``). Convert those too.
        """
        pars = super().get_pars(full_spec=full_spec)
        for key, value in pars.items():
            if isinstance(value, list):
                pars[key] = [str(v) if isinstance(v, str) else v for v in value]
        return pars

    @staticmethod
    def get_stpipe_loggers():
        """Return the names of the loggers stpipe configures and records."""
        return ("spike", "jwst", "romancal", "drizzlepac", "stcal", "drizzle", "stpipe",
                "stdatamodels", "py.warnings")

    def finalize_result(self, result, reference_files_used):  # noqa: ARG002
        """Stamp spike's version and this step's log records on a spike product."""
        from spike import __version__
        from spike.datamodels import SpikeDataModel

        if not isinstance(result, SpikeDataModel):
            return
        result.meta.spike_version = __version__
        if self.class_alias:
            setattr(result.meta.cal_logs, self.class_alias, list(self.log_records))
