"""The layout of the scenario schema package: one module per section of a scenario, imports
that run one way, every name re-exported by `omnisim.scenario.schema`, and the cross-reference
checks run in a fixed order."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from omnisim.scenario import schema
from omnisim.scenario._base import _Model

PACKAGE = Path(schema.__file__).parent
ROOT = PACKAGE.parent.parent

SECTIONS: dict[str, set[str]] = {
    "_base": set(),
    "market": {"_base"},
    "engine": {"_base"},
    "supply": {"_base"},
    "channels": {"_base", "supply"},
    "marketing": {"_base", "supply", "channels"},
    "omnichannel": {"_base", "supply", "channels"},
}
"""Each module of the schema below `schema.py`, and every scenario module it may load (directly
or through another): imports run one way, from a section down to `_base`."""

ALONE = """
import importlib, importlib.abc, json, sys, types

# The package without its __init__ (which imports schema.py for the public API), so that
# only what the module imports itself is loaded.
package = types.ModuleType("omnisim")
package.__path__ = [{package!r}]
sys.modules["omnisim"] = package


class NoSchema(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "omnisim.scenario.schema" and {block}:
            raise ImportError("omnisim.scenario.schema imported by a section module")
        return None


sys.meta_path.insert(0, NoSchema())
importlib.import_module({module!r})
print(json.dumps(sorted(m for m in sys.modules if m.startswith("omnisim."))))
"""


def _import_alone(module: str, block_schema: bool) -> list[str]:
    """The omnisim modules loaded by importing `module` in a fresh interpreter."""
    code = ALONE.format(package=str(ROOT / "omnisim"), module=module, block=block_schema)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_a_section_imports_alone_and_only_the_sections_below_it(section):
    loaded = _import_alone(f"omnisim.scenario.{section}", block_schema=True)
    expected = {"omnisim.scenario", *(f"omnisim.scenario.{m}" for m in SECTIONS[section])}
    assert set(loaded) == {*expected, f"omnisim.scenario.{section}"}


def test_schema_imports_alone_over_the_sections():
    loaded = _import_alone("omnisim.scenario.schema", block_schema=False)
    assert set(loaded) == {
        "omnisim.scenario",
        "omnisim.scenario.schema",
        *(f"omnisim.scenario.{m}" for m in SECTIONS),
    }


def _imported_modules(path: Path) -> set[str]:
    """The modules a source file imports, by name (``from a import b`` counts a and a.b)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            out.add(base)
            out.update(f"{base}.{alias.name}".replace("..", ".") for alias in node.names)
    return out


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_no_section_imports_schema_even_for_type_checking(section):
    imported = _imported_modules(PACKAGE / f"{section}.py")
    assert not {m for m in imported if m.endswith(".schema") or m == "schema"}


def test_every_scenario_model_lives_in_one_section_and_schema_re_exports_it():
    """Every model, enum, constant and helper a section defines is reachable, as the same
    object, from `omnisim.scenario.schema` (so `from omnisim.scenario.schema import X` works),
    and no model is defined twice."""
    defined: dict[str, str] = {}
    for section in SECTIONS:
        module = importlib.import_module(f"omnisim.scenario.{section}")
        for name, value in vars(module).items():
            own = getattr(value, "__module__", None) == module.__name__
            if name.startswith("__") or not (own or name.isupper()):
                continue
            if name.endswith("problems"):
                continue  # the checks run through schema.CHECKS
            if own:
                assert name not in defined, f"{name} in {section} and {defined[name]}"
                defined[name] = section
            assert getattr(schema, name, None) is value, f"{section}.{name} not re-exported"
    models = {
        name
        for name, value in vars(schema).items()
        if isinstance(value, type) and issubclass(value, _Model) and value is not _Model
    }
    assert models - {"Scenario"} <= set(defined)
    assert schema.Scenario.__module__ == "omnisim.scenario.schema"


def _nested_models(model: type, seen: set[type]) -> set[type]:
    def walk(tp: object) -> None:
        if isinstance(tp, type) and issubclass(tp, _Model) and tp not in seen:
            seen.add(tp)
            for info in tp.model_fields.values():
                walk(info.annotation)
        for arg in getattr(tp, "__args__", ()):
            walk(arg)

    walk(model)
    return seen


def test_every_model_of_a_scenario_is_importable_from_schema():
    for model in _nested_models(schema.Scenario, set()):
        assert getattr(schema, model.__name__) is model


def test_the_checks_run_in_their_documented_order():
    names = [f"{check.__module__.rsplit('.', 1)[-1]}.{check.__name__}" for check in schema.CHECKS]
    assert names == [
        "schema._scenario_problems",
        "market.problems",
        "channels.problems",
        "marketing.promotion_problems",
        "market.lifecycle_problems",
        "supply.problems",
        "marketing.media_problems",
        "marketing.social_problems",
        "marketing.membership_problems",
        "omnichannel.problems",
        "omnichannel.shock_problems",
    ]


def test_problems_of_every_section_come_out_in_check_order():
    """One problem per check, each in a different section: they come out in `CHECKS` order
    (the order of the single function the checks were split from)."""
    data = {
        "name": "order",
        "horizon_days": 60,
        "market": {"consumers": 500},
        "segments": [{"name": "shoppers", "share": 1.0, "habits": {"nowhere": 0.5}}],
        "channels": [
            {"name": "web", "type": "own_online", "nodes": ["dc"], "reach": {"atlantis": 1.0}}
        ],
        "nodes": [{"name": "dc", "kind": "warehouse", "region": "city", "supplier": "x"}],
        "promotions": [
            {"name": "spring", "start_day": 1, "end_day": 2, "channels": ["nowhere"]},
            {"name": "spring", "start_day": 3, "end_day": 4},
        ],
        "lifecycle": {"clv_days": 1000},
        "media": {
            "vehicles": [
                {"name": "tv", "kind": "tv", "cpm": 10, "targeting": {"shoppers": 1, "x": 1}}
            ]
        },
        "social": {"graph": {"generator": "watts_strogatz_graph", "params": {"q": 1}}},
        "membership": {"initial_channel": "nowhere"},
        "omnichannel": {"allocation": {"territory_share": 0.1}},
        "shocks": [{"name": "late", "start_day": 100, "end_day": 120}],
    }
    locs = [loc for loc, _ in schema.cross_reference_problems(schema.Scenario(**data))]
    assert locs == [
        ("promotions", 1, "name"),
        ("segments", 0, "habits", "nowhere"),
        ("channels", 0, "reach", "atlantis"),
        ("promotions", 0, "channels", 0),
        ("lifecycle", "clv_days"),
        ("nodes", 0, "supplier"),
        ("media", "vehicles", 0, "targeting", "x"),
        ("social", "graph", "params", "q"),
        ("membership", "initial_channel"),
        ("omnichannel", "allocation", "territory_share"),
        ("shocks", 0, "start_day"),
    ]


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_each_module_says_what_it_holds(section):
    module = importlib.import_module(f"omnisim.scenario.{section}")
    assert module.__doc__ and len(module.__doc__.split()) > 20
