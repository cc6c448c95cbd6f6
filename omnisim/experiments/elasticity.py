"""Implied price elasticities of purchases, measured by moving prices under common random numbers.

For a price ``x`` (the brand's: every channel's price at once; or one channel's), each
replication ``r`` runs the scenario twice, with ``x`` at ``(1 − step)`` and at ``(1 + step)``
times its value, and both runs draw from the streams of ``(seed, r)``: the same consumers have
the same needs and the same uniforms at every choice, and only what the price changes differs.
For each quantity ``Q`` (units bought and purchases, in total and per channel) the arc
(midpoint) elasticity of replication ``r`` is

    E_r = ((Q⁺ − Q⁻) / (Q⁺ + Q⁻)) / ((P⁺ − P⁻) / (P⁺ + P⁻)),   P± = 1 ± step

(Allen 1934; with P± as multiples of the price, the price term is ``step``). The estimate is the
mean of ``E_r`` over the replications with its Student-t interval
(`omnisim.experiments.stats.t_interval`): the replications are independent, and the pairing
within each makes ``E_r`` precise (docs/experiments.md, "Price elasticity").

What is moved (every move fixes ``product.reference_price`` at its unperturbed value first,
because the choice utility weighs a price against it and it defaults to ``list_price``):

* the brand's price: ``product.list_price``, which every channel's price (``list_price ·
  price_index``, a unified price too) and the fixed-retail chain's prices follow; under
  ``network.pricing: cost_plus`` the stores a dealer network supplies sell at a price built
  from the chain instead, moved through each such store's ``markup`` so that ``1 + markup``
  scales by the same factor;
* one channel's price: ``channels.<c>.price_index``, and the markups of the network-supplied
  stores it lists, as above;
* competitors' price: ``competition.price_index``, which the outside option carries
  (docs/model.md, "Decision: competition"); no shelf price of the brand moves.

Each move is checked before anything runs: the shelf price of every channel at every store, as
the simulation builds it, must move by exactly the factor where it should and not at all
elsewhere. A price that scenario fields cannot move so (one unified price for every channel, a
store two channels share at one network price, a flattening that passes a saving on under
``fixed_retail``, a store markup too small to cut) is reported as not measured, with the
reason, rather than measured wrongly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from omnisim.experiments.executors import chunked, default_workers, open_executor, run_chunks
from omnisim.experiments.outputs import atomic_write_text, environment_info, json_text
from omnisim.experiments.runs import RunSpec, small_copy, warm_kernels
from omnisim.experiments.stats import json_float, t_interval
from omnisim.scenario.loading import ScenarioDraft, ScenarioError, scenario_digest
from omnisim.scenario.schema import OFFLINE_TYPES, Pricing, Scenario
from omnisim.simulation import Simulation, ensure_memory

DEFAULT_STEP = 0.05
"""Relative price move (fraction): prices at 0.95 and 1.05 times their own."""
DEFAULT_REPS = 5
"""Replications (each is two runs per moved price): enough for an interval that says whether
more are needed."""
ALL = "all"
"""`price_of` of the brand's price: every channel's price moved at once."""
COMPETITORS = "competitors"
"""`price_of` of competitors' price (`competition.price_index`): the brand's prices stay."""
TOTAL = "total"
"""`quantity_of` of the brand's total (all channels)."""
MEASURES = ("units", "purchases")
"""Units bought (`units_sold`; per channel the ledger's units) and purchases (orders:
`purchases`; per channel `channel_orders.<c>`)."""
COLUMNS = [
    "price_of",
    "quantity_of",
    "measure",
    "kind",
    "elasticity",
    "ci_low",
    "ci_high",
    "replications",
    "q_low",
    "q_high",
    "step",
]
"""Columns of elasticity.csv (docs/outputs.md)."""
REPLICATION_COLUMNS = [
    "price_of",
    "quantity_of",
    "measure",
    "replication",
    "q_low",
    "q_high",
    "elasticity",
]
"""Columns of elasticity_replications.csv."""
_RTOL = 1e-9  # relative tolerance of the shelf-price check (float rounding only)


