"""Every example scenario gives exactly its recorded results (`golden.py`): the guard that
lets the kernel's state and layers be reorganised without changing a single number."""

from __future__ import annotations

import pytest
from builders import compiled_only
from regression.golden import SCENARIOS, differences


@pytest.mark.slow
@compiled_only
@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_example_scenario_matches_its_golden_file(path):
    diff = differences(path)
    assert not diff, "\n".join(diff[:20])
