"""spike's products as ASDF-backed stdatamodels datamodels.

Schemas live in ``schemas/`` under ``asdf://spike-psf.org/spike/schemas/`` and
are registered with asdf by `spike.datamodels.integration.get_resource_mappings`.
"""

from ._base import SpikeDataModel
from .drizzled_psf import DrizzledPSFModel
from .exposure_psf import ExposurePSFModel
from .util import open  # noqa: A004

__all__ = ["DrizzledPSFModel", "ExposurePSFModel", "SpikeDataModel", "open"]
