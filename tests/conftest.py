"""Fixtures shared by every test layer."""

from __future__ import annotations

import pytest

from releve.clock import VirtualClock


@pytest.fixture
def clock() -> VirtualClock:
    """A clock that moves only when a test advances it."""
    return VirtualClock()
