"""The small copy that loads the compiled kernels before a pool starts (experiments/runs.py)."""

from __future__ import annotations

import pytest

from omnisim.experiments.runs import small_copy
from omnisim.scenario.loading import load_scenario, strategy_names
from omnisim.scenario.schema import cross_reference_problems
from tests.builders import ROOT

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_the_small_copy_of_every_example_strategy_is_valid(path):
    """Every example scenario and strategy, cut to 200 consumers and 5 days, still validates
    (shocks after the cut and a lifetime-value horizon longer than it would not)."""
    for strategy in strategy_names(path) or [None]:
        small = small_copy(load_scenario(path, strategy), 200, 5.0)
        assert small.market.consumers == 200 and small.horizon_days == 5.0
        assert cross_reference_problems(small) == []
