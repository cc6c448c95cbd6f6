"""`omnisim report` on a damaged folder: every tampered file gives one ReportError line that
names the file (and the line and column at fault), and the folder is left as it was.

Each test copies a real results folder built once for this module, damages one thing, and
asks for the report; the fuzz tests damage comparison.csv at random and accept a report or a
ReportError, never another exception."""

from __future__ import annotations

import csv
import io
import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from builders import quickstart_copy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnisim
from omnisim.report.build import build_report
from omnisim.report.charts import CHARTS
from omnisim.report.html import render_comparison
from omnisim.report.results import ComparisonResults, ReportError, load_results
from omnisim.report.style import chart_style

PRICE = "product.list_price=149:249"
LEVELS = "channels.platform.price_index=0.9,1.0"


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quickstart_copy(tmp_path_factory.mktemp("tamper-quick"), consumers=400, days=40)


@pytest.fixture(scope="module")
def comparison(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """baseline and unified_price, 2 replications, no report yet."""
    out = tmp_path_factory.mktemp("tamper-compare") / "cmp"
    omnisim.compare(scenario_file, reps=2, executor="serial", out=out, report=False)
    return out


@pytest.fixture(scope="module")
def grid(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 x 2 grid: a range and a parameter with levels, 1 replication per row."""
    out = tmp_path_factory.mktemp("tamper-grid") / "grid"
    omnisim.sweep(
        scenario_file, [PRICE, LEVELS], "grid", n=2, executor="serial", out=out, report=False
    )
    return out


@pytest.fixture(scope="module")
def curve(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One parameter, 3 LHS rows of 2 replications: the report reads runs/*.json."""
    out = tmp_path_factory.mktemp("tamper-curve") / "curve"
    omnisim.sweep(
        scenario_file, [PRICE], "lhs", n=3, reps=2, executor="serial", out=out, report=False
    )
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def refused(folder: Path, name: str, *fragments: str) -> str:
    """The report of ``folder`` fails with one line naming ``folder/name`` and holding every
    fragment, and nothing in the folder changed."""
    before = snapshot(folder)
    with pytest.raises(ReportError) as e:
        build_report(folder)
    message = str(e.value)
    assert message.startswith(f"{folder / name}:"), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert snapshot(folder) == before
    return message


def rows_of(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue())


def edit_csv(name: str, change: Callable[[list[list[str]]], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        rows = rows_of(folder / name)
        change(rows)
        write_rows(folder / name, rows)

    return edit


def edit_json(name: str, change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        doc = json.loads((folder / name).read_text())
        new = change(doc)
        (folder / name).write_text(json.dumps(doc if new is None else new))

    return edit


def line_of(rows: list[list[str]], *values: str) -> int:
    """The file line (1-based, the header is line 1) of the first row starting with
    ``values``."""
    for i, row in enumerate(rows):
        if row[: len(values)] == list(values):
            return i + 1
    raise AssertionError(values)


def set_cell(rows: list[list[str]], line: int, column: str, value: str) -> None:
    rows[line - 1][rows[0].index(column)] = value


def drop_column(rows: list[list[str]], column: str) -> None:
    k = rows[0].index(column)
    for row in rows:
        del row[k]


@pytest.fixture
def copy_of(tmp_path: Path) -> Callable[[Path], Path]:
    def make(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        return dst

    return make


# --------------------------------------------------------------------------------------------
# A comparison

REVENUE_LINE = "line {n}, column 'mean': 'lots' is not a number"


def _text_cell(rows):
    set_cell(rows, line_of(rows, "unified_price", "revenue"), "mean", "lots")


def _short_row(rows):
    del rows[4][-3:]


def _ghost(rows):
    rows[line_of(rows, "unified_price", "revenue") - 1][0] = "ghost"


def _duplicate(rows):
    rows.append(list(rows[line_of(rows, "baseline", "revenue") - 1]))


def _inf(rows):
    set_cell(rows, line_of(rows, "baseline", "purchases"), "diff_ci_high", "inf")


def _bool(rows):
    set_cell(rows, 3, "ci_low", "True")


def _lose_last_rows(rows):
    del rows[-5:]


COMPARISON_CASES: list[tuple[str, Callable[[Path], None], str, tuple[str, ...]]] = [
    (
        "text cell",
        edit_csv("comparison.csv", _text_cell),
        "comparison.csv",
        ("column 'mean': 'lots' is not a number", "line "),
    ),
    ("short row", edit_csv("comparison.csv", _short_row), "comparison.csv", ("line 5:",)),
    (
        "missing column",
        edit_csv("comparison.csv", lambda r: drop_column(r, "diff_ci_low")),
        "comparison.csv",
        ("no column 'diff_ci_low'",),
    ),
    (
        "unknown strategy",
        edit_csv("comparison.csv", _ghost),
        "comparison.csv",
        ("strategy 'ghost' is not in manifest.json's strategies (baseline, unified_price)",),
    ),
    (
        "duplicate row",
        edit_csv("comparison.csv", _duplicate),
        "comparison.csv",
        ("a second row for strategy 'baseline', KPI 'revenue'",),
    ),
    ("infinite", edit_csv("comparison.csv", _inf), "comparison.csv", ("inf is not finite",)),
    ("boolean", edit_csv("comparison.csv", _bool), "comparison.csv", ("line 3, column 'ci_low'",)),
    (
        "rows cut at a line end",
        edit_csv("comparison.csv", _lose_last_rows),
        "comparison.csv",
        ("no row for strategy 'unified_price'", "incomplete"),
    ),
    (
        "header only",
        edit_csv("comparison.csv", lambda r: r.__delitem__(slice(1, None))),
        "comparison.csv",
        ("no rows",),
    ),
    (
        "a column without a name",
        edit_csv("comparison.csv", lambda r: r[0].__setitem__(2, "")),
        "comparison.csv",
        ("column 3 of the header has no name",),
    ),
    (
        "a column twice",
        edit_csv("comparison.csv", lambda r: r[0].__setitem__(3, "mean")),
        "comparison.csv",
        ("column 'mean' appears twice",),
    ),
    (
        "not UTF-8",
        lambda f: (f / "comparison.csv").write_bytes(b"strategy,kpi\n\xff\xfe,x\n"),
        "comparison.csv",
        ("cannot read",),
    ),
    (
        "replications: unknown strategy",
        edit_csv("replications.csv", lambda r: set_cell(r, 3, "strategy", "ghost")),
        "replications.csv",
        ("line 3, column 'strategy': strategy 'ghost' is not in manifest.json's strategies",),
    ),
    (
        "replications: a replication missing",
        edit_csv("replications.csv", lambda r: r.pop()),
        "replications.csv",
        ("strategy 'unified_price' has 1 replication rows", "manifest.json says 2"),
    ),
    (
        "replications: text in a KPI",
        edit_csv("replications.csv", lambda r: set_cell(r, 2, "brand_profit", "n/a")),
        "replications.csv",
        ("line 2, column 'brand_profit': 'n/a' is not a number",),
    ),
    (
        "replications: a fractional replication",
        edit_csv("replications.csv", lambda r: set_cell(r, 2, "replication", "0.5")),
        "replications.csv",
        ("line 2, column 'replication': 0.5 is not a whole number",),
    ),
    (
        "replications: a KPI column missing",
        edit_csv("replications.csv", lambda r: drop_column(r, "brand_profit")),
        "replications.csv",
        ("no column 'brand_profit'",),
    ),
    (
        "timeseries: unknown strategy",
        edit_csv("timeseries.csv", lambda r: set_cell(r, 4, "strategy", "ghost")),
        "timeseries.csv",
        ("line 4, column 'strategy': strategy 'ghost'",),
    ),
    (
        "timeseries: a channel's revenue missing",
        edit_csv("timeseries.csv", lambda r: drop_column(r, "revenue.platform")),
        "timeseries.csv",
        ("no column 'revenue.platform' (comparison.csv has channel_share.platform)",),
    ),
    (
        "timeseries: text cell",
        edit_csv("timeseries.csv", lambda r: set_cell(r, 6, "revenue", "many")),
        "timeseries.csv",
        ("line 6, column 'revenue': 'many' is not a number",),
    ),
    (
        "manifest: not an object",
        edit_json("manifest.json", lambda d: ["baseline", "unified_price"]),
        "manifest.json",
        ("not a JSON object but a list",),
    ),
    (
        "manifest: no replications",
        edit_json("manifest.json", lambda d: d.pop("replications") and None),
        "manifest.json",
        ("no 'replications'",),
    ),
    (
        "manifest: replications a string",
        edit_json("manifest.json", lambda d: d.update(replications="two")),
        "manifest.json",
        ("'replications' is 'two', not a whole number",),
    ),
    (
        "manifest: baseline not a strategy",
        edit_json("manifest.json", lambda d: d.update(baseline="ghost")),
        "manifest.json",
        ("the baseline 'ghost' is not one of its strategies (baseline, unified_price)",),
    ),
    (
        "manifest: strategies not a list",
        edit_json("manifest.json", lambda d: d.update(strategies="baseline")),
        "manifest.json",
        ("'strategies' is not a list",),
    ),
    (
        "manifest: a strategy missing",
        edit_json("manifest.json", lambda d: d.update(strategies=["baseline"])),
        "comparison.csv",
        ("strategy 'unified_price' is not in manifest.json's strategies (baseline)",),
    ),
    (
        "manifest: hashes not an object",
        edit_json("manifest.json", lambda d: d.update(scenario_hashes=["a", "b"])),
        "manifest.json",
        ("scenario_hashes: expected an object, found a list",),
    ),
    (
        "scenario: a price index as text",
        edit_json("scenario.json", lambda d: d["channels"][3].update(price_index="cheap")),
        "scenario.json",
        ("channels[platform].price_index: expected a number, found a string",),
    ),
    (
        "scenario: a channel without a name",
        edit_json("scenario.json", lambda d: d["channels"][0].pop("name") and None),
        "scenario.json",
        ("channels[0]: no name",),
    ),
    (
        "scenario: not an object",
        edit_json("scenario.json", lambda d: "quickstart"),
        "scenario.json",
        ("not a JSON object but a string",),
    ),
]


@pytest.mark.parametrize(
    ("edit", "name", "fragments"),
    [case[1:] for case in COMPARISON_CASES],
    ids=[case[0] for case in COMPARISON_CASES],
)
def test_a_tampered_comparison_is_refused_in_one_line(
    comparison: Path, copy_of, edit, name: str, fragments: tuple[str, ...]
):
    folder = copy_of(comparison)
    edit(folder)
    refused(folder, name, *fragments)


def test_the_cell_at_fault_is_named_by_its_line(comparison: Path, copy_of):
    folder = copy_of(comparison)
    rows = rows_of(folder / "comparison.csv")
    line = line_of(rows, "unified_price", "revenue")
    _text_cell(rows)
    write_rows(folder / "comparison.csv", rows)
    refused(folder, "comparison.csv", REVENUE_LINE.format(n=line))


def test_a_file_cut_inside_a_line_is_refused(comparison: Path, copy_of):
    folder = copy_of(comparison)
    text = (folder / "comparison.csv").read_text()
    (folder / "comparison.csv").write_text(text[: len(text) // 2])
    refused(folder, "comparison.csv", "does not end with a line break", "truncated")


def test_a_strategy_named_like_a_number_or_na_is_a_name(comparison: Path, copy_of):
    """Strategy columns are text: `2024` or `NA` must not become a number or NaN (and then
    an "unknown strategy")."""
    folder = copy_of(comparison)
    for name in ("comparison.csv", "replications.csv", "timeseries.csv"):
        path = folder / name
        path.write_text(path.read_text().replace("unified_price", "NA"))
    edit_json("manifest.json", lambda d: d.update(strategies=["baseline", "NA"]))(folder)
    res = load_results(folder)
    assert isinstance(res, ComparisonResults)
    assert res.others == ["NA"] and res.mean("NA", "revenue") > 0


def test_extra_columns_and_fields_are_let_through(comparison: Path, copy_of):
    """A column the reader does not know (a future one, or the unit column) is not read."""
    folder = copy_of(comparison)

    def add_column(rows):
        rows[0].append("note")
        for row in rows[1:]:
            row.append("looks fine, no number")

    edit_csv("comparison.csv", add_column)(folder)
    edit_json("manifest.json", lambda d: d.update(future={"anything": [1, "x"]}))(folder)
    res = load_results(folder)
    assert isinstance(res, ComparisonResults) and "note" in res.table.columns


# --------------------------------------------------------------------------------------------
# A sweep


def _level_value(rows):
    set_cell(rows, 2, "channels.platform.price_index", "0.75")


SWEEP_CASES: list[tuple[str, Callable[[Path], None], str, tuple[str, ...]]] = [
    (
        "sweep.json: not an object",
        edit_json("sweep.json", lambda d: [1, 2]),
        "sweep.json",
        ("not a JSON object but a list",),
    ),
    (
        "sweep.json: no parameters",
        edit_json("sweep.json", lambda d: d.pop("parameters") and None),
        "sweep.json",
        ("'parameters' is not a list",),
    ),
    (
        "sweep.json: a bound as text",
        edit_json("sweep.json", lambda d: d["parameters"][0].update(low="cheap")),
        "sweep.json",
        ("parameters[0].low: expected a number, found a string",),
    ),
    (
        "sweep.json: an unknown kind",
        edit_json("sweep.json", lambda d: d["parameters"][1].update(kind="choice")),
        "sweep.json",
        ("parameters[1]: kind 'choice'",),
    ),
    (
        "manifest: another design",
        edit_json("manifest.json", lambda d: d.update(design="sobol")),
        "manifest.json",
        ("design 'sobol', but sweep.json says 'grid'", "mixes two sweeps"),
    ),
    (
        "manifest: rows as text",
        edit_json("manifest.json", lambda d: d.update(rows="four")),
        "manifest.json",
        ("'rows' is 'four'",),
    ),
    (
        "runs.csv: text in a KPI",
        edit_csv("runs.csv", lambda r: set_cell(r, 3, "revenue", "high")),
        "runs.csv",
        ("line 3, column 'revenue': 'high' is not a number",),
    ),
    (
        "runs.csv: text in a range parameter",
        edit_csv("runs.csv", lambda r: set_cell(r, 2, "product.list_price", "cheap")),
        "runs.csv",
        ("line 2, column 'product.list_price': 'cheap' is not a number",),
    ),
    (
        "runs.csv: a parameter of another sweep",
        edit_csv("runs.csv", lambda r: drop_column(r, "product.list_price")),
        "runs.csv",
        ("no column 'product.list_price'",),
    ),
    (
        "runs.csv: a level the sweep does not have",
        edit_csv("runs.csv", _level_value),
        "runs.csv",
        ("line 2, column 'channels.platform.price_index': '0.75' is not one of its levels",),
    ),
    (
        "runs.csv: a row missing",
        edit_csv("runs.csv", lambda r: r.pop()),
        "runs.csv",
        ("3 rows, manifest.json says 4",),
    ),
    (
        "runs.csv: a run twice",
        edit_csv("runs.csv", lambda r: set_cell(r, 3, "run", r[1][0])),
        "runs.csv",
        ("line 3: a second row for run '0000'",),
    ),
    (
        "sensitivity.csv: an unknown parameter",
        edit_csv("sensitivity.csv", lambda r: set_cell(r, 2, "parameter", "product.unit_cost")),
        "sensitivity.csv",
        ("line 2, column 'parameter': parameter 'product.unit_cost' is not in sweep.json's",),
    ),
    (
        "sensitivity.csv: text in a measure",
        edit_csv("sensitivity.csv", lambda r: set_cell(r, 2, "spearman", "strong")),
        "sensitivity.csv",
        ("line 2, column 'spearman': 'strong' is not a number",),
    ),
    (
        "sensitivity.csv: the measure missing",
        edit_csv("sensitivity.csv", lambda r: drop_column(r, "spearman")),
        "sensitivity.csv",
        ("no column 'spearman'",),
    ),
    (
        "sensitivity.csv: a duplicate",
        edit_csv("sensitivity.csv", lambda r: r.append(list(r[1]))),
        "sensitivity.csv",
        ("a second row for KPI",),
    ),
    (
        "design.csv: another design's value",
        edit_csv("design.csv", lambda r: set_cell(r, 3, "product.list_price", "150.0")),
        "design.csv",
        ("line 3, column 'product.list_price': 150.0 where runs.csv has", "mixes two sweeps"),
    ),
    (
        "design.csv: text in a range parameter",
        edit_csv("design.csv", lambda r: set_cell(r, 2, "product.list_price", "x")),
        "design.csv",
        ("line 2, column 'product.list_price': 'x' is not a number",),
    ),
    (
        "design.csv: another run",
        edit_csv("design.csv", lambda r: set_cell(r, 2, "run", "0042")),
        "design.csv",
        ("line 2, column 'run': '0042' where runs.csv has '0000'",),
    ),
]


@pytest.mark.parametrize(
    ("edit", "name", "fragments"),
    [case[1:] for case in SWEEP_CASES],
    ids=[case[0] for case in SWEEP_CASES],
)
def test_a_tampered_sweep_is_refused_in_one_line(
    grid: Path, copy_of, edit, name: str, fragments: tuple[str, ...]
):
    folder = copy_of(grid)
    edit(folder)
    refused(folder, name, *fragments)


def test_damaged_run_files_of_a_response_curve_are_refused(curve: Path, copy_of):
    folder = copy_of(curve)
    first = sorted((folder / "runs").glob("*.json"))[0]
    doc = json.loads(first.read_text())
    doc["replications"][1]["kpis"]["revenue"] = "a lot"
    first.write_text(json.dumps(doc))
    refused(folder, f"runs/{first.name}", "replications[1]: KPI 'revenue' is 'a lot'")
    first.unlink()
    refused(folder, f"runs/{first.name}", "missing (run")


def test_the_untampered_folders_are_reported(comparison: Path, grid: Path, curve: Path, copy_of):
    """The checks refuse nothing that omnisim wrote itself."""
    for src in (comparison, grid, curve):
        folder = copy_of(src)
        assert build_report(folder).exists()


# --------------------------------------------------------------------------------------------
# Fuzzing comparison.csv


def reported_or_refused(folder: Path) -> str:
    """'report' if the folder gives a report (its page and every chart), 'refused' if it
    raises a one-line ReportError naming a file of the folder; any other exception fails."""
    try:
        res = load_results(folder)
    except ReportError as e:
        message = str(e)
        assert "\n" not in message and message.startswith(str(folder)), message
        return "refused"
    assert isinstance(res, ComparisonResults)
    # Drawing every figure builds each chart from the numbers; solving and writing the
    # layout (the slow part of a build) is left to the tests that build whole reports.
    with chart_style():
        for draw in CHARTS.values():
            fig = draw(res)
            if fig is not None:
                plt.close(fig)
    assert render_comparison(res, {})
    return "report"


@pytest.fixture(scope="module")
def fuzz_base(comparison: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _fresh(comparison: Path, base: Path) -> Path:
    folder = base / "cmp"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(comparison, folder)
    return folder


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cut=st.floats(0.0, 1.0, exclude_max=True))
def test_fuzz_truncated_comparison_csv(comparison: Path, fuzz_base: Path, cut: float):
    folder = _fresh(comparison, fuzz_base)
    path = folder / "comparison.csv"
    data = path.read_bytes()
    path.write_bytes(data[: int(cut * len(data))])
    assert reported_or_refused(folder) == "refused"  # a cut file is never taken for whole


CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "nan", "inf", "-inf", "1e400", "True", "NA", "0x10", "1,5", '"']),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**20), 10**20).map(str),
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), cells=st.lists(CELLS, min_size=1, max_size=3))
def test_fuzz_cells_of_comparison_csv(
    comparison: Path, fuzz_base: Path, seed: int, cells: list[str]
):
    folder = _fresh(comparison, fuzz_base)
    path = folder / "comparison.csv"
    rows = rows_of(path)
    rng = random.Random(seed)
    for value in cells:
        # The header a quarter of the time: a row among hundreds would almost never be it.
        line = 0 if rng.random() < 0.25 else rng.randrange(1, len(rows))
        rows[line][rng.randrange(len(rows[line]))] = value
    write_rows(path, rows)
    reported_or_refused(folder)


def test_empty_numbers_still_give_a_whole_report(comparison: Path, copy_of):
    """Empty cells are NaN, which a report must draw around (a KPI a strategy lacks is NaN):
    the baseline's revenue mean, and a whole KPI row of the other strategy."""
    folder = copy_of(comparison)

    def blank(rows):
        set_cell(rows, line_of(rows, "baseline", "revenue"), "mean", "")
        line = line_of(rows, "unified_price", "brand_profit")
        for column in ("mean", "ci_low", "ci_high", "diff", "diff_ci_low", "diff_ci_high"):
            set_cell(rows, line, column, "")

    edit_csv("comparison.csv", blank)(folder)
    html = build_report(folder).read_text()
    assert "brand_profit" in html
