"""Run folders repair themselves: torn log tails, corrupt checkpoints, NaN as null, empty configs."""
import json
import math

import pandas as pd
import pytest

import search_helpers
from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import SearchConfig
from approxdse.dse.run import LOG, SearchRun, read_log
from search_helpers import analytic_eval, interrupting_eval, small_config

COLS = ["generation", "index", "phase", "key", "status", "energy", "accuracy", "cached"]


def _run(tmp_path, name, evaluate_fn=analytic_eval, **overrides):
    cfg = SearchConfig.from_dict(small_config(**overrides))
    return SearchRun.create(cfg, tmp_path / name, evaluate_fn=evaluate_fn, progress=False)


def _interrupted(tmp_path, name, after=13):
    search_helpers.STATE.update(calls=0, interrupt_after=after)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path, name, interrupting_eval).run()
    finally:
        search_helpers.STATE["interrupt_after"] = None
    return tmp_path / name


def test_torn_log_tail_is_truncated_said_and_redone(tmp_path, capsys):
    _run(tmp_path, "full").run()
    cut = _interrupted(tmp_path, "cut")
    log = cut / LOG
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) == 13
    # a kill mid-append: the last record is half written
    log.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    capsys.readouterr()
    search_helpers.STATE["calls"] = 0
    SearchRun.resume(cut, evaluate_fn=interrupting_eval, progress=False).run()
    assert "removed a torn last record" in capsys.readouterr().err
    a = pd.read_parquet(tmp_path / "full" / "candidates.parquet")
    b = pd.read_parquet(cut / "candidates.parquet")
    assert a[COLS].equals(b[COLS])
    rows = read_log(cut)
    keys = [(r["generation"], r["index"]) for r in rows]
    assert len(keys) == len(set(keys)) == len(b)  # no duplicates, nothing glued together
    # every line is strict JSON (no bare NaN)
    for line in log.read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"non-JSON constant {c} in the log"))


def test_nan_is_written_as_null_and_read_back_as_nan(tmp_path):
    search_helpers.STATE["fail_mod"] = 3
    try:
        _run(tmp_path, "r").run()
    finally:
        search_helpers.STATE["fail_mod"] = None
    text = (tmp_path / "r" / LOG).read_text()
    assert "NaN" not in text and "null" in text
    rows = read_log(tmp_path / "r")
    assert any(r["status"] == "failed" for r in rows)
    assert all(isinstance(r["reference_energy"], float) and math.isnan(r["reference_energy"]) for r in rows)
    failed = [r for r in rows if r["status"] == "failed"]
    assert all(math.isnan(r["accuracy"]) and math.isnan(r["error"]) for r in failed)


@pytest.mark.parametrize("content", [b"{ not json", b"", b"[1, 2]", b"\xff\xfe"])
def test_corrupt_checkpoint_is_one_line_with_the_fix(tmp_path, capsys, content):
    cut = _interrupted(tmp_path, "cut")
    (cut / "checkpoint.json").write_bytes(content)
    with pytest.raises(ApproxDSEError, match="checkpoint.json is corrupt .*delete it"):
        SearchRun.resume(cut, evaluate_fn=analytic_eval, progress=False).run()
    capsys.readouterr()
    for argv in (["search", "resume", str(cut), "--no-progress"], ["search", "report", str(cut)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("approxdse: error: ") and err.count("\n") == 1 and "checkpoint.json is corrupt" in err


def test_deleting_a_corrupt_checkpoint_resumes_to_the_same_result(tmp_path):
    _run(tmp_path, "full").run()
    cut = _interrupted(tmp_path, "cut", after=20)
    (cut / "checkpoint.json").unlink()
    SearchRun.resume(cut, evaluate_fn=analytic_eval, progress=False).run()
    a, b = (pd.read_csv(tmp_path / d / "hypervolume.csv") for d in ("full", "cut"))
    assert a.equals(b)  # the hypervolume reference point is re-derived as the first run fixed it
    assert pd.read_parquet(tmp_path / "full" / "candidates.parquet")[COLS].equals(
        pd.read_parquet(cut / "candidates.parquet")[COLS])


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_empty_search_config_is_refused(tmp_path, capsys, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    with pytest.raises(ApproxDSEError, match="is empty"):
        SearchConfig.load(path)
    assert main(["search", "run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "is empty" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
