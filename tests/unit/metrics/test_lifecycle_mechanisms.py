"""Customer lifecycle mechanisms (docs/model.md, "Customer lifecycle"): win-back, recruitment
channel, cross-channel buying, the active-customer series, CLV, promotion spend and CAC, each
recomputed from the event trail or built by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from builders import ROOT, compiled_only, scenario

from omnisim.api import simulate
from omnisim.consumers.lifecycle import CustomerLifecycle, LifecycleState, churns
from omnisim.engine import state
from omnisim.engine.ledger import Ledger
from omnisim.metrics.kpis import lifecycle_kpis, media_spend_by_channel
from omnisim.scenario.schema import cross_reference_problems
from omnisim.simulation import Simulation

# Trail columns are categorical; compare on plain strings.


def _run(sc, tmp_path, rep=0):
    path = tmp_path / f"rep-{rep:03d}.parquet"
    r = Simulation(sc, rep, trail_path=path).run()
    trail = pq.read_table(path).to_pandas()
    trail["event"] = trail.event.astype(str)
    trail["channel"] = trail.channel.astype(object)
    return r, trail


def _channel_params(sc):
    return {c.name: c for c in sc.channels}


# ------------------------------------------------------------------ win-back


def test_win_back_delay_is_exponential_with_the_set_mean(tmp_path):
    """Churned consumers return after Exp(winback_days). Returns are censored at the horizon,
    so the mean is estimated by the exponential maximum-likelihood estimator with right
    censoring: (sum of observed delays + sum of censored exposures) / returns. Its standard
    error is mean / sqrt(returns) (Fisher information d / mean^2); we allow 4 of them."""
    mean = 4.0
    sc = scenario(
        journey={"churn": {"threshold": 5.0, "probability": 0.6}},
        lifecycle={"winback_days": mean},
    )
    r, trail = _run(sc, tmp_path)
    h = sc.horizon_days
    churn = trail[trail.event == "churn"][["consumer", "time"]]
    back = trail[trail.event == "win_back"][["consumer", "time"]]
    assert len(churn) > 1000
    # Pair each churn with the consumer's next win-back (if any, before the next churn).
    exposure, returns = 0.0, 0
    by_c = back.groupby("consumer").time.apply(list).to_dict()
    churns = churn.groupby("consumer").time.apply(sorted).to_dict()
    for c, times in churns.items():
        backs = sorted(by_c.get(c, []))
        assert len(backs) in (len(times), len(times) - 1)  # only the last may be censored
        for k, t in enumerate(times):
            if k < len(backs):
                assert backs[k] > t and (k + 1 == len(times) or backs[k] < times[k + 1])
                exposure += backs[k] - t
                returns += 1
            else:
                exposure += h - t
    assert set(by_c) <= set(churns)
    est = exposure / returns
    assert abs(est - mean) < 4 * mean / math.sqrt(returns), (est, returns)
    lo = sc.warmup_days
    assert r.kpis["won_back"] == ((back.time >= lo) & (back.time < h)).sum() > 0
    # A won-back consumer is back in the market: needs follow the win-back.
    after = trail.merge(back, on="consumer", suffixes=("", "_back"))
    needs_after = after[(after.event == "need") & (after.time > after.time_back)]
    assert needs_after.consumer.nunique() > 0.5 * back.consumer.nunique()


def test_without_win_back_churn_is_for_good(tmp_path):
    sc = scenario(journey={"churn": {"threshold": 5.0, "probability": 0.6}})
    assert sc.lifecycle.winback_days is None
    r, trail = _run(sc, tmp_path)
    assert r.kpis["won_back"] == 0
    assert not (trail.event == "win_back").any()
    churned_at = trail[trail.event == "churn"].groupby("consumer").time.min()
    assert len(churned_at) > 500
    later = trail.join(churned_at.rename("t_churn"), on="consumer", how="inner")
    assert not (later.time > later.t_churn).any()


# ------------------------------------------------------------------ recruitment, cross-channel


def test_recruitment_and_cross_channel_from_the_trail(small, tmp_path):
    r, trail = _run(small, tmp_path)
    k = r.kpis
    lo, hi = small.warmup_days, small.horizon_days
    buys = trail[trail.event == "purchase"].sort_values(["time", "consumer"], kind="stable")
    first = buys.groupby("consumer").head(1)
    first = first[(first.time >= lo) & (first.time < hi)]
    names = r.ledger["meta"]["channels"]
    assert sum(k[f"new_customers.{c}"] for c in names) == k["new_customers"] == len(first)
    for c in names:
        assert k[f"new_customers.{c}"] == (first.channel == c).sum()
    window = buys[(buys.time >= lo) & (buys.time < hi)]
    channels_per_buyer = window.groupby("consumer").channel.nunique()
    assert (channels_per_buyer >= 2).sum() > 0
    assert k["cross_channel_share"] == (channels_per_buyer >= 2).sum() / len(channels_per_buyer)


def test_cross_channel_share_on_a_constructed_case(small):
    led = Ledger(6, 4, small.warmup_days, small.horizon_days, 7.0)
    lc = CustomerLifecycle(small, 7, led)
    # None; one channel; channels 0 and 1; channel 2; channels 0 and 15; channel 15; 0, 3, 5.
    lc.records["mask"] = [0, 1, 3, 4, 0x8001, 0x8000, 0b101001]
    bought = np.array([0, 1, 2, 1, 3, 1, 4], dtype=np.uint16)
    lc.records["flags"][:2] = 1  # churned in the window (the first without buying in it)
    out = lc.finish(led, bought)
    assert out["cross_channel_buyers"] == 3
    assert out["churners"] == 2
    assert out["customers"] == 7
    kp = lifecycle_kpis(_ledger_dict(buyers=6, cross_channel_buyers=3), {"channels": ["a", "b"]})
    assert kp["cross_channel_share"] == 0.5


def test_state_is_named_and_off_has_its_numba_type(small):
    """The kernel state is a `LifecycleState` over the object's own arrays (the kernel's
    writes are the tallies `finish` reads); its off form has the same numba type."""
    led = Ledger(6, 4, small.warmup_days, small.horizon_days, 7.0)
    lc = CustomerLifecycle(small, 7, led)
    live = lc.state()
    assert isinstance(live, LifecycleState)
    assert live.records is lc.records and live.active_diff is lc.active_diff
    assert live.params.n_periods == led.n_periods and live.params.period == 7.0
    assert numba.typeof(live) == numba.typeof(state.off(LifecycleState))


def test_state_build_refuses_a_wrongly_typed_field(small):
    lc = CustomerLifecycle(small, 7, Ledger(6, 4, small.warmup_days, small.horizon_days, 7.0))
    fields = lc.state()._asdict()
    # Records of another layout (here, without the flags byte) would mis-read every field.
    other = np.zeros(7, dtype=[("acquired", np.float32), ("covered", np.int32)])
    with pytest.raises(TypeError, match=r"LifecycleState\.records: .* expected"):
        state.build(LifecycleState, **(fields | {"records": other}))
    with pytest.raises(TypeError, match=r"LifecycleState\.active_diff: int64\[1-d\] expected"):
        state.build(LifecycleState, **(fields | {"active_diff": np.zeros(3)}))
    with pytest.raises(TypeError, match=r"LifecycleState\.params: LifecycleParams expected"):
        state.build(LifecycleState, **(fields | {"params": tuple(fields["params"])}))


# ------------------------------------------------------------------ active customers


def test_active_series_matches_the_trail_exactly(tmp_path):
    """Active at a period end e: a purchase t with t <= e < t + A (bought in (e - A, e]).
    A period that does not divide the window checks the short last period (ends at H)."""
    sc = scenario(
        engine={"bucket_hours": 2.0, "timeseries_days": 6.5}, lifecycle={"active_days": 9}
    )
    r, trail = _run(sc, tmp_path)
    w, h, p, a = sc.warmup_days, sc.horizon_days, 6.5, 9.0
    n = math.ceil((h - w) / p)
    ends = [w + (k + 1) * p for k in range(n - 1)] + [h]
    buys = trail[trail.event == "purchase"]
    t = buys.time.to_numpy()
    expect = [buys.consumer[(t <= e) & (e < t + a)].nunique() for e in ends]
    got = r.ledger["ts_active_customers"]
    assert got == expect
    assert len(set(expect)) > 1 and min(expect) > 0
    assert r.kpis["active_customers"] == expect[-1]


def test_timeseries_file(small, tmp_path):
    sc = small.model_copy(deep=True)
    sc.replications = 2
    out = simulate(sc, out=tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "timeseries.csv")
    n = math.ceil((sc.horizon_days - sc.warmup_days) / sc.engine.timeseries_days)
    assert len(table) == 2 * n
    assert list(table.columns[:4]) == ["replication", "period", "start_day", "end_day"]
    assert {"needs", "purchases", "revenue", "active_customers"} <= set(table.columns)
    names = [c.name for c in sc.channels]
    share = table[[f"channel_share.{c}" for c in names]].sum(axis=1)
    assert np.allclose(share[table.revenue > 0], 1.0)
    by_ch = table[[f"revenue.{c}" for c in names]].sum(axis=1)
    assert np.allclose(by_ch, table.revenue, rtol=1e-12)
    for rep, row in enumerate(out.rows):
        mine = table[table.replication == rep]
        assert mine.revenue.sum() == pytest.approx(row["revenue"], rel=1e-12)
        assert mine.purchases.sum() == row["purchases"]
        assert mine.active_customers.iloc[-1] == row["active_customers"]
        assert mine.end_day.iloc[-1] == sc.horizon_days


# ------------------------------------------------------------------ CLV


@pytest.mark.parametrize("clv_days", [None, 15.0])
def test_clv_recomputed_from_the_trail(tmp_path, clv_days):
    rate = 0.3
    sc = scenario(lifecycle={"clv_days": clv_days, "annual_discount_rate": rate})
    r, trail = _run(sc, tmp_path)
    lo, hi = sc.warmup_days, sc.horizon_days
    horizon_cut = np.inf if clv_days is None else hi - clv_days
    span = np.inf if clv_days is None else clv_days
    ch = _channel_params(sc)
    buys = trail[trail.event == "purchase"].sort_values(["time", "consumer"], kind="stable")
    t_acq = buys.groupby("consumer").time.min()
    cohort = t_acq[(t_acq >= lo) & (t_acq < hi) & (t_acq <= horizon_cut)]
    # The kernel keeps the acquisition time in float32.
    acq32 = cohort.astype(np.float32).astype(np.float64).rename("t_acq")
    mine = buys.join(acq32, on="consumer", how="inner")
    age = mine.time - mine.t_acq
    mine = mine[age < span]
    age = age[age < span]
    value = mine.value * mine.units
    comm = mine.channel.map(lambda c: ch[c].commission)
    marg = mine.channel.map(lambda c: ch[c].intermediary_margin)
    order = mine.channel.map(lambda c: ch[c].order_cost)
    brand = value - value * comm - value * marg
    margin = brand - mine.units * sc.product.unit_cost - order
    total = (margin * np.exp(-rate / 365.0 * age)).sum()
    assert r.ledger["clv_cohort"] == len(cohort) > 100
    assert r.kpis["clv"] == pytest.approx(total / len(cohort), rel=1e-9)
    if clv_days is not None:
        assert len(cohort) < r.kpis["new_customers"]
    else:
        assert len(cohort) == r.kpis["new_customers"]


def test_clv_days_longer_than_the_window_is_refused():
    sc = scenario(lifecycle={"clv_days": 36.0})  # window: 40 - 5 = 35 days
    problems = cross_reference_problems(sc)
    assert [loc for loc, _ in problems] == [("lifecycle", "clv_days")]
    assert not cross_reference_problems(scenario(lifecycle={"clv_days": 35.0}))


# ------------------------------------------------------------------ promotion spend and CAC


def test_promotion_spend_recomputed_from_the_trail(tmp_path):
    """Spend = units x (price without promotions - price paid) on in-window purchases, the
    price taken at the order online and at arrival in a store; promotions compound."""
    promos = [
        {"name": "sale", "start_day": 20, "end_day": 24, "discount": 0.2,
         "channels": ["platform", "live"]},
        {"name": "stores", "start_day": 10, "end_day": 30, "discount": 0.15,
         "channels": ["store", "dealer"]},
        {"name": "all", "start_day": 22, "end_day": 26, "discount": 0.1},
    ]  # fmt: skip
    sc = scenario(promotions=promos)
    r, trail = _run(sc, tmp_path)
    lo, hi = sc.warmup_days, sc.horizon_days
    offline = {c.name for c in sc.channels if c.type in ("own_store", "dealer_store")}
    buys = trail[trail.event == "purchase"].sort_values("time")
    arrivals = trail[trail.event == "store_arrival"].sort_values("time")
    priced = pd.merge_asof(
        buys,
        arrivals[["consumer", "time"]].rename(columns={"time": "t_arrival"}),
        left_on="time",
        right_on="t_arrival",
        by="consumer",
    )
    priced["t_price"] = np.where(priced.channel.isin(offline), priced.t_arrival, priced.time)
    assert priced.t_price.notna().all()
    priced = priced[(priced.time >= lo) & (priced.time < hi)]

    def factor(row):
        f = 1.0
        for p in sc.promotions:
            if (p.channels is None or row.channel in p.channels) and (
                p.start_day <= row.t_price < p.end_day
            ):
                f *= 1.0 - p.discount
        return f

    f = priced.apply(factor, axis=1)
    cut = priced.units * (priced.value / f - priced.value)
    names = r.ledger["meta"]["channels"]
    for i, c in enumerate(names):
        assert r.ledger["ch_promotion_spend"][i] == pytest.approx(
            cut[priced.channel == c].sum(), rel=1e-9, abs=1e-9
        )
        assert (cut[priced.channel == c] > 0).any()
    assert r.kpis["promotion_spend"] == pytest.approx(cut.sum(), rel=1e-9)
    # Without media, a channel's CAC is its promotion spend per customer it recruited.
    for i, c in enumerate(names):
        new = r.kpis[f"new_customers.{c}"]
        assert r.kpis[f"cac.{c}"] == pytest.approx(r.ledger["ch_promotion_spend"][i] / new)
    assert r.kpis["cac"] == pytest.approx(cut.sum() / r.kpis["new_customers"])


def _ledger_dict(**changes):
    base = {
        "ch_new_customers": [0.0, 0.0],
        "ch_promotion_spend": [0.0, 0.0],
        "won_back": 0.0,
        "clv_sum": 0.0,
        "clv_cohort": 0.0,
        "cross_channel_buyers": 0,
        "buyers": 0,
    }
    return base | changes


def test_cac_attribution_arithmetic():
    channels = ["store", "online", "live"]
    media = {
        "names": ["tv", "search", "kol", "print"],
        "spend": [600.0, 300.0, 90.0, 400.0],
        "channel": [None, "online", "live", None],
    }
    new = [10.0, 30.0, 0.0]
    promo = [50.0, 0.0, 20.0]
    # Unattributed tv + print = 1000, spread 10 : 30 : 0 over the channels' new customers.
    assert media_spend_by_channel(media, channels, new) == [250.0, 300.0 + 750.0, 90.0]
    L = _ledger_dict(ch_new_customers=new, ch_promotion_spend=promo, media=media)
    k = lifecycle_kpis(L, {"channels": channels})
    assert k["cac.store"] == (250.0 + 50.0) / 10.0
    assert k["cac.online"] == 1050.0 / 30.0
    assert math.isnan(k["cac.live"])  # spent 110, recruited nobody
    assert k["cac"] == (1390.0 + 70.0) / 40.0
    assert k["promotion_spend"] == 70.0
    assert [k[f"new_customers.{c}"] for c in channels] == new
    # No media in the ledger: promotion spend only.
    k = lifecycle_kpis(
        _ledger_dict(ch_new_customers=new, ch_promotion_spend=promo), {"channels": channels}
    )
    assert k["cac.store"] == 5.0 and k["cac"] == 70.0 / 40.0
    # Nobody recruited: unattributed media cannot be spread, CAC undefined.
    assert media_spend_by_channel(media, channels, [0.0, 0.0, 0.0]) == [0.0, 300.0, 90.0]
    k = lifecycle_kpis(
        _ledger_dict(ch_new_customers=[0.0] * 3, ch_promotion_spend=[0.0] * 3, media=media),
        {"channels": channels},
    )
    assert math.isnan(k["cac"]) and math.isnan(k["clv"])
    bad = media | {"channel": [None, "online", "nowhere", None]}
    with pytest.raises(ValueError, match="nowhere"):
        media_spend_by_channel(bad, channels, new)


# ------------------------------------------------------------------ defaults change nothing

# KPIs of `scenario(journey={"churn": {"threshold": 0}})`, replication 0, recorded by
# tests/regression/small_goldens.py: with the lifecycle section omitted, or set without
# win-back, every KPI must be the same, bit for bit.
BEFORE = json.loads((Path(__file__).parent / "data" / "small_churn_threshold_0.json").read_text())


@compiled_only
@pytest.mark.parametrize(
    "lifecycle", [None, {"active_days": 20, "clv_days": 10, "annual_discount_rate": 0.5}]
)
def test_defaults_leave_the_run_unchanged(lifecycle):
    changes = {"journey": {"churn": {"threshold": 0.0}}}
    if lifecycle is not None:
        changes["lifecycle"] = lifecycle
    k = Simulation(scenario(**changes), 0).run().kpis
    # Set by the lifecycle section itself (its activity window and CLV horizon).
    redefined = {"active_customers", "clv"}
    for name, value in BEFORE.items():
        if name not in redefined:
            assert k[name] == value or (math.isnan(value) and math.isnan(k[name])), name


def test_clv_at_dealer_network_stores_is_the_brands_wholesale_margin(tmp_path):
    """At the stores the dealer network supplies, a purchase's CLV margin is the brand's margin
    on the goods it sold into the network, q x (p_B - unit_cost); elsewhere its take less the
    goods and the order cost (docs/model.md, 16b)."""
    from omnisim.scenario.loading import load_scenario
    from omnisim.scenario.schema import Scenario

    data = load_scenario(ROOT / "scenarios" / "fmcg_flattening.yaml").model_dump(mode="json")
    data.update(horizon_days=70.0, warmup_days=20.0)
    data["market"]["consumers"] = 3000
    data["lifecycle"] = {"annual_discount_rate": 0.0}
    sc = Scenario.model_validate(data)
    r, trail = _run(sc, tmp_path)
    lo, hi = sc.warmup_days, sc.horizon_days
    buys = trail[trail.event == "purchase"]
    t_acq = buys.groupby("consumer").time.min()
    cohort = t_acq[(t_acq >= lo) & (t_acq < hi)]
    mine = buys[buys.consumer.isin(cohort.index)]
    ch = _channel_params(sc)
    p_b = sc.product.unit_cost * (1.0 + sc.network.brand_markup)  # the brand's price, 6.25
    supplied = {n.name for n in sc.nodes if n.supplier is not None}
    value = mine.value * mine.units
    order = mine.channel.map(lambda c: ch[c].order_cost)
    brand = value * (1.0 - mine.channel.map(lambda c: ch[c].commission))
    margin = np.where(
        mine.node.isin(supplied),
        mine.units * (p_b - sc.product.unit_cost) - order,
        brand - mine.units * sc.product.unit_cost - order,
    )
    assert mine.node.isin(supplied).any() and (~mine.node.isin(supplied)).any()
    assert r.ledger["clv_cohort"] == len(cohort) > 100
    assert r.kpis["clv"] == pytest.approx(margin.sum() / len(cohort), rel=1e-9)


# ------------------------------------------------------------------ churn thresholds


def test_churn_threshold_keeps_the_per_review_law_and_pairs_across_arms(small):
    """`churns` spends one Exp(1) threshold per life: given the life so far, a review ends it
    with probability 1 - (1 - p_churn)(1 - p_drop), its cause is a drop-out with probability
    (1 - p_churn) p_drop / that, and lives follow one another with fresh thresholds. Checked on
    reviews whose probabilities change from one review to the next; and a consumer whose
    reviews fall in other journeys churns at the same review."""
    n = 20_000
    led = Ledger(6, 4, small.warmup_days, small.horizon_days, 7.0)
    lc = CustomerLifecycle(small, n, led)
    st = lc.state()
    key = np.uint64(0x5EED)
    p_c = np.array([0.3, 0.0, 0.1, 0.6])
    p_d = np.array([0.0, 0.2, 0.05, 0.1])
    ended = np.zeros((4, 3))  # per review step: still alive before, churned, dropped out
    for i in range(n):
        for j in range(4):  # the first life's first four reviews
            ended[j, 0] += 1
            churned, dropped = churns(i, j, p_c[j], p_d[j], st, key)
            if churned:
                ended[j, 1 + int(dropped)] += 1
                break
    total = 1 - (1 - p_c) * (1 - p_d)
    rate = (ended[:, 1] + ended[:, 2]) / ended[:, 0]
    se = np.sqrt(total * (1 - total) / ended[:, 0])
    assert np.all(np.abs(rate - total) < 4 * se), (rate, total)
    drop_share = ended[:, 2] / (ended[:, 1] + ended[:, 2])
    want = (1 - p_c) * p_d / total
    se = np.sqrt(np.clip(want * (1 - want), 0, None) / (ended[:, 1] + ended[:, 2]))
    # (exactly 0 and 1 where one of the causes has no hazard)
    assert np.all(np.abs(drop_share - want) <= 4 * se + 1e-12), (drop_share, want)
    # A second life starts with a fresh threshold: the same law again.
    lives = lc.records["flags"] >> 2
    second = np.flatnonzero(lives == 1)
    assert len(second) == int(ended[:, 1:].sum())
    again = sum(churns(int(i), 99, 0.3, 0.0, st, key)[0] for i in second)
    assert abs(again / len(second) - 0.3) < 4 * math.sqrt(0.21 / len(second))
    # Pairing: a consumer who reviews in other journeys (a strategy changed which needs end in
    # a purchase) churns at the same review, counted by hazard: at its 1st to 40th review of
    # hazard 0.1, whichever journeys they are; one Bernoulli draw per journey would not.
    a = CustomerLifecycle(small, 2000, led).state()
    b = CustomerLifecycle(small, 2000, led).state()

    def reviews_to_churn(i, journeys, lc):
        return next((m for m, j in enumerate(journeys) if churns(i, j, 0.1, 0.0, lc, key)[0]), -1)

    for i in range(2000):
        assert reviews_to_churn(i, range(0, 80, 2), a) == reviews_to_churn(i, range(1, 41), b)
