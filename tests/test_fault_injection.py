"""Kill `dataset`, `accuracy --sweep` and a search at random points, resume, compare.

Each case runs the real command in a subprocess (its own session), kills it (SIGKILL, or
SIGINT = Ctrl-C) at a seeded random point: once a random number of its records exist (fewer
than the run makes), plus a random moment of the next record's work. It checks that the kill
landed before the run finished and that no process of that session outlives it, resumes it
to the end and compares with an uninterrupted run: the same table, no duplicate rows in the
files themselves, no temporary files left, no orphans. Budgets are tiny.

Only the killed run needs its own process (sessions, signals, orphans). The resumes run in
this process (the same CLI code, ``approxdse.cli.main``), and so do the uninterrupted references
of `dataset` and of the search, which saves their interpreter and torch start-up (seconds each
on a loaded machine). The reference of `accuracy --sweep` stays a subprocess, so the sweep is
compared across processes (both see OMP_NUM_THREADS=1: tests/conftest.py and :func:`_env`).

The search runs through the Python API in its subprocess (``SearchRun`` with the tests'
analytic evaluator, paced so that a kill lands mid-run): the real CLI would train every
candidate. Its log, checkpoints, tables, worker pool and resume are the real ones.

A SIGKILL in the middle of an atomic write leaves that write's temporary file; the next run
removes it (tests/test_stale_temps.py plants such leftovers so that path runs every time; here
a kill only sometimes lands mid-write).
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
sys.path.insert(0, str(HERE / "dse"))
import search_helpers  # noqa: E402

SEEDS = (0, 1, 2)
#: At most this long after the chosen record appears the signal goes: a random moment of the next
#: record's work (each takes longer: mapping a network, a paced search batch, emulating a multiplier).
MAX_DELAY_S = 0.1
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


def _kill_when(cmd: list[str], env: dict, cwd: Path, ready, sig: int, rng: random.Random,
               delay: bool = True) -> int:
    """Start ``cmd``; once ``ready()`` holds, wait a random moment (``delay``) and send ``sig``;
    check that the signal found it still running (a run that finished first tests nothing) and
    that its whole session is gone soon after. Returns its exit status."""
    proc, log = _start(cmd, env, cwd)
    try:
        while proc.poll() is None and not ready():
            time.sleep(0.01)
        if delay:
            time.sleep(rng.uniform(0.0, MAX_DELAY_S))
        alive = proc.poll() is None
        if alive:
            if sig == signal.SIGINT:
                os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
            else:
                proc.send_signal(sig)  # a kill of the parent alone
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    _assert_no_orphans(proc.pid)
    assert alive and proc.returncode != 0, f"the run ended (status {proc.returncode}) before the kill:\n" \
        + log.read_text()[-2000:]
    return proc.returncode


def _here(argv: list[str], home: Path) -> None:
    """Run ``approxdse ARGV`` in this process (the resume / reference of a run), as the CLI would."""
    from approxdse.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPROXDSE_HOME", str(home))
        assert main(argv) == 0


def _no_temporary_files(folder: Path) -> None:
    left = sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))
    assert not left, f"temporary files left behind: {left}"


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
    _here([*DATASET, "--out", str(work / "full")], home)
    return Dataset.load(work / "full").energy


def _energy_table(df):
    cols = ["network", "accelerator", "multiplier", "total_energy_pJ"]
    return df[cols].sort_values(cols[:3]).reset_index(drop=True)


@pytest.mark.parametrize("seed", SEEDS)
def test_dataset_killed_and_resumed(seed, tmp_path, home, dataset_reference):
    from approxdse.predictors.dataset import Dataset

    rng = random.Random(seed)
    out = tmp_path / "cut"
    parts = rng.randint(0, 1)  # of 3 networks: the kill never races the last one
    sig = signal.SIGINT if seed % 2 else signal.SIGKILL
    _kill_when(_approxdse(*DATASET, "--out", "cut"), _env(home), tmp_path,
               lambda: (out / "manifest.json").is_file() and _parts(out) >= parts, sig, rng)
    _here([*DATASET, "--out", str(out)], home)
    got = Dataset.load(out).energy
    # no duplicates in the files themselves (Dataset.load would hide them)
    for sub, key in (("energy", ["network", "accelerator", "multiplier"]), ("networks", ["network"]),
                     ("layers", ["network", "accelerator", "layer_index"])):
        raw = pd.concat([pd.read_parquet(p) for p in sorted((out / sub).glob("part-*.parquet"))])
        assert not raw.duplicated(key).any(), f"duplicate {sub} rows after the resume"
    _no_temporary_files(out)
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
    rows = rng.randint(0, 1)  # of 3: at least two rows still to do when the kill comes
    sig = signal.SIGINT if seed % 2 else signal.SIGKILL
    _kill_when(_approxdse(*SWEEP, "--out", "cut"), _env(home), tmp_path,
               lambda: _rows(out / "accuracy_sweep.partial.csv") >= rows
               or (rows == 0 and (out / "accuracy_sweep.settings.json").is_file()), sig, rng)
    _here([*SWEEP, "--out", str(out)], home)
    got = pd.read_csv(out / "accuracy_sweep.csv")
    assert not got["multiplier"].duplicated().any()
    _no_temporary_files(out)
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
    from approxdse.dse.config import SearchConfig
    from approxdse.dse.run import SearchRun

    work = tmp_path_factory.mktemp("search_ref")
    cfg = SearchConfig.from_dict(search_helpers.small_config(parallel={"workers": 1}))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("APPROXDSE_HOME", str(home))
        SearchRun.create(cfg, work / "full", evaluate_fn=search_helpers.analytic_eval, progress=False).run()
    return pd.read_parquet(work / "full" / "candidates.parquet")


@pytest.mark.parametrize("seed", SEEDS)
def test_search_killed_and_resumed(seed, tmp_path, home, search_reference):
    from approxdse.dse.run import read_log

    rng = random.Random(seed)
    run_dir = tmp_path / "cut"
    lines = rng.randint(1, 28)
    sig = signal.SIGINT if seed == 1 else signal.SIGKILL
    from approxdse.dse.run import SearchRun

    _kill_when(_search(run_dir, "create"), _env(home), tmp_path,
               lambda: _rows(run_dir / "candidates.jsonl") + 1 >= lines, sig, rng)
    with pytest.MonkeyPatch.context() as mp:  # the resume, unpaced, in this process
        mp.setenv("APPROXDSE_HOME", str(home))
        SearchRun.resume(run_dir, evaluate_fn=search_helpers.analytic_eval, progress=False).run()
    got = pd.read_parquet(run_dir / "candidates.parquet")
    pd.testing.assert_frame_equal(got[SEARCH_COMPARED].reset_index(drop=True),
                                  search_reference[SEARCH_COMPARED].reset_index(drop=True))
    log = read_log(run_dir)
    positions = [(r["generation"], r["index"]) for r in log]
    assert len(positions) == len(set(positions)) == len(got)
    state = yaml.safe_load((run_dir / "checkpoint.json").read_text())["state"]
    assert state == "complete"
    _no_temporary_files(run_dir)


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
    _kill_when(cmd, _env(home), tmp_path, ready, signal.SIGKILL, rng, delay=False)
