"""Pydantic models of a scenario file: every field, its default, unit and meaning.

These models are the single source of truth for the scenario language. ``omnisim schema`` prints
their JSON Schema, ``docs/scenario.md`` describes them, and the engine reads nothing that is not
declared here. Units are named in each description: times in days unless a field says hours or
minutes, money in the scenario's currency, rates and shares as fractions in [0, 1].
"""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Bounds a real market never reaches. Values past them can only be mistakes, and some would
# overflow the engine (a price of 1e300 times the units sold is inf) or loop without end (a
# review every 1e-300 days), so validation refuses them (docs/scenario.md, "What validation
# refuses").
MAX_HORIZON_DAYS = 36_500
"""Longest horizon (days; 100 years): the need clock is tabulated per hour of the horizon."""
MIN_PERIOD_DAYS = 0.01
"""Shortest period of anything that repeats (days; about a quarter of an hour): reviews,
sessions, exit checks, cap periods, time-series periods, need intervals."""
MIN_BUCKET_HOURS = 0.01
"""Narrowest time bucket (hours; 36 seconds): the engine loops once per bucket."""
MAX_CONSUMERS = 2**31 - 1
"""Most consumers a run may have: the event calendar keeps consumer ids in 32 bits. Checked
with the memory before a run (`omnisim.engine.simulation.ensure_memory`), where a larger
number is refused anyway on any machine there is."""
MAX_MONEY = 1e16
"""Largest amount of money in any field (currency units, per unit, order, day or year): ten
quadrillion, more than any price, cost or budget in any currency; totals over a run stay far
from float overflow."""
MAX_UNITS = 10**12
"""Largest stock level, order-up-to level or forecast of one node (units): a trillion."""
MAX_LEAD_DAYS = 3_650.0
"""Longest lead time (days; 10 years). A forecast-based stock level is the forecast times
(lead time / review period + 1): at these bounds at most about 4e17 units, far inside the
64-bit integers stock is kept in."""
MAX_MARKUP = 100.0
"""Largest markup (fraction; 100 = the price is 101 times the purchase price)."""
MAX_PRICE_INDEX = 100.0
"""Largest channel price as a multiple of the list price."""
MAX_MULTIPLIER = 1_000.0
"""Largest multiplier of need rates, lead times and consideration odds in promotions and
shocks."""
MAX_CV = 10.0
"""Largest coefficient of variation of a random time (need intervals, lead times, service)."""
MAX_RATE_PER_DAY = 1_000.0
"""Largest word-of-mouth rate (events per consumer per day)."""
MAX_HOLDING_RATE = 100.0
"""Largest holding cost rate (fraction of the purchase price per year)."""


def _at_least(minimum: float) -> AfterValidator:
    """A lower bound checked after `gt=0`: zero and negative values keep pydantic's plain
    "greater than 0", tiny positive ones (which would loop without end) are refused here. The
    field's `json_schema_extra` gives the bound to the JSON Schema too."""

    def check(value: float) -> float:
        if value < minimum:
            raise PydanticCustomError(
                "greater_than_equal",
                "Input should be greater than or equal to {ge}",
                {"ge": minimum},
            )
        return value

    return AfterValidator(check)


Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
Money = Annotated[float, Field(ge=0.0, le=MAX_MONEY)]
PositiveMoney = Annotated[float, Field(gt=0.0, le=MAX_MONEY)]
Units = Annotated[int, Field(ge=0, le=MAX_UNITS)]
Markup = Annotated[float, Field(ge=0.0, le=MAX_MARKUP)]
Multiplier = Annotated[float, Field(gt=0.0, le=MAX_MULTIPLIER)]
PeriodDays = Annotated[
    float, Field(gt=0.0, json_schema_extra={"minimum": MIN_PERIOD_DAYS}), _at_least(MIN_PERIOD_DAYS)
]
Variation = Annotated[float, Field(ge=0.0, le=MAX_CV)]
RatePerDay = Annotated[float, Field(ge=0.0, le=MAX_RATE_PER_DAY)]

MAX_CHANNELS = 16
"""Most channels a scenario may have: the journey kernel keeps each consumer's failed channels
as bits of a 16-bit mask."""

MAX_NAME = 200
"""Longest text value (characters) but the description: names of the scenario, channels,
nodes, regions, segments and strategies, references to them, the currency. Names end up in KPI
names, folder names and report tables."""
MAX_DESCRIPTION = 20_000
"""Longest scenario `description` (characters): it is copied into scenario.json and
report.html, so a pasted book must not become a 50 MB report."""


def _not_a_boolean(value: Any) -> Any:
    """Refuse a boolean where a number is meant: pydantic's lax mode reads `true` as 1, so
    `consumers: true` would silently mean one consumer."""
    if isinstance(value, bool):
        raise PydanticCustomError("bool_not_number", "expected a number, got a boolean")
    return value


_SCHEMA_DATA_KEYS = frozenset({"serialization", "metadata", "config", "cls", "ref", "function"})
"""Keys of a core schema that hold no validation schema to descend into."""


def _refuse_booleans(schema: Any) -> Any:
    """A copy of a pydantic core schema in which every int and float schema, wherever it sits
    (a field, a list item, a dict value, a union member), first refuses booleans."""
    if isinstance(schema, list | tuple):
        return type(schema)(_refuse_booleans(s) for s in schema)
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "function-before" and (
        schema.get("function", {}).get("function") is _not_a_boolean
    ):
        return schema  # already guarded (a model nested in another is visited twice)
    out = {k: v if k in _SCHEMA_DATA_KEYS else _refuse_booleans(v) for k, v in schema.items()}
    if out.get("type") in ("int", "float"):
        return core_schema.no_info_before_validator_function(_not_a_boolean, out)  # type: ignore[arg-type]
    return out


class _Model(BaseModel):
    """Base of every scenario model, with four rules for all their fields at once:

    * unknown fields are errors (a typo must not silently fall back to a default);
    * numbers must be finite: inf and NaN (YAML `.inf`, `.nan`, `--set x=inf`) are refused in
      every float, also inside lists and mappings, so that no run can write a non-finite KPI;
    * booleans are not numbers: `true` where an int or float is meant is refused, also inside
      lists, mappings and unions (a boolean field or union member still takes them);
    * text is short: at most MAX_NAME characters in every string, mapping keys included (the
      scenario's `description` allows MAX_DESCRIPTION).
    """

    model_config = ConfigDict(
        extra="forbid", validate_assignment=False, allow_inf_nan=False, str_max_length=MAX_NAME
    )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        # One place for the boolean rule: rewriting the generated schema covers every numeric
        # field of every model, nested types included, without an annotation per field.
        return _refuse_booleans(handler(source))


# --------------------------------------------------------------------------------------------
# Geography and population


class Region(_Model):
    name: str = Field(description="Region (city) identifier, unique within the scenario.")
    population_share: NonNegFloat = Field(
        description="Share of the market's consumers living here; shares are normalised to 1."
    )


