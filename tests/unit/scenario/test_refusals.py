"""What validation refuses before anything runs: non-finite numbers, booleans where numbers are
meant, values past the bounds no real market reaches, over-long text, and scenario files that
are not small regular files. Each refusal is one 'FILE:LINE: field.path: message' line."""

from __future__ import annotations

import copy
import json
import math
import os
import re
import typing
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnisim.cli import app
from omnisim.scenario import loading, schema
from omnisim.scenario.loading import (
    MAX_FILE_BYTES,
    ScenarioError,
    load_scenario,
    read_document,
    scenario_from_dict,
    strategy_names,
    validate_file,
)

ROOT = Path(__file__).parents[3]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
BOOL = "expected a number, got a boolean"
FINITE = "Input should be a finite number"


def problems_of(func, *args, **kwargs) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        func(*args, **kwargs)
    return info.value.problems


def line_of(path: Path, text: str) -> int:
    """1-based line of the first line of `path` containing `text`."""
    for k, row in enumerate(path.read_text().splitlines(), start=1):
        if text in row:
            return k
    raise AssertionError(f"{text!r} not in {path}")


def tiny_yaml(tmp_path: Path, replace: dict[str, str] | None = None) -> Path:
    """The quickstart file, with whole lines replaced (`old line start` -> new line)."""
    rows = QUICKSTART.read_text().splitlines()
    for old, new in (replace or {}).items():
        hits = [k for k, row in enumerate(rows) if row.startswith(old)]
        assert len(hits) == 1, old
        rows[hits[0]] = new
    path = tmp_path / "market.yaml"
    path.write_text("\n".join(rows) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# Non-finite numbers


@pytest.mark.parametrize(
    ("line", "value", "field"),
    [
        ("horizon_days:", "horizon_days: .inf", "horizon_days"),
        ("horizon_days:", "horizon_days: -.inf", "horizon_days"),
        ("  unit_cost:", "  unit_cost: .nan", "product.unit_cost"),
        ("  consumers:", "  consumers: .inf", "market.consumers"),
    ],
)
def test_non_finite_numbers_in_a_yaml_file_are_refused_at_their_line(tmp_path, line, value, field):
    path = tiny_yaml(tmp_path, {line: value})
    assert problems_of(load_scenario, path) == [f"{path}:{line_of(path, value)}: {field}: {FINITE}"]


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("product.unit_cost=inf", "product.unit_cost"),
        ("channels.platform.price_index=inf", "channels.platform.price_index"),
        ("promotions.double_11.need_multiplier=inf", "promotions.double_11.need_multiplier"),
        ("horizon_days=.inf", "horizon_days"),
        ("product.list_price=nan", "product.list_price"),
        ("product.list_price=.NaN", "product.list_price"),
        ("market.distance_days.shanghai.suzhou=-inf", "market.distance_days.shanghai.suzhou"),
        ("segments.young_online.habits.platform=.inf", "segments.young_online.habits.platform"),
        ("channels.phone_dm.reach={shanghai: .inf}", "channels.phone_dm.reach.shanghai"),
    ],
)
def test_non_finite_numbers_from_set_are_refused(assignment, field):
    assert problems_of(load_scenario, QUICKSTART, overrides=[assignment]) == [
        f"--set {assignment}: {field}: {FINITE}"
    ]


