"""One look for every chart: slide-sized figures, a colour per strategy, unit-aware numbers,
and files that are byte-identical when drawn again.

Figures are 16:9 (10 x 5.625 in) with 12-13 pt text, so a PNG at 150 dpi (1500 x 844 px) can
go onto a slide as it is. Colours are the Okabe-Ito palette (Okabe & Ito 2008), which stays
distinguishable for the common colour-vision deficiencies; the baseline is always grey.

Chinese (and Japanese, Korean) names of scenarios, strategies, channels and regions are drawn
with a font that covers them, chosen at run time from the system's fonts (`cjk_font`): Latin
text stays in DejaVu Sans and matplotlib falls back to the CJK font glyph by glyph; the SVGs
name it in their ``font-family`` too, for the browser. Without one, such names are drawn as
boxes (docs/reports.md says which font package to install).
"""

from __future__ import annotations

import functools
import io
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from omnisim.experiments.outputs import atomic_write_bytes
from omnisim.metrics.units import kind_of

SLIDE = (10.0, 5.625)
"""Figure size in inches (16:9)."""
PNG_DPI = 150
BASELINE_COLOUR = "#6b6b6b"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Okabe-Ito, most distinct first; the yellow, pale on white, comes late."""
SERIES_PALETTE = (
    *PALETTE,
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#aec7e8",
    "#ff9896",
    "#c5b0d5",
    "#98df8a",
)
"""For up to 16 series of one chart (channels, levels): Okabe-Ito, then muted tab20 tones."""

RC = {
    "figure.figsize": SLIDE,
    "figure.dpi": 100,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
    "font.size": 12,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 12,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.8,
    "legend.frameon": False,
    "legend.fontsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "errorbar.capsize": 3,
    # Text stays text in the SVG (searchable, small, escaped by matplotlib); the hash salt
    # fixes the ids matplotlib derives for clip paths, so a re-render is byte-identical.
    "svg.fonttype": "none",
    "svg.hashsalt": "omnisim",
}


CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "SimHei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Source Han Sans",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "AR PL UKai CN",
    "Arial Unicode MS",
)
"""Fonts that draw Chinese, most wanted first: sans-serif faces with the simplified forms
(the market this tool is for) before traditional and Japanese forms, then fallbacks."""
CJK_SAMPLE = "渠道区域上海"
"""Characters a font must have to count as covering Chinese when its name is not known."""


def _covers(path: str, text: str = CJK_SAMPLE) -> bool:
    try:
        font = font_manager.get_font(path)
    except (OSError, RuntimeError, ValueError):  # unreadable or not a font
        return False
    return all(font.get_char_index(ord(c)) for c in text)


def pick_cjk_font(
    entries: Iterable[font_manager.FontEntry], covers: Callable[[str], bool] = _covers
) -> str | None:
    """The family of ``entries`` to draw Chinese with: the first of `CJK_FONTS` present,
    else the first (by name) whose glyphs cover `CJK_SAMPLE`; None if there is none."""
    entries = list(entries)
    names = {e.name for e in entries}
    for name in CJK_FONTS:
        if name in names:
            return name
    for e in sorted(entries, key=lambda e: (e.name, e.fname)):
        # matplotlib's own Last Resort font maps every character, to a box.
        if not e.name.startswith("Last Resort") and covers(e.fname):
            return e.name
    return None


@functools.cache
def cjk_font() -> str | None:
    """The installed font family that draws Chinese in charts, or None (once per process)."""
    manager = font_manager.fontManager
    found = pick_cjk_font(manager.ttflist)
    if found is None:
        # matplotlib keeps its font list in a cache it does not refresh when fonts are
        # installed: look at the system's font files it has not seen.
        known = {e.fname for e in manager.ttflist}
        for path in sorted(font_manager.findSystemFonts()):
            if path not in known and _covers(path):
                manager.addfont(path)
        found = pick_cjk_font(manager.ttflist)
    return found


def chart_rc() -> dict[str, Any]:
    """`RC` with the CJK font, if the system has one, after DejaVu Sans."""
    rc = dict(RC)
    cjk = cjk_font()
    if cjk is not None:
        first, *rest = RC["font.sans-serif"]
        # A family list, not "sans-serif" alone: matplotlib falls back glyph by glyph only
        # along font.family (a generic family resolves to its first installed font). The
        # SVG's font-family is "sans-serif" expanded, so the browser sees the CJK font too.
        rc["font.family"] = ["sans-serif", cjk]
        rc["font.sans-serif"] = [first, cjk, *rest]
    return rc


class _RegularCJKWeight(logging.Filter):
    """Drops matplotlib's warning that a CJK font lacks a bold face (bold titles): most
    have one weight, and its regular glyphs among bold Latin ones are expected."""

    def __init__(self, family: str) -> None:
        super().__init__()
        self.family = family

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            str(record.msg).startswith("findfont: Failed to find font weight")
            and isinstance(record.args, tuple)
            and self.family in record.args
        )


@contextmanager
def chart_style() -> Iterator[None]:
    """Draw inside this context to get the report's look without changing the caller's."""
    rc = chart_rc()
    cjk = cjk_font()
    log = logging.getLogger("matplotlib.font_manager")
    quiet = _RegularCJKWeight(cjk) if cjk is not None else None
    if quiet is not None:
        log.addFilter(quiet)
    try:
        with matplotlib.rc_context(rc):
            yield
    finally:
        if quiet is not None:
            log.removeFilter(quiet)


def strategy_colours(strategies: Sequence[str], baseline: str) -> dict[str, str]:
    """Grey for the baseline, then the palette in the order strategies are listed."""
    out: dict[str, str] = {}
    k = 0
    for name in strategies:
        if name == baseline:
            out[name] = BASELINE_COLOUR
        else:
            out[name] = PALETTE[k % len(PALETTE)]
            k += 1
    return out


def series_colours(names: Sequence[str]) -> dict[str, str]:
    return {n: SERIES_PALETTE[i % len(SERIES_PALETTE)] for i, n in enumerate(names)}


def compact(v: float) -> str:
    """1234567 -> 1.23M, 4321 -> 4.32k, 0.5 -> 0.5: tick labels that fit on a slide."""
    if v != v:
        return ""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{v / div:.3g}{suffix}"
    return f"{v:.3g}" if a else "0"


def format_value(v: float, kpi: str, signed: bool = False, short: bool = False) -> str:
    """A KPI value as a report writes it: shares in per cent, money and counts with thousands
    separators, levels to four significant digits; ``signed`` adds the sign of a difference
    (shares then in percentage points), ``short`` writes 10,000 and more as 10k, 1.2M."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    kind = kind_of(kpi)
    sign = "+" if signed and v > 0 else ""
    if kind == "fraction":
        return f"{sign}{100 * v:.1f} pp" if signed else f"{100 * v:.1f}%"
    if short and abs(v) >= 1e4:
        return sign + compact(v)
    if kind in ("money", "count") and abs(v) >= 100:
        return f"{sign}{v:,.0f}"
    return f"{sign}{v:.3g}" if signed else f"{v:.4g}"


def value_axis(axis, kpi: str) -> None:
    """Tick labels of an axis that carries a KPI's values, by the KPI's unit."""
    if kind_of(kpi) == "fraction":
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{100 * v:.0f}%"))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))


def save(fig: Figure, folder: Path, name: str) -> bytes:
    """Write ``name.svg`` and ``name.png`` into ``folder`` (atomically); return the SVG.
    Metadata that would change from one render to the next (the date) is left out."""
    folder.mkdir(parents=True, exist_ok=True)
    svg = io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None})
    # The layout is solved (in figure fractions) by the first save: keep it for the second
    # rather than solve it again, which costs as much as drawing.
    fig.set_layout_engine("none")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=PNG_DPI, metadata={"Software": None})
    atomic_write_bytes(folder / f"{name}.svg", svg.getvalue())
    atomic_write_bytes(folder / f"{name}.png", png.getvalue())
    return svg.getvalue()
