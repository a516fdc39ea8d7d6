"""The learned predictor: gradient-boosted trees on log-energy.

Two granularities (``granularity=``):

* ``layer`` (default when the dataset has per-layer energies): a linear
  baseline ``b_mac*MACs + b_w*weights + b_i*inputs + b_o*outputs`` (non-negative
  least squares on relative error) times a tree model of the log-ratio of the
  layer's reference energy (exact multiplier) to that baseline, from the
  layer's loop bounds (:data:`~predictors.features.LAYER_FEATURES`); a
  network's energy is the sum over its layers plus the multiplier term
  ``c * sum_l MACs_l x (relative_energy(m_l) - 1)`` with ``c`` (pJ per exact
  multiplication) fitted like the summing predictor's anchored slope. The
  reference evaluates each layer on its own, so the layer is the unit that
  generalises to networks never seen; per-layer multiplier assignments are
  exact in this form.
* ``network``: one row per (network, multiplier): the network aggregates and
  per-layer shape statistics (:data:`~predictors.features.NETWORK_FEATURES`),
  the multiplier features (:data:`~predictors.features.MULTIPLIER_FEATURES`,
  MAC-weighted over layers for per-layer assignments) and
  ``log_mult_macs`` = log10(sum MACs x relative energy), target log energy.

Models: XGBoost (``kind="xgboost"``, the default) or scikit-learn's
HistGradientBoosting (``kind="hgb"``, also the fallback when XGBoost is not
installed). Saved as JSON/UBJSON (see :mod:`predictors.io`), never pickled.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.predictors.base import EnergyPredictor, Query, Timer
from approxdse.predictors.features import (
    LAYER_FEATURES,
    MULTIPLIER_FEATURES,
    NETWORK_FEATURES,
    layer_feature_matrix,
    multiplier_feature_vector,
    network_feature_vector,
)
from approxdse.predictors.features import per_layer_relative_energy
from approxdse.predictors.summing import SummingPredictor
from approxdse.predictors.trees import TreeEnsemble, xgboost_from_dict, xgboost_to_dict

KINDS = ("xgboost", "hgb")
#: Columns of LAYER_FEATURES (log2 counts) that make the layer model's linear baseline.
_BASELINE_COLUMNS = tuple(LAYER_FEATURES.index(c) for c in ("log_macs", "log_weights", "log_inputs", "log_outputs"))
GRANULARITIES = ("auto", "layer", "network")
NETWORK_MODEL_FEATURES = NETWORK_FEATURES + MULTIPLIER_FEATURES + ("log_mult_macs",)


def _xgboost_available() -> bool:
    try:
        import xgboost  # noqa: F401
    except ImportError:
        return False
    return True


class LearnedPredictor(EnergyPredictor):
    """Gradient-boosted trees on log-energy (see the module docstring).

    Parameters
    ----------
    kind: ``xgboost`` or ``hgb``.
    granularity: ``layer``, ``network`` or ``auto`` (layer when the dataset has layer energies).
    n_estimators, learning_rate, max_depth: the boosting parameters.
    seed: random seed (row/column subsampling); n_jobs: threads for XGBoost.
    """

    kind = "learned"

    def __init__(self, kind: str = "xgboost", granularity: str = "auto", n_estimators: int = 300,
                 learning_rate: float = 0.1, max_depth: int = 6, seed: int = 0, n_jobs: int = 2,
                 accelerator: str | None = None) -> None:
        super().__init__(accelerator)
        if kind not in KINDS:
            raise ApproxDSEError(f"learned predictor kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if granularity not in GRANULARITIES:
            raise ApproxDSEError(f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
        if not isinstance(n_estimators, int) or n_estimators < 1:
            raise ApproxDSEError(f"n_estimators must be a positive integer, got {n_estimators!r}")
        if not (0 < learning_rate <= 1):
            raise ApproxDSEError(f"learning_rate must lie in (0, 1], got {learning_rate!r}")
        if not isinstance(max_depth, int) or max_depth < 1:
            raise ApproxDSEError(f"max_depth must be a positive integer, got {max_depth!r}")
        if kind == "xgboost" and not _xgboost_available():
            warnings.warn("xgboost is not installed; using scikit-learn's HistGradientBoosting instead", stacklevel=2)
            kind = "hgb"
        self.model_kind = kind
        self.granularity = granularity
        self.n_estimators = n_estimators
        self.learning_rate = float(learning_rate)
        self.max_depth = max_depth
        self.seed = int(seed)
        self.n_jobs = int(n_jobs)
        self.c: float | None = None
        self.baseline: list[float] | None = None
        self.feature_names: tuple[str, ...] = ()
        self._booster = None
        self._ensemble = None

    @property
    def fitted_granularity(self) -> str:
        return self.granularity

    # ------------------------------------------------------------------ training data
    def _layer_training(self, ds) -> tuple[np.ndarray, np.ndarray]:
        L = ds.layers
        if L.empty or "total_energy_pJ" not in L:
            raise ApproxDSEError(f"dataset {ds.directory!r} has no per-layer energies; use granularity='network'")
        X, y = [], []
        for network, group in L.groupby("network", sort=False):
            feats = layer_feature_matrix(ds.workload(network))
            idx = group["layer_index"].to_numpy(dtype=int)
            X.append(feats[idx])
            y.append(group["total_energy_pJ"].to_numpy(dtype=np.float64))
        X, energy = np.vstack(X), np.concatenate(y)
        if np.any(energy <= 0) or not np.all(np.isfinite(energy)):
            raise ApproxDSEError(f"dataset {ds.directory!r} holds non-positive or non-finite layer energies")
        self.baseline = self._fit_baseline(X, energy)
        return X, np.log(energy) - np.log(self._baseline(X))

    @staticmethod
    def _fit_baseline(X: np.ndarray, energy: np.ndarray) -> list[float]:
        """Non-negative pJ per MAC, weight, input and output word, fitted in relative terms."""
        from scipy.optimize import nnls

        A = np.exp2(X[:, _BASELINE_COLUMNS])
        coef, _ = nnls(A / energy[:, None], np.ones(len(energy)))
        if not np.any(coef > 0):
            coef = np.array([float(np.median(energy / A[:, 0])), 0.0, 0.0, 0.0])
        return [float(v) for v in coef]

    def _baseline(self, X: np.ndarray) -> np.ndarray:
        base = np.exp2(X[:, _BASELINE_COLUMNS]) @ np.asarray(self.baseline)
        return np.maximum(base, 1e-12)

    def _network_rows(self, queries: Sequence[Query]) -> np.ndarray:
        rows = []
        cache: dict[int, np.ndarray] = {}
        for q in queries:
            wid = id(q.workload)
            if wid not in cache:
                cache[wid] = network_feature_vector(q.workload)
            macs = q.layer_macs
            mvec = self._multiplier_vector(q, macs)
            mult_macs = float(macs @ q.rel)
            rows.append(np.concatenate([cache[wid], mvec, [math.log10(max(mult_macs, 1e-12))]]))
        return np.vstack(rows) if rows else np.zeros((0, len(NETWORK_MODEL_FEATURES)))

    @staticmethod
    def _multiplier_vector(q: Query, macs: np.ndarray) -> np.ndarray:
        spec = q.multiplier
        n = len(q.workload.layers)
        if isinstance(spec, dict):
            default = spec.get("*", "u8_exact")
            per_layer = [spec.get(l.name, default) for l in q.workload.layers]
        elif isinstance(spec, (list, tuple, np.ndarray)):
            per_layer = list(spec)
        else:
            per_layer = None
        if per_layer is None:
            if isinstance(spec, (int, float)):
                vec = np.full(len(MULTIPLIER_FEATURES), np.nan)
                vec[0] = float(spec)
                return vec
            return multiplier_feature_vector(spec)
        mats = []
        for s in per_layer:
            if isinstance(s, (int, float)):
                v = np.full(len(MULTIPLIER_FEATURES), np.nan)
                v[0] = float(s)
            else:
                v = multiplier_feature_vector(s)
            mats.append(v)
        mat = np.vstack(mats)
        w = macs / macs.sum() if macs.sum() > 0 else np.full(n, 1.0 / n)
        with np.errstate(invalid="ignore"):
            out = np.array([np.nansum(mat[:, j] * w) / np.sum(w[~np.isnan(mat[:, j])]) if np.any(~np.isnan(mat[:, j]))
                            else np.nan for j in range(mat.shape[1])])
        return out

    # ------------------------------------------------------------------ fit
    def fit(self, dataset: Any, accelerator: str | None = None) -> "LearnedPredictor":
        with Timer() as t:
            ds, acc = self._dataset_for(dataset, accelerator)
            self.accelerator = acc
            self._record_reference(ds)
            if self.granularity == "auto":
                self.granularity = "layer" if (not ds.layers.empty and "total_energy_pJ" in ds.layers) else "network"
            if self.granularity == "layer":
                X, y = self._layer_training(ds)
                self.feature_names = LAYER_FEATURES
                summing = SummingPredictor(store_anchors=False).fit(ds, acc)
                self.c = summing.c if summing.c is not None else 0.0
            else:
                e = ds.energy
                queries = [Query(ds.workload(n), per_layer_relative_energy(ds.workload(n), m), m)
                           for n, m in zip(e["network"], e["multiplier"])]
                X = self._network_rows(queries)
                y = np.log(e["total_energy_pJ"].to_numpy(dtype=np.float64))
                self.feature_names = NETWORK_MODEL_FEATURES
            if not np.all(np.isfinite(y)):
                raise ApproxDSEError(f"dataset {ds.directory!r} holds non-positive or non-finite energies")
            self._train(X, y)
        self.fit_seconds = t.seconds
        return self

    def _train(self, X: np.ndarray, y: np.ndarray) -> None:
        if self.model_kind == "xgboost":
            import xgboost as xgb

            model = xgb.XGBRegressor(
                n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
                subsample=0.8, colsample_bytree=0.8, min_child_weight=1.0, reg_lambda=1.0,
                tree_method="hist", random_state=self.seed, n_jobs=self.n_jobs,
            )
            model.fit(X, y)
            self._booster = model.get_booster()
            # Predictions come in small batches (one search generation): one thread is fastest
            # and leaves the other cores to parallel evaluations.
            self._booster.set_param({"nthread": 1})
        else:
            from sklearn.ensemble import HistGradientBoostingRegressor

            model = HistGradientBoostingRegressor(
                max_iter=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
                max_leaf_nodes=63, min_samples_leaf=5, early_stopping=False, random_state=self.seed,
            )
            model.fit(X, y)
            self._ensemble = TreeEnsemble.from_hgb(model)

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] == 0:
            return np.zeros(0)
        if self.model_kind == "xgboost":
            if self._booster is None:
                raise ApproxDSEError("this learned predictor is not fitted yet; call fit() or load a model")
            return np.asarray(self._booster.inplace_predict(X), dtype=np.float64)
        if self._ensemble is None:
            raise ApproxDSEError("this learned predictor is not fitted yet; call fit() or load a model")
        return self._ensemble.predict(X)

    # ------------------------------------------------------------------ predict
    def _predict_queries(self, queries: Sequence[Query], accelerator: str) -> np.ndarray:
        if not queries:
            return np.zeros(0)
        if self.granularity == "layer":
            cache: dict[int, float] = {}
            feats, owners, todo = [], [], []
            for q in queries:
                wid = id(q.workload)
                if wid not in cache:
                    cache[wid] = math.nan
                    todo.append(q.workload)
            for k, w in enumerate(todo):
                m = layer_feature_matrix(w)
                feats.append(m)
                owners.append(np.full(m.shape[0], k))
            X = np.vstack(feats)
            energy = np.exp(self._raw_predict(X)) * self._baseline(X)
            per_net = np.bincount(np.concatenate(owners), weights=energy, minlength=len(todo))
            base = {id(w): per_net[k] for k, w in enumerate(todo)}
            return np.array([base[id(q.workload)] + (self.c or 0.0) * float(q.layer_macs @ (q.rel - 1.0))
                             for q in queries])
        X = self._network_rows(queries)
        return np.exp(self._raw_predict(X))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        if self._booster is None and self._ensemble is None:
            raise ApproxDSEError("cannot save an unfitted learned predictor")
        return {
            **self._base_dict(), "model_kind": self.model_kind, "granularity": self.granularity,
            "params": {"n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                       "max_depth": self.max_depth, "seed": self.seed},
            "c": self.c, "baseline": self.baseline, "features": list(self.feature_names),
            "target": "log(layer energy / baseline)" if self.granularity == "layer" else "log(energy_pJ)",
            "model": xgboost_to_dict(self._booster) if self.model_kind == "xgboost" else self._ensemble.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LearnedPredictor":
        params = data.get("params", {})
        kind = data["model_kind"]
        if kind == "xgboost" and not _xgboost_available():
            raise ApproxDSEError("this model needs xgboost; pip install xgboost-cpu")
        p = cls(kind=kind, granularity=data["granularity"], n_estimators=int(params.get("n_estimators", 300)),
                learning_rate=float(params.get("learning_rate", 0.1)), max_depth=int(params.get("max_depth", 6)),
                seed=int(params.get("seed", 0)))
        p._load_base(data)
        p.c = data.get("c")
        p.baseline = data.get("baseline")
        if p.granularity == "layer" and (not isinstance(p.baseline, list) or len(p.baseline) != len(_BASELINE_COLUMNS)):
            raise ApproxDSEError("the layer model's baseline coefficients are missing or malformed")
        p.feature_names = tuple(data["features"])
        expected = LAYER_FEATURES if p.granularity == "layer" else NETWORK_MODEL_FEATURES
        if p.feature_names != tuple(expected):
            raise ApproxDSEError(
                "this model was trained on a different feature set than this approxdse computes; retrain it"
            )
        if kind == "xgboost":
            p._booster = xgboost_from_dict(data["model"])
            p._booster.set_param({"nthread": 1})
        else:
            p._ensemble = TreeEnsemble.from_dict(data["model"])
        return p
