"""The media plan: delivery, caps, spend, flighting, targeting, awareness, clicks, validation."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from omnisim.engine.buckets import EventCalendar
from omnisim.marketing import media as md
from omnisim.scenario.loading import ScenarioError, scenario_from_dict
from omnisim.simulation import Simulation
from tests.builders import small_market

DT = 2.0 / 24.0  # small_market's bucket width (days)


def with_media(plan: dict, **changes) -> dict:
    d = small_market(**changes)
    d["media"] = plan
    return d


def runtime(plan: dict, consumers: int = 600, shares=(0.5, 0.5)):
    """A media plan's runtime on a bare population (no journeys), with its calendar and
    stages, to drive the delivery kernel bucket by bucket (window from day 0 to 100)."""
    d = with_media(plan, horizon_days=100.0, warmup_days=0.0)
    d["market"]["consumers"] = consumers
    for s, share in zip(d["segments"], shares, strict=True):
        s["share"] = share
    sc = scenario_from_dict(d)
    sim = Simulation(sc, 0)
    sim.next_bucket = 0
    return sim, sim.media, sim.calendar


def deliver_days(sim, media, cal, until: float, each_bucket=None) -> None:
    """Run the bucket starts up to day ``until`` (from where the last call stopped)."""
    stage = sim.population.stage
    while (sim.next_bucket + 1) * sim.dt <= until + 1e-9:
        b = sim.next_bucket
        t0, t1 = b * sim.dt, (b + 1) * sim.dt
        media.start_bucket(b, t0, t1, stage, cal)
        if each_bucket is not None:
            each_bucket(b, t0, t1)
        sim.next_bucket += 1


def counts(media) -> np.ndarray:
    """Impressions per consumer and vehicle so far, read off the adstock sums: with a very
    long half-life every impression adds exp(ln2 t / h) = 1 + O(1e-6), so the rounded sum is
    the count (independent of the cap counters the kernel checks)."""
    return np.rint(media.state().adstock.astype(np.float64)).astype(np.int64)


LONG = 1e6  # half-life (days) that makes an adstock sum an impression count


@pytest.mark.slow  # minutes with the kernels interpreted (coverage pass)
def test_caps_are_never_exceeded_per_vehicle_and_across_media():
    plan = {
        "frequency_cap": {"impressions": 4, "period_days": 2},
        "vehicles": [
            {
                "name": "tv",
                "kind": "tv",
                "cpm": 1.0,
                "daily_budget": 50.0,
                "adstock_half_life_days": LONG,
                "frequency_cap": {"impressions": 3, "period_days": 2},
            },
            {
                "name": "social",
                "kind": "social",
                "cpm": 1.0,
                "daily_budget": 50.0,
                "adstock_half_life_days": LONG,
                "frequency_cap": {"impressions": 2, "period_days": 1},
            },
            {
                "name": "portal",
                "kind": "portal",
                "cpm": 1.0,
                "daily_budget": 50.0,
                "adstock_half_life_days": LONG,
            },
        ],
    }
    sim, media, cal = runtime(plan)
    # The budgets buy 50 000 impressions a day each for 600 consumers: the caps bind hard.
    snaps = {0.0: counts(media)}

    def snap(b, t0, t1):
        if abs(t1 - round(t1)) < 1e-9:
            snaps[round(t1)] = counts(media)

    deliver_days(sim, media, cal, 6.0, snap)
    for day in range(1, 7):
        per_day = snaps[day] - snaps[day - 1]
        assert per_day[:, 1].max() <= 2  # social: 2 per 1-day period
        if day % 2 == 0:
            per_period = snaps[day] - snaps[day - 2]
            assert per_period[:, 0].max() <= 3  # tv: 3 per 2-day period
            assert per_period.sum(axis=1).max() <= 4  # all media: 4 per 2-day period
            # The caps bind: almost everyone got the cross-media maximum.
            assert np.mean(per_period.sum(axis=1) == 4) > 0.95


def test_spend_is_impressions_times_cpm_and_within_budget():
    plan = {
        "vehicles": [
            {"name": "tv", "kind": "tv", "cpm": 37.0, "daily_budget": 123.0},
            {
                "name": "search",
                "kind": "search",
                "cpm": 90.0,
                "daily_budget": 5.0,
                "channel": "mall",
                "click_through": 0.2,
            },
        ]
    }
    sc = scenario_from_dict(with_media(plan))
    r = Simulation(sc, 0).run()
    led = r.ledger["media"]
    window = sc.horizon_days - sc.warmup_days
    for m, cpm in enumerate((37.0, 90.0)):
        assert led["spend"][m] == led["impressions"][m] * cpm / 1000.0
    assert r.ledger["media_spend"] == sum(led["spend"])
    assert r.kpis["media_spend"] == sum(led["spend"])
    # tv: no cap, so the whole budget is bought (fractions carry over; the first window bucket
    # may inherit a carried fraction, hence +-1 impression).
    assert abs(led["impressions"][0] - 123.0 * window * 1000.0 / 37.0) <= 1.0
    # search: at most the day's budget each day, and searches use it up.
    assert led["spend"][1] <= 5.0 * window + 1e-9
    assert led["spend"][1] > 0.9 * 5.0 * window
    # brand profit pays for the media.
    base = Simulation(scenario_from_dict(small_market()), 0).run()
    assert r.kpis["brand_profit"] < base.kpis["brand_profit"]


def test_flighting_delivers_only_inside_the_windows():
    windows = [(1.0, 2.5, 40.0), (4.0, 4.25, 400.0)]
    plan = {
        "vehicles": [
            {
                "name": "tv",
                "kind": "tv",
                "cpm": 10.0,
                "flighting": [
                    {"start_day": a, "end_day": b, "daily_budget": r} for a, b, r in windows
                ],
            }
        ]
    }
    sim, media, cal = runtime(plan)
    per_bucket = []

    def grab(b, t0, t1):
        per_bucket.append((t0, t1, counts_total(media)))

    def counts_total(media):
        return float(media.state().tally.impressions[0])

    deliver_days(sim, media, cal, 6.0, grab)
    prev = 0.0
    for t0, t1, total in per_bucket:
        new = total - prev
        prev = total
        inside = any(a < t1 and t0 < b for a, b, _ in windows)
        if not inside:
            assert new == 0, (t0, new)
    # The budget integral: 1.5 days x 40 + 0.25 days x 400 = 160 currency = 16 000 impressions.
    assert abs(prev - 16_000) <= 1
    assert md.spendable(0, 0.0, 10.0, media.state()) == pytest.approx(160.0)


def test_sessions_of_spends_only_while_the_livestream_is_open():
    # small_market's livestream: every 3 days from 19:00, 4 hours.
    plan = {
        "vehicles": [
            {"name": "kol", "kind": "kol", "cpm": 10.0, "daily_budget": 24.0, "sessions_of": "live"}
        ]
    }
    _sim, media, _cal = runtime(plan)
    a = media.state()
    open_days = 4.0 / 24.0
    assert md.spendable(0, 0.0, 9.0, a) == pytest.approx(3 * 24.0 * open_days)
    assert md.spendable(0, 0.0, 19.0 / 24.0, a) == 0.0
    assert md.spendable(0, 20.0 / 24.0, 21.0 / 24.0, a) == pytest.approx(1.0)


def test_zero_targeting_weight_excludes_a_segment():
    plan = {
        "vehicles": [
            {
                "name": "social",
                "kind": "social",
                "cpm": 1.0,
                "daily_budget": 5.0,
                "targeting": {"a": 1.0, "b": 0.0},
            },
            {
                "name": "search",
                "kind": "search",
                "cpm": 1.0,
                "daily_budget": 100.0,
                "targeting": {"b": 2.0},
            },
        ]
    }
    sc = scenario_from_dict(with_media(plan))
    sim = Simulation(sc, 0)
    sim.run()
    reach = sim.media.reach_mask()
    seg = sim.population.segment
    social = (reach & 1) > 0
    search = (reach & 2) > 0
    assert social[seg == 0].mean() > 0.9 and not social[seg == 1].any()
    assert search[seg == 1].mean() > 0.3 and not search[seg == 0].any()


def test_targeting_weight_splits_impressions_by_weight_times_size():
    # Weights 3:1 over two equal segments: 3/4 of the impressions land on segment a. With
    # 40 000 impressions the share's standard error is sqrt(.75 * .25 / 40 000) = 0.0022;
    # the tolerance 0.01 is about 4.6 standard errors.
    plan = {
        "vehicles": [
            {
                "name": "tv",
                "kind": "tv",
                "cpm": 1.0,
                "daily_budget": 20.0,
                "adstock_half_life_days": LONG,
                "targeting": {"a": 3.0, "b": 1.0},
            }
        ]
    }
    sim, media, cal = runtime(plan, consumers=4000)
    deliver_days(sim, media, cal, 2.0)
    c = counts(media)[:, 0]
    seg = sim.population.segment
    assert c.sum() == 40_000
    assert c[seg == 0].sum() / c.sum() == pytest.approx(0.75, abs=0.01)


@pytest.mark.slow  # minutes with the kernels interpreted (coverage pass)
def test_awareness_stays_in_unit_interval_with_extreme_parameters():
    plan = {
        "vehicles": [
            {
                "name": "blast",
                "kind": "tv",
                "cpm": 1.0,
                "daily_budget": 20.0,
                "max_lift": 1.0,
                "half_saturation": 1e-6,
                "shape": 20.0,
                "adstock_half_life_days": 0.05,
            },
            {
                "name": "soft",
                "kind": "social",
                "cpm": 1.0,
                "daily_budget": 20.0,
                "max_lift": 1.0,
                "half_saturation": 1e6,
                "shape": 0.05,
                "adstock_half_life_days": 1000.0,
            },
        ]
    }
    sim, media, cal = runtime(plan, consumers=300)
    base = sim.population.awareness
    for day in (0.5, 3.0, 40.0):
        deliver_days(sim, media, cal, day)
        a = media.effective_awareness(base, day)
        assert np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0
        assert np.all(a >= base.astype(np.float64) - 1e-12)
    # Nothing delivered: the effective awareness is exactly the stored one.
    sim2, media2, _ = runtime({"vehicles": [{"name": "tv", "kind": "tv", "cpm": 1.0}]}, 300)
    a = media2.effective_awareness(sim2.population.awareness, 5.0)
    assert np.array_equal(a, sim2.population.awareness.astype(np.float64))


def test_adstock_decays_geometrically_through_rebases():
    # One impression at t = 0, half-life 0.5 days: the adstock halves every half day, also
    # across the rebases the long run forces (exponent 20 is passed after ~14 days).
    plan = {
        "vehicles": [
            {
                "name": "tv",
                "kind": "tv",
                "cpm": 1000.0,
                "daily_budget": 1.0,
                "adstock_half_life_days": 0.5,
                "max_lift": 0.5,
                "half_saturation": 1.0,
                "shape": 1.0,
            }
        ]
    }
    sim, media, cal = runtime(plan, consumers=50)
    a = media.state()
    deliver_days(sim, media, cal, DT)  # budget 1/12 currency: no impression yet
    a.adstock[7, 0] = np.float32(1.0)  # an impression at t0 = 0 (T0 = 0)
    a.vehicle.carry[0] = -1e9  # buy nothing more
    deliver_days(sim, media, cal, 30.0)
    assert a.vehicle.t0[0] > 0  # rebased
    t = 30.0
    stock = 2.0 ** (-t / 0.5)
    want = 1.0 - (1.0 - float(sim.population.awareness[7])) * (1.0 - 0.5 * stock / (stock + 1.0))
    got = media.effective_awareness(sim.population.awareness, t)[7]
    assert got == pytest.approx(want, rel=1e-6, abs=1e-12)


@pytest.mark.slow  # minutes with the kernels interpreted (coverage pass)
def test_more_budget_gives_more_awareness_and_purchases():
    def run(budget):
        plan = {
            "vehicles": [
                {
                    "name": "tv",
                    "kind": "tv",
                    "cpm": 20.0,
                    "daily_budget": budget,
                    "max_lift": 0.9,
                    "half_saturation": 1.0,
                }
            ]
        }
        d = with_media(plan)
        d["market"]["consumers"] = 4000
        for s in d["segments"]:
            s["awareness"] = 0.3
        return Simulation(scenario_from_dict(d), 0).run().kpis

    none, some, lots = run(0.0), run(20.0), run(400.0)
    assert none["awareness"] < some["awareness"] < lots["awareness"]
    # Purchases: some 1 500-3 000 in the window, so a Poisson-like standard error of at most
    # sqrt(3 000) = 55 for each run (less for the paired difference under common random
    # numbers). Lifting awareness from 0.3 towards 0.9 multiplies searches, far beyond 5
    # standard errors; a small budget must not lower purchases by more than 3.
    se = math.sqrt(none["purchases"])
    assert lots["purchases"] > none["purchases"] + 5 * se
    assert some["purchases"] > none["purchases"] - 3 * se
    assert lots["searches"] > some["searches"] > none["searches"]


def test_zero_budget_plan_changes_nothing():
    plan = {
        "vehicles": [
            {
                "name": "tv",
                "kind": "tv",
                "cpm": 20.0,
                "max_lift": 0.5,
                "frequency_cap": {"impressions": 2, "period_days": 7},
            },
            {
                "name": "search",
                "kind": "search",
                "cpm": 50.0,
                "channel": "mall",
                "click_through": 0.5,
            },
        ],
        "frequency_cap": {"impressions": 3, "period_days": 7},
    }
    base = Simulation(scenario_from_dict(small_market()), 0).run()
    r = Simulation(scenario_from_dict(with_media(plan)), 0).run()
    media_names = {k for k in r.kpis if k not in base.kpis}
    assert {k.split(".")[0] for k in media_names} == {
        "media_spend",
        "impressions",
        "reach",
        "frequency",
        "clicks",
    }
    # Awareness is averaged in float64 with a plan, in float32 (as stored) without one.
    assert r.kpis.pop("awareness") == pytest.approx(base.kpis.pop("awareness"), rel=1e-6)
    assert {k: r.kpis[k] for k in base.kpis} == base.kpis
    assert r.events == base.events


def test_clicks_bring_needs_forward_and_stale_entries_are_skipped(tmp_path):
    # Awareness 0: a natural need ends at once (unaware), so a consumer is always waiting when
    # clicked. Every impression is clicked, each consumer at most once (cap), so each reached
    # consumer has exactly one need at a bucket start: the click.
    def scenario(budget):
        d = small_market(horizon_days=12.0, warmup_days=0.0)
        for s in d["segments"]:
            s["awareness"] = 0.0
            s["need"] = {"mean_interval_days": 8.0, "cv": 0.5}
        d["media"] = {
            "vehicles": [
                {
                    "name": "tv",
                    "kind": "tv",
                    "cpm": 1000.0,
                    "daily_budget": budget,
                    "channel": "platform",
                    "click_through": 1.0,
                    "max_lift": 0.0,
                    "frequency_cap": {"impressions": 1, "period_days": 100.0},
                }
            ]
        }
        return scenario_from_dict(d)

    def trail_of(sc, name):
        sim = Simulation(sc, 0, trail_path=tmp_path / name)
        r = sim.run()
        return sim, r, pq.read_table(tmp_path / name).to_pandas()

    _, _, quiet = trail_of(scenario(0.0), "quiet.parquet")
    sim, r, loud = trail_of(scenario(100.0), "loud.parquet")  # 100 clicks a day
    needs = loud[loud.event == "need"]
    reached = np.flatnonzero(sim.media.reach_mask() > 0)
    clicks = r.ledger["media"]["clicks"][0]
    assert clicks == len(reached) == r.ledger["media"]["impressions"][0] > 1000
    # One need per click, at the click's bucket start.
    at_start = needs[np.isclose((needs.time / DT) - np.rint(needs.time / DT), 0.0, atol=1e-9)]
    assert len(at_start) == clicks
    assert set(at_start.consumer) == set(reached)
    # No entry is processed twice.
    assert not needs.duplicated(["consumer", "time"]).any()
    # Stale entries: a clicked consumer's first natural need (from the run without media)
    # that was due after the click never happens.
    first = quiet[quiet.event == "need"].groupby("consumer").time.min()
    click_time = at_start.set_index("consumer").time
    later = [(c, t) for c, t in first.items() if c in click_time.index and t > click_time[c]]
    assert len(later) > 100
    loud_times = set(zip(needs.consumer, needs.time, strict=True))
    assert not any((c, t) in loud_times for c, t in later)
    assert sim.media.stale == 0
    assert r.final["pending_events"] == len(sim.calendar)
    # The clicked channel was considered: searches and platform purchases follow the clicks.
    assert r.kpis["searches"] > 0.5 * clicks


def test_calendar_pool_grows_for_stale_entries():
    cal = EventCalendar(10, 1.0, 5.0)
    before = len(cal.page_next)
    ids = np.arange(10, dtype=np.int64)
    cal.schedule(ids, np.full(10, 3.5))
    cal.reserve(10_000)
    assert len(cal.page_next) > before
    cal.schedule(np.arange(5000, dtype=np.int64) % 10, np.linspace(0, 4.9, 5000))
    got, _t = cal.pending()
    assert len(got) == 5010 and len(cal) == 5010


def problems(plan: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        scenario_from_dict(with_media(plan))
    return info.value.problems


def test_validation_names_the_field():
    tv = {"name": "tv", "kind": "tv", "cpm": 10.0}
    found = problems(
        {
            "vehicles": [
                tv,
                {**tv, "targeting": {"nobody": 1.0}},
                {
                    "name": "s",
                    "kind": "social",
                    "cpm": 5.0,
                    "channel": "nowhere",
                    "click_through": 0.1,
                },
                {"name": "k", "kind": "kol", "cpm": 5.0, "sessions_of": "platform"},
                {"name": "c", "kind": "kol", "cpm": 5.0, "click_through": 0.1},
                {
                    "name": "f",
                    "kind": "tv",
                    "cpm": 5.0,
                    "flighting": [
                        {"start_day": 0, "end_day": 5, "daily_budget": 1},
                        {"start_day": 4, "end_day": 8, "daily_budget": 1},
                    ],
                },
            ]
        }
    )
    text = "\n".join(found)
    assert "media.vehicles.tv.name: duplicate name 'tv'" in text
    assert "media.vehicles.tv.targeting.nobody: unknown segment 'nobody'" in text
    assert "media.vehicles.s.channel: unknown channel 'nowhere'" in text
    assert "media.vehicles.k.sessions_of: 'platform' is not a livestream channel" in text
    assert "media.vehicles.c.click_through: clicks need a `channel`" in text
    assert "media.vehicles.f.flighting.1.start_day: window starts at day 4" in text
    bad_kind = problems({"vehicles": [{"name": "x", "kind": "radio", "cpm": 1.0}]})
    assert any("media.vehicles.x.kind" in p for p in bad_kind)
    backwards = problems(
        {"vehicles": [{**tv, "flighting": [{"start_day": 5, "end_day": 2, "daily_budget": 1}]}]}
    )
    assert any("media.vehicles.tv.flighting.0" in p and "end_day" in p for p in backwards)
    cap = problems({"vehicles": [{**tv, "frequency_cap": {"impressions": 300}}]})
    assert any("media.vehicles.tv.frequency_cap.impressions" in p for p in cap)
