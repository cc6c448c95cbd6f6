"""Scenario section "marketing": promotions, paid media, word of mouth and membership.

Promotions (`Promotion`), the media plan (`MediaPlan` of `Medium` vehicles with flighting and
frequency caps), word of mouth over a social graph (`Social`, `SocialGraph`, `KOLs`, with the
native graph families `GRAPH_DEFAULTS` and the memory planning `graph_params`,
`mean_degree_estimate`) and the membership programme (`Membership`, `MembershipTier`). Its
cross-reference checks: `promotion_problems`, `media_problems`, `social_problems` and
`membership_problems` (which also checks the channels' delivery fees).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, model_validator

from omnisim.scenario._base import (
    MAX_MONEY,
    Fraction,
    Loc,
    Money,
    Multiplier,
    NonNegFloat,
    PeriodDays,
    PositiveFloat,
    RatePerDay,
    _at_least,
    _Model,
)
from omnisim.scenario.channels import OFFLINE_TYPES

# --------------------------------------------------------------------------------------------
# Promotions


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
    incrementality: Fraction = Field(
        0.0,
        description=(
            "Probability that a click on a waiting consumer makes an extra purchase occasion "
            "(fraction). Otherwise (the default) the click only brings the consumer's next "
            "need forward: the need is spent now and the renewal clock keeps its epochs, so "
            'clicks add no need over the long run (docs/model.md, "Media").'
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
SOCIAL_STATE_BYTES = 53
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
# Cross-reference checks of the section


def promotion_problems(sc: Any) -> list[tuple[Loc, str]]:
    """Problems of the promotions: the channels they name. ``sc`` is the validated
    `omnisim.scenario.schema.Scenario`."""
    out: list[tuple[Loc, str]] = []
    channels = {c.name for c in sc.channels}
    for i, p in enumerate(sc.promotions):
        for j, c in enumerate(p.channels or []):
            if c not in channels:
                out.append((("promotions", i, "channels", j), f"unknown channel {c!r}"))
    return out


def media_problems(sc: Any) -> list[tuple[Loc, str]]:
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


def social_problems(sc: Any) -> list[tuple[Loc, str]]:
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


def membership_problems(sc: Any) -> list[tuple[Loc, str]]:
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
