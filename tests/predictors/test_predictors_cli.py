"""The CLI end to end: dataset (process pool, kill + resume), train-predictor, compare, exit 2 on bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from approxdse.cli import main
from approxdse.predictors.dataset import Dataset



def _cli(*args):
    return subprocess.run([sys.executable, "-m", "approxdse", *args], capture_output=True, text=True, timeout=300)


def test_dataset_killed_then_resumed_with_process_pool(spec, tmp_path, small_dataset):
    NETWORKS, MULTIPLIERS, N_MULT = spec
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "approxdse", "dataset", "--accelerator", "eyeriss", "--networks", NETWORKS,
           "--multipliers", MULTIPLIERS, "--out", str(out), "--chunk-size", "1", "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "energy").glob("part-*.parquet")) and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = list((out / "energy").glob("part-*.parquet"))
    assert partial, "the run wrote nothing before it was killed"
    # no temporary file is mistaken for a part
    assert all(not p.name.startswith(".") for p in partial)
    res = _cli("dataset", "--accelerator", "eyeriss", "--networks", NETWORKS, "--multipliers", MULTIPLIERS,
               "--out", str(out), "--workers", "2", "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "already there" in res.stdout
    got = Dataset.load(out).energy.sort_values(["network", "multiplier"]).reset_index(drop=True)
    want = small_dataset.energy.sort_values(["network", "multiplier"]).reset_index(drop=True)
    assert len(got) == len(want)
    pd.testing.assert_series_equal(got["total_energy_pJ"], want["total_energy_pJ"])


@pytest.mark.parametrize("kind", ["summing", "xgboost", "hgb"])
def test_train_and_compare(tmp_path, small_dataset_dir, kind, capsys):
    model = tmp_path / f"{kind}.json"
    assert main(["train-predictor", "--data", str(small_dataset_dir), "--kind", kind, "--accelerator", "eyeriss",
                 "--out", str(model), "--holdout", "0.34", "--n-estimators", "100"]) == 0
    capsys.readouterr()
    plot = tmp_path / "cmp.png"
    assert main(["compare", "--predictor", str(model), "--data", str(small_dataset_dir), "--format", "json",
                 "--plot", str(plot), "--reference-networks", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("mape_pct", "spearman", "kendall", "pearson", "r2", "speedup", "max_ape_pct", "top10_agreement",
                "reference_networks_per_s", "predictor_networks_per_s"):
        assert key in out and out[key] is not None
    assert out["n_networks"] == 2  # only the held-out networks
    assert out["reference_mapper"] == "auto" and out["reference_factorization"] == "exact"
    assert out["speedup"] > 1
    assert plot.stat().st_size > 1000 and plot.read_bytes()[:4] == b"\x89PNG"
    assert main(["compare", "--predictor", str(model), "--data", str(small_dataset_dir),
                 "--reference-networks", "0"]) == 0
    table = capsys.readouterr().out
    assert "Spearman" in table
    assert main(["compare", "--predictor", str(model), "--data", str(small_dataset_dir),
                 "--reference-networks", "0", "--out", str(tmp_path / "cmp.txt")]) == 0
    assert capsys.readouterr().out == "" and (tmp_path / "cmp.txt").read_text() == table


@pytest.mark.parametrize("argv,message", [
    (["compare", "--predictor", "{model}", "--data", "{empty}"], "no manifest"),
    (["compare", "--predictor", "{tmp}/missing.json", "--data", "{data}"], "does not exist"),
    (["train-predictor", "--data", "{data}", "--kind", "summing", "--accelerator", "simba", "--out", "{tmp}/m.json"],
     "no results for accelerator 'simba'"),
    (["train-predictor", "--data", "{tmp}/nothing", "--kind", "xgboost", "--accelerator", "eyeriss",
      "--out", "{tmp}/m.json"], "does not exist"),
    (["dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--multipliers", "u8_exact",
      "--out", "{data}", "--seed", "5"], "seed"),
    (["compare", "--predictor", "{simba_model}", "--data", "{data}"], "accelerator 'simba'"),
])
def test_bad_input_exits_2(tmp_path, small_dataset_dir, argv, message, capsys):
    from approxdse.predictors import SummingPredictor

    (tmp_path / "empty").mkdir()
    model = tmp_path / "model.json"
    p = SummingPredictor().fit(small_dataset_dir)
    p.save(model)
    p.accelerator = "simba"
    p.save(tmp_path / "simba.json")
    fmt = {"model": str(model), "empty": str(tmp_path / "empty"), "tmp": str(tmp_path), "data": str(small_dataset_dir),
           "simba_model": str(tmp_path / "simba.json")}
    assert main([a.format(**fmt) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("approxdse: error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "m.json").exists()


def test_dataset_mapper_option(tmp_path, capsys):
    out = tmp_path / "fast"
    assert main(["dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--multipliers", "u8_exact",
                 "--out", str(out), "--mapper", "fast", "--format", "json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["mapper"] == "fast"
    assert Dataset.load(out).mapper == "fast"
    res = _cli("dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--multipliers", "u8_exact",
               "--out", str(out), "--no-progress")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "made with --mapper fast but this run has --mapper auto" in res.stderr
    res = _cli("dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--out", str(tmp_path / "x"),
               "--mapper", "greedy")
    assert res.returncode == 2 and "invalid choice: 'greedy'" in res.stderr


def test_dataset_factorization_option_and_energy_predictor_of_an_imperfect_dataset(tmp_path, small_dataset_dir,
                                                                                    capsys):
    out = tmp_path / "imperfect"
    assert main(["dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--multipliers", "u8_exact",
                 "--out", str(out), "--factorization", "imperfect", "--format", "json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["factorization"] == "imperfect" and summary["mapper"] == "auto"
    assert Dataset.load(out).factorization == "imperfect"
    res = _cli("dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--multipliers", "u8_exact",
               "--out", str(out), "--no-progress")
    assert res.returncode == 2 and res.stderr.count("\n") == 1, res.stderr
    assert "made with --factorization imperfect but this run has --factorization exact" in res.stderr
    res = _cli("dataset", "--accelerator", "eyeriss", "--networks", "nas-digits:1", "--out", str(tmp_path / "x"),
               "--factorization", "padded")
    assert res.returncode == 2 and "invalid choice: 'padded'" in res.stderr
    # a predictor of an imperfect dataset answers --factorization imperfect and refuses exact
    model = tmp_path / "imperfect.json"
    assert main(["train-predictor", "--data", str(out), "--kind", "summing", "--accelerator", "eyeriss",
                 "--out", str(model)]) == 0
    capsys.readouterr()
    assert main(["energy", "lenet5", "--predictor", str(model), "--factorization", "imperfect",
                 "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictor"]["factorization"] == "imperfect"
    assert main(["energy", "lenet5", "--predictor", str(model), "--factorization", "exact"]) == 2
    err = capsys.readouterr().err
    assert "--factorization exact needs the reference or a predictor trained on a --factorization exact dataset" \
        in err and "learned the imperfect-factorisation reference" in err
    # the shipped predictors learned exact: they answer --factorization exact (and the default)
    assert main(["energy", "lenet5", "--predictor", "summing", "--factorization", "exact", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["predictor"]["factorization"] == "exact"
