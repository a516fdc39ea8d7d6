"""Where candidate evaluations run: this process, a local process pool, or a Dask cluster.

:func:`make_executor` returns an :class:`Executor` whose :meth:`~Executor.run`
maps a picklable top-level function over argument tuples and yields
``(index, result)`` as tasks finish (results arrive out of order; the caller
puts them back in place). ``workers=1`` evaluates in this process (no pickling,
easiest to debug); ``workers=K`` uses a ``spawn`` process pool of K processes;
``scheduler="tcp://host:port"`` sends tasks to that Dask scheduler (workers
there need approxdse installed and the run directory on a shared file system
for the weight cache).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

from approxdse.core.errors import ApproxDSEError

#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT = "10s"


def _ignore_sigint() -> None:
    """Worker initializer: Ctrl-C is the parent's to handle (it stops the workers itself)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


@dataclass
class Executor:
    """Runs tasks in this process (``workers == 1``) or in a local process pool."""

    workers: int = 1
    _pool: cf.ProcessPoolExecutor | None = field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        return "in-process" if self.workers == 1 else f"{self.workers} local processes"

    def run(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(*tasks[i]))`` as each task finishes."""
        if self.workers == 1 or len(tasks) <= 1 and self._pool is None:
            for i, args in enumerate(tasks):
                yield i, fn(*args)
            return
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                                initializer=_ignore_sigint)
        futures = {self._pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        try:
            for fut in cf.as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise

    def close(self, *, wait: bool = True) -> None:
        """Shut the pool down; ``wait=False`` (an interrupt) also stops the workers' running tasks."""
        if self._pool is not None:
            processes = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=wait, cancel_futures=True)
            if not wait:
                for proc in processes:
                    proc.terminate()
            self._pool = None

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *rest) -> None:
        self.close(wait=exc_type is None)


@dataclass
class DaskExecutor(Executor):
    """Runs tasks on the Dask cluster behind ``scheduler``."""

    scheduler: str = ""
    _client: Any = field(default=None, init=False, repr=False)

    @property
    def description(self) -> str:
        return f"Dask scheduler {self.scheduler}"

    def _connect(self):
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:  # pragma: no cover - a declared dependency
                raise ApproxDSEError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
            try:
                self._client = Client(self.scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                raise ApproxDSEError(f"cannot reach the Dask scheduler at {self.scheduler} ({exc})") from None
        return self._client

    def run(self, fn: Callable, tasks: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
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
        if self._client is not None:
            self._client.close()
            self._client = None


def make_executor(workers: int = 1, scheduler: str | None = None) -> Executor:
    """An in-process / process-pool executor, or a Dask one when ``scheduler`` is given."""
    if scheduler:
        return DaskExecutor(workers=workers, scheduler=scheduler)
    if not isinstance(workers, int) or workers < 1:
        raise ApproxDSEError(f"--workers must be a positive integer, got {workers!r}")
    return Executor(workers=workers)
