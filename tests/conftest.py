"""Shared fixtures."""

from __future__ import annotations

import pytest
from builders import scenario

from omnisim.scenario.schema import Scenario


@pytest.fixture
def small() -> Scenario:
    """The small two-region market of `builders.small_market`."""
    return scenario()
