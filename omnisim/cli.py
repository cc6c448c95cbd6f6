"""The ``omnisim`` command line: run, compare, sweep, report, validate, schema, export.

Bad input (an invalid scenario file, a bad ``--set``, a scenario too large for the machine)
prints one line per problem to standard error and exits with status 2, without a traceback and
without writing any result file.
"""

from __future__ import annotations

import json
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from omnisim.api import build_report, default_out_dir, simulate
from omnisim.consumers.journey import kernels_cached
from omnisim.engine.simulation import MemoryRefused
from omnisim.experiments.compare import compare as run_compare
from omnisim.experiments.executors import ExecutorError
from omnisim.experiments.replicate import DEFAULT_MAX_REPS
from omnisim.experiments.stats import parse_targets
from omnisim.experiments.sweep import default_sweep_dir, headline_measure
from omnisim.experiments.sweep import sweep as run_sweep
from omnisim.report import ReportError
from omnisim.scenario.loading import ScenarioError, load_scenario, validate_file
from omnisim.scenario.schema import Scenario

app = typer.Typer(
    name="omnisim",
    help="Simulate a brand's omnichannel retail system and compare strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

HEADLINE = (
    "needs",
    "searches",
    "purchases",
    "units_sold",
    "revenue",
    "brand_profit",
    "avg_price_paid",
    "conversion_rate",
    "lost_sales",
    "fill_rate",
    "avg_rating",
    "repeat_purchase_rate",
)

ScenarioArg = Annotated[Path, typer.Argument(help="Scenario file (YAML, TOML or JSON).")]
StrategyOpt = Annotated[
    str | None, typer.Option("--strategy", "-s", help="Strategy (overlay) to apply.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario field: dotted.path=value (repeatable)."),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Root seed (default: the file's).")]
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
NoReportOpt = Annotated[
    bool,
    typer.Option("--no-report", help="Skip the charts and report.html (omnisim report adds them)."),
]


def _fail(lines: list[str]) -> NoReturn:
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(2)


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


def _prepare(target: Path, quiet: bool) -> None:
    """Refuse an output path that is a file; say that the first run compiles."""
    if target.exists() and not target.is_dir():
        _fail([f"--out: {target} exists and is not a folder"])
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
        typer.Option("--out", help="Output folder (default results/<name>-<strategy>-<seed>)."),
    ] = None,
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
    target = out_dir if out_dir is not None else default_out_dir(sc, strategy, seed_v)
    _prepare(target, quiet)
    bar = _progress(reps_v * sc.horizon_days, quiet)
    try:
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
                trail=trail,
                progress=progress,
                target_ci=targets,
                max_reps=max_reps,
            )
    except (MemoryRefused, ValueError) as e:
        _fail([f"{scenario}: {e}" if isinstance(e, MemoryRefused) else str(e)])
    except KeyboardInterrupt:
        err.print("interrupted: no result files were written")
        raise typer.Exit(130) from None
    if not quiet:
        _print_summary(result.summary, f"{sc.name} / {strategy or 'base'}", result.replications)
        out.print(f"results in {target}/")


def _print_summary(summary: dict, title: str, reps: int) -> None:
    table = Table(title=f"{title}  ({reps} replication{'s' if reps > 1 else ''}, 95% CI)")
    table.add_column("KPI")
    table.add_column("mean", justify="right")
    table.add_column("95% CI", justify="right")
    for name in HEADLINE:
        k = summary.get(name)
        if k is None or k["mean"] is None:
            continue
        lo, hi = k["ci95"]
        table.add_row(name, _num(k["mean"]), f"[{_num(lo)}, {_num(hi)}]")
    shares = [n for n in summary if n.startswith("channel_share.")]
    for name in shares:
        k = summary[name]
        lo, hi = k["ci95"]
        table.add_row(name, f"{k['mean']:.1%}", f"[{lo:.1%}, {hi:.1%}]")
    out.print(table)


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
        typer.Option("--out", help="Output folder (default results/<name>-compare-<seed>)."),
    ] = None,
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
    target = out_dir if out_dir is not None else Path("results") / f"{sc.name}-compare-{seed_v}"
    _prepare(target, quiet)
    bar = _progress(1, quiet, "run {task.completed:.0f}/{task.total:.0f}")
    try:
        with bar or nullcontext():
            progress = None
            if bar is not None:
                task = bar.add_task(sc.name, total=1)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

            result = run_compare(
                scenario,
                names,
                baseline,
                reps=reps,
                seed=seed_v,
                overrides=overrides,
                independent=independent,
                target_ci=targets,
                max_reps=max_reps,
                executor=executor,
                workers=workers,
                out=target,
                progress=progress,
            )
    except ScenarioError as e:
        _fail(e.problems)
    except (MemoryRefused, ExecutorError, ValueError) as e:
        _fail([str(e)])
    except KeyboardInterrupt:
        err.print("interrupted: no result files were written")
        raise typer.Exit(130) from None
    if not quiet:
        _print_comparison(result)
    _finish(target, no_report, quiet)