def test_non_finite_numbers_in_toml_and_json(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(
        'name = "t"\nhorizon_days = inf\n[market]\nconsumers = 10\n'
        '[[segments]]\nname = "a"\nshare = nan\n'
        '[[channels]]\nname = "web"\ntype = "own_online"\nnodes = ["dc"]\n'
        '[[nodes]]\nname = "dc"\nkind = "warehouse"\nregion = "city"\n'
    )
    assert problems_of(load_scenario, toml) == [
        f"{toml}:2: horizon_days: {FINITE}",
        f"{toml}:7: segments.a.share: {FINITE}",
    ]
    js = tmp_path / "s.json"
    data = read_document(toml) | {"horizon_days": 30}
    data["segments"][0]["share"] = 1.0
    data["product"] = {"unit_cost": math.inf}
    js.write_text(json.dumps(data, indent=1))  # Python writes the JSON extension `Infinity`
    assert "Infinity" in js.read_text()
    assert problems_of(load_scenario, js) == [
        f"{js}:{line_of(js, 'Infinity')}: product.unit_cost: {FINITE}"
    ]


def test_a_non_finite_number_in_a_strategy_names_the_strategy_line(tmp_path):
    path = tiny_yaml(tmp_path, {"      unified_price:": "      unified_price: {price_index: .inf}"})
    line = line_of(path, "price_index: .inf")
    assert validate_file(path) == [
        f"{path}:{line}: strategies.unified_price.omnichannel.unified_price.price_index: {FINITE}"
    ]


def test_a_negative_profit_floor_is_still_allowed_but_not_minus_infinity():
    data = read_document(ROOT / "scenarios" / "fmcg_flattening.yaml")
    data.pop("strategies")
    net = data["network"]
    net["exit"] = {"profit_floor": -1e12, "window_days": 30, "check_every_days": 7}
    assert scenario_from_dict(data).network.exit.profit_floor == -1e12
    net["exit"]["profit_floor"] = -math.inf
    assert problems_of(scenario_from_dict, data, source="d") == [
        f"d: network.exit.profit_floor: {FINITE}"
    ]


# --------------------------------------------------------------------------------------------
# Booleans where numbers are meant


def test_consumers_true_is_refused_at_its_line(tmp_path):
    path = tiny_yaml(tmp_path, {"  consumers:": "  consumers: true"})
    assert problems_of(load_scenario, path) == [
        f"{path}:{line_of(path, 'consumers: true')}: market.consumers: {BOOL}"
    ]


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("market.consumers=true", "market.consumers"),
        ("horizon_days=false", "horizon_days"),
        ("seed=true", "seed"),
        ("segments.young_online.habits.platform=true", "segments.young_online.habits.platform"),
        ("channels.phone_dm.reach=true", "channels.phone_dm.reach"),
        ("channels.phone_dm.reach={shanghai: true}", "channels.phone_dm.reach.shanghai"),
        ("market.distance_days.shanghai.suzhou=true", "market.distance_days.shanghai.suzhou"),
        ("nodes.flagship_sh.service.waiting_room=true", "nodes.flagship_sh.service.waiting_room"),
    ],
)
def test_booleans_from_set_are_refused(assignment, field):
    assert problems_of(load_scenario, QUICKSTART, overrides=[assignment]) == [
        f"--set {assignment}: {field}: {BOOL}"
    ]


def test_real_booleans_still_work():
    sc = load_scenario(
        QUICKSTART,
        overrides=[
            "channels.flagship.recognises_membership=false",
            "journey.aware_after_purchase=false",
            "omnichannel.shared_inventory=true",
            "omnichannel.unified_price={promotions_everywhere: false}",
        ],
    )
    assert sc.channels[0].recognises_membership is False
    assert sc.journey.aware_after_purchase is False
    assert sc.omnichannel.shared_inventory is True
    assert sc.omnichannel.unified_price is not None
    assert sc.omnichannel.unified_price.promotions_everywhere is False
    # Numbers written as integers or floats are still numbers of either kind.
    sc = load_scenario(QUICKSTART, overrides=["market.consumers=1e3", "horizon_days=160"])
    assert (sc.market.consumers, sc.horizon_days) == (1000, 160.0)


def _numeric_leaves(data: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _numeric_leaves(v, (*path, k))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _numeric_leaves(v, (*path, i))]
    if isinstance(data, int | float) and not isinstance(data, bool):
        return [path]
    return []


def _set(data: dict, path: tuple, value: Any) -> dict:
    out = copy.deepcopy(data)
    cur = out
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return out


