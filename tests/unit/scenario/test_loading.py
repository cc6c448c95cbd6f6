"""Scenario loading: formats, strategies, overrides, and problems named by file, line and field."""

from __future__ import annotations

import copy
import hashlib
import json
import os
from pathlib import Path

import pytest

from omnisim.channels.catalog import Geography
from omnisim.channels.policies import apply_policies
from omnisim.scenario.loading import (
    ScenarioError,
    apply_overlay,
    apply_override,
    load_scenario,
    read_document,
    scenario_from_dict,
    scenario_hash,
    strategy_names,
    validate_file,
)

DATA = Path(__file__).parent / "data"
QUICKSTART = Path(__file__).parents[3] / "scenarios" / "quickstart.yaml"
TINY = DATA / "tiny.yaml"


def problems_of(func, *args, **kwargs) -> list[str]:
    """The problems of the ScenarioError that `func` raises (and str(err) is their lines)."""
    with pytest.raises(ScenarioError) as info:
        func(*args, **kwargs)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


# --------------------------------------------------------------------------------------------
# Valid input


def test_quickstart_loads_base_and_both_strategies():
    assert strategy_names(QUICKSTART) == ["baseline", "unified_price"]
    base = load_scenario(QUICKSTART)
    assert base.name == "quickstart"
    assert load_scenario(QUICKSTART, strategy="baseline") == base
    assert load_scenario(QUICKSTART, strategy="unified_price") != base
    assert validate_file(QUICKSTART) == []


def test_unified_price_changes_exactly_the_intended_prices():
    base = load_scenario(QUICKSTART)
    unified = apply_policies(load_scenario(QUICKSTART, strategy="unified_price"))
    changed = {
        b.name: (b.price_index, u.price_index)
        for b, u in zip(base.channels, unified.channels, strict=True)
        if b.price_index != u.price_index
    }
    assert changed == {
        "dealer": (0.97, 1.0),
        "mini_mall": (0.98, 1.0),
        "platform": (0.93, 1.0),
        "livestream": (0.95, 1.0),
    }
    # The livestream's session discount goes, the promotion runs in every channel.
    live = next(c for c in unified.channels if c.name == "livestream")
    assert live.sessions is not None and live.sessions.discount == 0.0
    assert [p.channels for p in unified.promotions] == [None]
    # Everything else, channel order included, is untouched.
    strip = [c.model_copy(update={"price_index": 0.0, "sessions": None}) for c in base.channels]
    strip_u = [
        c.model_copy(update={"price_index": 0.0, "sessions": None}) for c in unified.channels
    ]
    assert strip == strip_u
    keep = {"channels": [], "promotions": [], "omnichannel": base.omnichannel}
    assert base.model_copy(update=keep) == unified.model_copy(update=keep)


@pytest.mark.parametrize("strategy", [None, "cheap_web"])
def test_yaml_toml_and_json_give_equal_scenarios(strategy):
    loaded = [load_scenario(DATA / f"tiny.{ext}", strategy) for ext in ("yaml", "toml", "json")]
    assert loaded[0] == loaded[1] == loaded[2]
    web = loaded[0].channels[0]
    assert web.price_index == (0.9 if strategy else 0.95)
    assert read_document(DATA / "tiny.toml") == read_document(DATA / "tiny.json")


def test_yaml_1_2_scalars():
    doc = read_document(DATA / "yaml12.yaml")
    assert doc["name"] == "NO"
    assert doc["description"] == "on"
    assert doc["seed"] == 755
    assert doc["currency"] == "2024-01-01"
    assert load_scenario(DATA / "yaml12.yaml").name == "NO"


def test_scenario_from_dict_matches_the_file_and_leaves_the_data_alone():
    data = read_document(TINY)
    before = copy.deepcopy(data)
    assert scenario_from_dict(data, "cheap_web") == load_scenario(TINY, "cheap_web")
    assert data == before
    data["market"]["consumers"] = 0
    assert problems_of(scenario_from_dict, data, source="mine") == [
        "mine: market.consumers: Input should be greater than or equal to 1"
    ]


# --------------------------------------------------------------------------------------------
# Problems, each with its line and field path


def test_field_errors_with_lines_in_file_order():
    path = DATA / "schema_errors.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:3: replications: Input should be a valid integer, unable to parse string as "
        "an integer",
        f"{path}:5: market.consumers: Input should be greater than or equal to 1",
        f"{path}:12: channels.web.comission: Extra inputs are not permitted",
        # one line for `reach: float | dict`, not one per union member
        f"{path}:16: channels.phone.reach: Input should be less than or equal to 1",
    ]


