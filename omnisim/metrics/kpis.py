"""KPIs: pure functions of a replication's ledger (no simulation state, no randomness).

Every KPI is a flat name (a dot separates a breakdown, e.g. ``channel_share.platform``) and a
float. Each name is declared, with its unit, good direction and formula, in
``omnisim/metrics/registry.py``, and defined in ``docs/outputs.md``; all counts and money are
over the measurement window ``[warmup, horizon)``.

The module reads only the ledger and the run's ``meta``, never the scenario: what it needs of
the scenario (channel names and types, shocks, the prior rating) is in ``meta``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping


def _ratio(a: float, b: float, empty: float = 0.0) -> float:
    return a / b if b else empty


def compute_kpis(ledger: Mapping, meta: Mapping) -> dict[str, float]:
    """KPIs of one replication from its ledger (``Ledger.as_dict`` plus final tallies)."""
    L = ledger
    days = max(L["horizon"] - L["warmup"], 0.0)
    channel_fixed = L["channel_fixed_cost_per_day"] * days
    brand_take, dealer_take = L["brand_take"], L["dealer_take"]
    cogs, holding, replenishment = L["cogs"], L["holding_cost"], L["replenishment_cost"]
    net = L.get("network")
    if net is not None:
        brand_take, dealer_take, cogs, holding, replenishment = _brand_with_network(L, net)
    brand_profit = brand_take - cogs - L["order_costs"] - channel_fixed - holding - replenishment
    brand_profit -= L.get("media_spend", 0.0)  # media plan (0 without one)
    # Membership programme and delivery fees (docs/model.md, "Members"): all 0 without them.
    brand_profit += L.get("delivery_fees", 0.0)
    brand_profit -= L.get("points_cost", 0.0) + L.get("programme_cost", 0.0)
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
        "dropped_out": L["dropped_out"],
        # Customer lifecycle: consumers who churned in the window / customers of the window.
        "churn_rate": _ratio(L["churners"], L["customers"]),
        # Customer lifecycle (docs/outputs.md, "Customer lifecycle").
        "new_customers": L.get("new_customers", math.nan),
        "returning_customers": L.get("returning_customers", math.nan),
        "active_customers": L["active_at_horizon"],
        "aov": _ratio(L["revenue"], L["purchases"], math.nan),
        "items_per_order": _ratio(L["units"], L["purchases"], math.nan),
        "satisfaction": _ratio(L["satisfaction_sum"], L["satisfaction_n"], math.nan),
        "reviews": L["reviews"],
        "awareness": L["awareness_mean"],
        "revenue_split.brand": brand_take,
        "revenue_split.dealer": dealer_take,
        "revenue_split.platform": L["platform_take"],
        "cost.goods": cogs,
        "cost.orders": L["order_costs"],
        "cost.channel_fixed": channel_fixed,
        "cost.holding": holding,
        "cost.replenishment": replenishment,
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
    k.update(lifecycle_kpis(L, meta))
    if net is not None:
        k.update(network_kpis(net))
    k.update(conflict_kpis(L, k, net is not None))
    if "media" in L:  # media plan (docs/outputs.md, "Media")
        k.update(media_kpis(L["media"], L["consumers"]))
    if "social" in L:  # word of mouth (docs/outputs.md, "Word of mouth")
        k["adopters"] = L["social"]["adopter_share"]
        k["wom_talks"] = L["wom_talks"]
        k["kol_posts"] = L["kol_posts"]
    # Membership programme (only with a `membership` section) and delivery fees.
    if "membership" in L or meta.get("delivery_fees"):
        k["delivery_fees"] = L["delivery_fees"]
    if "membership" in L:
        k.update(membership_kpis(L, meta))
    # Shocks: the online revenue share, and before / during / after each shock (docs/outputs.md).
    k.update(online_share_kpis(L, meta))
    k.update(omnichannel_kpis(L))  # omnichannel fulfilment (docs/outputs.md, "Omnichannel")
    return {name: float(v) for name, v in k.items()}


def conflict_kpis(L: Mapping, k: Mapping, network: bool) -> dict[str, float]:
    """Channel conflict (docs/outputs.md, "Channel conflict"): price dispersion across the
    channels a search considered, showrooming and webrooming, and the dealers' total profit
    (its change between strategies is the dealer-profit change; needs ``k``'s network or
    revenue-split KPIs)."""
    purchases = L["purchases"]
    dealer = (
        sum(v for name, v in k.items() if name.startswith("dealer_profit."))
        if network
        else k["revenue_split.dealer"]
    )
    return {
        "price_dispersion": _ratio(L["price_spread_sum"], L["price_spread_n"]),
        "showrooming_rate": _ratio(L["showrooming_orders"], purchases),
        "webrooming_rate": _ratio(L["webrooming_orders"], purchases),
        "cannibalisation.offline_to_online": L["showrooming_revenue"],
        "cannibalisation.online_to_offline": L["webrooming_revenue"],
        "dealer_profit": dealer,
    }


def omnichannel_kpis(L: Mapping) -> dict[str, float]:
    """KPIs of omnichannel fulfilment and profit allocation (docs/outputs.md, "Omnichannel
    fulfilment"; omnisim/channels/fulfilment.py)."""
    return {
        "cross_fulfilled_share": _ratio(L["cross_fulfilled"], L["purchases"]),
        "pickup_share": _ratio(L["pickups"], L["online_orders"]),
        "endless_aisle_orders": L["endless_aisle_orders"],
        "rerouted_orders": L["rerouted_orders"],
        "territory_commission": L["territory_commission"],
        "fulfilment_transfer": L["fulfilment_transfer"],
    }


def membership_kpis(L: Mapping, meta: Mapping) -> dict[str, float]:
    """KPIs of the membership programme (docs/outputs.md, "Membership")."""
    m = L["membership"]
    members = m["members"]
    k: dict[str, float] = {
        "member_share": L["member_share"],
        "members_joined": L["members_joined"],
        "member_revenue_share": _ratio(L["member_revenue"], L["revenue"]),
        "member_orders": L["member_orders"],
        "points_earned": L["points_earned"],
        "points_cost": L["points_cost"],
        "membership_cost": L["programme_cost"],
    }
    for i, name in enumerate(meta["channels"]):
        k[f"members_joined.{name}"] = m["ch_members_joined"][i]
    for name, count in zip(m["tiers"], m["tier_members"], strict=True):
        k[f"tier_share.{name}"] = _ratio(count, members)
    return k


# ------------------------------------------------------------------------------------------
# Customer lifecycle (docs/outputs.md, "Customer lifecycle"; omnisim/consumers/lifecycle.py)


def media_spend_by_channel(media: Mapping | None, channels: list[str], new: list[float]) -> list:
    """Media spend of the window attributed to each channel (currency).

    ``media`` is ``ledger["media"]``: ``{"names": [...], "spend": [...], "channel": [name or
    None, ...]}``, or None (no media: zeros). A medium with a channel gives that channel its
    spend; the spend of media without one is spread over the channels in proportion to the new
    customers each recruited (not at all when no channel recruited anyone)."""
    out = [0.0] * len(channels)
    if media is None:
        return out
    spend, target = media["spend"], media["channel"]
    if len(spend) != len(target) or len(spend) != len(media["names"]):
        raise ValueError("ledger media: names, spend and channel differ in length")
    index = {c: i for i, c in enumerate(channels)}
    unattributed = 0.0
    for name, x, c in zip(media["names"], spend, target, strict=True):
        if c is None:
            unattributed += x
        elif c in index:
            out[index[c]] += x
        else:
            raise ValueError(f"ledger media: medium {name!r} names unknown channel {c!r}")
    total_new = sum(new)
    if total_new > 0:
        for i, n in enumerate(new):
            out[i] += unattributed * n / total_new
    return out


def lifecycle_kpis(L: Mapping, meta: Mapping) -> dict[str, float]:
    """Win-back, CLV, CAC, promotion spend, cross-channel buying and recruitment by channel."""
    channels = list(meta["channels"])
    new, promo = L["ch_new_customers"], L["ch_promotion_spend"]
    media = L.get("media")
    attributed = media_spend_by_channel(media, channels, new)
    media_total = sum(media["spend"]) if media is not None else 0.0
    k: dict[str, float] = {
        "won_back": L["won_back"],
        "clv": _ratio(L["clv_sum"], L["clv_cohort"], math.nan),
        "cac": _ratio(media_total + sum(promo), sum(new), math.nan),
        "promotion_spend": sum(promo),
        "cross_channel_share": _ratio(L["cross_channel_buyers"], L["buyers"]),
    }
    for i, name in enumerate(channels):
        k[f"new_customers.{name}"] = new[i]
        k[f"cac.{name}"] = _ratio(attributed[i] + promo[i], new[i], math.nan)
    return k


def _brand_with_network(L: Mapping, net: Mapping) -> tuple[float, float, float, float, float]:
    """(brand take, dealer take, cost of goods, holding cost, replenishment cost) of the brand
    when a dealer network exists (docs/model.md, 17a, "Money").

    Stores the network supplies are the network's, not the brand's: their consumer sales
    (net of a platform's commission), stock and orders leave the brand's books, and the brand
    earns instead what the top level pays it for the units it ships, at unit_cost each."""
    nodes = net["nodes"]
    terminals = [r for r in nodes.values() if r["kind"] == "terminal"]
    kernel_brand = sum(r.get("consumer_brand_take", 0.0) for r in terminals)
    sold = sum(r["units_out"] for r in terminals)
    brand = next(r for r in nodes.values() if r["kind"] == "brand")
    brand_take = L["brand_take"] - kernel_brand + brand["revenue"]
    # At those stores the consumer's money net of commission is all the store's.
    dealer_take = L["dealer_take"] + kernel_brand
    cogs = L["cogs"] - sold * net["unit_cost"] + brand["cogs"]
    holding = L["holding_cost"] - sum(r["holding_cost"] for r in terminals)
    replenishment = L["replenishment_cost"] - sum(r["ordering_cost"] for r in terminals)
    return brand_take, dealer_take, cogs, holding, replenishment


def media_kpis(media: dict, consumers: int) -> dict[str, float]:
    """KPIs of the media plan (docs/outputs.md, "Media")."""
    k: dict[str, float] = {"media_spend": float(sum(media["spend"]))}
    for m, name in enumerate(media["names"]):
        imp, reach = media["impressions"][m], media["reach"][m]
        k[f"media_spend.{name}"] = media["spend"][m]
        k[f"impressions.{name}"] = imp
        k[f"reach.{name}"] = reach / consumers if consumers else 0.0
        k[f"frequency.{name}"] = imp / reach if reach else 0.0
        k[f"clicks.{name}"] = media["clicks"][m]
    return k


def _variance(x: list[float]) -> float:
    n = len(x)
    if n < 2:
        return 0.0
    m = sum(x) / n
    return sum((v - m) ** 2 for v in x) / (n - 1)


def network_kpis(net: Mapping) -> dict[str, float]:
    """Per-level KPIs of the dealer network (levels in network order, then ``terminal``):
    profit, margin, bullwhip ratio, days of inventory and fill rate (docs/outputs.md)."""
    lo, hi = net["window"]
    # A level removed by flattening has no nodes: it earns nothing and the rest is undefined.
    by_level: dict[str, list[Mapping]] = {level: [] for level in net.get("levels", [])}
    for r in net["nodes"].values():
        if r["kind"] != "brand":
            by_level.setdefault(r["level"], []).append(r)
    k: dict[str, float] = {}
    for level, rows in by_level.items():
        revenue = sum(r["revenue"] for r in rows)
        out_per_day = sum(r["units_out"] for r in rows) / (hi - lo) if hi > lo else 0.0
        asked = sum(r["units_asked"] for r in rows)
        k[f"dealer_profit.{level}"] = sum(r["profit"] for r in rows)
        k[f"dealer_margin.{level}"] = _ratio(
            sum(r["gross_margin"] for r in rows), revenue, math.nan
        )
        k[f"inventory_days.{level}"] = _ratio(
            sum(r["on_hand_avg"] for r in rows), out_per_day, math.nan
        )
        k[f"fill_rate.{level}"] = _ratio(
            asked - sum(r["units_short"] for r in rows), asked, 1.0 if rows else math.nan
        )
        # Bullwhip: the level's orders summed per review instant, against the units consumers
        # asked for at all terminals over the same review periods; periods wholly inside the
        # window only.
        orders: dict[float, float] = {}
        asked_at: dict[float, int] = {}
        for r in rows:
            for t, q, a in zip(r["review_times"], r["orders"], r["asked_at_review"], strict=True):
                orders[t] = orders.get(t, 0.0) + q
                asked_at[t] = a
        times = sorted(orders)
        o_series, d_series = [], []
        for prev, t in itertools.pairwise(times):
            if prev >= lo and t < hi:
                o_series.append(orders[t])
                d_series.append(asked_at[t] - asked_at[prev])
        k[f"bullwhip.{level}"] = _ratio(_variance(o_series), _variance(d_series), math.nan)
    if "exits" in net:  # only with `network.exit`: dealers that left in the window, per level
        for level in net.get("levels", []):
            if level != "terminal":
                k[f"dealers_exited.{level}"] = float(
                    sum(1 for e in net["exits"] if e["level"] == level and lo <= e["time"] < hi)
                )
    return k


# ------------------------------------------------------------------------------------------
# Shocks (docs/outputs.md, "Shocks"; omnisim/market/shocks.py)

OFFLINE_TYPE_NAMES: frozenset[str] = frozenset({"own_store", "dealer_store"})
"""The channel types (as ``meta["channel_types"]`` writes them) that are offline: the schema's
``OFFLINE_TYPES``, by value. Written out rather than imported so that the KPIs do not depend on
the scenario package (a metrics test keeps the two equal); every other type is online."""


def online_share_kpis(L: Mapping, meta: Mapping) -> dict[str, float]:
    """``online_share``: the revenue share of the online channel types over the window; with
    shocks (``meta["shocks"]``), ``online_share.before.<s>``, ``.during.<s>`` and ``.after.<s>``
    from the per-period channel revenue, a period counting for the span holding its midpoint
    (NaN for a span without periods or revenue)."""
    types = meta.get("channel_types")
    if types is None:  # a ledger from before the channel types were recorded
        return {}
    online = [t not in OFFLINE_TYPE_NAMES for t in types]
    k: dict[str, float] = {
        "online_share": _ratio(
            sum(v for v, on in zip(L["ch_revenue"], online, strict=True) if on), L["revenue"]
        )
    }
    spans = meta.get("shocks", [])
    if not spans:
        return k
    lo, hi, width = L["warmup"], L["horizon"], L["period"]
    rows = L["ts_ch_revenue"]
    n = len(rows)
    mids = [(lo + p * width + (hi if p == n - 1 else lo + (p + 1) * width)) / 2 for p in range(n)]
    on_rev = [sum(v for v, on in zip(r, online, strict=True) if on) for r in rows]
    all_rev = [sum(r) for r in rows]
    for s in spans:
        a, b = s["start_day"], s["end_day"]
        for span, inside in (
            ("before", lambda m, a=a: m < a),
            ("during", lambda m, a=a, b=b: a <= m < b),
            ("after", lambda m, b=b: m >= b),
        ):
            ps = [p for p in range(n) if inside(mids[p])]
            k[f"online_share.{span}.{s['name']}"] = _ratio(
                sum(on_rev[p] for p in ps), sum(all_rev[p] for p in ps), math.nan
            )
    return k