@dataclass(frozen=True)
class PriceMove:
    """One price moved down and up: the scenarios at ``(1 − step)`` and ``(1 + step)`` times
    it, and the fields changed (``path: base -> low / high``)."""

    price_of: str
    low: Scenario
    high: Scenario
    fields: list[str]


@dataclass
class ElasticityPlan:
    """Everything checked before anything runs (`plan_elasticity`)."""

    source: str
    strategy: str | None
    channel: str | None
    base: Scenario
    step: float
    seed: int
    reps: int
    overrides: list[str]
    moves: list[PriceMove]
    not_measured: dict[str, str] = field(default_factory=dict)
    """Price (``all`` or a channel) -> why scenario fields cannot move it as asked."""

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def channels(self) -> list[str]:
        return [c.name for c in self.base.channels]


@dataclass
class Elasticity:
    """What `run_elasticity` produced."""

    scenario: str
    strategy: str | None
    step: float
    seed: int
    reps: int
    channels: list[str]
    table: pd.DataFrame
    """A row per price moved, quantity and measure (`COLUMNS`)."""
    replications: pd.DataFrame
    """A row per price moved, quantity, measure and replication (`REPLICATION_COLUMNS`)."""
    runs: dict[tuple[str, str, int], dict[str, float]]
    """(price_of, ``low`` / ``high``, replication) -> that run's KPIs."""
    not_measured: dict[str, str]
    manifest: dict
    out_dir: Path | None = None


# ------------------------------------------------------------------------------------ moves


def _num(v: float) -> str:
    return f"{v:.10g}"


def price_move(
    draft: ScenarioDraft, base: Scenario, price_of: str, step: float
) -> tuple[PriceMove | None, str | None]:
    """The move of ``price_of`` (``all``, ``competitors`` or a channel name) by ``± step``, or
    (None, reason) when scenario fields cannot move that price alone and in proportion, or a
    moved value is invalid (the reason then names the field moved, as a ``--set`` problem
    does)."""
    factors = {"low": 1.0 - step, "high": 1.0 + step}
    # (name, path, base value, value at a factor): lists are addressed by index in the path,
    # so that any channel or node name works, and by name where people read it.
    changes: list[tuple[str, str, float, Callable[[float], float]]] = []
    net = base.network
    unified = base.omnichannel.unified_price is not None
    # Without a unified price, the stores a cost_plus network supplies sell at the chain's
    # price, which neither list_price nor price_index reaches: their markup carries the move.
    chain_priced = net is not None and not unified and net.pricing == Pricing.cost_plus
    offline = {c.name for c in base.channels if c.type in OFFLINE_TYPES}
    if price_of == COMPETITORS:
        x = base.competition.price_index
        changes.append(("competition.price_index", "competition.price_index", x, lambda f: x * f))
        stores = []
    elif price_of == ALL:
        lp = base.product.list_price
        changes.append(("product.list_price", "product.list_price", lp, lambda f: lp * f))
        stores = [n for n in base.nodes if n.supplier is not None] if chain_priced else []
    else:
        if unified:
            return None, (
                "omnichannel.unified_price sets one price_index for every channel, so no "
                "channel's price moves alone (the brand's price, all channels, does)"
            )
        i, ch = next((i, c) for i, c in enumerate(base.channels) if c.name == price_of)
        pi = ch.price_index
        name = f"channels.{price_of}.price_index"
        changes.append((name, f"channels.{i}.price_index", pi, lambda f: pi * f))
        stores = []
        if chain_priced and price_of in offline:
            for n in base.nodes:
                if n.supplier is None or n.name not in ch.nodes:
                    continue
                others = [
                    c.name
                    for c in base.channels
                    if c.name != price_of and c.name in offline and n.name in c.nodes
                ]
                if others:
                    return None, (
                        f"store {n.name} is listed by {price_of} and {', '.join(others)} and "
                        "sells at one price the dealer network sets (network.pricing: "
                        "cost_plus), so that channel's price cannot move alone there"
                    )
                stores.append(n)
    node_index = {n.name: k for k, n in enumerate(base.nodes)}
    for n in stores:
        m = n.markup if n.markup is not None else net.terminal_markup
        low = (1.0 + m) * factors["low"] - 1.0
        if low < 0.0:
            return None, (
                f"nodes.{n.name}.markup: {m:g} is too small to cut the store's price by "
                f"{step * 100:g}% through its markup (it would need at least "
                f"{1.0 / factors['low'] - 1.0:.4g}); use a smaller --step"
            )
        changes.append(
            (
                f"nodes.{n.name}.markup",
                f"nodes.{node_index[n.name]}.markup",
                m,
                lambda f, m=m: (1.0 + m) * f - 1.0,
            )
        )
    ref = base.product.reference
    out: dict[str, Scenario] = {}
    for side, f in factors.items():
        d = draft.with_value("product.reference_price", ref, f"price move: reference_price={ref}")
        for name, path, _, fn in changes:
            v = fn(f)
            d = d.with_value(path, v, f"price move ({side}): {name}={_num(v)}")
        try:
            out[side] = d.validate()
        except ScenarioError as e:  # e.g. a price_index past its bound: that price cannot move
            return None, "; ".join(e.problems)
    fields = [
        f"{name}: {_num(v)} -> {_num(fn(factors['low']))} / {_num(fn(factors['high']))}"
        for name, _, v, fn in changes
    ]
    fields.insert(0, f"product.reference_price: fixed at {_num(ref)}")
    move = PriceMove(price_of, out["low"], out["high"], fields)
    reason = _check_move(base, move, factors)
    if reason is not None:
        return None, reason
    return move, None


