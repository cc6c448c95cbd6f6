"""Golden outputs: every KPI and the event count of one replication of each example scenario's
strategies, kept so that a refactor can show it changed no result, bit for bit.

    python tests/regression/golden.py --update            # record scenarios/*.yaml
    python tests/regression/golden.py --check             # compare (as the test does)
    python tests/regression/golden.py --update benchmarks/million.yaml --into benchmarks/golden

Values are stored as ``float.hex`` strings, so equality is exact and NaN compares equal to
itself. A change that is meant to change results re-records the files in the same commit and
says why in its message.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from omnisim.scenario.loading import load_scenario, strategy_names
from omnisim.simulation import Simulation

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent / "golden"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _exact(v: float) -> str:
    return "nan" if math.isnan(v) else float(v).hex()


def fingerprint(path: Path, strategy: str | None) -> dict[str, object]:
    """KPIs (exact) and events of replication 0 of ``path`` under ``strategy``."""
    sc = load_scenario(path, strategy=strategy)
    r = Simulation(sc, 0, sc.seed).run()
    return {"events": int(r.events), "kpis": {k: _exact(v) for k, v in r.kpis.items()}}


def record(path: Path) -> dict[str, object]:
    """Every strategy of the file (and the file without one, as ``base``)."""
    names = [None, *[n for n in strategy_names(path) if n != "base"]]
    return {n or "base": fingerprint(path, n) for n in names}


def golden_file(path: Path, folder: Path = HERE) -> Path:
    return folder / f"{path.stem}.json"


def differences(path: Path, folder: Path = HERE) -> list[str]:
    """What differs between a fresh record of ``path`` and its golden file (empty: none)."""
    want = json.loads(golden_file(path, folder).read_text())
    got = record(path)
    out = (
        [f"{path.name}: strategies {sorted(got)} vs golden {sorted(want)}"]
        if set(got) != set(want)
        else []
    )
    for name in sorted(set(got) & set(want)):
        g, w = got[name], want[name]
        if g["events"] != w["events"]:
            out.append(f"{path.name} / {name}: events {g['events']} vs {w['events']}")
        for k in sorted(set(g["kpis"]) | set(w["kpis"])):
            a, b = g["kpis"].get(k), w["kpis"].get(k)
            if a != b:
                fa = float.fromhex(a) if a not in (None, "nan") else a
                fb = float.fromhex(b) if b not in (None, "nan") else b
                out.append(f"{path.name} / {name}: {k} {fa} vs golden {fb}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="record the golden files")
    mode.add_argument("--check", action="store_true", help="compare with the golden files")
    ap.add_argument("scenarios", nargs="*", type=Path, help="default: scenarios/*.yaml")
    ap.add_argument("--into", type=Path, default=HERE, help="folder of the golden files")
    args = ap.parse_args(argv)
    paths = args.scenarios or SCENARIOS
    bad = 0
    for p in paths:
        if args.update:
            args.into.mkdir(parents=True, exist_ok=True)
            text = json.dumps(record(p), indent=1, sort_keys=True) + "\n"
            golden_file(p, args.into).write_text(text)
            print(f"recorded {golden_file(p, args.into)}")
        else:
            diff = differences(p, args.into)
            bad += bool(diff)
            print("\n".join(diff) if diff else f"{p.name}: identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
