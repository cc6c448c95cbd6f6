"""Shared fixtures and markers."""

from __future__ import annotations

import os

import pytest
from builders import scenario

from omnisim.scenario.schema import Scenario


@pytest.fixture
def small() -> Scenario:
    """The small two-region market of `builders.small_market`."""
    return scenario()


compiled_only = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
    reason="compares with figures recorded by the compiled kernel; interpreted, float32 "
    "arithmetic rounds differently in the last bits",
)
"""For bit-for-bit comparisons with recorded results (the coverage run interprets kernels)."""
