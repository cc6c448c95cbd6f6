"""Recorded KPIs of the small test market (``tests/builders.py``, `scenario`) that the tests of
three optional mechanisms compare with bit for bit: a run without the mechanism's section must
reproduce them (shocks, membership, customer lifecycle). A change meant to move results
re-records them with the scenario goldens, in the same commit:

    python tests/regression/small_goldens.py --update
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

from builders import scenario  # noqa: E402

from omnisim.simulation import Simulation  # noqa: E402

FILES = {
    # file: the scenario's changes (the lifecycle test lets every bad experience risk churn)
    TESTS / "unit/market/data/small_without_shocks.json": {},
    TESTS / "unit/marketing/data/small_without_membership.json": {},
    TESTS / "unit/metrics/data/small_churn_threshold_0.json": {
        "journey": {"churn": {"threshold": 0.0}}
    },
}


def record() -> None:
    for path, changes in FILES.items():
        kpis = Simulation(scenario(**changes), 0).run().kpis
        path.write_text(json.dumps(kpis, indent=1, sort_keys=False) + "\n")
        print(f"recorded {path.relative_to(TESTS.parent)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", required=True)
    parser.parse_args()
    record()
