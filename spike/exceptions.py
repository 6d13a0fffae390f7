"""Exceptions and warnings raised by spike."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = [
    "SpikeError",
    "NoCoverageError",
    "PSFMethodError",
    "PSFDataUnavailableError",
    "SpikeWarning",
]


class SpikeError(Exception):
    """Base class of the errors spike raises when a computation cannot proceed."""


class NoCoverageError(SpikeError):
    """A requested source lies on no exposure of the input."""


class PSFMethodError(SpikeError):
    """A PSF method cannot model the requested exposure or position."""


class PSFDataUnavailableError(PSFMethodError):
    """A PSF method needs data or software that is not installed on this machine."""


class SpikeWarning(AstropyUserWarning):
    """Warnings issued by spike."""