def _every_numeric_field() -> list[tuple[str, dict, tuple]]:
    """(label, data, path): one case per numeric field of the example scenarios and their
    strategies, defaults filled in (list items by index, each field once)."""
    cases: dict[str, tuple[str, dict, tuple]] = {}
    # Fields no example sets (their defaults are None), to cover them too.
    extra = {
        "media_membership.yaml": [
            "media.vehicles.tv.flighting=[{start_day: 0, end_day: 9, daily_budget: 10}]"
        ],
        "quickstart.yaml": [
            "segments.young_online.region_mix={shanghai: 2, suzhou: 1}",
            "product.reference_price=180",
            "channels.mini_mall.promised_days=2",
            "nodes.flagship_sh.service.waiting_room=5",
            "nodes.central_dc.replenishment.reorder_point=100",
            "nodes.central_dc.initial_stock=1000",
            "competition={regions: {shanghai: 0.9}, segments: {young_online: 1.1}}",
            "segments.young_online.heterogeneity={need_rate_shape: 2, dropout: {a: 1, b: 3}}",
        ],
        "fmcg_flattening.yaml": [
            "network.levels.city_dealer.policy={kind: s_S, order_up_to: 900, reorder_point: 10}",
            "network.levels.national_agent.retail_share=0.5",
            "network.brand_share=0.4",
            "network.dealers.national.initial_stock=100",
            "network.dealers.prov_zj.markup=0.1",
            "network.dealers.prov_zj.holding_cost_rate=0.3",
            "network.dealers.prov_zj.ordering_cost=5",
            "network.dealers.prov_zj.review_days=3",
            "nodes.store_hz.markup=0.2",
            "network.exit={profit_floor: 0, window_days: 30, check_every_days: 7, after_days: 40}",
        ],
    }
    for path in EXAMPLES:
        for strategy in [None, *strategy_names(path)]:
            data = load_scenario(path, strategy, extra.get(path.name, [])).model_dump(mode="json")
            data.pop("strategies")
            for leaf in _numeric_leaves(data):
                if leaf[:3] == ("social", "graph", "params"):
                    continue  # a union that takes booleans too (checked by the social rules)
                key = ".".join("*" if isinstance(k, int) else str(k) for k in leaf)
                cases.setdefault(key, (f"{path.stem}:{key}", data, leaf))
    return list(cases.values())


NUMERIC = _every_numeric_field()


def _model_of(tp: Any) -> type[schema._Model] | None:
    """The scenario model a field's type holds (directly, optional, or in a list or dict)."""
    if isinstance(tp, type) and issubclass(tp, schema._Model):
        return tp
    for arg in typing.get_args(tp):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _is_numeric(tp: Any) -> bool:
    if tp in (int, float):
        return True
    return any(_is_numeric(arg) for arg in typing.get_args(tp))


def _field_at(leaf: tuple) -> tuple[str, str]:
    """(model, field) that a data path ends in (list indices and mapping keys skipped)."""
    model: type[schema._Model] = schema.Scenario
    owner = ("Scenario", str(leaf[0]))
    for key in leaf:
        if isinstance(key, str) and key in model.model_fields:
            owner = (model.__name__, key)
            inner = _model_of(model.model_fields[key].annotation)
            if inner is None:
                break
            model = inner
    return owner


def test_every_numeric_field_of_every_model_is_covered():
    """The cases below reach every int and float field of every model of the schema."""
    covered = {_field_at(leaf) for _, _data, leaf in NUMERIC}
    numeric = {
        (model.__name__, name)
        for model in vars(schema).values()
        if isinstance(model, type) and issubclass(model, schema._Model)
        for name, info in model.model_fields.items()
        if _is_numeric(info.annotation) and (model, name) != (schema.SocialGraph, "params")
    }
    assert numeric - covered == set()
    assert len(numeric) > 150


@pytest.mark.parametrize(("label", "data", "leaf"), NUMERIC, ids=[c[0] for c in NUMERIC])
def test_every_numeric_field_refuses_booleans_and_non_finite_values(label, data, leaf):
    # One problem, at the field that holds the value (its last path segment ends the path).
    at = re.compile(rf"d: (.+\.)?{re.escape(str(leaf[-1]))}: ")
    for value, message in ((True, BOOL), (False, BOOL), (math.inf, FINITE), (math.nan, FINITE)):
        found = problems_of(scenario_from_dict, _set(data, leaf, value), source="d")
        assert len(found) == 1 and found[0].endswith(f": {message}"), (value, found)
        assert at.match(found[0]), found


