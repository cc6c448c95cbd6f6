"""Parameter sweeps: a design over scenario parameters, its runs, and a sensitivity analysis.

A sweep varies some scenario fields (any dotted path `--set` accepts) over a **design**, runs
every design row ``reps`` times, and estimates how much each parameter moves each KPI:

* ``grid``: full factorial, ``n`` evenly spaced levels per continuous parameter (both ends
  included), the given levels for a categorical one;
* ``lhs``: ``n`` points of a Latin hypercube (`scipy.stats.qmc.LatinHypercube`);
* ``sobol``: Saltelli's cross-sampling of a scrambled Sobol' sequence
  (`SALib.sample.sobol.sample`, ``calc_second_order=False``): ``N(D + 2)`` rows for
  ``N = n`` base samples and ``D`` parameters, analysed with `SALib.analyze.sobol`;
* ``morris``: ``n`` trajectories of ``D + 1`` rows (`SALib.sample.morris.sample`, 4 levels),
  analysed with `SALib.analyze.morris`.

The unit-interval designs (lhs, sobol, morris) are drawn in ``[0, 1]^D`` and mapped onto each
parameter: linearly onto ``[LO, HI]``; for an integer field onto ``HI − LO + 1`` equal slices,
one per whole number (the stretched value rounded); for categorical levels onto ``k`` equal
slices, one per level in the order given.

Replication ``r`` of **every** row draws from the streams of ``(seed, r)``: common random
numbers across rows, so two rows differ only through their parameters, not through sampling
noise (``docs/sweeps.md``). Every finished row is written at once as ``runs/<id>.json``; a
sweep killed at any moment resumes (``resume=True``) without losing or redoing a finished row.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import math
import time
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from omnisim._version import __version__
from omnisim.experiments.executors import default_workers, open_executor, run_chunks
from omnisim.experiments.folders import default_folder
from omnisim.experiments.outputs import atomic_write_text, csv_text, environment_info, json_text
from omnisim.experiments.runs import RunRecord, RunSpec, run_specs, warm_kernels
from omnisim.scenario.loading import (
    ScenarioDraft,
    ScenarioError,
    apply_override,
    scenario_digest,
)
from omnisim.scenario.schema import Scenario
from omnisim.simulation import ensure_memory

__all__ = [
    "DESIGNS",
    "Design",
    "Param",
    "SweepPlan",
    "build_design",
    "default_sweep_dir",
    "parse_param",
    "plan_sweep",
    "run_sweep",
    "sensitivity_table",
    "sweep",
]

DESIGNS = ("grid", "lhs", "sobol", "morris")
MORRIS_LEVELS = 4
"""Grid levels of the Morris trajectories (p); the step is Δ = p / (2 (p − 1)) = 2/3."""
SOBOL_SECOND_ORDER = False
"""Sobol designs estimate S1 and ST only: N(D + 2) rows instead of N(2D + 2)."""
RESAMPLES = 500
"""Bootstrap resamples behind SALib's confidence intervals."""
MAX_ROWS = 1_000_000
"""Largest design accepted (a typo in --n should not queue a billion runs)."""
CHUNK_SECONDS = 0.25
"""Target worker time per submitted task (seconds): long enough that the executor's per-task
cost (≈0.2 ms process pool, 2–4 ms Dask; benchmarks/sweep.py) stays under 2 %, short enough
to write finished rows promptly."""
_DESIGN_KEY = 0x5357_4545
"""Spawn key of the design's random stream: apart from the runs' (replication, stream) keys."""

Kind = Literal["continuous", "integer", "levels"]
Value = float | int | str | bool | None


