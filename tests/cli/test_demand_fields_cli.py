"""Bad values of the demand fields (forgetting, pull-forward incrementality, nests) as a user
meets them: one line naming the file, the line and the field, exit status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import quickstart_copy
from typer.testing import CliRunner

from omnisim.cli import app

runner = CliRunner()
SEGMENT = "    awareness: 0.5\n"  # a line of the first segment, young_online


def edited(tmp_path: Path, where: str, text: str) -> tuple[Path, int]:
    """The shrunk quick-start with ``text`` added after ``where`` (or, ``where`` empty, at the
    end), and the line number of the first added line."""
    path = quickstart_copy(tmp_path, consumers=500, days=40)
    src = path.read_text()
    if where:
        assert where in src
        cut = src.index(where) + len(where)
    else:
        src = src.rstrip("\n") + "\n"
        cut = len(src)
    path.write_text(src[:cut] + text + src[cut:])
    return path, src[:cut].count("\n") + 1


@pytest.mark.parametrize(
    ("where", "text", "field", "message"),
    [
        (
            SEGMENT,
            "    awareness_half_life_days: 0\n",
            "segments.young_online.awareness_half_life_days",
            "greater than 0",
        ),
        (
            SEGMENT,
            "    habit_half_life_days: -3\n",
            "segments.young_online.habit_half_life_days",
            "greater than 0",
        ),
        (
            "",
            "journey:\n  purchase_awareness_lift: 1.5\n",
            "journey.purchase_awareness_lift",
            "less than or equal to 1",
        ),
        ("", "journey:\n  nests: {online: 0}\n", "journey.nests.online", "greater than 0"),
        (
            "",
            "journey:\n  nests: {offline: 2}\n",
            "journey.nests.offline",
            "less than or equal to 1",
        ),
        (
            "",
            "journey:\n  nests: {online: 0.3, fulfilment: 0.6}\n",
            "journey.nests",
            "fulfilment (0.6) must not exceed online (0.3)",
        ),
    ],
)
def test_bad_demand_field_exit_2_one_line_no_files(tmp_path, where, text, field, message):
    path, line = edited(tmp_path, where, text)
    out = tmp_path / "never"
    r = runner.invoke(app, ["run", str(path), "--out", str(out), "--quiet"])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1, r.output
    # A mapping written inline is reported at the line of its key.
    expect_line = line + 1 if text.startswith("journey:") else line
    assert lines[0].startswith(f"{path}:{expect_line}: {field}: "), lines[0]
    assert message in lines[0]
    assert "Traceback" not in r.output
    assert not out.exists()


def test_bad_incrementality_names_the_vehicle(tmp_path):
    media = (
        "media:\n  vehicles:\n    - name: feed_ads\n      kind: social\n"
        "      cost_per_thousand: 20\n      incrementality: 1.2\n"
    )
    path, line = edited(tmp_path, "", media)
    r = runner.invoke(app, ["validate", str(path)])
    assert r.exit_code == 2, r.output
    assert "media.vehicles.feed_ads.incrementality: " in r.output
    assert f"{path}:{line + 5}: " in r.output
    assert "Traceback" not in r.output
