"""The purchase events of an event trail as a transaction table (one row per purchase).

The table has the columns ``customer_id, date, monetary_value, channel`` (plus
``replication`` when the trail holds several replications): the layout that customer-lifetime-
value libraries read (lifetimes' ``summary_data_from_transaction_data``, PyMC-Marketing's
``rfm_summary``). ``date`` is a real timestamp: simulation day 0 is midnight of ``start_date``
and a purchase at time ``t`` (days) is dated ``start_date + t days``. ``monetary_value`` is what
the consumer paid (units × price per unit). Every purchase in the trail is exported, warm-up
included (see docs/outputs.md, "Transactions export").

The trail is read one Parquet batch at a time and the table written as it goes, so a trail
larger than memory can be exported. The output is written under a temporary name and moved into
place at the end: a failed export leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

FORMATS = ("parquet", "csv")
DEFAULT_START_DATE = dt.date(2026, 1, 1)
_NEEDED = ("replication", "time", "consumer", "event", "channel", "units", "value")
_BATCH_ROWS = 65_536
_US_PER_DAY = 86_400_000_000


class ExportError(ValueError):
    """Bad input to an export (missing path, no trail, unknown format): one line for the user."""


def trail_files(source: str | Path) -> list[Path]:
    """The trail files of a results folder (``trail/rep-NNN.parquet``) or one Parquet file."""
    src = Path(source)
    if not src.exists():
        raise ExportError(f"no such file or folder: {src}")
    if src.is_dir():
        folder = src / "trail" if (src / "trail").is_dir() else src
        files = sorted(folder.glob("rep-*.parquet"))
        if not files:
            raise ExportError(f"no event trail in {src} (write one with `omnisim run --trail`)")
    else:
        files = [src]
    for f in files:
        try:
            names = set(pq.read_schema(f).names)
        except (OSError, pa.ArrowException) as e:
            raise ExportError(f"not a Parquet event trail: {f} ({e})") from None
        missing = [c for c in _NEEDED if c not in names]
        if missing:
            raise ExportError(f"not an event trail: {f} lacks columns {', '.join(missing)}")
    return files


def _replications(files: list[Path]) -> int:
    """Distinct replications over the files (reads only the replication column)."""
    seen: set[int] = set()
    for f in files:
        for batch in pq.ParquetFile(f).iter_batches(_BATCH_ROWS, columns=["replication"]):
            seen.update(pc.unique(batch.column(0)).to_pylist())
            if len(seen) > 1:
                return len(seen)
    return len(seen)


def _schema(with_replication: bool) -> pa.Schema:
    fields = [
        ("customer_id", pa.int32()),
        ("date", pa.timestamp("us")),
        ("monetary_value", pa.float64()),
        ("channel", pa.string()),
    ]
    if with_replication:
        fields.append(("replication", pa.int16()))
    return pa.schema(fields)


def _purchases(batch: pa.RecordBatch, start_us: int, schema: pa.Schema) -> pa.Table:
    """The purchase rows of one trail batch as transaction rows."""
    event = batch.column("event")
    if pa.types.is_dictionary(event.type):
        event = event.dictionary_decode()
    rows = pa.Table.from_batches([batch]).filter(pc.equal(event, "purchase"))
    time = rows.column("time").to_numpy()
    date = start_us + np.rint(time * _US_PER_DAY).astype(np.int64)
    value = pc.multiply(pc.cast(rows.column("units"), pa.float64()), rows.column("value"))
    cols = {
        "customer_id": pc.cast(rows.column("consumer"), pa.int32()),
        "date": pa.array(date, pa.timestamp("us")),
        "monetary_value": value,
        "channel": pc.cast(rows.column("channel"), pa.string()),
    }
    if "replication" in schema.names:
        cols["replication"] = pc.cast(rows.column("replication"), pa.int16())
    return pa.table(cols, schema=schema)


def export_transactions(
    source: str | Path,
    out: str | Path,
    fmt: str = "parquet",
    start_date: dt.date = DEFAULT_START_DATE,
) -> int:
    """Write the transaction table of the trail at ``source`` to ``out``; return its rows."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r} (choose {' or '.join(FORMATS)})")
    files = trail_files(source)
    schema = _schema(len(files) > 1 or _replications(files) > 1)
    start = dt.datetime(start_date.year, start_date.month, start_date.day)
    start_us = (start - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    rows = 0
    try:
        if fmt == "parquet":
            writer = pq.ParquetWriter(tmp, schema, compression="zstd")
            write = writer.write_table
        else:
            writer = pacsv.CSVWriter(tmp, schema)
            write = writer.write_table
        try:
            for f in files:
                for batch in pq.ParquetFile(f).iter_batches(_BATCH_ROWS, columns=list(_NEEDED)):
                    table = _purchases(batch, start_us, schema)
                    if table.num_rows:
                        write(table)
                        rows += table.num_rows
        finally:
            writer.close()
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows
