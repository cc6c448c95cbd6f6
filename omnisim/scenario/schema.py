"""Pydantic models of a scenario file: every field, its default, unit and meaning.

These models are the single source of truth for the scenario language. ``omnisim schema`` prints
their JSON Schema, ``docs/scenario.md`` describes them, and the engine reads nothing that is not
declared here. Units are named in each description: times in days unless a field says hours or
minutes, money in the scenario's currency, rates and shares as fractions in [0, 1].

The models live in one module per section of a scenario, each with the cross-reference checks
of its section beside them; this module holds the top-level `Scenario`, the checks of its own
fields, and `cross_reference_problems`, which runs every section's checks in the order of
`CHECKS`. It re-exports every name of the sections, so ``from omnisim.scenario.schema import
X`` is the way in for the rest of the code:

* `omnisim.scenario._base`: the base model `_Model` and its rules, the shared field types
  (`Fraction`, `Money`, `PeriodDays`, ...), the bounds (`MAX_MONEY`, ...) and `Loc`;
* `omnisim.scenario.market`: market and segments (geography, segments and their needs,
  seasonality, journey behaviour, customer lifecycle);
* `omnisim.scenario.channels`: the product, channels and stock nodes;
* `omnisim.scenario.supply`: the supply network of dealer levels and dealers;
* `omnisim.scenario.marketing`: promotions, media, word of mouth, membership;
* `omnisim.scenario.omnichannel`: omnichannel operations and shocks;
* `omnisim.scenario.engine`: engine settings.

Imports run one way: `_base` <- `supply` <- `channels` <- `marketing`, `omnichannel`;
`_base` <- `market`, `engine`; and this module imports them all. No section imports this
module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from omnisim.scenario import channels as _channels
from omnisim.scenario import market as _market
from omnisim.scenario import marketing as _marketing
from omnisim.scenario import omnichannel as _omnichannel
from omnisim.scenario import supply as _supply
from omnisim.scenario._base import (
    _SCHEMA_DATA_KEYS as _SCHEMA_DATA_KEYS,
)
from omnisim.scenario._base import (
    MAX_CONSUMERS,
    MAX_CV,
    MAX_DESCRIPTION,
    MAX_HOLDING_RATE,
    MAX_HORIZON_DAYS,
    MAX_LEAD_DAYS,
    MAX_MARKUP,
    MAX_MONEY,
    MAX_MULTIPLIER,
    MAX_NAME,
    MAX_PRICE_INDEX,
    MAX_RATE_PER_DAY,
    MAX_UNITS,
    MIN_BUCKET_HOURS,
    MIN_PERIOD_DAYS,
    Fraction,
    Loc,
    Markup,
    Money,
    Multiplier,
    NonNegFloat,
    PeriodDays,
    PositiveFloat,
    PositiveMoney,
    RatePerDay,
    Units,
    Variation,
)
from omnisim.scenario._base import _at_least as _at_least
from omnisim.scenario._base import _Model as _Model
from omnisim.scenario._base import _not_a_boolean as _not_a_boolean
from omnisim.scenario._base import _refuse_booleans as _refuse_booleans
from omnisim.scenario.channels import (
    MAX_CHANNELS,
    OFFLINE_TYPES,
    Channel,
    ChannelType,
    LivestreamSessions,
    Product,
    Replenishment,
    ServiceDistribution,
    StockNode,
    StoreService,
)
from omnisim.scenario.engine import Engine
from omnisim.scenario.market import (
    ChoiceWeights,
    Churn,
    Competition,
    ConsiderationWeights,
    Dropout,
    HabitDynamics,
    Heterogeneity,
    Journey,
    Lifecycle,
    Market,
    NeedDistribution,
    NeedProcess,
    Nests,
    Region,
    Reviews,
    Satisfaction,
    Seasonality,
    Segment,
    StockoutBehaviour,
)
from omnisim.scenario.marketing import _GRAPH_PARAMS as _GRAPH_PARAMS
from omnisim.scenario.marketing import (
    GRAPH_DEFAULTS,
    MAX_IMPRESSIONS_PER_CONSUMER_DAY,
    MAX_MEDIA,
    MAX_TIERS,
    NX_MAX_CONSUMERS,
    SOCIAL_BYTES_GOAL,
    SOCIAL_STATE_BYTES,
    Adopters,
    FlightWindow,
    FrequencyCap,
    KOLs,
    MediaKind,
    MediaPlan,
    Medium,
    Membership,
    MembershipTier,
    Promotion,
    Qualifying,
    Recognition,
    Social,
    SocialGraph,
    graph_params,
    mean_degree_estimate,
)
from omnisim.scenario.omnichannel import Allocation, Bopis, Omnichannel, Shock, UnifiedPrice
from omnisim.scenario.supply import (
    Dealer,
    DealerExit,
    Flatten,
    FlattenPrice,
    InventoryPolicy,
    LeadTime,
    LeadTimeDistribution,
    Network,
    NetworkLevel,
    PolicyKind,
    Pricing,
    Reattach,
    Shortage,
)

__all__ = [
    "CHECKS",
    "GRAPH_DEFAULTS",
    "MAX_CHANNELS",
    "MAX_CONSUMERS",
    "MAX_CV",
    "MAX_DESCRIPTION",
    "MAX_HOLDING_RATE",
    "MAX_HORIZON_DAYS",
    "MAX_IMPRESSIONS_PER_CONSUMER_DAY",
    "MAX_LEAD_DAYS",
    "MAX_MARKUP",
    "MAX_MEDIA",
    "MAX_MONEY",
    "MAX_MULTIPLIER",
    "MAX_NAME",
    "MAX_PRICE_INDEX",
    "MAX_RATE_PER_DAY",
    "MAX_TIERS",
    "MAX_UNITS",
    "MIN_BUCKET_HOURS",
    "MIN_PERIOD_DAYS",
    "NX_MAX_CONSUMERS",
    "OFFLINE_TYPES",
    "SOCIAL_BYTES_GOAL",
    "SOCIAL_STATE_BYTES",
    "Adopters",
    "Allocation",
    "Bopis",
    "Channel",
    "ChannelType",
    "ChoiceWeights",
    "Churn",
    "Competition",
    "ConsiderationWeights",
    "Dealer",
    "DealerExit",
    "Dropout",
    "Engine",
    "Flatten",
    "FlattenPrice",
    "FlightWindow",
    "Fraction",
    "FrequencyCap",
    "HabitDynamics",
    "Heterogeneity",
    "InventoryPolicy",
    "Journey",
    "KOLs",
    "LeadTime",
    "LeadTimeDistribution",
    "Lifecycle",
    "LivestreamSessions",
    "Loc",
    "Market",
    "Markup",
    "MediaKind",
    "MediaPlan",
    "Medium",
    "Membership",
    "MembershipTier",
    "Money",
    "Multiplier",
    "NeedDistribution",
    "NeedProcess",
    "Nests",
    "Network",
    "NetworkLevel",
    "NonNegFloat",
    "Omnichannel",
    "PeriodDays",
    "PolicyKind",
    "PositiveFloat",
    "PositiveMoney",
    "Pricing",
    "Product",
    "Promotion",
    "Qualifying",
    "RatePerDay",
    "Reattach",
    "Recognition",
    "Region",
    "Replenishment",
    "Reviews",
    "Satisfaction",
    "Scenario",
    "Seasonality",
    "Segment",
    "ServiceDistribution",
    "Shock",
    "Shortage",
    "Social",
    "SocialGraph",
    "StockNode",
    "StockoutBehaviour",
    "StoreService",
    "UnifiedPrice",
    "Units",
    "Variation",
    "cross_reference_problems",
    "graph_params",
    "mean_degree_estimate",
]


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
    competition: Competition = Field(
        default_factory=Competition,
        description="Competitors' prices in the outside option; by default at the reference.",
    )
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


# --------------------------------------------------------------------------------------------
# Cross-reference checks: the scenario's own, then every section's


def _scenario_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems of the scenario's own fields (the warm-up within the horizon) and duplicate
    names in the lists other sections refer to by name: regions, channels, nodes, segments,
    promotions (in that order)."""
    out: list[tuple[Loc, str]] = []
    if sc.warmup_days >= sc.horizon_days:
        out.append((("warmup_days",), "must be shorter than horizon_days"))
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
    return out


CHECKS: tuple[Callable[[Scenario], list[tuple[Loc, str]]], ...] = (
    _scenario_problems,
    _market.problems,
    _channels.problems,
    _marketing.promotion_problems,
    _market.lifecycle_problems,
    _supply.problems,
    _marketing.media_problems,
    _marketing.social_problems,
    _marketing.membership_problems,
    _omnichannel.problems,
    _omnichannel.shock_problems,
)
"""The cross-reference checks in the order `cross_reference_problems` runs them, which is the
order its problems come in: the scenario's own fields and duplicate names; the market and
segments; the stock nodes and channels; the promotions; the customer lifecycle; the supply
network; media; word of mouth; membership (and delivery fees); omnichannel operations; shocks.
A section may have several checks, placed apart, so that the order stays the one of the
single function these checks were split from."""


def cross_reference_problems(sc: Scenario) -> list[tuple[Loc, str]]:
    """Problems a field-by-field validation cannot see: unknown or duplicate names, and
    settings that contradict each other. Each problem carries the location of the field, in
    pydantic's `loc` form (list items by index), so that the loader can name its line. The
    checks run in the order of `CHECKS`."""
    out: list[tuple[Loc, str]] = []
    for check in CHECKS:
        out.extend(check(sc))
    return out