def shelf_prices(sc: Scenario) -> tuple[dict[tuple[str, str], float], float]:
    """The price each channel asks before promotions and member discounts (currency / unit),
    by (channel, store) for a store channel and (channel, ``""``) online, exactly as a run
    builds it (strategy policies and dealer-network prices applied), and the reference price.
    Built from the small copy `warm_kernels` runs (prices depend neither on the number of
    consumers nor on the horizon), and not run."""
    sim = Simulation(small_copy(sc, 200, 5.0), 0)
    ch = sim.channels
    names = [n.name for n in sim.sc.nodes]
    out: dict[tuple[str, str], float] = {}
    for ci, name in enumerate(ch.names):
        base = ch.list_price * float(ch.price_index[ci])
        if not ch.offline[ci]:
            out[(name, "")] = base
            continue
        for r in range(ch.store_first.shape[1]):
            first, count = int(ch.store_first[ci, r]), int(ch.store_count[ci, r])
            for s in ch.store_flat[first : first + count]:
                node = float(ch.node_price[s])
                priced = bool(ch.node_priced[ci]) and node > 0.0
                out[(name, names[s])] = node if priced else base
    return out, float(sim.sc.product.reference)


def _check_move(base: Scenario, move: PriceMove, factors: dict[str, float]) -> str | None:
    """None if every shelf price moves by the factor where it should (all of them for the
    brand's price, the channel's own otherwise) and nowhere else, with the reference price
    fixed; else what went wrong, in one line."""
    before, ref = shelf_prices(base)
    wrong: list[str] = []
    for side, sc in (("low", move.low), ("high", move.high)):
        after, ref_after = shelf_prices(sc)
        if not math.isclose(ref_after, ref, rel_tol=_RTOL):
            wrong.append(f"the reference price moves ({_num(ref)} -> {_num(ref_after)})")
        for (c, store), p in before.items():
            want = factors[side] if move.price_of in (ALL, c) else 1.0
            got = after[(c, store)] / p if p > 0 else math.nan
            if not math.isclose(got, want, rel_tol=_RTOL):
                where = f"{c} at {store}" if store else c
                wrong.append(f"{where} moves x{got:.4f} instead of x{want:.4f} ({side})")
    if not wrong:
        return None
    more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
    return "the scenario's fields do not move this price alone: " + "; ".join(wrong[:3]) + more


# ------------------------------------------------------------------------------------- plan