class Market(_Model):
    consumers: Annotated[int, Field(ge=1)] = Field(
        10_000,
        description=(
            "Number of simulated consumers (count). The memory check before a run refuses a "
            "number the machine cannot hold, and more than 2^31 - 1 (the calendar's 32-bit "
            "ids)."
        ),
    )
    regions: list[Region] = Field(
        default_factory=lambda: [Region(name="city", population_share=1.0)],
        min_length=1,
        description="Regions (cities) of the market.",
    )
    distance_days: dict[str, dict[str, NonNegFloat]] = Field(
        default_factory=dict,
        description=(
            "Transport time between regions in days, as {from: {to: days}}; used for delivery "
            "lead times and 'nearest node'. The matrix is symmetric: a pair given in one "
            "direction applies both ways, and the two directions may not differ. Missing pairs "
            "use `same_region_days` within a region and `default_distance_days` across regions."
        ),
    )
    same_region_days: NonNegFloat = Field(
        1.0, description="Transport time within one region when not given (days)."
    )
    default_distance_days: NonNegFloat = Field(
        2.0, description="Transport time between two regions when not given (days)."
    )


class NeedDistribution(StrEnum):
    gamma = "gamma"
    lognormal = "lognormal"
    exponential = "exponential"


class NeedProcess(_Model):
    mean_interval_days: PeriodDays = Field(
        30.0,
        description=(
            "Mean time between two needs of one consumer (days of base rate; at least 0.01)."
        ),
    )
    cv: Annotated[
        float, Field(gt=0.0, le=MAX_CV, json_schema_extra={"minimum": 0.01}), _at_least(0.01)
    ] = Field(
        1.0,
        description=(
            "Coefficient of variation of the inter-need time (1 = Poisson-like; <1 regular "
            "purchasers; 0.01 to 10: a gamma of shape 1 / cv^2 beyond them cannot be drawn). "
            "Ignored for the exponential distribution."
        ),
    )
    distribution: NeedDistribution = Field(
        NeedDistribution.gamma, description="Distribution family of the inter-need time."
    )
    basket_mean_units: Annotated[float, Field(ge=1.0, le=1_000.0)] = Field(
        1.0,
        description=(
            "Mean units per need; units = 1 + Poisson(mean - 1) (at most 1,000: a journey's "
            "units are kept in 16 bits)."
        ),
    )


class Segment(_Model):
    name: str = Field(description="Segment identifier.")
    share: NonNegFloat = Field(description="Share of consumers in the segment (normalised to 1).")
    need: NeedProcess = Field(default_factory=NeedProcess, description="The need process.")
    price_sensitivity: NonNegFloat = Field(
        2.0, description="Utility lost per unit of log(price / list price) (price elasticity)."
    )
    time_sensitivity: NonNegFloat = Field(
        0.3, description="Utility lost per day of waiting for the goods (utility / day)."
    )
    rating_sensitivity: NonNegFloat = Field(
        0.5, description="Utility gained per star of a channel's public rating above 3."
    )
    outside_utility: float = Field(
        0.0,
        description=(
            "Utility of the outside option (a competitor or no purchase); higher means the "
            "segment is harder to win."
        ),
    )
    awareness: Fraction = Field(
        0.6, description="Initial probability that a consumer knows the brand (fraction)."
    )
    habits: dict[str, Fraction] = Field(
        default_factory=dict,
        description="Initial channel habit (affinity in [0, 1]) per channel name; others 0.",
    )
    membership_share: Fraction = Field(
        0.0, description="Share of the segment that starts as members of the brand's programme."
    )
    region_mix: dict[str, NonNegFloat] | None = Field(
        None,
        description=(
            "Weights of the regions the segment lives in (regions left out get 0; at least one "
            "region of the market needs a positive weight); omitted or empty = the market's "
            "population shares."
        ),
    )
    search_hours: NonNegFloat = Field(
        6.0, description="Mean time spent searching before deciding (hours, exponential)."
    )


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
# Journey behaviour


class ChoiceWeights(_Model):
    habit: float = Field(1.5, description="Utility per unit of channel habit (0-1).")
    awareness: float = Field(0.5, description="Utility per unit of brand awareness (0-1).")
    promotion: float = Field(0.5, description="Utility bonus while a channel runs a promotion.")
    member: float = Field(0.3, description="Utility bonus for a member in a recognising channel.")


class ConsiderationWeights(_Model):
    habit: float = Field(3.0, description="Log-odds of considering a channel per unit of habit.")


class StockoutBehaviour(_Model):
    switch_probability: Fraction = Field(
        0.5,
        description=(
            "Probability that a consumer meeting a stock-out, or balking at a store (waiting "
            "room full or out of patience), re-decides among the other channels they "
            "considered; otherwise the sale is lost."
        ),
    )
    max_switches: Annotated[int, Field(ge=0, le=8)] = Field(
        2, description="Most channel switches in one journey."
    )


class Satisfaction(_Model):
    base: float = Field(0.5, description="Satisfaction of a smooth purchase (utility units).")
    price_gap_weight: NonNegFloat = Field(
        2.0,
        description=(
            "Loss per unit of log(price paid / lowest price seen while searching): the "
            "inconsistency penalty."
        ),
    )
    lateness_weight: NonNegFloat = Field(
        0.5, description="Loss per day a delivery is later than promised."
    )
    stockout_weight: NonNegFloat = Field(0.7, description="Loss per stock-out met in the journey.")
    queue_weight: NonNegFloat = Field(0.3, description="Loss per hour waited in a store queue.")
    inconsistency_weight: NonNegFloat = Field(
        0.0,
        description=(
            "Loss per unit of log(highest / lowest goods price across the channels considered "
            "while searching), whatever was paid: a brand whose prices differ by channel looks "
            "inconsistent (0 = off)."
        ),
    )
    noise_sd: NonNegFloat = Field(1.0, description="Standard deviation of idiosyncratic noise.")


class Reviews(_Model):
    post_probability: Fraction = Field(
        0.1, description="Probability that a buyer posts a review of the channel."
    )
    prior_rating: Annotated[float, Field(ge=1.0, le=5.0)] = Field(
        4.0, description="Prior mean of the public rating (stars)."
    )
    prior_weight: NonNegFloat = Field(
        20.0, description="Weight of the prior, in reviews, in the Bayesian average rating."
    )
    stars_per_unit: PositiveFloat = Field(
        1.0, description="Stars per unit of satisfaction around the midpoint of 3 stars."
    )
    use_days: NonNegFloat = Field(
        7.0, description="Mean time from receiving the goods to reviewing them (days, exp.)."
    )


class HabitDynamics(_Model):
    learning_rate: Fraction = Field(
        0.2, description="Pull of the used channel's habit toward 1 after a purchase."
    )
    decay: Fraction = Field(0.05, description="Decay of the other channels' habits per purchase.")
    inconsistency_loss: NonNegFloat = Field(
        0.0,
        description=(
            "Trust lost to inconsistent prices: after a purchase every channel habit is "
            "multiplied by exp(-inconsistency_loss * log(highest / lowest price seen)) before "
            "learning (0 = off)."
        ),
    )


class Churn(_Model):
    threshold: float = Field(
        -1.0, description="Satisfaction below which a consumer may leave the brand."
    )
    probability: Fraction = Field(
        0.3, description="Probability that a consumer below the threshold churns."
    )


