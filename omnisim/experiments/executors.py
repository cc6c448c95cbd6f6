"""Where simulation runs execute: this process, a local process pool, or a Dask cluster.

Every executor is a `concurrent.futures.Executor`, so the experiment code has one path for all
of them. Results do not depend on the executor: a run's random streams are a function of
(seed, replication, stream salt) alone, never of which worker runs it or in which order.

* ``serial``: in this process, one run after the other (tests, debugging).
* ``process`` (default): a local pool with one worker per core. Workers are forked when the
  driver runs no other thread (fast, and a script needs no ``if __name__ == "__main__"``
  guard); otherwise (the command line draws its progress bar in a thread, and forking a
  process with threads can deadlock) they are started with ``spawn``.
* ``dask``: a `dask.distributed.LocalCluster` on this machine.
* ``tcp://host:port`` (any Dask scheduler address): an existing Dask cluster; omnisim must be
  installed on its workers (the ``omnisim[dask]`` extra).

Short runs are sent in chunks (`run_chunks`) so that the per-task cost of the executor (about
0.3 ms for a process pool, 2 ms for Dask, measured on this project's machines) stays small.
Nothing here starts anything at import time.

Workers die with their driver. A killed driver (any signal, SIGKILL included) must not leave
workers of a few hundred MB computing for minutes: local-pool workers and a `LocalCluster`'s
worker processes ask Linux for SIGKILL when their parent dies (``PR_SET_PDEATHSIG``), which
works even while a compiled kernel holds the GIL; pool workers also run a watchdog thread
that exits when the driver is gone, on every platform. While an executor is open, SIGTERM
raises `Terminated` (a `KeyboardInterrupt`) in the main thread, so the driver cleans up as
after Ctrl-C; leaving the executor by an exception stops the local workers at once instead of
letting them finish queued work.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class ExecutorError(Exception):
    """The executor asked for cannot be used (unknown name, Dask missing, scheduler down)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived while an executor was open. A `KeyboardInterrupt`, so that whatever
    handles Ctrl-C (the command line: cleanup, a one-line message, exit 130) handles it too."""


WATCH_SECONDS = 0.5
"""How often a pool worker's watchdog checks that its driver is still alive."""

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _set_parent_death_signal(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent thread exits; False where
    that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _die_with_parent(parent: int, watch: bool = True) -> None:
    """Make this (worker) process end when process ``parent`` does.

    The death signal is kernel-side, so it fires even while a compiled kernel holds the GIL;
    it must be set from the worker's main thread, which lives as long as the worker (Linux
    keeps it per thread). Linux sends it when the parent *thread* that started the worker
    exits: `open_executor`'s pool starts its workers from the thread that submits (Python
    3.11) or from the pool's manager thread, both alive as long as the pool is used. The
    watchdog (``watch``) covers other platforms and a failed ``prctl``, but needs the GIL."""
    _set_parent_death_signal(signal.SIGKILL)
    # The parent may have died before the signal was asked for: then nobody will send it.
    if os.getppid() != parent:
        os._exit(1)
    if watch:
        threading.Thread(
            target=_watch_parent, args=(parent,), name="omnisim-parent-watch", daemon=True
        ).start()


def _watch_parent(parent: int) -> None:
    # A reparented process sees another parent pid (POSIX). The parent's sentinel (spawned
    # workers; a handle on Windows, where pids are not reparented) reaches EOF at once when
    # the parent dies, so waiting on it doubles as the sleep between checks.
    proc = multiprocessing.parent_process()
    sentinel = proc.sentinel if proc is not None else None
    while os.getppid() == parent:
        if sentinel is None:
            time.sleep(WATCH_SECONDS)
        elif multiprocessing.connection.wait([sentinel], WATCH_SECONDS):
            break
    os._exit(1)  # no cleanup: nobody is left to read this worker's results


def _init_pool_worker(parent: int) -> None:
    """Initializer of every local-pool worker."""
    # A forked worker inherits the driver's handlers: SIGTERM must kill it, not raise
    # Terminated inside a task. Ctrl-C reaches the whole process group; the driver alone
    # handles it (and stops the workers), so no worker prints a KeyboardInterrupt traceback.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)


def dask_setup(worker: Any) -> None:
    """Dask preload hook (`open_executor` passes ``preload=[this module]`` to a
    `LocalCluster`): its worker process dies with the driver, whose threads run the nannies
    that spawn the workers. Dask's own parent watch is a thread that needs the GIL, which a
    running kernel holds, so on its own it can take as long as the longest kernel call."""
    _die_with_parent(os.getppid(), watch=False)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While open, SIGTERM raises `Terminated` in the main thread (Python runs signal handlers
    there). Only replaces the default action (death without cleanup); a handler the
    application installed, or an ignored SIGTERM, is left alone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL:
        yield
        return

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        # A second SIGTERM while cleaning up kills at once; the workers' death signal then
        # still takes them down.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        raise Terminated(f"terminated by signal {signum}")

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_pool(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Cancel queued work and kill the workers now, rather than wait for tasks whose results
    nobody will read."""
    # The pool has no public way to end running tasks: its worker list is the only handle.
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        with suppress(OSError, ValueError):  # already gone or already closed
            p.kill()
    deadline = time.monotonic() + timeout
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    # The manager thread sees the dead workers, fails what was left and exits; joining it
    # here keeps interpreter exit from waiting on it later.
    if manager is not None:
        manager.join(max(0.0, deadline - time.monotonic()))


class SerialExecutor(Executor):
    """Runs each task at once, in this process, when it is submitted."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        fut: Future[R] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            fut.set_exception(exc)
        return fut


def default_workers() -> int:
    """Worker processes for the local pool: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def open_executor(spec: str | None = None, workers: int | None = None) -> Iterator[Executor]:
    """An executor for ``spec`` (see the module docstring), shut down on exit.

    While it is open, SIGTERM raises `Terminated` in the main thread. Leaving it by an
    exception (a failed run, Ctrl-C, SIGTERM) cancels queued work and kills the local pool's
    workers. Submit to the pool from the thread that opened it: Linux may kill a worker when
    the thread that started it exits (see `_die_with_parent`).

    Raises:
        ExecutorError: unknown spec, Dask not installed, or the scheduler cannot be reached.
    """
    spec = (spec or "process").strip()
    if spec == "serial":
        with _sigterm_raises():
            yield SerialExecutor()
    elif spec == "process":
        n = workers or default_workers()
        method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
        ctx = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(
            max_workers=n, mp_context=ctx, initializer=_init_pool_worker, initargs=(os.getpid(),)
        )
        with _sigterm_raises():
            try:
                yield pool
            except BaseException:
                _stop_pool(pool)
                raise
            pool.shutdown(wait=True)
    elif spec == "dask" or "://" in spec:
        with _dask_executor(spec, workers) as ex:
            yield ex
    else:
        raise ExecutorError(
            f"--executor: unknown executor {spec!r} (serial, process, dask or tcp://host:port)"
        )


@contextmanager
def _dask_executor(spec: str, workers: int | None) -> Iterator[Executor]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ExecutorError(
            "--executor: Dask is not installed; pip install 'omnisim[dask]'"
        ) from None
    if spec == "dask":
        n = workers or default_workers()
        cluster = LocalCluster(
            n_workers=n,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            preload=[__name__],  # runs dask_setup in each worker process
        )
        client = Client(cluster)
        try:
            # Only once the cluster is up: SIGTERM while Dask starts it kills the driver the
            # default way, and the workers' death signal takes them along.
            with _sigterm_raises():
                yield client.get_executor(pure=False)
        except BaseException:
            _stop_cluster_workers(cluster)
            raise
        finally:
            client.close()
            cluster.close()
        return
    try:
        client = Client(spec, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ExecutorError(
            f"--executor: cannot reach the Dask scheduler at {spec}: {exc}"
        ) from None
    try:
        with _sigterm_raises():
            yield client.get_executor(pure=False)
    finally:
        client.close()


def _stop_cluster_workers(cluster: Any, grace: float = 0.5) -> None:
    """Close a LocalCluster's nannies with a short grace, rather than the 4 s a nanny gives
    a worker busy in a task before it kills it. Best effort: ``cluster.close()`` follows."""
    import asyncio

    async def close_all() -> None:
        nannies = list(cluster.workers.values())
        await asyncio.gather(
            *(w.close(timeout=grace, reason="omnisim-interrupted") for w in nannies),
            return_exceptions=True,
        )

    with suppress(Exception):
        cluster.sync(close_all)


def chunked(items: Sequence[T], size: int) -> list[list[T]]:
    """``items`` cut into consecutive lists of at most ``size``."""
    size = max(1, int(size))
    return [list(items[k : k + size]) for k in range(0, len(items), size)]


def run_chunks(
    executor: Executor,
    fn: Callable[[list[T]], list[R]],
    chunks: Iterable[list[T]],
    max_pending: int | None = None,
) -> Iterator[list[R]]:
    """Submit ``fn(chunk)`` for every chunk and yield each result as it completes (in
    completion order). At most ``max_pending`` chunks are in flight, so that a sweep of many
    thousand runs does not queue them all at once; the rest wait their turn."""
    todo = iter(chunks)
    limit = max_pending or 4 * default_workers()
    pending: set[Future[list[R]]] = set()
    try:
        while True:
            while len(pending) < limit:
                chunk = next(todo, None)
                if chunk is None:
                    break
                pending.add(executor.submit(fn, chunk))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()