def plan_elasticity(
    scenario: str | Path,
    strategy: str | None = None,
    channel: str | None = None,
    *,
    reps: int | None = None,
    step: float = DEFAULT_STEP,
    seed: int | None = None,
    overrides: Sequence[str] = (),
) -> ElasticityPlan:
    """Check everything before anything runs: the scenario (strategy and overrides applied),
    the channel, the step, every price move and that a run fits in memory. Raises
    ScenarioError (every problem, one line each), ValueError or MemoryRefused.

    Without ``channel``: the brand's price, each channel's in turn, then competitors'
    (`COMPETITORS`); a price that cannot be moved is left out with its reason
    (`ElasticityPlan.not_measured`), unless none can.
    With ``channel``: that channel's price alone, refused with the reason if it cannot move."""
    if not (isinstance(step, int | float) and 0.0 < step < 1.0):
        raise ValueError(f"--step: {step!r}: the relative price move must be in (0, 1)")
    reps = DEFAULT_REPS if reps is None else int(reps)
    if reps < 1:
        raise ValueError(f"--replications: {reps}: at least 1")
    draft = ScenarioDraft.from_file(scenario).with_strategy(strategy).with_overrides(overrides)
    base = draft.validate()
    names = [c.name for c in base.channels]
    if channel is not None and channel not in names:
        raise ScenarioError(
            [f"--channel: unknown channel {channel!r} (the scenario has: {', '.join(names)})"]
        )
    seed = base.seed if seed is None else int(seed)
    ensure_memory(base)
    moves: list[PriceMove] = []
    skipped: dict[str, str] = {}
    for price_of in [channel] if channel is not None else [ALL, *names, COMPETITORS]:
        move, reason = price_move(draft, base, price_of, float(step))
        if move is None:
            if channel is not None:
                raise ScenarioError([f"--channel {channel}: not measurable: {reason}"])
            skipped[price_of] = reason or ""
        else:
            moves.append(move)
    if not moves:
        raise ScenarioError(
            [f"no price of {base.name} can be moved: " + "; ".join(skipped.values())]
        )
    return ElasticityPlan(
        str(scenario), strategy, channel, base, float(step), seed, reps, list(overrides), moves,
        skipped,
    )  # fmt: skip


# -------------------------------------------------------------------------------------- run


@dataclass(frozen=True)
class MeasuredRun:
    """What a run returns to the driver: its KPIs and units per channel (the ledger's)."""

    key: Hashable
    kpis: dict[str, float]
    channel_units: list[float]
    events: int


def measure_runs(specs: Sequence[RunSpec]) -> list[MeasuredRun]:
    """Run each spec in turn (what a worker executes)."""
    out = []
    for s in specs:
        r = Simulation(s.scenario, s.replication, s.seed, salt=s.salt).run()
        out.append(MeasuredRun(s.key, r.kpis, list(r.ledger["ch_units"]), r.events))
    return out


def quantities(run: MeasuredRun, channels: Sequence[str]) -> dict[tuple[str, str], float]:
    """(measure, quantity_of) -> the run's count in the measurement window."""
    q = {("units", TOTAL): run.kpis["units_sold"], ("purchases", TOTAL): run.kpis["purchases"]}
    for i, c in enumerate(channels):
        q[("units", c)] = float(run.channel_units[i])
        q[("purchases", c)] = run.kpis[f"channel_orders.{c}"]
    return q


def arc_elasticity(q_low: float, q_high: float, p_low: float, p_high: float) -> float:
    """Midpoint (arc) elasticity between (p_low, q_low) and (p_high, q_high); NaN when the
    quantity is 0 at both prices (no response to measure)."""
    if q_low + q_high == 0.0:
        return math.nan
    return ((q_high - q_low) / (q_high + q_low)) / ((p_high - p_low) / (p_high + p_low))


def kind_of(price_of: str, quantity_of: str) -> str:
    """``own`` (a price and its own quantity; the brand's price and its total), ``cross``
    (another channel's quantity), ``brand`` (the total with respect to one channel's price),
    ``uniform`` (one channel's quantity when every price moves), ``competitor`` (any quantity
    with respect to competitors' price)."""
    if price_of == COMPETITORS:
        return "competitor"
    if price_of == ALL:
        return "own" if quantity_of == TOTAL else "uniform"
    if quantity_of == TOTAL:
        return "brand"
    return "own" if quantity_of == price_of else "cross"


