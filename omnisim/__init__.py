"""omnisim: a discrete-event simulator of a brand's omnichannel retail system.

Consumers move through need, search, decision, purchase, fulfilment and use & review across
online and offline channels; strategies are overlays on a scenario file, compared by running
replications with common random numbers.

    >>> import omnisim
    >>> out = omnisim.simulate("scenarios/quickstart.yaml", replications=2)  # doctest: +SKIP
    >>> out.kpi("revenue")  # doctest: +SKIP
"""

from omnisim._version import __version__
from omnisim.api import RunOutput, build_report, compare, elasticity, simulate, sweep
from omnisim.scenario.loading import ScenarioError, load_scenario
from omnisim.scenario.schema import Scenario

__all__ = [
    "RunOutput",
    "Scenario",
    "ScenarioError",
    "__version__",
    "build_report",
    "compare",
    "elasticity",
    "load_scenario",
    "simulate",
    "sweep",
]
