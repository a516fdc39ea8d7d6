"""One executor (in-process, process pool, Dask): task order, progress, errors, and no orphans."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from approxdse.core import executor as ex
from approxdse.core.errors import ApproxDSEError

#: A worker must be gone this long after its parent died (issue 14).
ORPHAN_DEADLINE_S = 5.0


def _slow_square(x: int, delay: float) -> int:
    time.sleep(delay)
    return x * x


def _fail_on(x: int, bad: int) -> int:
    if x == bad:
        raise ValueError(f"task {x} failed")
    time.sleep(30)  # the others would run long: the error must stop them
    return x


def _pid(_: int) -> int:
    return os.getpid()


def _gone_within(pids, seconds: float) -> list[int]:
    """The pids still alive (and not zombies) after waiting up to ``seconds``."""
    end = time.monotonic() + seconds
    alive = list(pids)
    while True:
        alive = [p for p in alive if psutil.pid_exists(p) and _not_zombie(p)]
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.1)


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_in_task_order_with_progress(workers):
    # the first task is the slowest: a pool finishes it last, yet it is yielded first
    tasks = [(i, 0.6 if i == 0 else 0.0) for i in range(5)]
    seen = []
    with ex.make_executor(workers) as executor:
        out = list(executor.run(_slow_square, tasks, progress=lambda done, total: seen.append((done, total))))
    assert out == [(i, i * i) for i in range(5)]
    assert seen == [(k, 5) for k in range(1, 6)]


def test_local_and_pool_executors_are_chosen_by_workers():
    assert isinstance(ex.make_executor(1), ex.LocalExecutor)
    pool = ex.make_executor(3)
    assert isinstance(pool, ex.PoolExecutor) and pool.description == "3 local processes"
    dask = ex.make_executor(1, "tcp://127.0.0.1:9")
    assert isinstance(dask, ex.DaskExecutor) and "tcp://127.0.0.1:9" in dask.description
    assert list(ex.make_executor(2).run(_pid, [])) == []


@pytest.mark.parametrize("workers", [0, -1, 1.5, "2", True])
def test_bad_worker_counts_are_one_error(workers):
    with pytest.raises(ApproxDSEError, match="--workers must be a positive integer"):
        ex.make_executor(workers)


@pytest.mark.parametrize("scheduler", ["localhost:8786", 5])
def test_bad_scheduler_is_one_error(scheduler):
    with pytest.raises(ApproxDSEError, match="--scheduler must be an address like tcp://HOST:PORT"):
        ex.make_executor(1, scheduler)


def test_unreachable_scheduler_is_one_error(monkeypatch):
    monkeypatch.setattr(ex, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(ApproxDSEError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        list(ex.make_executor(1, "tcp://127.0.0.1:9").run(_pid, [(0,)]))


def test_dask_executor_keeps_task_order():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        executor = ex.make_executor(1, client)
        out = list(executor.run(_slow_square, [(i, 0.3 if i == 0 else 0.0) for i in range(4)]))
        executor.close()
        assert client.status == "running"  # a client given by the caller stays the caller's
    assert out == [(i, i * i) for i in range(4)]


def test_an_error_in_one_task_stops_the_pool():
    executor = ex.make_executor(2)
    pids = sorted({pid for _, pid in executor.run(_pid, [(i,) for i in range(4)])})
    assert pids and os.getpid() not in pids
    with pytest.raises(ValueError, match="task 1 failed"):
        list(executor.run(_fail_on, [(i, 1) for i in range(3)]))
    assert _gone_within(pids, ORPHAN_DEADLINE_S) == []
    executor.close()


def test_a_worker_whose_parent_is_gone_exits(tmp_path):
    """The initializer itself: a process started for a parent that is no longer its parent exits at once."""
    code = ("import os, time; from approxdse.core.executor import worker_initializer; "
            "worker_initializer(os.getppid() + 1); time.sleep(30)")
    proc = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert proc.returncode == 1


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _armed(worker: psutil.Process) -> bool:
    """Whether a pool worker ran its initializer: its parent watchdog thread is running
    (single-threaded before that, with OMP_NUM_THREADS=1)."""
    try:
        return worker.num_threads() >= 2
    except psutil.NoSuchProcess:
        return False


def _start(argv: list[str], ready, workers: int = 2) -> tuple[subprocess.Popen, list[int]]:
    """A real ``approxdse`` command with a pool, once its workers are evaluating and ``ready()``
    holds (and the pids of all its descendants then)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "approxdse", *argv, "--workers", str(workers)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        workers_up = [p for p in _descendants(proc.pid) if "spawn_main" in " ".join(_cmdline(p))]
        if len(workers_up) >= workers and all(_armed(p) for p in workers_up) and ready():
            return proc, [p.pid for p in _descendants(proc.pid)]
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"approxdse {argv[0]} did not start its workers in time")


def _start_dataset(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    out = tmp_path / "data"
    argv = ["dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:200", "--multipliers", "u8_exact",
            "--out", str(out), "--chunk-size", "1", "--no-progress"]
    return _start(argv, lambda: len(list((out / "energy").glob("part-*.parquet"))) >= 2)


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []


def test_sigkill_of_dataset_leaves_no_worker(tmp_path, approxdse_home):
    proc, pids = _start_dataset(tmp_path)
    assert pids
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _gone_within(pids, ORPHAN_DEADLINE_S) == []


def test_ctrl_c_of_dataset_stops_the_workers_and_exits(tmp_path, approxdse_home):
    # a private (cold) mapping cache: with every mapping cached the 200 networks can finish
    # before the signal lands
    proc, pids = _start_dataset(tmp_path)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    assert _gone_within(pids, ORPHAN_DEADLINE_S) == []
    # the interrupted dataset resumes: nothing half-written is left
    from approxdse.predictors.dataset import Dataset

    assert len(Dataset.load(tmp_path / "data").energy) >= 2


def test_sigkill_of_search_leaves_no_worker(tmp_path):
    import yaml

    config = {
        "name": "orphans", "seed": 1, "dataset": {"name": "digits"},
        "space": {"network": {"preset": "digits", "max_stages": 2, "max_blocks_per_stage": 2, "max_channels": 32},
                  "multipliers": {"families": ["bam", "trunc"], "signed": False}},
        "energy": {"predictor": "multiplications", "reference_front": False},
        "training": {"epochs": 3},
        "algorithm": {"name": "nsga2", "population": 16, "generations": 20},
    }
    (tmp_path / "search.yaml").write_text(yaml.safe_dump(config))
    proc, pids = _start(["search", "run", str(tmp_path / "search.yaml"), "--out", str(tmp_path / "run"),
                         "--no-progress"], lambda: True)  # killed while the workers train their first genomes
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert _gone_within(pids, ORPHAN_DEADLINE_S) == []