def _finish(target: Path, no_report: bool, quiet: bool) -> None:
    """Build the report of a finished comparison or sweep, and say where everything is."""
    if not no_report:
        busy = not quiet and sys.stderr.isatty()
        with err.status("drawing the charts and the report") if busy else nullcontext():
            page = build_report(target)
        if not quiet:
            out.print(f"report in {page}", soft_wrap=True)
    if not quiet:
        out.print(f"results in {target}/", soft_wrap=True)


def _print_comparison(result) -> None:
    t = result.table
    reps = len(result.rows[result.baseline])
    kind = "independent streams" if result.independent else "common random numbers"
    table = Table(
        title=f"{result.scenario}: difference to {result.baseline!r} "
        f"({reps} replications, {kind}, 95% CI)"
    )
    table.add_column("KPI")
    table.add_column(result.baseline, justify="right")
    others = [n for n in result.strategies if n != result.baseline]
    for n in others:
        table.add_column(f"{n} vs {result.baseline}", justify="right")
    shares = sorted(k for k in set(t.kpi) if k.startswith("channel_share."))
    for kpi in [*HEADLINE, *shares]:
        rows = t[t.kpi == kpi].set_index("strategy")
        if rows.empty or rows.loc[result.baseline, "mean"] != rows.loc[result.baseline, "mean"]:
            continue
        pct = kpi.startswith("channel_share.")
        cells = [_fmt_value(rows.loc[result.baseline, "mean"], pct)]
        for n in others:
            r = rows.loc[n]
            text = (
                f"{_fmt_value(r['diff'], pct, signed=True)} "
                f"[{_fmt_value(r['diff_ci_low'], pct, signed=True)}, "
                f"{_fmt_value(r['diff_ci_high'], pct, signed=True)}]"
            )
            clear = r["diff_ci_low"] > 0 or r["diff_ci_high"] < 0
            cells.append(f"[bold]{text}[/bold]" if clear else text)
        table.add_row(kpi, *cells)
    out.print(table)
    out.print("bold: the interval excludes 0")


def _fmt_value(v: float, pct: bool, signed: bool = False) -> str:
    if v != v:
        return "–"
    if pct:
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
    else:
        output.write_text(text)


SweepRepsOpt = Annotated[
    int | None,
    typer.Option(
        "--reps", min=1, help="Replications per design row (default 1; common random numbers)."
    ),
]
SWEEP_HEADLINE = ("needs", "purchases", "revenue", "brand_profit", "fill_rate")


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
        typer.Option("--out", help="Output folder (default results/<name>-sweep-<design>-<seed>)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Complete the sweep in --out; skip finished rows.")
    ] = False,
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
    target = out_dir if out_dir is not None else default_sweep_dir(sc.name, design, seed_v)
    _prepare(target, quiet)
    bar = _progress(1, quiet, "run {task.completed:.0f}/{task.total:.0f}")
    try:
        with bar or nullcontext():
            progress = None
            if bar is not None:
                task = bar.add_task(f"{sc.name} {design}", total=1)

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

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
                out=target,
                resume=resume,
                progress=progress,
            )
    except ScenarioError as e:
        _fail(e.problems)
    except (MemoryRefused, ExecutorError) as e:
        _fail([str(e)])
    except KeyboardInterrupt:
        err.print(
            f"interrupted: finished rows are kept in {target}/runs; "
            "run again with --resume to complete the sweep",
            soft_wrap=True,
        )
        raise typer.Exit(130) from None
    if not quiet:
        _print_sensitivity(frame.attrs["sensitivity"], frame.attrs["manifest"])
    _finish(target, no_report, quiet)


@app.command()
def report(
    results: Annotated[
        Path, typer.Argument(help="Results folder of `omnisim compare` or `omnisim sweep`.")
    ],
    quiet: QuietOpt = False,
) -> None:
    """Draw the charts (charts/*.svg, *.png) and write report.html of a comparison or sweep
    folder from its saved results, without simulating again (docs/reports.md)."""
    try:
        page = build_report(results)
    except ReportError as e:
        _fail([str(e)])
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
    out.print(table)


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
    try:
        rows = export_transactions(source, out_file, fmt, day0)
    except ExportError as e:
        _fail([str(e)])
    out.print(f"{rows} transactions in {out_file}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