class Journey(_Model):
    choice: ChoiceWeights = Field(default_factory=ChoiceWeights, description="Logit weights.")
    consideration: ConsiderationWeights = Field(
        default_factory=ConsiderationWeights, description="Consideration-set weights."
    )
    stockout: StockoutBehaviour = Field(
        default_factory=StockoutBehaviour, description="Reaction to stock-outs."
    )
    satisfaction: Satisfaction = Field(
        default_factory=Satisfaction, description="Satisfaction after use."
    )
    reviews: Reviews = Field(default_factory=Reviews, description="Reviews and public rating.")
    habits: HabitDynamics = Field(default_factory=HabitDynamics, description="Habit learning.")
    churn: Churn = Field(default_factory=Churn, description="Churn after a bad experience.")
    aware_after_purchase: bool = Field(
        True, description="A buyer knows the brand from then on (awareness set to 1)."
    )


# --------------------------------------------------------------------------------------------
# Calendar: seasonality and promotions


class Seasonality(_Model):
    amplitude: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Relative amplitude of the yearly need-rate cycle (fraction)."
    )
    peak_day: NonNegFloat = Field(0.0, description="Day of the year with the highest need rate.")


class Promotion(_Model):
    name: str = Field(description="Promotion identifier.")
    start_day: NonNegFloat = Field(description="First day of the promotion (days).")
    end_day: NonNegFloat = Field(description="Day the promotion ends (days, exclusive).")
    discount: Fraction = Field(0.1, description="Price cut in the promoted channels (fraction).")
    channels: list[str] | None = Field(
        None, description="Channels that run it; omitted = every channel."
    )
    need_multiplier: Multiplier = Field(
        1.0,
        description="Multiplier on every consumer's need rate while it runs (at most 1,000).",
    )

    @model_validator(mode="after")
    def _order(self) -> Promotion:
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


# --------------------------------------------------------------------------------------------
# Media plan (docs/model.md, "Media")

MAX_MEDIA = 16
"""Most media vehicles a plan may have: each consumer's reach is kept as a 16-bit mask."""
MAX_IMPRESSIONS_PER_CONSUMER_DAY = 1_000.0
"""Most impressions a vehicle may buy a day per simulated consumer (budget x 1000 / cpm /
consumers): nobody sees one vehicle a thousand times a day, and every impression is delivered
one by one."""


class MediaKind(StrEnum):
    tv = "tv"
    portal = "portal"
    print = "print"
    social = "social"
    kol = "kol"
    search = "search"


class FlightWindow(_Model):
    start_day: NonNegFloat = Field(description="First day of the window (days).")
    end_day: NonNegFloat = Field(description="Day the window ends (days, exclusive).")
    daily_budget: Money = Field(description="Budget rate inside the window (currency / day).")

    @model_validator(mode="after")
    def _order(self) -> FlightWindow:
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


class FrequencyCap(_Model):
    impressions: Annotated[int, Field(ge=1, le=255)] = Field(
        description="Most impressions one consumer may receive in one cap period (count, 1-255)."
    )
    period_days: PeriodDays = Field(
        7.0,
        description=(
            "Length of a cap period (days, at least 0.01); periods are fixed windows "
            "[k * period, (k + 1) * period) from day 0."
        ),
    )


class Medium(_Model):
    name: str = Field(description="Media vehicle identifier, unique; used in KPI names.")
    kind: MediaKind = Field(
        description=(
            "Kind of medium; `search` ads are shown to consumers while they search, the other "
            "kinds are bought and pushed to consumers at the start of each time bucket."
        )
    )
    cpm: Annotated[
        float, Field(gt=0.0, le=MAX_MONEY, json_schema_extra={"minimum": 0.01}), _at_least(0.01)
    ] = Field(description="Cost per thousand impressions (currency / 1000; at least 0.01).")
    daily_budget: Money = Field(
        0.0,
        description="Budget rate when no `flighting` is given (currency / day).",
    )
    flighting: list[FlightWindow] | None = Field(
        None,
        description=(
            "Flighting windows, in time order and not overlapping; when given, the budget rate "
            "is the window's `daily_budget` inside a window and 0 outside every window."
        ),
    )
    targeting: dict[str, NonNegFloat] | None = Field(
        None,
        description=(
            "Relative weight per segment name: the chance an impression lands on a consumer is "
            "proportional to the weight of their segment (segments left out get 0; 0 excludes "
            "a segment). Omitted = 1 for every segment. Search ads are shown only to segments "
            "of positive weight."
        ),
    )
    frequency_cap: FrequencyCap | None = Field(
        None, description="Per-consumer cap on this vehicle's impressions; omitted = no cap."
    )
    adstock_half_life_days: PositiveFloat = Field(
        7.0, description="Half-life of an impression's awareness effect (days, geometric adstock)."
    )
    max_lift: Fraction = Field(
        0.1,
        description=(
            "Largest lift L of awareness from this vehicle: the share of unaware consumers it "
            "makes aware at saturation (fraction)."
        ),
    )
    half_saturation: PositiveFloat = Field(
        3.0,
        description="Adstock K at which the lift is half of max_lift (impressions, Hill curve).",
    )
    shape: PositiveFloat = Field(
        1.0, description="Hill shape s: above 1 an S-curve, at most 1 concave (dimensionless)."
    )
    channel: str | None = Field(
        None,
        description=(
            "Sales channel an impression links to (clicks lead there); needed with "
            "click_through > 0."
        ),
    )
    click_through: Fraction = Field(
        0.0,
        description=(
            "Probability that a delivered impression is clicked (fraction); a click sends the "
            "consumer into `channel`'s search."
        ),
    )
    sessions_of: str | None = Field(
        None,
        description=(
            "Livestream channel whose sessions this vehicle runs with (a KOL's stream): it "
            "delivers, and spends, only while that channel's sessions are open. Omitted = "
            "always."
        ),
    )


class MediaPlan(_Model):
    vehicles: list[Medium] = Field(
        min_length=1,
        max_length=MAX_MEDIA,
        description="The media vehicles bought (at most 16), each one medium with its budget.",
    )
    frequency_cap: FrequencyCap | None = Field(
        None,
        description=(
            "Per-consumer cap on impressions of all vehicles together; omitted = no cross-media "
            "cap."
        ),
    )
    click_window_days: PositiveFloat = Field(
        1.0,
        description=(
            "After a click, the clicked channel is put into the consideration set of the "
            "consumer's next decision if that decision comes within this time (days)."
        ),
    )


# --------------------------------------------------------------------------------------------
# Word of mouth (omnisim/marketing/social.py; docs/model.md, "Word of mouth")


class SocialGraph(_Model):
    generator: str = Field(
        "watts_strogatz_graph",
        description=(
            "Graph family, by its networkx name: watts_strogatz_graph (params k, p; defaults "
            "10, 0.1), barabasi_albert_graph (m; 5), gnp_random_graph or erdos_renyi_graph (p "
            "or mean_degree; mean_degree 10), powerlaw_cluster_graph (m, p; 5, 0.5), all built "
            "natively for any population; fully_mixed (no graph: every consumer meets every "
            "other); or any other networkx generator called as networkx.<name>(n, **params), "
            "for at most 100,000 consumers."
        ),
    )
    params: dict[str, bool | int | float | str] = Field(
        default_factory=dict,
        description=(
            "Parameters of the generator (counts for k and m; probabilities for p; mean_degree "
            "in neighbours); omitted ones of the native families take their defaults."
        ),
    )


