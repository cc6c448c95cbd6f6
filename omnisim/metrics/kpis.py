"""KPIs: pure functions of a replication's ledger (no simulation state, no randomness).

Every KPI is a flat name (a dot separates a breakdown, e.g. ``channel_share.platform``) and a
float. Definitions, with units, are in ``docs/outputs.md``; all counts and money are over the
measurement window ``[warmup, horizon)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def _ratio(a: float, b: float, empty: float = 0.0) -> float:
    return a / b if b else empty


def compute_kpis(ledger: Mapping, meta: Mapping) -> dict[str, float]:
    """KPIs of one replication from its ledger (``Ledger.as_dict`` plus final tallies)."""
    L = ledger
    days = max(L["horizon"] - L["warmup"], 0.0)
    channel_fixed = L["channel_fixed_cost_per_day"] * days
    brand_profit = (
        L["brand_take"]
        - L["cogs"]
        - L["order_costs"]
        - channel_fixed
        - L["holding_cost"]
        - L["replenishment_cost"]
    )
    k: dict[str, float] = {
        "needs": L["needs"],
        "searches": L["searches"],
        "purchases": L["purchases"],
        "units_sold": L["units"],
        "revenue": L["revenue"],
        "brand_profit": brand_profit,
        "avg_price_paid": _ratio(L["revenue"], L["units"], math.nan),
        "conversion_rate": _ratio(L["purchases"], L["searches"]),
        "lost_sales": L["lost_units"],
        "avg_rating": _ratio(L["stars_sum"], L["reviews"], meta["prior_rating"]),
        "repeat_purchase_rate": _ratio(L["repeat_buyers"], L["buyers"]),
        "fill_rate": _ratio(L["units"], L["units"] + L["lost_units"], 1.0),
        "search_rate": _ratio(L["searches"], L["needs"]),
        "stockouts": L["stockouts"],
        "switches": L["switches"],
        "balks": L["balks"],
        "buyers": L["buyers"],
        "churned": L["churned"],
        "churn_rate": _ratio(L["churned"], L["consumers"]),
        "satisfaction": _ratio(L["satisfaction_sum"], L["satisfaction_n"], math.nan),
        "reviews": L["reviews"],
        "awareness": L["awareness_mean"],
        "revenue_split.brand": L["brand_take"],
        "revenue_split.dealer": L["dealer_take"],
        "revenue_split.platform": L["platform_take"],
        "cost.goods": L["cogs"],
        "cost.orders": L["order_costs"],
        "cost.channel_fixed": channel_fixed,
        "cost.holding": L["holding_cost"],
        "cost.replenishment": L["replenishment_cost"],
        "avg_delivery_days": _ratio(L["delivery_days_sum"], L["online_orders"], math.nan),
        "late_delivery_rate": _ratio(L["late_orders"], L["online_orders"]),
        "units_in_transit": _ratio(L["transit_unit_days"], days),
        "store_wait_probability": _ratio(L["store_waited"], L["store_admitted"]),
        "store_wait_minutes": 1440.0 * _ratio(L["store_wait_days_sum"], L["store_admitted"]),
        "store_balk_rate": _ratio(L["balks"], L["store_arrivals"]),
        "store_block_rate": _ratio(L["blocked"], L["store_arrivals"]),
    }
    revenue = L["revenue"]
    for i, name in enumerate(meta["channels"]):
        k[f"channel_share.{name}"] = _ratio(L["ch_revenue"][i], revenue)
        k[f"channel_orders.{name}"] = L["ch_orders"][i]
    return {name: float(v) for name, v in k.items()}
