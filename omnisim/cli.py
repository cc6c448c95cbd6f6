"""The ``omnisim`` command line: run, validate, schema.

Bad input (an invalid scenario file, a bad ``--set``, a scenario too large for the machine)
prints one line per problem to standard error and exits with status 2, without a traceback and
without writing any result file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from omnisim.api import default_out_dir, simulate
from omnisim.consumers.journey import kernels_cached
from omnisim.engine.simulation import MemoryRefused
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

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a scenario field: dotted.path=value (repeatable)."),
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Root seed (default: the file's).")]
RepsOpt = Annotated[
    int | None, typer.Option("--reps", min=1, help="Replications (default: the file's).")
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")]


def _fail(lines: list[str]) -> None:
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _progress(total: float, quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )


@app.command()
def run(
    scenario: Annotated[Path, typer.Argument(help="Scenario file (YAML, TOML or JSON).")],
    strategy: Annotated[
        str | None, typer.Option("--strategy", "-s", help="Strategy (overlay) to apply.")
    ] = None,
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
    quiet: QuietOpt = False,
) -> None:
    """Run SCENARIO (optionally one strategy) and write summary.json, replications.csv,
    manifest.json."""
    overrides = list(set_ or [])
    try:
        sc = load_scenario(scenario, strategy=strategy, overrides=overrides)
    except ScenarioError as e:
        _fail(e.problems)
    seed_v = sc.seed if seed is None else seed
    reps_v = sc.replications if reps is None else reps
    target = out_dir if out_dir is not None else default_out_dir(sc, strategy, seed_v)
    if target.exists() and not target.is_dir():
        _fail([f"--out: {target} exists and is not a folder"])
    if not quiet and not kernels_cached():
        err.print("first run: compiling the simulation kernels (about a minute, cached after)")
    bar = _progress(reps_v * sc.horizon_days, quiet)
    try:
        if bar is not None:
            with bar:
                task = bar.add_task(sc.name, total=reps_v * sc.horizon_days)
                result = simulate(
                    scenario,
                    strategy,
                    seed=seed_v,
                    replications=reps_v,
                    overrides=overrides,
                    out=target,
                    trail=trail,
                    progress=lambda day: bar.update(task, completed=day),
                )
        else:
            result = simulate(
                scenario,
                strategy,
                seed=seed_v,
                replications=reps_v,
                overrides=overrides,
                out=target,
                trail=trail,
            )
    except MemoryRefused as e:
        _fail([f"{scenario}: {e}"])
    except KeyboardInterrupt:
        err.print("interrupted: no result files were written")
        raise typer.Exit(130) from None
    if not quiet:
        _print_summary(result.summary, f"{sc.name} / {strategy or 'base'}", reps_v)
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


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
