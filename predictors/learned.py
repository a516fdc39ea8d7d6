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

Uncertainty (``interval_folds=``, default 5): besides the model fitted on every
training network, ``interval_folds`` models are fitted with one fold of the
training networks left out each; each left-out
network's residual ``log(reference / predicted)`` is kept (not those of the
random-layer pseudo-networks, dataset kind ``layers``: they train the fold
models, but the pools describe networks), in two pools: networks with a layer outside
their fold model's training domain, and the others. Folds are drawn by group: a zoo
network goes with its whole architecture family (:func:`approxdse.networks.zoo.family`),
and the residuals of the zoo networks also make a third pool, ``families``: the error
on families a fold model never saw. With ``MIN_POOL`` of those, every interval spans
both its own pool's bounds and the family pool's.
:meth:`LearnedPredictor.predict_interval` gives a ``level`` interval (90% by
default) from the pool's conformal quantiles (split-conformal order statistics,
``ceil((n + 1) q)``), and flags each layer whose features lie outside the
training range of its kind (:data:`~predictors.features.LAYER_KINDS`: conv,
pointwise, grouped, depthwise, fc; a kind never seen in training is out of
domain). A pool with fewer than ``MIN_POOL`` residuals is replaced by both
pools together (widened ``OOD_WIDEN`` times for an out-of-domain network); with
fewer than ``1 / (1 - level)`` residuals the extreme ones bound the interval,
which then covers less than ``level``.

Models: XGBoost (``kind="xgboost"``, the default) or scikit-learn's
HistGradientBoosting (``kind="hgb"``, also the fallback when XGBoost is not
installed). Saved as JSON/UBJSON (see :mod:`predictors.io`), never pickled.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.networks import zoo
from approxdse.predictors.base import Assignment, EnergyPredictor, NetworkLike, Query, Timer, normalise
from approxdse.predictors.energy_model import EnergyEstimate, LayerMultipliers
from approxdse.predictors.features import (
    LAYER_FEATURES,
    LAYER_KINDS,
    MULTIPLIER_FEATURES,
    NETWORK_FEATURES,
    layer_feature_matrix,
    layer_kinds,
    multiplier_feature_vector,
    network_feature_vector,
)
from approxdse.predictors.features import per_layer_relative_energy
from approxdse.predictors.summing import SummingPredictor
from approxdse.predictors.trees import TreeEnsemble, XGBoostTrees, xgboost_to_dict

KINDS = ("xgboost", "hgb")
#: Columns of LAYER_FEATURES (log2 counts) that make the layer model's linear baseline.
_BASELINE_COLUMNS = tuple(LAYER_FEATURES.index(c) for c in ("log_macs", "log_weights", "log_inputs", "log_outputs"))
GRANULARITIES = ("auto", "layer", "network")
NETWORK_MODEL_FEATURES = NETWORK_FEATURES + MULTIPLIER_FEATURES + ("log_mult_macs",)
#: Out-of-domain calibration networks needed for their own residual pool.
MIN_POOL = 10
#: Widening of the pooled interval for an out-of-domain network when that pool is too small.
OOD_WIDEN = 2.0
#: Relative slack of the training range before a feature value counts as outside it.
_DOMAIN_SLACK = 1e-9


@dataclass(frozen=True)
class PredictionInterval:
    """:meth:`LearnedPredictor.predict_interval`'s answer, one entry per network (pJ).

    ``out_of_domain_layers[i]``: names of network ``i``'s layers outside the training domain.
    """

    energy: np.ndarray
    low: np.ndarray
    high: np.ndarray
    level: float
    out_of_domain_layers: tuple[tuple[str, ...], ...]

    @property
    def out_of_domain(self) -> np.ndarray:
        return np.array([bool(x) for x in self.out_of_domain_layers], dtype=bool)

    @property
    def relative_width(self) -> np.ndarray:
        return (self.high - self.low) / self.energy