def test_field_errors_in_toml_and_json_are_located_by_scanning():
    toml, js = DATA / "bad_lines.toml", DATA / "bad_lines.json"
    assert problems_of(load_scenario, toml) == [
        f"{toml}:5: market.consumers: Input should be greater than or equal to 1",
        f"{toml}:20: channels.shop.comission: Extra inputs are not permitted",
    ]
    assert problems_of(load_scenario, js) == [
        f"{js}:3: market.consumers: Input should be greater than or equal to 1",
        f"{js}:9: channels.shop.comission: Extra inputs are not permitted",
    ]


def test_yaml_syntax_error():
    path = DATA / "bad_syntax.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:3: YAML error: mapping values are not allowed here (column 20)"
    ]


def test_duplicate_key():
    path = DATA / "duplicate_key.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:9: channels.web.price_index: duplicate key (first defined at line 8)"
    ]


def test_unsafe_tag_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    monkeypatch.chdir(tmp_path)  # the tag's command would create its marker here
    path = DATA / "unsafe_tag.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:3: description: tag '!!python/object/apply:os.system' is not allowed: a "
        "scenario holds only plain data (mappings, lists, strings, numbers, booleans, null)"
    ]
    assert validate_file(path) == problems_of(read_document, path)
    assert calls == []
    assert not (tmp_path / "omnisim_tag_marker").exists()


def test_every_non_core_tag_is_refused(tmp_path):
    path = tmp_path / "tags.yaml"
    path.write_text("a: !foo {x: 1}\nb: !!python/name:os.system\nc: !!str 3\nd: !!binary aGk=\n")
    found = problems_of(read_document, path)
    assert [p.split(": tag ")[0] for p in found] == [f"{path}:1: a", f"{path}:2: b", f"{path}:4: d"]


def test_unknown_node_from_cross_reference_checks():
    path = DATA / "unknown_node.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:10: channels.web.nodes.1: unknown node 'dc_north'"
    ]


def test_more_than_16_channels_is_refused_at_the_channels_line():
    path = DATA / "too_many_channels.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:5: channels: at most 16 channels are supported, not 17"
    ]
    assert validate_file(path) == [f"{path}:5: channels: at most 16 channels are supported, not 17"]
    # 16 is the limit, not an error.
    sixteen = [{"name": f"web{k}", "type": "own_online", "nodes": ["dc"]} for k in range(16)]
    assert len(load_scenario(path, overrides=[f"channels={json.dumps(sixteen)}"]).channels) == 16


def test_region_mix_needs_a_region_of_the_market_with_a_positive_weight():
    path = DATA / "region_mix_zero.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:13: segments.zero.region_mix: no region of the market has a positive weight",
        f"{path}:16: segments.elsewhere.region_mix: no region of the market has a positive weight",
        f"{path}:18: segments.elsewhere.region_mix.east: unknown region 'east'",
    ]


CONSISTENCY = DATA / "channel_consistency.yaml"
NO_WEB_SESSIONS = "channels.web.sessions=null"  # fixes the file's sessions problem
LIVE_COMMISSION = "channels.live.commission=0.3"  # fixes the file's commission problem


def test_commission_plus_intermediary_margin_at_most_1():
    path = CONSISTENCY
    assert problems_of(load_scenario, path, overrides=[NO_WEB_SESSIONS]) == [
        f"{path}:14: channels.live.commission: commission 0.4 plus intermediary_margin 0.7 "
        "exceeds 1: the brand's take of the price would be negative",
    ]
    # Exactly 1 is allowed (channel `dealer`: 0.2 + 0.8).
    sc = load_scenario(path, overrides=[NO_WEB_SESSIONS, LIVE_COMMISSION])
    assert [c.name for c in sc.channels] == ["dealer", "live", "web", "market"]
    # A problem an override causes names the override.
    more = [NO_WEB_SESSIONS, LIVE_COMMISSION, "channels.dealer.commission=0.3"]
    assert problems_of(load_scenario, path, overrides=more) == [
        "--set channels.dealer.commission=0.3: channels.dealer.commission: commission 0.3 plus "
        "intermediary_margin 0.8 exceeds 1: the brand's take of the price would be negative"
    ]


