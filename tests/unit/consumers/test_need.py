"""The need stage (omnisim/consumers/stages/need.py; docs/model.md, section 5, "Needs"): needs
are exogenous, a renewal process of epochs that journeys never move. A need counts at its
epoch and the next epoch is drawn from it, whether the need event came at the epoch or waited
for the last journey to end; epochs that no need event spent (a churned consumer, a journey
still running at the horizon) are counted all the same."""

from __future__ import annotations

import pytest
from stage_kit import HORIZON, WARMUP, Bench

from omnisim.consumers.kernel import Kernel
from omnisim.consumers.needs import draw_interval
from omnisim.consumers.population import CHURNED, FULFILMENT, SEARCHING, WAIT_NEED
from omnisim.consumers.stages.need import need, pending_needs, win_back
from omnisim.engine import ledger as lg
from omnisim.engine import streams as rs

CID = 1


def interval(k: Kernel, journey: int) -> float:
    """The inter-need time consumer CID draws at their ``journey``-th need (operational days,
    which are days here: the tiny market has no need-rate multiplier)."""
    s = int(k.pop.segment[CID])
    return draw_interval(s, k.seg.need, k.keys[rs.NEED], CID, journey, False)


def epochs(k: Kernel, tau: float, journey: int, until: float) -> list[float]:
    """Consumer CID's epochs from ``tau`` on (their journey counter at ``journey``) before
    ``until``, drawn as the need stage draws them."""
    out = []
    while tau < until:
        out.append(tau)
        journey += 1
        tau += interval(k, journey)
    return out


def waiting(k: Kernel, tau: float, journey: int = 3) -> None:
    pop = k.pop
    pop.stage[CID] = WAIT_NEED
    pop.tau_next[CID] = tau
    pop.journey[CID] = journey


def test_the_tiny_market_runs_on_real_time(k: Kernel) -> None:
    # The tests below read epochs in days: the clock must be the identity here.
    from omnisim.consumers.needs import to_real

    for tau in (0.0, 12.5, 40.0, 99.0):
        assert to_real(k.clock, tau) == pytest.approx(tau, abs=1e-9)


def test_a_need_at_its_epoch_counts_and_the_next_epoch_follows_it(k: Kernel, b: Bench) -> None:
    waiting(k, 40.0)
    need(CID, 40.0, k, b.sched, b.trail, b.counts, True)
    assert k.pop.journey[CID] == 4
    assert k.pop.tau_next[CID] == pytest.approx(40.0 + interval(k, 4), abs=1e-9)
    assert k.ledger.acc[lg.NEEDS] == 1.0
    assert b.events()[0] == "need"


def test_a_need_that_waited_keeps_the_renewal_clock(k: Kernel, b: Bench) -> None:
    # The epoch came at day 40 while the consumer was busy; the need event is at day 47. The
    # next epoch is drawn from 40, not from 47, so the count of needs does not depend on how
    # long journeys last.
    waiting(k, 40.0)
    need(CID, 47.0, k, b.sched, b.trail, b.counts, False)
    assert k.pop.tau_next[CID] == pytest.approx(40.0 + interval(k, 4), abs=1e-9)
    assert k.ledger.acc[lg.NEEDS] == 1.0


def test_a_need_counts_in_the_period_of_its_epoch(k: Kernel, b: Bench) -> None:
    led = k.ledger
    week = led.window.period
    epoch = WARMUP + 1.5 * week  # in period 1
    waiting(k, epoch)
    need(CID, WARMUP + 2.5 * week, k, b.sched, b.trail, b.counts, False)  # served in period 2
    assert led.series[1, lg.TS_NEEDS] == 1.0
    assert led.series[2, lg.TS_NEEDS] == 0.0


def test_an_epoch_in_the_warm_up_is_not_counted_even_if_served_in_the_window(
    k: Kernel, b: Bench
) -> None:
    waiting(k, WARMUP - 1.0)
    need(CID, WARMUP + 2.0, k, b.sched, b.trail, b.counts, False)
    assert k.ledger.acc[lg.NEEDS] == 0.0
    assert k.pop.tau_next[CID] == pytest.approx(WARMUP - 1.0 + interval(k, 4), abs=1e-9)


def test_without_media_a_need_before_its_epoch_still_spends_it(k: Kernel, b: Bench) -> None:
    # Only a media click can bring a need before its epoch; with media off there is no extra
    # occasion, so an early need spends the pending epoch (and counts at it) like any other.
    waiting(k, 60.0)
    need(CID, 50.0, k, b.sched, b.trail, b.counts, False)
    assert k.pop.tau_next[CID] == pytest.approx(60.0 + interval(k, 4), abs=1e-9)
    assert k.ledger.acc[lg.NEEDS] == 1.0


@pytest.mark.parametrize("stage", [SEARCHING, FULFILMENT, CHURNED])
def test_epochs_no_event_spent_are_counted_at_the_horizon(k: Kernel, stage: int) -> None:
    pop = k.pop
    pop.stage[:] = WAIT_NEED
    pop.tau_next[:] = HORIZON + 1.0
    pop.stage[CID] = stage
    pop.tau_next[CID] = WARMUP + 5.0
    pop.journey[CID] = 2
    expected = epochs(k, WARMUP + 5.0, 2, HORIZON)
    assert len(expected) >= 2  # the check needs a chain, not one epoch
    pending_needs(k)
    assert k.ledger.acc[lg.NEEDS] == float(len(expected))
    assert k.ledger.series[:, lg.TS_NEEDS].sum() == float(len(expected))


def test_a_waiting_consumer_has_no_pending_need_at_the_horizon(k: Kernel) -> None:
    k.pop.stage[:] = WAIT_NEED
    k.pop.tau_next[:] = WARMUP + 5.0  # their need events ran before the horizon
    pending_needs(k)
    assert k.ledger.acc[lg.NEEDS] == 0.0


def test_a_returning_consumer_counts_the_needs_spent_away_and_keeps_the_clock(
    k: Kernel, b: Bench
) -> None:
    pop = k.pop
    pop.stage[CID] = CHURNED
    pop.tau_next[CID] = WARMUP - 3.0  # the first epoch away is in the warm-up
    pop.journey[CID] = 5
    back = 60.0
    chain = epochs(k, WARMUP - 3.0, 5, back + 200.0)
    away = [e for e in chain if e < back]
    win_back(CID, back, k, b.sched, b.trail, b.counts, True)
    assert k.ledger.acc[lg.NEEDS] == float(sum(e >= WARMUP for e in away))
    assert k.pop.journey[CID] == 5 + len(away)
    assert k.pop.tau_next[CID] == pytest.approx(chain[len(away)], abs=1e-9)
    assert k.pop.stage[CID] == WAIT_NEED
    nxt = chain[len(away)]
    assert b.scheduled() == ([(CID, pytest.approx(nxt, abs=1e-9))] if nxt < HORIZON else [])
