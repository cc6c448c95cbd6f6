"""The KPI registry: every KPI (or family of KPIs) declared once, with its unit, the direction
in which a change is good for the brand, a one-line description, its formula and the headline
lists it belongs to.

`omnisim.metrics.units` reads the units and directions from here (axis labels, number formats,
the colour of a difference); the console's, the report's and the sweep's headline lists are
`headline(...)` of a set named here. The KPI tables of `docs/outputs.md` state the same: a test
(tests/unit/metrics/test_registry.py) checks that every KPI row there is declared here with the
same unit, direction and formula, that every declaration here has its row, in the same order,
and that every KPI `compute_kpis` emits is declared. Adding a KPI is therefore one declaration
here and one row there, besides the code in `omnisim/metrics/kpis.py` that computes it.

A family is written as the docs write it, its varying part last in angle brackets:
``dealer_profit.<level>`` stands for ``dealer_profit.city_dealer``, ``dealer_profit.terminal``,
... (any non-empty rest). A name is looked up whole first, then by the longest family prefix.

The direction is the brand's point of view, the one a report is written for:

* ``UP`` (+1): more is better for the brand: sales, profit, customers and their loyalty,
  service levels, awareness.
* ``DOWN`` (−1): less is better: costs, shortfalls, waiting, lateness, churn, channel
  conflict (price dispersion), order-variance amplification.
* ``NEUTRAL`` (0): neither in itself: demand the market brings (``needs``), the mix of
  channels, vehicles or tiers (a share moves from one to another; the total is elsewhere),
  other parties' money (dealers', platforms'), prices (what a price cut is meant to lower),
  and descriptive counts whose value depends on what drove them.

Reasons are given in comments where the direction is a judgement rather than plain (costs
down, sales up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

Direction = Literal[1, -1, 0]
"""The good direction of a KPI: +1 (up), -1 (down) or 0 (neutral)."""

UP: Final = 1
DOWN: Final = -1
NEUTRAL: Final = 0

HeadlineSet = Literal["console", "report", "report_panels", "sweep_console", "sweep_report"]

HEADLINE_SETS: Final[Mapping[HeadlineSet, str]] = MappingProxyType(
    {
        "console": "the tables `omnisim run` and `omnisim compare` print (omnisim/cli.py), "
        "before the channel shares",
        "report": "the rows of a comparison report's findings table and the panels of its "
        "forest plot of differences (omnisim/report/results.py)",
        "report_panels": "the panels of a comparison report's KPI comparison chart "
        "(omnisim/report/charts.py)",
        "sweep_console": "the KPIs whose most influential parameters `omnisim sweep` prints "
        "(omnisim/cli.py)",
        "sweep_report": "the sensitivity panels and response surfaces of a sweep report "
        "(omnisim/report/sweep_charts.py)",
    }
)
"""The headline lists, by name: what each one is for and who reads it. A KPI's ``headline``
gives its position (from 1) in each list it belongs to; each list shows only the KPIs the
results have."""


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI, or one family of KPIs (``name`` ending in ``.<part>``)."""

    name: str
    unit: str
    """As `docs/outputs.md` writes it: ``currency``, ``count (orders)``, ``fraction``,
    ``days``, ``currency / customer``, ... (``currency`` is the scenario's)."""
    good: Direction
    description: str
    """One line, for a reader who does not know the tally names."""
    formula: str | None = None
    """The formula over the ledger's tallies as `docs/outputs.md`'s table begins it, or None
    where the table defines the KPI in words."""
    headline: Mapping[HeadlineSet, int] = field(default_factory=dict)
    """Position (from 1) in each headline list the KPI belongs to."""

    @property
    def is_family(self) -> bool:
        return self.name.endswith(">")

    @property
    def prefix(self) -> str:
        """``dealer_profit.`` for ``dealer_profit.<level>``; the whole name if not a family."""
        return self.name[: self.name.index("<")] if self.is_family else self.name


