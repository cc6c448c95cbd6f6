"""The unit of every KPI, as `docs/outputs.md` states it, for axis labels and number formats.

A KPI name is looked up whole first, then by its family (the part before the first dot:
``dealer_profit.city_dealer`` is a ``dealer_profit.<level>``). The test of this module reads
the unit column of every KPI table in `docs/outputs.md` and checks that this table agrees, so
the two cannot drift apart.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["money", "count", "fraction", "level"]
"""How a unit is drawn: money in the scenario's currency, a count (whole numbers, thousands
separated), a fraction (shown in per cent), or a level on its own scale (stars, days, ...)."""

_EXACT: dict[str, str] = {
    "needs": "count",
    "searches": "count",
    "purchases": "count (orders)",
    "units_sold": "units",
    "conversion_rate": "fraction",
    "search_rate": "fraction",
    "buyers": "count",
    "repeat_purchase_rate": "fraction",
    "revenue": "currency",
    "avg_price_paid": "currency / unit",
    "brand_profit": "currency",
    "lost_sales": "units",
    "stockouts": "count",
    "fill_rate": "fraction",
    "switches": "count",
    "avg_delivery_days": "days",
    "late_delivery_rate": "fraction",
    "units_in_transit": "units",
    "cross_fulfilled_share": "fraction",
    "pickup_share": "fraction",
    "endless_aisle_orders": "count",
    "rerouted_orders": "count",
    "territory_commission": "currency",
    "fulfilment_transfer": "currency",
    "balks": "count",
    "store_wait_probability": "fraction",
    "store_wait_minutes": "minutes",
    "store_balk_rate": "fraction",
    "store_block_rate": "fraction",
    "satisfaction": "utility",
    "reviews": "count",
    "avg_rating": "stars",
    "churned": "count",
    "churn_rate": "fraction",
    "awareness": "fraction",
    "price_dispersion": "fraction",
    "showrooming_rate": "fraction",
    "webrooming_rate": "fraction",
    "dealer_profit": "currency",
    "media_spend": "currency",
    "new_customers": "count (consumers)",
    "returning_customers": "count (consumers)",
    "active_customers": "count (consumers)",
    "aov": "currency / order",
    "items_per_order": "units / order",
    "won_back": "count",
    "cross_channel_share": "fraction",
    "clv": "currency / customer",
    "promotion_spend": "currency",
    "cac": "currency / customer",
    "delivery_fees": "currency",
    "member_share": "fraction",
    "members_joined": "count",
    "member_revenue_share": "fraction",
    "member_orders": "count",
    "points_earned": "points",
    "points_cost": "currency",
    "membership_cost": "currency",
    "adopters": "fraction",
    "wom_talks": "count",
    "kol_posts": "count (posts)",
    "online_share": "fraction",
}

_FAMILY: dict[str, str] = {
    "channel_orders": "count",
    "channel_share": "fraction",
    "revenue_split": "currency",
    "cost": "currency",
    "cannibalisation": "currency",
    "dealer_profit": "currency",
    "dealer_margin": "fraction",
    "bullwhip": "ratio",
    "inventory_days": "days",
    "fill_rate": "fraction",
    "dealers_exited": "count",
    "media_spend": "currency",
    "impressions": "count",
    "reach": "fraction",
    "frequency": "impressions / consumer",
    "clicks": "count",
    "new_customers": "count (consumers)",
    "cac": "currency / customer",
    "members_joined": "count",
    "tier_share": "fraction",
    "online_share": "fraction",
}


def unit_of(kpi: str) -> str | None:
    """The unit of a KPI as `docs/outputs.md` writes it (``currency``, ``count (orders)``,
    ``fraction``, ``days``, ...), or None for a name outside the documented KPIs."""
    if kpi in _EXACT:
        return _EXACT[kpi]
    family = kpi.partition(".")[0]
    return _FAMILY.get(family) if "." in kpi else None


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
