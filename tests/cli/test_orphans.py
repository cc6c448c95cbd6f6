"""Workers die with their driver: SIGKILL or SIGTERM of `omnisim compare` or `omnisim sweep`
leaves no worker process behind (issue 13, item 5), with forked and with spawned workers.

Each test starts the command in a subprocess (its own session), waits until its pool workers
have run their initializer (they then ignore SIGINT, which ``/proc/<pid>/status`` shows), sends
the signal to the driver alone and checks that every process below it is gone within a few
seconds.
"""

from __future__ import annotations

import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the process tree from /proc (Linux)"
)

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
WORKERS = 2
GONE_WITHIN = 5.0
"""Seconds after the signal by which every worker must have exited."""
STARTUP = 300.0
"""Seconds allowed for the driver to start its workers (the first run compiles the kernels)."""

# Enough runs to keep both workers busy well past the moment of the kill (about 0.3 s a run).
COMPARE = ["compare", str(QUICKSTART), "--reps", "40", "--set", "market.consumers=3000"]
SWEEP = ["sweep", str(QUICKSTART), "-p", "product.list_price=149:249", "--design", "lhs",
         "--n", "80", "--set", "market.consumers=3000"]  # fmt: skip


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parens
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")  # a zombie has exited


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = st[1]
    found: list[int] = []
    todo = [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        todo += kids
    return found


def _ignores_sigint(pid: int) -> bool:
    """True once the pool's worker initializer has run in ``pid``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    ignored = next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn"))
    return bool(int(ignored, 16) & (1 << (signal.SIGINT - 1)))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _kill_and_check(
    args: list[str], sig: signal.Signals, method: str, tmp_path: Path
) -> tuple[int, str]:
    """Run ``omnisim ARGS``, wait for its armed workers, send ``sig`` to the driver; assert
    every descendant is gone within `GONE_WITHIN` seconds. Returns (exit status, stderr)."""
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    cmd = [sys.executable, "-m", "omnisim.cli", *args, "--workers", str(WORKERS), "--out", str(out)]
    master = None
    with log.open("wb") as err:
        if method == "spawn":
            # A terminal on stderr makes the command draw its progress bar in a thread, and a
            # driver with a thread spawns its workers rather than fork them.
            master, slave = pty.openpty()
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=slave, start_new_session=True
            )
            os.close(slave)
            threading.Thread(target=_drain, args=(master,), daemon=True).start()
        else:
            cmd.append("--quiet")
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
    tree: list[int] = []
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            assert proc.poll() is None, f"the driver ended first: {log.read_text()}"
            assert time.monotonic() < deadline, "the driver started no workers"
            # spawn's resource tracker ignores SIGINT too; it is no pool worker
            workers = [p for p in _descendants(proc.pid) if "resource_tracker" not in _cmdline(p)]
            if len(workers) == WORKERS and all(_ignores_sigint(w) for w in workers):
                break
            time.sleep(0.05)
        tree = _descendants(proc.pid)  # the workers, and the resource tracker of spawn
        marker = "multiprocessing.spawn" if method == "spawn" else "omnisim.cli"
        assert all(marker in _cmdline(w) for w in workers), [_cmdline(w) for w in workers]
        os.kill(proc.pid, sig)
        sent = time.monotonic()
        code = proc.wait(timeout=30)
        while any(_alive(p) for p in tree) and time.monotonic() - sent < GONE_WITHIN:
            time.sleep(0.02)
        left = {p: _cmdline(p) for p in tree if _alive(p)}
        assert not left, f"alive {GONE_WITHIN:.0f} s after {sig.name} of the driver: {left}"
    finally:
        for p in [proc.pid, *tree]:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        proc.wait(timeout=30)
        if master is not None:
            os.close(master)
    return code, log.read_text()


def _drain(fd: int) -> None:
    # A full terminal buffer would stop the driver at its next progress update.
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_compare_sigkill_leaves_no_worker(method: str, tmp_path: Path) -> None:
    code, _ = _kill_and_check(COMPARE, signal.SIGKILL, method, tmp_path)
    assert code == -signal.SIGKILL


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_compare_sigterm_stops_workers_and_writes_nothing(method: str, tmp_path: Path) -> None:
    code, err = _kill_and_check(COMPARE, signal.SIGTERM, method, tmp_path)
    assert code != 0
    if method == "fork":  # the spawn variant's stderr is a terminal, drained unread
        assert code == 130 and "interrupted" in err, err  # as after Ctrl-C: cleaned up
        assert "Traceback" not in err, err
    assert not list(tmp_path.rglob("comparison.csv"))


def test_sweep_sigkill_leaves_no_worker(tmp_path: Path) -> None:
    code, _ = _kill_and_check(SWEEP, signal.SIGKILL, "fork", tmp_path)
    assert code == -signal.SIGKILL


def test_sweep_sigterm_stops_workers_and_finishes_nothing(tmp_path: Path) -> None:
    code, err = _kill_and_check(SWEEP, signal.SIGTERM, "fork", tmp_path)
    assert code == 130 and "--resume" in err, err
    assert "Traceback" not in err, err
    assert not list(tmp_path.rglob("runs.csv"))
    assert not list(tmp_path.rglob("sensitivity.csv"))
