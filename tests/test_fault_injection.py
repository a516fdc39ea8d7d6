"""Kill `dataset`, `accuracy --sweep` and a search at random points, resume, compare.

Each case runs the real command in a subprocess (its own session), kills it (SIGKILL, or
SIGINT = Ctrl-C) once a seeded random amount of its output exists, checks that no process
of that session outlives it, resumes it to the end and compares with an uninterrupted
run: the same table, no duplicate rows, no orphans. Budgets are tiny so the whole file
stays around a minute on a quiet 2-core machine.

The search runs through the Python API in its subprocess (``SearchRun`` with the tests'
analytic evaluator, paced so that a kill lands mid-run): the real CLI would train every
candidate. Its log, checkpoints, tables, worker pool and resume are the real ones.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="sessions and signals as on Linux")]

HERE = Path(__file__).resolve().parent
SEEDS = (0, 1)
#: Seconds the killed process's session may take to disappear (workers die with their parent).
ORPHAN_GRACE_S = 10.0

DATASET = ["dataset", "--accelerator", "eyeriss", "--networks", "nas:3", "--multipliers", "u8_exact,u8_trunc_2",
           "--chunk-size", "1", "--workers", "1", "--no-progress"]
SWEEP = ["accuracy", "lenet5", "--sweep", "--dataset", "digits",
         "--multipliers", "u8_exact,u8_trunc_2,u8_bam_h2_v6", "--epochs", "1", "--no-progress"]
SEARCH_SCRIPT = """
import sys
sys.path.insert(0, {helpers!r})
import search_helpers
from approxdse.dse.config import SearchConfig
from approxdse.dse.run import SearchRun

if __name__ == "__main__":  # the pool's spawned workers import this file too
    run_dir = sys.argv[1]
    cfg = SearchConfig.from_dict(search_helpers.small_config(parallel={{"workers": int(sys.argv[3])}}))
    if sys.argv[2] == "resume":
        run = SearchRun.resume(run_dir, evaluate_fn=search_helpers.paced_eval, progress=False)
    else:
        run = SearchRun.create(cfg, run_dir, evaluate_fn=search_helpers.paced_eval, progress=False)
    run.run()
"""


def _env(home: Path) -> dict:
    return {**os.environ, "APPROXDSE_HOME": str(home), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _approxdse(*args) -> list[str]:
    return [sys.executable, "-m", "approxdse", *args]


def _session(sid: int) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except (ProcessLookupError, psutil.Error, PermissionError):
            continue
    return out


def _assert_no_orphans(sid: int) -> None:
    """Every process of the session ``sid`` is gone within the grace period (killed if not, then failed)."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    left = _session(sid)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = _session(sid)
    described = [f"{p.pid} {' '.join(p.cmdline())[:120]}" for p in left if p.is_running()]
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not described, f"processes left after their parent died: {described}"


def _start(cmd: list[str], env: dict, cwd: Path) -> tuple[subprocess.Popen, Path]:
    """``cmd`` in its own session, its output in a file (a pipe would wait for orphans holding it)."""
    log = cwd / f"output-{time.monotonic_ns()}.txt"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _run_to_end(cmd: list[str], env: dict, cwd: Path) -> None:
    proc, log = _start(cmd, env, cwd)
    try:
        proc.wait(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_no_orphans(proc.pid)
    assert proc.returncode == 0, log.read_text()[-3000:]


def _kill_when(cmd: list[str], env: dict, cwd: Path, ready, sig: int, rng: random.Random) -> int:
    """Start ``cmd``; once ``ready()`` holds, wait a random moment and send ``sig``; check that its
    whole session is gone soon after. Returns its exit status."""
    proc, _ = _start(cmd, env, cwd)
    try:
        while proc.poll() is None and not ready():
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 0.4))
        if proc.poll() is None:
            if sig == signal.SIGINT:
                os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
            else:
                proc.send_signal(sig)  # a kill of the parent alone
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_no_orphans(proc.pid)
    return proc.returncode


def _parts(folder: Path) -> int:
    return len(list((folder / "energy").glob("part-*.parquet"))) if (folder / "energy").is_dir() else 0


def _rows(path: Path) -> int:
    try:
        return max(0, len(path.read_text().splitlines()) - 1)
    except FileNotFoundError:
        return -1


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return tmp_path_factory.mktemp("fault_home")


# ---------------------------------------------------------------------------- dataset
@pytest.fixture(scope="module")
def dataset_reference(tmp_path_factory, home):
    from approxdse.predictors.dataset import Dataset

    work = tmp_path_factory.mktemp("dataset_ref")
    _run_to_end(_approxdse(*DATASET, "--out", "full"), _env(home), work)
    return Dataset.load(work / "full").energy


