"""The run's ledger: counts and money, tallied as events happen, warm-up excluded.

Only events whose time falls in the measurement window ``[warmup, horizon)`` are tallied (a
purchase is dated when the goods change hands: order time online, end of service in a store).
The ledger holds sums, never per-event rows, so its size does not grow with the run; KPIs are
pure functions of it (`omnisim.metrics.kpis`). Its storage is a few numpy arrays so that the
compiled journey kernel can add to it directly; `Ledger.as_dict` gives it names.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from omnisim.engine.state import F64, Float, build

SCALARS = (
    "needs",
    "unaware",
    "searches",
    "no_consideration",
    "purchases",
    "units",
    "revenue",
    "brand_take",
    "dealer_take",
    "platform_take",
    "cogs",
    "order_costs",
    "lost_units",
    "stockouts",
    "switches",
    "balks",
    "blocked",
    "outside_choices",
    "reviews",
    "stars_sum",
    "satisfaction_sum",
    "satisfaction_n",
    "churned",
    "holding_cost",
    "replenishment_orders",
    "replenishment_units",
    "replenishment_cost",
    "online_orders",
    "delivery_days_sum",
    "late_orders",
    "transit_unit_days",
    "store_arrivals",
    "store_admitted",
    "store_waited",
    "store_wait_days_sum",
    # Media plan (omnisim.marketing.media): delivered impressions x cpm / 1000, set at the end.
    "media_spend",
    # Word of mouth (omnisim/marketing/social.py): conversations (a KOL post counts one per
    # follower told) and KOL posts.
    "wom_talks",
    "kol_posts",
    # The membership programme (omnisim.marketing.membership; docs/model.md, "Members").
    "members_joined",
    "member_orders",
    "member_revenue",
    "points_earned",
    "points_cost",
    "member_days",
    "programme_cost",
    "delivery_fees",
    # Customer lifecycle (omnisim/consumers/lifecycle.py).
    "won_back",
    "clv_sum",
    "clv_cohort",
    # Channel conflict (docs/model.md, "Channel conflict"): the relative price spread across
    # the channels considered at first decisions with two or more (sum and count), and
    # purchases completed in the other world than the search started in (offline-searched,
    # bought online: showrooming; the reverse: webrooming), orders and goods revenue.
    "price_spread_sum",
    "price_spread_n",
    "showrooming_orders",
    "showrooming_revenue",
    "webrooming_orders",
    "webrooming_revenue",
    # Omnichannel fulfilment and profit allocation (omnisim/channels/fulfilment.py): orders
    # fulfilled at a node that is not the taking channel's, online orders picked up in a store,
    # store stock-outs delivered from another node, online orders served by another candidate
    # than their first, the territory commission and the money paid to fulfillers (currency).
    "cross_fulfilled",
    "pickups",
    "endless_aisle_orders",
    "rerouted_orders",
    "territory_commission",
    "fulfilment_transfer",
    # Heterogeneity (omnisim/consumers/heterogeneity.py): churns that are drop-outs after a
    # repeat purchase (also counted in churned).
    "dropped_out",
)
(
    NEEDS,
    UNAWARE,
    SEARCHES,
    NO_CONSIDERATION,
    PURCHASES,
    UNITS,
    REVENUE,
    BRAND_TAKE,
    DEALER_TAKE,
    PLATFORM_TAKE,
    COGS,
    ORDER_COSTS,
    LOST_UNITS,
    STOCKOUTS,
    SWITCHES,
    BALKS,
    BLOCKED,
    OUTSIDE_CHOICES,
    REVIEWS,
    STARS_SUM,
    SATISFACTION_SUM,
    SATISFACTION_N,
    CHURNED,
    HOLDING_COST,
    REPLENISHMENT_ORDERS,
    REPLENISHMENT_UNITS,
    REPLENISHMENT_COST,
    ONLINE_ORDERS,
    DELIVERY_DAYS_SUM,
    LATE_ORDERS,
    TRANSIT_UNIT_DAYS,
    STORE_ARRIVALS,
    STORE_ADMITTED,
    STORE_WAITED,
    STORE_WAIT_DAYS_SUM,
) = range(35)
MEDIA_SPEND = SCALARS.index("media_spend")  # media plan
WOM_TALKS = SCALARS.index("wom_talks")  # word of mouth
KOL_POSTS = SCALARS.index("kol_posts")  # word of mouth
# The membership programme: members joined in the window, orders and goods revenue of members,
# points earned and their expected cost, member-days in the window (for the cost per member),
# the programme's cost (set when the run ends), delivery fees paid by consumers.
MEMBERS_JOINED = SCALARS.index("members_joined")
MEMBER_ORDERS = SCALARS.index("member_orders")
MEMBER_REVENUE = SCALARS.index("member_revenue")
POINTS_EARNED = SCALARS.index("points_earned")
POINTS_COST = SCALARS.index("points_cost")
MEMBER_DAYS = SCALARS.index("member_days")
PROGRAMME_COST = SCALARS.index("programme_cost")
DELIVERY_FEES = SCALARS.index("delivery_fees")
WON_BACK = SCALARS.index("won_back")  # customer lifecycle
CLV_SUM = SCALARS.index("clv_sum")  # customer lifecycle
CLV_COHORT = SCALARS.index("clv_cohort")  # customer lifecycle
PRICE_SPREAD_SUM = SCALARS.index("price_spread_sum")  # channel conflict
PRICE_SPREAD_N = SCALARS.index("price_spread_n")
SHOWROOMING_ORDERS = SCALARS.index("showrooming_orders")
SHOWROOMING_REVENUE = SCALARS.index("showrooming_revenue")
WEBROOMING_ORDERS = SCALARS.index("webrooming_orders")
WEBROOMING_REVENUE = SCALARS.index("webrooming_revenue")
# Omnichannel fulfilment and profit allocation.
CROSS_FULFILLED = SCALARS.index("cross_fulfilled")
PICKUPS = SCALARS.index("pickups")
ENDLESS_AISLE_ORDERS = SCALARS.index("endless_aisle_orders")
REROUTED_ORDERS = SCALARS.index("rerouted_orders")
TERRITORY_COMMISSION = SCALARS.index("territory_commission")
FULFILMENT_TRANSFER = SCALARS.index("fulfilment_transfer")
DROPPED_OUT = SCALARS.index("dropped_out")  # heterogeneity

# Columns of the per-channel table.
CHANNEL_COLUMNS = (
    "orders",
    "units",
    "revenue",
    "brand_take",
    "lost_units",
    "considered",
    # Customer lifecycle: customers recruited by the channel (first purchase ever in the
    # window), and the price cut promotions gave on its in-window purchases (currency).
    "new_customers",
    "promotion_spend",
)
(
    CH_ORDERS,
    CH_UNITS,
    CH_REVENUE,
    CH_BRAND,
    CH_LOST,
    CH_CONSIDERED,
    CH_NEW_CUSTOMERS,
    CH_PROMOTION_SPEND,
) = range(len(CHANNEL_COLUMNS))
# Columns of the per-node table.
# Consumer revenue and its platform and brand parts per node let the KPIs re-assign the sales of
# dealer-supplied stores to those stores when a dealer network exists (docs/model.md, 17a).
# Omnichannel allocation (omnisim/channels/fulfilment.py): `credit` is the money credited to the
# node's owner for orders it fulfilled for another channel, for the taking store's share of an
# endless-aisle order, and territory commissions; the consumer revenue of such cross-fulfilled
# orders is in no node's revenue, platform_take or brand_take.
NODE_COLUMNS = ("units", "lost_units", "revenue", "platform_take", "brand_take", "credit")
ND_UNITS, ND_LOST, ND_REVENUE, ND_PLATFORM, ND_BRAND, ND_CREDIT = range(len(NODE_COLUMNS))
# Columns of the time series (one row per period).
SERIES_COLUMNS = (
    "needs",
    "purchases",
    "revenue",
    # Media plan: mean effective awareness at the period's end (not a sum).
    "awareness",
    "adopters",  # word of mouth: share of adopters at the period's end (0 without `social`)
    # Customer lifecycle: customers active at the period's end (filled at the end of the run).
    "active_customers",
)
TS_NEEDS, TS_PURCHASES, TS_REVENUE = range(3)
TS_AWARENESS = SERIES_COLUMNS.index("awareness")  # media plan
TS_ADOPTERS = SERIES_COLUMNS.index("adopters")  # word of mouth
TS_ACTIVE_CUSTOMERS = SERIES_COLUMNS.index("active_customers")  # customer lifecycle


class Window(NamedTuple):
    """The measurement window (days): tallies count what happens in [warmup, horizon)."""

    warmup: Float
    horizon: Float
    period: Float  # length of one period of the time series


class LedgerState(NamedTuple):
    """The tallies the compiled kernels add to (their columns are the constants above)."""

    acc: F64[1]  # the run's scalars (SCALARS)
    channel: F64[2]  # per channel (CHANNEL_COLUMNS)
    node: F64[2]  # per stock node (NODE_COLUMNS)
    series: F64[2]  # per period (SERIES_COLUMNS)
    series_channel: F64[2]  # per period and channel: revenue (currency)
    window: Window


class Ledger:
    """Tallies of one replication."""

    def __init__(
        self, n_channels: int, n_nodes: int, warmup: float, horizon: float, period_days: float
    ) -> None:
        self.warmup = float(warmup)
        self.horizon = float(horizon)
        self.period = float(period_days)
        self.n_periods = max(1, int(np.ceil((self.horizon - self.warmup) / self.period)))
        self.acc = np.zeros(len(SCALARS))
        self.channel = np.zeros((n_channels, len(CHANNEL_COLUMNS)))
        self.node = np.zeros((n_nodes, len(NODE_COLUMNS)))
        self.series = np.zeros((self.n_periods, len(SERIES_COLUMNS)))
        self.series_channel_revenue = np.zeros((self.n_periods, n_channels))

    def state(self) -> LedgerState:
        """The arrays the compiled kernels add to, with the measurement window."""
        return build(
            LedgerState,
            acc=self.acc,
            channel=self.channel,
            node=self.node,
            series=self.series,
            series_channel=self.series_channel_revenue,
            window=build(Window, warmup=self.warmup, horizon=self.horizon, period=self.period),
        )

    def __getitem__(self, name: str) -> float:
        return float(self.acc[SCALARS.index(name)])

    def in_window(self, t: float) -> bool:
        return self.warmup <= t < self.horizon

    def overlap_days(self, t0: float, t1: float) -> float:
        """Length of [t0, t1) inside the measurement window (days)."""
        return max(0.0, min(t1, self.horizon) - max(t0, self.warmup))

    def as_dict(self) -> dict:
        """Plain data (numbers and lists) with names, for KPIs, pickling and saving."""
        out: dict = {name: float(self.acc[i]) for i, name in enumerate(SCALARS)}
        for j, col in enumerate(CHANNEL_COLUMNS):
            out[f"ch_{col}"] = self.channel[:, j].tolist()
        for j, col in enumerate(NODE_COLUMNS):
            out[f"node_{col}"] = self.node[:, j].tolist()
        for j, col in enumerate(SERIES_COLUMNS):
            out[f"ts_{col}"] = self.series[:, j].tolist()
        out["ts_ch_revenue"] = self.series_channel_revenue.tolist()
        out["warmup"], out["horizon"], out["period"] = self.warmup, self.horizon, self.period
        return out
