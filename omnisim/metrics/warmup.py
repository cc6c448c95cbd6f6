"""Warm-up check: does the measured window still hold the start-up transient?

Pure functions of per-period series (one list of period sums per replication, as in
``timeseries.csv``); nothing of the scenario or the simulation. docs/model.md, section 2, gives
the statistics and their references; in short:

* **MSER-5** (White 1997; White, Cobb & Spratt 2000): the series is cut into batches of 5
  periods with means ``Z_1 … Z_b``, and the truncation ``d*`` (in batches) minimises
  ``MSER(d) = Σ_{j>d} (Z_j − Z̄_d)² / (b − d)²`` over ``0 ≤ d ≤ ⌊b/2⌋``, ``Z̄_d`` the mean of
  the batches after ``d``. The search stops at half the series because the statistic is
  unstable on few batches; a minimum at that bound means the series may still be changing
  halfway (Hoad, Robinson & Davies 2010): the truncation is then a lower bound.
* **A test of the truncation.** MSER-5 truncates a stationary series often (about 40% of
  stationary AR(1) series of 100 periods, over half of short ones; measured in
  ``tests/unit/metrics/test_warmup.py``), since some first batch is always off the mean.
  So a truncation is reported as a transient only if the replications agree on it: the
  difference between the mean of the truncated periods and the mean of the rest, one value per
  replication (independent), must be non-zero by a two-sided t test, Bonferroni-corrected for
  every truncation MSER could have chosen and every series checked. Under a stationary output
  the chance of a false warning is then at most ``alpha`` (5%); with one replication there
  is no test and no verdict.
* **Drift**: ``mean(last third) / mean(first third) − 1`` of each replication's series, and a
  Student-t interval over the replications (see `drift`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

BATCH = 5
"""Periods per batch of MSER-5."""
MIN_BATCHES = 4
"""Fewer batches than this and the check gives no verdict: with 3 the search covers d = 0 or
1 only, and the last batch alone would decide."""
ALPHA = 0.05
"""Largest chance of a false warning on a stationary output (the test's family-wise level)."""
LEVEL = 0.95
"""Confidence level of the drift intervals."""

OK, TOO_SHORT, NO_VERDICT = "ok", "too_short", "no_verdict"


@dataclass(frozen=True)
class Mser:
    """MSER-5 truncation of one series.

    Attributes:
        truncation: periods to delete from the start, ``5 d*``.
        at_boundary: the minimum fell at the search bound ``d = ⌊b/2⌋`` (with ``d* > 0``):
            the series may still be changing halfway, and ``truncation`` is a lower bound.
        batches: number of batches ``b`` (the periods after the last whole batch are not used).
    """

    truncation: int
    at_boundary: bool
    batches: int


def mser5(series: Sequence[float], batch: int = BATCH) -> Mser | None:
    """MSER-5 truncation of ``series`` (one value per period); None with fewer than
    `MIN_BATCHES` batches. Ties keep the shortest truncation."""
    y = np.asarray(series, dtype=np.float64)
    b = len(y) // batch
    if b < MIN_BATCHES:
        return None
    z = y[: b * batch].reshape(b, batch).mean(axis=1)
    z = z - z.mean()  # centred: the sums of squares below then lose no digits to cancellation
    # Sums over the batches after d, for every d at once (reverse cumulative sums).
    s1 = np.cumsum(z[::-1])[::-1]
    s2 = np.cumsum((z * z)[::-1])[::-1]
    dmax = b // 2
    d = np.arange(dmax + 1)
    n = b - d
    ss = np.maximum(s2[: dmax + 1] - s1[: dmax + 1] ** 2 / n, 0.0)
    stat = ss / n.astype(np.float64) ** 2
    best = int(np.argmin(stat))  # the first minimum
    return Mser(batch * best, best == dmax and best > 0, b)


@dataclass(frozen=True)
class Drift:
    """Relative change of a series' mean from its first third to its last third.

    Attributes:
        change: mean over the replications of ``mean(last third) / mean(first third) − 1``
            (fraction; None when a first third sums to 0 or the series has fewer than 3
            periods).
        ci95: Student-t 95% interval of ``change`` over the replications (fractions; None
            with fewer than 2 replications).
    """

    change: float | None
    ci95: tuple[float, float] | None


def drift(replications: Sequence[Sequence[float]], level: float = LEVEL) -> Drift:
    """The drift of a series given per replication (rows of equal length, one value per
    period).

    A ratio per replication, then a t interval over the replications: the replications are
    independent, so the ratios are too, whatever the autocorrelation within a series; each
    ratio is free of units, and the noise of its denominator is in the interval. (The ratio's
    bias, of the order of the squared relative noise of a third's mean, is far below its
    spread for sums over many consumers.) A mean of differences scaled by the first third's
    mean would leave the denominator's noise out.
    """
    y = np.asarray(replications, dtype=np.float64)
    k = y.shape[1] // 3
    if k == 0:
        return Drift(None, None)
    first, last = y[:, :k].mean(axis=1), y[:, -k:].mean(axis=1)
    if np.any(first == 0.0):
        return Drift(None, None)
    r = last / first - 1.0
    change = float(r.mean())
    if len(r) < 2:
        return Drift(change, None)
    half = float(stats.t.ppf(0.5 + level / 2, len(r) - 1) * r.std(ddof=1) / math.sqrt(len(r)))
    return Drift(change, (change - half, change + half))


def _t_p_value(d: np.ndarray) -> float:
    """Two-sided p value of a one-sample t test of mean 0 (values of independent
    replications). A zero spread gives 1 for a zero mean and 0 otherwise."""
    mean = float(d.mean())
    sd = float(d.std(ddof=1))
    if sd == 0.0:
        return 1.0 if mean == 0.0 else 0.0
    t = mean / (sd / math.sqrt(len(d)))
    return float(2.0 * stats.t.sf(abs(t), len(d) - 1))


@dataclass(frozen=True)
class SeriesCheck:
    """The check of one series (the replications averaged period by period for MSER-5).

    Attributes:
        truncation_periods: MSER-5 truncation of the averaged series (periods; None: too few
            batches).
        at_boundary: MSER-5's minimum fell at its search bound (`Mser`).
        p_value: the truncation's t test, Bonferroni-corrected (None without a positive
            truncation or with fewer than 2 replications).
        transient: the truncation is positive and its test rejects at `ALPHA`.
        bias: what keeping the truncated periods does to the window's mean:
            ``mean(all) / mean(after the truncation) − 1`` (fraction; None when nothing is
            truncated or the rest sums to 0).
        drift: `drift` of the series.
    """

    truncation_periods: int | None
    at_boundary: bool
    p_value: float | None
    transient: bool
    bias: float | None
    drift: Drift


@dataclass(frozen=True)
class WarmupCheck:
    """The warm-up check of one scenario (or strategy): `check`.

    Attributes:
        verdict: ``ok`` (no transient found in the window), ``too_short`` (the warm-up looks
            too short: a series settles only ``truncation_days`` into the window) or
            ``no_verdict`` (the window holds fewer than 20 whole periods, or there is one
            replication: see ``reason``).
        reason: one sentence saying why.
        warmup_days: the current warm-up (days).
        period_days: width of a period (days).
        periods: whole periods of the window used (a shorter last period is left out).
        replications: replications averaged.
        series: the series that decided a ``too_short`` verdict (the one settling last).
        truncation_days: how far into the window that series settles (days; 0 with ``ok``,
            None with ``no_verdict``).
        at_boundary: that series was still changing at MSER-5's search bound, halfway
            through the window: the truncation is a lower bound.
        suggested_warmup_days: ``warmup_days + truncation_days``, rounded up to a whole day
            (days; None with ``no_verdict``).
        by_series: every series checked, by name.
    """

    verdict: str
    reason: str
    warmup_days: float
    period_days: float
    periods: int
    replications: int
    series: str | None = None
    truncation_days: float | None = None
    at_boundary: bool = False
    suggested_warmup_days: float | None = None
    by_series: dict[str, SeriesCheck] = field(default_factory=dict)

    def advice(self) -> str | None:
        """One sentence for a warning when the warm-up looks too short (None otherwise)."""
        if self.verdict != TOO_SHORT or self.truncation_days is None:
            return None
        what = f"{_period_word(self.period_days)} {self.series}"
        one = self.series == "revenue"  # the other series are plurals (purchases, needs)
        days, suggested = f"{self.truncation_days:g}", f"{self.suggested_warmup_days:g}"
        if self.at_boundary:
            return (
                f"the warm-up looks too short: {what} {'is' if one else 'are'} still changing "
                f"halfway through the measured window, {days} days in (MSER-5 stops there); "
                f"try warmup_days: {suggested} or more, with a longer horizon_days"
            )
        return (
            f"the warm-up looks too short: {what} settle{'s' if one else ''} about {days} days "
            f"into the measured window (MSER-5); try warmup_days: {suggested}"
        )

    def as_json(self) -> dict[str, object]:
        """The check as JSON values (no NaN), for summary.json's ``warmup_check``."""
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "method": "MSER-5",
            "warmup_days": self.warmup_days,
            "period_days": self.period_days,
            "periods": self.periods,
            "replications": self.replications,
            "series": self.series,
            "truncation_days": self.truncation_days,
            "at_boundary": self.at_boundary,
            "suggested_warmup_days": self.suggested_warmup_days,
            "by_series": {
                name: {
                    "truncation_days": None
                    if s.truncation_periods is None
                    else s.truncation_periods * self.period_days,
                    "at_boundary": s.at_boundary,
                    "p_value": _finite(s.p_value),
                    "transient": s.transient,
                    "bias": _finite(s.bias),
                    "drift": _finite(s.drift.change),
                    "drift_ci95": None
                    if s.drift.ci95 is None
                    else [_finite(s.drift.ci95[0]), _finite(s.drift.ci95[1])],
                }
                for name, s in self.by_series.items()
            },
        }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _period_word(days: float) -> str:
    return {7.0: "weekly", 1.0: "daily"}.get(days, f"{days:g}-day")