# --------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class Param:
    """One swept field.

    Attributes:
        spec: the parameter as given, ``path=LO:HI`` or ``path=v1,v2,...``.
        path: the dotted field path (as `--set` takes it).
        kind: ``continuous`` (a float range), ``integer`` (a range of whole numbers: the field
            is an int in the scenario schema) or ``levels`` (the listed values).
        low, high: the range's bounds, in the field's own unit (None for ``levels``).
        levels: the values as written (``levels`` only); each is parsed like a `--set` value.
    """

    spec: str
    path: str
    kind: Kind
    low: float | None = None
    high: float | None = None
    levels: tuple[str, ...] = ()

    @property
    def count(self) -> int | None:
        """Number of distinct values (None for a continuous range)."""
        if self.kind == "levels":
            return len(self.levels)
        if self.kind == "integer":
            assert self.low is not None and self.high is not None
            return int(self.high) - int(self.low) + 1
        return None

    def at(self, u: float) -> Value:
        """The value at ``u`` in [0, 1] of a unit-interval design (module docstring)."""
        u = min(max(float(u), 0.0), 1.0)
        if self.kind == "continuous":
            assert self.low is not None and self.high is not None
            # this form gives LO and HI exactly at u = 0 and 1 (LO + u(HI − LO) can overshoot
            # HI by one ulp, and a bound such as `le=1` would then refuse it)
            return min(max(self.low * (1.0 - u) + self.high * u, self.low), self.high)
        k = self.count
        assert k is not None
        slot = min(k - 1, math.floor(u * k))
        if self.kind == "integer":
            assert self.low is not None
            return int(self.low) + slot
        return level_value(self.levels[slot])

    def grid(self, n: int) -> list[Value]:
        """Grid levels: ``n`` evenly spaced values from LO to HI inclusive (an integer field's
        rounded to whole numbers, duplicates dropped); the listed values for ``levels``."""
        if self.kind == "levels":
            return [level_value(t) for t in self.levels]
        assert self.low is not None and self.high is not None
        points = np.linspace(self.low, self.high, n)
        if self.kind == "continuous":
            return [float(v) for v in points]
        # round half up (np.round would send 2.5 to 2 but 3.5 to 4)
        return list(dict.fromkeys(math.floor(v + 0.5) for v in points))

    def text(self, value: Value) -> str:
        """``value`` as the right-hand side of a `--set` assignment (parsed back exactly)."""
        if self.kind == "levels":
            for t in self.levels:
                if level_value(t) == value and type(level_value(t)) is type(value):
                    return t
            raise ValueError(f"{value!r} is not a level of {self.spec}")
        if self.kind == "integer":
            return str(int(value))  # type: ignore[arg-type]
        return repr(float(value))  # type: ignore[arg-type]  # repr round-trips a float

    def code(self, value: Value) -> float:
        """A number for rank statistics: the value itself, or the level's position."""
        if self.kind == "levels":
            return float([level_value(t) for t in self.levels].index(value))
        return float(value)  # type: ignore[arg-type]

    def identity(self) -> dict[str, Any]:
        """What makes two parameters the same (compared on resume)."""
        return {
            "path": self.path,
            "kind": self.kind,
            "low": self.low,
            "high": self.high,
            "levels": list(self.levels),
        }


@functools.lru_cache(maxsize=4096)
def level_value(text: str) -> Value:
    """A level's value as `--set` would parse it (YAML 1.2 scalar: 3, 0.5, true, a string)."""
    return apply_override({}, f"v={text}")["v"]


def parse_param(spec: str, integer: bool = False) -> Param:
    """Parse ``path=LO:HI`` (a range) or ``path=v1,v2,...`` (levels).

    ``integer`` says the field is an int in the schema: its bounds must then be whole numbers.
    Raises ScenarioError with a one-line message naming ``--param``.
    """
    label = f"--param {spec}"
    if "=" not in spec:
        raise ScenarioError([f"{label}: expected path=LO:HI or path=v1,v2,... (no '=' found)"])
    path, _, rhs = (s.strip() for s in spec.partition("="))
    if not path or any(not seg.strip() for seg in path.split(".")):
        raise ScenarioError([f"{label}: empty field path"])
    path = ".".join(seg.strip() for seg in path.split("."))
    if "," in rhs:
        levels = tuple(t.strip() for t in rhs.split(","))
        if any(not t for t in levels):
            raise ScenarioError([f"{label}: empty level in {rhs!r}"])
        try:
            values = [level_value(t) for t in levels]
        except ScenarioError:
            raise ScenarioError([f"{label}: a level is not a plain value"]) from None
        dup = [t for t, v in zip(levels, values, strict=True) if values.count(v) > 1]
        if dup:
            raise ScenarioError([f"{label}: level {dup[0]!r} is listed twice"])
        return Param(spec, path, "levels", levels=levels)
    if ":" not in rhs:
        raise ScenarioError(
            [
                f"{label}: expected a range LO:HI or at least two levels v1,v2 "
                "(use --set for a fixed value)"
            ]
        )
    lo_t, _, hi_t = (s.strip() for s in rhs.partition(":"))
    bounds = []
    for name, t in (("LO", lo_t), ("HI", hi_t)):
        try:
            v = float(t)
        except ValueError:
            raise ScenarioError([f"{label}: {name} bound {t!r} is not a number"]) from None
        if not math.isfinite(v):
            raise ScenarioError([f"{label}: {name} bound {t!r} is not a finite number"])
        bounds.append(v)
    lo, hi = bounds
    if lo >= hi:
        raise ScenarioError([f"{label}: LO ({lo_t}) must be below HI ({hi_t})"])
    if integer:
        if lo != math.floor(lo) or hi != math.floor(hi):
            raise ScenarioError(
                [f"{label}: {path} is a whole number: give whole-number bounds LO:HI"]
            )
        return Param(spec, path, "integer", float(lo), float(hi))
    return Param(spec, path, "continuous", lo, hi)