class Adopters(StrEnum):
    aware = "aware"
    buyers = "buyers"


class KOLs(_Model):
    count: Annotated[int, Field(ge=0)] = Field(
        10, description="Number of KOLs: the highest-degree consumers, ties by id (count)."
    )
    followers: Annotated[int, Field(ge=0)] = Field(
        1000, description="Followers of each KOL, drawn uniformly among consumers (count)."
    )
    talk_per_day: RatePerDay = Field(
        0.2,
        description=(
            "Posts per day of a KOL once an adopter; each post tells all its followers "
            "(rate per day)."
        ),
    )


class Social(_Model):
    graph: SocialGraph = Field(
        default_factory=SocialGraph, description="The social graph word of mouth travels on."
    )
    adopters: Adopters = Field(
        Adopters.buyers,
        description=(
            "Who talks about the brand: buyers (from their first purchase on) or aware "
            "(from the moment their base awareness reaches 1)."
        ),
    )
    imitation_per_day: RatePerDay = Field(
        0.1,
        description=(
            "q: conversations per day of an adopter, each with one neighbour drawn uniformly "
            "(rate per day; Bass's coefficient of imitation in a fully mixed population)."
        ),
    )
    innovation_per_day: RatePerDay = Field(
        0.0,
        description=(
            "p: rate at which each consumer becomes aware (awareness 1) from outside "
            "influence (rate per day; Bass's coefficient of innovation)."
        ),
    )
    awareness_lift: Fraction = Field(
        0.5,
        description=(
            "Share of the remaining awareness gap a conversation closes: a <- a + lift (1 - a) "
            "(fraction; 1 makes the listener aware for sure)."
        ),
    )
    intent_per_satisfaction: float = Field(
        1.0,
        description=(
            "Purchase intent a listener gains per unit of the teller's last satisfaction "
            "(intent units per utility unit; a dissatisfied teller lowers intent)."
        ),
    )
    intent_half_life_days: PositiveFloat = Field(
        30.0, description="Half-life of purchase intent (days)."
    )
    intent_weight: float = Field(
        0.5,
        description="Utility per unit of purchase intent in every channel's choice utility.",
    )
    kols: KOLs | None = Field(None, description="Key opinion leaders; omitted = none.")


# --------------------------------------------------------------------------------------------
# The membership programme (docs/model.md, "Members"; omnisim.marketing.membership)

MAX_TIERS = 16
"""Most tiers a membership programme may have (a member's tier is kept in one byte)."""


class MembershipTier(_Model):
    name: str = Field(description="Tier name, unique; used in KPI names (tier_share.<name>).")
    min_spend: Money = Field(
        0.0,
        description=(
            "Qualifying spend (currency) or points (with qualifying: points) since joining "
            "from which a member is in this tier; the first tier has 0, later ones increase."
        ),
    )
    discount: Fraction = Field(
        0.0,
        description=(
            "Price cut for members of the tier where they are recognised (fraction); the larger "
            "of it and the channel's member_discount applies."
        ),
    )
    points_per_currency: Annotated[float, Field(ge=0.0, le=1e6)] = Field(
        0.0, description="Points earned per currency unit paid for goods (points / currency)."
    )
    free_delivery: bool = Field(
        False, description="Whether the tier waives the online channels' delivery_fee."
    )


class Qualifying(StrEnum):
    spend = "spend"
    points = "points"


class Recognition(StrEnum):
    everywhere = "everywhere"
    where_joined = "where_joined"


class Membership(_Model):
    tiers: list[MembershipTier] = Field(
        default_factory=lambda: [MembershipTier(name="member")],
        min_length=1,
        max_length=MAX_TIERS,
        description=(
            "Tiers in increasing order of min_spend (the first at 0); a member is in the highest "
            "tier whose min_spend their qualifying amount reaches. Tiers never go down."
        ),
    )
    qualifying: Qualifying = Field(
        Qualifying.spend,
        description=(
            "What tier thresholds count since joining: spend (currency paid for goods where "
            "recognised) or points (points earned)."
        ),
    )
    recognition: Recognition = Field(
        Recognition.everywhere,
        description=(
            "everywhere: one programme in every channel that recognises_membership "
            "(omnichannel); where_joined: a member's benefits apply only in the channel where "
            "they joined (multichannel)."
        ),
    )
    point_value: Money = Field(
        0.01, description="What one redeemed point is worth (currency / point)."
    )
    redemption_rate: Fraction = Field(
        0.7,
        description=(
            "Probability that a point earned is redeemed (fraction); the brand's expected cost "
            "of a point is point_value * redemption_rate, booked when it is earned."
        ),
    )
    join_probability: Fraction = Field(
        0.0,
        description=(
            "Probability that a non-member joins at checkout, per purchase in a channel that "
            "recognises membership."
        ),
    )
    join_probability_by_channel: dict[str, Fraction] = Field(
        default_factory=dict,
        description=(
            "Per-channel overrides of join_probability, {channel: probability}; only channels "
            "that recognise membership."
        ),
    )
    initial_channel: str | None = Field(
        None,
        description=(
            "Channel where the initial members (segments' membership_share) joined; omitted = "
            "drawn per member from their segment's habits over the recognising channels."
        ),
    )
    fixed_cost_per_day: Money = Field(
        0.0, description="Brand's fixed cost of running the programme (currency / day)."
    )
    cost_per_member_per_year: Money = Field(
        0.0,
        description=(
            "Brand's cost per member (service, communication) (currency / member / year), "
            "accrued per day of membership in the window."
        ),
    )


# --------------------------------------------------------------------------------------------
# Customer lifecycle (docs/model.md, "Customer lifecycle"; omnisim/consumers/lifecycle.py)


class Lifecycle(_Model):
    winback_days: PositiveFloat | None = Field(
        None,
        description=(
            "Mean time from churn until the consumer comes back to the brand (days, "
            "exponential); omitted = a churned consumer never comes back."
        ),
    )
    active_days: PositiveFloat = Field(
        365.0,
        description=(
            "A customer is active at time t if they bought in (t - active_days, t] (days); "
            "sets the active-customer series and KPI."
        ),
    )
    clv_days: PositiveFloat | None = Field(
        None,
        description=(
            "Customer lifetime value: days after acquisition over which a new customer's "
            "margin is summed; only customers acquired at least this long before the horizon "
            "count. Omitted = every new customer, up to the horizon."
        ),
    )
    annual_discount_rate: NonNegFloat = Field(
        0.10,
        description=(
            "Continuously compounded discount rate of customer lifetime value (1 / year): "
            "margin t days after acquisition is weighted exp(-rate * t / 365)."
        ),
    )


# --------------------------------------------------------------------------------------------
# Omnichannel operations (docs/model.md, "Omnichannel operations"; docs/strategies.md)