def whole_periods(warmup_days: float, horizon_days: float, period_days: float) -> int:
    """Whole periods of ``period_days`` in the window ``[warmup_days, horizon_days)``: the
    ledger's last period is shorter when the width does not divide the window, and a shorter
    period's sum would look like a drop at the end."""
    ratio = (horizon_days - warmup_days) / period_days
    near = round(ratio)
    return int(near if abs(ratio - near) <= 1e-9 * max(ratio, 1.0) else math.floor(ratio))


def check(
    purchases: Sequence[Sequence[float]],
    *,
    warmup_days: float,
    horizon_days: float,
    period_days: float,
    revenue: Sequence[Sequence[float]] | None = None,
    needs: Sequence[Sequence[float]] | None = None,
    alpha: float = ALPHA,
) -> WarmupCheck:
    """Check the warm-up of one scenario from its period series, one row per replication (as
    ``timeseries.csv``: period sums of the measured window ``[warmup_days, horizon_days)``,
    periods of ``period_days`` days, the last one possibly shorter).

    The replications are averaged period by period and MSER-5 is applied to the average (the
    usual way for replicated output: averaging leaves a transient whole and shrinks the
    noise); the test and the drift use each replication. Every series given (purchases,
    and revenue and needs when given) is checked; the one that settles last decides.

    Raises ValueError for no replication, or rows of different lengths.
    """
    given: dict[str, Sequence[Sequence[float]]] = {"purchases": purchases}
    if revenue is not None:
        given["revenue"] = revenue
    if needs is not None:
        given["needs"] = needs
    n = whole_periods(warmup_days, horizon_days, period_days)
    arrays: dict[str, np.ndarray] = {}
    for name, rows in given.items():
        if len(rows) == 0:
            raise ValueError(f"warm-up check: no replication of {name}")
        if len(rows) != len(purchases):
            raise ValueError(
                f"warm-up check: {name}: {len(rows)} replications, not {len(purchases)}"
            )
        lengths = {len(r) for r in rows}
        if len(lengths) != 1:
            raise ValueError(f"warm-up check: {name}: replications of different lengths")
        arrays[name] = np.asarray(rows, dtype=np.float64)
    n = min(n, *(y.shape[1] for y in arrays.values()))
    arrays = {name: y[:, :n] for name, y in arrays.items()}
    reps = len(purchases)
    base = dict(
        warmup_days=float(warmup_days),
        period_days=float(period_days),
        periods=n,
        replications=reps,
    )
    batches = n // BATCH
    # Every truncation MSER-5 may choose (d = 1 … ⌊b/2⌋) in every series is a test the
    # warning could rest on: Bonferroni over all of them bounds the false-warning chance.
    tests = max(batches // 2, 1) * len(arrays)
    by_series = {name: _series(y, tests, alpha) for name, y in arrays.items()}
    if batches < MIN_BATCHES:
        reason = (
            f"the measured window holds {n} whole periods of {period_days:g} days; MSER-5 "
            f"needs at least {MIN_BATCHES * BATCH} ({MIN_BATCHES} batches of {BATCH})"
        )
        return WarmupCheck(NO_VERDICT, reason, **base, by_series=by_series)
    if reps < 2:
        reason = (
            "one replication: a transient cannot be told from noise (the check needs 2 or more)"
        )
        return WarmupCheck(NO_VERDICT, reason, **base, by_series=by_series)
    found = [(s.truncation_periods or 0, name) for name, s in by_series.items() if s.transient]
    if not found:
        reason = "no series holds a transient that the replications agree on (MSER-5)"
        return WarmupCheck(OK, reason, **base, truncation_days=0.0, by_series=by_series)
    periods, name = max(found, key=lambda x: x[0])  # first listed among equals
    days = periods * period_days
    suggested = float(math.ceil(warmup_days + days - 1e-9))
    reason = (
        f"{name}: MSER-5 truncates {periods} periods of the window, and the replications agree "
        f"(p = {by_series[name].p_value:.2g} after the Bonferroni correction)"
    )
    return WarmupCheck(
        TOO_SHORT,
        reason,
        **base,
        series=name,
        truncation_days=days,
        at_boundary=by_series[name].at_boundary,
        suggested_warmup_days=suggested,
        by_series=by_series,
    )


def _series(y: np.ndarray, tests: int, alpha: float) -> SeriesCheck:
    """`SeriesCheck` of one series (rows: replications, columns: whole periods)."""
    mean = y.mean(axis=0)
    m = mser5(mean)
    trend = drift(y)
    if m is None:
        return SeriesCheck(None, False, None, False, None, trend)
    t = m.truncation
    if t == 0:
        return SeriesCheck(0, False, None, False, None, trend)
    rest = float(mean[t:].mean())
    bias = float(mean.mean()) / rest - 1.0 if rest != 0.0 else None
    if y.shape[0] < 2:
        return SeriesCheck(t, m.at_boundary, None, False, bias, trend)
    d = y[:, :t].mean(axis=1) - y[:, t:].mean(axis=1)
    p = min(1.0, _t_p_value(d) * tests)
    return SeriesCheck(t, m.at_boundary, p, p < alpha, bias, trend)


def series_of(rows: Sequence[Mapping[str, object]], column: str) -> list[list[float]]:
    """One list per replication of ``column`` from ``timeseries.csv``-style rows (each with
    ``replication`` and ``period``), replications and periods in order."""
    by_rep: dict[object, dict[int, float]] = {}
    for r in rows:
        by_rep.setdefault(r["replication"], {})[int(r["period"])] = float(r[column])
    return [[v for _, v in sorted(p.items())] for _, p in sorted(by_rep.items())]
