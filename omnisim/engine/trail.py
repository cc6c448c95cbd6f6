"""The per-consumer event trail, streamed to Parquet in chunks.

Rows are buffered as numpy arrays and written as a Parquet row group every
``trail_chunk_rows`` rows, so a trail of a hundred million events never sits in memory. The
file is written under a temporary name (not ending in ``.parquet``, so glob readers ignore it)
and renamed into place only when the run finishes: a killed run leaves no half-written trail.

Columns: ``replication`` (int16), ``time`` (days, float64), ``consumer`` (int32), ``event``
(dictionary string), ``channel`` (dictionary string, null when none), ``node`` (dictionary
string, null when none), ``units`` (int32), ``value`` (float64: price per unit for purchases,
stars for reviews, satisfaction for use, channels considered for searches, the mode of a
cross-fulfilment).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from omnisim.engine.state import F64, I8, I64, kinds

EVENTS: tuple[str, ...] = (
    "need",
    "unaware",
    "search",
    "no_consideration",
    "outside_choice",
    "store_arrival",
    "stockout",
    "balk",
    "switch",
    "lost_sale",
    "purchase",
    "receive",
    "use",
    "review",
    "churn",
    "win_back",  # customer lifecycle: a churned consumer comes back
    # Omnichannel fulfilment: an order fulfilled at a node that is not the taking channel's;
    # value = the mode (omnisim.channels.fulfilment: 1 pool warehouse, 2 pick-up in store,
    # 3 O2O outlet, 4 endless aisle, 5 ship from store).
    "cross_fulfilment",
)
EVENT_CODE = {name: i for i, name in enumerate(EVENTS)}
(
    NEED,
    UNAWARE,
    SEARCH,
    NO_CONSIDERATION,
    OUTSIDE_CHOICE,
    STORE_ARRIVAL,
    STOCKOUT,
    BALK,
    SWITCH,
    LOST_SALE,
    PURCHASE,
    RECEIVE,
    USE,
    REVIEW,
    CHURN,
    WIN_BACK,
    CROSS_FULFILMENT,
) = range(len(EVENTS))


class Rows(NamedTuple):
    """Trail rows as the compiled kernel writes them (channel and node -1 where none)."""

    event: I8[1]  # EVENTS code
    time: F64[1]  # days
    consumer: I64[1]
    channel: I64[1]
    node: I64[1]
    units: I64[1]
    value: F64[1]  # see the module docstring


def empty_rows(cap: int) -> Rows:
    """Uninitialised buffers for ``cap`` trail rows, each column of its declared dtype."""
    return Rows(*(np.empty(cap, dtype=kind.dtype) for kind in kinds(Rows).values()))


_SCHEMA = pa.schema(
    [
        ("replication", pa.int16()),
        ("time", pa.float64()),
        ("consumer", pa.int32()),
        ("event", pa.dictionary(pa.int8(), pa.string())),
        ("channel", pa.dictionary(pa.int8(), pa.string())),
        ("node", pa.dictionary(pa.int16(), pa.string())),
        ("units", pa.int32()),
        ("value", pa.float64()),
    ]
)


class TrailWriter:
    """Buffers trail rows and writes them to ``path`` in row groups."""

    def __init__(
        self,
        path: str | Path,
        channels: tuple[str, ...],
        nodes: tuple[str, ...],
        chunk_rows: int,
        replication: int = 0,
    ) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(self.path.name + ".partial")
        self.chunk_rows = int(chunk_rows)
        self.replication = replication
        self._events = pa.array(EVENTS, pa.string())
        self._channels = pa.array(channels, pa.string())
        self._nodes = pa.array(nodes, pa.string())
        self._buf: list[tuple[np.ndarray, ...]] = []
        self._rows = 0
        self.rows_written = 0
        self._writer = pq.ParquetWriter(self.tmp, _SCHEMA, compression="zstd")

    def add_rows(self, rows: Rows) -> None:
        """Buffer rows (channel and node -1 where there is none)."""
        n = len(rows.event)
        if n == 0:
            return
        self._buf.append(rows)
        self._rows += n
        if self._rows >= self.chunk_rows:
            self.flush()

    def flush(self) -> None:
        if not self._buf:
            return
        cols = [np.concatenate(c) for c in zip(*self._buf, strict=True)]
        self._buf, n = [], self._rows
        self._rows = 0
        ev, t, cons, ch, nd, units, value = cols
        table = pa.table(
            {
                "replication": pa.array(np.full(n, self.replication, dtype=np.int16)),
                "time": pa.array(t),
                "consumer": pa.array(cons.astype(np.int32)),
                "event": pa.DictionaryArray.from_arrays(pa.array(ev.astype(np.int8)), self._events),
                "channel": pa.DictionaryArray.from_arrays(
                    pa.array(ch.astype(np.int8), mask=ch < 0), self._channels
                ),
                "node": pa.DictionaryArray.from_arrays(
                    pa.array(nd.astype(np.int16), mask=nd < 0), self._nodes
                ),
                "units": pa.array(units.astype(np.int32)),
                "value": pa.array(value, from_pandas=True),
            },
            schema=_SCHEMA,
        )
        self._writer.write_table(table)
        self.rows_written += n

    def close(self) -> None:
        """Write what is buffered and move the file into place."""
        self.flush()
        self._writer.close()
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """Drop the partial file (on error or interruption)."""
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)