class UnifiedPrice(_Model):
    price_index: Annotated[float, Field(gt=0.0, le=MAX_PRICE_INDEX)] = Field(
        1.0,
        description=(
            "The one price of every channel, as a multiple of the product's list price; it "
            "replaces each channel's price_index and the dealer chain's shelf prices."
        ),
    )
    promotions_everywhere: bool = Field(
        True,
        description=(
            "Promotions run in every channel at once (a promotion's `channels` list is "
            "ignored): prices change everywhere together."
        ),
    )
    keep_session_discounts: bool = Field(
        False,
        description="Keep the livestream sessions' time-limited discounts (else none).",
    )


class Allocation(_Model):
    order_taker_share: Fraction = Field(
        0.1,
        description=(
            "When a node of another channel fulfils an order (pick-up in store, dispatch to "
            "an offline outlet, ship from store, endless aisle), the share of the order's "
            "value net of platform commission (and of an online channel's intermediary "
            "margin) kept by the owner of the channel or store that took the order; the "
            "owner of the fulfilling node gets the rest (fraction)."
        ),
    )
    territory_channel: str | None = Field(
        None,
        description=(
            "Offline channel whose store in the consumer's region is credited for online "
            "orders of that region (a territory commission); omitted = none."
        ),
    )
    territory_share: Fraction = Field(
        0.0,
        description=(
            "Share of an online order's value net of commission credited to the territory "
            "store's owner (fraction)."
        ),
    )


class Bopis(_Model):
    channels: list[str] | None = Field(
        None,
        description="Online channels that offer pick-up in store; omitted = every online channel.",
    )
    pickup_channel: str | None = Field(
        None,
        description=(
            "Offline channel whose stores hand out the orders (the consumer's store of that "
            "channel in their region); omitted = the first offline channel."
        ),
    )
    ready_hours: NonNegFloat = Field(
        2.0, description="Time from order to the goods being ready at the store (hours)."
    )
    pickup_effort: float = Field(
        1.0,
        description=(
            "Disutility of going to the store to collect (utility units), subtracted from the "
            "pick-up branch: the pick-up versus delivery choice is a binary logit nested in "
            "the channel's utility (docs/model.md)."
        ),
    )


class Omnichannel(_Model):
    unified_price: UnifiedPrice | None = Field(
        None, description="One price in every channel; omitted = per-channel prices."
    )
    shared_inventory: bool = Field(
        False,
        description=(
            "One inventory view: an online order the channel's home node cannot fill goes to "
            "the nearest of its other nodes and of every warehouse that can, and a store "
            "visitor who meets a stock-out may take home delivery from the nearest stocked "
            "warehouse (the endless aisle); off = each channel its own stock."
        ),
    )
    endless_aisle_acceptance: Fraction = Field(
        0.7,
        description=(
            "With shared_inventory: probability that a store visitor who meets a stock-out "
            "(an empty shelf) accepts home delivery from another node (probability)."
        ),
    )
    ship_from_store: bool = Field(
        False,
        description=(
            "Every store of the offline channels may ship online orders: the stores join the "
            "candidate nodes (after the home node and the pool, nearest first) and, with "
            "shared_inventory, the endless-aisle pool."
        ),
    )
    nearest_dispatch: bool = Field(
        False,
        description=(
            "Online orders try their candidate nodes nearest first by the region distance "
            "matrix (就近派送; ties keep the order of preference, the home node first) "
            "instead of the channel's home node first."
        ),
    )
    online_order_offline_fulfilment: bool = Field(
        False,
        description=(
            "Online orders are dispatched first to the consumer's own store of each offline "
            "channel in their region, which delivers them locally after store_handling_days "
            "(线上接单, 线下分单); the channel's other candidate nodes serve when no such "
            "outlet has the stock."
        ),
    )
    store_handling_days: NonNegFloat = Field(
        0.25,
        description="Time for a store to pick and hand over an order it ships or sends (days).",
    )
    bopis: Bopis | None = Field(
        None, description="Buy online, pick up in store; omitted = no pick-up."
    )
    allocation: Allocation = Field(
        default_factory=Allocation,
        description="Profit allocation between the channel that took an order and its fulfiller.",
    )
    unified_membership: bool = Field(
        False,
        description=(
            "One membership across channels: every channel recognises members and the "
            "programme recognises them everywhere (membership.recognition = everywhere)."
        ),
    )


# --------------------------------------------------------------------------------------------
# Shocks (docs/model.md, "Shocks")


class Shock(_Model):
    name: str = Field(description="Shock identifier, unique.")
    start_day: NonNegFloat = Field(description="Day the shock starts (days).")
    end_day: NonNegFloat = Field(description="Day the shock ends (days, exclusive).")
    traffic: dict[str, Multiplier] = Field(
        default_factory=dict,
        description=(
            "Multiplier on the odds of considering a channel while the shock lasts, by channel "
            "type (own_store, dealer_store, own_online, platform, livestream, phone_dm) or "
            "channel name (a name wins over its type); missing = 1."
        ),
    )
    need_multiplier: Multiplier = Field(
        1.0,
        description=(
            "Multiplier on every consumer's need rate while the shock lasts (at most 1,000)."
        ),
    )
    lead_time_multiplier: Multiplier = Field(
        1.0,
        description=(
            "Multiplier on the lead times of shipments started while the shock lasts: online "
            "deliveries (the promise is unchanged), brand replenishment, dealer shipments."
        ),
    )
    habit_persistence: Fraction = Field(
        1.0,
        description=(
            "Share of the change in consumers' channel habits during the shock (habit learning "
            "from its purchases) that stays when it ends (1 = all of it, 0 = habits go back "
            "to where they were when it began)."
        ),
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Shock:
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


# --------------------------------------------------------------------------------------------
# Engine settings and the scenario


class Engine(_Model):
    bucket_hours: Annotated[
        float,
        Field(gt=0.0, json_schema_extra={"minimum": MIN_BUCKET_HOURS}),
        _at_least(MIN_BUCKET_HOURS),
    ] = Field(
        1.0,
        description=(
            "Width of the time bucket in which consumer stage events are advanced together "
            "(hours). Events within a bucket run in exact time order; only interactions with "
            "the supply side depend on the width (replenishment deliveries act at bucket "
            "ends). Smaller is closer to exact and slower; at least 0.01 (36 seconds), and the "
            "memory check counts the buckets."
        ),
    )
    trail_chunk_rows: Annotated[int, Field(ge=1000, le=10_000_000)] = Field(
        500_000,
        description=(
            "Rows buffered before a chunk of the event trail is written (at most 10 million, "
            "about 500 MB)."
        ),
    )
    timeseries_days: PeriodDays = Field(
        7.0,
        description=(
            "Width of a period of the time series written to timeseries.csv, and the spacing "
            "of the active-customer count (days, at least 0.01; the memory check counts the "
            "periods)."
        ),
    )
    memory_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.8, description="Largest share of the machine's available memory a run may plan to use."
    )


