"""A SIGKILL that lands mid-write leaves the write's temporary file (``.NAME.XXXXXXXX.tmp...``): no
cleanup code runs. The next run of `dataset`, `accuracy --sweep` or `search resume` on that folder
removes such leftovers and ends with the same tables as a run never interrupted.

The fault-injection tests (tests/test_fault_injection.py) kill at random moments, so they hit the
middle of a write only now and then (one did, under heavy load: "temporary files left behind").
These tests plant the leftovers a kill mid-write leaves, so that path runs every time.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from approxdse.core.atomic_files import atomic_temp_path, remove_stale_temps

sys.path.insert(0, str(Path(__file__).resolve().parent / "dse"))
import search_helpers  # noqa: E402


def _plant(target: Path, content: bytes = b"half a file") -> Path:
    """The temporary file a write of ``target`` killed mid-way leaves beside it."""
    tmp = atomic_temp_path(target)
    tmp.write_bytes(content)
    return tmp


def _hidden(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(".*"))


def test_remove_stale_temps_takes_only_temporary_files_of_matching_targets(tmp_path):
    parquet = _plant(tmp_path / "part-1.parquet")
    manifest = _plant(tmp_path / "manifest.json")
    (tmp_path / ".hidden").write_text("a user's file")
    (tmp_path / ".part-1.parquet.notatemp").write_text("not ours either")
    (tmp_path / "part-2.parquet").write_text("a finished part")
    assert remove_stale_temps(tmp_path, "part-*.parquet") == [parquet]
    assert remove_stale_temps(tmp_path) == [manifest]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", ".part-1.parquet.notatemp", "part-2.parquet"]
    assert remove_stale_temps(tmp_path / "missing") == []


def test_dataset_rerun_removes_what_a_kill_mid_write_left(tmp_path, approxdse_home):
    from approxdse.predictors.dataset import Dataset, generate_dataset

    args = dict(accelerators="eyeriss", networks="lenet5,nas-digits:2", multipliers="u8_exact,u8_trunc_2",
                workers=1, chunk_size=1, progress=False)
    generate_dataset(tmp_path / "full", **args)
    cut = tmp_path / "cut"
    generate_dataset(cut, max_tasks=1, **args)
    planted = [_plant(cut / "manifest.json"), _plant(cut / "energy" / "part-x-00001.parquet"),
               _plant(cut / "layers" / "part-x-00001.parquet"), _plant(cut / "networks" / "part-x-00001.parquet")]
    assert len(_hidden(cut)) == len(planted)
    generate_dataset(cut, **args)
    assert _hidden(cut) == []
    cols = ["network", "accelerator", "multiplier", "total_energy_pJ"]
    got, want = Dataset.load(cut).energy, Dataset.load(tmp_path / "full").energy
    pd.testing.assert_frame_equal(got[cols].sort_values(cols[:3]).reset_index(drop=True),
                                  want[cols].sort_values(cols[:3]).reset_index(drop=True))


def test_dataset_killed_before_its_manifest_resumes(tmp_path, approxdse_home):
    """Killed mid-way through writing its manifest: only the temporary manifest is there."""
    from approxdse.predictors.dataset import generate_dataset

    cut = tmp_path / "cut"
    cut.mkdir()
    _plant(cut / "manifest.json", b'{"format": ')
    summary = generate_dataset(cut, "eyeriss", "lenet5", "u8_exact", workers=1, progress=False)
    assert summary.rows_written == 1 and _hidden(cut) == []


def test_search_resume_removes_what_a_kill_mid_write_left(tmp_path):
    from approxdse.dse.config import SearchConfig
    from approxdse.dse.run import SearchRun

    cfg = SearchConfig.from_dict(search_helpers.small_config())
    SearchRun.create(cfg, tmp_path / "full", evaluate_fn=search_helpers.analytic_eval, progress=False).run()
    search_helpers.STATE.update(calls=0, interrupt_after=5)
    try:
        with pytest.raises(KeyboardInterrupt):
            SearchRun.create(cfg, tmp_path / "cut", evaluate_fn=search_helpers.interrupting_eval,
                             progress=False).run()
    finally:
        search_helpers.STATE["interrupt_after"] = None
    cut = tmp_path / "cut"
    for name in ("checkpoint.json", "candidates.parquet", "front.csv", "summary.json"):
        _plant(cut / name)
    SearchRun.resume(cut, evaluate_fn=search_helpers.analytic_eval, progress=False).run()
    assert _hidden(cut) == []
    cols = ["generation", "index", "key", "status", "energy", "accuracy"]
    a = pd.read_parquet(tmp_path / "full" / "candidates.parquet")[cols]
    b = pd.read_parquet(cut / "candidates.parquet")[cols]
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.slow
def test_sweep_rerun_removes_what_a_kill_mid_write_left(tmp_path, approxdse_home):
    from approxdse.emulator.sweep import accuracy_sweep

    out = tmp_path / "sweep"
    out.mkdir()
    planted = [_plant(out / "accuracy_sweep.partial.csv"), _plant(out / "accuracy_sweep.settings.json")]
    (out / ".keep").write_text("a user's file")
    accuracy_sweep("lenet5", "digits", ["u8_exact"], out_dir=out, epochs=1, progress=False)
    assert _hidden(out) == [".keep"] and not any(p.exists() for p in planted)