# In the order of docs/outputs.md's tables (the test checks it), section by section.
KPIS: Final[tuple[Kpi, ...]] = (
    # Funnel
    Kpi(
        "needs",
        "count",
        NEUTRAL,  # demand the market brings, not something the brand wins
        "Needs that arose among consumers in the window",
        "needs",
        {"console": 1, "report": 1, "sweep_console": 1},
    ),
    # Searches are needs that reached the brand's channels at all (aware, a channel in
    # consideration): the top of the brand's funnel.
    Kpi(
        "searches",
        "count",
        UP,
        "Needs that became a search of the brand's channels",
        "searches",
        {"console": 2, "report": 2},
    ),
    Kpi(
        "purchases",
        "count (orders)",
        UP,
        "Orders placed",
        "purchases",
        {"console": 3, "report": 3, "report_panels": 3, "sweep_console": 2, "sweep_report": 3},
    ),
    Kpi("units_sold", "units", UP, "Units sold", "units", {"console": 4}),
    Kpi(
        "conversion_rate",
        "fraction",
        UP,
        "Share of searches that ended in a purchase",
        "purchases / searches",
        {"console": 8},
    ),
    Kpi("search_rate", "fraction", UP, "Share of needs that became a search", "searches / needs"),
    Kpi("buyers", "count", UP, "Consumers with at least one purchase in the window"),
    Kpi(
        "repeat_purchase_rate",
        "fraction",
        UP,
        "Share of buyers who bought more than once",
        "repeat_buyers / buyers",
        {"console": 12, "report": 10, "report_panels": 6},
    ),
    # Per channel, vehicle or tier (here and below): a strategy that moves business from one
    # to another makes one rise and another fall, neither good for the brand in itself.
    Kpi(
        "channel_orders.<channel>", "count", NEUTRAL, "Orders a channel took", "ch_orders[channel]"
    ),
    # Money
    Kpi(
        "revenue",
        "currency",
        UP,
        "What consumers paid for goods",
        "revenue",
        {"console": 5, "report": 4, "report_panels": 1, "sweep_console": 3, "sweep_report": 1},
    ),
    # The price is the lever (a price cut lowers it on purpose, a channel shift moves it);
    # what it does for the brand shows in revenue and brand_profit.
    Kpi(
        "avg_price_paid",
        "currency / unit",
        NEUTRAL,
        "Mean price paid per unit sold",
        "revenue / units",
        {"console": 7},
    ),
    Kpi(
        "channel_share.<channel>",
        "fraction",
        NEUTRAL,
        "A channel's share of revenue",
        "ch_revenue[channel] / revenue",
    ),
    Kpi("revenue_split.brand", "currency", UP, "The brand's take of revenue", "brand_take"),
    Kpi(
        "revenue_split.dealer",
        "currency",
        NEUTRAL,
        "Revenue kept by dealers and livestream hosts",
        "dealer_take",
    ),
    # The platforms' commission income: their money, not the brand's.
    Kpi(
        "revenue_split.platform",
        "currency",
        NEUTRAL,
        "Commissions kept by platforms",
        "platform_take",
    ),
    Kpi("cost.goods", "currency", DOWN, "The brand's cost of goods sold", "cogs"),
    Kpi("cost.orders", "currency", DOWN, "The brand's per-order costs", "order_costs"),
    Kpi(
        "cost.channel_fixed",
        "currency",
        DOWN,
        "The channels' fixed costs over the window",
        "Σ_channels fixed_cost_per_day × (H − W)",
    ),
    Kpi("cost.holding", "currency", DOWN, "The brand's stock-holding cost", "holding_cost"),
    Kpi(
        "cost.replenishment",
        "currency",
        DOWN,
        "The brand's replenishment ordering cost",
        "replenishment_cost",
    ),
    Kpi(
        "brand_profit",
        "currency",
        UP,
        "The brand's take less its costs, media, points and programme, plus delivery fees",
        "revenue_split.brand − cost.goods − cost.orders − cost.channel_fixed − cost.holding"
        " − cost.replenishment − media_spend + delivery_fees − points_cost − membership_cost",
        {"console": 6, "report": 5, "report_panels": 2, "sweep_console": 4, "sweep_report": 2},
    ),
    # Stock and fulfilment
    Kpi(
        "lost_sales",
        "units",
        DOWN,
        "Units asked for at a node that had none",
        "lost_units",
        {"console": 9, "report": 7},
    ),
    Kpi("stockouts", "count", DOWN, "Purchase attempts that met a stock-out", "stockouts"),
    Kpi(
        "fill_rate",
        "fraction",
        UP,
        "Share of units asked for that were sold at once",
        "units / (units + lost_units)",
        {"console": 10, "report": 8, "report_panels": 4, "sweep_console": 5, "sweep_report": 4},
    ),
    # Each switch follows a stock-out or a balk.
    Kpi(
        "switches",
        "count",
        DOWN,
        "Consumers who switched channel after a failed attempt",
        "switches",
    ),
    Kpi(
        "avg_delivery_days",
        "days",
        DOWN,
        "Mean lead time of online orders",
        "delivery_days_sum / online_orders",
        {"report": 15},
    ),
    Kpi(
        "late_delivery_rate",
        "fraction",
        DOWN,
        "Share of online orders delivered late",
        "late_orders / online_orders",
    ),
    # Units in transit grow with online volume as much as with slow delivery (Little's law).
    Kpi(
        "units_in_transit",
        "units",
        NEUTRAL,
        "Time-average of units ordered online and not yet received",
        "transit_unit_days / (H − W)",
    ),
    # Omnichannel fulfilment. These measure how much the omnichannel switches are used, not
    # whether that pays: the payoff is in fill_rate, lost_sales and profit.
    Kpi(
        "cross_fulfilled_share",
        "fraction",
        NEUTRAL,
        "Share of orders fulfilled by a node outside the taking channel's own",
        "cross_fulfilled / purchases",
    ),
    Kpi(
        "pickup_share",
        "fraction",
        NEUTRAL,
        "Share of online orders collected in a store",
        "pickups / online_orders",
    ),
    # A saved sale, but only after a stock-out.
    Kpi(
        "endless_aisle_orders",
        "count",
        NEUTRAL,
        "Store visitors who met an empty shelf and took home delivery",
    ),
    Kpi(
        "rerouted_orders",
        "count",
        NEUTRAL,
        "Online deliveries served by another node than the consumer's first",
    ),
    # Money moved between the chain's owners.
    Kpi(
        "territory_commission",
        "currency",
        NEUTRAL,
        "Commission on online orders credited to the consumer's store's owner",
    ),
    Kpi(
        "fulfilment_transfer",
        "currency",
        NEUTRAL,
        "Money credited to the owners of the nodes that fulfilled cross-fulfilled orders",
    ),
    # Stores
    Kpi("balks", "count", DOWN, "Store visitors who left without queueing", "balks"),
    Kpi(
        "store_wait_probability",
        "fraction",
        DOWN,
        "Share of admitted store visitors who waited",
        "store_waited / store_admitted",
    ),
    Kpi(
        "store_wait_minutes",
        "minutes",
        DOWN,
        "Mean queueing wait of admitted store visitors",
        "1440 × store_wait_days_sum / store_admitted",
    ),
    Kpi(
        "store_balk_rate",
        "fraction",
        DOWN,
        "Share of store arrivals who balked",
        "balks / store_arrivals",
    ),
    Kpi(
        "store_block_rate",
        "fraction",
        DOWN,
        "Share of store arrivals turned away by a full store",
        "blocked / store_arrivals",
    ),
    # Dealer network, per level. The dealers' money is not the brand's.
    Kpi("dealer_profit.<level>", "currency", NEUTRAL, "A level's dealers' profit", "Σ profit"),
    Kpi(
        "dealer_margin.<level>",
        "fraction",
        NEUTRAL,
        "A level's gross margin over its revenue",
        "Σ gross_margin / Σ revenue",
    ),
    # Amplified order swings reach the brand's own production and stock planning.
    Kpi(
        "bullwhip.<level>",
        "ratio",
        DOWN,
        "Variance of a level's orders over that of consumer demand",
        "Var(O_k) / Var(D_k)",
    ),
    # Fewer days of cover tie up less money but risk stock-outs: no direction is good.
    Kpi(
        "inventory_days.<level>",
        "days",
        NEUTRAL,
        "A level's days of stock cover at its outflow",
        "Σ on_hand_avg / (Σ units_out / (H − W))",
    ),
    Kpi(
        "fill_rate.<level>",
        "fraction",
        UP,
        "Share of units ordered from a level that it shipped at once",
        "Σ (units_asked − units_short) / Σ units_asked",
    ),
    # An exit strands the dealer's stores with a new supplier and writes its stock off: the
    # network the brand sells through is failing.
    Kpi("dealers_exited.<level>", "count", DOWN, "Dealers of a level that left in the window"),
    # Experience and loyalty
    Kpi(
        "satisfaction",
        "utility",
        UP,
        "Mean satisfaction of purchases",
        "satisfaction_sum / satisfaction_n",
    ),
    # Their number says nothing of their stars (avg_rating).
    Kpi("reviews", "count", NEUTRAL, "Reviews posted", "reviews"),
    Kpi(
        "avg_rating",
        "stars",
        UP,
        "Mean stars of the reviews posted in the window",
        "stars_sum / reviews",
        {"console": 11, "report": 9, "report_panels": 5},
    ),
    Kpi("churned", "count", DOWN, "Churn events", "churned"),
    Kpi(
        "dropped_out",
        "count",
        DOWN,
        "Churn events that are drop-outs after a repeat purchase (heterogeneity)",
        "dropped_out",
    ),
    Kpi(
        "churn_rate",
        "fraction",
        DOWN,
        "Share of the window's customers who churned in it",
        "churners / customers",
    ),
    Kpi("awareness", "fraction", UP, "Mean effective brand awareness at the horizon"),
    # Channel conflict. One brand, one price: a spread between channels is the inconsistency
    # omnichannel integration removes (and what drives showrooming to the cheapest channel).
    Kpi(
        "price_dispersion",
        "fraction",
        DOWN,
        "Mean relative spread of the prices a search saw across channels",
        "price_spread_sum / price_spread_n",
        {"report": 14},
    ),
    # Cross-channel journeys: harmful to a dealer who loses the sale, natural to an integrated
    # brand; the money is in revenue and the profit KPIs.
    Kpi(
        "showrooming_rate",
        "fraction",
        NEUTRAL,
        "Share of purchases searched offline and bought online",
    ),
    Kpi(
        "webrooming_rate",
        "fraction",
        NEUTRAL,
        "Share of purchases searched online and bought in a store",
    ),
    Kpi(
        "cannibalisation.offline_to_online",
        "currency",
        NEUTRAL,
        "Goods revenue of showrooming purchases",
    ),
    Kpi(
        "cannibalisation.online_to_offline",
        "currency",
        NEUTRAL,
        "Goods revenue of webrooming purchases",
    ),
    # The dealers' money, not the brand's.
    Kpi(
        "dealer_profit",
        "currency",
        NEUTRAL,
        "The dealers' total profit (their revenue split without a network)",
        headline={"report": 6},
    ),
    # Media
    Kpi(
        "media_spend",
        "currency",
        DOWN,
        "Spend of the media plan",
        "Σ_m media.spend[m]",
    ),
    Kpi(
        "media_spend.<m>",
        "currency",
        DOWN,
        "A vehicle's spend",
        "media.impressions[m] × cpm_m / 1000",
    ),
    Kpi(
        "impressions.<m>",
        "count",
        NEUTRAL,
        "A vehicle's delivered impressions",
        "media.impressions[m]",
    ),
    Kpi(
        "reach.<m>",
        "fraction",
        NEUTRAL,
        "Share of consumers a vehicle reached at least once",
        "media.reach[m] / market.consumers",
    ),
    Kpi(
        "frequency.<m>",
        "impressions / consumer",
        NEUTRAL,
        "A vehicle's mean impressions per reached consumer",
        "media.impressions[m] / media.reach[m]",
    ),
    Kpi("clicks.<m>", "count", NEUTRAL, "A vehicle's clicks", "media.clicks[m]"),
    # Customer lifecycle
    Kpi(
        "new_customers",
        "count (consumers)",
        UP,
        "Consumers whose first purchase ever lies in the window",
        "#{i : n_i ≥ 1 and not b_i}",
    ),
    Kpi(
        "returning_customers",
        "count (consumers)",
        UP,
        "Consumers with an in-window purchase that was not their first",
        "#{i : n_i ≥ 1 and (b_i or n_i ≥ 2)}",
    ),
    Kpi(
        "active_customers",
        "count (consumers)",
        UP,
        "Consumers who bought within lifecycle.active_days of the horizon",
        "active_at_horizon",
    ),
    # Bigger baskets, the retail convention.
    Kpi("aov", "currency / order", UP, "Average order value", "revenue / purchases"),
    Kpi("items_per_order", "units / order", UP, "Mean units per order", "units / purchases"),
    Kpi("won_back", "count", UP, "Returns of churned consumers", "won_back"),
    # A channel's part of the recruitment mix; the total is new_customers.
    Kpi(
        "new_customers.<channel>",
        "count (consumers)",
        NEUTRAL,
        "New customers a channel recruited",
        "ch_new_customers[channel]",
    ),
    # The channel mix of a buyer.
    Kpi(
        "cross_channel_share",
        "fraction",
        NEUTRAL,
        "Share of buyers who bought in two channels or more",
        "cross_channel_buyers / buyers",
    ),
    Kpi(
        "clv",
        "currency / customer",
        UP,
        "Mean discounted contribution margin per customer of the CLV cohort",
        "clv_sum / clv_cohort",
        {"report": 11},
    ),
    # The price cut given away.
    Kpi(
        "promotion_spend",
        "currency",
        DOWN,
        "Price cut given by promotions",
        "Σ_c ch_promotion_spend[c]",
    ),
    # Spend per recruit of one channel: an efficiency, lower is better whatever the mix.
    Kpi(
        "cac.<channel>",
        "currency / customer",
        DOWN,
        "Media and promotion spend per new customer a channel recruited",
        "(M_c + ch_promotion_spend[c]) / ch_new_customers[c]",
    ),
    Kpi(
        "cac",
        "currency / customer",
        DOWN,
        "Media and promotion spend per new customer",
        "(Σ media spend + promotion_spend) / new_customers",
        {"report": 12},
    ),
    # Membership. Delivery fees are a fee consumers pay: income in brand_profit but a price
    # that deters buying (free delivery is a membership benefit); the net is in brand_profit.
    Kpi(
        "delivery_fees",
        "currency",
        NEUTRAL,
        "Fees consumers paid on online orders",
        "delivery_fees",
    ),
    Kpi(
        "member_share",
        "fraction",
        UP,
        "Share of consumers who are members at the horizon",
        headline={"report": 16},
    ),
    Kpi("members_joined", "count", UP, "Joins at checkout", "members_joined"),
    # The mix of revenue, members or not.
    Kpi(
        "member_revenue_share",
        "fraction",
        NEUTRAL,
        "Members' share of revenue",
        "member_revenue / revenue",
    ),
    # Part of purchases, which carries the direction.
    Kpi("member_orders", "count", NEUTRAL, "Orders by members", "member_orders"),
    # Their cost is points_cost.
    Kpi("points_earned", "points", NEUTRAL, "Loyalty points earned", "points_earned"),
    Kpi(
        "points_cost",
        "currency",
        DOWN,
        "Cost of the points expected to be redeemed",
        "points_cost = points_earned × point_value × redemption_rate",
    ),
    Kpi(
        "membership_cost",
        "currency",
        DOWN,
        "The programme's fixed and per-member cost",
        "programme_cost",
    ),
    Kpi(
        "members_joined.<channel>",
        "count",
        NEUTRAL,
        "Joins by recruitment channel",
        "ch_members_joined[channel]",
    ),
    Kpi("tier_share.<tier>", "fraction", NEUTRAL, "Share of members in a tier at the horizon"),
    # Word of mouth
    Kpi("adopters", "fraction", UP, "Share of consumers who talk about the brand at the horizon"),
    # A dissatisfied teller lowers intent (docs/model.md, 17b).
    Kpi("wom_talks", "count", NEUTRAL, "Word-of-mouth conversations", "wom_talks"),
    # Set by the KOLs' schedule, an input.
    Kpi("kol_posts", "count (posts)", NEUTRAL, "Posts by key opinion leaders", "kol_posts"),
    # Online share and shocks: the channel mix.
    Kpi(
        "online_share",
        "fraction",
        NEUTRAL,
        "Online channels' share of revenue",
        "Σ_online ch_revenue[c] / revenue",
        {"report": 13},
    ),
    Kpi("online_share.before.<s>", "fraction", NEUTRAL, "Online share before a shock"),
    Kpi("online_share.during.<s>", "fraction", NEUTRAL, "Online share during a shock"),
    Kpi("online_share.after.<s>", "fraction", NEUTRAL, "Online share after a shock"),
)
"""Every KPI and KPI family, in the order of docs/outputs.md's tables."""

