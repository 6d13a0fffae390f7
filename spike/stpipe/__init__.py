"""stpipe integration: spike's Step base class and entry-point hook."""

from spike.stpipe.core import SpikeStep

__all__ = ["SpikeStep"]
