"""The price a consumer sees (omnisim/consumers/stages/common.py, `quote`; docs/model.md,
section 7): list price x price index x the promotions running (compounding) x the livestream
session's cut x the member discount in a recognising channel; a dealer-priced store's price in
place of the channel's; a livestream open only in its sessions."""

from __future__ import annotations

import pytest
from stage_kit import (
    LIST_PRICE,
    LIVE,
    NORTH,
    PLATFORM,
    S_NORTH,
    SESSION_DISCOUNT,
    SESSION_START,
    SOUTH,
    STORE,
)

from omnisim.consumers.kernel import Kernel
from omnisim.consumers.stages.common import quote

CID = 1
HOUR = 1.0 / 24.0
IN_SESSION = SESSION_START + HOUR  # 21:00 on day 0, an hour into the first session
# The market's channel prices: store 1.0, platform 0.9, livestream 0.95 of the list price; the
# promotions "big" (20 %, platform, days [40, 50)) and "small" (10 %, platform and livestream,
# days [45, 60)); the store's member discount 12 %; the session's cut 15 %.
BIG, SMALL, MEMBER = 0.2, 0.1, 0.12


def q(k: Kernel, c: int, t: float, i: int = CID) -> tuple[float, bool, bool]:
    price, promo, live = quote(i, c, t, k)
    return float(price), bool(promo), bool(live)


@pytest.fixture(autouse=True)
def member_discount(k: Kernel) -> None:
    k.chan.member_discount[STORE] = MEMBER
    k.pop.region[CID] = NORTH


@pytest.mark.parametrize(("c", "index"), [(STORE, 1.0), (PLATFORM, 0.9)], ids=["store", "platform"])
def test_the_price_is_the_list_price_times_the_price_index(k: Kernel, c: int, index: float) -> None:
    price, promo, live = q(k, c, 20.0)
    assert price == pytest.approx(LIST_PRICE * index, rel=1e-12)
    assert not promo and live


def test_the_livestream_in_a_session_cuts_its_price(k: Kernel) -> None:
    price, promo, live = q(k, LIVE, IN_SESSION)
    assert live
    assert price == pytest.approx(LIST_PRICE * 0.95 * (1.0 - SESSION_DISCOUNT), rel=1e-12)
    assert not promo  # a session's cut is not a promotion (no promotion bonus)


@pytest.mark.parametrize(
    ("t", "factor"),
    [
        (39.99, 1.0),
        (40.0, 1.0 - BIG),  # a promotion starts at start_day, inclusive
        (44.0, 1.0 - BIG),
        (47.0, (1.0 - BIG) * (1.0 - SMALL)),  # both run: the cuts compound, not add
        (50.0, 1.0 - SMALL),  # and ends at end_day, exclusive
        (59.0, 1.0 - SMALL),
        (60.0, 1.0),
    ],
)
def test_promotion_windows_cut_the_price_and_compound(k: Kernel, t: float, factor: float) -> None:
    price, promo, _ = q(k, PLATFORM, t)
    assert price == pytest.approx(LIST_PRICE * 0.9 * factor, rel=1e-12)
    assert promo == (factor != 1.0)


def test_a_promotion_cuts_only_its_own_channels(k: Kernel) -> None:
    # "big" is not on the store (nor the livestream): day 42 the store sells at its price.
    price, promo, _ = q(k, STORE, 42.0)
    assert price == pytest.approx(LIST_PRICE, rel=1e-12) and not promo