_EXACT: Final[Mapping[str, Kpi]] = MappingProxyType({k.name: k for k in KPIS if not k.is_family})
# Longest prefix first, so that a longer family wins over a shorter one it extends.
_FAMILIES: Final[tuple[Kpi, ...]] = tuple(
    sorted((k for k in KPIS if k.is_family), key=lambda k: -len(k.prefix))
)


def lookup(name: str) -> Kpi | None:
    """The declaration of a KPI name (``revenue``, ``dealer_profit.terminal``), whole name
    first, then family; None for a name outside the registry."""
    kpi = _EXACT.get(name)
    if kpi is not None:
        return kpi
    for family in _FAMILIES:
        if name.startswith(family.prefix) and len(name) > len(family.prefix):
            return family
    return None


def headline(which: HeadlineSet) -> tuple[str, ...]:
    """The KPI names of a headline list (see `HEADLINE_SETS`), in its order."""
    if which not in HEADLINE_SETS:
        raise KeyError(f"no headline list {which!r}; the lists are {', '.join(HEADLINE_SETS)}")
    members = sorted((k.headline[which], k.name) for k in KPIS if which in k.headline)
    return tuple(name for _, name in members)


def _check() -> None:
    """Refuse a registry that contradicts itself, at import: a name declared twice, a family
    whose part is not last, or a headline list with gaps or two KPIs at one position."""
    names = [k.name for k in KPIS]
    if len(set(names)) != len(names):
        raise ValueError(f"KPI declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    for k in KPIS:
        if ("<" in k.name) != k.is_family or k.name.count("<") > 1:
            raise ValueError(f"KPI family {k.name!r}: write its part last, as .<part>")
        if k.good not in (UP, DOWN, NEUTRAL) or set(k.headline) - set(HEADLINE_SETS):
            raise ValueError(f"KPI {k.name!r}: bad direction or headline list")
    for which in HEADLINE_SETS:
        positions = sorted(k.headline[which] for k in KPIS if which in k.headline)
        if positions != list(range(1, len(positions) + 1)):
            raise ValueError(f"headline list {which!r}: positions {positions} are not 1..n")


_check()
