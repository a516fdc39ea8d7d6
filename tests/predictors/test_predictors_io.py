"""UBJSON codec and feature extraction."""
import math

import numpy as np
import pytest

from approxdse.core.errors import ApproxDSEError
from approxdse.predictors.features import (
    LAYER_FEATURES,
    NETWORK_FEATURES,
    layer_feature_matrix,
    network_feature_vector,
    per_layer_relative_energy,
)
from approxdse.predictors.io import ubjson_dumps, ubjson_loads


@pytest.mark.parametrize("value", [
    None, True, False, 0, -1, 2**40, -(2**62), 1.5, -0.0, 1e-300, "", "héllo", [], {},
    {"a": [1, 2.5, "x", None, {"b": [True, False]}], "c": {"d": []}},
    [[[]]], 2**70,
])
def test_ubjson_round_trip(value):
    assert ubjson_loads(ubjson_dumps(value)) == value


def test_ubjson_known_bytes_and_errors():
    assert ubjson_dumps({"a": 1}) == b"{L\x00\x00\x00\x00\x00\x00\x00\x01aL\x00\x00\x00\x00\x00\x00\x00\x01}"
    assert ubjson_loads(b"[i\x05U\xffd\x3f\x80\x00\x00]") == [5, 255, 1.0]
    for bad in (b"[", b"Q", b"ZZ", b"SL\x00\x00\x00\x00\x00\x00\x00\x05ab"):
        with pytest.raises(ValueError):
            ubjson_loads(bad)


def test_features_of_zoo_network():
    from approxdse.networks import zoo

    w = zoo.workload("mobilenet_v2")
    v = network_feature_vector(w)
    assert v.shape == (len(NETWORK_FEATURES),) and np.all(np.isfinite(v))
    f = dict(zip(NETWORK_FEATURES, v))
    assert f["n_layers"] == len(w.layers)
    assert f["n_depthwise"] == sum(l.is_depthwise for l in w.layers) > 0
    assert f["log_macs"] == pytest.approx(math.log10(w.macs))
    assert 0 < f["share_depthwise"] < 0.2
    m = layer_feature_matrix(w)
    assert m.shape == (len(w.layers), len(LAYER_FEATURES))
    assert m[0, LAYER_FEATURES.index("C")] == w.layers[0].C


def test_per_layer_relative_energy_forms():
    from approxdse.networks import zoo

    w = zoo.workload("resnet20")
    assert np.all(per_layer_relative_energy(w, "u8_exact") == 1.0)
    assert np.all(per_layer_relative_energy(w, 0.5) == 0.5)
    d = per_layer_relative_energy(w, {"*": 0.25, w.layers[1].name: 0.75})
    assert d[1] == 0.75 and d[0] == 0.25
    with pytest.raises(ApproxDSEError, match="no layers named"):
        per_layer_relative_energy(w, {"nope": 0.5})
    with pytest.raises(ApproxDSEError, match="needs"):
        per_layer_relative_energy(w, [1.0, 0.5])
    with pytest.raises(ApproxDSEError):
        per_layer_relative_energy(w, -1.0)


def test_layer_features_agree_with_layer_properties():
    from approxdse.networks import zoo

    for name in ("mobilenet_v2", "resnet50", "alexnet", "lenet5"):
        w = zoo.workload(name)
        m = layer_feature_matrix(w)
        col = {f: i for i, f in enumerate(LAYER_FEATURES)}
        for row, l in zip(m, w.layers):
            assert row[col["log_macs"]] == pytest.approx(math.log2(l.macs))
            assert row[col["log_weights"]] == pytest.approx(math.log2(l.weights))
            assert row[col["log_inputs"]] == pytest.approx(math.log2(l.inputs))
            assert row[col["log_outputs"]] == pytest.approx(math.log2(l.outputs))
            assert row[col["depthwise"]] == float(l.is_depthwise)
            assert row[col["C_per_group"]] == l.C_per_group


def test_shipped_models_load_and_predict():
    from pathlib import Path

    from approxdse.networks.generator import sample_genome
    from approxdse.predictors.io import load_predictor

    folder = Path(__file__).resolve().parents[2] / "predictors" / "models"
    files = sorted(folder.glob("*.json"))
    assert {f.name for f in files} >= {"eyeriss_summing.json", "eyeriss_learned.json"}
    g = sample_genome(1, "cifar")
    for f in files:
        p = load_predictor(f)
        assert f.name.startswith(p.accelerator + "_")
        value = p.predict(g, [["u8_trunc_2"] * len(g.to_workload().layers)], p.accelerator)
        assert value.shape == (1,) and np.isfinite(value).all() and value[0] > 0
        if p.kind == "learned":  # shipped with calibrated intervals and the training domain
            r = p.predict_interval(g, "u8_exact")
            assert p.has_intervals and r.low[0] < r.energy[0] < r.high[0]
            assert p.out_of_domain_layers("shufflenet_v2") == ()  # the zoo families are in its training data


def test_shipped_models_match_the_installed_reference(monkeypatch):
    """A shipped model is used only if it was fitted on this reference code and architecture: after a
    change of the reference, re-ship them (``python benchmarks/predictors_bench.py --ship``)."""
    from approxdse.predictors import defaults
    from approxdse.predictors.io import load_predictor

    def no_fit(*args, **kwargs):
        raise AssertionError("a shipped model is stale: it would be refitted")

    monkeypatch.setattr(defaults, "_fit_on_the_fly", no_fit)
    files = sorted(defaults.shipped_dir().glob("*.json"))
    assert len(files) == 4
    for f in files:
        p = load_predictor(f)
        current = defaults._current(p.accelerator)
        assert {k: p.reference_info.get(k) for k in current} == current, f.name
        kind = f.stem.split("_", 1)[1]
        got = defaults.default_predictor(p.accelerator, kind, progress=False)
        assert got.to_dict() == p.to_dict()


def test_numpy_xgboost_trees_equal_xgboost_on_both_paths():
    xgb = pytest.importorskip("xgboost")
    from approxdse.predictors.trees import NUMBA_ROWS, XGBoostTrees, xgboost_to_dict

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6)) * [1, 10, 100, 1, 1, 1]
    y = np.sin(X[:, 0]) + 0.01 * X[:, 1] + (X[:, 2] > 50)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values follow default_left
    booster = xgb.train({"max_depth": 5, "eta": 0.3, "nthread": 1}, xgb.DMatrix(X, y), 40)
    trees = XGBoostTrees.from_model(xgboost_to_dict(booster))
    want = booster.inplace_predict(X)
    for rows in (slice(0, NUMBA_ROWS), slice(0, None)):  # the numpy and the numba path
        assert np.allclose(trees.predict(X[rows]), want[rows], rtol=0, atol=1e-5)
    with pytest.raises(ApproxDSEError, match="corrupt"):
        XGBoostTrees.from_model({"learner": {}})
