"""The ``omnisim`` command line: run, compare, sweep, report, validate, schema, export.

Bad input (an invalid scenario file, a bad ``--set``, a scenario too large for the machine)
prints one line per problem to standard error and exits with status 2, without a traceback and
without writing any result file.
"""

from __future__ import annotations

import errno
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from omnisim._version import __version__
from omnisim.api import build_report, compare_results, default_out_dir, simulate
from omnisim.api import sweep as run_sweep
from omnisim.consumers.journey import kernels_cached
from omnisim.experiments.executors import ExecutorError
from omnisim.experiments.folders import FolderError
from omnisim.experiments.outputs import atomic_write_bytes
from omnisim.experiments.replicate import DEFAULT_MAX_REPS
from omnisim.experiments.stats import parse_targets
from omnisim.experiments.sweep import headline_measure
from omnisim.metrics.registry import headline
from omnisim.metrics.units import good_direction, unit_label
from omnisim.metrics.warmup import WarmupCheck
from omnisim.report import ReportError
from omnisim.scenario.loading import ScenarioError, load_scenario, validate_file
from omnisim.scenario.schema import Scenario
from omnisim.simulation import MemoryRefused

app = typer.Typer(
    name="omnisim",
    help="Simulate a brand's omnichannel retail system and compare strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

HEADLINE = headline("console")
"""The KPIs of the run and compare tables, in order (omnisim/metrics/registry.py)."""

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario file (YAML, TOML or JSON).")]
StrategyOpt = Annotated[
    str | None, typer.Option("--strategy", "-s", help="Strategy (overlay) to apply.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario field: dotted.path=value (repeatable)."),
]
SeedOpt = Annotated[
    int | None, typer.Option("--seed", min=0, help="Root seed, >= 0 (default: the file's).")
]
RepsOpt = Annotated[
    int | None, typer.Option("--reps", min=1, help="Replications (default: the file's).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target-ci",
        help="Add replications until KPI's 95% CI half-width is under this fraction of its "
        "mean: KPI=rel, e.g. revenue=0.01 (repeatable).",
    ),
]
MaxRepsOpt = Annotated[
    int, typer.Option("--max-reps", min=2, help="Cap on replications with --target-ci.")
]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        "--executor",
        help="Where runs execute: process (local pool), serial, dask (local cluster) or a Dask "
        "scheduler address tcp://host:8786.",
    ),
]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", min=1, help="Workers (default: one per core).")
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Replace the results already in --out, whole (never file by file).",
    ),
]
NoReportOpt = Annotated[
    bool,
    typer.Option("--no-report", help="Skip the charts and report.html (omnisim report adds them)."),
]


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _os_problem(e: OSError) -> str:
    """One line for an error of the environment: the path and the cause."""
    where = e.filename if e.filename is not None else "omnisim"
    other = f" -> {e.filename2}" if e.filename2 is not None else ""
    cause = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        cause = "no space left on the device"
    return f"{where}{other}: {cause}"


@contextmanager
def _guard(what: str, interrupted: list[str] | None = None) -> Iterator[None]:
    """Turn every failure a user can act on into one line and exit status 2: bad input, an
    output folder that cannot be used, the environment (permissions, missing folders, a full
    disk, memory); Ctrl-C (or SIGTERM) into exit 130. Results already in place are never
    touched by a failed command (`omnisim.experiments.folders`)."""
    try:
        yield
    except ScenarioError as e:
        _fail(e.problems)
    except (MemoryRefused, ExecutorError, FolderError, ReportError) as e:
        _fail([str(e)])
    except ValueError as e:
        _fail([str(e)])
    except MemoryError:
        _fail([f"{what}: out of memory; try fewer consumers, a shorter horizon or --workers 1"])
    except OSError as e:
        _fail([_os_problem(e)])
    except KeyboardInterrupt:
        said = (interrupted or [""])[
            -1
        ] or f"{what} wrote no results; earlier results are unchanged"
        err.print(f"interrupted: {said}", soft_wrap=True)
        raise typer.Exit(130) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"omnisim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Simulate a brand's omnichannel retail system and compare strategies."""


