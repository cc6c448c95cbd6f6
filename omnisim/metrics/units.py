"""The unit of every KPI, as `docs/outputs.md` states it, for axis labels and number formats,
and the direction in which a change is good for the brand, for colouring differences.

A KPI name is looked up whole first, then by its family (the part before the first dot:
``dealer_profit.city_dealer`` is a ``dealer_profit.<level>``). The test of this module reads
the unit and "good" columns of every KPI table in `docs/outputs.md` and checks that this
table agrees, so the two cannot drift apart.

The direction is the brand's point of view, the one a report is written for:

* ``UP`` (+1): more is better for the brand: sales, profit, customers and their loyalty,
  service levels, awareness.
* ``DOWN`` (−1): less is better: costs, shortfalls, waiting, lateness, churn, channel
  conflict (price dispersion), order-variance amplification.
* ``NEUTRAL`` (0): neither in itself: demand the market brings (``needs``), the mix of
  channels, vehicles or tiers (a share moves from one to another; the total is elsewhere),
  other parties' money (dealers', platforms'), prices (what a price cut is meant to lower),
  and descriptive counts whose value depends on what drove them.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["money", "count", "fraction", "level"]
"""How a unit is drawn: money in the scenario's currency, a count (whole numbers, thousands
separated), a fraction (shown in per cent), or a level on its own scale (stars, days, ...)."""

UP: Final = 1
DOWN: Final = -1
NEUTRAL: Final = 0

# (unit, good direction) per KPI name; `_FAMILY` below for the dotted families. Reasons are
# given where the direction is a judgement rather than plain (costs down, sales up).
_EXACT: dict[str, tuple[str, int]] = {
    "needs": ("count", NEUTRAL),  # demand the market brings, not something the brand wins
    # Searches are needs that reached the brand's channels at all (aware, a channel in
    # consideration): the top of the brand's funnel.
    "searches": ("count", UP),
    "purchases": ("count (orders)", UP),
    "units_sold": ("units", UP),
    "conversion_rate": ("fraction", UP),
    "search_rate": ("fraction", UP),
    "buyers": ("count", UP),
    "repeat_purchase_rate": ("fraction", UP),
    "revenue": ("currency", UP),
    # The price is the lever (a price cut lowers it on purpose, a channel shift moves it);
    # what it does for the brand shows in revenue and brand_profit.
    "avg_price_paid": ("currency / unit", NEUTRAL),
    "brand_profit": ("currency", UP),
    "lost_sales": ("units", DOWN),
    "stockouts": ("count", DOWN),
    "fill_rate": ("fraction", UP),
    "switches": ("count", DOWN),  # each one follows a stock-out or a balk
    "avg_delivery_days": ("days", DOWN),
    "late_delivery_rate": ("fraction", DOWN),
    # Units in transit grow with online volume as much as with slow delivery (Little's law).
    "units_in_transit": ("units", NEUTRAL),
    # Cross-channel fulfilment measures how much the omnichannel switches are used, not
    # whether that pays: the payoff is in fill_rate, lost_sales and profit.
    "cross_fulfilled_share": ("fraction", NEUTRAL),
    "pickup_share": ("fraction", NEUTRAL),
    "endless_aisle_orders": ("count", NEUTRAL),  # a saved sale, but only after a stock-out
    "rerouted_orders": ("count", NEUTRAL),
    "territory_commission": ("currency", NEUTRAL),  # money moved between the chain's owners
    "fulfilment_transfer": ("currency", NEUTRAL),
    "balks": ("count", DOWN),
    "store_wait_probability": ("fraction", DOWN),
    "store_wait_minutes": ("minutes", DOWN),
    "store_balk_rate": ("fraction", DOWN),
    "store_block_rate": ("fraction", DOWN),
    "satisfaction": ("utility", UP),
    "reviews": ("count", NEUTRAL),  # their number says nothing of their stars (avg_rating)
    "avg_rating": ("stars", UP),
    "churned": ("count", DOWN),
    "churn_rate": ("fraction", DOWN),
    "awareness": ("fraction", UP),
    # One brand, one price: a spread between channels is the inconsistency omnichannel
    # integration removes (and what drives showrooming to the cheapest channel).
    "price_dispersion": ("fraction", DOWN),
    # Cross-channel journeys: harmful to a dealer who loses the sale, natural to an
    # integrated brand; the money is in revenue and the profit KPIs.
    "showrooming_rate": ("fraction", NEUTRAL),
    "webrooming_rate": ("fraction", NEUTRAL),
    "dealer_profit": ("currency", NEUTRAL),  # the dealers' money, not the brand's
    "media_spend": ("currency", DOWN),
    "new_customers": ("count (consumers)", UP),
    "returning_customers": ("count (consumers)", UP),
    "active_customers": ("count (consumers)", UP),
    "aov": ("currency / order", UP),  # bigger baskets, the retail convention
    "items_per_order": ("units / order", UP),
    "won_back": ("count", UP),
    "cross_channel_share": ("fraction", NEUTRAL),  # the channel mix of a buyer
    "clv": ("currency / customer", UP),
    "promotion_spend": ("currency", DOWN),  # the price cut given away
    "cac": ("currency / customer", DOWN),
    # A fee consumers pay: income in brand_profit but a price that deters buying (free
    # delivery is a membership benefit); the net effect is in brand_profit.
    "delivery_fees": ("currency", NEUTRAL),
    "member_share": ("fraction", UP),
    "members_joined": ("count", UP),
    "member_revenue_share": ("fraction", NEUTRAL),  # the mix of revenue, members or not
    "member_orders": ("count", NEUTRAL),  # part of purchases, which carries the direction
    "points_earned": ("points", NEUTRAL),  # their cost is points_cost
    "points_cost": ("currency", DOWN),
    "membership_cost": ("currency", DOWN),
    "adopters": ("fraction", UP),
    "wom_talks": ("count", NEUTRAL),  # a dissatisfied teller lowers intent (model.md, 17b)
    "kol_posts": ("count (posts)", NEUTRAL),  # set by the KOLs' schedule, an input
    "online_share": ("fraction", NEUTRAL),
    "revenue_split.brand": ("currency", UP),
    "revenue_split.dealer": ("currency", NEUTRAL),
    "revenue_split.platform": ("currency", NEUTRAL),  # the platforms' commission income
}

_FAMILY: dict[str, tuple[str, int]] = {
    # Per channel, vehicle or tier: a strategy that moves business from one to another makes
    # one rise and another fall, neither good for the brand in itself.
    "channel_orders": ("count", NEUTRAL),
    "channel_share": ("fraction", NEUTRAL),
    "revenue_split": ("currency", NEUTRAL),
    "cost": ("currency", DOWN),
    "cannibalisation": ("currency", NEUTRAL),
    "dealer_profit": ("currency", NEUTRAL),
    "dealer_margin": ("fraction", NEUTRAL),
    # Amplified order swings reach the brand's own production and stock planning.
    "bullwhip": ("ratio", DOWN),
    # Fewer days of cover tie up less money but risk stock-outs: no direction is good.
    "inventory_days": ("days", NEUTRAL),
    "fill_rate": ("fraction", UP),
    # An exit strands the dealer's stores with a new supplier and writes its stock off: the
    # network the brand sells through is failing.
    "dealers_exited": ("count", DOWN),
    "media_spend": ("currency", DOWN),
    "impressions": ("count", NEUTRAL),
    "reach": ("fraction", NEUTRAL),
    "frequency": ("impressions / consumer", NEUTRAL),
    "clicks": ("count", NEUTRAL),
    "new_customers": ("count (consumers)", NEUTRAL),
    # Spend per recruit of one channel: an efficiency, lower is better whatever the mix.
    "cac": ("currency / customer", DOWN),
    "members_joined": ("count", NEUTRAL),
    "tier_share": ("fraction", NEUTRAL),
    "online_share": ("fraction", NEUTRAL),
}


def _entry(kpi: str) -> tuple[str, int] | None:
    if kpi in _EXACT:
        return _EXACT[kpi]
    family = kpi.partition(".")[0]
    return _FAMILY.get(family) if "." in kpi else None


def unit_of(kpi: str) -> str | None:
    """The unit of a KPI as `docs/outputs.md` writes it (``currency``, ``count (orders)``,
    ``fraction``, ``days``, ...), or None for a name outside the documented KPIs."""
    entry = _entry(kpi)
    return entry[0] if entry else None


def good_direction(kpi: str) -> int:
    """+1 when a rise of the KPI is good for the brand, -1 when a fall is, 0 when neither
    (a neutral or descriptive KPI, or a name outside the documented KPIs)."""
    entry = _entry(kpi)
    return entry[1] if entry else NEUTRAL


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
