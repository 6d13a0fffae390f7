"""spike's stpipe steps (thin wrappers around the algorithm modules)."""

from spike.steps.drizzle_psf_step import DrizzlePSFStep
from spike.steps.generate_psf_step import GeneratePSFStep

__all__ = ["GeneratePSFStep", "DrizzlePSFStep"]