def _members(annotation: Any) -> list[Any]:
    """The types an annotation admits: `Annotated` unwrapped, unions flattened, None dropped."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for a in typing.get_args(annotation) for m in _members(a)]
    return [] if annotation is type(None) else [annotation]


def _child(annotation: Any, segment: str) -> Any:
    for m in _members(annotation):
        if isinstance(m, type) and issubclass(m, BaseModel):
            f = m.model_fields.get(segment)
            if f is not None:
                return f.annotation
        elif typing.get_origin(m) is list:
            return typing.get_args(m)[0]
        elif typing.get_origin(m) is dict:
            return typing.get_args(m)[1]
    return None


def is_integer_field(path: str) -> bool:
    """Whether the scenario schema types ``path`` as a whole number (False if the path is
    unknown: the loader reports that with its own message)."""
    annotation: Any = Scenario
    for seg in path.split("."):
        annotation = _child(annotation, seg)
        if annotation is None:
            return False
    numeric = [m for m in _members(annotation) if m in (int, float)]
    return bool(numeric) and all(m is int for m in numeric)


# --------------------------------------------------------------------------------------------
# Designs


@dataclass
class Design:
    """Rows of parameter values. ``unit`` holds the unit-interval points the values came from
    (None for a grid); SALib's analyses read them."""

    kind: str
    n: int
    params: list[Param]
    rows: list[dict[str, Value]]
    unit: np.ndarray | None = None

    def problem(self) -> dict[str, Any]:
        """SALib's problem dict (see `_problem`)."""
        return _problem(self.params)


def _problem(params: Sequence[Param]) -> dict[str, Any]:
    """SALib's problem dict: every parameter on [0, 1] (values are mapped afterwards)."""
    return {
        "num_vars": len(params),
        "names": [p.path for p in params],
        "bounds": [[0.0, 1.0]] * len(params),
    }


def _design_rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_DESIGN_KEY,)))


def check_design_size(kind: str, n: int, d: int) -> int:
    """Number of rows of a ``kind`` design of size ``n`` over ``d`` parameters; raises
    ScenarioError (one line per problem) for a size the design or SALib does not accept."""
    if kind not in DESIGNS:
        raise ScenarioError([f"--design: unknown design {kind!r} ({', '.join(DESIGNS)})"])
    if kind == "grid" and n < 2:
        raise ScenarioError([f"--n: a grid needs at least 2 levels per parameter, got {n}"])
    if kind == "lhs" and n < 2:
        raise ScenarioError([f"--n: a Latin hypercube needs at least 2 points, got {n}"])
    if kind == "sobol" and (n < 2 or n & (n - 1)):
        raise ScenarioError(
            [
                f"--n: sobol needs a power of two N >= 2 base samples (the design has "
                f"N(D + 2) rows), got {n}"
            ]
        )
    if kind == "morris" and n < 2:
        raise ScenarioError(
            [f"--n: morris needs at least 2 trajectories (sigma needs two), got {n}"]
        )
    if kind == "sobol":
        return n * (d + 2)
    if kind == "morris":
        return n * (d + 1)
    return n


def build_design(params: Sequence[Param], kind: str, n: int, seed: int) -> Design:
    """The design's rows (deterministic in ``params``, ``kind``, ``n`` and ``seed``).

    Raises ScenarioError for a size the design or SALib rejects, or a design over
    `MAX_ROWS` rows (checked before anything that large is drawn).
    """
    params = list(params)
    d = len(params)
    expected = check_design_size(kind, n, d)
    if kind == "grid":
        axes = [p.grid(n) for p in params] if n <= MAX_ROWS else []
        expected = math.prod(len(a) for a in axes) if axes else n
    if expected > MAX_ROWS:
        raise ScenarioError(
            [f"--n: the design has {expected:,} rows, more than {MAX_ROWS:,}; lower --n"]
        )
    if kind == "grid":
        rows = [
            {p.path: v for p, v in zip(params, combo, strict=True)}
            for combo in itertools.product(*axes)
        ]
        return Design(kind, n, params, rows)
    unit = _unit_design(params, kind, n, seed)
    rows = [{p.path: p.at(u) for p, u in zip(params, point, strict=True)} for point in unit]
    return Design(kind, n, params, rows, unit)


def _unit_design(params: Sequence[Param], kind: str, n: int, seed: int) -> np.ndarray:
    d = len(params)
    rng = _design_rng(seed)
    # A sampler's warning (e.g. scipy's "balance properties of Sobol' points require n to be a
    # power of 2") means the design is not what was asked for: refuse it as bad input.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            if kind == "lhs":
                from scipy.stats import qmc

                key = "rng" if "rng" in inspect.signature(qmc.LatinHypercube).parameters else "seed"
                return qmc.LatinHypercube(d=d, **{key: rng}).random(n)
            if kind == "sobol":
                from SALib.sample import sobol

                return sobol.sample(
                    _problem(params), n, calc_second_order=SOBOL_SECOND_ORDER, seed=rng
                )
            from SALib.sample import morris

            return morris.sample(_problem(params), n, num_levels=MORRIS_LEVELS, seed=rng)
        except (ValueError, UserWarning) as exc:
            reason = " ".join(str(exc).split())
            raise ScenarioError([f"--n: {kind} design of size {n} refused: {reason}"]) from None


