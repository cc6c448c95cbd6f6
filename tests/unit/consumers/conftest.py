"""Fixtures of the stage tests: a fresh hand-settable kernel per test (`stage_kit`)."""

from __future__ import annotations

import pytest
from stage_kit import Bench, bench, kernel

from omnisim.consumers.kernel import Kernel


@pytest.fixture
def k() -> Kernel:
    """A fresh kernel of the tiny market: each test sets the fields it needs."""
    return kernel()


@pytest.fixture
def b() -> Bench:
    """The stage's schedule, trail rows and counters, empty."""
    return bench()
