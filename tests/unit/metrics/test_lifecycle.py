"""Customer-lifecycle KPIs and the transactions export, checked against the event trail."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from omnisim.metrics.transactions import ExportError, export_transactions
from omnisim.simulation import Simulation


@pytest.fixture
def traced(small, tmp_path):
    """One replication of the small market with its trail (purchase rows only)."""
    path = tmp_path / "rep-000.parquet"
    r = Simulation(small, 0, trail_path=path).run()
    trail = pq.read_table(path).to_pandas()
    buys = trail[trail.event == "purchase"]
    return small, r, buys, path


def test_lifecycle_kpis_agree_with_the_trail(traced):
    sc, r, buys, path = traced
    k = r.kpis
    lo, hi = sc.warmup_days, sc.horizon_days
    inw = (buys.time >= lo) & (buys.time < hi)
    window = buys[inw]
    active = set(window.consumer)
    first = buys.groupby("consumer").time.min()
    new = {c for c, t in first.items() if lo <= t < hi}
    before = set(buys[buys.time < lo].consumer)
    twice = set(window.consumer.value_counts().loc[lambda s: s > 1].index)
    returning = {c for c in active if c in before or c in twice}
    assert k["buyers"] == len(active)
    # Active at the horizon: bought in (H - active_days, H]; the window is shorter than the
    # default 365 days, so every consumer who bought at all since day 0.
    assert sc.lifecycle.active_days > hi
    assert k["active_customers"] == buys.consumer.nunique() > len(active)
    assert k["new_customers"] == len(new)
    assert k["returning_customers"] == len(returning)
    # Every active customer is new or has bought before (both when a new one bought twice).
    assert k["new_customers"] + k["returning_customers"] >= k["active_customers"]
    assert len(new - twice) + len(returning) == len(active)
    # Churn rate: consumers who churned in the window over the window's customers (bought in
    # it, or churned in it).
    trail = pq.read_table(path).to_pandas()
    churn = trail[(trail.event == "churn") & (trail.time >= lo) & (trail.time < hi)]
    churners = set(churn.consumer)
    assert churners
    assert k["churn_rate"] == len(churners) / len(active | churners)
    assert 0 < k["new_customers"] < k["buyers"]
    assert k["returning_customers"] > 0
    assert k["aov"] == pytest.approx((window.units * window.value).sum() / len(window))
    assert k["aov"] == k["revenue"] / k["purchases"]
    assert k["items_per_order"] == window.units.sum() / len(window)
    assert k["repeat_purchase_rate"] == len(twice) / len(active)


def test_export_round_trip(traced, tmp_path):
    sc, r, buys, path = traced
    out = tmp_path / "tx.parquet"
    n = export_transactions(path, out, "parquet", dt.date(2026, 1, 1))
    tx = pd.read_parquet(out)
    assert n == len(tx) == len(buys)
    assert list(tx.columns) == ["customer_id", "date", "monetary_value", "channel"]
    assert pd.api.types.is_datetime64_any_dtype(tx.date)
    assert tx.monetary_value.sum() == pytest.approx((buys.units * buys.value).sum(), rel=1e-12)
    # Day 0 is midnight of the start date; the window's revenue is the revenue KPI.
    day = (tx.date - pd.Timestamp("2026-01-01")) / pd.Timedelta(days=1)
    assert np.allclose(day.to_numpy(), buys.time.to_numpy(), atol=1e-9)
    lo = pd.Timestamp("2026-01-01") + pd.Timedelta(days=sc.warmup_days)
    hi = pd.Timestamp("2026-01-01") + pd.Timedelta(days=sc.horizon_days)
    inw = tx[(tx.date >= lo) & (tx.date < hi)]
    assert inw.monetary_value.sum() == pytest.approx(r.kpis["revenue"], rel=1e-9)
    assert len(inw) == r.kpis["purchases"]
    for c in r.ledger["meta"]["channels"]:
        got = inw.loc[inw.channel == c, "monetary_value"].sum()
        assert got == pytest.approx(r.kpis["revenue"] * r.kpis[f"channel_share.{c}"], rel=1e-9)


def test_export_csv_and_several_replications(small, tmp_path):
    folder = tmp_path / "res"
    (folder / "trail").mkdir(parents=True)
    revenue = 0.0
    for rep in (0, 1):
        path = folder / "trail" / f"rep-{rep:03d}.parquet"
        Simulation(small, rep, trail_path=path).run()
        t = pq.read_table(path).to_pandas()
        b = t[t.event == "purchase"]
        revenue += (b.units * b.value).sum()
    out = tmp_path / "tx.csv"
    export_transactions(folder, out, "csv", dt.date(2025, 3, 1))
    tx = pd.read_csv(out, parse_dates=["date"])
    assert list(tx.columns) == ["customer_id", "date", "monetary_value", "channel", "replication"]
    assert set(tx.replication) == {0, 1}
    assert tx.date.min() >= pd.Timestamp("2025-03-01")
    assert tx.monetary_value.sum() == pytest.approx(revenue, rel=1e-9)
    assert not list(tmp_path.glob("*.partial"))


def test_export_bad_input_writes_nothing(tmp_path):
    out = tmp_path / "tx.parquet"
    with pytest.raises(ExportError, match="no such"):
        export_transactions(tmp_path / "missing", out)
    with pytest.raises(ExportError, match="no event trail"):
        export_transactions(tmp_path, out)
    with pytest.raises(ExportError, match="unknown format"):
        export_transactions(tmp_path, out, "xlsx")
    bogus = tmp_path / "x.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(bogus)
    with pytest.raises(ExportError, match="not an event trail"):
        export_transactions(bogus, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.parquet"]
