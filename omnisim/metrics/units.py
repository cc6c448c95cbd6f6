"""The unit of every KPI, as `docs/outputs.md` states it, for axis labels and number formats,
and the direction in which a change is good for the brand, for colouring differences.

Both are read from the KPI registry (`omnisim.metrics.registry`, which also says why a
direction is what it is); a test keeps the registry and `docs/outputs.md`'s KPI tables equal.
A KPI name is looked up whole first, then by its family (``dealer_profit.city_dealer`` is a
``dealer_profit.<level>``). Directions are +1 (`UP`: more is better for the brand), -1
(`DOWN`: less is better) and 0 (`NEUTRAL`: neither in itself).
"""

from __future__ import annotations

from typing import Literal

from omnisim.metrics.registry import DOWN, NEUTRAL, UP, lookup

__all__ = ["DOWN", "NEUTRAL", "UP", "Kind", "good_direction", "kind_of", "unit_label", "unit_of"]

Kind = Literal["money", "count", "fraction", "level"]
"""How a unit is drawn: money in the scenario's currency, a count (whole numbers, thousands
separated), a fraction (shown in per cent), or a level on its own scale (stars, days, ...)."""


def unit_of(kpi: str) -> str | None:
    """The unit of a KPI as `docs/outputs.md` writes it (``currency``, ``count (orders)``,
    ``fraction``, ``days``, ...), or None for a name outside the documented KPIs."""
    entry = lookup(kpi)
    return entry.unit if entry else None


def good_direction(kpi: str) -> int:
    """+1 when a rise of the KPI is good for the brand, -1 when a fall is, 0 when neither
    (a neutral or descriptive KPI, or a name outside the documented KPIs)."""
    entry = lookup(kpi)
    return entry.good if entry else NEUTRAL


def kind_of(kpi: str) -> Kind:
    """How to draw a KPI's numbers (see `Kind`); an unknown KPI is a level."""
    unit = unit_of(kpi) or ""
    if unit.startswith("currency"):
        return "money"
    if unit == "fraction":
        return "fraction"
    if unit.startswith(("count", "units", "points")) and "/" not in unit:
        return "count"
    return "level"


def unit_label(kpi: str, currency: str) -> str:
    """The KPI's unit as an axis or table shows it, the currency written out: ``CNY``,
    ``%``, ``orders`` (for ``count (orders)``), ``stars``, ``CNY / customer``; empty for an
    unknown KPI."""
    unit = unit_of(kpi)
    if unit is None:
        return ""
    if unit == "fraction":
        return "%"
    if unit.startswith("count (") and unit.endswith(")"):
        return unit[len("count (") : -1]
    return unit.replace("currency", currency)