def _energy_table(df):
    cols = ["network", "accelerator", "multiplier", "total_energy_pJ"]
    return df[cols].sort_values(cols[:3]).reset_index(drop=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_dataset_killed_and_resumed(seed, tmp_path, home, dataset_reference):
    from approxdse.predictors.dataset import Dataset

    rng = random.Random(seed)
    out = tmp_path / "cut"
    parts = rng.randint(0, 2)
    sig = signal.SIGINT if seed % 2 else signal.SIGKILL
    _kill_when(_approxdse(*DATASET, "--out", "cut"), _env(home), tmp_path,
               lambda: (out / "manifest.json").is_file() and _parts(out) >= parts, sig, rng)
    _run_to_end(_approxdse(*DATASET, "--out", "cut"), _env(home), tmp_path)
    got = Dataset.load(out).energy
    assert not got.duplicated(["network", "accelerator", "multiplier"]).any()
    assert not any(p.name.startswith(".") for p in out.rglob("*")), "temporary files left behind"
    pd.testing.assert_frame_equal(_energy_table(got), _energy_table(dataset_reference))


# ---------------------------------------------------------------------------- accuracy --sweep
SWEEP_COMPARED = ["multiplier", "family", "signed", "relative_energy", "mae_pct", "wce_pct", "float_accuracy",
                  "exact_8bit_accuracy", "approx_accuracy", "accuracy_drop"]


@pytest.fixture(scope="module")
def sweep_reference(tmp_path_factory, home):
    work = tmp_path_factory.mktemp("sweep_ref")
    _run_to_end(_approxdse(*SWEEP, "--out", "full"), _env(home), work)
    return pd.read_csv(work / "full" / "accuracy_sweep.csv")


@pytest.mark.parametrize("seed", SEEDS)
def test_accuracy_sweep_killed_and_resumed(seed, tmp_path, home, sweep_reference):
    rng = random.Random(seed)
    out = tmp_path / "cut"
    rows = rng.randint(0, 2)
    sig = signal.SIGINT if seed % 2 else signal.SIGKILL
    _kill_when(_approxdse(*SWEEP, "--out", "cut"), _env(home), tmp_path,
               lambda: _rows(out / "accuracy_sweep.partial.csv") >= rows
               or (rows == 0 and (out / "accuracy_sweep.settings.json").is_file()), sig, rng)
    _run_to_end(_approxdse(*SWEEP, "--out", "cut"), _env(home), tmp_path)
    got = pd.read_csv(out / "accuracy_sweep.csv")
    assert not got["multiplier"].duplicated().any()
    pd.testing.assert_frame_equal(got[SWEEP_COMPARED].sort_values("multiplier").reset_index(drop=True),
                                  sweep_reference[SWEEP_COMPARED].sort_values("multiplier").reset_index(drop=True))


# ---------------------------------------------------------------------------- search
SEARCH_COMPARED = ["generation", "index", "phase", "key", "status", "energy", "accuracy"]


def _search(run_dir: Path, mode: str, workers: int = 1) -> list[str]:
    script = run_dir.parent / "run_search.py"
    script.write_text(SEARCH_SCRIPT.format(helpers=str(HERE / "dse")))
    return [sys.executable, str(script), str(run_dir), mode, str(workers)]


@pytest.fixture(scope="module")
def search_reference(tmp_path_factory, home):
    work = tmp_path_factory.mktemp("search_ref")
    _run_to_end(_search(work / "full", "create"), _env(home), work)
    return pd.read_parquet(work / "full" / "candidates.parquet")


@pytest.mark.parametrize("seed", SEEDS)
def test_search_killed_and_resumed(seed, tmp_path, home, search_reference):
    from approxdse.dse.run import read_log

    rng = random.Random(seed)
    run_dir = tmp_path / "cut"
    lines = rng.randint(1, 28)
    sig = signal.SIGINT if seed == 1 else signal.SIGKILL
    _kill_when(_search(run_dir, "create"), _env(home), tmp_path,
               lambda: _rows(run_dir / "candidates.jsonl") + 1 >= lines, sig, rng)
    _run_to_end(_search(run_dir, "resume"), _env(home), tmp_path)
    got = pd.read_parquet(run_dir / "candidates.parquet")
    pd.testing.assert_frame_equal(got[SEARCH_COMPARED].reset_index(drop=True),
                                  search_reference[SEARCH_COMPARED].reset_index(drop=True))
    log = read_log(run_dir)
    positions = [(r["generation"], r["index"]) for r in log]
    assert len(positions) == len(set(positions)) == len(got)
    state = yaml.safe_load((run_dir / "checkpoint.json").read_text())["state"]
    assert state == "complete"


# ---------------------------------------------------------------------------- orphans
@pytest.mark.parametrize("command", ["dataset", "search"])
def test_pool_workers_die_with_a_killed_parent(command, tmp_path, home):
    """SIGKILL of a parent that runs 2 pool workers (approxdse.core.executor): nothing of its session
    is left shortly after (the workers die with their parent)."""
    rng = random.Random(7)
    if command == "dataset":
        out = tmp_path / "cut"
        cmd = _approxdse(*DATASET, "--workers", "2", "--out", "cut")
        ready = lambda: _parts(out) >= 1  # noqa: E731 - the workers are busy by then
    else:
        run_dir = tmp_path / "cut"
        cmd = _search(run_dir, "create", workers=2)
        ready = lambda: _rows(run_dir / "candidates.jsonl") >= 3  # noqa: E731
    _kill_when(cmd, _env(home), tmp_path, ready, signal.SIGKILL, rng)
