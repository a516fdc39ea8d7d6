"""The run directory: outputs, determinism, resume after an interruption, failed candidates, report."""
import json

import pandas as pd
import pytest

import search_helpers
from approxdse.cli import main
from approxdse.core.errors import ApproxDSEError
from approxdse.dse.config import SearchConfig
from approxdse.dse.run import SearchRun
from search_helpers import analytic_eval, interrupting_eval, small_config

COLS = ["generation", "index", "phase", "key", "status", "energy", "accuracy", "cached"]


def _run(tmp_path, name, evaluate_fn=analytic_eval, **overrides):
    cfg = SearchConfig.from_dict(small_config(**overrides))
    return SearchRun.create(cfg, tmp_path / name, evaluate_fn=evaluate_fn, progress=False)


def test_outputs_and_determinism(tmp_path):
    summary = _run(tmp_path, "a").run()
    run_dir = tmp_path / "a"
    for name in ("config.yaml", "candidates.parquet", "candidates.csv", "front.parquet", "front.csv",
                 "hypervolume.csv", "summary.json", "front.png", "hypervolume.png", "checkpoint.json"):
        assert (run_dir / name).is_file(), name
    df = pd.read_parquet(run_dir / "candidates.parquet")
    twins = df[df["phase"] == "exact_twin"]
    assert len(df) - len(twins) == summary["evaluations"] == 32 and summary["exact_twins"] == len(twins) > 0
    # each twin is a front design's network with the exact multiplier, evaluated after the search
    assert twins["exact"].all() and (twins["generation"] == 4).all()
    front_genomes = set(pd.read_parquet(run_dir / "front.parquet")["genome_key"])
    assert set(twins["genome_key"]) <= front_genomes | set(df.loc[df["phase"] == "search", "genome_key"])
    assert {"genome", "multipliers", "energy", "reference_energy", "accuracy", "params", "time_s",
            "status"} <= set(df.columns)
    front = pd.read_csv(run_dir / "front.csv")
    assert len(front) == summary["front_size"] >= 3
    # the front is non-dominated and sorted by energy with rising accuracy
    assert front["energy"].is_monotonic_increasing and front["accuracy"].is_monotonic_increasing
    hv = pd.read_csv(run_dir / "hypervolume.csv")
    assert len(hv) == 4 and hv["hypervolume"].is_monotonic_increasing and 0 < hv["hypervolume"].iloc[-1] < 1
    assert json.loads((run_dir / "checkpoint.json").read_text())["state"] == "complete"
    # same seed, same everything; another seed, another search
    _run(tmp_path, "b").run()
    other = pd.read_parquet(tmp_path / "b" / "candidates.parquet")
    assert df[COLS].equals(other[COLS])
    _run(tmp_path, "c", seed=4).run()
    assert not df["key"].equals(pd.read_parquet(tmp_path / "c" / "candidates.parquet")["key"])


@pytest.mark.parametrize("algorithm", ["nsga2", "random"])
def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, algorithm):
    full = _run(tmp_path, "full", algorithm={"name": algorithm})
    full.run()
    search_helpers.STATE.update(calls=0, interrupt_after=13)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(tmp_path, "cut", interrupting_eval, algorithm={"name": algorithm}).run()
    finally:
        search_helpers.STATE["interrupt_after"] = None
    ckpt = json.loads((tmp_path / "cut" / "checkpoint.json").read_text())
    assert ckpt["state"] == "interrupted" and ckpt["evaluations"] == 13
    # the partial tables are there and readable, and the report works on them
    assert len(pd.read_parquet(tmp_path / "cut" / "candidates.parquet")) == 13
    with pytest.raises(ApproxDSEError, match="already holds a search run"):
        _run(tmp_path, "cut")
    search_helpers.STATE["calls"] = 0
    SearchRun.resume(tmp_path / "cut", evaluate_fn=interrupting_eval, progress=False).run()
    a = pd.read_parquet(tmp_path / "full" / "candidates.parquet")
    b = pd.read_parquet(tmp_path / "cut" / "candidates.parquet")
    n_twins = int((b["phase"] == "exact_twin").sum())
    # only the missing candidates were evaluated (and the exact twins, one genome each)
    assert search_helpers.STATE["calls"] == 32 - 13 + n_twins
    assert a[COLS].equals(b[COLS])
    assert json.loads((tmp_path / "cut" / "summary.json").read_text())["front_size"] == \
        json.loads((tmp_path / "full" / "summary.json").read_text())["front_size"]


def test_resume_refuses_a_changed_config(tmp_path):
    _run(tmp_path, "a").run()
    changed = SearchConfig.from_dict(small_config(training={"epochs": 9}))
    with pytest.raises(ApproxDSEError, match=r"differs .*\(in training\)"):
        SearchRun.resume(tmp_path / "a", changed)
    same = SearchConfig.from_dict(small_config(parallel={"workers": 2}))
    assert SearchRun.resume(tmp_path / "a", same).config.parallel.workers == 2


def test_failed_candidates_are_recorded_and_the_run_goes_on(tmp_path):
    search_helpers.STATE["fail_mod"] = 3  # about a third of the networks "diverge"
    try:
        summary = _run(tmp_path, "f").run()
    finally:
        search_helpers.STATE["fail_mod"] = None
    df = pd.read_parquet(tmp_path / "f" / "candidates.parquet")
    search = df[df["phase"] == "search"]
    assert len(search) == 32 and summary["failed"] == (df["status"] == "failed").sum() > 0
    failed = df[df["status"] == "failed"]
    assert failed["message"].str.contains("injected").all() and failed["accuracy"].isna().all()
    assert not failed["key"].isin(pd.read_parquet(tmp_path / "f" / "front.parquet")["key"]).any()
    assert summary["front_size"] >= 3