class Scenario(_Model):
    """One market and the brand's retail system; `strategies` are named overlays on it."""

    name: str = Field(description="Scenario name, used in result folders and reports.")
    description: str = Field(
        "",
        max_length=MAX_DESCRIPTION,
        description=f"Free text shown in reports (at most {MAX_DESCRIPTION:,} characters).",
    )
    currency: str = Field("CNY", description="Currency of every money field.")
    horizon_days: Annotated[float, Field(gt=0.0, le=MAX_HORIZON_DAYS)] = Field(
        365.0, description="Simulated time (days; at most 36,500, 100 years)."
    )
    warmup_days: NonNegFloat = Field(
        0.0, description="Initial period excluded from every KPI (days)."
    )
    seed: Annotated[int, Field(ge=0)] = Field(0, description="Root random seed.")
    replications: Annotated[int, Field(ge=1, le=10_000)] = Field(
        5, description="Independent replications per run (at most 10,000)."
    )
    engine: Engine = Field(default_factory=Engine, description="Engine settings.")
    market: Market = Field(default_factory=Market, description="Consumers and geography.")
    product: Product = Field(default_factory=Product, description="The product sold.")
    segments: list[Segment] = Field(min_length=1, description="Consumer segments.")
    channels: list[Channel] = Field(
        min_length=1, max_length=MAX_CHANNELS, description="Sales channels."
    )
    nodes: list[StockNode] = Field(min_length=1, description="Stores and warehouses.")
    journey: Journey = Field(default_factory=Journey, description="Journey behaviour.")
    seasonality: Seasonality = Field(default_factory=Seasonality, description="Yearly need cycle.")
    promotions: list[Promotion] = Field(default_factory=list, description="Promotions.")
    lifecycle: Lifecycle = Field(
        default_factory=Lifecycle,
        description="Customer lifecycle: win-back, activity window, lifetime value.",
    )
    network: Network | None = Field(
        None,
        description=(
            "Dealer network between the brand and the stock nodes; omitted = every node is "
            "replenished by the brand directly."
        ),
    )
    media: MediaPlan | None = Field(
        None, description="The brand's media plan; omitted = no paid media."
    )
    social: Social | None = Field(
        None,
        description="Word of mouth over a social graph; omitted = no word of mouth.",
    )
    membership: Membership | None = Field(
        None,
        description=(
            "The membership programme: tiers, points, recognition, recruitment and costs; "
            "omitted = members (segments' membership_share) get the channels' member_discount "
            "and the choice bonus, and nobody joins."
        ),
    )
    omnichannel: Omnichannel = Field(
        default_factory=Omnichannel,
        description=(
            "Omnichannel operations: price, inventory, fulfilment, profit allocation and "
            "membership policies; every switch off by default (separate channels)."
        ),
    )
    shocks: list[Shock] = Field(
        default_factory=list,
        description="Time-bounded shocks to traffic, need and lead times; none by default.",
    )
    strategies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description=(
            "Named overlays on this scenario: each is a partial scenario deep-merged onto it "
            "(mappings merge, list items are matched by `name`)."
        ),
    )

    @field_validator("channels", mode="before")
    @classmethod
    def _channel_limit(cls, value: Any) -> Any:
        # Before the items are validated, so that the limit is stated plainly (and alone).
        if isinstance(value, list) and len(value) > MAX_CHANNELS:
            raise PydanticCustomError(
                "too_many_channels",
                "at most {limit} channels are supported, not {count}",
                {"limit": MAX_CHANNELS, "count": len(value)},
            )
        return value

    def node_service(self, node: StockNode) -> StoreService | None:
        """Service settings of a node: stores default to `StoreService()`, warehouses none."""
        if node.kind == "store":
            return node.service or StoreService()
        return None


Loc = tuple[str | int, ...]


def cross_reference_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems a field-by-field validation cannot see: unknown or duplicate names, and
    settings that contradict each other. Each problem carries the location of the field, in
    pydantic's `loc` form (list items by index), so that the loader can name its line."""
    out: list[tuple[Loc, str]] = []
    if sc.warmup_days >= sc.horizon_days:
        out.append((("warmup_days",), "must be shorter than horizon_days"))
    regions = {r.name for r in sc.market.regions}
    channels = {c.name for c in sc.channels}
    nodes = {n.name: n for n in sc.nodes}
    for field, items in (
        (("market", "regions"), sc.market.regions),
        (("channels",), sc.channels),
        (("nodes",), sc.nodes),
        (("segments",), sc.segments),
        (("promotions",), sc.promotions),
    ):
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item.name in seen:
                out.append(((*field, i, "name"), f"duplicate name {item.name!r}"))
            seen.add(item.name)
    if sum(r.population_share for r in sc.market.regions) <= 0:
        out.append((("market", "regions"), "population shares sum to zero"))
    if sum(s.share for s in sc.segments) <= 0:
        out.append((("segments",), "shares sum to zero"))
    distance = sc.market.distance_days
    order = {a: k for k, a in enumerate(distance)}
    for a, row in distance.items():
        if a not in regions:
            out.append((("market", "distance_days", a), f"unknown region {a!r}"))
        for b, d in row.items():
            if b not in regions:
                out.append((("market", "distance_days", a, b), f"unknown region {b!r}"))
            back = distance.get(b, {}).get(a)
            # Each pair once: at the direction written second.
            if back is not None and back != d and order[b] < order[a]:
                out.append(
                    (
                        ("market", "distance_days", a, b),
                        f"{d:g} days, but {b} to {a} is {back:g} days: transport times are "
                        "symmetric (give one direction, or equal values)",
                    )
                )
    for i, s in enumerate(sc.segments):
        for c in s.habits:
            if c not in channels:
                out.append((("segments", i, "habits", c), f"unknown channel {c!r}"))
        mix = s.region_mix or {}
        for r in mix:
            if r not in regions:
                out.append((("segments", i, "region_mix", r), f"unknown region {r!r}"))
        if mix and not any(w > 0 for r, w in mix.items() if r in regions):
            out.append(
                (("segments", i, "region_mix"), "no region of the market has a positive weight")
            )
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
    for i, p in enumerate(sc.promotions):
        for j, c in enumerate(p.channels or []):
            if c not in channels:
                out.append((("promotions", i, "channels", j), f"unknown channel {c!r}"))
    clv_days = sc.lifecycle.clv_days
    if clv_days is not None and clv_days > sc.horizon_days - sc.warmup_days:
        out.append(
            (
                ("lifecycle", "clv_days"),
                f"{clv_days:g} days is longer than the measurement window "
                f"({sc.horizon_days - sc.warmup_days:g} days): no new customer could be "
                "observed that long",
            )
        )
    out.extend(_network_problems(sc, regions))
    out.extend(_media_problems(sc))
    out.extend(_social_problems(sc))
    out.extend(_membership_problems(sc))
    out.extend(_omnichannel_problems(sc))
    out.extend(_shock_problems(sc))
    return out


