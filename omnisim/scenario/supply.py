"""Scenario section "supply network": dealer levels and dealers between the brand and the
stock nodes.

The network (`Network`) of dealer levels (`NetworkLevel`) and dealers (`Dealer`), their lead
times (`LeadTime`) and inventory policies (`InventoryPolicy`), pricing along the chain
(`Pricing`), channel flattening (`Flatten`) and dealer exit (`DealerExit`). `LeadTime` and
`InventoryPolicy` are also embedded in a stock node's replenishment (`omnisim.scenario.
channels`). Its cross-reference check: `problems` (the nodes' `supplier` links, pricing,
levels, dealers, parents and their cycles).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from omnisim.scenario._base import (
    MAX_HOLDING_RATE,
    MAX_LEAD_DAYS,
    MAX_MONEY,
    MAX_UNITS,
    Fraction,
    Loc,
    Markup,
    Money,
    NonNegFloat,
    PeriodDays,
    PositiveFloat,
    Units,
    Variation,
    _Model,
)

# --------------------------------------------------------------------------------------------
# Supply network: dealer levels and dealers between the brand and the stock nodes


class LeadTimeDistribution(StrEnum):
    fixed = "fixed"
    lognormal = "lognormal"
    gamma = "gamma"


class LeadTime(_Model):
    mean_days: Annotated[float, Field(ge=0.0, le=MAX_LEAD_DAYS)] = Field(
        3.0,
        description=(
            "Mean time from placing an order to receiving the shipment (days, at most 3,650)."
        ),
    )
    cv: Variation = Field(
        0.0,
        description=(
            "Coefficient of variation of the lead time (ratio, at most 10); ignored by `fixed`, "
            "and 0 makes every family fixed."
        ),
    )
    distribution: LeadTimeDistribution = Field(
        LeadTimeDistribution.fixed,
        description="Family of the lead-time draw: fixed, lognormal or gamma.",
    )


class PolicyKind(StrEnum):
    order_up_to = "order_up_to"
    s_S = "s_S"


class InventoryPolicy(_Model):
    kind: PolicyKind = Field(
        PolicyKind.order_up_to,
        description=(
            "`order_up_to`: each review orders up to S; `s_S`: each review orders up to S "
            "only when the stock position is at or below the reorder point s."
        ),
    )
    order_up_to: Units | None = Field(
        None,
        description=(
            "Fixed order-up-to level S (units). Omitted = S from the forecast: forecast x "
            "(mean lead time / review period + 1) + safety_units."
        ),
    )
    reorder_point: Units | None = Field(
        None, description="Reorder point s of an `s_S` policy (units); needed by and only by it."
    )
    forecast_periods: Annotated[int, Field(ge=1, le=10_000)] = Field(
        4,
        description=(
            "Review periods p in the moving-average forecast of demand per review period "
            "(count, at most 10,000)."
        ),
    )
    safety_units: Annotated[float, Field(ge=0.0, le=MAX_UNITS)] = Field(
        0.0, description="Safety stock added to a forecast-based order-up-to level (units)."
    )
    initial_forecast: Annotated[float, Field(ge=0.0, le=MAX_UNITS)] = Field(
        0.0,
        description=(
            "Demand per review period assumed for periods not yet observed, so for the first "
            "p reviews (units / review period)."
        ),
    )

    @model_validator(mode="after")
    def _reorder_point_with_s_S(self) -> InventoryPolicy:
        if self.kind == PolicyKind.s_S and self.reorder_point is None:
            raise ValueError("an `s_S` policy needs `reorder_point`")
        if self.kind == PolicyKind.order_up_to and self.reorder_point is not None:
            raise ValueError("`reorder_point` applies only to an `s_S` policy")
        return self


class Shortage(StrEnum):
    backlog = "backlog"
    lost = "lost"


class NetworkLevel(_Model):
    name: str = Field(description="Level identifier, e.g. national_agent; unique.")
    markup: Markup = Field(
        0.0,
        description=(
            "Markup on the purchase price (fraction, at most 100): a level's selling price is its "
            "purchase price x (1 + markup); the top level buys at the product's unit_cost."
        ),
    )
    lead_time: LeadTime = Field(
        default_factory=LeadTime, description="Lead time of an order to the parent."
    )
    policy: InventoryPolicy = Field(
        default_factory=InventoryPolicy, description="Inventory policy of the level's dealers."
    )
    review_days: PeriodDays = Field(7.0, description="Days between stock reviews (at least 0.01).")
    holding_cost_rate: Annotated[float, Field(ge=0.0, le=MAX_HOLDING_RATE)] = Field(
        0.2,
        description=(
            "Cost of holding stock as a fraction of its purchase price per year (1 / year)."
        ),
    )
    ordering_cost: Money = Field(
        0.0, description="Fixed cost of one replenishment order (currency / order)."
    )
    retail_share: Fraction | None = Field(
        None,
        description=(
            "`pricing: fixed_retail`: the level's selling price as a fraction of the product's "
            "list_price (needed there, ignored under cost_plus)."
        ),
    )
    shortage: Shortage = Field(
        Shortage.backlog,
        description=(
            "What happens to the part of a child's order the dealer cannot ship: `backlog` "
            "(shipped first come, first served as stock arrives) or `lost` (cancelled)."
        ),
    )


class Dealer(_Model):
    name: str = Field(
        description="Dealer identifier, unique among dealers and distinct from stock nodes."
    )
    level: str = Field(description="Name of the dealer's level.")
    region: str = Field(description="Region the dealer stands in.")
    parent: str | None = Field(
        None,
        description=(
            "Dealer of the level above that supplies this one; omitted = the nearest dealer of "
            "the level above by transport time (ties: the first listed). Top-level dealers are "
            "supplied by the brand and take none."
        ),
    )
    initial_stock: Units | None = Field(
        None, description="Units on hand at day 0; omitted = the order-up-to level at day 0."
    )
    markup: Markup | None = Field(None, description="Overrides the level's markup.")
    lead_time: LeadTime | None = Field(None, description="Overrides the level's lead time.")
    policy: InventoryPolicy | None = Field(
        None, description="Overrides the level's inventory policy (as a whole)."
    )
    review_days: PeriodDays | None = Field(
        None, description="Overrides the level's review period (days)."
    )
    holding_cost_rate: Annotated[float, Field(ge=0.0, le=MAX_HOLDING_RATE)] | None = Field(
        None, description="Overrides the level's holding cost rate (1 / year)."
    )
    ordering_cost: Money | None = Field(
        None, description="Overrides the level's ordering cost (currency / order)."
    )
    shortage: Shortage | None = Field(None, description="Overrides the level's shortage rule.")


class Pricing(StrEnum):
    cost_plus = "cost_plus"
    fixed_retail = "fixed_retail"


class Reattach(StrEnum):
    level_above = "level_above"
    nearest = "nearest"


class FlattenPrice(StrEnum):
    keep_retail = "keep_retail"
    pass_saving = "pass_saving"


class Flatten(_Model):
    remove_levels: list[str] = Field(
        min_length=1, description="Names of the dealer levels removed from the network."
    )
    reattach: Reattach = Field(
        Reattach.level_above,
        description=(
            "Where the children of a removed dealer go: `level_above` = its nearest surviving "
            "ancestor (the former grandparent chain); `nearest` = the nearest dealer, by "
            "transport time, of the closest surviving level above (the brand if none is left)."
        ),
    )
    price: FlattenPrice = Field(
        FlattenPrice.pass_saving,
        description=(
            "`keep_retail`: each dealer-supplied store keeps the consumer price it had before "
            "flattening (the store keeps the saving); `pass_saving`: consumers get it "
            "(cost_plus: the price is rebuilt on the shorter chain; fixed_retail: the price "
            "falls by the store's fall in purchase price)."
        ),
    )


class DealerExit(_Model):
    profit_floor: Annotated[float, Field(ge=-MAX_MONEY, le=MAX_MONEY)] = Field(
        description=(
            "A dealer whose profit over the trailing window is below profit_floor x window_days "
            "exits (currency / day; may be negative)."
        ),
    )
    window_days: PositiveFloat = Field(
        description="Length of the trailing window the profit is measured over (days)."
    )
    check_every_days: PeriodDays = Field(
        description="Days between two exit checks of every dealer (at least 0.01)."
    )
    after_days: NonNegFloat | None = Field(
        None,
        description=(
            "Time of the first check (days); omitted = warmup_days. A check whose window would "
            "start before day 0 is skipped."
        ),
    )


class Network(_Model):
    pricing: Pricing = Field(
        Pricing.cost_plus,
        description=(
            "`cost_plus`: every node sells at its purchase price x (1 + markup), and a "
            "dealer-supplied store's consumer price is built from the chain; `fixed_retail`: "
            "consumers pay the channel's price and each level sells at list_price x its "
            "retail_share."
        ),
    )
    brand_markup: Markup = Field(
        0.0,
        description=(
            "cost_plus: the brand sells to the top level at unit_cost x (1 + brand_markup) "
            "(fraction)."
        ),
    )
    brand_share: Fraction | None = Field(
        None,
        description=(
            "fixed_retail: the brand's selling price to the top level as a fraction of "
            "list_price (needed there)."
        ),
    )
    terminal_markup: Markup = Field(
        0.0,
        description=(
            "cost_plus: markup of dealer-supplied stores on their purchase price, giving the "
            "consumer price at the store (fraction); a node's `markup` overrides it."
        ),
    )
    flatten: Flatten | None = Field(
        None,
        description="Channel flattening applied when the network is built; omitted = none.",
    )
    exit: DealerExit | None = Field(
        None,
        description=(
            "Dealer exit: unprofitable dealers leave during the run and their children "
            "re-attach to the nearest node of the level above; omitted = no dealer exits."
        ),
    )
    levels: list[NetworkLevel] = Field(
        min_length=1,
        description=(
            "Dealer levels, ordered from the brand downward (the first is supplied by the "
            "brand, which has unlimited stock)."
        ),
    )
    dealers: list[Dealer] = Field(
        default_factory=list, description="The dealers, each in one level."
    )


# --------------------------------------------------------------------------------------------
# Cross-reference checks of the section


def problems(sc: Any) -> list[tuple[Loc, str]]:
    """Problems of the dealer network and of the stock nodes' `supplier` links. ``sc`` is the
    validated `omnisim.scenario.schema.Scenario`."""
    regions = {r.name for r in sc.market.regions}
    out: list[tuple[Loc, str]] = []
    net = sc.network
    dealers = {d.name: d for d in net.dealers} if net is not None else {}
    for i, n in enumerate(sc.nodes):
        if n.supplier is not None:
            if net is None:
                out.append(
                    (("nodes", i, "supplier"), "no `network` section defines dealers to supply it")
                )
            elif n.supplier not in dealers:
                out.append((("nodes", i, "supplier"), f"unknown dealer {n.supplier!r}"))
        elif n.replenishment.policy is not None or n.replenishment.lead_time is not None:
            field = "policy" if n.replenishment.policy is not None else "lead_time"
            out.append(
                (
                    ("nodes", i, "replenishment", field),
                    "applies only to a node supplied by a dealer (`supplier`)",
                )
            )
        if n.markup is not None and n.supplier is None:
            out.append((("nodes", i, "markup"), "applies only to a node supplied by a dealer"))
    if net is None:
        return out
    if net.pricing == Pricing.fixed_retail:
        if net.brand_share is None:
            out.append((("network", "brand_share"), "`pricing: fixed_retail` needs brand_share"))
        for i, lv in enumerate(net.levels):
            if lv.retail_share is None:
                out.append(
                    (
                        ("network", "levels", i, "retail_share"),
                        "`pricing: fixed_retail` needs every level's retail_share",
                    )
                )
    if net.flatten is not None:
        names = {lv.name for lv in net.levels}
        for j, name in enumerate(net.flatten.remove_levels):
            if name not in names:
                out.append((("network", "flatten", "remove_levels", j), f"unknown level {name!r}"))
    ex = net.exit
    if ex is not None and ex.after_days is not None and ex.after_days >= sc.horizon_days:
        out.append((("network", "exit", "after_days"), "must be shorter than horizon_days"))
    rank: dict[str, int] = {}
    for i, lv in enumerate(net.levels):
        if lv.name in rank:
            out.append((("network", "levels", i, "name"), f"duplicate name {lv.name!r}"))
        else:
            rank[lv.name] = i
    node_names = {n.name for n in sc.nodes}
    seen: set[str] = set()
    for i, d in enumerate(net.dealers):
        if d.name in seen:
            out.append((("network", "dealers", i, "name"), f"duplicate name {d.name!r}"))
        elif d.name in node_names:
            out.append(
                (("network", "dealers", i, "name"), f"{d.name!r} is already a stock node's name")
            )
        seen.add(d.name)
        if d.region not in regions:
            out.append((("network", "dealers", i, "region"), f"unknown region {d.region!r}"))
    # Parent links that loop back on themselves are reported once, as a cycle.
    in_cycle: set[str] = set()
    for start in dealers:
        path: list[str] = []
        cur: str | None = start
        while cur is not None and cur in dealers and cur not in path:
            path.append(cur)
            cur = dealers[cur].parent
        if cur is not None and cur in path and cur == start:
            in_cycle.add(start)
            i = next(k for k, d in enumerate(net.dealers) if d.name == start)
            loop = " -> ".join([*path, start])
            if min(path) == start:  # report each cycle at one of its dealers only
                out.append((("network", "dealers", i, "parent"), f"parents form a cycle: {loop}"))
    for i, d in enumerate(net.dealers):
        if d.level not in rank:
            out.append((("network", "dealers", i, "level"), f"unknown level {d.level!r}"))
            continue
        k = rank[d.level]
        loc = ("network", "dealers", i, "parent")
        if d.parent is None:
            if k > 0 and not any(e.level == net.levels[k - 1].name for e in net.dealers):
                out.append(
                    (
                        ("network", "dealers", i, "level"),
                        f"no dealer of level {net.levels[k - 1].name!r}, the level above, "
                        "to supply it",
                    )
                )
            continue
        if d.name in in_cycle:
            continue
        if k == 0:
            out.append(
                (loc, f"a dealer of the top level {d.level!r} is supplied by the brand: no parent")
            )
        elif d.parent not in dealers:
            out.append((loc, f"unknown dealer {d.parent!r}"))
        elif dealers[d.parent].level != net.levels[k - 1].name:
            out.append(
                (
                    loc,
                    f"{d.parent!r} is a {dealers[d.parent].level!r} dealer, not one of the level "
                    f"above ({net.levels[k - 1].name!r})",
                )
            )
    return out