def test_a_promotion_and_a_session_compound(k: Kernel) -> None:
    # Day 49 is the eighth session's day (every 7 days from day 0), inside "small" only.
    price, promo, live = q(k, LIVE, 49.0 + IN_SESSION)
    assert live and promo
    expected = LIST_PRICE * 0.95 * (1.0 - SMALL) * (1.0 - SESSION_DISCOUNT)
    assert price == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("t", "open_"),
    [
        (0.5, False),  # before the first session (day 0, 20:00)
        (SESSION_START - 1e-9, False),
        (SESSION_START, True),  # a session starts open
        (SESSION_START + 3.0 * HOUR - 1e-9, True),
        (SESSION_START + 3.0 * HOUR + 1e-9, False),  # 3 hours later it is closed
        (3.0 + IN_SESSION, False),  # day 3: no session (every 7 days)
        (7.0 + IN_SESSION, True),  # the next one
    ],
)
def test_the_livestream_is_closed_outside_its_sessions(k: Kernel, t: float, open_: bool) -> None:
    price, _, live = q(k, LIVE, t)
    assert live == open_
    # Closed, no session cut applies to the price quoted.
    factor = 1.0 - SESSION_DISCOUNT if open_ else 1.0
    assert price == pytest.approx(LIST_PRICE * 0.95 * factor, rel=1e-12)


def test_the_other_channels_are_always_open(k: Kernel) -> None:
    for t in (0.5, SESSION_START + 5.0 * HOUR, 3.0):
        assert q(k, STORE, t)[2] and q(k, PLATFORM, t)[2]


def test_a_member_pays_the_member_discount_in_a_recognising_channel(k: Kernel) -> None:
    k.pop.member[CID] = True
    price, _, _ = q(k, STORE, 20.0)
    assert price == pytest.approx(LIST_PRICE * (1.0 - MEMBER), rel=1e-12)
    # The platform does not recognise membership: no discount, whatever its own setting.
    k.chan.member_discount[PLATFORM] = 0.3
    assert q(k, PLATFORM, 20.0)[0] == pytest.approx(LIST_PRICE * 0.9, rel=1e-12)
    # A non-member pays the store's price.
    assert q(k, STORE, 20.0, i=CID + 1)[0] == pytest.approx(LIST_PRICE, rel=1e-12)


def test_a_member_discount_compounds_with_promotions(k: Kernel) -> None:
    # A recognising platform (set by hand) during both promotions.
    k.pop.member[CID] = True
    k.chan.recognises[PLATFORM] = True
    k.chan.member_discount[PLATFORM] = 0.05
    expected = LIST_PRICE * 0.9 * (1.0 - BIG) * (1.0 - SMALL) * (1.0 - 0.05)
    assert q(k, PLATFORM, 47.0)[0] == pytest.approx(expected, rel=1e-12)


def test_a_dealer_priced_store_sells_at_its_own_price(k: Kernel) -> None:
    k.chan.node_priced[STORE] = True
    k.chan.node_price[S_NORTH] = 150.0
    assert q(k, STORE, 20.0)[0] == pytest.approx(150.0, rel=1e-12)
    # The member discount applies to the store's price.
    k.pop.member[CID] = True
    assert q(k, STORE, 20.0)[0] == pytest.approx(150.0 * (1.0 - MEMBER), rel=1e-12)


def test_a_dealer_priced_channel_without_a_store_price_keeps_its_own(k: Kernel) -> None:
    k.chan.node_priced[STORE] = True
    k.chan.node_price[S_NORTH] = 0.0  # 0: this store takes the channel's price
    assert q(k, STORE, 20.0)[0] == pytest.approx(LIST_PRICE, rel=1e-12)
    # A consumer in a region where the channel has no store sees the channel's price too.
    k.chan.node_price[S_NORTH] = 150.0
    k.pop.region[CID] = SOUTH
    assert q(k, STORE, 20.0)[0] == pytest.approx(LIST_PRICE, rel=1e-12)


def test_online_channels_ignore_store_prices(k: Kernel) -> None:
    # Only the store channel is flagged: the platform ships from the warehouse at its price.
    k.chan.node_priced[STORE] = True
    k.chan.node_price[:] = 150.0
    assert q(k, PLATFORM, 20.0)[0] == pytest.approx(LIST_PRICE * 0.9, rel=1e-12)