def _media_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the media plan: names, references to segments and channels, flighting."""
    out: list[tuple[Loc, str]] = []
    plan = sc.media
    if plan is None:
        return out
    segments = {s.name: s for s in sc.segments}
    channels = {c.name: c for c in sc.channels}
    bucket_days = sc.engine.bucket_hours / 24.0
    seen: set[str] = set()
    for i, m in enumerate(plan.vehicles):
        at = ("media", "vehicles", i)
        if m.name in seen:
            out.append(((*at, "name"), f"duplicate name {m.name!r}"))
        seen.add(m.name)
        for s in m.targeting or {}:
            if s not in segments:
                out.append(((*at, "targeting", s), f"unknown segment {s!r}"))
        if m.targeting is not None and not any(
            w > 0 and s in segments and segments[s].share > 0 for s, w in m.targeting.items()
        ):
            out.append(((*at, "targeting"), "no segment of the market has a positive weight"))
        if m.channel is not None and m.channel not in channels:
            out.append(((*at, "channel"), f"unknown channel {m.channel!r}"))
        if m.click_through > 0 and m.channel is None:
            out.append(((*at, "click_through"), "clicks need a `channel` to lead to"))
        if m.sessions_of is not None:
            c = channels.get(m.sessions_of)
            if c is None:
                out.append(((*at, "sessions_of"), f"unknown channel {m.sessions_of!r}"))
            elif c.sessions is None:
                out.append(
                    (
                        (*at, "sessions_of"),
                        f"{m.sessions_of!r} is not a livestream channel with sessions",
                    )
                )
        windows = m.flighting or []
        # Every impression is delivered one by one: a budget that buys more than a thousand a
        # day per consumer is a mistake (a budget in the wrong unit or for a larger market).
        budgets = [((*at, "daily_budget"), m.daily_budget)] if not windows else []
        budgets += [
            ((*at, "flighting", j, "daily_budget"), w.daily_budget) for j, w in enumerate(windows)
        ]
        for loc, budget in budgets:
            per_consumer = budget * 1000.0 / m.cpm / sc.market.consumers
            if per_consumer > MAX_IMPRESSIONS_PER_CONSUMER_DAY:
                out.append(
                    (
                        loc,
                        f"buys {per_consumer:,.0f} impressions a day per consumer at a cpm of "
                        f"{m.cpm:g} ({sc.market.consumers:,} consumers): at most "
                        f"{MAX_IMPRESSIONS_PER_CONSUMER_DAY:,.0f}",
                    )
                )
                break
        for j in range(1, len(windows)):
            if windows[j].start_day < windows[j - 1].end_day:
                out.append(
                    (
                        (*at, "flighting", j, "start_day"),
                        f"window starts at day {windows[j].start_day:g}, before the previous "
                        f"window ends (day {windows[j - 1].end_day:g}): windows must be in time "
                        "order and not overlap",
                    )
                )
        # The adstock is held relative to a reference time reset at bucket starts; a half-life
        # much shorter than a bucket would overflow it within one bucket.
        if m.adstock_half_life_days < bucket_days / 4:
            out.append(
                (
                    (*at, "adstock_half_life_days"),
                    f"must be at least a quarter of the bucket width ({bucket_days / 4:g} days)",
                )
            )
    return out


def _membership_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the membership programme and of the channels' delivery fees."""
    out: list[tuple[Loc, str]] = []
    for i, c in enumerate(sc.channels):
        if c.delivery_fee > 0.0 and c.type in OFFLINE_TYPES:
            out.append(
                (
                    ("channels", i, "delivery_fee"),
                    f"only online channels charge a delivery fee (this one is {c.type.value!r})",
                )
            )
    m = sc.membership
    if m is None:
        return out
    unified = sc.omnichannel.unified_membership  # every channel recognises members
    recognising = {c.name: c.recognises_membership or unified for c in sc.channels}
    seen: set[str] = set()
    for k, tier in enumerate(m.tiers):
        if tier.name in seen:
            out.append((("membership", "tiers", k, "name"), f"duplicate name {tier.name!r}"))
        seen.add(tier.name)
        if k == 0 and tier.min_spend != 0.0:
            out.append(
                (
                    ("membership", "tiers", 0, "min_spend"),
                    f"{tier.min_spend:g}, but the first tier starts at 0 (every member has one)",
                )
            )
        elif k > 0 and tier.min_spend <= m.tiers[k - 1].min_spend:
            out.append(
                (
                    ("membership", "tiers", k, "min_spend"),
                    f"{tier.min_spend:g}, but tiers are listed in increasing order of min_spend "
                    f"(the tier before starts at {m.tiers[k - 1].min_spend:g})",
                )
            )
    named = [(("join_probability_by_channel", c), c) for c in m.join_probability_by_channel]
    if m.initial_channel is not None:
        named.append((("initial_channel",), m.initial_channel))
    for loc, c in named:
        if c not in recognising:
            out.append((("membership", *loc), f"unknown channel {c!r}"))
        elif not recognising[c]:
            out.append(
                (
                    ("membership", *loc),
                    f"channel {c!r} does not recognise membership: nobody joins there",
                )
            )
    return out


def _omnichannel_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the `omnichannel` section: channels it names and what they must be."""
    out: list[tuple[Loc, str]] = []
    types = {c.name: c.type for c in sc.channels}
    om = sc.omnichannel

    def offline(loc: Loc, name: str) -> None:
        if name not in types:
            out.append((("omnichannel", *loc), f"unknown channel {name!r}"))
        elif types[name] not in OFFLINE_TYPES:
            out.append(
                (("omnichannel", *loc), f"channel {name!r} is not an offline (store) channel")
            )

    if om.allocation.territory_channel is not None:
        offline(("allocation", "territory_channel"), om.allocation.territory_channel)
    elif om.allocation.territory_share > 0.0:
        out.append(
            (
                ("omnichannel", "allocation", "territory_share"),
                "a territory share needs a territory_channel to credit",
            )
        )
    has_stores = any(t in OFFLINE_TYPES for t in types.values())
    needs_stores = {
        "online_order_offline_fulfilment": om.online_order_offline_fulfilment,
        "ship_from_store": om.ship_from_store,
        "bopis": om.bopis is not None,
    }
    for field, on in needs_stores.items():
        if on and not has_stores:
            out.append((("omnichannel", field), "needs an offline (store) channel"))
    b = om.bopis
    if b is not None:
        if b.pickup_channel is not None:
            offline(("bopis", "pickup_channel"), b.pickup_channel)
        for k, name in enumerate(b.channels or []):
            if name not in types:
                out.append((("omnichannel", "bopis", "channels", k), f"unknown channel {name!r}"))
            elif types[name] in OFFLINE_TYPES:
                out.append(
                    (
                        ("omnichannel", "bopis", "channels", k),
                        f"channel {name!r} is an offline channel: pick-up is for online orders",
                    )
                )
    return out


def _shock_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the shocks: names, traffic keys, overlaps, and the horizon."""
    out: list[tuple[Loc, str]] = []
    types = {t.value for t in ChannelType}
    names = {c.name for c in sc.channels}
    seen: set[str] = set()
    for k, shock in enumerate(sc.shocks):
        if shock.name in seen:
            out.append((("shocks", k, "name"), f"duplicate name {shock.name!r}"))
        seen.add(shock.name)
        for key in shock.traffic:
            if key not in types and key not in names:
                out.append(
                    (
                        ("shocks", k, "traffic", key),
                        f"{key!r} is neither a channel type ({', '.join(sorted(types))}) nor "
                        "a channel name",
                    )
                )
        if shock.start_day >= sc.horizon_days:
            out.append((("shocks", k, "start_day"), "starts after the horizon"))
    # Habit persistence undoes each shock's own habit change: overlapping shocks would undo
    # each other's.
    spans = sorted((s.start_day, s.end_day, k) for k, s in enumerate(sc.shocks))
    for (_, end_a, a), (start_b, _, b) in itertools.pairwise(spans):
        if start_b < end_a:
            out.append(
                (
                    ("shocks", b, "start_day"),
                    f"overlaps shock {sc.shocks[a].name!r}: shocks may not overlap",
                )
            )
    return out


