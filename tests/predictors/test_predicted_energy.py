"""``approxdse energy --predictor`` and the training / held-out marking of ``approxdse compare``."""
import json

import numpy as np
import pytest

from approxdse.cli import main


@pytest.fixture(scope="module")
def learned_file(tmp_path_factory, small_dataset_dir):
    from approxdse.predictors import Dataset, LearnedPredictor

    train, _ = Dataset.load(small_dataset_dir).split_by_network(0.34, seed=0)
    p = LearnedPredictor(n_estimators=40, interval_folds=3).fit(train, "eyeriss")
    path = tmp_path_factory.mktemp("model") / "eyeriss.json"
    p.save(path)
    return path


def _json(capsys):
    return json.loads(capsys.readouterr().out)


def test_energy_with_a_learned_model_file_gives_totals_interval_and_domain(learned_file, capsys):
    from approxdse.predictors import load_predictor

    assert main(["energy", "resnet20", "--predictor", str(learned_file), "--format", "json"]) == 0
    out = _json(capsys)
    t = out["totals"]
    pred = load_predictor(learned_file)
    assert t["energy_pJ"] == pytest.approx(float(pred.predict("resnet20", "u8_exact")[0]), rel=1e-12)
    assert t["interval"]["level"] == 0.9 and t["interval"]["low_pJ"] <= t["energy_pJ"] <= t["interval"]["high_pJ"]
    # digits-only training data: CIFAR ResNet layers are far outside it
    assert t["out_of_domain"] is True and t["out_of_domain_layers"]
    assert {layer["name"] for layer in out["layers"] if layer["out_of_domain"]} == set(t["out_of_domain_layers"])
    assert sum(layer["energy_pJ"] for layer in out["layers"]) == pytest.approx(t["energy_pJ"], rel=1e-9)
    assert out["accelerator"] == "eyeriss" and out["predictor"]["kind"] == "learned"
    # another multiplier: only the multiplier term changes, and it goes down
    assert main(["energy", "resnet20", "--predictor", str(learned_file), "--multiplier", "u8_trunc_2",
                 "--format", "json"]) == 0
    assert _json(capsys)["totals"]["energy_pJ"] < t["energy_pJ"]
    assert main(["energy", "resnet20", "--predictor", str(learned_file), "--per-layer"]) == 0
    table = capsys.readouterr().out
    assert "90% interval" in table and "out of domain" in table and "layer1.0.conv1" in table


def test_energy_with_the_default_summing_predictor(capsys):
    from approxdse.predictors import default_predictor

    assert main(["energy", "resnet20", "--predictor", "summing", "--accelerator", "simba", "--format", "json"]) == 0
    out = _json(capsys)
    want = default_predictor("simba", "summing", progress=False).predict("resnet20", "u8_exact")[0]
    assert out["totals"]["energy_pJ"] == pytest.approx(float(want))
    assert out["accelerator"] == "simba" and "interval" not in out["totals"]
    assert main(["energy", "resnet20", "--predictor", "summing", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("name,kind,C,M")


@pytest.mark.parametrize("extra,message", [
    (["--accelerator", "simba"], "trained for accelerator 'eyeriss'"),
    (["--mapping", "map.yaml"], "--mapping needs the reference"),
    (["--compare-multipliers", "u8_exact,u8_trunc_2"], "--compare-multipliers needs the reference"),
    (["--objective", "edp"], "--objective edp needs the reference"),
])
def test_energy_predictor_bad_combinations_exit_2(learned_file, extra, message, capsys):
    assert main(["energy", "resnet20", "--predictor", str(learned_file), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("approxdse: error:") and message in err and err.count("\n") == 1


def test_energy_predictor_must_be_a_kind_or_a_model_file(capsys):
    assert main(["energy", "resnet20", "--predictor", "forest"]) == 2
    assert "summing, learned or a model file" in capsys.readouterr().err
    assert main(["energy", "resnet20", "--predictor", "nope.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_compare_marks_and_refuses_training_data(tmp_path, small_dataset_dir, capsys):
    model = tmp_path / "s.json"
    assert main(["train-predictor", "--data", str(small_dataset_dir), "--kind", "summing", "--accelerator",
                 "eyeriss", "--out", str(model), "--holdout", "0.34"]) == 0
    capsys.readouterr()
    base = ["compare", "--predictor", str(model), "--data", str(small_dataset_dir), "--format", "json",
            "--reference-networks", "0"]
    assert main(base) == 0
    out = _json(capsys)
    assert out["evaluated_on"] == "held-out" and out["n_training_networks"] == 0 and out["n_held_out_networks"] == 2
    assert main(base + ["--networks", "all"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["evaluated_on"] == "mixed" and "evaluated on mixed" in captured.err

    full = tmp_path / "full.json"
    assert main(["train-predictor", "--data", str(small_dataset_dir), "--kind", "summing", "--accelerator",
                 "eyeriss", "--out", str(full)]) == 0
    capsys.readouterr()
    plot = tmp_path / "cmp.png"
    assert main(["compare", "--predictor", str(full), "--data", str(small_dataset_dir), "--plot", str(plot)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("approxdse: error:") and "--allow-training-data" in err and err.count("\n") == 1
    assert not plot.exists()
    assert main(["compare", "--predictor", str(full), "--data", str(small_dataset_dir), "--format", "json",
                 "--reference-networks", "0", "--allow-training-data", "--plot", str(plot)]) == 0
    out = _json(capsys)
    assert out["evaluated_on"] == "training" and out["n_held_out_networks"] == 0
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_predict_interval_and_domain_api(learned_file, small_dataset):
    from approxdse.core.errors import ApproxDSEError
    from approxdse.predictors import load_predictor

    p = load_predictor(learned_file)
    names = sorted(small_dataset.energy["network"].unique())
    r = p.predict_interval([small_dataset.workload(n) for n in names], "u8_exact")
    assert np.all(r.low <= r.energy) and np.all(r.energy <= r.high) and r.level == 0.9
    assert np.array_equal(r.energy, p.predict([small_dataset.workload(n) for n in names], "u8_exact"))
    wide = p.predict_interval(small_dataset.workload(names[0]), "u8_exact", level=0.99)
    assert wide.high[0] >= r.high[0]
    # a training network's layers are inside the domain; a CIFAR ResNet's are not
    trained = [n for n in names if n in set(p.training_networks)]
    assert all(p.out_of_domain_layers(small_dataset.workload(n)) == () for n in trained)
    assert p.out_of_domain_layers("resnet20")
    est = p.estimate(small_dataset.workload(trained[0]), "u8_trunc_2")
    assert est.low <= est.energy <= est.high and not est.out_of_domain and est.relative_width > 0
    with pytest.raises(ApproxDSEError, match="level"):
        p.predict_interval("resnet20", "u8_exact", level=1.5)
