"""Engine benchmark: journeys per second on a million consumers, against bare SimPy.

    python benchmarks/run.py                       # benchmarks/million.yaml, one replication
    python benchmarks/run.py --consumers 200000 --days 90   # a quicker look

Prints (and with ``--json FILE`` saves):

* journeys (needs) per second of the simulation run (compilation excluded: a small warm-up run
  loads or builds the compiled kernels first);
* the bare SimPy rate on the same machine: one process resuming timeouts (the issue's
  reference: a single process with nothing else on the heap is the fastest SimPy resumes);
  and the rate with one process per consumer of the scenario (``--simpy-processes``, default
  the scenario's consumers): what a one-process-per-consumer design of this very market would
  carry, since its heap holds an event per consumer;
* the ratio of journeys per second to each (goal: at least 3 against the single process);
* peak memory per consumer: the rise of the process's peak resident memory during the run,
  divided by the number of consumers (goal: at most 1,000 bytes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import simpy

HERE = Path(__file__).resolve().parent


def simpy_rate(processes: int, resumes: int = 2_000_000) -> float:
    """Timeouts resumed per second by ``processes`` SimPy processes looping on timeouts."""
    env = simpy.Environment()
    count = [0]

    def proc(env: simpy.Environment, d: float):
        while True:
            yield env.timeout(d)
            count[0] += 1

    for k in range(processes):
        env.process(proc(env, 1.0 + (k % 997) / 997.0))
    env.run(until=1e-9)
    horizon = resumes / processes * 1.5 / 1.0
    start = time.perf_counter()
    env.run(until=horizon)
    return count[0] / (time.perf_counter() - start)


def peak_rss() -> int:
    """Peak resident memory of this process so far (bytes)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux); False where it cannot be done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenario", default=str(HERE / "million.yaml"))
    ap.add_argument("--consumers", type=int, default=None, help="override market.consumers")
    ap.add_argument("--days", type=float, default=None, help="override horizon_days")
    ap.add_argument("--bucket-hours", type=float, default=None)
    ap.add_argument(
        "--simpy-processes",
        type=int,
        default=None,
        help="processes for the per-consumer SimPy rate (default: the scenario's consumers)",
    )
    ap.add_argument("--json", default=None, help="also write the figures to this file")
    args = ap.parse_args()

    from omnisim.experiments.runs import small_copy
    from omnisim.scenario.loading import load_scenario
    from omnisim.simulation import Simulation

    overrides = []
    if args.consumers:
        overrides.append(f"market.consumers={args.consumers}")
    if args.days:
        overrides.append(f"horizon_days={args.days}")
    if args.bucket_hours:
        overrides.append(f"engine.bucket_hours={args.bucket_hours}")
    sc = load_scenario(args.scenario, overrides=overrides)

    # Warm-up: load (or compile) the kernels on a small copy of the scenario.
    t0 = time.perf_counter()
    Simulation(small_copy(sc, 2000, 40.0), 0).run()
    warmup_s = time.perf_counter() - t0

    reset = reset_peak_rss()
    base = peak_rss()
    t0 = time.perf_counter()
    sim = Simulation(sc, 0)
    setup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = sim.run()
    run_s = time.perf_counter() - t0
    peak = peak_rss()
    journeys = int(sim.population.journey.sum())
    n = sc.market.consumers

    one = simpy_rate(1)
    procs = args.simpy_processes or n
    many = simpy_rate(procs, resumes=max(2_000_000, 3 * procs))
    rate = journeys / run_s
    figures = {
        "scenario": sc.name,
        "consumers": n,
        "days": sc.horizon_days,
        "bucket_hours": sc.engine.bucket_hours,
        "journeys": journeys,
        "events": result.events,
        "setup_seconds": round(setup_s, 3),
        "run_seconds": round(run_s, 3),
        "warmup_and_compile_seconds": round(warmup_s, 3),
        "journeys_per_second": round(rate),
        "events_per_second": round(result.events / run_s),
        "simpy_timeouts_per_second_1_process": round(one),
        f"simpy_timeouts_per_second_{procs}_processes": round(many),
        "ratio_journeys_to_simpy": round(rate / one, 3),
        f"ratio_journeys_to_simpy_{procs}_processes": round(rate / many, 3),
        "peak_bytes_per_consumer": round((peak - base) / n, 1) if reset else None,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, Python "
        f"{platform.python_version()}",
    }
    width = max(map(len, figures))
    for k, v in figures.items():
        print(f"{k:<{width}}  {v:,}" if isinstance(v, int | float) else f"{k:<{width}}  {v}")
    print(
        f"\ngoal ratio >= 3 against one SimPy process: {'met' if rate / one >= 3 else 'NOT met'} "
        f"({rate / one:.2f}); against one process per consumer: {rate / many:.2f}; "
        f"goal <= 1,000 bytes/consumer: "
        f"{'met' if reset and (peak - base) / n <= 1000 else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
