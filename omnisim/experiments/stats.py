"""Interval estimates across replications, and the rule for adding replications.

* One KPI of one scenario: Student-t interval over its R replications,
  ``mean ± t(0.975, R−1) · s / √R``.
* The difference of a strategy to the baseline under **common random numbers**: replication r
  of both used the same draws, so the differences ``d_r = x_r − b_r`` are i.i.d. and the
  interval is the paired t interval ``mean(d) ± t(0.975, R−1) · s_d / √R``. Its width shrinks by
  ``√(1 − ρ)`` against independent runs, with ρ the correlation between ``x_r`` and ``b_r``.
* With **independent** streams per strategy (``--independent``): Welch's interval,
  ``mean(x) − mean(b) ± t(0.975, ν) · √(s_x²/R + s_b²/R)`` with Welch–Satterthwaite ν.
* Sequential stopping (``--target-ci KPI=rel``): after each round, a KPI's relative half-width
  ``h / |mean|`` is compared with its target; the next round's size is the classical
  estimate ``R · (h / (rel · |mean|))² − R`` (Law, *Simulation Modeling and Analysis*, 5th ed.,
  §9.4.1), at least one, and the total never passes the cap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

from omnisim.metrics.units import unit_of

LEVEL = 0.95


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high) of a Student-t interval. One value has a mean but no interval (both
    bounds NaN: a zero-width "interval" would claim a certainty nothing measured), and any NaN
    makes all three NaN."""
    x = np.asarray(values, dtype=np.float64)
    if len(x) == 0 or np.isnan(x).any():
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half


def paired_interval(
    x: Sequence[float], base: Sequence[float], level: float = LEVEL
) -> tuple[float, float, float]:
    """(mean difference, low, high) of ``x − base``, replication by replication."""
    d = np.asarray(x, dtype=np.float64) - np.asarray(base, dtype=np.float64)
    return t_interval(d, level)


def welch_interval(
    x: Sequence[float], base: Sequence[float], level: float = LEVEL
) -> tuple[float, float, float]:
    """(difference of means, low, high) for two independent samples (Welch); no interval
    (NaN bounds) when either has fewer than two values."""
    a = np.asarray(x, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    if len(a) == 0 or len(b) == 0 or np.isnan(a).any() or np.isnan(b).any():
        return math.nan, math.nan, math.nan
    diff = float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return diff, math.nan, math.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        return diff, diff, diff
    nu = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + level / 2, nu) * se)
    return diff, diff - half, diff + half


def json_float(v: float) -> float | None:
    """NaN as None (JSON has no NaN)."""
    return None if math.isnan(v) else v


def summarise(rows: Sequence[Mapping[str, float]]) -> dict[str, dict]:
    """KPI name -> {"mean", "ci95": [lo, hi], "unit"} over replication rows (KPI order kept;
    the bounds are None with fewer than two replications, the unit as
    `omnisim.metrics.units.unit_of` gives it)."""
    names = list(rows[0]) if rows else []
    out = {}
    for name in names:
        m, lo, hi = t_interval([r[name] for r in rows])
        out[name] = {
            "mean": json_float(m),
            "ci95": [json_float(lo), json_float(hi)],
            "unit": unit_of(name),
        }
    return out


def parse_targets(specs: Sequence[str], kpis: Sequence[str] | None = None) -> dict[str, float]:
    """``["revenue=0.01", ...]`` -> {"revenue": 0.01}. Raises ValueError with a one-line
    message for a malformed item, a target outside (0, 1), or (given ``kpis``) an unknown
    KPI."""
    out: dict[str, float] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--target-ci: {spec!r}: expected KPI=relative_half_width")
        try:
            rel = float(value)
        except ValueError:
            raise ValueError(f"--target-ci: {spec!r}: {value!r} is not a number") from None
        if not 0.0 < rel < 1.0:
            raise ValueError(f"--target-ci: {spec!r}: the relative half-width must be in (0, 1)")
        if kpis is not None and name not in kpis:
            raise ValueError(f"--target-ci: unknown KPI {name!r}")
        out[name] = rel
    return out


def more_replications(
    samples: Sequence[Sequence[float]], rel: float, done: int, cap: int, level: float = LEVEL
) -> int:
    """How many replications to add so that every sample's relative half-width reaches
    ``rel`` (0 when all do, or when ``done`` has reached ``cap``). ``samples`` are the KPI
    values per replication of each series the target applies to (a strategy, say)."""
    if done >= cap:
        return 0
    if done < 2:
        return min(2 - done, cap - done)
    want = done
    for x in samples:
        mean, lo, hi = t_interval(x, level)
        if math.isnan(mean):
            continue
        half = (hi - lo) / 2
        goal = rel * abs(mean)
        if half <= goal:
            continue
        if goal == 0.0:
            return cap - done
        want = max(want, math.ceil(done * (half / goal) ** 2))
    if want <= done:
        return 0
    return min(max(want - done, 1), cap - done)
