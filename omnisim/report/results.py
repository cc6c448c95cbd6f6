"""Saved results read back for charts and reports: a comparison folder or a sweep folder.

A report is built from the files `omnisim compare` and `omnisim sweep` wrote, never from a
live run, so `omnisim report RESULTS_DIR` gives the same report later, on another machine,
without simulating again. Everything a chart needs is here, typed; a folder that is not a
finished comparison or sweep raises `ReportError` with one line naming the file.

The files are checked as they are read, because a folder may have been copied, edited or
cut short since it was written, and a report drawn from such files would lie or die half-way
with a traceback: every CSV must be whole (a final line break, as many fields on each line as
in its header), have its columns, numbers (finite, or empty for NaN) where numbers belong,
and name only the strategies (or parameters) its manifest and sweep.json list, each as often
as the others say. A column the reader does not know (the ``unit`` column of comparison.csv,
say) is let through unread.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnisim.experiments.compare import COLUMNS
from omnisim.experiments.stats import t_interval
from omnisim.metrics.registry import headline

HEADLINE = headline("report")
"""The KPIs a strategist reads first, in this order: the rows of the report's findings table
and the panels of the forest plot of differences (those the results have); declared in
omnisim/metrics/registry.py."""
TERMINAL = "terminal"
"""Name of the stores' own level in the dealer-network KPIs (`dealer_profit.terminal`)."""
COMPARISON_COLUMNS = tuple(c for c in COLUMNS if c != "unit")
"""The columns of comparison.csv a report reads (others, such as ``unit``, are ignored)."""
DESIGNS = ("grid", "lhs", "sobol", "morris")
_MEASURE_COLUMNS = {"sobol": ("ST", "S1"), "morris": ("mu_star",)}
"""sensitivity.csv columns the sweep charts read, by design (grid and LHS: spearman)."""
_NA = ("", "nan", "NaN")
"""Cells read as NaN in a numeric column: what pandas and the CSV writer write for it."""


class ReportError(Exception):
    """A results folder that cannot be reported on; the message is one line."""


# --------------------------------------------------------------------------------------------
# Reading and checking files


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise ReportError(f"{path}: cannot read: {_one_line(e)}") from None


def _read_object(path: Path) -> dict[str, Any]:
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: not a JSON object but {_kind(doc)}")
    return doc