def _progress(
    total: float, quiet: bool, counter: str = "day {task.completed:.0f}/{task.total:.0f}"
):
    if quiet or not sys.stderr.isatty():
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(counter),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


def _load(
    scenario: Path, strategy: str | None, overrides: list[str], target_ci: list[str] | None
) -> tuple[Scenario, dict[str, float]]:
    """The scenario and the --target-ci targets, or exit 2 with every problem."""
    try:
        return load_scenario(scenario, strategy, overrides), parse_targets(target_ci or [])
    except ScenarioError as e:
        _fail(e.problems)
    except ValueError as e:
        _fail([str(e)])


def _prepare(quiet: bool) -> None:
    """Say that the first run compiles."""
    if not quiet and not kernels_cached():
        err.print("first run: compiling the simulation kernels (about a minute, cached after)")


@app.command()
def run(
    scenario: ScenarioArg,
    strategy: StrategyOpt = None,
    seed: SeedOpt = None,
    reps: RepsOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default results/<name>-<strategy>-<seed>-<hash>)."
        ),
    ] = None,
    force: ForceOpt = False,
    set_: SetOpt = None,
    trail: Annotated[
        bool, typer.Option("--trail", help="Also write the event trail (Parquet).")
    ] = False,
    target_ci: TargetOpt = None,
    max_reps: MaxRepsOpt = DEFAULT_MAX_REPS,
    quiet: QuietOpt = False,
) -> None:
    """Run SCENARIO (optionally one strategy) and write summary.json, replications.csv,
    manifest.json."""
    overrides = list(set_ or [])
    sc, targets = _load(scenario, strategy, overrides, target_ci)
    seed_v = sc.seed if seed is None else seed
    reps_v = sc.replications if reps is None else reps
    with _guard("run"):
        if out_dir is None:
            more = {"trail": trail, "target_ci": targets, "max_reps": max_reps}
            target = default_out_dir(sc, strategy, seed_v, reps=reps_v, overrides=overrides, **more)
        else:
            target = out_dir
        _prepare(quiet)
        bar = _progress(reps_v * sc.horizon_days, quiet)
        with bar or nullcontext():
            progress = None
            if bar is not None:
                days = reps_v * sc.horizon_days
                task = bar.add_task(sc.name, total=days)

                def progress(day: float) -> None:
                    bar.update(task, completed=day, total=max(day, days))

            result = simulate(
                scenario,
                strategy,
                seed=seed_v,
                replications=reps_v,
                overrides=overrides,
                out=target,
                force=force or out_dir is None,
                trail=trail,
                progress=progress,
                target_ci=targets,
                max_reps=max_reps,
            )
    _warn_warmup(scenario, {strategy: result.warmup})
    if not quiet:
        _print_summary(
            result.summary, f"{sc.name} / {strategy or 'base'}", result.replications, sc.currency
        )
        out.print(f"results in {result.out_dir}/", soft_wrap=True)


NO_INTERVAL = "no interval with 1 replication: run with --reps 2 or more"


def _warn_warmup(scenario: Path, checks: dict[str | None, WarmupCheck | None]) -> None:
    """One warning line on standard error per strategy whose warm-up looks too short
    (`omnisim.metrics.warmup`; also with --quiet: it is a finding, not progress). ``checks``
    maps a strategy (None: the base of `run`) to its check, or None."""
    for name, check in checks.items():
        advice = check.advice() if check is not None else None
        if advice:
            who = f"strategy {name!r}: " if name is not None else ""
            err.print(f"warning: {scenario}: {who}{advice}", markup=False, soft_wrap=True)


