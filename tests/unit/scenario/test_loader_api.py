"""The public loader API, `ScenarioDraft`: the same scenarios and the same problems as
`load_scenario`, step by step, without changing any draft it starts from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from omnisim.scenario import loading
from omnisim.scenario.loading import (
    ScenarioDraft,
    ScenarioError,
    load_scenario,
    read_document,
    scenario_from_dict,
    scenario_hash,
    strategy_names,
)

ROOT = Path(__file__).parents[3]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
# Overrides valid on every example scenario.
OVERRIDES = ["market.consumers=3000", "seed=7"]


def problems_of(func, *args, **kwargs) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        func(*args, **kwargs)
    return info.value.problems


def draft() -> ScenarioDraft:
    return ScenarioDraft.from_file(QUICKSTART)


# --------------------------------------------------------------------------------------------
# The same scenario as load_scenario


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_and_strategy_matches_load_scenario(path: Path):
    base = ScenarioDraft.from_file(path)
    for strategy in [None, *strategy_names(path)]:
        expected = load_scenario(path, strategy, OVERRIDES)
        got = base.with_strategy(strategy).with_overrides(OVERRIDES).validate()
        assert got == expected
        assert got.model_dump(mode="json") == expected.model_dump(mode="json")


def test_from_dict_matches_scenario_from_dict():
    data = read_document(QUICKSTART)
    expected = scenario_from_dict(data, "unified_price", OVERRIDES)
    got = ScenarioDraft.from_dict(data).with_strategy("unified_price")
    assert got.with_overrides(OVERRIDES).validate() == expected


def test_with_value_sets_what_the_equivalent_override_sets():
    base = draft().with_strategy("unified_price")
    by_text = base.with_override("market.consumers=3000").with_override(
        "channels.platform.commission=0.1"
    )
    by_value = base.with_value("market.consumers", 3000).with_value(
        "channels.platform.commission", 0.1
    )
    assert by_value.to_dict() == by_text.to_dict()
    assert by_value.validate() == by_text.validate()
    assert (
        by_value.changes
        == by_text.changes
        == (
            "--set market.consumers=3000",
            "--set channels.platform.commission=0.1",
        )
    )


def test_to_dict_is_the_merged_data_that_is_hashed():
    d = draft().with_strategy("unified_price").with_overrides(OVERRIDES)
    data = d.to_dict()
    assert data["market"]["consumers"] == 3000
    assert data["omnichannel"]["unified_price"] == {"price_index": 1.0}
    assert scenario_hash(data) == scenario_hash(d.to_dict())
    assert d.source == str(QUICKSTART)
    assert d.strategy == "unified_price"
    assert d.strategy_names() == strategy_names(QUICKSTART)
    assert "unified_price" in repr(d) and "market.consumers=3000" in repr(d)


# --------------------------------------------------------------------------------------------
# Immutability


def test_every_step_returns_a_new_draft_and_leaves_the_old_one_alone():
    base = draft()
    before = base.to_dict()
    scenario = base.validate()
    variants = [
        base.with_strategy("unified_price"),
        base.with_override("market.consumers=3000"),
        base.with_overrides(OVERRIDES),
        base.with_value("market.consumers", 3000),
        base.with_value("channels.platform.commission", 0.5),
    ]
    assert all(v is not base for v in variants)
    assert base.to_dict() == before
    assert base.validate() == scenario
    assert base.strategy is None and base.changes == ()
    with pytest.raises(AttributeError):
        base._tree = None  # type: ignore[misc]  # frozen


def test_a_draft_does_not_share_containers_with_its_caller():
    data = read_document(QUICKSTART)
    d = ScenarioDraft.from_dict(data)
    data["market"]["consumers"] = 1  # the caller's data, changed afterwards
    assert d.to_dict()["market"]["consumers"] == 20000
    out = d.to_dict()
    out["market"]["consumers"] = 1  # and the data a draft hands out
    assert d.to_dict()["market"]["consumers"] == 20000
    regions = [{"name": "a", "population_share": 1.0}]
    v = d.with_value("market.regions", regions)
    regions.append({"name": "b", "population_share": 1.0})
    assert [r["name"] for r in v.to_dict()["market"]["regions"]] == ["a"]


def test_a_draft_is_a_common_base_for_many_variants():
    base = draft().with_overrides(OVERRIDES)
    values = [0.05, 0.1, 0.2]
    built = [base.with_value("channels.platform.commission", v).validate() for v in values]
    for v, sc in zip(values, built, strict=True):
        assert next(c for c in sc.channels if c.name == "platform").commission == v
        assert sc == load_scenario(
            QUICKSTART, None, [*OVERRIDES, f"channels.platform.commission={v}"]
        )


# --------------------------------------------------------------------------------------------
# Strategies


def test_with_strategy_replaces_an_earlier_choice_and_none_is_the_base():
    d = draft()
    assert d.with_strategy("unified_price").with_strategy(None).validate() == d.validate()
    again = d.with_strategy("baseline").with_strategy("unified_price").validate()
    assert again == load_scenario(QUICKSTART, "unified_price")


def test_the_strategy_comes_before_any_change():
    with pytest.raises(ValueError, match="before any override"):
        draft().with_override("market.consumers=3000").with_strategy("unified_price")
    with pytest.raises(ValueError, match="before any override"):
        draft().with_value("market.consumers", 3000).with_strategy(None)


def test_an_unknown_strategy_reads_as_the_loader_says_it():
    expected = problems_of(load_scenario, QUICKSTART, "nosuch")
    assert problems_of(draft().with_strategy, "nosuch") == expected
    assert re.fullmatch(
        r".*quickstart\.yaml:\d+: strategies: unknown strategy 'nosuch'.*", expected[0]
    )


# --------------------------------------------------------------------------------------------
# Problems


def test_a_bad_override_names_the_assignment_and_the_field():
    problems = problems_of(draft().with_override("market.consumers=-5").validate)
    assert problems == [
        "--set market.consumers=-5: market.consumers: Input should be greater than or equal to 1"
    ]
    assert problems == problems_of(load_scenario, QUICKSTART, None, ["market.consumers=-5"])


def test_a_bad_value_reads_exactly_as_the_equivalent_set():
    cases = [
        ("market.consumers", -5, "market.consumers=-5"),
        ("channels.platform.commission", 1.5, "channels.platform.commission=1.5"),
        ("channels.platform.commission", "high", "channels.platform.commission=high"),
        ("horizon_days", None, "horizon_days=null"),
        ("market.regions", [], "market.regions=[]"),
    ]
    for path, value, assignment in cases:
        by_value = problems_of(draft().with_value(path, value).validate)
        by_text = problems_of(draft().with_override(assignment).validate)
        assert by_value == by_text, assignment
        assert by_value[0].startswith(f"--set {assignment}: "), by_value


def test_a_path_that_cannot_be_followed_reads_as_the_equivalent_set():
    for path, value, assignment in [
        ("channels.nosuch.asc", 1, "channels.nosuch.asc=1"),
        ("market.consumers.x", 1, "market.consumers.x=1"),
        ("market..consumers", 1, "market..consumers=1"),
    ]:
        assert problems_of(draft().with_value, path, value) == problems_of(
            draft().with_override, assignment
        )
    assert problems_of(draft().with_value, "channels.nosuch.asc", 1) == [
        "--set channels.nosuch.asc=1: channels: no list item 'nosuch' (items: flagship, dealer, "
        "mini_mall, platform, livestream, phone_dm)"
    ]


def test_a_label_names_a_value_as_its_caller_wrote_it():
    problems = problems_of(
        draft().with_value("market.consumers", -5, label="--param market.consumers=-5:9").validate
    )
    assert problems == [
        "--param market.consumers=-5:9: market.consumers: Input should be greater than or "
        "equal to 1"
    ]


def test_problems_sort_file_lines_first_then_changes_in_order():
    text = ["channels.platform.commission=2", "market.consumers=-5"]
    expected = problems_of(load_scenario, QUICKSTART, None, text)
    mixed = draft().with_override(text[0]).with_value("market.consumers", -5)
    assert problems_of(mixed.validate) == expected
    assert [p.split(":")[0] for p in expected] == [f"--set {t}" for t in text]


def test_a_strategy_problem_keeps_its_file_line(tmp_path: Path):
    path = tmp_path / "s.yaml"
    text = QUICKSTART.read_text(encoding="utf-8").replace(
        "unified_price: {price_index: 1.0}", "unified_price: {price_index: -1.0}"
    )
    path.write_text(text, encoding="utf-8")
    expected = problems_of(load_scenario, path, "unified_price", OVERRIDES)
    got = problems_of(
        ScenarioDraft.from_file(path)
        .with_strategy("unified_price")
        .with_overrides(OVERRIDES)
        .validate
    )
    assert got == expected
    assert re.match(rf"{re.escape(str(path))}:\d+: strategies\.unified_price\.", got[0])


def test_an_unreadable_file_is_a_scenario_error(tmp_path: Path):
    assert problems_of(ScenarioDraft.from_file, tmp_path / "none.yaml") == [
        f"{tmp_path / 'none.yaml'}: file not found"
    ]
    assert problems_of(ScenarioDraft.from_dict, [1, 2]) == [  # type: ignore[arg-type]
        "<dict>: a scenario must be a mapping, not list"
    ]


# --------------------------------------------------------------------------------------------
# The API is public


def test_the_draft_is_exported_and_no_module_reaches_into_the_loader():
    assert "ScenarioDraft" in loading.__all__
    private = re.compile(r"\bloading\._[A-Za-z]|from omnisim\.scenario\.loading import[^\n]*\b_")
    users = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "omnisim").rglob("*.py")
        if p.name != "loading.py" and private.search(p.read_text(encoding="utf-8"))
    ]
    assert users == []
