"""Result folders: safe names, containment, whole-folder replacement, locks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from omnisim.experiments import folders
from omnisim.experiments.folders import (
    FolderError,
    Staging,
    check_target,
    default_folder,
    exclusive,
    inside,
    rebuild,
    slug,
    staged,
)
from omnisim.experiments.outputs import atomic_write_text


@pytest.mark.parametrize(
    "name",
    [
        "/tmp/EVIL",
        "../../../../tmp/EVIL",
        "/../../tmp/STRAT",
        "..",
        ".",
        ".hidden",
        "a/../b",
        "a\\..\\b",
        "x\x00y\nz\tw",
        "\x1b[31mred",
        "C:\\Windows\\System32",
        "~root",
        "",
        "   ",
    ],
)
def test_slug_is_one_safe_component(name: str) -> None:
    s = slug(name)
    assert s and "/" not in s and "\\" not in s and ".." not in s
    assert not s.startswith(".") and s.isprintable() and " " not in s
    assert Path(s).name == s and len(Path(s).parts) == 1


def test_slug_keeps_readable_names_and_bounds_length() -> None:
    assert slug("quickstart") == "quickstart"
    assert slug("fmcg_flattening.v2") == "fmcg_flattening.v2"
    assert slug("全渠道 路线图") == "全渠道-路线图"
    long = slug("x" * 10_000)
    assert len(long) == folders.SLUG_LIMIT
    assert len(slug("渠" * 1000).encode()) <= 3 * folders.SLUG_LIMIT
    assert slug("///") == "unnamed"


def test_default_folder_stays_in_results_and_differs_by_every_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = default_folder("../../../../tmp/EVIL", "/../../tmp/STRAT", 7, {"reps": 2})
    assert a.parent == Path("results")
    assert (tmp_path / a).resolve().parent == (tmp_path / "results").resolve()
    same = default_folder("../../../../tmp/EVIL", "/../../tmp/STRAT", 7, {"reps": 2})
    assert same == a
    others = {
        default_folder("../../../../tmp/EVIL", "/../../tmp/STRAT", 8, {"reps": 2}),
        default_folder("../../../../tmp/EVIL", "/../../tmp/STRAT", 7, {"reps": 3}),
        default_folder("../../../../tmp/EVIL", "/../../tmp/STRAT", 7, {"reps": 2, "o": ["x"]}),
        default_folder("../../../../tmp/EVIL", "other", 7, {"reps": 2}),
    }
    assert a not in others and len(others) == 4


def test_inside_refuses_a_path_through_a_link_outside(tmp_path: Path) -> None:
    root = tmp_path / "results"
    root.mkdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    inside(root / "fine", root)
    with pytest.raises(FolderError, match="resolves outside"):
        inside(root / "link" / "x", root)


def test_check_target_refuses_results_unless_replacing(tmp_path: Path) -> None:
    target = tmp_path / "out"
    assert check_target(target, replace=False) == target  # missing: fine
    target.mkdir()
    (target / ".hidden").write_text("")
    assert check_target(target, replace=False) == target  # only hidden entries: fine
    (target / "summary.json").write_text("{}")
    with pytest.raises(FolderError, match="already holds results; use --force"):
        check_target(target, replace=False)
    assert check_target(target, replace=True) == target
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(FolderError, match="exists and is not a folder"):
        check_target(afile, replace=True)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_staged_replaces_whole_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "old.csv").write_text("old")
    (target / "summary.json").write_text("old")
    with staged(target) as work:
        assert work.parent == tmp_path and work.name.startswith(".out.partial-")
        (work / "summary.json").write_text("new")
    assert snapshot(target) == {"summary.json": b"new"}  # old.csv went with the old run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_leaves_the_old_results_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "summary.json").write_text("old")
    before = snapshot(target)
    with pytest.raises(RuntimeError), staged(target) as work:
        (work / "summary.json").write_text("half")
        raise RuntimeError("failed half-way")
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_creates_a_missing_target(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    with staged(target) as work:
        (work / "x").write_text("1")
    assert snapshot(target) == {"x": b"1"}


def test_commit_without_an_atomic_exchange(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(folders, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_text("old")
    with staged(target) as work:
        (work / "new").write_text("new")
    assert snapshot(target) == {"new": b"new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_stale_staging_of_a_dead_process_is_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".out.partial-{dead}-abcd"
    stale.mkdir()
    mine = tmp_path / f".out.partial-{os.getpid()}-beef"  # a live process's: kept
    mine.mkdir()
    Staging(tmp_path / "out").discard()
    assert not stale.exists() and mine.exists()


def test_rebuild_changes_a_copy_and_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    (target / "charts").mkdir(parents=True)
    (target / "data.csv").write_text("data")
    (target / "charts" / "a.svg").write_text("old chart")
    with rebuild(target) as work:
        assert snapshot(work) == snapshot(target)
        (work / "charts" / "a.svg").unlink()
        (work / "report.html").write_text("new")
        assert (target / "charts" / "a.svg").read_text() == "old chart"  # not yet
    assert snapshot(target) == {"data.csv": b"data", "report.html": b"new"}

    before = snapshot(target)
    inode = (target / "data.csv").stat().st_ino
    with pytest.raises(KeyboardInterrupt), rebuild(target) as work:
        assert (work / "data.csv").stat().st_ino == inode  # a link, not a copy
        atomic_write_text(work / "data.csv", "changed")  # replaces the link, not the file
        raise KeyboardInterrupt
    assert snapshot(target) == before


def test_exclusive_refuses_a_second_holder(tmp_path: Path) -> None:
    folder = tmp_path / "sweep"
    folder.mkdir()
    code = (
        "import sys, time; from pathlib import Path\n"
        "from omnisim.experiments.folders import exclusive\n"
        "with exclusive(Path(sys.argv[1]), 'sweep'):\n"
        "    print('held', flush=True); time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"held"
        with pytest.raises(FolderError, match="another sweep is writing this folder"):  # noqa: SIM117
            with exclusive(folder, "sweep"):
                pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive(folder, "sweep"):  # the lock died with its holder
        pass
