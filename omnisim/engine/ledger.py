"""The run's ledger: counts and money, tallied as events happen, warm-up excluded.

Only events whose time falls in the measurement window ``[warmup, horizon)`` are tallied (a
purchase is dated when the goods change hands: order time online, end of service in a store).
The ledger holds sums, never per-event rows, so its size does not grow with the run; KPIs are
pure functions of it (`omnisim.metrics.kpis`).
"""

from __future__ import annotations

import numpy as np

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
)


class Ledger:
    """Tallies of one replication (see `SCALARS` for the scalar counters)."""

    def __init__(
        self,
        n_channels: int,
        n_nodes: int,
        warmup: float,
        horizon: float,
        period_days: float,
    ) -> None:
        self.warmup = float(warmup)
        self.horizon = float(horizon)
        self.period = float(period_days)
        self.n_periods = int(np.ceil((self.horizon - self.warmup) / self.period))
        for name in SCALARS:
            setattr(self, name, 0.0)
        c, n, p = n_channels, n_nodes, self.n_periods
        self.ch_orders = np.zeros(c)
        self.ch_units = np.zeros(c)
        self.ch_revenue = np.zeros(c)
        self.ch_brand_take = np.zeros(c)
        self.ch_lost_units = np.zeros(c)
        self.ch_considered = np.zeros(c)
        self.node_units = np.zeros(n)
        self.node_lost_units = np.zeros(n)
        self.ts_needs = np.zeros(p)
        self.ts_purchases = np.zeros(p)
        self.ts_revenue = np.zeros(p)
        self.ts_ch_revenue = np.zeros((p, c))
        self.channel_fixed_days = 0.0

    def window(self, t: np.ndarray) -> np.ndarray:
        """Mask of times inside the measurement window."""
        return (t >= self.warmup) & (t < self.horizon)

    def period_of(self, t: np.ndarray) -> np.ndarray:
        return np.minimum(((t - self.warmup) / self.period).astype(np.int64), self.n_periods - 1)

    def add(self, name: str, value: float) -> None:
        setattr(self, name, getattr(self, name) + float(value))

    def record_needs(self, t: np.ndarray) -> np.ndarray:
        w = self.window(t)
        k = int(w.sum())
        if k:
            self.needs += k
            self.ts_needs += np.bincount(self.period_of(t[w]), minlength=self.n_periods)
        return w

    def record_purchases(
        self,
        t: np.ndarray,
        channel: np.ndarray,
        node: np.ndarray,
        units: np.ndarray,
        value: np.ndarray,
        brand: np.ndarray,
        dealer: np.ndarray,
        platform: np.ndarray,
        unit_cost: float,
        order_cost: np.ndarray,
    ) -> None:
        """Orders handed over at ``t``: value = price x units, split brand/dealer/platform."""
        w = self.window(t)
        if not w.any():
            return
        ch, nd, u, v = channel[w], node[w], units[w], value[w]
        nc, nn = len(self.ch_orders), len(self.node_units)
        self.purchases += int(w.sum())
        self.units += float(u.sum())
        self.revenue += float(v.sum())
        self.brand_take += float(brand[w].sum())
        self.dealer_take += float(dealer[w].sum())
        self.platform_take += float(platform[w].sum())
        self.cogs += float(u.sum()) * unit_cost
        self.order_costs += float(order_cost[w].sum())
        self.ch_orders += np.bincount(ch, minlength=nc)
        self.ch_units += np.bincount(ch, weights=u, minlength=nc)
        self.ch_revenue += np.bincount(ch, weights=v, minlength=nc)
        self.ch_brand_take += np.bincount(ch, weights=brand[w], minlength=nc)
        self.node_units += np.bincount(nd, weights=u, minlength=nn)
        per = self.period_of(t[w])
        self.ts_purchases += np.bincount(per, minlength=self.n_periods)
        self.ts_revenue += np.bincount(per, weights=v, minlength=self.n_periods)
        np.add.at(self.ts_ch_revenue, (per, ch), v)

    def record_lost(self, t: np.ndarray, channel: np.ndarray, node: np.ndarray, lost: np.ndarray):
        w = self.window(t) & (lost > 0)
        if w.any():
            self.stockouts += int(w.sum())
            self.lost_units += float(lost[w].sum())
            self.ch_lost_units += np.bincount(
                channel[w], weights=lost[w], minlength=len(self.ch_lost_units)
            )
            self.node_lost_units += np.bincount(
                node[w], weights=lost[w], minlength=len(self.node_lost_units)
            )

    def overlap_days(self, t0: float, t1: float) -> float:
        """Length of [t0, t1) inside the measurement window (days)."""
        return max(0.0, min(t1, self.horizon) - max(t0, self.warmup))

    def as_dict(self) -> dict:
        """Plain data (numbers and lists) for pickling across processes and saving."""
        out = {name: getattr(self, name) for name in SCALARS}
        for name in (
            "ch_orders",
            "ch_units",
            "ch_revenue",
            "ch_brand_take",
            "ch_lost_units",
            "ch_considered",
            "node_units",
            "node_lost_units",
            "ts_needs",
            "ts_purchases",
            "ts_revenue",
            "ts_ch_revenue",
        ):
            out[name] = getattr(self, name).tolist()
        out["channel_fixed_days"] = self.channel_fixed_days
        out["warmup"], out["horizon"], out["period"] = self.warmup, self.horizon, self.period
        return out
