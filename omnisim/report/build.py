"""Build a results folder's charts and report: ``charts/<name>.svg`` and ``.png`` for every
chart that applies, and ``report.html`` beside them.

`omnisim compare` and `omnisim sweep` call this once their result files are written;
`omnisim report RESULTS_DIR` calls it on a folder written earlier. Callers build into a staging
copy of the folder (`omnisim.experiments.folders`), so an interrupted build leaves the
previous report and charts as they were.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from omnisim.experiments.outputs import atomic_write_text
from omnisim.report.charts import CHARTS
from omnisim.report.html import render_comparison, render_sweep
from omnisim.report.results import ComparisonResults, load_results
from omnisim.report.style import chart_style, save
from omnisim.report.sweep_charts import HEADLINE as SWEEP_KPIS
from omnisim.report.sweep_charts import sweep_charts

REPORT = "report.html"
CHART_DIR = "charts"


def build_report(folder: str | Path) -> Path:
    """Draw every chart of the results in ``folder`` and write its report; returns the
    report's path. Raises `ReportError` (one line) for a folder that is not a finished
    comparison or sweep."""
    folder = Path(folder)
    res = load_results(folder)
    charts = folder / CHART_DIR
    # Charts of an earlier build that no longer apply must not linger beside the new report.
    shutil.rmtree(charts, ignore_errors=True)
    svgs: dict[str, bytes] = {}
    with chart_style():
        if isinstance(res, ComparisonResults):
            for name, draw in CHARTS.items():
                fig = draw(res)
                if fig is not None:
                    svgs[name] = save(fig, charts, name)
            html = render_comparison(res, svgs)
        else:
            kpis = [k for k in SWEEP_KPIS if res.has(k)]
            for name, fig in sweep_charts(res, kpis).items():
                svgs[name] = save(fig, charts, name)
            html = render_sweep(res, svgs, kpis)
    atomic_write_text(folder / REPORT, html)
    return folder / REPORT