# --------------------------------------------------------------------------------------------
# Sensitivity


def sensitivity_table(
    design: Design, means: Sequence[Mapping[str, float]], seed: int = 1
) -> pd.DataFrame:
    """Per KPI and parameter, the design's sensitivity measure (tidy: one row each).

    * sobol: ``S1, S1_conf, ST, ST_conf`` (`SALib.analyze.sobol`; Saltelli et al. 2010
      estimators, 95 % bootstrap half-widths);
    * morris: ``mu_star, mu_star_conf, sigma, mu`` (`SALib.analyze.morris`; effects per unit
      of the normalised [0, 1] range, i.e. KPI change across a parameter's whole range);
    * grid, lhs: ``spearman, spearman_ci_low, spearman_ci_high``, Spearman's rank correlation
      of the KPI with the parameter (levels ranked in the order given) and a 95 % interval
      from Fisher's z with the variance 1.06 / (n − 3) of Fieller, Hartley & Pearson (1957).

    ``means`` holds each row's KPI means, in design order. A KPI that is NaN in any row, or
    the same in every row, gets NaN measures; ``seed`` fixes the bootstrap.
    """
    kpis: list[str] = []
    for m in means:
        kpis += [k for k in m if k not in kpis]
    columns = _columns(design.kind)
    records: list[dict[str, Any]] = []
    for k in kpis:
        y = np.array([float(m.get(k, math.nan)) for m in means], dtype=np.float64)
        usable = bool(np.isfinite(y).all()) and len(y) > 1 and float(np.ptp(y)) > 0.0
        values = _analyse(design, y, seed) if usable else None
        for i, p in enumerate(design.params):
            rec: dict[str, Any] = {"kpi": k, "parameter": p.path}
            for c in columns:
                rec[c] = float(values[c][i]) if values is not None else math.nan
            records.append(rec)
    return pd.DataFrame.from_records(records, columns=["kpi", "parameter", *columns])


def _columns(kind: str) -> list[str]:
    if kind == "sobol":
        return ["S1", "S1_conf", "ST", "ST_conf"]
    if kind == "morris":
        return ["mu_star", "mu_star_conf", "sigma", "mu"]
    return ["spearman", "spearman_ci_low", "spearman_ci_high"]


def _analyse(design: Design, y: np.ndarray, seed: int) -> dict[str, Sequence[float]]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        if design.kind == "sobol":
            from SALib.analyze import sobol

            r = sobol.analyze(
                design.problem(),
                y,
                calc_second_order=SOBOL_SECOND_ORDER,
                num_resamples=RESAMPLES,
                seed=seed,
            )
            return {c: list(r[c]) for c in _columns("sobol")}
        if design.kind == "morris":
            from SALib.analyze import morris

            assert design.unit is not None
            r = morris.analyze(
                design.problem(),
                design.unit,
                y,
                num_resamples=RESAMPLES,
                num_levels=MORRIS_LEVELS,
                seed=seed,
            )
            return {c: list(r[c]) for c in _columns("morris")}
        return _spearman(design, y)


def _spearman(design: Design, y: np.ndarray) -> dict[str, Sequence[float]]:
    from scipy import stats

    n = len(y)
    out: dict[str, list[float]] = {c: [] for c in _columns(design.kind)}
    for p in design.params:
        x = np.array([p.code(row[p.path]) for row in design.rows], dtype=np.float64)
        # a parameter that takes one value only (a one-level grid axis) has no ranks
        rho = math.nan if float(np.ptp(x)) == 0.0 else float(stats.spearmanr(x, y).statistic)
        if n <= 3 or not math.isfinite(rho):
            lo = hi = math.nan
        elif abs(rho) >= 1.0:
            lo = hi = rho  # a perfect rank relation: Fisher's z is infinite
        else:
            z = math.atanh(rho)
            half = float(stats.norm.ppf(0.975)) * math.sqrt(1.06 / (n - 3))
            lo, hi = math.tanh(z - half), math.tanh(z + half)
        out["spearman"].append(rho)
        out["spearman_ci_low"].append(lo)
        out["spearman_ci_high"].append(hi)
    return out


def headline_measure(kind: str) -> str:
    """The column that ranks parameters for a design's sensitivity table."""
    return {"sobol": "ST", "morris": "mu_star"}.get(kind, "spearman")


# --------------------------------------------------------------------------------------------
# Planning: every check that can fail, before anything runs or is written


@dataclass
class SweepPlan:
    source: str
    base: Scenario
    digest: str
    strategy: str | None
    overrides: list[str]
    design: Design
    reps: int
    seed: int
    scenarios: list[Scenario]
    ids: list[str]
    identity: dict[str, Any] = field(default_factory=dict)


