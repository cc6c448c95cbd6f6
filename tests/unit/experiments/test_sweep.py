"""Parameter sweeps: parameters, designs, sensitivity, executors, resume, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import small_market

from omnisim.experiments.sweep import (
    MORRIS_LEVELS,
    build_design,
    is_integer_field,
    level_value,
    parse_param,
    sensitivity_table,
    sweep,
)
from omnisim.scenario.loading import ScenarioError


def tiny(**changes) -> dict:
    """The builders' small market cut to about 5 ms a run: 20 days, 400 consumers, no churn
    (so that needs depend on the market alone, not on how channels serve consumers)."""
    base = small_market(
        horizon_days=20.0,
        warmup_days=2.0,
        engine={"bucket_hours": 4.0},
        market={"consumers": 400},
        journey={"churn": {"probability": 0.0}},
    )
    base.update(changes)
    return base


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny()))
    return path


# --------------------------------------------------------------------------------------------
# Parameters


def test_parse_param_range_levels_and_integer():
    p = parse_param("product.unit_cost=10:60")
    assert (p.path, p.kind, p.low, p.high) == ("product.unit_cost", "continuous", 10.0, 60.0)
    q = parse_param("market.consumers=100:400", integer=True)
    assert (q.kind, q.count) == ("integer", 301)
    r = parse_param(" nodes.s_north.service.service_distribution = exponential, lognormal ")
    assert r.kind == "levels"
    assert r.levels == ("exponential", "lognormal")
    assert r.path == "nodes.s_north.service.service_distribution"
    s = parse_param("nodes.s_north.service.servers=1,2,4")
    assert [level_value(t) for t in s.levels] == [1, 2, 4]


@pytest.mark.parametrize(
    ("spec", "integer", "message"),
    [
        ("product.unit_cost=60:10", False, "LO (60) must be below HI (10)"),
        ("product.unit_cost=5:5", False, "LO (5) must be below HI (5)"),
        ("product.unit_cost=cheap:60", False, "LO bound 'cheap' is not a number"),
        ("product.unit_cost=10:nan", False, "HI bound 'nan' is not a finite number"),
        ("product.unit_cost", False, "no '=' found"),
        ("product.unit_cost=10", False, "use --set for a fixed value"),
        ("market.consumers=1.5:4", True, "give whole-number bounds"),
        ("nodes.s_north.service.servers=1,2,1", False, "level '1' is listed twice"),
        ("nodes.s_north.service.servers=1,,2", False, "empty level"),
    ],
)
def test_parse_param_refuses_bad_specs(spec, integer, message):
    with pytest.raises(ScenarioError) as e:
        parse_param(spec, integer=integer)
    assert len(e.value.problems) == 1
    assert e.value.problems[0].startswith(f"--param {spec}: ")
    assert message in e.value.problems[0]


def test_integer_fields_come_from_the_schema():
    assert is_integer_field("market.consumers")
    assert is_integer_field("nodes.s_north.service.servers")
    assert is_integer_field("nodes.dc.service.waiting_room")  # int | None
    assert is_integer_field("nodes.dc.replenishment.order_up_to")
    assert not is_integer_field("product.unit_cost")
    assert not is_integer_field("channels.phone.reach")  # fraction | {region: fraction}
    assert not is_integer_field("channels.phone.reach.north")
    assert not is_integer_field("segments.a.habits.store")
    assert not is_integer_field("market.no_such_field")


def test_continuous_values_survive_the_override_text_exactly():
    p = parse_param("product.unit_cost=1e-9:3e7")
    rng = np.random.default_rng(1)
    for u in rng.random(200):
        v = p.at(u)
        assert level_value(p.text(v)) == v
    assert p.at(0.0) == 1e-9 and p.at(1.0) == 3e7  # the bounds themselves, to the last bit


def test_unit_interval_maps_onto_levels_and_whole_numbers():
    levels = parse_param("x=a,b,c")
    assert [levels.at(u) for u in (0.0, 0.33, 1 / 3, 0.66, 0.67, 0.999, 1.0)] == [
        "a",
        "a",
        "b",
        "b",
        "c",
        "c",
        "c",
    ]
    ints = parse_param("x=1:3", integer=True)
    # three equal slices of [0, 1], one per whole number: the stretched value, rounded
    assert [ints.at(u) for u in (0.0, 0.3, 0.34, 0.6, 0.7, 1.0)] == [1, 1, 2, 2, 3, 3]
    assert all(isinstance(ints.at(u), int) for u in (0.0, 0.5, 1.0))


# --------------------------------------------------------------------------------------------
# Designs


def test_grid_is_a_full_factorial_with_both_ends():
    a = parse_param("product.unit_cost=10:60")
    b = parse_param("nodes.s_north.service.servers=1:3", integer=True)
    c = parse_param("nodes.s_north.service.service_distribution=exponential,lognormal")
    d = build_design([a, b, c], "grid", 3, seed=1)
    assert len(d.rows) == 3 * 3 * 2
    assert sorted({r[a.path] for r in d.rows}) == [10.0, 35.0, 60.0]
    assert sorted({r[b.path] for r in d.rows}) == [1, 2, 3]
    assert {r[c.path] for r in d.rows} == {"exponential", "lognormal"}
    assert len({tuple(r.values()) for r in d.rows}) == len(d.rows)  # every combination once
    # integer levels are rounded (half up) and duplicates dropped: 1, 1.5, 2, 2.5, 3 -> 1, 2, 3
    assert [r[b.path] for r in build_design([b], "grid", 5, seed=1).rows] == [1, 2, 3]
    assert [r[a.path] for r in build_design([a], "grid", 2, seed=1).rows] == [10.0, 60.0]


def test_lhs_stays_in_bounds_and_has_one_point_per_stratum():
    a = parse_param("product.unit_cost=10:60")
    b = parse_param("segments.a.need.mean_interval_days=5:15")
    n = 16
    d = build_design([a, b], "lhs", n, seed=3)
    assert len(d.rows) == n
    for p in (a, b):
        x = np.array([r[p.path] for r in d.rows])
        assert (x >= p.low).all() and (x <= p.high).all()
        strata = np.floor((x - p.low) / (p.high - p.low) * n).astype(int)
        assert sorted(strata) == list(range(n))  # Latin: each of the n slices exactly once
    again = build_design([a, b], "lhs", n, seed=3)
    other = build_design([a, b], "lhs", n, seed=4)
    assert again.rows == d.rows
    assert other.rows != d.rows


def test_sobol_and_morris_row_counts():
    ps = [parse_param(f"x{i}=0:1") for i in range(3)]
    sob = build_design(ps, "sobol", 8, seed=1)
    assert len(sob.rows) == 8 * (3 + 2)  # N(D + 2): S1 and ST only
    mor = build_design(ps, "morris", 5, seed=1)
    assert len(mor.rows) == 5 * (3 + 1)  # N(D + 1)
    grid = set(np.round(np.linspace(0, 1, MORRIS_LEVELS), 12))
    assert set(np.round(mor.unit.ravel(), 12)) <= grid
    # each step of a trajectory moves exactly one parameter
    for t in range(5):
        block = mor.unit[t * 4 : (t + 1) * 4]
        assert ((np.diff(block, axis=0) != 0).sum(axis=1) == 1).all()


@pytest.mark.parametrize(
    ("kind", "n", "message"),
    [
        ("sobol", 12, "power of two"),
        ("sobol", 1, "power of two"),
        ("morris", 1, "at least 2 trajectories"),
        ("grid", 1, "at least 2 levels"),
        ("lhs", 1, "at least 2 points"),
        ("fractional", 8, "unknown design"),
        ("grid", 1001, "the design has 1,002,001 rows, more than 1,000,000"),
        ("lhs", 10**9, "the design has 1,000,000,000 rows"),  # refused before it is drawn
    ],
)
def test_design_sizes_refused(kind, n, message):
    with pytest.raises(ScenarioError) as e:
        build_design([parse_param("x=0:1"), parse_param("y=0:1")], kind, n, seed=1)
    assert message in e.value.problems[0]


# --------------------------------------------------------------------------------------------
# Sensitivity without the simulator


def test_sensitivity_reports_nan_for_constant_and_nan_kpis():
    ps = [parse_param("x=0:1"), parse_param("y=0:1")]
    for kind, n in (("sobol", 8), ("morris", 4), ("lhs", 12), ("grid", 3)):
        d = build_design(ps, kind, n, seed=2)
        means = [
            {"linear": r["x"] + 0.01 * r["y"], "flat": 3.0, "hole": math.nan if i == 1 else r["x"]}
            for i, r in enumerate(d.rows)
        ]
        t = sensitivity_table(d, means, seed=5)
        assert list(t.kpi.unique()) == ["linear", "flat", "hole"]
        measures = t.columns[2:]
        assert t[t.kpi != "linear"][measures].isna().all().all()
        assert t[t.kpi == "linear"][measures].notna().all().all()


def test_spearman_for_lhs_sees_a_monotone_effect():
    ps = [parse_param("x=0:1"), parse_param("y=0:1")]
    d = build_design(ps, "lhs", 30, seed=2)
    t = sensitivity_table(d, [{"k": math.exp(3 * r["x"])} for r in d.rows]).set_index("parameter")
    assert t.loc["x", "spearman"] == 1.0
    lo, hi = t.loc["y", "spearman_ci_low"], t.loc["y", "spearman_ci_high"]
    assert lo < t.loc["y", "spearman"] < hi


# --------------------------------------------------------------------------------------------
# Sweeps of the simulator


@pytest.mark.slow
def test_sobol_indices_recover_the_only_parameter_that_matters(scenario_file, tmp_path):
    """Needs are drawn from the need stream, one renewal process per consumer: the number of
    consumers drives them, while the product's unit cost only enters cost KPIs. With common
    random numbers the inert parameter leaves `needs` bit-for-bit unchanged, so the known
    answer is S1 = ST = 1 for consumers and 0 for the cost; each is checked against SALib's
    own 95 % half-width."""
    frame = sweep(
        scenario_file,
        ["market.consumers=200:800", "product.unit_cost=10:60"],
        "sobol",
        n=64,
        seed=11,
        executor="serial",
        out=tmp_path / "sobol",
    )
    assert len(frame) == 64 * 4
    s = pd.DataFrame(frame.attrs["sensitivity"]).set_index(["kpi", "parameter"])
    driver = s.loc[("needs", "market.consumers")]
    inert = s.loc[("needs", "product.unit_cost")]
    assert abs(inert["ST"]) <= inert["ST_conf"]
    assert abs(inert["S1"]) <= inert["S1_conf"]
    assert abs(driver["ST"] - 1.0) <= driver["ST_conf"]
    assert abs(driver["S1"] - 1.0) <= driver["S1_conf"]
    assert driver["S1"] - driver["S1_conf"] > 0.5  # most of the variance, beyond doubt
    # the same cost parameter is anything but inert for profit
    cost = s.loc[("brand_profit", "product.unit_cost")]
    assert cost["ST"] - cost["ST_conf"] > 0
    # a KPI that no row changes (no channel has a fixed cost) gets NaN, not an error
    assert s.loc[("cost.channel_fixed", "market.consumers")][["S1", "ST"]].isna().all()
    on_disk = pd.read_csv(tmp_path / "sobol" / "sensitivity.csv")
    assert list(on_disk.columns) == ["kpi", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    assert len(on_disk) == len(s)


@pytest.mark.slow
def test_executors_give_identical_results(scenario_file, tmp_path):
    params = [
        "market.consumers=200:600",
        "nodes.s_north.service.servers=1:3",
        "nodes.s_south.service.service_distribution=exponential,lognormal",
    ]
    texts = {}
    for ex in ("serial", "process", "dask"):
        out = tmp_path / ex
        sweep(scenario_file, params, "lhs", n=6, reps=2, executor=ex, workers=2, out=out, seed=3)
        texts[ex] = (out / "runs.csv").read_text()
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["executor"] == ex
        assert manifest["runs"] == 12
    assert texts["serial"] == texts["process"] == texts["dask"]
    assert texts["serial"].count("\n") == 7


def test_runs_csv_means_are_the_replications_means(scenario_file, tmp_path):
    out = tmp_path / "s"
    frame = sweep(
        scenario_file, ["product.unit_cost=10:60"], "grid", n=2, reps=3, executor="serial", out=out
    )
    doc = json.loads((out / "runs" / "0001.json").read_text())
    assert doc["run"] == "0001" and doc["params"] == {"product.unit_cost": 60.0}
    assert [r["replication"] for r in doc["replications"]] == [0, 1, 2]
    needs = [r["kpis"]["needs"] for r in doc["replications"]]
    assert doc["mean"]["needs"] == pytest.approx(np.mean(needs))
    assert frame.loc[1, "needs"] == doc["mean"]["needs"]
    # common random numbers: replication r of both rows saw the same consumers and needs
    first = json.loads((out / "runs" / "0000.json").read_text())
    assert [r["kpis"]["needs"] for r in first["replications"]] == needs
    assert len(set(needs)) > 1  # ... while the replications differ from each other
    design = pd.read_csv(out / "design.csv")
    assert list(design.columns) == ["run", "product.unit_cost"]
    assert json.loads((out / "sweep.json").read_text())["rows"] == 2


@pytest.mark.slow
def test_interrupted_sweep_resumes_without_redoing_rows(scenario_file, tmp_path):
    params = ["market.consumers=200:600", "product.unit_cost=10:60"]
    whole = tmp_path / "whole"
    sweep(scenario_file, params, "lhs", n=10, executor="serial", out=whole, seed=5)

    out = tmp_path / "cut"

    def stop_after_four(done: int, total: int) -> None:
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(scenario_file, params, "lhs", n=10, executor="serial", out=out, seed=5,
              progress=stop_after_four)  # fmt: skip
    kept = sorted((out / "runs").glob("*.json"))
    assert [p.name for p in kept] == ["0000.json", "0001.json", "0002.json", "0003.json"]
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in kept}
    assert not (out / "runs.csv").exists()

    seen = []
    frame = sweep(scenario_file, params, "lhs", n=10, executor="serial", out=out, seed=5,
                  resume=True, progress=lambda d, t: seen.append(d))  # fmt: skip
    assert seen[0] == 4 and seen[-1] == 10 and len(seen) == 7  # only the 6 missing rows ran
    for p in kept:
        assert (p.stat().st_ino, p.stat().st_mtime_ns) == before[p.name]
    assert (out / "runs.csv").read_text() == (whole / "runs.csv").read_text()
    assert (out / "sensitivity.csv").read_text() == (whole / "sensitivity.csv").read_text()
    assert json.loads((out / "manifest.json").read_text())["runs_resumed"] == 4
    assert len(frame) == 10


def test_folders_holding_something_else_are_refused(scenario_file, tmp_path):
    params = ["product.unit_cost=10:60"]
    out = tmp_path / "s"
    sweep(scenario_file, params, "grid", n=2, executor="serial", out=out)
    snapshot = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    for kwargs in (
        {"n": 3},
        {"n": 2, "seed": 99},
        {"n": 2, "reps": 2},
        {"n": 2, "resume": True, "overrides": ["market.consumers=500"]},
    ):
        with pytest.raises(ScenarioError) as e:
            sweep(scenario_file, params, "grid", executor="serial", out=out, **kwargs)
        assert len(e.value.problems) == 1
        assert "holds a different sweep" in e.value.problems[0]
    with pytest.raises(ScenarioError) as e:
        sweep(scenario_file, ["product.unit_cost=10:50"], "grid", n=2, out=out, resume=True)
    assert "params" in e.value.problems[0]
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot

    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text("{}")
    with pytest.raises(ScenarioError) as e:
        sweep(scenario_file, params, "grid", n=2, out=other, resume=True)
    assert "holds no sweep" in e.value.problems[0]
    assert [p.name for p in other.iterdir()] == ["summary.json"]


def test_parameter_problems_use_the_loader_messages(scenario_file, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ScenarioError) as e:
        sweep(
            scenario_file,
            [
                "market.consumerz=1:2",
                "nodes.nowhere.service.servers=1:2",
                "market.consumers=0:100",
                "nodes.s_north.service.service_distribution=exponential,gaussian",
            ],
            "lhs",
            n=4,
            out=out,
        )
    assert e.value.problems == [
        "--param market.consumerz=1:2 (value 1.0): market.consumerz: Extra inputs are not "
        "permitted",
        "--param nodes.nowhere.service.servers=1:2 (value 1): nodes: no list item 'nowhere' "
        "(items: s_north, s_south, d_north, dc)",
        "--param market.consumers=0:100 (value 0): market.consumers: Input should be greater "
        "than or equal to 1",
        "--param nodes.s_north.service.service_distribution=exponential,gaussian (value "
        "gaussian): nodes.s_north.service.service_distribution: Input should be 'exponential', "
        "'deterministic' or 'lognormal'",
    ]
    assert not out.exists()


def test_values_that_fail_only_together_stop_the_sweep_before_it_runs(scenario_file, tmp_path):
    # commission + intermediary_margin may not pass 1: each range is fine alone
    out = tmp_path / "never"
    with pytest.raises(ScenarioError) as e:
        sweep(
            scenario_file,
            ["channels.live.commission=0.1:0.6", "channels.live.intermediary_margin=0.1:0.6"],
            "grid",
            n=2,
            out=out,
        )
    assert e.value.problems[0].startswith("design row 0003 (channels.live.commission=0.6, ")
    assert not out.exists()
