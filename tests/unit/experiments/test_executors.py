"""Executors: pool workers die with their driver, SIGTERM interrupts like Ctrl-C, and leaving
an executor by an exception stops its workers at once (issue 13, item 5). The real kills of
`omnisim compare` and `omnisim sweep` are in tests/cli/test_orphans.py."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnisim.experiments.executors import Terminated, open_executor

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="prctl and /proc are Linux's"
)
_PR_GET_PDEATHSIG = 2


def _death_signal() -> int:
    """In a worker: the signal Linux sends it when its parent dies (0: none)."""
    sig = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(_PR_GET_PDEATHSIG, ctypes.byref(sig), 0, 0, 0)
    return sig.value


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def default_sigterm() -> Iterator[None]:
    before = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


_STATE = """
import ctypes, multiprocessing, signal, sys, threading
from omnisim.experiments.executors import open_executor

def state():
    sig = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
    handlers = [signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]
    return multiprocessing.current_process().name, sig.value, *map(str, handlers)

if __name__ == "__main__":
    if sys.argv[1] == "spawn":  # a driver with a second thread spawns its workers
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    with open_executor("process", workers=2) as ex:
        print(*ex.submit(state).result(timeout=120))
"""


@linux_only
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_pool_workers_ask_to_die_with_the_driver(method: str, tmp_path: Path) -> None:
    # In a fresh process: this one may run threads left by other tests, and would spawn.
    script = tmp_path / "state.py"
    script.write_text(textwrap.dedent(_STATE))
    out = subprocess.run(
        [sys.executable, str(script), method], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    name, death, sigint, sigterm = out.stdout.split()
    assert name.startswith("ForkProcess" if method == "fork" else "SpawnProcess"), name
    assert int(death) == signal.SIGKILL
    # The driver alone handles Ctrl-C; a forked worker must not inherit its SIGTERM handler.
    assert sigint == str(signal.SIG_IGN)
    assert sigterm == str(signal.SIG_DFL)


def test_sigterm_raises_terminated_and_restores_the_default(default_sigterm) -> None:
    with pytest.raises(KeyboardInterrupt) as caught, open_executor("serial"):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)  # the handler interrupts this at once
    assert isinstance(caught.value, Terminated)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_application_sigterm_handler_is_left_alone(default_sigterm) -> None:
    seen: list[int] = []

    def handler(signum: int, frame: object) -> None:
        seen.append(signum)

    signal.signal(signal.SIGTERM, handler)
    with open_executor("serial"):
        assert signal.getsignal(signal.SIGTERM) is handler
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # handlers run between bytecodes of the main thread
    assert seen == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is handler


@linux_only
@pytest.mark.parametrize("cause", ["error", "sigterm"])
def test_leaving_by_an_exception_kills_busy_workers(cause: str, default_sigterm) -> None:
    """A failed run or SIGTERM must not wait for a minute of queued and running work."""
    expected = RuntimeError if cause == "error" else Terminated
    start = time.monotonic()
    with pytest.raises(expected), open_executor("process", workers=2) as ex:
        futures = [ex.submit(time.sleep, 60) for _ in range(6)]
        deadline = time.monotonic() + 60
        while len(multiprocessing.active_children()) < 2:
            assert time.monotonic() < deadline, "the pool started no workers"
            time.sleep(0.02)
        pids = [p.pid for p in multiprocessing.active_children()]
        time.sleep(0.3)  # both workers are now inside a task
        if cause == "error":
            raise RuntimeError("a run failed")
        os.kill(os.getpid(), signal.SIGTERM)
        futures[0].result()  # interrupted by the handler
    assert time.monotonic() - start < 10
    assert not [p for p in pids if _alive(p)]
    assert all(f.done() for f in futures)


_DRIVER = """
import multiprocessing, os, sys, threading, time
from omnisim.experiments.executors import _watch_parent

def child(parent):
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    time.sleep(120)

if __name__ == "__main__":
    p = multiprocessing.get_context(sys.argv[1]).Process(target=child, args=(os.getpid(),))
    p.start()
    print(p.pid, flush=True)
    time.sleep(120)
"""


@linux_only
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_watchdog_alone_ends_a_worker_whose_driver_was_killed(method: str, tmp_path) -> None:
    """The portable fallback: no death signal asked for, the watchdog thread notices."""
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(_DRIVER))
    proc = subprocess.Popen(
        [sys.executable, str(script), method], stdout=subprocess.PIPE, start_new_session=True
    )
    child = 0
    try:
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        deadline = time.monotonic() + 60
        while len(list(Path(f"/proc/{child}/task").iterdir())) < 2:  # the watchdog runs
            assert time.monotonic() < deadline, "the child started no watchdog"
            time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=30)
        killed = time.monotonic()
        while _alive(child) and time.monotonic() - killed < 5:
            time.sleep(0.02)
        assert not _alive(child), "the worker outlived its driver by 5 s"
    finally:
        if child and _alive(child):
            os.kill(child, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


@linux_only
@pytest.mark.slow
def test_dask_local_cluster_workers_ask_to_die_with_the_driver() -> None:
    distributed = pytest.importorskip("distributed")
    with open_executor("dask", workers=1):
        # In the worker's main thread, where the preload ran: Linux keeps the death signal
        # per thread (tasks run in another one) and sends it if any thread asked for it.
        found = distributed.default_client().run(_death_signal)
    assert list(found.values()) == [signal.SIGKILL]