def default_sweep_dir(plan: SweepPlan) -> Path:
    """``results/<scenario>-sweep-<design>-<seed>-<hash>`` (`folders.default_folder`), the
    hash over every input that changes the sweep's results."""
    inputs = {
        "strategy": plan.strategy,
        "overrides": plan.overrides,
        "params": [p.spec for p in plan.design.params],
        "n": plan.design.n,
        "reps": plan.reps,
    }
    return default_folder(plan.base.name, f"sweep-{plan.design.kind}", plan.seed, inputs)


class _Builder:
    """Scenarios of a file (strategy and `--set` applied) with parameter values on top.

    The loader's draft of the base is built once; a row then only sets its values, already
    parsed, on that draft (`ScenarioDraft.with_value`) and validates the result. Going
    through `--set` text for every row would parse each value with the YAML reader again
    (about 1 ms each: a minute of planning for a large Sobol design). Problems read exactly
    as the loader's for ``--set PATH=VALUE``, with VALUE as the parameter writes it.
    """

    def __init__(
        self,
        scenario: str | Path | Mapping[str, Any],
        strategy: str | None,
        overrides: Sequence[str],
    ) -> None:
        if isinstance(scenario, Mapping):
            draft = ScenarioDraft.from_dict(scenario)
        else:
            draft = ScenarioDraft.from_file(scenario)
        self.draft = draft.with_strategy(strategy).with_overrides(list(overrides))

    def build(self, values: Sequence[tuple[Param, Value]] = ()) -> Scenario:
        """The validated scenario with each parameter set to its value."""
        draft = self.draft
        for p, v in values:
            draft = draft.with_value(p.path, v, label=f"--set {p.path}={p.text(v)}")
        return draft.validate()


def _param_problems(builder: _Builder, p: Param) -> list[str]:
    """The loader's problems for ``p`` at each end of its range (each level), with the
    `--set` label the loader gives replaced by the parameter as the user wrote it."""
    ends = [p.at(0.0), p.at(1.0)]
    values = [level_value(t) for t in p.levels] if p.kind == "levels" else ends
    out: list[str] = []
    seen: set[str] = set()
    for v in values:
        t = p.text(v)
        try:
            builder.build([(p, v)])
        except ScenarioError as e:
            for line in e.problems:
                prefix = f"--set {p.path}={t}: "
                rest = line[len(prefix) :] if line.startswith(prefix) else line
                if rest not in seen:
                    seen.add(rest)
                    out.append(f"--param {p.spec} (value {t}): {rest}")
    return out


def _plan(
    scenario: str | Path | Mapping[str, Any],
    params: Sequence[str],
    design: str,
    n: int,
    reps: int,
    seed: int | None,
    strategy: str | None,
    overrides: Sequence[str],
) -> SweepPlan:
    overrides = list(overrides)
    builder = _Builder(scenario, strategy, overrides)
    base = builder.build()
    seed_v = base.seed if seed is None else int(seed)
    problems: list[str] = []
    if isinstance(params, str):
        params = [params]
    if not params:
        problems.append("--param: give at least one parameter (path=LO:HI or path=v1,v2,...)")
    parsed: list[Param] = []
    for spec in params:
        try:
            path = spec.partition("=")[0].strip()
            parsed.append(parse_param(spec, integer=is_integer_field(path)))
        except ScenarioError as e:
            problems += e.problems
    paths = [p.path for p in parsed]
    for path in dict.fromkeys(x for x in paths if paths.count(x) > 1):
        problems.append(f"--param: {path} is swept twice")
    if reps < 1:
        problems.append(f"--reps: at least 1 replication per row, got {reps}")
    try:
        check_design_size(design, int(n), max(1, len(parsed)))
    except ScenarioError as e:
        problems += e.problems
    for p in parsed:
        problems += _param_problems(builder, p)
    if problems:
        raise ScenarioError(problems)
    built = build_design(parsed, design, int(n), seed_v)
    # Each row's scenario, validated now: a combination of values that only fails together
    # (e.g. commission + margin > 1) stops the sweep before anything runs.
    scenarios: list[Scenario] = []
    width = max(4, len(str(len(built.rows) - 1)))
    ids = [f"{i:0{width}d}" for i in range(len(built.rows))]
    for rid, row in zip(ids, built.rows, strict=True):
        try:
            scenarios.append(builder.build([(p, row[p.path]) for p in parsed]))
        except ScenarioError as e:
            values = ", ".join(f"{p.path}={p.text(row[p.path])}" for p in parsed)
            problems += [f"design row {rid} ({values}): {line}" for line in e.problems]
            if len(problems) >= 10:
                break
    if problems:
        raise ScenarioError(problems)
    for sc in {id(s): s for s in scenarios}.values():
        ensure_memory(sc)
    digest = scenario_digest(base)
    plan = SweepPlan(
        source=str(scenario) if not isinstance(scenario, Mapping) else "<dict>",
        base=base,
        digest=digest,
        strategy=strategy,
        overrides=overrides,
        design=built,
        reps=int(reps),
        seed=seed_v,
        scenarios=scenarios,
        ids=ids,
    )
    plan.identity = _identity(plan)
    return plan


