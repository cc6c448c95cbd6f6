"""Charts and the HTML report of saved comparison and sweep results (docs/reports.md).

`omnisim.build_report` (or `omnisim report RESULTS_DIR`) builds them; the modules here are
`results` (the saved files, read back), `charts` and `sweep_charts` (a figure each), `style`
(the look shared by every chart), `summary` (the report's words and tables), `html` (the
page) and `build` (all of it, for one folder). Importing this package does not import
matplotlib.
"""

from omnisim.report.results import ReportError, load_results

__all__ = ["ReportError", "load_results"]