def _print_summary(summary: dict, title: str, reps: int, currency: str) -> None:
    table = Table(title=f"{title}  ({reps} replication{'s' if reps > 1 else ''}, 95% CI)")
    table.add_column("KPI", no_wrap=True)
    table.add_column("unit", no_wrap=True, style="dim")
    table.add_column("mean", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    shares = [n for n in summary if n.startswith("channel_share.")]
    for name in [*HEADLINE, *shares]:
        k = summary.get(name)
        if k is None or k["mean"] is None:
            continue
        pct = unit_label(name, currency) == "%"
        lo, hi = k["ci95"]
        ci = "–" if lo is None else f"[{_fmt_value(lo, pct)}, {_fmt_value(hi, pct)}]"
        table.add_row(name, unit_label(name, currency), _fmt_value(k["mean"], pct), ci)
    _print_table(table)
    if reps < 2:
        out.print(NO_INTERVAL, soft_wrap=True)


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


@app.command()
def compare(
    scenario: ScenarioArg,
    strategies: Annotated[
        str | None,
        typer.Option(
            "--strategies",
            help="Comma-separated strategies (default: all of the file; 'base' = no overlay).",
        ),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="Strategy to compare against (default: first).")
    ] = None,
    seed: SeedOpt = None,
    reps: RepsOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default results/<name>-compare-<seed>-<hash>)."),
    ] = None,
    force: ForceOpt = False,
    set_: SetOpt = None,
    independent: Annotated[
        bool,
        typer.Option(
            "--independent",
            help="Independent random streams per strategy instead of common random numbers.",
        ),
    ] = False,
    target_ci: TargetOpt = None,
    max_reps: MaxRepsOpt = DEFAULT_MAX_REPS,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    no_report: NoReportOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Run each strategy of SCENARIO with common random numbers and compare it with the
    baseline; write comparison.csv, replications.csv, timeseries.csv, summary.json,
    manifest.json, charts/ and report.html."""
    overrides = list(set_ or [])
    names = strategies.split(",") if strategies else None
    sc, targets = _load(scenario, None, overrides, target_ci)
    seed_v = sc.seed if seed is None else seed
    with _guard("compare"):
        _prepare(quiet)
        bar = _progress(1, quiet, "run {task.completed:.0f}/{task.total:.0f}")
        with bar or nullcontext():
            progress = on_report = None
            if bar is not None:
                task = bar.add_task(sc.name, total=1)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                def on_report() -> None:
                    bar.update(task, description="drawing the charts and the report")

            result = compare_results(
                scenario,
                names,
                baseline,
                reps=reps,
                seed=seed_v,
                overrides=overrides,
                out=out_dir,
                default_out=out_dir is None,
                force=force,
                report=not no_report,
                on_report=on_report,
                independent=independent,
                target_ci=targets,
                max_reps=max_reps,
                executor=executor,
                workers=workers,
                progress=progress,
            )
    _warn_warmup(scenario, result.warmup or {})
    if not quiet:
        _print_comparison(result, sc.currency)
        _where(result.out_dir, no_report)


def _where(target: Path, no_report: bool) -> None:
    if not no_report:
        out.print(f"report in {target / 'report.html'}", soft_wrap=True)
    out.print(f"results in {target}/", soft_wrap=True)


def _print_comparison(result, currency: str) -> None:
    t = result.table
    reps = len(result.rows[result.baseline])
    kind = "independent streams" if result.independent else "common random numbers"
    table = Table(
        title=f"{result.scenario}: difference to {result.baseline!r} "
        f"({reps} replication{'s' if reps > 1 else ''}, {kind}, 95% CI)"
    )
    table.add_column("KPI", no_wrap=True)
    table.add_column("unit", no_wrap=True, style="dim")
    table.add_column(result.baseline, justify="right")
    others = [n for n in result.strategies if n != result.baseline]
    for n in others:
        table.add_column(f"{n} vs {result.baseline}", justify="right")
    shares = sorted(k for k in set(t.kpi) if k.startswith("channel_share."))
    for kpi in [*HEADLINE, *shares]:
        rows = t[t.kpi == kpi].set_index("strategy")
        if rows.empty or rows.loc[result.baseline, "mean"] != rows.loc[result.baseline, "mean"]:
            continue
        unit = unit_label(kpi, currency)
        pct = unit == "%"
        cells = [_fmt_value(rows.loc[result.baseline, "mean"], pct)]
        for n in others:
            r = rows.loc[n]
            diff = _fmt_value(r["diff"], pct, signed=True, points=True)
            lo, hi = r["diff_ci_low"], r["diff_ci_high"]
            if lo != lo:  # no interval (fewer than 2 replications)
                cells.append(diff)
                continue
            ci = (
                f"[{_fmt_value(lo, pct, signed=True, points=True)}, "
                f"{_fmt_value(hi, pct, signed=True, points=True)}]"
            )
            cells.append(_coloured(f"{diff} {ci}", kpi, lo, hi))
        table.add_row(kpi, "% / pp" if pct and others else unit, *cells)
    _print_table(table)
    if reps < 2:
        out.print(f"{NO_INTERVAL}; no difference is a finding", soft_wrap=True)
    else:
        out.print(
            "bold: the interval excludes 0; green: better for the brand, red: worse; "
            "% / pp: the baseline in per cent, differences in percentage points",
            soft_wrap=True,
        )


def _print_table(table: Table) -> None:
    """A table whole: in a terminal at its width; into a file or pipe (80 columns by default)
    wide enough that no KPI name or interval is cut or folded."""
    out.print(table, width=None if out.is_terminal else 240)


def _coloured(text: str, kpi: str, lo: float, hi: float) -> str:
    """Bold where the interval excludes 0, green where that is good for the brand and red
    where it is bad (`good_direction`); a neutral KPI stays uncoloured."""
    if not (lo > 0 or hi < 0):
        return text
    sign = good_direction(kpi) * (1 if lo > 0 else -1)
    style = {1: "bold green", -1: "bold red"}.get(sign, "bold")
    return f"[{style}]{text}[/{style}]"


def _fmt_value(v: float, pct: bool, signed: bool = False, points: bool = False) -> str:
    """A KPI value as the console shows it; a fraction in per cent, or (``points``, for a
    difference of fractions) in percentage points."""
    if v != v:
        return "–"
    if pct:
        if points:
            return f"{v * 100:+.1f}" if signed else f"{v * 100:.1f}"
        return f"{v:+.1%}" if signed else f"{v:.1%}"
    text = _num(abs(v)) if signed else _num(v)
    return (("-" if v < 0 else "+") + text) if signed else text


@app.command()
def validate(
    scenario: Annotated[Path, typer.Argument(help="Scenario file to check.")],
    set_: SetOpt = None,
) -> None:
    """Check SCENARIO and each of its strategies, with the --set overrides applied to each;
    print every problem with its line."""
    problems = validate_file(scenario, overrides=list(set_ or []))
    if problems:
        _fail(problems)
    out.print(f"{scenario}: valid")


@app.command()
def schema(
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the schema to this file.")
    ] = None,
) -> None:
    """Print the JSON Schema of scenario files (for editor autocompletion)."""
    text = json.dumps(Scenario.model_json_schema(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    with _guard("schema"):
        _write_file(output, text.encode("utf-8"))


def _write_file(path: Path, data: bytes) -> None:
    """Write one output file whole (a temporary name, then a rename), or raise OSError
    naming the path."""
    if path.is_dir():
        raise OSError(errno.EISDIR, "is a folder; give a file name", str(path))
    if not path.parent.is_dir():
        raise OSError(errno.ENOENT, "no such folder", str(path.parent))
    atomic_write_bytes(path, data)


SweepRepsOpt = Annotated[
    int | None,
    typer.Option(
        "--reps", min=1, help="Replications per design row (default 1; common random numbers)."
    ),
]
SWEEP_HEADLINE = headline("sweep_console")
"""The KPIs whose most influential parameters the sweep prints (omnisim/metrics/registry.py)."""


@app.command()
def sweep(
    scenario: ScenarioArg,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            "-p",
            help="Swept field: dotted.path=LO:HI or dotted.path=v1,v2,... (repeatable).",
        ),
    ] = None,
    design: Annotated[
        str, typer.Option("--design", help="Design: grid, lhs, sobol or morris.")
    ] = "lhs",
    n: Annotated[
        int | None,
        typer.Option(
            "--n",
            help="Grid levels per range, LHS points, Sobol base samples (power of two) or "
            "Morris trajectories.",
        ),
    ] = None,
    reps: SweepRepsOpt = None,
    strategy: StrategyOpt = None,
    set_: SetOpt = None,
    seed: SeedOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default results/<name>-sweep-<design>-<seed>-<hash>)."
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Complete the sweep in --out; skip finished rows.")
    ] = False,
    force: ForceOpt = False,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    no_report: NoReportOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Sweep scenario parameters over a design; write design.csv, runs/, runs.csv,
    sensitivity.csv, manifest.json, charts/ and report.html (docs/sweeps.md)."""
    overrides = list(set_ or [])
    if n is None:
        _fail(["--n: required (grid levels, LHS points, Sobol base samples or trajectories)"])
    sc, _ = _load(scenario, strategy, overrides, None)
    seed_v = sc.seed if seed is None else seed
    said: list[str] = []

    def on_start(folder: Path, in_place: bool) -> None:
        # What an interrupt leaves: rows in place can be resumed; a replacement is dropped.
        if in_place:
            said.append(
                f"finished rows are kept in {folder}; run the same command with --resume to "
                "complete the sweep"
            )

    with _guard("sweep", said):
        _prepare(quiet)
        bar = _progress(1, quiet, "run {task.completed:.0f}/{task.total:.0f}")
        with bar or nullcontext():
            progress = on_report = None
            if bar is not None:
                task = bar.add_task(f"{sc.name} {design}", total=1)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                def on_report() -> None:
                    bar.update(task, description="drawing the charts and the report")

            frame = run_sweep(
                scenario,
                list(param or []),
                design,
                n=n,
                reps=1 if reps is None else reps,
                seed=seed_v,
                strategy=strategy,
                overrides=overrides,
                executor=executor,
                workers=workers,
                out=out_dir,
                force=force,
                resume=resume,
                report=not no_report,
                on_report=on_report,
                on_start=on_start,
                progress=progress,
            )
    if not quiet:
        _print_sensitivity(frame.attrs["sensitivity"], frame.attrs["manifest"])
        _where(frame.attrs["out"], no_report)