@dataclass
class LayerDomain:
    """Per layer kind, the min and max of every layer feature over the training layers."""

    ranges: dict[str, tuple[np.ndarray, np.ndarray]]

    @classmethod
    def of(cls, X: np.ndarray, kinds: Sequence[str]) -> "LayerDomain":
        kinds = np.asarray(kinds)
        return cls({k: (X[kinds == k].min(axis=0), X[kinds == k].max(axis=0))
                    for k in LAYER_KINDS if np.any(kinds == k)})

    def outside(self, X: np.ndarray, kinds: Sequence[str]) -> np.ndarray:
        """Bool per row: its kind was never seen, or a feature lies outside that kind's range."""
        out = np.ones(len(kinds), dtype=bool)
        for i, k in enumerate(kinds):
            if k in self.ranges:
                lo, hi = self.ranges[k]
                slack = _DOMAIN_SLACK * np.maximum(np.abs(lo), np.abs(hi))
                out[i] = bool(np.any(X[i] < lo - slack) or np.any(X[i] > hi + slack))
        return out

    def to_dict(self) -> dict:
        return {k: {"min": lo.tolist(), "max": hi.tolist()} for k, (lo, hi) in self.ranges.items()}

    @classmethod
    def from_dict(cls, data: dict, width: int) -> "LayerDomain":
        ranges = {}
        for k, v in data.items():
            lo, hi = np.asarray(v["min"], dtype=np.float64), np.asarray(v["max"], dtype=np.float64)
            if k not in LAYER_KINDS or lo.shape != (width,) or hi.shape != (width,):
                raise ApproxDSEError("the model's layer domain is malformed; retrain it")
            ranges[k] = (lo, hi)
        return cls(ranges)