def test_sessions_only_on_livestream_channels():
    path = CONSISTENCY
    assert problems_of(load_scenario, path, overrides=[LIVE_COMMISSION]) == [
        f"{path}:20: channels.web.sessions: sessions apply only to livestream channels (this "
        "one is 'own_online')",
    ]
    # `sessions: null` (channel `market`) is the same as leaving it out.
    assert (
        load_scenario(path, overrides=[LIVE_COMMISSION, NO_WEB_SESSIONS]).channels[3].sessions
        is None
    )
    # Both problems at once, in file order.
    assert len(problems_of(load_scenario, path)) == 2


def test_distance_days_are_symmetric():
    path = DATA / "asymmetric_distance.yaml"
    assert problems_of(load_scenario, path) == [
        f"{path}:12: market.distance_days.east.north: 4 days, but north to east is 3 days: "
        "transport times are symmetric (give one direction, or equal values)"
    ]
    sc = load_scenario(path, overrides=["market.distance_days.east.north=3"])
    geo = Geography.from_scenario(sc)
    assert geo.names == ("north", "south", "east")
    # Given in one direction only, a transport time applies both ways.
    assert geo.days.tolist() == [[1.0, 2.0, 3.0], [2.0, 1.0, 2.0], [3.0, 2.0, 1.0]]
    sc = load_scenario(path, overrides=["market.distance_days={south: {east: 5}}"])
    assert Geography.from_scenario(sc).days.tolist() == [
        [1.0, 2.0, 2.0],
        [2.0, 1.0, 5.0],
        [2.0, 5.0, 1.0],
    ]


def test_strategy_errors_point_at_the_overlay():
    path = DATA / "bad_strategy.yaml"
    load_scenario(path)  # the base is valid
    free = [f"{path}:14: strategies.free.channels.web.price_index: Input should be greater than 0"]
    extra = [f"{path}:17: strategies.extra.channels.shop.type: Field required"]
    assert problems_of(load_scenario, path, strategy="free") == free
    assert problems_of(load_scenario, path, strategy="extra") == extra
    # A problem the strategy causes elsewhere is marked with the strategy's name.
    no_dc = [
        f"{path}:8: nodes: List should have at least 1 item after validation, not 0 "
        "(with strategy 'no_dc')"
    ]
    assert validate_file(path) == free + extra + no_dc


def test_validate_applies_overrides_to_every_strategy():
    path = DATA / "bad_strategy.yaml"
    extra = [f"{path}:17: strategies.extra.channels.shop.type: Field required"]
    no_dc = [
        f"{path}:8: nodes: List should have at least 1 item after validation, not 0 "
        "(with strategy 'no_dc')"
    ]
    # Applied after the strategy (as `run --strategy free --set ...` does), the override fixes
    # the price that `free` breaks.
    assert validate_file(path, overrides=["channels.web.price_index=0.5"]) == extra + no_dc
    # An override that only a strategy makes impossible is marked with the strategy's name.
    assert validate_file(
        path, overrides=["channels.web.price_index=0.5", "nodes.dc.initial_stock=5"]
    ) == [
        *extra,
        "--set nodes.dc.initial_stock=5: nodes: no list item 'dc' (items: none) "
        "(with strategy 'no_dc')",
    ]
    # A problem an override causes everywhere is reported once.
    assert validate_file(path, overrides=["market.consumers=0"]) == [
        "--set market.consumers=0: market.consumers: Input should be greater than or equal to 1",
        f"{path}:14: strategies.free.channels.web.price_index: Input should be greater than 0",
        *extra,
        *no_dc,
    ]


def test_unknown_strategy_lists_the_known_ones():
    line = QUICKSTART.read_text().splitlines().index("strategies:") + 1
    assert problems_of(load_scenario, QUICKSTART, strategy="cheap") == [
        f"{QUICKSTART}:{line}: strategies: unknown strategy 'cheap'; known strategies: baseline, "
        "unified_price"
    ]


def test_override_errors_name_the_override():
    assert problems_of(load_scenario, TINY, overrides=["market.consumers=-5"]) == [
        "--set market.consumers=-5: market.consumers: Input should be greater than or equal to 1"
    ]
    assert problems_of(load_scenario, TINY, overrides=["channels.web.nodes=[dc, nowhere]"]) == [
        "--set channels.web.nodes=[dc, nowhere]: channels.web.nodes.1: unknown node 'nowhere'"
    ]