@app.command()
def report(
    results: Annotated[
        Path, typer.Argument(help="Results folder of `omnisim compare` or `omnisim sweep`.")
    ],
    quiet: QuietOpt = False,
) -> None:
    """Draw the charts (charts/*.svg, *.png) and write report.html of a comparison or sweep
    folder from its saved results, without simulating again (docs/reports.md)."""
    with _guard("report"):
        page = build_report(results)
    if not quiet:
        out.print(f"report in {page}", soft_wrap=True)


def _print_sensitivity(records: list[dict], manifest: dict) -> None:
    """The three most influential parameters for a few headline KPIs."""
    kind = manifest["design"]
    key = headline_measure(kind)
    table = Table(
        title=f"{manifest['scenario']}: {kind} sweep, {manifest['rows']} rows × "
        f"{manifest['reps']} replication{'s' if manifest['reps'] > 1 else ''}"
    )
    table.add_column("KPI")
    table.add_column("parameter", overflow="fold")  # long dotted paths wrap, never truncate
    columns = {
        "ST": [("ST ± 95%", "ST"), ("S1 ± 95%", "S1")],
        "mu_star": [("mu* ± 95%", "mu_star"), ("sigma", "sigma")],
    }.get(key, [("Spearman rho [95% CI]", "spearman")])
    for heading, _ in columns:
        table.add_column(heading, justify="right", no_wrap=True)
    for kpi in SWEEP_HEADLINE:
        rows = [r for r in records if r["kpi"] == kpi and r[key] == r[key]]
        rows.sort(key=lambda r: -abs(r[key]))
        for i, r in enumerate(rows[:3]):
            if key == "ST":
                cells = [f"{r[c]:.3f} ± {r[c + '_conf']:.3f}" for c in ("ST", "S1")]
            elif key == "mu_star":
                cells = [f"{_num(r['mu_star'])} ± {_num(r['mu_star_conf'])}", _num(r["sigma"])]
            else:
                lo, hi = r["spearman_ci_low"], r["spearman_ci_high"]
                cells = [f"{r['spearman']:+.3f} [{lo:+.3f}, {hi:+.3f}]"]
            table.add_row(kpi if i == 0 else "", r["parameter"], *cells)
    _print_table(table)


