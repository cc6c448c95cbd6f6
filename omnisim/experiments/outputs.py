"""Result files of a run: summary.json, replications.csv, manifest.json, and the warm-up check
of the time series they summarise.

Every file is written to a temporary name in the output folder and moved into place with
``os.replace``, so a reader never sees half a file and an interrupted run leaves the folder as
it was (partial files are removed).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from omnisim._version import __version__
from omnisim.metrics import warmup


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def csv_text(rows: Sequence[Mapping[str, object]], first: str, index: Sequence[object]) -> str:
    """CSV with a leading index column ``first`` and the union of row keys (first-seen order)."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([first, *keys])
    for i, r in zip(index, rows, strict=True):
        w.writerow([i, *(_fmt(r.get(k)) for k in keys)])
    return buf.getvalue()


def timeseries_rows(ledger: Mapping, replication: int) -> list[dict[str, object]]:
    """One row per period of a replication's ledger time series (``timeseries.csv``): the
    period's bounds in days, every ``ts_*`` column of the ledger (sums over the period, except
    ``active_customers``, a count at the period's end), then revenue and revenue share per
    channel."""
    lo, hi, width = ledger["warmup"], ledger["horizon"], ledger["period"]
    columns = [k for k in ledger if k.startswith("ts_") and k != "ts_ch_revenue"]
    by_channel = ledger["ts_ch_revenue"]
    channels = ledger["meta"]["channels"]
    n = len(by_channel)
    rows = []
    for p in range(n):
        row: dict[str, object] = {
            "replication": replication,
            "period": p,
            "start_day": lo + p * width,
            "end_day": hi if p == n - 1 else lo + (p + 1) * width,
        }
        for k in columns:
            row[k[3:]] = ledger[k][p]
        total = sum(by_channel[p])
        for c, v in zip(channels, by_channel[p], strict=True):
            row[f"revenue.{c}"] = v
        for c, v in zip(channels, by_channel[p], strict=True):
            row[f"channel_share.{c}"] = v / total if total else 0.0
        rows.append(row)
    return rows


def shock_free_until(shocks: Sequence[object], warmup_days: float, horizon_days: float) -> float:
    """The end of the part of the window ``[warmup_days, horizon_days)`` before the first shock
    that reaches it (days): a shock moves the series by design, which a warm-up check would
    take for a transient."""
    starts = [k.start_day for k in shocks if k.end_day > warmup_days]
    return min(horizon_days, max(warmup_days, min(starts))) if starts else horizon_days


def warmup_check(
    rows: Sequence[Mapping[str, object]],
    warmup_days: float,
    horizon_days: float,
    period_days: float,
    until_day: float | None = None,
) -> warmup.WarmupCheck:
    """The warm-up check (`omnisim.metrics.warmup.check`) of one scenario's `timeseries_rows`
    (every replication's), over purchases, revenue and needs; the window and the period in
    days. With ``until_day`` (`shock_free_until`) only the periods that end by then are
    checked.

    It never raises: it only reads results already made, and a check that cannot be made
    (no rows, say) gives no verdict, so that it can never fail a run."""
    try:
        series = {k: warmup.series_of(rows, k) for k in ("purchases", "revenue", "needs")}
        end = horizon_days if until_day is None else min(horizon_days, until_day)
        check = warmup.check(
            series["purchases"],
            revenue=series["revenue"],
            needs=series["needs"],
            warmup_days=warmup_days,
            horizon_days=end,
            period_days=period_days,
        )
        if end < horizon_days:
            reason = f"checked up to the first shock, day {end:g}: {check.reason}"
            check = dataclasses.replace(check, reason=reason)
        return check
    except Exception as e:  # a diagnostic must not cost the results it comments on
        reps = len({r.get("replication") for r in rows})
        reason = f"the check could not be made: {type(e).__name__}: {e}"
        return warmup.WarmupCheck(
            warmup.NO_VERDICT, reason, float(warmup_days), float(period_days), 0, reps
        )


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return "" if v is None else v


def json_text(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def environment_info() -> dict[str, str]:
    return {
        "omnisim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
    }