def run_elasticity(
    plan: ElasticityPlan,
    *,
    executor: str | None = None,
    workers: int | None = None,
    out: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Elasticity:
    """Run a planned measurement; with ``out`` (an existing folder, normally a staging one)
    write elasticity.csv, elasticity_replications.csv, summary.json and manifest.json there.
    ``progress(done, total)`` is called as runs finish."""
    start = time.perf_counter()
    channels = plan.channels
    p_low, p_high = 1.0 - plan.step, 1.0 + plan.step
    specs = [
        RunSpec((m.price_of, side, r), sc, plan.seed, r)  # salt 0: common random numbers
        for r in range(plan.reps)
        for m in plan.moves
        for side, sc in (("low", m.low), ("high", m.high))
    ]
    records: dict[tuple[str, str, int], MeasuredRun] = {}
    warm_kernels(plan.base)
    with open_executor(executor, workers) as ex:
        size = max(1, len(specs) // (4 * (workers or default_workers())))
        for chunk in run_chunks(ex, measure_runs, chunked(specs, size)):
            for rec in chunk:
                records[rec.key] = rec
            if progress is not None:
                progress(len(records), len(specs))
    wall = time.perf_counter() - start
    rep_rows: list[tuple] = []
    rows: list[tuple] = []
    for m in plan.moves:
        per_rep = [
            (
                quantities(records[(m.price_of, "low", r)], channels),
                quantities(records[(m.price_of, "high", r)], channels),
            )
            for r in range(plan.reps)
        ]
        for of in [TOTAL, *channels]:
            for measure in MEASURES:
                lows = [lo[(measure, of)] for lo, _ in per_rep]
                highs = [hi[(measure, of)] for _, hi in per_rep]
                es = [arc_elasticity(a, b, p_low, p_high) for a, b in zip(lows, highs, strict=True)]
                rep_rows += [
                    (m.price_of, of, measure, r, lows[r], highs[r], es[r]) for r in range(plan.reps)
                ]
                e, lo, hi = t_interval(es)
                rows.append(
                    (
                        m.price_of, of, measure, kind_of(m.price_of, of), e, lo, hi, plan.reps,
                        float(np.mean(lows)), float(np.mean(highs)), plan.step,
                    )
                )  # fmt: skip
    table = pd.DataFrame.from_records(rows, columns=COLUMNS)
    reps_table = pd.DataFrame.from_records(rep_rows, columns=REPLICATION_COLUMNS)
    manifest = environment_info() | {
        "scenario": plan.name,
        "scenario_file": plan.source,
        "strategy": plan.strategy,
        "overrides": list(plan.overrides),
        "channel": plan.channel,
        "step": plan.step,
        "seed": plan.seed,
        "replications": plan.reps,
        "common_random_numbers": True,
        "moves": {m.price_of: m.fields for m in plan.moves},
        "not_measured": dict(plan.not_measured),
        "scenario_hash": scenario_digest(plan.base),
        "executor": executor or "process",
        "wall_seconds": round(wall, 3),
        "events_processed": sum(r.events for r in records.values()),
    }
    result = Elasticity(
        plan.name, plan.strategy, plan.step, plan.seed, plan.reps, channels, table, reps_table,
        {k: v.kpis for k, v in records.items()}, dict(plan.not_measured), manifest,
    )  # fmt: skip
    if out is not None:
        write_results(result, Path(out))
    return result


def write_results(result: Elasticity, folder: Path) -> None:
    """elasticity.csv, elasticity_replications.csv, summary.json and manifest.json."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / "elasticity.csv", result.table.to_csv(index=False))
    atomic_write_text(
        folder / "elasticity_replications.csv", result.replications.to_csv(index=False)
    )
    records = [
        {k: (json_float(v) if isinstance(v, float) else v) for k, v in row.items()}
        for row in result.table.to_dict(orient="records")
    ]
    summary = {
        "scenario": result.scenario,
        "strategy": result.strategy,
        "seed": result.seed,
        "replications": result.reps,
        "step": result.step,
        "common_random_numbers": True,
        "elasticities": records,
        "not_measured": result.not_measured,
    }
    atomic_write_text(folder / "summary.json", json_text(summary))
    atomic_write_text(folder / "manifest.json", json_text(result.manifest))
