"""Where parallel work runs: this process, a local process pool, or a Dask cluster.

One executor for every fan-out in approxdse (reference datasets, search
evaluations). :func:`make_executor` returns one of

* :class:`LocalExecutor` (``workers=1``): tasks run in this process, one after
  the other (no pickling, easiest to debug);
* :class:`PoolExecutor` (``workers=K``): a ``spawn`` process pool of K local
  processes;
* :class:`DaskExecutor` (``scheduler="tcp://host:port"`` or a
  ``distributed.Client``): tasks go to that Dask scheduler (its workers need
  approxdse installed, and whatever files the tasks read on a shared file system).

:meth:`Executor.run` maps a picklable top-level function over argument tuples
and yields ``(index, result)`` **in task order** (results that finish early
wait for the ones before them), so what a caller writes does not depend on
which worker was faster. ``progress(done, total)`` is called as each task
finishes, in completion order.

**Workers die with their parent.** A pool worker never outlives the process
that started it: on Linux each worker asks the kernel for ``SIGKILL`` when its
parent dies (``prctl(PR_SET_PDEATHSIG)``), and on every platform a watchdog
thread in the worker polls the parent's pid and exits when it is gone; a
worker that starts after its parent died exits at once. Ctrl-C is the parent's
to handle (workers ignore SIGINT); on an interrupt or an error the parent stops
the running tasks and terminates the workers before the exception propagates.
So after a ``SIGKILL``, Ctrl-C or crash of ``approxdse dataset`` or ``approxdse
search`` no worker is left a few seconds later.
"""
from __future__ import annotations

import concurrent.futures as cf
import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from approxdse.core.errors import ApproxDSEError
from approxdse.core.interrupts import raise_if_interrupted

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"
#: How often a worker's watchdog checks that its parent is alive (seconds).
WATCHDOG_INTERVAL = 0.5
#: How long a terminated worker gets to exit before it is killed (seconds).
TERMINATE_GRACE = 2.0
_PR_SET_PDEATHSIG = 1

#: ``progress(done, total)``, called as each task finishes.
ProgressHook = Callable[[int, int], None]


# --------------------------------------------------------------------------- worker side
def _parent_death_signal() -> bool:
    """Linux: have the kernel SIGKILL this process when its parent dies. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float) -> None:
    """Exit this process as soon as ``parent_pid`` is no longer its parent."""
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(interval)


def worker_initializer(parent_pid: int) -> None:
    """Pool worker set-up: ignore Ctrl-C, die with the parent (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before the death signal was armed
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid, WATCHDOG_INTERVAL), daemon=True,
                     name="approxdse-parent-watchdog").start()


# --------------------------------------------------------------------------- executors
def _in_order(finished: Iterator[tuple[int, Any]], total: int,
              progress: ProgressHook | None) -> Iterator[tuple[int, Any]]:
    """Re-order ``(index, result)`` pairs that arrive in completion order into index order."""
    waiting: dict[int, Any] = {}
    nxt = 0
    done = 0
    for i, result in finished:
        done += 1
        if progress is not None:
            progress(done, total)
        waiting[i] = result
        while nxt in waiting:
            yield nxt, waiting.pop(nxt)
            nxt += 1
        raise_if_interrupted()  # after the caller kept what finished, before waiting for more


@dataclass
class Executor:
    """Runs tasks; subclasses decide where. Use as a context manager or call :meth:`close`."""

    workers: int = 1

    @property
    def description(self) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def run(self, fn: Callable, tasks: Sequence[tuple], progress: ProgressHook | None = None
            ) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*tasks[i]))`` for every task, in task order."""
        tasks = list(tasks)
        if not tasks:
            return iter(())
        return _in_order(self._completed(fn, tasks), len(tasks), progress)

    def _completed(self, fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, Any]]:  # pragma: no cover
        raise NotImplementedError

    def close(self, *, wait: bool = True) -> None:
        """Release the workers; ``wait=False`` (an interrupt, an error) also stops running tasks."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.close(wait=exc_type is None)


