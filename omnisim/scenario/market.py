"""Scenario section "market and segments": the demand side of a scenario.

Geography and population (`Region`, `Market`), consumer segments and their need process
(`Segment`, `NeedProcess`), the yearly need cycle (`Seasonality`), the journey behaviour all
segments share (`Journey` and its parts: choice and consideration weights, reaction to
stock-outs, satisfaction, reviews, habit learning, churn) and the customer lifecycle
(`Lifecycle`), and the competitors' prices the outside option carries (`Competition`). Its
cross-reference checks: `problems` (shares, distances, the channels and regions a segment
names, the names the competition uses) and `lifecycle_problems` (the lifetime-value window).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from omnisim.scenario._base import (
    MAX_CV,
    Fraction,
    Loc,
    Multiplier,
    NonNegFloat,
    PeriodDays,
    PositiveFloat,
    Variation,
    _at_least,
    _Model,
)

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


# Shapes of the gamma and beta laws of heterogeneity: below 0.05 a gamma of that shape puts
# most consumers' rate within float precision of 0 (mean kept only by a few huge draws).
Shape = Annotated[float, Field(ge=0.05, le=1e6)]


class Dropout(_Model):
    """Beta(a, b) law of the per-consumer drop-out probability (BG/NBD's p)."""

    a: Shape = Field(description="Beta shape a (mean drop-out probability a / (a + b)).")
    b: Shape = Field(description="Beta shape b.")


class Heterogeneity(_Model):
    """How consumers of one segment differ from one another: each consumer's own price and
    time sensitivity (a mixed logit), need rate and drop-out probability, drawn once."""

    price_sensitivity_cv: Variation = Field(
        0.0,
        description=(
            "Coefficient of variation of a consumer's price sensitivity around the segment's "
            "`price_sensitivity` (lognormal, mean kept; 0 = every consumer has the segment's)."
        ),
    )
    time_sensitivity_cv: Variation = Field(
        0.0,
        description=(
            "Coefficient of variation of a consumer's time sensitivity around the segment's "
            "`time_sensitivity` (lognormal, mean kept; 0 = every consumer has the segment's)."
        ),
    )
    need_rate_shape: Shape | None = Field(
        None,
        description=(
            "Shape r of the gamma law of a consumer's need-rate multiplier (mean 1, coefficient "
            "of variation 1 / sqrt(r); BG/NBD's r); null = every consumer needs at the "
            "segment's rate."
        ),
    )
    dropout: Dropout | None = Field(
        None,
        description=(
            "Beta law of a consumer's probability of leaving the brand after each repeat "
            "purchase (BG/NBD); the consumer churns, and `lifecycle.winback_days` may bring "
            "them back. Null = no drop-out."
        ),
    )

    @property
    def on(self) -> bool:
        """Whether consumers of the segment differ in anything."""
        return (
            self.price_sensitivity_cv > 0
            or self.time_sensitivity_cv > 0
            or self.need_rate_shape is not None
            or self.dropout is not None
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
    awareness_half_life_days: PositiveFloat | None = Field(
        60.0,
        description=(
            "Half-life (days) in which a consumer's awareness, once raised above the segment's "
            "`awareness` (by a purchase or word of mouth), returns halfway to it; null = never "
            "forgets."
        ),
    )
    habit_half_life_days: PositiveFloat | None = Field(
        90.0,
        description=(
            "Half-life (days) in which a consumer's channel habits return halfway to the "
            "segment's `habits` levels between purchases; null = habits never fade."
        ),
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
    heterogeneity: Heterogeneity = Field(
        default_factory=Heterogeneity,
        description="How the segment's consumers differ from one another (default: not at all).",
    )


# --------------------------------------------------------------------------------------------
# Competition: the competitors' price in the outside option


class Competition(_Model):
    """Competitors' prices, which the outside option carries (docs/model.md, "Decision:
    competition")."""

    price_index: Multiplier = Field(
        1.0,
        description=(
            "Competitors' price as a multiple of the brand's reference price "
            "(`product.reference_price`; dimensionless): 1 = competitors price like the "
            "reference, 0.9 = 10% below it. Each segment's `outside_utility` is the outside "
            "option's utility at index 1."
        ),
    )
    regions: dict[str, Multiplier] = Field(
        default_factory=dict,
        description=(
            "Multiplier on the price index per region name (a market where competitors are "
            "cheaper: < 1); missing = 1."
        ),
    )
    segments: dict[str, Multiplier] = Field(
        default_factory=dict,
        description=(
            "Multiplier on the price index per segment name (the competitors a segment buys "
            "from instead); missing = 1."
        ),
    )
    share: Fraction = Field(
        1.0,
        description=(
            "Share of the outside option's choice weight, at index 1, that is buying from "
            "competitors; the rest is not buying, which competitors' prices do not move "
            "(fraction; 0 = competitors' prices have no effect)."
        ),
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


class Nests(_Model):
    """Nested logit of the decision (docs/model.md, "Decision: nests"; Train 2009, ch. 4)."""

    online: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0,
        description=(
            "Dissimilarity (log-sum coefficient) of the online nest: how independent the "
            "online channels' unobserved utilities are (1 = a plain logit among them; toward 0 "
            "= near-perfect substitutes, an extra online channel takes share from the others "
            "instead of adding demand)."
        ),
    )
    offline: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        1.0,
        description=("Dissimilarity of the offline nest (the store channels), as `online`."),
    )
    fulfilment: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        0.5,
        description=(
            "Dissimilarity of the fulfilment nest of an online channel that offers pick-up "
            "(delivery vs pick-up in store): 1 = the two modes are as distinct as two channels, "
            "toward 0 = the same purchase, so offering pick-up adds only what the better mode "
            "is worth. May not exceed `online` (the nest sits inside the online nest)."
        ),
    )

    @model_validator(mode="after")
    def _inside(self) -> Nests:
        if self.fulfilment > self.online:
            raise ValueError(
                f"fulfilment ({self.fulfilment:g}) must not exceed online ({self.online:g}): "
                "the fulfilment nest sits inside the online nest"
            )
        return self


class Journey(_Model):
    choice: ChoiceWeights = Field(default_factory=ChoiceWeights, description="Logit weights.")
    nests: Nests = Field(
        default_factory=Nests, description="Nested-logit dissimilarities of the decision."
    )
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
        True,
        description=(
            "A purchase raises the buyer's awareness by `purchase_awareness_lift` (then it "
            "fades with the segment's awareness half-life)."
        ),
    )
    purchase_awareness_lift: Fraction = Field(
        1.0,
        description=(
            "Share of the gap to full awareness a purchase closes: a <- a + lift (1 - a) "
            "(fraction; 1 = the buyer is fully aware at the purchase)."
        ),
    )