# --------------------------------------------------------------------------------------------
# Bounds past which a value can only be a mistake


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("promotions.double_11.need_multiplier=1e300", "less than or equal to 1000"),
        ("horizon_days=1e9", "less than or equal to 36500"),
        ("engine.bucket_hours=1e-7", "greater than or equal to 0.01"),
        ("engine.timeseries_days=1e-9", "greater than or equal to 0.01"),
        ("product.unit_cost=1e300", "less than or equal to 10000000000000000"),
        ("channels.platform.price_index=1e300", "less than or equal to 100"),
        ("segments.young_online.need.cv=1e300", "less than or equal to 10"),
        ("segments.young_online.need.basket_mean_units=1e15", "less than or equal to 1000"),
        ("nodes.flagship_sh.service.servers=1000000000000", "less than or equal to 10000"),
        ("nodes.flagship_sh.replenishment.review_days=1e-300", "greater than or equal to 0.01"),
        ("nodes.central_dc.replenishment.order_up_to=10000000000000000000", "less than or"),
        ("nodes.central_dc.replenishment.lead_time_days=1e300", "less than or equal to 3650"),
        ("replications=1000000000", "less than or equal to 10000"),
    ],
)
def test_values_past_their_bounds_are_refused(assignment, message):
    (found,) = problems_of(load_scenario, QUICKSTART, overrides=[assignment])
    field = assignment.split("=")[0]
    assert found.startswith(f"--set {assignment}: {field}: Input should be ")
    assert message in found


def test_a_bound_in_a_file_names_its_line(tmp_path):
    path = tiny_yaml(tmp_path, {"horizon_days:": "horizon_days: 1e9"})
    assert problems_of(load_scenario, path) == [
        f"{path}:{line_of(path, 'horizon_days: 1e9')}: horizon_days: Input should be less than "
        "or equal to 36500"
    ]


def test_the_bounds_are_in_the_field_descriptions():
    fields = schema.Scenario.model_fields
    assert "36,500" in fields["horizon_days"].description
    engine = schema.Engine.model_fields
    assert "0.01" in engine["bucket_hours"].description
    assert "0.01" in engine["timeseries_days"].description
    assert "1,000" in schema.Promotion.model_fields["need_multiplier"].description


def test_a_media_budget_that_buys_over_1000_impressions_per_consumer_a_day_is_refused():
    path = ROOT / "scenarios" / "media_membership.yaml"
    # 20,000 consumers: 1,000 a day each is 2e7 impressions, 1.2e6 at the tv's cpm of 60.
    assert load_scenario(path, overrides=["media.vehicles.tv.daily_budget=1.2e6"]).media
    budget = "media.vehicles.tv.daily_budget=1.3e6"
    assert problems_of(load_scenario, path, overrides=[budget]) == [
        f"--set {budget}: media.vehicles.tv.daily_budget: buys 1,083 impressions a day per "
        "consumer at a cpm of 60 (20,000 consumers): at most 1,000"
    ]
    # A flighting window's budget, for a smaller market: 1e4 at a cpm of 60 for 150 consumers.
    small = ["market.consumers=150", "social.kols.followers=50"]
    assert load_scenario(path, overrides=small).market.consumers == 150
    flight = "media.vehicles.tv.flighting=[{start_day: 0, end_day: 9, daily_budget: 1e4}]"
    assert problems_of(load_scenario, path, overrides=[*small, flight]) == [
        f"--set {flight}: media.vehicles.tv.flighting.0.daily_budget: buys 1,111 impressions a "
        "day per consumer at a cpm of 60 (150 consumers): at most 1,000"
    ]


# --------------------------------------------------------------------------------------------
# Text length