def _optional_object(path: Path) -> dict[str, Any]:
    return _read_object(path) if path.exists() else {}


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _kind(v: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if isinstance(v, str):
        return "a string"
    return "a list" if isinstance(v, list) else "an object"


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_count(v: Any, least: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


@dataclass
class _Table:
    """A CSV read and checked: its frame, and the file line of each frame row (for
    messages)."""

    path: Path
    frame: pd.DataFrame
    lines: list[int]

    def at(self, i: int, column: str | None = None) -> str:
        where = f"{self.path}: line {self.lines[i]}"
        return f"{where}, column {column!r}" if column else where


def _read_table(
    path: Path,
    *,
    required: Sequence[str],
    text: Sequence[str] = (),
    whole: Sequence[str] = (),
    numeric: Sequence[str] | None = None,
) -> _Table:
    """Read a CSV written by omnisim and check its form: ``required`` columns present,
    ``text`` columns read as strings (never as numbers or NaN: a strategy may be named
    ``2024`` or ``NA``), ``whole`` columns whole numbers, and ``numeric`` columns (None: every
    column not listed as text or whole) finite numbers or empty. Other columns are read as
    pandas infers them."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: cannot read: {_one_line(e)}") from None
    if not raw.strip():
        raise ReportError(f"{path}: cannot read: the file is empty")
    if not raw.endswith("\n"):
        # omnisim ends every CSV with a line break: without it the file was cut short, maybe
        # inside a number, which no other check could see.
        raise ReportError(f"{path}: does not end with a line break: the file is truncated")
    header, lines = _check_fields(path, raw)
    if "" in header:  # pandas would invent a name ("Unnamed: 3") for it
        raise ReportError(f"{path}: column {header.index('') + 1} of the header has no name")
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise ReportError(f"{path}: column {dup[0]!r} appears twice in the header")
    missing = [c for c in required if c not in header]
    if missing:
        raise ReportError(f"{path}: no column {missing[0]!r}")
    text = [c for c in text if c in header]
    whole = [c for c in whole if c in header]
    if numeric is None:
        numeric = [c for c in header if c not in text and c not in whole]
    numbers = [c for c in [*whole, *numeric] if c in header]
    try:
        frame = pd.read_csv(
            io.StringIO(raw),
            dtype={c: str for c in text},
            keep_default_na=False,
            na_values={c: list(_NA) for c in numbers},
        )
    except (ValueError, csv.Error) as e:  # pandas' parser errors are ValueErrors
        raise ReportError(f"{path}: cannot read: {_one_line(e)}") from None
    table = _Table(path, frame, lines)
    if len(frame) != len(lines):  # the two readers disagree on the rows: refuse, not guess
        raise ReportError(f"{path}: cannot read: {len(lines)} rows, pandas reads {len(frame)}")
    for c in numbers:
        frame[c] = _numbers(table, c)
    for c in whole:
        values = frame[c].to_numpy()
        # Beyond 2^53 a float is no longer a whole number one can trust (nor fit in int64).
        bad = np.flatnonzero(
            np.isnan(values) | (values != np.round(values)) | (np.abs(values) > 2.0**53)
        )
        if len(bad):
            raise ReportError(f"{table.at(int(bad[0]), c)}: {_not_whole(table, int(bad[0]), c)}")
        frame[c] = values.astype(np.int64)
    for c in text:
        empty = np.flatnonzero(frame[c].to_numpy() == "")
        if len(empty):
            raise ReportError(f"{table.at(int(empty[0]), c)}: empty")
    return table


def _check_fields(path: Path, raw: str) -> tuple[list[str], list[int]]:
    """The header, and the line of each data row; every row must have the header's number
    of fields (a row cut short is otherwise read as one with empty cells at its end)."""
    reader = csv.reader(io.StringIO(raw))
    try:
        header = next(reader)
        lines = []
        for row in reader:
            if not row:
                continue  # a blank line, which pandas skips too
            if len(row) != len(header):
                raise ReportError(
                    f"{path}: line {reader.line_num}: {len(row)} fields where the header has "
                    f"{len(header)}" + (": the file is truncated" if len(row) < len(header) else "")
                )
            lines.append(reader.line_num)
    except csv.Error as e:
        raise ReportError(f"{path}: line {reader.line_num}: cannot read: {e}") from None
    return header, lines


def _numbers(table: _Table, column: str) -> pd.Series:
    """A column as float64, or ReportError naming the first cell that is not a finite
    number."""
    col = table.frame[column]
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        values = np.full(len(col), math.nan)
        for i, v in enumerate(col.to_list()):
            if isinstance(v, float) and math.isnan(v):
                continue
            try:
                if isinstance(v, bool):
                    raise ValueError
                values[i] = float(v)
            except (TypeError, ValueError):
                raise ReportError(f"{table.at(i, column)}: {v!r} is not a number") from None
    else:
        values = col.to_numpy(dtype=np.float64)
    inf = np.flatnonzero(np.isinf(values))
    if len(inf):
        raise ReportError(f"{table.at(int(inf[0]), column)}: {values[inf[0]]} is not finite")
    return pd.Series(values, index=col.index, name=column)


def _not_whole(table: _Table, i: int, column: str) -> str:
    v = table.frame.at[i, column]
    if isinstance(v, float) and math.isnan(v):
        return "empty, where a whole number is expected"
    return f"{float(v):g} is not a whole number"


def _unknown(table: _Table, column: str, known: Sequence[str], what: str, source: str) -> None:
    """Every value of ``column`` must be one of ``known`` (listed in ``source``)."""
    allowed = set(known)
    for i, v in enumerate(table.frame[column].to_list()):
        if v not in allowed:
            raise ReportError(
                f"{table.at(i, column)}: {what} {v!r} is not in {source} ({', '.join(known)})"
            )


def _duplicates(table: _Table, columns: Sequence[str], describe: Callable[..., str]) -> None:
    dup = table.frame.duplicated(subset=list(columns), keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        values = table.frame.loc[i, list(columns)].to_list()
        raise ReportError(f"{table.at(i)}: a second row for {describe(*values)}")


# --------------------------------------------------------------------------------------------
# The shapes of the JSON files


class _Spec:
    """What a JSON value must be (`_check`)."""

    def __init__(self, kind: str, inner: Any = None, nullable: bool = False) -> None:
        self.kind, self.inner, self.nullable = kind, inner, nullable


def _obj(fields: Mapping[str, _Spec] | None = None, *, named: bool = False) -> _Spec:
    """An object whose listed fields (each optional) have their shapes; ``named``: it must
    have a string ``name``."""
    return _Spec("object", (dict(fields or {}), named))


def _list(item: _Spec) -> _Spec:
    return _Spec("list", item)


def _null(spec: _Spec) -> _Spec:
    return _Spec(spec.kind, spec.inner, nullable=True)


NUM, STR, BOOL, ANY = _Spec("number"), _Spec("string"), _Spec("boolean"), _Spec("any")

_SCENARIO = _obj(
    {
        "name": STR,
        "currency": STR,
        "description": STR,
        "warmup_days": NUM,
        "horizon_days": NUM,
        "market": _obj({"consumers": NUM, "regions": _list(_obj(named=True))}),
        "product": _obj({"list_price": NUM, "unit_cost": NUM}),
        "segments": _list(
            _obj(
                {"share": NUM, "price_sensitivity": NUM, "need": _obj({"mean_interval_days": NUM})},
                named=True,
            )
        ),
        "nodes": _list(_obj({"kind": STR})),
        "network": _null(_obj({"levels": _list(_obj(named=True)), "dealers": _list(ANY)})),
        "media": _null(_obj({"vehicles": _list(_obj({"daily_budget": _null(NUM)}, named=True))})),
        "social": _null(_obj({"graph": _obj()})),
        "membership": _null(_obj({"tiers": _list(_obj(named=True))})),
        "omnichannel": _null(_obj()),
        "shocks": _null(_list(_obj({"start_day": NUM, "end_day": NUM}, named=True))),
        "promotions": _null(
            _list(_obj({"discount": NUM, "start_day": NUM, "end_day": NUM}, named=True))
        ),
        "engine": _obj({"bucket_hours": NUM}),
        "channels": _list(
            _obj(
                {"price_index": NUM, "commission": _null(NUM), "fixed_cost_per_day": NUM},
                named=True,
            )
        ),
        "strategies": _Spec("map", _obj()),
        "lifecycle": _null(_obj({"active_days": _null(NUM)})),
    }
)
"""The parts of scenario.json that the report reads, and their shapes (the rest is free)."""

_COMPARE_MANIFEST = _obj(
    {
        "scenario": STR,
        "common_random_numbers": BOOL,
        "overrides": _list(STR),
        "scenario_hashes": _Spec("map", STR),
    }
)
_SWEEP_IDENTITY = _obj(
    {
        "strategy": _null(STR),
        "overrides": _list(STR),
        "parameters": _list(
            _obj({"path": STR, "kind": STR, "low": _null(NUM), "high": _null(NUM)})
        ),
    }
)


def _check(v: Any, spec: _Spec, path: Path, where: str) -> None:
    """ReportError naming the first place where ``v`` does not have the shape ``spec``."""
    if v is None and spec.nullable:
        return
    ok = {
        "number": _is_number,
        "string": lambda x: isinstance(x, str),
        "boolean": lambda x: isinstance(x, bool),
        "any": lambda x: True,
        "object": lambda x: isinstance(x, dict),
        "map": lambda x: isinstance(x, dict),
        "list": lambda x: isinstance(x, list),
    }[spec.kind](v)
    if not ok:
        want = {"number": "a number", "string": "a string", "boolean": "true or false"}.get(
            spec.kind, "a list" if spec.kind == "list" else "an object"
        )
        raise ReportError(f"{path}: {where or 'the file'}: expected {want}, found {_kind(v)}")
    prefix = f"{where}." if where else ""
    if spec.kind == "object":
        fields, named = spec.inner
        if named and not isinstance(v.get("name"), str):
            raise ReportError(f"{path}: {where}: no name (a string)")
        for key, inner in fields.items():
            if key in v:
                _check(v[key], inner, path, f"{prefix}{key}")
    elif spec.kind == "map":
        for key, inner in v.items():
            _check(inner, spec.inner, path, f"{prefix}{key}")
    elif spec.kind == "list":
        for i, item in enumerate(v):
            name = item.get("name") if isinstance(item, dict) else None
            label = f"[{name}]" if isinstance(name, str) else f"[{i}]"
            _check(item, spec.inner, path, f"{where}{label}")


def _scenario(folder: Path) -> dict[str, Any]:
    path = folder / "scenario.json"
    doc = _optional_object(path)
    _check(doc, _SCENARIO, path, "")
    return doc


# --------------------------------------------------------------------------------------------
# A comparison


@dataclass
class ComparisonResults:
    """A folder written by `omnisim compare`.

    Attributes:
        folder: where the files are.
        manifest: manifest.json (versions, strategies, baseline, seed, replications, hashes).
        scenario: scenario.json, the baseline's market as run (overlay and overrides
            applied), every overlay in ``strategies`` (empty for results written before it
            was saved).
        table: comparison.csv (strategy, kpi, mean, ci_low, ci_high, diff, diff_ci_*, and
            any further columns such as unit).
        replications: replications.csv (replication, strategy, one column per KPI).
        series: timeseries.csv (strategy, replication, period, start_day, end_day, ...), or
            None when the folder has none.
    """

    folder: Path
    manifest: dict[str, Any]
    scenario: dict[str, Any]
    table: pd.DataFrame
    replications: pd.DataFrame
    series: pd.DataFrame | None
    _means: dict[tuple[str, str], pd.Series] = field(default_factory=dict, repr=False)

    @property
    def strategies(self) -> list[str]:
        return list(self.manifest["strategies"])

    @property
    def baseline(self) -> str:
        return str(self.manifest["baseline"])

    @property
    def others(self) -> list[str]:
        """The strategies compared with the baseline."""
        return [s for s in self.strategies if s != self.baseline]

    @property
    def name(self) -> str:
        return str(self.manifest.get("scenario", self.scenario.get("name", "")))

    @property
    def currency(self) -> str:
        return str(self.scenario.get("currency", "currency"))

    @property
    def reps(self) -> int:
        return int(self.manifest["replications"])

    @property
    def has_intervals(self) -> bool:
        """Whether there are intervals at all: not with one replication (older folders
        hold a zero-width "interval" then, newer ones none; neither measures anything)."""
        return self.reps >= 2

    def has(self, kpi: str) -> bool:
        """Whether the KPI is defined (not NaN) for at least one strategy."""
        rows = self.table[self.table.kpi == kpi]
        return bool(rows["mean"].notna().any())

    def row(self, strategy: str, kpi: str) -> pd.Series:
        """The comparison.csv row of one strategy and KPI."""
        key = (strategy, kpi)
        if key not in self._means:
            rows = self.table[(self.table.strategy == strategy) & (self.table.kpi == kpi)]
            if rows.empty:
                raise KeyError(f"no KPI {kpi!r} for strategy {strategy!r}")
            self._means[key] = rows.iloc[0]
        return self._means[key]

    def mean(self, strategy: str, kpi: str) -> float:
        return float(self.row(strategy, kpi)["mean"])

    def kpis_with_prefix(self, prefix: str) -> list[str]:
        """KPIs named ``prefix<part>``, in the order comparison.csv lists them."""
        return [k for k in dict.fromkeys(self.table.kpi) if k.startswith(prefix)]

    @property
    def channels(self) -> list[str]:
        """Channel names in the scenario's order (from the KPI names if it is unknown)."""
        named = [c["name"] for c in self.scenario.get("channels", [])]
        found = [k.split(".", 1)[1] for k in self.kpis_with_prefix("channel_share.")]
        return [c for c in named if c in found] or found

    @property
    def levels(self) -> list[str]:
        """Dealer-network levels from the brand down, then the stores (``terminal``), among
        those with KPIs."""
        named = [lv["name"] for lv in (self.scenario.get("network") or {}).get("levels", [])]
        found = [k.split(".", 1)[1] for k in self.kpis_with_prefix("dealer_profit.")]
        ordered = [lv for lv in [*named, TERMINAL] if lv in found]
        return ordered + [lv for lv in found if lv not in ordered]

    def total_interval(self, strategy: str, kpis: list[str]) -> tuple[float, float, float]:
        """Mean and 95% t interval of the sum of some KPIs over the strategy's replications
        (the interval of a sum is not the sum of the intervals); NaN bounds with one
        replication."""
        rows = self.replications[self.replications.strategy == strategy]
        total = rows[kpis].fillna(0.0).sum(axis=1).to_list()
        m, lo, hi = t_interval(total)
        return (m, lo, hi) if self.has_intervals else (m, math.nan, math.nan)

    def series_means(self, strategy: str) -> pd.DataFrame:
        """Per period, each time-series column's mean over the strategy's replications."""
        if self.series is None:
            raise KeyError("no time series")
        rows = self.series[self.series.strategy == strategy].drop(columns=["strategy"])
        return rows.groupby("period", sort=True).mean(numeric_only=True)


def _comparison_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    m = _read_object(path)
    for key in ("strategies", "baseline", "replications"):
        if key not in m:
            raise ReportError(f"{path}: no {key!r}: not written by compare")
    names = m["strategies"]
    if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
        raise ReportError(f"{path}: 'strategies' is not a list of strategy names")
    dup = sorted({s for s in names if names.count(s) > 1})
    if dup:
        raise ReportError(f"{path}: 'strategies' lists {dup[0]!r} twice")
    if m["baseline"] not in names:
        raise ReportError(
            f"{path}: the baseline {m['baseline']!r} is not one of its strategies "
            f"({', '.join(names)})"
        )
    if not _is_count(m["replications"], least=1):
        raise ReportError(
            f"{path}: 'replications' is {m['replications']!r}, not a whole number of 1 or more"
        )
    _check(m, _COMPARE_MANIFEST, path, "")
    return m


def _load_comparison(folder: Path) -> ComparisonResults:
    manifest = _comparison_manifest(folder)
    names: list[str] = manifest["strategies"]
    reps: int = manifest["replications"]
    source = "manifest.json's strategies"
    table = _read_table(
        folder / "comparison.csv",
        required=COMPARISON_COLUMNS,
        text=("strategy", "kpi"),
        numeric=COMPARISON_COLUMNS[2:],
    )
    _unknown(table, "strategy", names, "strategy", source)
    _duplicates(table, ("strategy", "kpi"), lambda s, k: f"strategy {s!r}, KPI {k!r}")
    kpis = list(dict.fromkeys(table.frame.kpi))
    if not kpis:
        raise ReportError(f"{table.path}: no rows")
    have = table.frame.groupby("strategy", sort=False)["kpi"].agg(set).to_dict()
    for s in names:
        lacking = [k for k in kpis if k not in have.get(s, set())]
        if lacking:
            more = f" (and {len(lacking) - 1} more)" if len(lacking) > 1 else ""
            raise ReportError(
                f"{table.path}: no row for strategy {s!r}, KPI {lacking[0]!r}{more}: "
                "every strategy has a row for every KPI; the file is incomplete"
            )
    reps_table = _read_table(
        folder / "replications.csv",
        required=("replication", "strategy", *kpis),
        text=("strategy",),
        whole=("replication",),
    )
    _check_replications(reps_table, names, reps, source)
    series = None
    if (folder / "timeseries.csv").exists():
        ts = _read_table(
            folder / "timeseries.csv",
            required=("strategy", "replication", "period", "start_day", "end_day"),
            text=("strategy",),
            whole=("replication", "period"),
        )
        _check_series(ts, names, reps, source)
        series = ts.frame
    res = ComparisonResults(
        folder, manifest, _scenario(folder), table.frame, reps_table.frame, series
    )
    if series is not None:
        for c in res.channels:
            if f"revenue.{c}" not in series.columns:
                raise ReportError(
                    f"{folder / 'timeseries.csv'}: no column 'revenue.{c}' "
                    f"(comparison.csv has channel_share.{c})"
                )
    return res


def _check_replications(table: _Table, names: Sequence[str], reps: int, source: str) -> None:
    """Each strategy has replications 0 … R−1, each once (R from manifest.json)."""
    _unknown(table, "strategy", names, "strategy", source)
    _duplicates(table, ("strategy", "replication"), lambda s, r: f"strategy {s!r}, replication {r}")
    counts = table.frame.groupby("strategy", sort=False)["replication"].agg(list).to_dict()
    for s in names:
        got = sorted(counts.get(s, []))
        if got != list(range(reps)):
            raise ReportError(
                f"{table.path}: strategy {s!r} has {len(got)} replication rows "
                f"{_span(got)}, manifest.json says {reps} (0 to {reps - 1})"
            )


def _check_series(table: _Table, names: Sequence[str], reps: int, source: str) -> None:
    _unknown(table, "strategy", names, "strategy", source)
    _duplicates(
        table,
        ("strategy", "replication", "period"),
        lambda s, r, p: f"strategy {s!r}, replication {r}, period {p}",
    )
    frame = table.frame
    bad = np.flatnonzero((frame.replication < 0) | (frame.replication >= reps))
    if len(bad):
        i = int(bad[0])
        raise ReportError(
            f"{table.at(i, 'replication')}: replication {frame.replication[i]} of "
            f"{reps} (manifest.json)"
        )
    present = set(frame.strategy)
    lacking = [s for s in names if s not in present]
    if lacking:
        raise ReportError(f"{table.path}: no rows for strategy {lacking[0]!r} ({source})")


def _span(values: Sequence[int]) -> str:
    return f"({values[0]} to {values[-1]})" if values else "(none)"


# --------------------------------------------------------------------------------------------
# A sweep


@dataclass
class SweepResults:
    """A folder written by `omnisim sweep`.

    Attributes:
        folder: where the files are.
        manifest: manifest.json (design, n, reps, rows, seed, versions).
        identity: sweep.json (the scenario file, overrides and each parameter's range).
        scenario: scenario.json (the market swept), or empty for older folders.
        runs: runs.csv (run id, parameter values, each KPI's mean over replications); the
            values of a parameter with levels as written (text).
        sensitivity: sensitivity.csv (kpi, parameter, the design's measures).
    """

    folder: Path
    manifest: dict[str, Any]
    identity: dict[str, Any]
    scenario: dict[str, Any]
    runs: pd.DataFrame
    sensitivity: pd.DataFrame
    _replicates: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return str(self.manifest.get("scenario", ""))

    @property
    def currency(self) -> str:
        return str(self.scenario.get("currency", "currency"))

    @property
    def design(self) -> str:
        return str(self.manifest["design"])

    @property
    def reps(self) -> int:
        return int(self.manifest.get("reps", 1))

    @property
    def parameters(self) -> list[dict[str, Any]]:
        """Each swept parameter: path, kind (continuous, integer, levels), low, high, levels."""
        return list(self.identity.get("parameters", []))

    @property
    def param_paths(self) -> list[str]:
        return [p["path"] for p in self.parameters]

    def has(self, kpi: str) -> bool:
        return kpi in self.runs.columns and bool(self.runs[kpi].notna().any())

    def measure(self) -> str:
        """The sensitivity measure this design gives: ST (Sobol), mu_star (Morris) or
        spearman (grid, LHS)."""
        return {"sobol": "ST", "morris": "mu_star"}.get(self.design, "spearman")

    def ranked(self, kpi: str) -> list[str]:
        """Parameters from the most to the least influential on a KPI (by |measure|)."""
        m = self.measure()
        rows = self.sensitivity[self.sensitivity.kpi == kpi]
        score = {
            r.parameter: (abs(getattr(r, m)) if not math.isnan(getattr(r, m)) else -1.0)
            for r in rows.itertuples()
        }
        return sorted(self.param_paths, key=lambda p: -score.get(p, -1.0))

    def replicate_rows(self) -> pd.DataFrame:
        """One row per run and replication (run, replication, parameters, KPIs), read from
        the sweep's ``runs/`` files: for intervals around a response curve."""
        if self._replicates is None:
            self._replicates = _replicate_rows(self)
        return self._replicates


def level_texts(spec: Mapping[str, Any]) -> dict[str, int]:
    """How each level of a parameter appears in runs.csv -> its position: as given in
    sweep.json, and as the CSV writer writes its value (``1.50`` is the float 1.5, written
    ``1.5``; ``true`` is written ``True``)."""
    from omnisim.experiments.sweep import level_value  # parses as --set does

    out: dict[str, int] = {}
    for i, text in enumerate(spec.get("levels", [])):
        v = level_value(str(text))
        written = repr(v) if isinstance(v, float) else ("" if v is None else str(v))
        out.setdefault(str(text), i)
        out.setdefault(written, i)
    return out


def _sweep_identity(path: Path) -> dict[str, Any]:
    identity = _read_object(path)
    params = identity.get("parameters")
    if not isinstance(params, list) or not params:
        raise ReportError(f"{path}: 'parameters' is not a list of the swept parameters")
    _check(identity, _SWEEP_IDENTITY, path, "")
    seen: set[str] = set()
    for i, p in enumerate(params):
        where = f"{path}: parameters[{i}]"
        if not isinstance(p.get("path"), str) or not p["path"]:
            raise ReportError(f"{where}: no path")
        if p["path"] in seen:
            raise ReportError(f"{where}: {p['path']!r} is listed twice")
        seen.add(p["path"])
        kind = p.get("kind")
        if kind == "levels":
            levels = p.get("levels")
            if not isinstance(levels, list) or len(levels) < 1:
                raise ReportError(f"{where}: kind 'levels' without a list of levels")
        elif kind in ("continuous", "integer"):
            if not (_is_number(p.get("low")) and _is_number(p.get("high"))):
                raise ReportError(f"{where}: kind {kind!r} without numbers 'low' and 'high'")
        else:
            raise ReportError(f"{where}: kind {kind!r} is not 'continuous', 'integer' or 'levels'")
    return identity


def _sweep_manifest(path: Path, identity: Mapping[str, Any]) -> dict[str, Any]:
    m = _read_object(path)
    if m.get("design") not in DESIGNS:
        raise ReportError(
            f"{path}: 'design' is {m.get('design')!r}, not one of {', '.join(DESIGNS)}"
        )
    for key in ("rows", "reps"):
        if not _is_count(m.get(key), least=1):
            raise ReportError(f"{path}: {key!r} is {m.get(key)!r}, not a whole number of 1 or more")
    for key in ("design", "rows", "reps"):
        if key in identity and identity[key] != m[key]:
            raise ReportError(
                f"{path}: {key} {m[key]!r}, but sweep.json says {identity[key]!r}: the folder "
                "mixes two sweeps"
            )
    return m


def _load_sweep(folder: Path) -> SweepResults:
    identity_path = folder / "sweep.json"
    identity = _read_object(identity_path)
    for name in ("runs.csv", "sensitivity.csv", "manifest.json"):
        if not (folder / name).exists():
            raise ReportError(
                f"{folder}: the sweep is not finished ({name} missing): complete it with "
                "`omnisim sweep ... --resume`"
            )
    identity = _sweep_identity(identity_path)
    manifest = _sweep_manifest(folder / "manifest.json", identity)
    params: list[dict[str, Any]] = identity["parameters"]
    paths = [p["path"] for p in params]
    levels = [p["path"] for p in params if p["kind"] == "levels"]
    runs = _read_table(folder / "runs.csv", required=("run", *paths), text=("run", *levels))
    _check_runs(runs, params, manifest["rows"])
    design_path = folder / "design.csv"
    if design_path.exists():
        design = _read_table(design_path, required=("run", *paths), text=("run", *levels))
        _check_design(design, runs, paths)
    measures = _MEASURE_COLUMNS.get(manifest["design"], ("spearman",))
    sens = _read_table(
        folder / "sensitivity.csv",
        required=("kpi", "parameter", *measures),
        text=("kpi", "parameter"),
    )
    _unknown(sens, "parameter", paths, "parameter", "sweep.json's parameters")
    _duplicates(sens, ("kpi", "parameter"), lambda k, p: f"KPI {k!r}, parameter {p!r}")
    res = SweepResults(folder, manifest, identity, _scenario(folder), runs.frame, sens.frame)
    if len(params) == 1:
        res.replicate_rows()  # the response curve reads runs/: check it before drawing
    return res


def _check_runs(runs: _Table, params: Sequence[Mapping[str, Any]], rows: int) -> None:
    _duplicates(runs, ("run",), lambda r: f"run {r!r}")
    if len(runs.frame) != rows:
        raise ReportError(
            f"{runs.path}: {len(runs.frame)} rows, manifest.json says {rows}: the file is "
            "incomplete"
        )
    for p in params:
        if p["kind"] != "levels":
            continue
        texts = level_texts(p)
        for i, v in enumerate(runs.frame[p["path"]].to_list()):
            if v not in texts:
                levels = ", ".join(str(t) for t in p["levels"])
                raise ReportError(
                    f"{runs.at(i, p['path'])}: {v!r} is not one of its levels in sweep.json "
                    f"({levels})"
                )


def _check_design(design: _Table, runs: _Table, paths: Sequence[str]) -> None:
    """design.csv and runs.csv must list the same rows: otherwise they come from two
    sweeps (two writers in one folder, or files copied from elsewhere)."""
    if len(design.frame) != len(runs.frame):
        raise ReportError(
            f"{design.path}: {len(design.frame)} rows, runs.csv {len(runs.frame)}: the folder "
            "mixes two sweeps"
        )
    columns = ["run", *paths]
    differ = np.zeros((len(design.frame), len(columns)), dtype=bool)
    for j, c in enumerate(columns):
        a, b = design.frame[c], runs.frame[c]
        differ[:, j] = ~((a == b) | (a.isna() & b.isna())).to_numpy()
    if differ.any():
        i, j = (int(k[0]) for k in np.nonzero(differ))
        a, b = design.frame.at[i, columns[j]], runs.frame.at[i, columns[j]]
        raise ReportError(
            f"{design.at(i, columns[j])}: {_show(a)} where runs.csv has {_show(b)}: the folder "
            "mixes two sweeps"
        )


def _show(v: Any) -> str:
    """A cell's value in a message: numbers plain (not ``np.float64(1.0)``), text quoted."""
    return repr(float(v)) if isinstance(v, float | np.floating) else repr(v)


def _replicate_rows(res: SweepResults) -> pd.DataFrame:
    """Every runs/<run>.json of runs.csv's runs, checked, as one row per replication."""
    records: list[dict[str, Any]] = []
    for rid in res.runs["run"]:
        path = res.folder / "runs" / f"{rid}.json"
        if not path.exists():
            raise ReportError(f"{path}: missing (run {rid!r} of runs.csv)")
        doc = _read_object(path)
        if doc.get("run") != rid:
            raise ReportError(f"{path}: 'run' is {doc.get('run')!r}, not {rid!r}")
        params, reps = doc.get("params"), doc.get("replications")
        if not isinstance(params, dict):
            raise ReportError(f"{path}: 'params' is not an object")
        if not isinstance(reps, list) or len(reps) != res.reps:
            got = len(reps) if isinstance(reps, list) else _kind(reps)
            raise ReportError(f"{path}: 'replications' holds {got}, manifest.json says {res.reps}")
        for j, rep in enumerate(reps):
            where = f"{path}: replications[{j}]"
            if not isinstance(rep, dict) or not isinstance(rep.get("kpis"), dict):
                raise ReportError(f"{where}: not an object with 'kpis'")
            if not _is_count(rep.get("replication")):
                raise ReportError(f"{where}: 'replication' is not a whole number")
            kpis = rep["kpis"]
            for k, v in kpis.items():
                if v is not None and not (_is_number(v) and math.isfinite(v)):
                    raise ReportError(f"{where}: KPI {k!r} is {v!r}, not a finite number")
            records.append(
                {"run": rid, "replication": rep["replication"]}
                | params
                | {k: (np.nan if v is None else v) for k, v in kpis.items()}
            )
    return pd.DataFrame.from_records(records)


# --------------------------------------------------------------------------------------------


Results = ComparisonResults | SweepResults


def load_results(folder: str | Path) -> Results:
    """Read a comparison or sweep folder and check its files; `ReportError` (one line naming
    the file, and the line and column where one is at fault) if it is neither, or if a file
    is damaged, incomplete or disagrees with the others."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such results folder")
    if (folder / "comparison.csv").exists():
        return _load_comparison(folder)
    if (folder / "sweep.json").exists():
        return _load_sweep(folder)
    raise ReportError(
        f"{folder}: not a results folder of `omnisim compare` or `omnisim sweep` "
        "(no comparison.csv or sweep.json)"
    )