@dataclass
class LocalExecutor(Executor):
    """Every task in this process, one after the other."""

    @property
    def description(self) -> str:
        return "in-process"

    def _completed(self, fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, Any]]:
        for i, args in enumerate(tasks):
            yield i, fn(*args)


@dataclass
class PoolExecutor(Executor):
    """A ``spawn`` pool of ``workers`` local processes, started on first use and reused."""

    _pool: cf.ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        return f"{self.workers} local processes"

    def _ensure_pool(self) -> cf.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                                initializer=worker_initializer, initargs=(os.getpid(),))
        return self._pool

    def _completed(self, fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, Any]]:
        pool = self._ensure_pool()
        futures = {pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            self.close(wait=False)  # an error or an interrupt: no task keeps running
            raise

    def worker_pids(self) -> list[int]:
        """Process ids of the pool's live workers (empty before the first task)."""
        if self._pool is None:
            return []
        return [p.pid for p in list(getattr(self._pool, "_processes", {}).values()) if p.is_alive()]

    def close(self, *, wait: bool = True) -> None:
        if self._pool is None:
            return
        pool, self._pool = self._pool, None
        processes = list(getattr(pool, "_processes", {}).values())
        if wait:
            pool.shutdown(wait=True, cancel_futures=True)
            return
        for proc in processes:  # stop running tasks first: shutdown would wait for them
            if proc.is_alive():
                proc.terminate()
        for proc in processes:
            proc.join(TERMINATE_GRACE)
            if proc.is_alive():
                proc.kill()
                proc.join(TERMINATE_GRACE)
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class DaskExecutor(Executor):
    """Tasks on the Dask cluster behind ``scheduler`` (an address, or a ``distributed.Client``)."""

    scheduler: Any = ""
    _client: Any = field(default=None, init=False, repr=False)
    _own_client: bool = field(default=False, init=False, repr=False)

    @property
    def description(self) -> str:
        address = getattr(self.scheduler, "scheduler_address", None) or getattr(
            getattr(self.scheduler, "scheduler", None), "address", None) or self.scheduler
        return f"Dask scheduler {address}"

    def _connect(self):
        if self._client is not None:
            return self._client
        try:
            from distributed import Client
        except ImportError:  # pragma: no cover - a declared dependency
            raise ApproxDSEError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
        if isinstance(self.scheduler, Client):
            self._client = self.scheduler
            return self._client
        try:
            self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise ApproxDSEError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})") from None
        self._own_client = True
        return self._client

    def _completed(self, fn: Callable, tasks: list[tuple]) -> Iterator[tuple[int, Any]]:
        from distributed import as_completed

        client = self._connect()
        futures = [client.submit(fn, *args, pure=False) for args in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        except BaseException:
            client.cancel(futures)
            raise

    def close(self, *, wait: bool = True) -> None:
        if self._client is not None and self._own_client:
            self._client.close()
        self._client, self._own_client = None, False


def check_workers(workers: Any) -> int:
    """``workers`` as a positive int, or the one error every command gives."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ApproxDSEError(f"--workers must be a positive integer, got {workers!r}")
    return workers


def check_scheduler(scheduler: Any) -> Any:
    """A Dask scheduler address (``tcp://host:port``) or client, or the one error every command gives."""
    if isinstance(scheduler, str):
        if "://" not in scheduler:
            raise ApproxDSEError(f"--scheduler must be an address like tcp://HOST:PORT, got {scheduler!r}")
        return scheduler
    client_class = getattr(sys.modules.get("distributed"), "Client", None)  # a client implies the import
    if client_class is not None and isinstance(scheduler, client_class):
        return scheduler
    raise ApproxDSEError(f"--scheduler must be an address like tcp://HOST:PORT, got {scheduler!r}")


def make_executor(workers: int = 1, scheduler: Any = None) -> Executor:
    """The executor for ``workers`` local processes, or for a Dask ``scheduler`` when one is given."""
    if scheduler is not None and scheduler != "":
        return DaskExecutor(workers=workers if isinstance(workers, int) else 1, scheduler=check_scheduler(scheduler))
    workers = check_workers(workers)
    return LocalExecutor() if workers == 1 else PoolExecutor(workers=workers)