def _network_problems(sc: Scenario, regions: set[str]) -> list[tuple[Loc, str]]:
    """Problems of the dealer network and of the stock nodes' `supplier` links."""
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


# Word of mouth: the native graph families with their parameters' defaults, and the memory
# planning of omnisim/marketing/social.py.
GRAPH_DEFAULTS: dict[str, dict[str, float]] = {
    "watts_strogatz_graph": {"k": 10, "p": 0.1},
    "barabasi_albert_graph": {"m": 5},
    "gnp_random_graph": {"mean_degree": 10},
    "erdos_renyi_graph": {"mean_degree": 10},
    "powerlaw_cluster_graph": {"m": 5, "p": 0.5},
    "fully_mixed": {},
}
_GRAPH_PARAMS: dict[str, tuple[str, ...]] = {
    "watts_strogatz_graph": ("k", "p"),
    "barabasi_albert_graph": ("m",),
    "gnp_random_graph": ("p", "mean_degree"),
    "erdos_renyi_graph": ("p", "mean_degree"),
    "powerlaw_cluster_graph": ("m", "p"),
    "fully_mixed": (),
}
SOCIAL_STATE_BYTES = 37
"""Word-of-mouth state per consumer (bytes; see omnisim.marketing.social.STATE_BYTES)."""
SOCIAL_BYTES_GOAL = 600
"""Word of mouth's share of the 1,000 bytes per consumer a run may use at a million consumers
(graph CSR, KOL followers and state; consumer state, calendar and the other marketing features
take the rest)."""
NX_MAX_CONSUMERS = 100_000
"""Largest population for which a generator outside GRAPH_DEFAULTS is run in networkx."""


def graph_params(generator: str, params: dict) -> dict:
    """The parameters a graph generator runs with: for a native family its defaults overlaid
    with the scenario's (``p`` and ``mean_degree`` of G(n, p) exclude each other); else as
    given."""
    if generator not in GRAPH_DEFAULTS:
        return dict(params)
    out = dict(GRAPH_DEFAULTS[generator])
    if generator in ("gnp_random_graph", "erdos_renyi_graph") and "p" in params:
        out.pop("mean_degree")
    out.update(params)
    return out


def mean_degree_estimate(generator: str, params: dict, n: int) -> float | None:
    """Expected mean degree of a native graph family over ``n`` consumers (0 for fully_mixed,
    which holds no graph; None for other generators: unknown before the graph is built)."""
    p = graph_params(generator, params)
    if generator == "fully_mixed":
        return 0.0
    if generator == "watts_strogatz_graph":
        return 2.0 * (int(p["k"]) // 2)
    if generator in ("barabasi_albert_graph", "powerlaw_cluster_graph"):
        m = int(p["m"])
        return 2.0 * m * max(n - m, 0) / n
    if generator in ("gnp_random_graph", "erdos_renyi_graph"):
        if "p" in p:
            return float(p["p"]) * (n - 1)
        return min(float(p["mean_degree"]), n - 1)
    return None


def _social_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the `social` section: graph parameters, KOLs, and the memory goal."""
    s = sc.social
    if s is None:
        return []
    out: list[tuple[Loc, str]] = []
    n = sc.market.consumers
    gen, params = s.graph.generator, s.graph.params
    at = ("social", "graph", "params")
    if gen in _GRAPH_PARAMS:
        known = _GRAPH_PARAMS[gen]
        for name in params:
            if name not in known:
                expected = ", ".join(known) if known else "none"
                out.append(
                    ((*at, name), f"{gen} takes no parameter {name!r} (it takes {expected})")
                )
        for name in ("k", "m"):
            if name in known and name in params:
                v = params[name]
                if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v < 1:
                    out.append(((*at, name), f"must be a whole number >= 1, not {v!r}"))
                elif v >= n:
                    out.append(((*at, name), f"must be below market.consumers ({n}), not {v!r}"))
        if "p" in known and "p" in params:
            v = params["p"]
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.0 <= v <= 1.0:
                out.append(((*at, "p"), f"must be a probability in [0, 1], not {v!r}"))
        if "mean_degree" in params and "mean_degree" in known:
            v = params["mean_degree"]
            if "p" in params:
                out.append(((*at, "mean_degree"), "give p or mean_degree, not both"))
            elif isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= n - 1:
                out.append(((*at, "mean_degree"), f"must be in [0, {n - 1}], not {v!r}"))
        k = params.get("k")
        if gen == "watts_strogatz_graph" and isinstance(k, int | float) and 1 <= k < 2:
            out.append(((*at, "k"), "must be at least 2 (k // 2 neighbours on each side)"))
    elif n > NX_MAX_CONSUMERS:
        out.append(
            (
                ("social", "graph", "generator"),
                f"{gen!r} is not built natively, and networkx holds about 1 kB per node: at "
                f"most {NX_MAX_CONSUMERS:,} consumers, not {n:,} (native: "
                f"{', '.join(_GRAPH_PARAMS)})",
            )
        )
    else:
        import networkx as nx

        if not callable(getattr(nx, gen, None)) or gen.startswith("_"):
            out.append(
                (
                    ("social", "graph", "generator"),
                    f"unknown graph generator {gen!r} (native: {', '.join(_GRAPH_PARAMS)}; or a "
                    "networkx generator name)",
                )
            )
    if s.kols is not None:
        if s.kols.count > n:
            out.append(
                (("social", "kols", "count"), f"more KOLs than consumers ({s.kols.count} > {n})")
            )
        if s.kols.followers > n - 1:
            out.append((("social", "kols", "followers"), f"at most {n - 1} (the other consumers)"))
    if out:
        return out
    # Memory goal: the graph (CSR) at its expected mean degree, KOL followers and the state.
    deg = mean_degree_estimate(gen, params, n)
    graph = 0.0 if gen == "fully_mixed" or deg is None else 8.0 + 4.0 * deg
    kols = 0.0 if s.kols is None else 4.0 * s.kols.count * s.kols.followers / n
    total = SOCIAL_STATE_BYTES + graph + kols
    if total > SOCIAL_BYTES_GOAL:
        where: Loc = ("social", "kols", "followers") if kols > graph else (*at,)
        out.append(
            (
                where,
                f"word of mouth would hold about {total:,.0f} bytes per consumer (graph "
                f"{graph:,.0f} at mean degree {deg or 0:g}, KOL followers {kols:,.0f}, state "
                f"{SOCIAL_STATE_BYTES}), over its goal of {SOCIAL_BYTES_GOAL}: lower the mean "
                "degree or the followers",
            )
        )
    return out
