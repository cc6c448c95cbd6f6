"""Result files of a run: summary.json, replications.csv, manifest.json.

Every file is written to a temporary name in the output folder and moved into place with
``os.replace``, so a reader never sees half a file and an interrupted run leaves the folder as
it was (partial files are removed).
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
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


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return "" if v != v else repr(v)
    return "" if v is None else v


def json_text(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def environment_info() -> dict[str, str]:
    from omnisim import __version__

    return {
        "omnisim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "command": " ".join(sys.argv),
    }