def test_constraints_mark_candidates_infeasible(tmp_path):
    from approxdse.dse.evaluation import EvaluationSettings, evaluate_group
    from approxdse.networks.generator import GeneratorSpace, sample_genome
    from approxdse.dse.search_space import Candidate

    cfg = SearchConfig.from_dict(small_config(constraints={"max_params": 1000}))
    g = sample_genome(0, GeneratorSpace.preset("digits", max_channels=64))
    settings = EvaluationSettings(cfg.dataset, cfg.training, "multiplications", "eyeriss", cfg.constraints)
    (row,) = evaluate_group(settings, [Candidate(g, ("u8_trunc_2",)).to_dict()])
    assert row["status"] == "infeasible" and "max_params" in row["message"] and row["energy"] > 0


def test_cli_search_and_report(tmp_path, monkeypatch, capsys):
    import approxdse.dse.evaluation as evaluation
    cfg = search_helpers.write_config(tmp_path / "cfg.yaml", algorithm={"population": 6, "generations": 2})
    monkeypatch.setattr(evaluation, "evaluate_group", analytic_eval)
    out = tmp_path / "run"
    assert main(["search", "run", str(cfg), "--out", str(out), "--no-progress", "--seed", "7"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "Pareto front" in printed and str(out) in printed and "deprecated" not in captured.err
    assert json.loads((out / "summary.json").read_text())["seed"] == 7
    (out / "front.png").unlink()
    assert main(["search", "report", str(out)]) == 0
    assert "Pareto front" in capsys.readouterr().out and (out / "front.png").is_file()
    # resuming a finished run only re-reports it: nothing is evaluated or logged again
    before = pd.read_parquet(out / "candidates.parquet")
    assert main(["search", "resume", str(out), "--config", str(cfg), "--no-progress", "--seed", "7"]) == 0
    assert main(["search", "resume", str(out), "--no-progress"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    # the old spellings, for one release: the same result and one deprecation line each
    assert main(["search", str(cfg), "--resume", str(out), "--seed", "7"]) == 0
    assert main(["search", "--resume", str(out)]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == ["approxdse: warning: 'approxdse search [CONFIG] --resume RUN_DIR' is deprecated, "
                   "use 'approxdse search resume RUN_DIR [--config CONFIG]'"] * 2
    assert main(["search", "report", str(out), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["seed"] == 7
    old = tmp_path / "old-spelling"
    assert main(["search", str(cfg), "--out", str(old), "--quiet", "--seed", "7"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "approxdse: warning: 'approxdse search CONFIG' is deprecated, use 'approxdse search run CONFIG'",
        "approxdse: warning: --quiet is deprecated, use --no-progress"]
    assert pd.read_parquet(old / "candidates.parquet")[COLS].equals(before[COLS])
    after = pd.read_parquet(out / "candidates.parquet")
    assert after[COLS].equals(before[COLS])
    assert len((out / "candidates.jsonl").read_text().splitlines()) == len(before)


def test_process_pool_and_dask_give_the_serial_result(tmp_path):
    serial = _run(tmp_path, "serial", algorithm={"population": 6, "generations": 2})
    serial.run()
    expected = serial.table()[COLS]
    pooled = _run(tmp_path, "pool", algorithm={"population": 6, "generations": 2}, parallel={"workers": 2})
    pooled.run()
    assert pooled.table()[COLS].equals(expected)

    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask_run = _run(tmp_path, "dask", algorithm={"population": 6, "generations": 2},
                        parallel={"scheduler": cluster.scheduler_address})
        dask_run.run()
    assert dask_run.table()[COLS].equals(expected)


def test_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    import approxdse.core.executor as executor
    monkeypatch.setattr(executor, "CONNECT_TIMEOUT", "1s")
    run = _run(tmp_path, "x", parallel={"scheduler": "tcp://127.0.0.1:9"})
    with pytest.raises(ApproxDSEError, match="cannot reach the Dask scheduler"):
        run.run()


def test_per_layer_search(tmp_path):
    summary = _run(tmp_path, "layer", space={
        "network": {"preset": "digits", "max_stages": 2, "max_blocks_per_stage": 2, "max_channels": 32},
        "multipliers": {"names": ["u8_exact", "u8_bam_h1_v4", "u8_trunc_2"]}, "assignment": "layer"},
        algorithm={"population": 6, "generations": 2}).run()
    df = pd.read_parquet(tmp_path / "layer" / "candidates.parquet")
    per_layer = df["multipliers"].map(json.loads)
    assert (per_layer.map(len) == df["n_layers"]).all()
    assert df["multiplier"].str.startswith("mixed(").any() and summary["front_size"] >= 1


def test_plots_of_a_run_where_every_candidate_failed(tmp_path):
    """Nothing feasible to draw: the plots are still written (no log scale of no data)."""
    import pandas as pd

    from approxdse.dse.report import plot_front, plot_hypervolume

    df = pd.DataFrame({"status": ["failed", "failed"], "feasible": [False, False],
                       "energy": [float("nan")] * 2, "accuracy": [float("nan")] * 2,
                       "exact": [False, True]})
    plot_front(df, df.iloc[:0], tmp_path / "front.png")
    plot_hypervolume(pd.DataFrame({"generation": [0, 1], "hypervolume": [0.0, 0.0]}), tmp_path / "hv.png")
    for path in (tmp_path / "front.png", tmp_path / "hv.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["front.png", "hv.png"]
