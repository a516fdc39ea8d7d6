"""Summing and learned predictors on a small real dataset: fit, predict, save/load, errors."""
import json

import numpy as np
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.networks.generator import sample_genome
from approxdse.predictors import LearnedPredictor, SummingPredictor, load_predictor
from approxdse.predictors.compare import error_metrics
from approxdse.predictors.reference import EXACT, reference_energy


def test_summing_fixed_network_pearson_and_anchored_exactness(small_dataset):
    p = SummingPredictor().fit(small_dataset)
    assert p.accelerator == "eyeriss" and p.c > 0
    e = small_dataset.energy
    pred = p.predict_dataset(small_dataset)
    y = e["total_energy_pJ"].to_numpy()
    for name in e["network"].unique():
        mask = (e["network"] == name).to_numpy()
        assert np.corrcoef(y[mask], pred[mask])[0, 1] >= 0.999
    # anchored form: exact when the reference is linear in the multiplier energy
    np.testing.assert_allclose(pred, y, rtol=1e-6)
    free = SummingPredictor(form="free").fit(small_dataset)
    for name in e["network"].unique():
        mask = (e["network"] == name).to_numpy()
        fp = free.predict_dataset(small_dataset)[mask]
        assert np.corrcoef(y[mask], fp)[0, 1] >= 0.999


def test_summing_per_layer_assignment_matches_reference(small_dataset):
    p = SummingPredictor().fit(small_dataset)
    name = small_dataset.energy["network"].iloc[0]
    w = small_dataset.workload(name)
    assignment = ["u8_mitchell" if i % 2 else "u8_bam_h2_v6" for i in range(len(w.layers))]
    ref = reference_energy.__wrapped__ if hasattr(reference_energy, "__wrapped__") else None
    from approxdse.accelerators.estimate import estimate_energy

    truth = estimate_energy(w, "eyeriss", EXACT, layer_multipliers=assignment).energy_pJ
    got = p.predict(w, [assignment], "eyeriss")[0]
    assert got == pytest.approx(truth, rel=1e-6)
    # dict form with a default
    got2 = p.predict(w, [{"*": "u8_mitchell", w.layers[0].name: "u8_bam_h2_v6"}], "eyeriss")[0]
    truth2 = estimate_energy(w, "eyeriss", "u8_mitchell", layer_multipliers={w.layers[0].name: "u8_bam_h2_v6"}).energy_pJ
    assert got2 == pytest.approx(truth2, rel=1e-6)
    with pytest.raises(ApproxDSEError, match="needs"):
        p.predict(w, [assignment[:-1]], "eyeriss")


@pytest.mark.parametrize("kind", ["xgboost", "hgb"])
@pytest.mark.parametrize("granularity", ["layer", "network"])
def test_learned_fit_predict_save_load(tmp_path, small_dataset, kind, granularity):
    p = LearnedPredictor(kind=kind, granularity=granularity, n_estimators=150).fit(small_dataset)
    y = small_dataset.energy["total_energy_pJ"].to_numpy()
    pred = p.predict_dataset(small_dataset)
    m = error_metrics(y, pred)
    assert m["spearman"] > 0.95 and m["mape_pct"] < 15  # training fit
    assert -1 <= p.score(small_dataset) <= 1
    for suffix in (".json", ".ubj"):
        path = tmp_path / f"model{suffix}"
        p.save(path)
        q = load_predictor(path)
        np.testing.assert_allclose(q.predict_dataset(small_dataset), pred, rtol=1e-5)
    # genomes and workloads are both accepted
    g = sample_genome(123, "digits")
    a = p.predict([g], "u8_trunc_2", "eyeriss")
    b = p.predict(g.to_workload(), ["u8_trunc_2"], "eyeriss")
    np.testing.assert_allclose(a, b)
    assert np.isfinite(a).all() and a[0] > 0


def test_hgb_json_trees_equal_sklearn(small_dataset):
    from sklearn.ensemble import HistGradientBoostingRegressor

    from approxdse.predictors.trees import TreeEnsemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 1]) ** 2 + rng.normal(scale=0.1, size=300)
    model = HistGradientBoostingRegressor(max_iter=50, random_state=0).fit(X, y)
    ens = TreeEnsemble.from_dict(json.loads(json.dumps(TreeEnsemble.from_hgb(model).to_dict())))
    np.testing.assert_allclose(ens.predict(X), model.predict(X), rtol=1e-9, atol=1e-9)


def test_learned_beats_free_summing_across_networks(small_dataset):
    train, test = small_dataset.split_by_network(0.34, seed=0)
    learned = LearnedPredictor(n_estimators=200).fit(train)
    free = SummingPredictor(form="free").fit(train)
    y = test.energy["total_energy_pJ"].to_numpy()
    assert error_metrics(y, learned.predict_dataset(test))["mape_pct"] < error_metrics(y, free.predict_dataset(test))["mape_pct"]


