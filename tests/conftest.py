"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest
from hypothesis import settings

from releve.clock import VirtualClock

# Property tests draw the same examples on every run: a CI result does not depend on luck.
settings.register_profile("releve", derandomize=True, print_blob=True)
settings.load_profile("releve")


@pytest.fixture
def clock() -> VirtualClock:
    """A clock that moves only when a test advances it."""
    return VirtualClock()