def _identity(plan: SweepPlan) -> dict[str, Any]:
    return {
        "omnisim": __version__,
        "scenario": plan.base.name,
        "scenario_file": plan.source,
        "scenario_hash": plan.digest,
        "strategy": plan.strategy,
        "overrides": plan.overrides,
        "params": [p.spec for p in plan.design.params],
        "parameters": [p.identity() for p in plan.design.params],
        "design": plan.design.kind,
        "n": plan.design.n,
        "reps": plan.reps,
        "seed": plan.seed,
        "rows": len(plan.ids),
        "runs": len(plan.ids) * plan.reps,
        "sobol_second_order": SOBOL_SECOND_ORDER if plan.design.kind == "sobol" else None,
        "morris_levels": MORRIS_LEVELS if plan.design.kind == "morris" else None,
    }


# Keys of sweep.json that must match for a folder to hold "the same sweep". The file name,
# the strategy's name and the --set list may differ as long as the scenario hash agrees.
_SAME = ("omnisim", "scenario_hash", "parameters", "design", "n", "reps", "seed")


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    out = []
    for k in _SAME:
        if old.get(k) != new.get(k):
            if k == "parameters":
                out.append(f"params {old.get('params')} vs {new.get('params')}")
            elif k == "scenario_hash":
                out.append("scenario hash (the scenario, strategy or --set differ)")
            else:
                out.append(f"{k} {old.get(k)!r} vs {new.get(k)!r}")
    return out


def _design_csv(plan: SweepPlan) -> str:
    return csv_text(plan.design.rows, "run", plan.ids)