def test_wrong_accelerator_and_unfitted(small_dataset, tmp_path):
    p = SummingPredictor().fit(small_dataset)
    with pytest.raises(ApproxDSEError, match="trained for accelerator 'eyeriss'"):
        p.predict("resnet20", "u8_exact", "simba")
    with pytest.raises(ApproxDSEError, match="not fitted"):
        LearnedPredictor().predict("resnet20", "u8_exact", "eyeriss")
    with pytest.raises(ApproxDSEError, match="no results for accelerator"):
        SummingPredictor().fit(small_dataset, accelerator="simba")
    with pytest.raises(ApproxDSEError):
        LearnedPredictor(kind="randomforest")
    with pytest.raises(ApproxDSEError, match="2 networks but 3 multipliers"):
        p.predict(["resnet20", "resnet32"], ["u8_exact"] * 3, "eyeriss")


def test_nan_features_refused(small_dataset):
    from approxdse.multipliers import Multiplier, exact_lut

    p = SummingPredictor().fit(small_dataset)
    with pytest.raises(ApproxDSEError, match="finite"):
        p.predict("resnet20", float("nan"), "eyeriss")
    with pytest.raises(ApproxDSEError, match="finite"):
        p.predict("resnet20", float("inf"), "eyeriss")
    from approxdse.predictors.learned import LearnedPredictor as LP

    lp = LP(granularity="network", n_estimators=20).fit(small_dataset)
    weird = Multiplier("weird", signed=False, lut=exact_lut(False), relative_energy=0.5, area_um2=float("inf"))
    with pytest.raises(ApproxDSEError, match="NaN or infinite"):
        lp.predict("resnet20", weird, "eyeriss")


def test_corrupt_model_files(tmp_path, small_dataset):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ApproxDSEError, match="corrupt"):
        load_predictor(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ApproxDSEError, match="not an approxdse predictor"):
        load_predictor(bad)
    with pytest.raises(ApproxDSEError, match="does not exist"):
        load_predictor(tmp_path / "missing.json")
    p = LearnedPredictor(n_estimators=20).fit(small_dataset)
    p.save(tmp_path / "m.ubj")
    raw = (tmp_path / "m.ubj").read_bytes()
    (tmp_path / "t.ubj").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ApproxDSEError, match="corrupt"):
        load_predictor(tmp_path / "t.ubj")
    d = json.loads(json.dumps(__import__("approxdse.predictors.io", fromlist=["x"]).predictor_to_dict(p)))
    d["model"] = {"learner": "garbage"}
    (tmp_path / "g.json").write_text(json.dumps(d))
    with pytest.raises(ApproxDSEError, match="corrupt"):
        load_predictor(tmp_path / "g.json")


def test_model_refuses_dataset_from_other_architecture(small_dataset, tmp_path):
    import copy

    p = SummingPredictor().fit(small_dataset)
    other = copy.copy(small_dataset)
    other.manifest = json.loads(json.dumps(small_dataset.manifest))
    other.manifest["accelerators"]["eyeriss"]["architecture_sha256"] = "f" * 64
    with pytest.raises(ApproxDSEError, match="architecture"):
        p.predict_dataset(other)
    other.manifest = json.loads(json.dumps(small_dataset.manifest))
    other.manifest["reference_code_sha256"] = "e" * 64
    with pytest.raises(ApproxDSEError, match="different version of the reference"):
        p.predict_dataset(other)


def test_default_predictor_fits_on_the_fly_then_caches(approxdse_home, monkeypatch, tmp_path):
    from approxdse.predictors import defaults

    monkeypatch.setattr(defaults, "ON_THE_FLY_NETWORKS", "nas-digits:{n}")
    monkeypatch.setattr(defaults, "shipped_dir", lambda: tmp_path / "none")
    p = defaults.default_predictor("eyeriss", kind="summing", networks=3, progress=False)
    cached = approxdse_home / "cache" / "predictors" / "eyeriss_summing.json"
    assert cached.is_file() and p.accelerator == "eyeriss"
    q = defaults.default_predictor("eyeriss", kind="summing", networks=3, progress=False)
    g = sample_genome(5, "digits")
    np.testing.assert_allclose(p.predict(g, "u8_trunc_2"), q.predict(g, "u8_trunc_2"))
    # a cached model from another reference version is not used: it is refitted
    data = json.loads(cached.read_text())
    data["reference_info"]["reference_code_sha256"] = "0" * 64
    cached.write_text(json.dumps(data))
    defaults.default_predictor("eyeriss", kind="summing", networks=3, progress=False)
    assert json.loads(cached.read_text())["reference_info"]["reference_code_sha256"] != "0" * 64
    with pytest.raises(ApproxDSEError, match="built-in accelerators"):
        defaults.default_predictor("tpu")
    with pytest.raises(ApproxDSEError, match="kind"):
        defaults.default_predictor("eyeriss", kind="forest")