def test_a_long_description_is_refused_and_a_long_enough_one_is_not(tmp_path):
    path = tiny_yaml(tmp_path, {"description:": "description: " + "x" * schema.MAX_DESCRIPTION})
    assert len(load_scenario(path).description) == schema.MAX_DESCRIPTION
    path = tiny_yaml(tmp_path, {"description:": "description: " + "x" * 1_000_000})
    assert problems_of(load_scenario, path) == [
        f"{path}:8: description: String should have at most 20000 characters"
    ]
    # A 50 MB description does not get that far in a file (see the size limit), nor from code.
    data = read_document(QUICKSTART) | {"description": "x" * 50_000_000}
    assert problems_of(scenario_from_dict, data, source="d") == [
        "d: description: String should have at most 20000 characters"
    ]


@pytest.mark.parametrize(
    ("assignment", "field"),
    [
        ("name=" + "n" * 201, "name"),
        ("currency=" + "c" * 201, "currency"),
        ("channels.platform.name=" + "p" * 201, "channels.0.name"),
        ("segments.young_online.habits={" + "h" * 201 + ": 0.5}", "segments.young_online.habits"),
    ],
)
def test_names_and_other_text_are_at_most_200_characters(assignment, field):
    (found,) = problems_of(load_scenario, QUICKSTART, overrides=[assignment])
    assert found.startswith(f"--set {assignment}: ")
    assert "String should have at most 200 characters" in found
    assert load_scenario(QUICKSTART, overrides=["name=" + "n" * 200]).name == "n" * 200


def test_a_long_strategy_name_is_refused(tmp_path):
    path = tiny_yaml(tmp_path, {"  baseline: {}": "  " + "s" * 201 + ": {}"})
    found = problems_of(load_scenario, path)
    assert found == [
        f"{path}:{line_of(path, 's' * 201)}: strategies.{'s' * 201}: String should have at most "
        "200 characters (the key, not its value)"
    ]


# --------------------------------------------------------------------------------------------
# Scenario files that are not small regular files


def test_a_symlink_to_dev_zero_is_refused_without_reading_it(tmp_path):
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    assert problems_of(load_scenario, link) == [
        f"{link}: is a character device, not a regular file"
    ]


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert problems_of(load_scenario, fifo) == [
        f"{fifo}: is a named pipe (FIFO), not a regular file"
    ]
    assert validate_file(fifo) == [f"{fifo}: is a named pipe (FIFO), not a regular file"]


def test_a_folder_is_refused(tmp_path):
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    assert problems_of(load_scenario, folder) == [f"{folder}: is a folder, not a file"]


def test_missing_and_dangling_paths(tmp_path):
    dangling = tmp_path / "dangling.yaml"
    dangling.symlink_to(tmp_path / "nowhere.yaml")
    assert problems_of(load_scenario, dangling) == [f"{dangling}: file not found"]
    assert problems_of(strategy_names, tmp_path / "none.json") == [
        f"{tmp_path / 'none.json'}: file not found"
    ]


