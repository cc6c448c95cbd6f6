"""Saved results read back for charts and reports: a comparison folder or a sweep folder.

A report is built from the files `omnisim compare` and `omnisim sweep` wrote, never from a
live run, so `omnisim report RESULTS_DIR` gives the same report later, on another machine,
without simulating again. Everything a chart needs is here, typed; a folder that is not a
finished comparison or sweep raises `ReportError` with one line naming the file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omnisim.experiments.stats import t_interval

HEADLINE = (
    "needs",
    "searches",
    "purchases",
    "revenue",
    "brand_profit",
    "dealer_profit",
    "lost_sales",
    "fill_rate",
    "avg_rating",
    "repeat_purchase_rate",
    "clv",
    "cac",
    "online_share",
    "price_dispersion",
    "avg_delivery_days",
    "member_share",
)
"""The KPIs a strategist reads first, in this order: the rows of the report's findings table
and the panels of the forest plot of differences (those the results have)."""
TERMINAL = "terminal"
"""Name of the stores' own level in the dealer-network KPIs (`dealer_profit.terminal`)."""


class ReportError(Exception):
    """A results folder that cannot be reported on; the message is one line."""


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReportError(f"{path}: cannot read: {e}") from None


def _read_csv(path: Path, **kwargs: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kwargs)
    except (OSError, ValueError) as e:  # pandas' parser errors are ValueErrors
        raise ReportError(f"{path}: cannot read: {e}") from None


def _optional_json(path: Path) -> dict[str, Any]:
    return _read_json(path) if path.exists() else {}


@dataclass
class ComparisonResults:
    """A folder written by `omnisim compare`.

    Attributes:
        folder: where the files are.
        manifest: manifest.json (versions, strategies, baseline, seed, replications, hashes).
        scenario: scenario.json, the baseline's market as run (overlay and overrides
            applied), every overlay in ``strategies`` (empty for results written before it
            was saved).
        table: comparison.csv (strategy, kpi, mean, ci_low, ci_high, diff, diff_ci_*).
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
        (the interval of a sum is not the sum of the intervals)."""
        rows = self.replications[self.replications.strategy == strategy]
        total = rows[kpis].fillna(0.0).sum(axis=1).to_list()
        return t_interval(total)

    def series_means(self, strategy: str) -> pd.DataFrame:
        """Per period, each time-series column's mean over the strategy's replications."""
        if self.series is None:
            raise KeyError("no time series")
        rows = self.series[self.series.strategy == strategy].drop(columns=["strategy"])
        return rows.groupby("period", sort=True).mean(numeric_only=True)


@dataclass
class SweepResults:
    """A folder written by `omnisim sweep`.

    Attributes:
        folder: where the files are.
        manifest: manifest.json (design, n, reps, rows, seed, versions).
        identity: sweep.json (the scenario file, overrides and each parameter's range).
        scenario: scenario.json (the market swept), or empty for older folders.
        runs: runs.csv (run id, parameter values, each KPI's mean over replications).
        sensitivity: sensitivity.csv (kpi, parameter, the design's measures).
    """

    folder: Path
    manifest: dict[str, Any]
    identity: dict[str, Any]
    scenario: dict[str, Any]
    runs: pd.DataFrame
    sensitivity: pd.DataFrame

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
        records = []
        for path in sorted((self.folder / "runs").glob("*.json")):
            doc = _read_json(path)
            for rep in doc["replications"]:
                records.append(
                    {"run": doc["run"], "replication": rep["replication"]}
                    | doc["params"]
                    | {k: (np.nan if v is None else v) for k, v in rep["kpis"].items()}
                )
        return pd.DataFrame.from_records(records)


Results = ComparisonResults | SweepResults


def load_results(folder: str | Path) -> Results:
    """Read a comparison or sweep folder; `ReportError` (one line) if it is neither."""
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


def _load_comparison(folder: Path) -> ComparisonResults:
    manifest = _read_json(folder / "manifest.json")
    for key in ("strategies", "baseline", "replications"):
        if key not in manifest:
            raise ReportError(f"{folder / 'manifest.json'}: no {key!r}: not written by compare")
    table = _read_csv(folder / "comparison.csv")
    reps = _read_csv(folder / "replications.csv")
    series_path = folder / "timeseries.csv"
    series = _read_csv(series_path) if series_path.exists() else None
    return ComparisonResults(
        folder, manifest, _optional_json(folder / "scenario.json"), table, reps, series
    )


def _load_sweep(folder: Path) -> SweepResults:
    identity = _read_json(folder / "sweep.json")
    for name in ("runs.csv", "sensitivity.csv", "manifest.json"):
        if not (folder / name).exists():
            raise ReportError(
                f"{folder}: the sweep is not finished ({name} missing): complete it with "
                "`omnisim sweep ... --resume`"
            )
    manifest = _read_json(folder / "manifest.json")
    runs = _read_csv(folder / "runs.csv", dtype={"run": str})
    sensitivity = _read_csv(folder / "sensitivity.csv")
    return SweepResults(
        folder, manifest, identity, _optional_json(folder / "scenario.json"), runs, sensitivity
    )
