"""Charts draw CJK text (issue 13, item 7): a comparison whose scenario, strategies, regions
and channels are named in Chinese gets its charts without a missing-glyph warning, with the
CJK font named in every SVG text's font-family; without a CJK font the style is unchanged."""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from builders import quickstart_copy
from matplotlib.font_manager import FontEntry
from matplotlib.image import imread

import omnisim
from omnisim.report.build import build_report
from omnisim.report.style import RC, chart_rc, chart_style, cjk_font, pick_cjk_font, save

needs_cjk_font = pytest.mark.skipif(
    cjk_font() is None,
    reason="no font that covers Chinese is installed (Debian: apt-get install "
    "fonts-wqy-microhei; .ci/run installs it)",
)

NAME = "华东全渠道"
STRATEGY = "统一价格"
RENAMES = {  # identifiers of the quick-start file -> Chinese names
    r"\bshanghai\b": "上海",
    r"\bsuzhou\b": "苏州",
    r"\bflagship\b": "旗舰店",
    r"\bmini_mall\b": "小程序商城",
}


def _chinese_copy(folder: Path) -> Path:
    """The shrunk quick-start file with its name, a strategy, both regions and two channels
    renamed in Chinese (every reference to them too)."""
    text = quickstart_copy(folder, consumers=800, days=60).read_text()
    text = text.replace("name: quickstart", f"name: {NAME}", 1)
    text = text.replace("\n  unified_price:\n", f"\n  {STRATEGY}:\n", 1)  # the strategy's key
    for pattern, name in RENAMES.items():
        text = re.sub(pattern, name, text)
    assert NAME in text and STRATEGY in text
    path = folder / "chinese.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def chinese_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("chinese")
    out = folder / "out"
    omnisim.compare(_chinese_copy(folder), reps=2, executor="serial", out=out, report=False)
    return out


def _font_trouble(records: list[logging.LogRecord], caught: list[warnings.WarningMessage]):
    return [str(w.message) for w in caught if "missing from font" in str(w.message)] + [
        r.getMessage() for r in records if r.levelno >= logging.WARNING
    ]


@needs_cjk_font
def test_chinese_names_draw_without_missing_glyphs(chinese_dir: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="matplotlib")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_report(chinese_dir)
    assert not _font_trouble(caplog.records, caught)
    svgs = {p.name: p.read_text(encoding="utf-8") for p in (chinese_dir / "charts").glob("*.svg")}
    assert svgs
    joined = "\n".join(svgs.values())
    for name in (NAME, STRATEGY, "旗舰店", "小程序商城"):
        assert name in joined, f"{name} is drawn in no chart"
    # The browser draws SVG text: each text's font list must name the CJK font.
    families = set(re.findall(r"font-family: ([^;\"]+)", joined))
    assert families
    assert all(repr(cjk_font()) in f for f in families), families


@needs_cjk_font
def test_cjk_glyphs_are_drawn_not_boxes(tmp_path: Path) -> None:
    """The PNG of a Chinese label differs from the same label in DejaVu Sans alone, whose
    missing glyphs matplotlib draws as boxes."""

    def png(rc_family: list[str] | None) -> np.ndarray:
        from matplotlib.figure import Figure

        with chart_style(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the DejaVu-only drawing warns, as it should
            fig = Figure(figsize=(3, 1))
            kw = {"family": rc_family} if rc_family else {}
            fig.text(0.1, 0.3, "渠道", fontsize=30, **kw)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=50)
        buf.seek(0)
        return imread(buf)

    with_cjk, boxes = png(None), png(["DejaVu Sans"])
    assert (with_cjk < 0.5).any(), "no ink"
    assert not np.array_equal(with_cjk, boxes)


@needs_cjk_font
def test_rerendered_svg_is_byte_identical(tmp_path: Path) -> None:
    from matplotlib.figure import Figure

    def draw(folder: Path) -> bytes:
        with chart_style():
            fig = Figure()
            ax = fig.subplots()
            ax.bar(["上海", "苏州"], [1, 2])
            ax.set_title(f"{NAME}: revenue")
            return save(fig, folder, "chart")

    assert draw(tmp_path / "a") == draw(tmp_path / "b")
    assert (tmp_path / "a" / "chart.png").read_bytes() == (
        tmp_path / "b" / "chart.png"
    ).read_bytes()


def test_without_a_cjk_font_the_style_is_unchanged(monkeypatch) -> None:
    import omnisim.report.style as style

    monkeypatch.setattr(style, "cjk_font", lambda: None)
    assert chart_rc() == RC


def test_with_a_cjk_font_it_follows_dejavu_sans(monkeypatch) -> None:
    import omnisim.report.style as style

    monkeypatch.setattr(style, "cjk_font", lambda: "Some CJK")
    rc = chart_rc()
    assert rc["font.family"] == ["sans-serif", "Some CJK"]
    assert rc["font.sans-serif"][:2] == ["DejaVu Sans", "Some CJK"]


def _entry(name: str) -> FontEntry:
    return FontEntry(fname=f"/fonts/{name}.ttf", name=name)


def test_pick_prefers_listed_simplified_chinese_fonts() -> None:
    fonts = [_entry("DejaVu Sans"), _entry("Droid Sans Fallback"), _entry("Noto Sans CJK SC")]
    assert pick_cjk_font(fonts, covers=lambda path: True) == "Noto Sans CJK SC"
    fonts = [_entry("Noto Sans CJK JP"), _entry("WenQuanYi Micro Hei")]
    assert pick_cjk_font(fonts, covers=lambda path: True) == "WenQuanYi Micro Hei"


def test_pick_finds_an_unlisted_font_by_its_glyphs() -> None:
    fonts = [_entry("DejaVu Sans"), _entry("Last Resort High-Efficiency"), _entry("Zh Sans")]
    covering = {"/fonts/Zh Sans.ttf", "/fonts/Last Resort High-Efficiency.ttf"}
    assert pick_cjk_font(fonts, covers=lambda path: path in covering) == "Zh Sans"
    assert pick_cjk_font(fonts[:2], covers=lambda path: path in covering) is None


def test_a_font_installed_after_matplotlib_cached_its_list_is_found(monkeypatch) -> None:
    """matplotlib does not refresh its cached font list; the system's font files are looked
    at when that list has no CJK font."""
    import omnisim.report.style as style

    class Manager:
        def __init__(self) -> None:
            self.ttflist = [_entry("DejaVu Sans")]

        def addfont(self, path: str) -> None:
            self.ttflist.append(FontEntry(fname=path, name="WenQuanYi Zen Hei"))

    fresh = "/usr/share/fonts/new/fresh.ttf"
    monkeypatch.setattr(style.font_manager, "fontManager", Manager())
    monkeypatch.setattr(style.font_manager, "findSystemFonts", lambda: ["/fonts/x.ttf", fresh])
    monkeypatch.setattr(style, "_covers", lambda path, text=style.CJK_SAMPLE: path == fresh)
    assert style.cjk_font.__wrapped__() == "WenQuanYi Zen Hei"