@app.command()
def elasticity(
    scenario: ScenarioArg,
    strategy: StrategyOpt = None,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            "-c",
            help="Move this channel's price alone: its own elasticity and the other channels' "
            "cross elasticities (default: the brand's price, each channel's in turn, then "
            "competitors').",
        ),
    ] = None,
    reps: Annotated[
        int | None,
        typer.Option(
            "--reps",
            "--replications",
            "-r",
            min=1,
            help="Replications, each two runs per price moved (default 5).",
        ),
    ] = None,
    step: Annotated[
        float | None,
        typer.Option(
            "--step",
            help="Relative price move: each price at (1 - step) and (1 + step) times its own "
            "(default 0.05).",
        ),
    ] = None,
    seed: SeedOpt = None,
    set_: SetOpt = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Output folder (default results/<name>-elasticity-<seed>-<hash>)."
        ),
    ] = None,
    force: ForceOpt = False,
    executor: ExecutorOpt = "process",
    workers: WorkersOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Measure the implied price elasticities of units bought and purchases, the brand's and
    each channel's own and cross, with common random numbers; write elasticity.csv,
    elasticity_replications.csv, summary.json and manifest.json (docs/experiments.md)."""
    # Imported here, so that this command stays self-contained in the module.
    from omnisim.api import elasticity as measure
    from omnisim.experiments.elasticity import DEFAULT_STEP

    with _guard("elasticity"):
        bar = _progress(1, quiet, "run {task.completed:.0f}/{task.total:.0f}")
        with bar or nullcontext():
            progress = None
            if bar is not None:
                task = bar.add_task(f"{scenario.stem} elasticity", total=1)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

            result = measure(
                scenario,
                strategy,
                channel,
                reps=reps,
                step=DEFAULT_STEP if step is None else step,
                seed=seed,
                overrides=list(set_ or []),
                out=out_dir,
                default_out=out_dir is None,
                force=force,
                executor=executor,
                workers=workers,
                progress=progress,
                on_start=lambda: _prepare(quiet),  # after the checks: bad input is one line
            )
    if not quiet:
        _print_elasticity(result)
        out.print(f"results in {result.out_dir}/", soft_wrap=True)


def _print_wide(table: Table) -> None:
    """A table whole, as `_print_table`; into a file or pipe through a console of its own,
    since ``Console.print`` never prints wider than its console (80 columns there), and an
    elasticity matrix has a column per channel."""
    if out.is_terminal:
        out.print(table)
    else:
        Console(highlight=False, width=240).print(table)


def _print_elasticity(result) -> None:
    """The brand's own-price elasticities (every price moved), then, per measure, the matrix
    of each quantity's elasticity to each channel's price (own on the diagonal)."""
    from omnisim.experiments.elasticity import ALL, COMPETITORS, MEASURES, TOTAL

    t = result.table
    by = {(r.price_of, r.quantity_of, r.measure): r for r in t.itertuples(index=False)}
    reps = f"{result.reps} replication{'s' if result.reps > 1 else ''}"
    move = f"±{result.step * 100:g}%"

    def cell(price_of: str, of: str, measure: str) -> str:
        r = by[(price_of, of, measure)]
        e, lo, hi = r.elasticity, r.ci_low, r.ci_high
        if e != e:  # no purchases at either price
            return "–"
        if lo != lo:  # one replication: no interval
            return f"{e:+.3f}"
        text = f"{e:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        return f"[bold]{text}[/bold]" if lo > 0 or hi < 0 else text

    for price_of, what in (
        (ALL, "the brand's price (every channel's price"),
        (COMPETITORS, "competitors' price (competition.price_index"),
    ):
        if not any(p == price_of for p, _, _ in by):
            continue
        table = Table(
            title=f"{result.scenario}: elasticity to {what} {move}; {reps}, common random "
            "numbers, 95% CI)"
        )
        table.add_column("bought in", no_wrap=True)
        for m in MEASURES:
            table.add_column(m, justify="right", no_wrap=True)
        for of in [TOTAL, *result.channels]:
            table.add_row(of, *(cell(price_of, of, m) for m in MEASURES))
        _print_wide(table)
    prices = [c for c in result.channels if any(p == c for p, _, _ in by)]
    for m in MEASURES if prices else ():
        table = Table(
            title=f"{result.scenario}: elasticity of {m} bought in each channel (rows) to one "
            f"channel's price (columns, {move}; {reps}, common random numbers, 95% CI)"
        )
        table.add_column(f"{m} in", no_wrap=True)
        for c in prices:
            table.add_column(c, justify="right", no_wrap=True)
        for of in [*result.channels, TOTAL]:
            table.add_row(of, *(cell(c, of, m) for c in prices))
        _print_wide(table)
    reasons: dict[str, list[str]] = {}  # one line per reason, however many prices it stops
    for price_of, reason in result.not_measured.items():
        reasons.setdefault(reason, []).append(price_of)
    for reason, prices_of in reasons.items():
        which = f"price{'s' if len(prices_of) > 1 else ''} of {', '.join(prices_of)}"
        out.print(f"not measured: {which}: {reason}", soft_wrap=True, markup=False)
    if result.reps < 2:
        out.print(NO_INTERVAL, soft_wrap=True)
    else:
        diagonal = "own-price elasticities on the diagonal; " if prices else ""
        out.print(
            f"arc (midpoint) elasticities; {diagonal}bold: the interval excludes 0; an "
            "interval too wide for your question needs more --reps",
            soft_wrap=True,
        )


export_app = typer.Typer(help="Export results in formats other tools read.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("transactions")
def export_transactions_cmd(
    source: Annotated[
        Path,
        typer.Argument(
            help="Results folder of `omnisim run --trail` (trail/rep-NNN.parquet) or one "
            "trail Parquet file."
        ),
    ],
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Output file (default: transactions.<format> in the results folder, or in "
            "the current folder for a single trail file).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="parquet or csv (default: from --out, else parquet)."),
    ] = None,
    start_date: Annotated[
        str, typer.Option("--start-date", help="Calendar date of simulation day 0 (YYYY-MM-DD).")
    ] = "2026-01-01",
) -> None:
    """Write the purchases of an event trail as a transaction table (customer_id, date,
    monetary_value, channel) for CLV libraries such as lifetimes and PyMC-Marketing."""
    import datetime as dt

    from omnisim.metrics.transactions import FORMATS, ExportError, export_transactions

    if fmt is None:
        suffix = out_file.suffix.lstrip(".").lower() if out_file is not None else ""
        fmt = suffix if suffix in FORMATS else "parquet"
    if fmt not in FORMATS:
        _fail([f"unknown format {fmt!r} (choose {' or '.join(FORMATS)})"])
    try:
        day0 = dt.date.fromisoformat(start_date)
    except ValueError:
        _fail([f"--start-date: not a date (YYYY-MM-DD): {start_date!r}"])
    if out_file is None:
        out_file = (source if source.is_dir() else Path.cwd()) / f"transactions.{fmt}"
    if out_file.is_dir():
        _fail([f"--out: {out_file}: is a folder; give a file name"])
    with _guard("export"):
        try:
            rows = export_transactions(source, out_file, fmt, day0)
        except ExportError as e:
            _fail([str(e)])
    out.print(f"{rows} transactions in {out_file}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