def test_unreadable_files(tmp_path):
    assert problems_of(load_scenario, tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: file not found"
    ]
    other = tmp_path / "scenario.ini"
    other.write_text("name = x\n")
    assert problems_of(load_scenario, other) == [
        f"{other}: unsupported file type '.ini': use .yaml, .yml, .toml or .json"
    ]


# --------------------------------------------------------------------------------------------
# Overlays and overrides


def test_overlay_merge_semantics():
    base = {
        "market": {"consumers": 10, "same_region_days": 1.0},
        "channels": [
            {"name": "a", "price_index": 1.0, "nodes": ["x"]},
            {"name": "b", "price_index": 0.9},
            {"name": "c"},
        ],
        "tags": [1, 2, 3],
        "seed": 1,
        "strategies": {"s": {"seed": 2}},
    }
    overlay = {
        "market": {"consumers": 20},  # mappings merge
        "channels": [
            {"name": "b", "price_index": 1.0},  # merged by name
            {"name": "d", "type": "platform"},  # appended
            {"name": "c", "remove": True},  # removed
            {"name": "a", "nodes": ["y", "z"]},  # a plain list replaces
        ],
        "tags": [9],  # a plain list replaces
        "seed": 2,  # a scalar replaces
    }
    before = copy.deepcopy((base, overlay))
    assert apply_overlay(base, overlay) == {
        "market": {"consumers": 20, "same_region_days": 1.0},
        "channels": [
            {"name": "a", "price_index": 1.0, "nodes": ["y", "z"]},
            {"name": "b", "price_index": 1.0},
            {"name": "d", "type": "platform"},
        ],
        "tags": [9],
        "seed": 2,
        "strategies": {"s": {"seed": 2}},
    }
    assert (base, overlay) == before


def test_overlay_cannot_remove_a_missing_item():
    base = {"channels": [{"name": "a"}]}
    assert problems_of(apply_overlay, base, {"channels": [{"name": "z", "remove": True}]}) == [
        "<overlay>: channels.z: no item named 'z' to remove"
    ]


def test_overrides_by_index_and_by_name_after_the_strategy():
    sc = load_scenario(
        TINY,
        strategy="cheap_web",
        overrides=[
            "channels.bazaar.commission=0.05",
            "nodes.0.initial_stock=10",
            "segments.shoppers.need.mean_interval_days=5",
            "channels.1.price_index=0.8",
        ],
    )
    assert sc.channels[1].commission == 0.05
    assert sc.channels[1].price_index == 0.8
    assert sc.channels[0].price_index == 0.9  # from the strategy
    assert sc.nodes[0].initial_stock == 10
    assert sc.segments[0].need.mean_interval_days == 5


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("0.5", 0.5),
        ("true", True),
        ("null", None),
        ("NO", "NO"),
        ("[a, b]", ["a", "b"]),
        ("{x: 1}", {"x": 1}),
        ("two words", "two words"),
    ],
)
def test_override_values_are_yaml(text, value):
    data = {"market": {"regions": [{"name": "city"}]}}
    before = copy.deepcopy(data)
    out = apply_override(data, f"market.regions.city.extra={text}")
    assert out == {"market": {"regions": [{"name": "city", "extra": value}]}}
    assert data == before


@pytest.mark.parametrize(
    ("assignment", "problem"),
    [
        ("nodes.3.kind=store", "nodes: no list item '3' (items: a, b)"),
        ("nodes.c.kind=store", "nodes: no list item 'c' (items: a, b)"),
        ("seed.x=1", "seed: 1 is not a mapping or a list: no 'x' in it"),
        ("seed", "expected PATH=VALUE (no '=' found)"),
        ("=1", "empty path before '='"),
        ("nodes..kind=store", "empty segment in path 'nodes..kind'"),
    ],
)
def test_bad_override_paths(assignment, problem):
    data = {"seed": 1, "nodes": [{"name": "a"}, {"name": "b"}]}
    assert problems_of(apply_override, data, assignment) == [f"--set {assignment}: {problem}"]


# --------------------------------------------------------------------------------------------
# Hash


def test_scenario_hash_is_canonical():
    data = {"b": {"c": [1, 2.5, "x"]}, "a": 1}
    expected = hashlib.sha256(b'{"a":1,"b":{"c":[1,2.5,"x"]}}').hexdigest()
    assert scenario_hash(data) == expected
    assert scenario_hash({"a": 1, "b": {"c": [1, 2.5, "x"]}}) == expected
    assert scenario_hash({"a": 1, "b": {"c": [1, 2.5, "y"]}}) != expected
