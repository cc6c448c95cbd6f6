"""report.html in a real browser: headless Chromium (Debian's `chromium`, which `.ci/run`
installs) renders it with every chart, runs no script from a hostile scenario, and asks the
network for nothing while the network is cut off."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from builders import HOSTILE, HOSTILE_STRATEGY
from matplotlib import image

BROWSER = next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None
)
if BROWSER is None and os.environ.get("CI"):
    pytest.fail("CI must have Chromium (.ci/run installs Debian's chromium)", pytrace=False)
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no Chromium here (apt-get install chromium)"
)

OFFLINE = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # No name resolves and every connection goes to a closed port: nothing can be fetched.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
]


def chromium(tmp: Path, *args: str) -> str:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    done = subprocess.run(
        [BROWSER, *OFFLINE, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def page_requests(netlog: Path) -> list[str]:
    """URLs the page asked for: requests with an initiator (the browser's own background
    requests have none, 'not an origin')."""
    log = json.loads(netlog.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start and e["params"].get("initiator") not in (None, "not an origin")
    ]


class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.figures: dict[str, int] = {}  # figure id -> svg elements inside it
        self.scripts = 0
        self.svg_text: list[str] = []
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure":
            self._figure = a.get("id", "")
            self.figures[self._figure] = 0
        elif tag == "svg" and self._figure is not None:
            self.figures[self._figure] += 1
        elif tag == "script":
            self.scripts += 1
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "figure":
            self._figure = None
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data):
        if "text" in self.stack and "svg" in self.stack:
            self.svg_text.append(data)


def dom(html: str) -> _Dom:
    d = _Dom()
    d.feed(html)
    return d


def test_chromium_renders_every_chart_offline(built: Path, tmp_path: Path):
    report = built / "report.html"
    netlog = tmp_path / "net.json"
    out = chromium(tmp_path, f"--log-net-log={netlog}", "--dump-dom", report.as_uri())
    d = dom(out)
    charts = sorted(p.stem for p in (report.parent / "charts").glob("*.svg"))
    assert sorted(f.removeprefix("chart-") for f in d.figures) == charts
    assert all(n == 1 for n in d.figures.values()), d.figures
    text = " ".join(d.svg_text)
    for name in ("baseline", "stage2_o2o", "stage3_flatten", "revenue", "national_agent"):
        assert name in text  # the charts' text was parsed as SVG text
    assert page_requests(netlog) == []
    # The page drawn: a screenshot that is not blank.
    shot = tmp_path / "shot.png"
    chromium(tmp_path, "--window-size=1280,3000", f"--screenshot={shot}", report.as_uri())
    pixels = image.imread(shot)
    assert pixels.shape[:2] == (3000, 1280) and float(np.std(pixels[..., :3])) > 0.05


def test_the_request_check_sees_a_page_that_fetches(tmp_path: Path):
    """The control for the test above: a page with one remote image is caught."""
    page = tmp_path / "fetches.html"
    page.write_text('<!DOCTYPE html><img src="http://example.invalid/x.png">')
    netlog = tmp_path / "net.json"
    chromium(tmp_path, f"--log-net-log={netlog}", "--dump-dom", page.as_uri())
    assert page_requests(netlog) == ["http://example.invalid/x.png"]


def test_a_hostile_scenario_runs_no_script_in_the_browser(tmp_path: Path, hostile_dir: Path):
    report = hostile_dir / "report.html"
    netlog = tmp_path / "net.json"
    out = chromium(tmp_path, f"--log-net-log={netlog}", "--dump-dom", report.as_uri())
    d = dom(out)
    assert d.scripts == 0
    assert "&lt;script&gt;" in out and escape(HOSTILE_STRATEGY, quote=False) in out
    assert HOSTILE in " ".join(d.svg_text)  # the name in the chart titles, as text
    assert page_requests(netlog) == []  # the <img src=x> in the strategy name fetched nothing
