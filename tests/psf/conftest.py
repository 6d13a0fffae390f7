"""Fixtures for the PSF back-end tests."""

import pytest

from tests.psf._helpers import make_detector


@pytest.fixture
def detector_factory():
    """Factory of synthetic `DetectorInfo` objects (keywords as `make_detector`)."""
    return make_detector
