"""Mutated scenario files never crash `omnisim run` (issue 13).

Hypothesis starts from each example scenario in scenarios/, shrunk to a tiny market (150
consumers, 15 days, one replication: a run takes a fraction of a second once the kernels are
compiled), and mutates it: it deletes fields and list items, puts values of another type where
numbers, strings, lists or mappings were (str, bool, list, mapping, null), puts extreme numbers
anywhere (0, -1, 1e308, inf, NaN, huge integers) and scales numbers by 0 to 1000. The mutated
document is written as YAML or JSON and run in-process, as `omnisim run FILE --out DIR --reps 1
--quiet`. Each run must either succeed with complete results, or exit 2 with one line per
problem and no results folder: never a traceback, another exit status, or a half-written
folder.

OMNISIM_MUTATIONS=<n> raises the number of examples per scenario file (exploration).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from builders import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from typer.testing import CliRunner

from omnisim.cli import app
from omnisim.scenario.loading import apply_override, read_document

# Overrides that make each example tiny; some examples need more than the common ones to stay
# valid at that size (KOL followers, a CLV window, a shock and a promotion inside 15 days).
TINY = ["market.consumers=150", "horizon_days=15", "warmup_days=1", "replications=1"]
INSIDE = ["promotions.double_11.start_day=3", "promotions.double_11.end_day=6"]
EXTRA = {
    "quickstart.yaml": INSIDE,
    "media_membership.yaml": ["social.kols.followers=50", *INSIDE],
    "omnichannel_roadmap.yaml": ["lifecycle.clv_days=7", *INSIDE],
    "pandemic_shift.yaml": ["shocks.epidemic.start_day=5", "shocks.epidemic.end_day=10"],
    "fmcg_flattening.yaml": [],
}
EXAMPLES = sorted((ROOT / "scenarios").glob("*.yaml"))
RESULTS = ("summary.json", "replications.csv", "manifest.json")
EXAMPLES_PER_FILE = int(os.environ.get("OMNISIM_MUTATIONS", "30"))

Path_ = tuple[Any, ...]


def tiny(path: Path) -> dict[str, Any]:
    data = read_document(path)
    for assignment in TINY + EXTRA[path.name]:
        data = apply_override(data, assignment)
    return data


BASES = {path.name: tiny(path) for path in EXAMPLES}


def paths(data: Any, at: Path_ = ()) -> list[Path_]:
    """Every path to a value below the root (mapping keys and list indices)."""
    if isinstance(data, dict):
        items: Any = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return []
    out: list[Path_] = []
    for key, value in items:
        out.append((*at, key))
        out.extend(paths(value, (*at, key)))
    return out


def get(data: Any, path: Path_) -> Any:
    for key in path:
        data = data[key]
    return data


FINITE = [0, -1, 1, 2**31, 2**63, 10**30, -(10**30), 0.0, -1.0, 0.5, 1e308, -1e308, 5e-324]
EXTREME_NUMBERS = st.sampled_from([*FINITE, math.inf, -math.inf, math.nan])
OTHER_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(["", "x", "inf", "nan", "1e400", "ninety", "true", "2024-01-01"]),
    st.just([]),
    st.just({}),
    st.just([1, "a", None]),
    st.just({"a": 1}),
    st.just({"name": "x"}),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A deep copy of `base` with one to three mutations, and their description."""
    data = json.loads(json.dumps(base))  # the base holds plain JSON data
    done: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        targets = paths(data)
        if not targets:
            break
        path = draw(st.sampled_from(targets))
        parent, key = get(data, path[:-1]), path[-1]
        old = parent[key]
        is_number = isinstance(old, int | float) and not isinstance(old, bool)
        kinds = ["delete", "number", "type", *(["scale"] * 2 if is_number else [])]
        kind = draw(st.sampled_from(kinds))
        if kind == "delete":
            del parent[key]
            done.append(f"delete {path}")
            continue
        if kind == "scale":
            # A plausible value far from the example's: often still valid, so the run path,
            # not only validation, meets unusual numbers.
            new = old * draw(st.sampled_from([0, 0.001, 0.1, 10, 1000]))
            parent[key] = type(old)(new) if isinstance(old, int) else new
            done.append(f"set {path} = {parent[key]!r}")
            continue
        if kind == "number" or is_number:
            # Numbers get extreme numbers or another type; other values either.
            new = draw(st.one_of(EXTREME_NUMBERS, OTHER_TYPES))
        else:
            new = draw(st.one_of(OTHER_TYPES, EXTREME_NUMBERS))
        parent[key] = copy.deepcopy(new)  # `st.just` gives the same object every time
        done.append(f"set {path} = {new!r}")
    return data, done


def write(data: dict[str, Any], folder: Path, fmt: str) -> Path:
    path = folder / f"mutated.{fmt}"
    if fmt == "json":
        # Python's JSON writes inf and NaN as Infinity and NaN, which it also reads.
        path.write_text(json.dumps(data, indent=1))
    else:
        buf = io.StringIO()
        YAML(typ="safe", pure=True).dump(data, buf)
        path.write_text(buf.getvalue())
    return path


def check_run(data: dict[str, Any], fmt: str, done: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(data, Path(tmp), fmt)
        out = Path(tmp) / "out"
        r = CliRunner().invoke(app, ["run", str(path), "--out", str(out), "--reps", "1", "-q"])
        what = f"mutations {done}; file:\n{path.read_text()[:4000]}"
        if r.exit_code == 0:
            missing = [name for name in RESULTS if not (out / name).is_file()]
            assert not missing, f"exit 0 but {missing} missing; {what}"
            return
        if r.exit_code != 2:
            raise AssertionError(f"exit {r.exit_code}: {r.exception!r}; {what}") from r.exception
        lines = r.stderr.splitlines()
        assert lines, f"exit 2 with nothing on stderr; {what}"
        for line in lines:
            assert line.strip() and not line[0].isspace() and ": " in line, (line, what)
        assert "Traceback" not in r.output, what
        assert not out.exists(), f"exit 2 but {out} was created; {what}"


@pytest.mark.parametrize("name", sorted(BASES))
def test_the_tiny_examples_run(name: str) -> None:
    """The starting points are valid, and run (so mutations start from a working file)."""
    check_run(BASES[name], "yaml", [])


@pytest.mark.parametrize("name", sorted(BASES))
@settings(
    max_examples=EXAMPLES_PER_FILE,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_scenarios_run_or_are_refused_in_one_line(name: str, data: st.DataObject) -> None:
    doc, done = data.draw(mutated(BASES[name]), label="mutated scenario")
    fmt = data.draw(st.sampled_from(["yaml", "json"]), label="format")
    check_run(doc, fmt, done)
