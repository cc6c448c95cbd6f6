"""Scenario section "channels and nodes": what is sold, where, and from which stock.

The product (`Product`), the sales channels (`Channel`, `ChannelType`, `OFFLINE_TYPES`,
livestream `LivestreamSessions`, the `MAX_CHANNELS` limit), and the stock nodes that fulfil
them (`StockNode`) with their store service (`StoreService`) and replenishment
(`Replenishment`, which embeds the supply network's `InventoryPolicy` and `LeadTime`). Its
cross-reference checks: `problems` (regions and nodes named, stores for offline channels, the
price split, sessions).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from omnisim.scenario._base import (
    MAX_LEAD_DAYS,
    MAX_PRICE_INDEX,
    Fraction,
    Loc,
    Markup,
    Money,
    NonNegFloat,
    PeriodDays,
    PositiveFloat,
    PositiveMoney,
    Units,
    Variation,
    _Model,
)
from omnisim.scenario.supply import InventoryPolicy, LeadTime

MAX_CHANNELS = 16
"""Most channels a scenario may have: the journey kernel keeps each consumer's failed channels
as bits of a 16-bit mask."""


# --------------------------------------------------------------------------------------------
# Product, channels and stock nodes


class Product(_Model):
    name: str = Field("product", description="Product (or product line) name.")
    list_price: PositiveMoney = Field(
        100.0, description="Recommended retail price (currency / unit); channel prices scale it."
    )
    unit_cost: Money = Field(
        40.0, description="Brand's cost to make and ship one unit (currency / unit)."
    )
    reference_price: PositiveMoney | None = Field(
        None,
        description=(
            "Price consumers weigh a channel's price against in the choice utility "
            "(currency / unit), e.g. the going price of comparable products; omitted = "
            "list_price, so that only prices relative to the brand's own list price matter "
            "and a change of list_price alone moves no demand."
        ),
    )

    @property
    def reference(self) -> float:
        """The reference price in effect (currency / unit)."""
        return self.list_price if self.reference_price is None else self.reference_price


class ChannelType(StrEnum):
    own_store = "own_store"
    dealer_store = "dealer_store"
    own_online = "own_online"
    platform = "platform"
    livestream = "livestream"
    phone_dm = "phone_dm"


OFFLINE_TYPES = frozenset({ChannelType.own_store, ChannelType.dealer_store})


class LivestreamSessions(_Model):
    every_days: PeriodDays = Field(7.0, description="Days between session starts (at least 0.01).")
    first_day: NonNegFloat = Field(0.0, description="Day of the first session.")
    start_hour: Annotated[float, Field(ge=0.0, lt=24.0)] = Field(
        20.0, description="Clock hour the session starts (hours, 0-24)."
    )
    duration_hours: PositiveFloat = Field(3.0, description="Session length (hours).")
    discount: Fraction = Field(
        0.15, description="Time-limited price cut during a session (fraction of the price)."
    )


class Channel(_Model):
    name: str = Field(description="Channel identifier, unique; used in KPI names.")
    type: ChannelType = Field(description="Channel type; offline types are served in stores.")
    nodes: list[str] = Field(
        min_length=1,
        description=(
            "Stock nodes that fulfil the channel: stores for offline types (a consumer visits "
            "the stores of their own region), warehouses or stores for online types (the "
            "nearest to the consumer's region ships)."
        ),
    )
    price_index: Annotated[float, Field(gt=0.0, le=MAX_PRICE_INDEX)] = Field(
        1.0, description="Channel price as a multiple of the product's list price (at most 100)."
    )
    asc: float = Field(0.0, description="Alternative-specific constant in the choice utility.")
    visibility: float = Field(
        0.0,
        description=(
            "Log-odds that an aware consumer with no habit considers the channel when searching."
        ),
    )
    reach: Fraction | dict[str, Fraction] = Field(
        1.0,
        description=(
            "Share of consumers the channel reaches, overall or per region name: it multiplies "
            "the probability of considering the channel at each search. Regions missing from a "
            "per-region map get 0, and offline channels reach only regions where one of their "
            "stores stands."
        ),
    )
    commission: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0,
        description=(
            "Platform's commission on the price paid (fraction); commission plus "
            "intermediary_margin may not exceed 1."
        ),
    )
    intermediary_margin: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0,
        description=(
            "Share of the price kept by the dealer (dealer stores) or livestream host (fraction)."
        ),
    )
    fixed_cost_per_day: Money = Field(
        0.0, description="Brand's fixed cost of running the channel (currency / day)."
    )
    order_cost: Money = Field(
        0.0, description="Brand's variable handling and delivery cost (currency / order)."
    )
    handling_days: NonNegFloat = Field(
        0.5, description="Online: time to pick and dispatch an order (days)."
    )
    delivery_delay_days: NonNegFloat = Field(
        0.3,
        description=(
            "Online: mean random delay on top of handling and transport (days, exponential)."
        ),
    )
    promised_days: NonNegFloat | None = Field(
        None,
        description=(
            "Online: delivery time the channel promises (days); late deliveries lower "
            "satisfaction. Omitted = handling + transport + mean delay."
        ),
    )
    travel_hours: NonNegFloat = Field(
        0.5, description="Offline: mean time to reach the store (hours, exponential)."
    )
    service_quality: float = Field(
        0.0, description="Satisfaction contribution of the channel's service (utility units)."
    )
    member_discount: Fraction = Field(
        0.0, description="Price cut for members recognised by the channel (fraction)."
    )
    recognises_membership: bool = Field(
        True, description="Whether members get their benefits in this channel."
    )
    delivery_fee: Money = Field(
        0.0,
        description=(
            "Online: fee the consumer pays per order on top of the goods (currency / order); "
            "it enters the price per unit the consumer weighs and pays, and offsets the "
            "brand's order cost. A membership tier with free_delivery waives it. Offline "
            "channels charge none."
        ),
    )
    sessions: LivestreamSessions | None = Field(
        None,
        description=(
            "Livestream schedule, needed by and allowed only on livestream channels; the "
            "channel is open only during sessions."
        ),
    )

    @model_validator(mode="after")
    def _livestream_needs_sessions(self) -> Channel:
        if self.type == ChannelType.livestream and self.sessions is None:
            raise ValueError("a livestream channel needs `sessions`")
        return self


class ServiceDistribution(StrEnum):
    exponential = "exponential"
    deterministic = "deterministic"
    lognormal = "lognormal"


class StoreService(_Model):
    servers: Annotated[int, Field(ge=1, le=10_000)] = Field(
        2, description="Sales staff serving at once (at most 10,000)."
    )
    mean_service_minutes: PositiveFloat = Field(
        10.0, description="Mean service time per customer (minutes)."
    )
    service_distribution: ServiceDistribution = Field(
        ServiceDistribution.exponential, description="Service-time distribution family."
    )
    service_cv: Variation = Field(
        1.0, description="Coefficient of variation of service time (lognormal only; at most 10)."
    )
    open_hour: Annotated[float, Field(ge=0.0, le=24.0)] = Field(
        10.0, description="Clock hour the store opens."
    )
    close_hour: Annotated[float, Field(ge=0.0, le=24.0)] = Field(
        22.0, description="Clock hour the store closes (open 0 and close 24 = always open)."
    )
    waiting_room: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        None,
        description=(
            "Most customers that can wait for service; a customer finding it full leaves. "
            "Omitted = unlimited; 0 = no waiting (loss system); at most 100,000 (every node "
            "holds a ring as long as the largest waiting room)."
        ),
    )
    patience_minutes: PositiveFloat | None = Field(
        None,
        description=(
            "Mean patience (minutes, exponential): a customer balks when the wait they see "
            "exceeds their patience. Omitted = everyone waits."
        ),
    )

    @model_validator(mode="after")
    def _hours(self) -> StoreService:
        if self.close_hour <= self.open_hour:
            raise ValueError("close_hour must be after open_hour")
        return self


class Replenishment(_Model):
    review_days: PeriodDays = Field(7.0, description="Days between stock reviews (at least 0.01).")
    lead_time_days: Annotated[float, Field(ge=0.0, le=MAX_LEAD_DAYS)] = Field(
        3.0,
        description="Days from placing a replenishment order to receiving it (at most 3,650).",
    )
    order_up_to: Units = Field(
        200, description="Order-up-to level S: each review orders S minus stock position (units)."
    )
    reorder_point: Units | None = Field(
        None,
        description=(
            "Reorder point s of an (s, S) policy: order only when the stock position is at or "
            "below s. Omitted = always order up to S."
        ),
    )
    policy: InventoryPolicy | None = Field(
        None,
        description=(
            "Only for a node with a `supplier`: its inventory policy (e.g. a forecast-based "
            "order-up-to level). Omitted = order up to `order_up_to`, or (s, S) with "
            "`reorder_point`."
        ),
    )
    lead_time: LeadTime | None = Field(
        None,
        description=(
            "Only for a node with a `supplier`: the lead time of its orders as a distribution. "
            "Omitted = fixed `lead_time_days`."
        ),
    )


class StockNode(_Model):
    name: str = Field(description="Node identifier, unique.")
    kind: Literal["store", "warehouse"] = Field(description="Store (serves visitors) or warehouse.")
    region: str = Field(description="Region the node stands in.")
    initial_stock: Units | None = Field(
        None, description="Units on hand at day 0; omitted = the order-up-to level."
    )
    replenishment: Replenishment = Field(
        default_factory=Replenishment, description="Periodic replenishment from the brand."
    )
    holding_cost_per_unit_day: Money = Field(
        0.02, description="Cost of holding one unit for one day (currency / unit / day)."
    )
    order_fixed_cost: Money = Field(
        20.0, description="Fixed cost of one replenishment order (currency / order)."
    )
    service: StoreService | None = Field(
        None, description="Service capacity; stores get the default if omitted."
    )
    supplier: str | None = Field(
        None,
        description=(
            "Dealer of the `network` that replenishes the node; omitted = the brand, with "
            "unlimited stock and the fixed `replenishment.lead_time_days`."
        ),
    )
    markup: Markup | None = Field(
        None,
        description=(
            "A dealer-supplied store under `network.pricing: cost_plus`: markup on its purchase "
            "price that gives the consumer price (fraction); omitted = "
            "`network.terminal_markup`."
        ),
    )


# --------------------------------------------------------------------------------------------
# Cross-reference checks of the section


def problems(sc: Any) -> list[tuple[Loc, str]]:
    """Problems of the stock nodes and the channels: the regions and nodes they name, stores
    for offline channels, the price split, livestream sessions. ``sc`` is the validated
    `omnisim.scenario.schema.Scenario`."""
    out: list[tuple[Loc, str]] = []
    regions = {r.name for r in sc.market.regions}
    nodes = {n.name: n for n in sc.nodes}
    for i, n in enumerate(sc.nodes):
        if n.region not in regions:
            out.append((("nodes", i, "region"), f"unknown region {n.region!r}"))
        if n.kind == "warehouse" and n.service is not None:
            out.append((("nodes", i, "service"), "a warehouse serves no visitors"))
    for i, c in enumerate(sc.channels):
        for j, nn in enumerate(c.nodes):
            if nn not in nodes:
                out.append((("channels", i, "nodes", j), f"unknown node {nn!r}"))
            elif c.type in OFFLINE_TYPES and nodes[nn].kind != "store":
                out.append((("channels", i, "nodes", j), f"{nn!r} is a warehouse, not a store"))
        if isinstance(c.reach, dict):
            for r in c.reach:
                if r not in regions:
                    out.append((("channels", i, "reach", r), f"unknown region {r!r}"))
        if c.commission + c.intermediary_margin > 1.0 + 1e-12:  # 1 within rounding
            out.append(
                (
                    ("channels", i, "commission"),
                    f"commission {c.commission:g} plus intermediary_margin "
                    f"{c.intermediary_margin:g} exceeds 1: the brand's take of the price would "
                    "be negative",
                )
            )
        if c.sessions is not None and c.type != ChannelType.livestream:
            out.append(
                (
                    ("channels", i, "sessions"),
                    f"sessions apply only to livestream channels (this one is {c.type.value!r})",
                )
            )
    return out