# --------------------------------------------------------------------------------------------
# Seasonality: the yearly need cycle


class Seasonality(_Model):
    amplitude: Annotated[float, Field(ge=0.0, lt=1.0)] = Field(
        0.0, description="Relative amplitude of the yearly need-rate cycle (fraction)."
    )
    peak_day: NonNegFloat = Field(0.0, description="Day of the year with the highest need rate.")


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
# Cross-reference checks of the section


def problems(sc: Any) -> list[tuple[Loc, str]]:
    """Problems of the market and the segments: population and segment shares, the distance
    matrix (regions it names, symmetry), the channels and regions a segment names, and the
    regions and segments the competition names.
    ``sc`` is the validated `omnisim.scenario.schema.Scenario`."""
    out: list[tuple[Loc, str]] = []
    regions = {r.name for r in sc.market.regions}
    channels = {c.name for c in sc.channels}
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
    comp = sc.competition
    segment_names = {s.name for s in sc.segments}
    for field, names, kind in (
        ("regions", regions, "region"),
        ("segments", segment_names, "segment"),
    ):
        for name in getattr(comp, field):
            if name not in names:
                out.append((("competition", field, name), f"unknown {kind} {name!r}"))
    return out


def lifecycle_problems(sc: Any) -> list[tuple[Loc, str]]:
    """Problems of the customer lifecycle: a lifetime-value window longer than the
    measurement window."""
    out: list[tuple[Loc, str]] = []
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
    return out
