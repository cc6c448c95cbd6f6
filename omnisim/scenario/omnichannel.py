"""Scenario section "omnichannel and shocks": operations across channels, and shocks.

The omnichannel operations (`Omnichannel`: one price `UnifiedPrice`, shared inventory, ship
from store, nearest dispatch, online orders fulfilled offline, pick-up in store `Bopis`,
profit `Allocation`, unified membership) and the time-bounded shocks to traffic, need and
lead times (`Shock`). Its cross-reference checks: `problems` (the channels the omnichannel
section names and what they must be) and `shock_problems` (names, traffic keys, overlaps, the
horizon).
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from pydantic import Field, model_validator

from omnisim.scenario._base import (
    MAX_PRICE_INDEX,
    Fraction,
    Loc,
    Multiplier,
    NonNegFloat,
    _Model,
)
from omnisim.scenario.channels import OFFLINE_TYPES, ChannelType

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
    competitor_price_multiplier: Multiplier = Field(
        1.0,
        description=(
            "Multiplier on competitors' prices (`competition.price_index`) while the shock "
            "lasts: a price war, < 1; a competitor's supply failure, > 1."
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
    habit_norm_shift: Fraction = Field(
        0.0,
        description=(
            "Share of each segment's mean habit change during the shock that becomes the "
            "segment's new habit level, the level habits fade back to afterwards (the new "
            "normal; acts only with a finite `habit_half_life_days`)."
        ),
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> Shock:
        if self.end_day <= self.start_day:
            raise ValueError("end_day must be after start_day")
        return self


# --------------------------------------------------------------------------------------------
# Cross-reference checks of the section


def problems(sc: Any) -> list[tuple[Loc, str]]:
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


def shock_problems(sc: Any) -> list[tuple[Loc, str]]:
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