def conformal_bounds(residuals: np.ndarray, level: float) -> tuple[float, float]:
    """Lower and upper split-conformal quantiles of signed residuals for a central ``level`` interval."""
    r = np.sort(np.asarray(residuals, dtype=np.float64))
    n = len(r)
    if n == 0:
        raise ApproxDSEError("this model has no calibration residuals; refit it with interval_folds >= 2")
    tail = (1.0 - level) / 2.0
    k_hi = math.ceil((n + 1) * (1.0 - tail))
    k_lo = math.floor((n + 1) * tail)
    return float(r[max(k_lo, 1) - 1]), float(r[min(k_hi, n) - 1])


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
    seed: random seed (row/column subsampling, interval folds); n_jobs: threads for XGBoost
    training (default 1: on a busy machine OpenMP threads spin against other processes, and
    an 8k-row fit measured 47 s with 2 threads against 4 s with 1).
    interval_folds: folds of the cross-fitted residuals behind :meth:`predict_interval`
    (0: no intervals, faster fits).
    """

    kind = "learned"

    def __init__(self, kind: str = "xgboost", granularity: str = "auto", n_estimators: int = 300,
                 learning_rate: float = 0.1, max_depth: int = 6, seed: int = 0, n_jobs: int = 1,
                 accelerator: str | None = None, interval_folds: int = 5) -> None:
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
        if not isinstance(interval_folds, int) or interval_folds < 0 or interval_folds == 1:
            raise ApproxDSEError(f"interval_folds must be 0 (no intervals) or at least 2, got {interval_folds!r}")
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
        self.interval_folds = interval_folds
        self.domain: LayerDomain | None = None
        #: Cross-fitted residuals log(reference / predicted): {"in_domain": [...], "out_of_domain": [...]}.
        self.residuals: dict[str, list[float]] = {}
        self.c: float | None = None
        self.baseline: list[float] | None = None
        self.feature_names: tuple[str, ...] = ()
        self._booster = None
        self._model_json: dict | None = None
        self._ensemble = None

    @property
    def fitted_granularity(self) -> str:
        return self.granularity

    # ------------------------------------------------------------------ training data
    def _layer_training(self, ds) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
        """Layer rows: features, target, owning network index, kinds, reference energy (pJ)."""
        L = ds.layers
        if L.empty or "total_energy_pJ" not in L:
            raise ApproxDSEError(f"dataset {ds.directory!r} has no per-layer energies; use granularity='network'")
        X, y, owner, kinds = [], [], [], []
        for k, (network, group) in enumerate(L.groupby("network", sort=False)):
            w = ds.workload(network)
            feats = layer_feature_matrix(w)
            idx = group["layer_index"].to_numpy(dtype=int)
            X.append(feats[idx])
            y.append(group["total_energy_pJ"].to_numpy(dtype=np.float64))
            owner.append(np.full(len(idx), k))
            all_kinds = layer_kinds(w)
            kinds += [all_kinds[i] for i in idx]
        X, energy = np.vstack(X), np.concatenate(y)
        if np.any(energy <= 0) or not np.all(np.isfinite(energy)):
            raise ApproxDSEError(f"dataset {ds.directory!r} holds non-positive or non-finite layer energies")
        self.baseline = self._fit_baseline(X, energy)
        return X, np.log(energy) - np.log(self._baseline(X)), np.concatenate(owner), kinds, energy

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
                X, y, owner, kinds, energy = self._layer_training(ds)
                self.feature_names = LAYER_FEATURES
                summing = SummingPredictor(store_anchors=False).fit(ds, acc)
                self.c = summing.c if summing.c is not None else 0.0
                layer_X, layer_kind = X, kinds
            else:
                e = ds.energy
                queries = [Query(ds.workload(n), per_layer_relative_energy(ds.workload(n), m), m)
                           for n, m in zip(e["network"], e["multiplier"])]
                X = self._network_rows(queries)
                y = np.log(e["total_energy_pJ"].to_numpy(dtype=np.float64))
                self.feature_names = NETWORK_MODEL_FEATURES
                names = list(dict.fromkeys(e["network"]))
                index = {n: i for i, n in enumerate(names)}
                owner = np.array([index[n] for n in e["network"]])
                layer_X = np.vstack([layer_feature_matrix(ds.workload(n)) for n in names])
                layer_kind = [k for n in names for k in layer_kinds(ds.workload(n))]
                energy = None
            if not np.all(np.isfinite(y)):
                raise ApproxDSEError(f"dataset {ds.directory!r} holds non-positive or non-finite energies")
            self._set_model(self._train(X, y))
            self.domain = LayerDomain.of(layer_X, layer_kind)
            self.residuals = {}
            if self.interval_folds:
                self._calibrate(ds, X, y, owner, energy)
        self.fit_seconds = t.seconds
        return self

    def _calibrate(self, ds, X: np.ndarray, y: np.ndarray, owner: np.ndarray, energy: np.ndarray | None) -> None:
        """Cross-fitted residuals (see the module docstring): one model per fold of networks."""
        n_nets = int(owner.max()) + 1
        folds = min(self.interval_folds, n_nets)
        if folds < 2:
            raise ApproxDSEError("intervals need at least two training networks; pass interval_folds=0")
        if self.granularity == "layer":
            names = list(dict.fromkeys(ds.layers["network"]))
        else:
            names = list(dict.fromkeys(ds.energy["network"]))
        # folds by group: a zoo network goes with its whole architecture family, so that the
        # family pool measures the error on families the fold model never saw
        groups = [zoo.family(n) if zoo.has(n) else n for n in names]
        unique = list(dict.fromkeys(groups))
        folds = min(folds, len(unique))
        if folds < 2:
            raise ApproxDSEError("intervals need networks of at least two families; pass interval_folds=0")
        group_fold = np.empty(len(unique), dtype=int)
        group_fold[np.random.default_rng(self.seed).permutation(len(unique))] = np.arange(len(unique)) % folds
        index = {g: i for i, g in enumerate(unique)}
        fold_of = np.array([group_fold[index[g]] for g in groups], dtype=int)
        # pseudo-networks of random layers (dataset kind "layers") train the folds but give no residual:
        # the pools describe networks
        kind_of = dict(zip(ds.networks["network"], ds.networks["network_kind"])) if "network_kind" in ds.networks else {}
        pools: dict[str, list[float]] = {"in_domain": [], "out_of_domain": [], "families": []}
        for f in range(folds):
            test_nets = np.flatnonzero(fold_of == f)
            rows = fold_of[owner] == f
            model = self._train(X[~rows], y[~rows])
            train_names = [names[i] for i in np.flatnonzero(fold_of != f)]
            train_w = [ds.workload(n) for n in train_names]
            domain = LayerDomain.of(np.vstack([layer_feature_matrix(w) for w in train_w]),
                                    [k for w in train_w for k in layer_kinds(w)])
            pred = self._raw_predict_with(model, X[rows])
            for k in test_nets:
                if kind_of.get(names[k]) == "layers":
                    continue
                w = ds.workload(names[k])
                ood = bool(domain.outside(layer_feature_matrix(w), layer_kinds(w)).any())
                mine = owner[rows] == k
                if self.granularity == "layer":
                    predicted = float(np.sum(np.exp(pred[mine]) * self._baseline(X[rows][mine])))
                    reference = float(np.sum(energy[rows][mine]))
                    res = [math.log(reference / predicted)]
                else:
                    res = list(y[rows][mine] - pred[mine])
                pools["out_of_domain" if ood else "in_domain"] += [float(v) for v in res]
                if zoo.has(names[k]):
                    pools["families"] += [float(v) for v in res]
        self.residuals = {k: sorted(v) for k, v in pools.items()}

    def _train(self, X: np.ndarray, y: np.ndarray):
        """A fitted booster (XGBoost) or :class:`TreeEnsemble` (HGB) for these rows."""
        if self.model_kind == "xgboost":
            import xgboost as xgb

            model = xgb.XGBRegressor(
                n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
                subsample=0.8, colsample_bytree=0.8, min_child_weight=1.0, reg_lambda=1.0,
                tree_method="hist", random_state=self.seed, n_jobs=self.n_jobs,
            )
            model.fit(X, y)
            booster = model.get_booster()
            # Predictions come in small batches (one search generation): one thread is fastest
            # and leaves the other cores to parallel evaluations.
            booster.set_param({"nthread": 1})
            return booster
        from sklearn.ensemble import HistGradientBoostingRegressor

        model = HistGradientBoostingRegressor(
            max_iter=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
            max_leaf_nodes=63, min_samples_leaf=5, early_stopping=False, random_state=self.seed,
        )
        model.fit(X, y)
        return TreeEnsemble.from_hgb(model)

    def _set_model(self, model) -> None:
        if self.model_kind == "xgboost":
            self._model_json = xgboost_to_dict(model)
            # predictions use numpy trees read from the JSON model: no XGBoost import to load a model
            self._booster = XGBoostTrees.from_model(self._model_json)
        else:
            self._ensemble = model

    def _raw_predict_with(self, model, X: np.ndarray) -> np.ndarray:
        if X.shape[0] == 0:
            return np.zeros(0)
        if self.model_kind == "xgboost" and not isinstance(model, XGBoostTrees):
            return np.asarray(model.inplace_predict(X), dtype=np.float64)
        return model.predict(X)

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        model = self._booster if self.model_kind == "xgboost" else self._ensemble
        if model is None:
            raise ApproxDSEError("this learned predictor is not fitted yet; call fit() or load a model")
        return self._raw_predict_with(model, X)

    # ------------------------------------------------------------------ predict
    def _predict_queries(self, queries: Sequence[Query], accelerator: str) -> np.ndarray:
        if not queries:
            return np.zeros(0)
        if self.granularity == "layer":
            per_layer = self._layer_energies(queries)
            return np.array([float(per_layer[id(q.workload)].sum()) + (self.c or 0.0) * float(q.layer_macs @ (q.rel - 1.0))
                             for q in queries])
        X = self._network_rows(queries)
        return np.exp(self._raw_predict(X))

    def _layer_energies(self, queries: Sequence[Query]) -> dict[int, np.ndarray]:
        """Predicted exact-multiplier energy (pJ) of every layer, per distinct workload (by id)."""
        todo = list({id(q.workload): q.workload for q in queries}.values())
        feats = [layer_feature_matrix(w) for w in todo]
        X = np.vstack(feats)
        energy = np.exp(self._raw_predict(X)) * self._baseline(X)
        out, start = {}, 0
        for w, m in zip(todo, feats):
            out[id(w)] = energy[start:start + len(m)]
            start += len(m)
        return out

    def predict_layers(self, network: NetworkLike) -> np.ndarray:
        """Predicted exact-multiplier energy (pJ) of each layer of one network (layer models only)."""
        if self.granularity != "layer":
            raise ApproxDSEError("per-layer energies need a layer-level model (granularity='layer')")
        self._check_accelerator(None)
        q = normalise(network, "u8_exact")[0]
        return self._layer_energies([q])[id(q.workload)]

    def out_of_domain_layers(self, network: NetworkLike) -> tuple[str, ...]:
        """Names of the network's layers outside the training domain (see the module docstring)."""
        q = normalise(network, "u8_exact")[0]
        return self._ood_names(q.workload)

    def _ood_names(self, workload) -> tuple[str, ...]:
        if self.domain is None:
            return ()
        flags = self.domain.outside(layer_feature_matrix(workload), layer_kinds(workload))
        return tuple(l.name for l, f in zip(workload.layers, flags) if f)

    @property
    def has_intervals(self) -> bool:
        return bool(self.residuals.get("in_domain") or self.residuals.get("out_of_domain"))

    def _bounds(self, ood: bool, level: float) -> tuple[float, float]:
        """log-space bounds: the own pool's conformal quantiles when it has ``MIN_POOL`` residuals, else
        those of both pools (widened ``OOD_WIDEN`` times for an out-of-domain network); always around 0."""
        pool = self.residuals.get("out_of_domain" if ood else "in_domain") or []
        widen = 1.0
        if len(pool) < MIN_POOL:
            pool = list(self.residuals.get("in_domain", [])) + list(self.residuals.get("out_of_domain", []))
            widen = OOD_WIDEN if ood else 1.0
        lo, hi = conformal_bounds(np.asarray(pool), level)
        family = self.residuals.get("families") or []
        if len(family) >= MIN_POOL:  # also cover the error on architecture families never seen
            flo, fhi = conformal_bounds(np.asarray(family), level)
            lo, hi = min(lo, flo), max(hi, fhi)
        return min(widen * lo, 0.0), max(widen * hi, 0.0)

    def predict_interval(self, networks: NetworkLike | Sequence[NetworkLike],
                         multipliers: Assignment | Sequence[Assignment] = "u8_exact",
                         accelerator: str | None = None, level: float = 0.9) -> PredictionInterval:
        """Point predictions, a central ``level`` interval (default 90%) and the out-of-domain layers
        of each network (arguments as :meth:`predict`)."""
        if not (isinstance(level, (int, float)) and 0 < level < 1):
            raise ApproxDSEError(f"the interval level must lie in (0, 1), got {level!r}")
        if not self.has_intervals:
            raise ApproxDSEError("this learned model has no calibration residuals (fitted with interval_folds=0 "
                                 "or saved by an older approxdse); refit it to get intervals")
        acc = self._check_accelerator(accelerator)
        queries = normalise(networks, multipliers)
        energy = self._predict_queries(queries, acc)
        ood = tuple(self._ood_names(q.workload) for q in queries)
        low, high = np.empty(len(queries)), np.empty(len(queries))
        for i, names in enumerate(ood):
            lo, hi = self._bounds(bool(names), float(level))
            low[i], high[i] = energy[i] * math.exp(lo), energy[i] * math.exp(hi)
        return PredictionInterval(energy, low, high, float(level), ood)

    def estimate(self, workload, multipliers: LayerMultipliers, level: float = 0.9) -> EnergyEstimate:
        """The :class:`~approxdse.predictors.energy_model.EnergyEstimate` of one network: energy,
        interval (when the model has calibration residuals) and out-of-domain layers."""
        spec = list(multipliers) if isinstance(multipliers, (list, tuple)) else multipliers
        if not self.has_intervals:
            return EnergyEstimate(self.energy(workload, multipliers),
                                  out_of_domain_layers=self.out_of_domain_layers(workload))
        r = self.predict_interval([workload], [spec], self.accelerator, level)
        return EnergyEstimate(float(r.energy[0]), float(r.low[0]), float(r.high[0]), r.level,
                              r.out_of_domain_layers[0])

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        if self._booster is None and self._ensemble is None:
            raise ApproxDSEError("cannot save an unfitted learned predictor")
        return {
            **self._base_dict(), "model_kind": self.model_kind, "granularity": self.granularity,
            "params": {"n_estimators": self.n_estimators, "learning_rate": self.learning_rate,
                       "max_depth": self.max_depth, "seed": self.seed, "interval_folds": self.interval_folds},
            "domain": self.domain.to_dict() if self.domain is not None else None,
            "residuals": self.residuals,
            "c": self.c, "baseline": self.baseline, "features": list(self.feature_names),
            "target": "log(layer energy / baseline)" if self.granularity == "layer" else "log(energy_pJ)",
            "model": self._model_json if self.model_kind == "xgboost" else self._ensemble.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "LearnedPredictor":
        params = data.get("params", {})
        kind = data["model_kind"]
        if kind not in KINDS:
            raise ApproxDSEError(f"unknown learned model kind {kind!r}")
        # built as "hgb" so that a saved XGBoost model loads without XGBoost installed (numpy trees)
        p = cls(kind="hgb", granularity=data["granularity"], n_estimators=int(params.get("n_estimators", 300)),
                learning_rate=float(params.get("learning_rate", 0.1)), max_depth=int(params.get("max_depth", 6)),
                seed=int(params.get("seed", 0)), interval_folds=int(params.get("interval_folds", 0)))
        p.model_kind = kind
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
        p.domain = LayerDomain.from_dict(data["domain"], len(LAYER_FEATURES)) if data.get("domain") else None
        res = data.get("residuals") or {}
        p.residuals = {k: [float(v) for v in res.get(k, [])] for k in ("in_domain", "out_of_domain", "families")}
        if not all(math.isfinite(v) for vs in p.residuals.values() for v in vs):
            raise ApproxDSEError("the model's calibration residuals are malformed; retrain it")
        if kind == "xgboost":
            if not isinstance(data["model"], dict):
                raise ApproxDSEError("the embedded XGBoost model is corrupt")
            p._model_json = data["model"]
            p._booster = XGBoostTrees.from_model(data["model"])
        else:
            p._ensemble = TreeEnsemble.from_dict(data["model"])
        return p
