"""Scenario builders and shared markers for tests: small markets built in code, so tests say
what they use."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from omnisim.scenario.schema import Scenario

ROOT = Path(__file__).resolve().parent.parent

compiled_only = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
    reason="compares with figures recorded by the compiled kernel; interpreted, float32 "
    "arithmetic rounds differently in the last bits",
)
"""For bit-for-bit comparisons with recorded results (the coverage run interprets kernels).
Here rather than in a conftest: test modules import it, and `conftest` is not one module
name once several folders have one."""


def small_market(**changes) -> dict:
    """A small two-region market with one channel of each type (a plain dict to modify)."""
    data = {
        "name": "small",
        "horizon_days": 40.0,
        "warmup_days": 5.0,
        "seed": 7,
        "replications": 1,
        "engine": {"bucket_hours": 2.0},
        "market": {
            "consumers": 3000,
            "regions": [
                {"name": "north", "population_share": 0.6},
                {"name": "south", "population_share": 0.4},
            ],
            "distance_days": {"north": {"south": 2.0}},
        },
        "product": {"list_price": 100.0, "unit_cost": 40.0},
        "segments": [
            {
                "name": "a",
                "share": 0.5,
                "need": {"mean_interval_days": 10, "cv": 0.7, "basket_mean_units": 1.5},
                "awareness": 0.8,
                "habits": {"store": 0.5, "platform": 0.4},
                "membership_share": 0.3,
            },
            {
                "name": "b",
                "share": 0.5,
                "need": {"mean_interval_days": 15, "distribution": "lognormal", "cv": 1.2},
                "awareness": 0.6,
                "habits": {"dealer": 0.5, "live": 0.3},
                "search_hours": 12,
            },
        ],
        "channels": [
            {
                "name": "store",
                "type": "own_store",
                "nodes": ["s_north", "s_south"],
                "member_discount": 0.05,
            },
            {
                "name": "dealer",
                "type": "dealer_store",
                "nodes": ["d_north"],
                "intermediary_margin": 0.3,
            },
            {"name": "mall", "type": "own_online", "nodes": ["dc"], "order_cost": 5},
            {
                "name": "platform",
                "type": "platform",
                "nodes": ["dc"],
                "commission": 0.1,
                "price_index": 0.92,
            },
            {
                "name": "live",
                "type": "livestream",
                "nodes": ["dc"],
                "commission": 0.05,
                "intermediary_margin": 0.1,
                "sessions": {"every_days": 3, "start_hour": 19, "duration_hours": 4},
            },
            {"name": "phone", "type": "phone_dm", "nodes": ["dc"], "reach": 0.5},
        ],
        "nodes": [
            {
                "name": "s_north",
                "kind": "store",
                "region": "north",
                "replenishment": {"review_days": 5, "lead_time_days": 2, "order_up_to": 150},
                "service": {"servers": 2, "mean_service_minutes": 20, "patience_minutes": 30},
            },
            {
                "name": "s_south",
                "kind": "store",
                "region": "south",
                "replenishment": {
                    "review_days": 5,
                    "lead_time_days": 2,
                    "order_up_to": 80,
                    "reorder_point": 30,
                },
                "service": {
                    "servers": 1,
                    "mean_service_minutes": 15,
                    "waiting_room": 2,
                    "service_distribution": "lognormal",
                    "service_cv": 0.5,
                },
            },
            {
                "name": "d_north",
                "kind": "store",
                "region": "north",
                "replenishment": {"review_days": 7, "lead_time_days": 3, "order_up_to": 120},
            },
            {
                "name": "dc",
                "kind": "warehouse",
                "region": "north",
                "replenishment": {"review_days": 7, "lead_time_days": 4, "order_up_to": 1500},
            },
        ],
        "seasonality": {"amplitude": 0.2, "peak_day": 20},
        "promotions": [
            {
                "name": "sale",
                "start_day": 20,
                "end_day": 24,
                "discount": 0.2,
                "need_multiplier": 1.5,
                "channels": ["platform", "live"],
            }
        ],
    }
    return merge(data, changes)


def merge(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def scenario(**changes) -> Scenario:
    return Scenario.model_validate(small_market(**changes))


def quickstart_copy(folder: Path, consumers: int = 2000, days: float = 60.0) -> Path:
    """`scenarios/quickstart.yaml` shrunk (fewer consumers, a shorter horizon) and written to
    ``folder/quick.yaml``, comments and strategies kept: the file as a user would run it."""
    src = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    # The example's 130-day warm-up does not fit a short horizon: 30 days of it stay.
    src = (
        src.replace("consumers: 20000", f"consumers: {consumers}")
        .replace("horizon_days: 280", f"horizon_days: {days:g}")
        .replace("warmup_days: 130 ", "warmup_days: 30 ")
    )
    assert f"consumers: {consumers}" in src and f"horizon_days: {days:g}" in src
    assert "warmup_days: 30 " in src
    path = folder / "quick.yaml"
    path.write_text(src)
    return path


HOSTILE = '<script>alert("name")</script>'
"""A scenario name that is markup, for tests of escaping in reports."""
HOSTILE_STRATEGY = "<img src=x onerror=alert(1)>"
HOSTILE_DESCRIPTION = "--></svg><script>x</script>"
HOSTILE_VALUE = "</style><b>bold</b>"


def hostile_copy(scenario: Path, folder: Path) -> Path:
    """A copy of a scenario file whose name is `HOSTILE`, with a strategy named
    `HOSTILE_STRATEGY` setting the product name to `HOSTILE_VALUE` (written to
    ``folder/hostile.yaml``); set the description to `HOSTILE_DESCRIPTION` with --set."""
    text = scenario.read_text()
    name = next(line for line in text.splitlines() if line.startswith("name:"))
    text = text.replace(name, f"name: '{HOSTILE}'", 1)
    overlay = f"strategies:\n  '{HOSTILE_STRATEGY}':\n    product: {{name: '{HOSTILE_VALUE}'}}"
    text = text.replace("strategies:", overlay, 1)
    path = folder / "hostile.yaml"
    path.write_text(text)
    return path
