"""The memory check: every part of a run that grows with the scenario is in the estimate, the
estimate covers what the engine allocates, and a refusal names the fields responsible."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from builders import ROOT, quickstart_copy, scenario
from typer.testing import CliRunner

from omnisim import simulation
from omnisim.channels.service import StoreQueues
from omnisim.cli import app
from omnisim.consumers.needs import NeedClock
from omnisim.engine.buckets import EventCalendar
from omnisim.engine.ledger import Ledger
from omnisim.scenario.loading import load_scenario
from omnisim.scenario.schema import Scenario
from omnisim.simulation import (
    BASE_BYTES,
    MemoryRefused,
    ensure_memory,
    memory_parts,
    planned_memory,
)

GiB = 2**30


def part(sc: Scenario, what: str) -> int:
    """Bytes of the part whose description starts with or contains `what`."""
    (found,) = [p for p in memory_parts(sc) if what in p.what]
    return found.bytes


def refusal(sc: Scenario, available: int) -> str:
    with pytest.raises(MemoryRefused) as info:
        ensure_memory(sc, available=available)
    message = str(info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------------------------
# What the estimate grows with


@pytest.mark.parametrize(
    ("changes", "what", "factor"),
    [
        ({"market": {"consumers": 30_000}}, "consumers", 9.0),  # 3,000 -> 30,000
        ({"engine": {"bucket_hours": 0.02}}, "time buckets", 10.0),  # 2 h -> 0.02 h
        ({"engine": {"timeseries_days": 0.07}}, "time-series periods", 90.0),  # 7 -> 0.07 days
        ({"replications": 100}, "time-series periods", 50.0),  # 1 -> 100 kept
        ({"horizon_days": 4000.0}, "need clock", 90.0),  # 40 -> 4,000 days
        (
            {"nodes": [{"name": "s", "kind": "store", "region": "north", "service": {}}]},
            "store service",
            None,
        ),
    ],
)
def test_each_part_grows_with_its_fields(changes, what, factor):
    small, big = scenario(), scenario(**changes)
    if factor is None:  # a different store layout: just present
        assert part(big, what) > 0
        return
    assert part(big, what) >= factor * part(small, what)
    assert planned_memory(big) - planned_memory(small) >= part(big, what) - part(small, what)


def test_servers_and_waiting_rooms_are_counted():
    base = scenario()
    nodes = base.model_dump(mode="json")["nodes"]
    nodes[0]["service"]["servers"] = 10_000
    nodes[1]["service"]["waiting_room"] = 100_000
    big = scenario(nodes=nodes)
    assert part(big, "store service") == 8 * 4 * 10_000  # 4 nodes, as wide as the largest
    assert part(big, "store waiting rooms") == 8 * 4 * 100_000
    assert part(base, "store service") == 8 * 4 * 2


def test_a_need_rate_that_varies_widely_grows_the_need_clock():
    # The inverse look-up of the need clock has about sum(rate) / min(rate) entries: a promotion
    # that nearly stops needs for a day makes it 10,000 times longer.
    calm = scenario()
    promo = [{"name": "sale", "start_day": 20, "end_day": 21, "need_multiplier": 1e-4}]
    quiet = scenario(promotions=promo)
    assert part(quiet, "need clock") > 1_000 * part(calm, "need clock")
    (clock,) = [p for p in memory_parts(quiet) if "need clock" in p.what]
    assert clock.fields == (
        "horizon_days",
        "seasonality.amplitude",
        "promotions.sale.need_multiplier",
    )


# --------------------------------------------------------------------------------------------
# The estimate covers the engine's arrays (and is not wildly above them)


def _nbytes(*arrays) -> int:
    return sum(a.nbytes for a in arrays)


@pytest.mark.parametrize("bucket_hours", [0.05, 2.0, 48.0])
def test_the_calendar_estimate_covers_the_calendar(bucket_hours):
    sc = scenario(engine={"bucket_hours": bucket_hours}, horizon_days=200.0)
    n = sc.market.consumers
    cal = EventCalendar(n, bucket_hours / 24.0, sc.horizon_days)
    actual = _nbytes(cal.head, cal.tail, cal.page_ids, cal.page_t, cal.page_next, cal.free)
    # The buckets' part plus the calendar's share of each consumer's planned bytes.
    planned = part(sc, "time buckets") + n * 24
    assert actual <= planned <= 3 * actual + n * 24


@pytest.mark.parametrize(
    "promotions",
    [[], [{"name": "p", "start_day": 5, "end_day": 6, "need_multiplier": 0.001}]],
)
def test_the_need_clock_estimate_covers_the_need_clock(promotions):
    sc = scenario(promotions=promotions, horizon_days=400.0)
    clock = NeedClock(sc)
    kept = _nbytes(clock.grid, clock.rate, clock.cum, clock.start)
    planned = part(sc, "need clock")
    assert kept <= planned <= 6 * kept


def test_the_store_estimate_covers_the_queues():
    nodes = scenario().model_dump(mode="json")["nodes"]
    nodes[0]["service"]["servers"] = 500
    nodes[1]["service"]["waiting_room"] = 3_000
    sc = scenario(nodes=nodes)
    q = StoreQueues(sc)
    assert _nbytes(q.free_at, q.ring) <= part(sc, "store service") + part(sc, "waiting rooms")


def test_the_time_series_estimate_covers_the_ledger():
    sc = scenario(engine={"timeseries_days": 0.05}, horizon_days=300.0, warmup_days=0.0)
    led = Ledger(len(sc.channels), len(sc.nodes), sc.warmup_days, sc.horizon_days, 0.05)
    assert led.n_periods == 6_000
    assert _nbytes(led.series, led.series_channel_revenue) < part(sc, "time-series periods")


def test_planned_memory_is_the_parts_and_the_base():
    sc = scenario()
    assert planned_memory(sc) == sum(p.bytes for p in memory_parts(sc)) + BASE_BYTES
    sizes = [p.bytes for p in memory_parts(sc)]
    assert sizes == sorted(sizes, reverse=True)


# --------------------------------------------------------------------------------------------
# Refusals name the fields and the estimate


def test_too_many_buckets_names_horizon_and_bucket_width():
    sc = scenario(horizon_days=36_500.0, engine={"bucket_hours": 0.01})
    message = refusal(sc, available=GiB)
    assert re.match(
        r"horizon_days, engine.bucket_hours: 87,600,000 time buckets \(36500 days of 0.01 "
        r"hours\) need about 1,00\d MiB; in all a run needs about 1.\d GiB, ",
        message,
    )
    assert message.endswith(
        "more than the 819 MiB this machine can give a run (80% of 1.0 GiB available, "
        "engine.memory_fraction)"
    )


def test_too_many_periods_names_the_series_width():
    sc = scenario(horizon_days=36_500.0, engine={"timeseries_days": 0.01}, replications=5)
    message = refusal(sc, available=4 * GiB)
    assert message.startswith("horizon_days, engine.timeseries_days, replications: 3,649,500 ")
    assert re.search(
        r"time-series periods \(36495 days of 0.01 days, 5 replications kept\) "
        r"need about [0-9.]+ GiB",
        message,
    )


def test_too_many_consumers_names_the_consumers():
    sc = scenario(market={"consumers": 10**9})
    message = refusal(sc, available=16 * GiB)
    assert message.startswith("market.consumers: 1,000,000,000 consumers need about ")
    assert "(80% of 16.0 GiB available, engine.memory_fraction)" in message


def test_the_largest_parts_are_named_until_the_rest_fits():
    sc = scenario(
        market={"consumers": 3_000_000},
        horizon_days=36_500.0,
        engine={"bucket_hours": 0.01, "timeseries_days": 1.0},
        warmup_days=5.0,
    )
    consumers, buckets = part(sc, "consumers"), part(sc, "time buckets")
    assert buckets > consumers
    # Without the buckets the run would fit: only they are named.
    available = int((planned_memory(sc) - buckets + 2**20) / 0.8)
    head = refusal(sc, available=available).split(": ")[0]
    assert head == "horizon_days, engine.bucket_hours"
    # Each is too big alone: both are named, the larger first.
    message = refusal(sc, available=int(0.9 * consumers / 0.8))
    assert message.split(": ")[0] == "horizon_days, engine.bucket_hours, market.consumers"
    assert "time buckets" in message and "; 3,000,000 consumers need about" in message


def test_more_consumers_than_32_bit_ids_are_refused_whatever_the_machine():
    sc = scenario(market={"consumers": 2**31})
    assert refusal(sc, available=2**50) == (
        "market.consumers: 2,147,483,648 consumers, more than the 2,147,483,647 a run can hold "
        "(32-bit consumer ids)"
    )
    message = refusal(sc, available=16 * GiB)  # on a real machine: the memory first
    assert message.startswith("market.consumers: 2,147,483,648 consumers need about ")


def test_a_tiny_memory_fraction_is_what_is_named():
    sc = scenario(engine={"memory_fraction": 0.001})
    assert refusal(sc, available=16 * GiB) == (
        "engine.memory_fraction: 0.1% of 16.0 GiB available leaves 16 MiB, less than the "
        f"{planned_memory(sc) / 2**20:.0f} MiB even this small run needs"
    )


def test_every_example_scenario_fits_in_a_small_machine():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        ensure_memory(load_scenario(path), available=2 * GiB)


def test_the_cli_refuses_before_creating_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(simulation, "available_memory", lambda: GiB)
    path = quickstart_copy(tmp_path, consumers=200, days=20)
    out = tmp_path / "out"
    r = CliRunner().invoke(
        app,
        [
            "run", str(path), "--out", str(out), "--reps", "1", "--quiet",
            "--set", "horizon_days=36500", "--set", "engine.bucket_hours=0.01",
        ],
    )  # fmt: skip
    assert r.exit_code == 2, r.output
    (line,) = r.stderr.strip().splitlines()
    # (`run` may put the file's name first)
    assert "horizon_days, engine.bucket_hours: 87,600,000 time buckets" in line
    assert "Traceback" not in r.output
    assert not Path(out).exists()