def _check_folder(plan: SweepPlan, out: Path, resume: bool) -> bool:
    """Whether ``out`` holds this very sweep already (its finished rows then count on
    resume). Raises ScenarioError, touching nothing, if ``out`` cannot take this sweep."""
    if out.exists() and not out.is_dir():
        raise ScenarioError([f"--out: {out} exists and is not a folder"])
    marker = out / "sweep.json"
    if not marker.exists():
        visible = [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []
        if visible:
            raise ScenarioError(
                [f"--out: {out} is not empty and holds no sweep (no sweep.json): use another one"]
            )
        return False
    try:
        old = json.loads(marker.read_text(encoding="utf-8"))
        if not isinstance(old, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ScenarioError([f"--out: cannot read {marker}: {exc}"]) from None
    diff = _differences(old, plan.identity)
    if diff:
        flag = "--resume" if resume else "--out"
        raise ScenarioError(
            [
                f"{flag}: {out} holds a different sweep ({'; '.join(diff)}); "
                "use another --out or remove the folder"
            ]
        )
    design_file = out / "design.csv"
    if design_file.exists() and design_file.read_text(encoding="utf-8") != _design_csv(plan):
        flag = "--resume" if resume else "--out"
        raise ScenarioError(
            [
                f"{flag}: {design_file} differs from the design this sweep draws "
                "(another SALib or scipy version?); use another --out"
            ]
        )
    return True


# --------------------------------------------------------------------------------------------
# Row files


def _plain(v: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return _plain(v.item())
    return v


def _mean(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each KPI over the replications; NaN if any replication has NaN (as the
    summary of `omnisim run` does)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    out = {}
    for k in keys:
        x = np.array([float(r.get(k, math.nan)) for r in rows], dtype=np.float64)
        out[k] = float(x.mean()) if len(x) and not np.isnan(x).any() else math.nan
    return out


def _row_document(
    rid: str, index: int, values: Mapping[str, Value], recs: list[RunRecord]
) -> dict[str, Any]:
    """A finished row's file: its values, each replication's KPIs, events and wall time
    (seconds), and the KPI means."""
    recs = sorted(recs, key=lambda r: r.key[1])
    return {
        "run": rid,
        "row": index,
        "params": dict(values),
        "replications": [
            {
                "replication": r.key[1],
                "events": r.events,
                "wall_seconds": round(r.wall_seconds, 6),
                "kpis": r.kpis,
            }
            for r in recs
        ],
        "mean": _mean([r.kpis for r in recs]),
        "events": sum(r.events for r in recs),
        "wall_seconds": round(sum(r.wall_seconds for r in recs), 6),
    }


def _floats(d: Mapping[str, Any]) -> dict[str, float]:
    return {k: math.nan if v is None else float(v) for k, v in d.items()}


def _load_row(path: Path, plan: SweepPlan, index: int) -> dict[str, Any] | None:
    """A finished row's file, or None when it is missing or not this row's (then the row is
    run again)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    want = _plain(dict(plan.design.rows[index]))
    if (
        not isinstance(doc, dict)
        or doc.get("row") != index
        or doc.get("params") != want
        or len(doc.get("replications", [])) != plan.reps
        or not isinstance(doc.get("mean"), dict)
    ):
        return None
    return doc


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class _Timing:
    """Running mean of run wall times (seconds), for sizing chunks."""

    seconds: float = 0.0
    runs: int = 0

    def add(self, recs: Sequence[RunRecord]) -> None:
        self.seconds += sum(r.wall_seconds for r in recs)
        self.runs += len(recs)

    def mean(self) -> float | None:
        return self.seconds / self.runs if self.runs else None


def _batches(
    specs: Sequence[RunSpec], timing: _Timing, workers: int, serial: bool
) -> Iterator[list[RunSpec]]:
    """Chunks of ``specs``, sized lazily: single runs until a run time is known, then about
    `CHUNK_SECONDS` of work each, but never more than a fair share of what is left (so the
    last chunks still keep every worker busy)."""
    k = 0
    while k < len(specs):
        t = timing.mean()
        if serial or t is None:
            size = 1  # serial: each row is written as soon as it is done
        else:
            left = len(specs) - k
            size = max(1, min(math.ceil(CHUNK_SECONDS / max(t, 1e-4)), -(-left // (2 * workers))))
        yield list(specs[k : k + size])
        k += size


def execute(
    executor: Any,
    specs: Sequence[RunSpec],
    workers: int,
    serial: bool = False,
    on_chunk: Callable[[list[RunRecord]], None] | None = None,
) -> list[RunRecord]:
    """Run ``specs`` on an open executor in adaptive chunks; ``on_chunk`` sees each chunk's
    records as it completes. Returns every record (completion order)."""
    timing = _Timing()
    out: list[RunRecord] = []
    pending = 1 if serial else 4 * workers
    for recs in run_chunks(
        executor, run_specs, _batches(specs, timing, workers, serial), max_pending=pending
    ):
        timing.add(recs)
        out += recs
        if on_chunk is not None:
            on_chunk(recs)
    return out


def sweep(
    scenario: str | Path | Mapping[str, Any],
    params: Sequence[str],
    design: str = "lhs",
    *,
    n: int,
    reps: int = 1,
    seed: int | None = None,
    strategy: str | None = None,
    overrides: Sequence[str] = (),
    executor: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run a parameter sweep of a scenario file and write its results (see docs/sweeps.md).

    Args:
        scenario: scenario file (or scenario data as a dict).
        params: ``"dotted.path=LO:HI"`` (a range; whole numbers for an integer field) or
            ``"dotted.path=v1,v2,..."`` (levels), as many as wanted.
        design: ``grid``, ``lhs``, ``sobol`` or ``morris``.
        n: grid levels per range, LHS points, Sobol base samples N (a power of two) or
            Morris trajectories.
        reps: replications per design row; replication r of every row uses the streams of
            ``(seed, r)`` (common random numbers across rows).
        seed: root seed (default: the scenario's).
        strategy, overrides: as for `omnisim run` (applied before the parameters).
        executor, workers: where runs execute (`omnisim.experiments.executors`).
        out: result folder (default `default_sweep_dir`).
        resume: complete the sweep already in ``out``, skipping its finished rows.
        progress: called as ``progress(done, total)`` in runs (rows × reps), resumed ones
            counted as done.

    Returns:
        A row per design row: ``run`` (the id), each parameter's value, each KPI's mean over
        the replications (as ``runs.csv``). ``.attrs`` holds ``manifest``, ``sensitivity``
        (the records of ``sensitivity.csv``) and ``out`` (the result folder).

    Raises:
        ScenarioError: bad scenario, parameter, design size, or an ``out`` folder that holds
            something else; nothing is written then.
        ExecutorError: the executor cannot be used; nothing is written then.
    """
    plan = plan_sweep(scenario, params, design, n, reps, seed, strategy, overrides)
    out_dir = Path(out) if out is not None else default_sweep_dir(plan)
    return run_sweep(
        plan,
        out_dir,
        resume=resume,
        executor=executor,
        workers=workers,
        progress=progress,
    )


def plan_sweep(
    scenario: str | Path | Mapping[str, Any],
    params: Sequence[str],
    design: str = "lhs",
    n: int = 0,
    reps: int = 1,
    seed: int | None = None,
    strategy: str | None = None,
    overrides: Sequence[str] = (),
) -> SweepPlan:
    """Check a sweep before anything runs or is written (arguments as `sweep`): the scenario,
    every parameter, the design's size, every design row's scenario, and memory. Raises
    ScenarioError with every problem, or MemoryRefused."""
    return _plan(scenario, params, design, n, reps, seed, strategy, overrides)


def run_sweep(
    plan: SweepPlan,
    out_dir: Path,
    *,
    resume: bool = False,
    executor: str | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run a planned sweep into ``out_dir`` (created if missing; with ``resume``, the rows
    already finished there are kept) and write its result files; returns what `sweep`
    returns. Raises ScenarioError, touching nothing, when ``out_dir`` holds something other
    than this sweep."""
    start = time.perf_counter()
    same = _check_folder(plan, out_dir, resume)
    runs_dir = out_dir / "runs"
    done: dict[int, dict[str, Any]] = {}
    if resume and same:
        for i, rid in enumerate(plan.ids):
            doc = _load_row(runs_dir / f"{rid}.json", plan, i)
            if doc is not None:
                done[i] = doc
    todo = [i for i in range(len(plan.ids)) if i not in done]
    specs = [
        RunSpec((i, r), plan.scenarios[i], plan.seed, r) for i in todo for r in range(plan.reps)
    ]
    total = len(plan.ids) * plan.reps
    finished = len(done) * plan.reps
    serial = (executor or "process").strip() == "serial"
    n_workers = 1 if serial else (workers or default_workers())
    if specs:
        warm_kernels(plan.base)
    # A resumed sweep with every row finished starts no pool or cluster.
    with open_executor(executor, workers) if specs else nullcontext(None) as ex:
        # Only now, with the scenario, the design, the folder and the executor all accepted,
        # is anything written. design.csv goes first: a sweep.json always has its design.
        runs_dir.mkdir(parents=True, exist_ok=True)
        for stale in runs_dir.glob(".*.partial"):
            stale.unlink(missing_ok=True)
        atomic_write_text(out_dir / "design.csv", _design_csv(plan))
        atomic_write_text(out_dir / "sweep.json", json_text(_plain(plan.identity)))
        if progress is not None:
            progress(finished, total)
        partial: dict[int, list[RunRecord]] = {}

        def on_chunk(recs: list[RunRecord]) -> None:
            nonlocal finished
            for rec in recs:
                i = rec.key[0]
                partial.setdefault(i, []).append(rec)
                if len(partial[i]) == plan.reps:
                    doc = _row_document(plan.ids[i], i, plan.design.rows[i], partial.pop(i))
                    atomic_write_text(runs_dir / f"{plan.ids[i]}.json", json_text(_plain(doc)))
                    done[i] = _plain(doc)
            finished += len(recs)
            if progress is not None:
                progress(finished, total)

        execute(ex, specs, n_workers, serial, on_chunk)
    wall = time.perf_counter() - start
    return _finish(plan, out_dir, done, executor, n_workers, wall, total - len(specs))


def _finish(
    plan: SweepPlan,
    out_dir: Path,
    done: Mapping[int, Mapping[str, Any]],
    executor: str | None,
    workers: int,
    wall: float,
    resumed: int,
) -> pd.DataFrame:
    """Write runs.csv, sensitivity.csv and manifest.json from every row's file."""
    means = [_floats(done[i]["mean"]) for i in range(len(plan.ids))]
    rows = [dict(plan.design.rows[i]) | means[i] for i in range(len(plan.ids))]
    seed = int(np.random.SeedSequence(plan.seed, spawn_key=(_DESIGN_KEY, 1)).generate_state(1)[0])
    table = sensitivity_table(plan.design, means, seed=seed | 1)  # SALib ignores a seed of 0
    manifest = environment_info() | {
        "scenario": plan.base.name,
        "strategy": plan.strategy,
        "scenario_hash": plan.digest,
        "seed": plan.seed,
        "design": plan.design.kind,
        "n": plan.design.n,
        "reps": plan.reps,
        "params": [p.spec for p in plan.design.params],
        "rows": len(plan.ids),
        "runs": len(plan.ids) * plan.reps,
        "runs_resumed": resumed,
        "wall_seconds": round(wall, 3),
        "events_processed": sum(int(done[i].get("events", 0)) for i in done),
        "executor": (executor or "process").strip(),
        "workers": workers,
        "salib": _version("SALib"),
        "scipy": _version("scipy"),
    }
    atomic_write_text(out_dir / "runs.csv", csv_text(rows, "run", plan.ids))
    atomic_write_text(out_dir / "sensitivity.csv", _table_csv(table))
    atomic_write_text(out_dir / "manifest.json", json_text(_plain(manifest)))
    # The market the sweep varied (strategy and overrides applied), for its report.
    atomic_write_text(out_dir / "scenario.json", json_text(plan.base.model_dump(mode="json")))
    frame = pd.DataFrame([{"run": rid, **r} for rid, r in zip(plan.ids, rows, strict=True)])
    frame.attrs["manifest"] = manifest
    frame.attrs["sensitivity"] = table.to_dict("records")
    frame.attrs["out"] = out_dir
    return frame


def _table_csv(table: pd.DataFrame) -> str:
    records = table.to_dict("records")
    return csv_text(
        [{k: v for k, v in r.items() if k != "kpi"} for r in records],
        "kpi",
        [r["kpi"] for r in records],
    )


def _version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None
