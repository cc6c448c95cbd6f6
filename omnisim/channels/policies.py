"""Omnichannel policies that are rewrites of the scenario: one price, one membership.

`unified_price` and `unified_membership` (``omnichannel`` section) change no mechanism; they set
the channels' own fields the way an integrated brand would, so that every part of the engine
reads one consistent scenario (docs/model.md, "Omnichannel operations"):

* **unified price**: every channel's ``price_index`` becomes the policy's index; promotions run
  in every channel at once (``promotions_everywhere``); livestream sessions give no time-limited
  discount unless ``keep_session_discounts``. Stores supplied by a dealer network sell at the
  unified price too instead of the chain's cost-plus shelf price (`Simulation` skips the
  network's consumer prices, see `sells_at_chain_prices`).
* **unified membership**: every channel recognises members, the programme recognises them
  everywhere (``membership.recognition: everywhere``), and the member discount is the same in
  every channel: the largest any channel gave.

The fulfilment policies (shared inventory, dispatch, pick-up, allocation) are mechanisms of the
kernel (`omnisim.channels.fulfilment`).
"""

from __future__ import annotations

from omnisim.scenario.schema import Recognition, Scenario


def apply_policies(sc: Scenario) -> Scenario:
    """The scenario with its price and membership policies written into the channels (the
    same object when neither is on)."""
    om = sc.omnichannel
    up = om.unified_price
    if up is None and not om.unified_membership:
        return sc
    channels = list(sc.channels)
    promotions = list(sc.promotions)
    membership = sc.membership
    if up is not None:
        channels = [
            c.model_copy(
                update={
                    "price_index": up.price_index,
                    "sessions": (
                        c.sessions
                        if c.sessions is None or up.keep_session_discounts
                        else c.sessions.model_copy(update={"discount": 0.0})
                    ),
                }
            )
            for c in channels
        ]
        if up.promotions_everywhere:
            promotions = [p.model_copy(update={"channels": None}) for p in promotions]
    if om.unified_membership:
        discount = max(c.member_discount for c in channels)
        channels = [
            c.model_copy(update={"recognises_membership": True, "member_discount": discount})
            for c in channels
        ]
        if membership is not None:
            membership = membership.model_copy(update={"recognition": Recognition.everywhere})
    return sc.model_copy(
        update={"channels": channels, "promotions": promotions, "membership": membership}
    )


def sells_at_chain_prices(sc: Scenario) -> bool:
    """Whether stores supplied by a dealer network sell at the chain's consumer prices (no
    unified price overrides them)."""
    return sc.network is not None and sc.omnichannel.unified_price is None