def test_a_file_over_5_mib_is_refused_from_its_size(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: its size says enough, nothing is read
    assert problems_of(load_scenario, big) == [
        f"{big}: file too large (1,048,577 bytes; a scenario file may have at most 1 MiB)"
    ]


def test_a_file_just_under_the_limit_is_read(tmp_path, monkeypatch):
    # At a smaller limit, so that the YAML parse of the filler stays quick: the boundary is
    # the same code.
    monkeypatch.setattr(loading, "MAX_FILE_BYTES", 64 * 2**10)
    ok = tmp_path / "ok.yaml"
    ok.write_text("name: ok\n" + ("#" * 79 + "\n") * ((64 * 2**10 - 100) // 80))
    assert ok.stat().st_size <= 64 * 2**10
    assert read_document(ok) == {"name": "ok"}
    ok.write_text(ok.read_text() + "#" * 200 + "\n")
    assert problems_of(load_scenario, ok) == [
        f"{ok}: file too large ({ok.stat().st_size:,} bytes; a scenario file may have at most "
        "65,536 bytes)"
    ]


def test_a_file_whose_size_is_not_told_is_read_only_up_to_the_limit(tmp_path, monkeypatch):
    # Some files (in /proc) report size 0 and hold more: reading stops one byte past the limit.
    path = tmp_path / "liar.yaml"
    path.write_bytes(b"name: x\n" + b"#" * (3 * MAX_FILE_BYTES))
    real_stat = os.stat

    def stat(p, *a, **k):
        info = real_stat(p, *a, **k)
        if os.fspath(p) != os.fspath(path):
            return info
        return os.stat_result((info.st_mode, *info[1:6], 0, *info[7:]))

    reads: list[int] = []
    real_fdopen = os.fdopen

    class Counting:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def fileno(self):
            return self.f.fileno()

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

    monkeypatch.setattr(os, "stat", stat)
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: Counting(real_fdopen(fd, *a, **k)))
    assert problems_of(load_scenario, path) == [
        f"{path}: file too large (more than 1,048,576 bytes; a scenario file may have at most "
        "1 MiB)"
    ]
    assert reads == [MAX_FILE_BYTES + 1]


def test_the_cli_refuses_a_fifo_in_one_line_with_exit_2(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["run", str(fifo), "--out", str(out), "--quiet"])
    assert r.exit_code == 2, r.output
    assert r.stderr.strip() == f"{fifo}: is a named pipe (FIFO), not a regular file"
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# The bounds are safe: a market at many of them at once runs and writes finite results
# (slow: the largest need multiplier on the shortest need interval makes millions of need
# epochs, seconds compiled but about 18 minutes with the kernels interpreted)

AT_THE_BOUNDS = [
    "market.consumers=150",
    "horizon_days=15",
    "warmup_days=1",
    "promotions.double_11.start_day=3",
    "promotions.double_11.end_day=6",
    f"promotions.double_11.need_multiplier={schema.MAX_MULTIPLIER}",
    f"product.list_price={schema.MAX_MONEY}",
    f"product.unit_cost={schema.MAX_MONEY}",
    f"channels.platform.price_index={schema.MAX_PRICE_INDEX}",
    f"channels.flagship.fixed_cost_per_day={schema.MAX_MONEY}",
    f"channels.mini_mall.delivery_fee={schema.MAX_MONEY}",
    f"channels.mini_mall.order_cost={schema.MAX_MONEY}",
    "segments.young_online.need.basket_mean_units=1000",
    f"segments.young_online.need.cv={schema.MAX_CV}",
    "segments.family_offline.need.cv=0.01",
    f"segments.young_online.need.mean_interval_days={schema.MIN_PERIOD_DAYS}",
    "nodes.flagship_sh.service.servers=10000",
    "nodes.flagship_sz.service.waiting_room=100000",
    "nodes.flagship_sz.service.service_distribution=lognormal",
    f"nodes.flagship_sz.service.service_cv={schema.MAX_CV}",
    f"nodes.central_dc.holding_cost_per_unit_day={schema.MAX_MONEY}",
    f"nodes.central_dc.replenishment.order_up_to={schema.MAX_UNITS}",
    f"nodes.central_dc.replenishment.lead_time_days={schema.MAX_LEAD_DAYS}",
    f"nodes.central_dc.replenishment.review_days={schema.MIN_PERIOD_DAYS}",
    f"engine.bucket_hours={schema.MIN_BUCKET_HOURS}",
    f"engine.timeseries_days={schema.MIN_PERIOD_DAYS}",
    "seasonality.amplitude=0.999",
]


@pytest.mark.slow
def test_a_market_at_the_bounds_runs_and_writes_finite_results(tmp_path):
    out = tmp_path / "out"
    args = ["run", str(QUICKSTART), "--out", str(out), "--reps", "1", "--quiet"]
    r = CliRunner().invoke(app, [*args, *(x for a in AT_THE_BOUNDS for x in ("--set", a))])
    assert r.exit_code == 0, (r.output, r.exception)
    # summary.json is written without NaN or infinity (json.loads would read them back).
    summary = json.loads((out / "summary.json").read_text(), parse_constant=pytest.fail)
    assert summary["kpis"]["revenue"]["mean"] > 1e16
    assert math.isfinite(summary["kpis"]["brand_profit"]["mean"])
