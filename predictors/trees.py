"""Gradient-boosted tree ensembles as JSON: XGBoost boosters and scikit-learn HistGradientBoosting.

Never pickle: an XGBoost booster is kept in XGBoost's own JSON model format
(embedded as a JSON object) and evaluated here by :class:`XGBoostTrees`
(vectorised numpy over rows and trees, float32 splits as XGBoost makes them),
so that loading and predicting need no XGBoost import (which costs seconds:
it imports scikit-learn and scipy); a fitted ``HistGradientBoostingRegressor`` is
reduced to its trees' node arrays (feature, threshold, children, missing-value
direction, leaf value) plus the baseline, and evaluated here with numpy, so a
saved model needs no scikit-learn internals to load.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from approxdse.core.errors import ApproxDSEError


# --------------------------------------------------------------------------- XGBoost
def xgboost_to_dict(booster) -> dict:
    """The booster in XGBoost's JSON model format, as a dict."""
    return json.loads(bytes(booster.save_raw(raw_format="json")).decode())


def xgboost_from_dict(model: dict):
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(json.dumps(model).encode()))
    except xgb.core.XGBoostError as exc:
        raise ApproxDSEError(f"the embedded XGBoost model is corrupt ({str(exc).splitlines()[0]})") from None
    return booster


#: Batches above this many rows go through a numba kernel (numba's import costs more than a
#: small batch: ``approxdse energy --predictor`` stays in numpy).
NUMBA_ROWS = 256


def _xgb_python(X, base, feature, threshold, left, right, default_left, value, is_leaf):
    out = np.full(X.shape[0], base)
    for i in range(X.shape[0]):
        total = 0.0
        for t in range(feature.shape[0]):
            node = 0
            while not is_leaf[t, node]:
                x = X[i, feature[t, node]]
                if x != x:
                    node = left[t, node] if default_left[t, node] else right[t, node]
                elif x < threshold[t, node]:
                    node = left[t, node]
                else:
                    node = right[t, node]
            total += value[t, node]
        out[i] += total
    return out


_XGB_COMPILED: list = []


def _xgb_numba(*args):
    """:func:`_xgb_python` compiled by numba on first use (imported here: see :func:`_predict_numba`)."""
    if not _XGB_COMPILED:
        try:
            from numba import njit

            _XGB_COMPILED.append(njit(cache=True, nogil=True)(_xgb_python))
        except ImportError:  # pragma: no cover - numba is a dependency
            _XGB_COMPILED.append(_xgb_python)
    return _XGB_COMPILED[0](*args)


def _xgb_float(text: Any) -> float:
    """XGBoost writes base_score as ``"5E-1"`` or ``"[5E-1]"``."""
    return float(str(text).strip("[]"))


@dataclass
class XGBoostTrees:
    """An XGBoost regression booster (``reg:*`` objective, numeric splits) read from its JSON model.

    ``predict(X)`` equals ``Booster.inplace_predict(X)`` (float32 inputs and thresholds, ``x < t``
    goes left, NaN follows ``default_left``) to float32 rounding of the leaf sum.
    """

    base_score: float
    feature: np.ndarray  # [trees, nodes] int64, leaves point at themselves
    threshold: np.ndarray  # float32
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray  # bool
    value: np.ndarray  # float64 leaf values (0 for internal nodes)
    is_leaf: np.ndarray
    depth: int

    @classmethod
    def from_model(cls, model: dict) -> "XGBoostTrees":
        try:
            learner = model["learner"]
            objective = learner["objective"]["name"]
            if not objective.startswith("reg:"):
                raise ValueError(f"objective {objective} is not a regression")
            base = _xgb_float(learner["learner_model_param"]["base_score"])
            trees = learner["gradient_booster"]["model"]["trees"]
            width = max(len(t["left_children"]) for t in trees) if trees else 1
            n = len(trees)
            feature = np.zeros((n, width), dtype=np.int64)
            threshold = np.zeros((n, width), dtype=np.float32)
            left = np.tile(np.arange(width, dtype=np.int64), (n, 1))
            right = left.copy()
            default_left = np.zeros((n, width), dtype=bool)
            value = np.zeros((n, width), dtype=np.float64)
            is_leaf = np.ones((n, width), dtype=bool)
            depth = 0
            for i, t in enumerate(trees):
                if any(t.get("split_type", [])) or t.get("categories"):
                    raise ValueError("categorical splits are not supported")
                lc, rc = np.asarray(t["left_children"], dtype=np.int64), np.asarray(t["right_children"], dtype=np.int64)
                k = len(lc)
                leaf = lc == -1
                cond = np.asarray(t["split_conditions"], dtype=np.float64)
                feature[i, :k] = np.where(leaf, 0, np.asarray(t["split_indices"], dtype=np.int64))
                threshold[i, :k] = np.where(leaf, 0.0, cond).astype(np.float32)
                left[i, :k] = np.where(leaf, np.arange(k), lc)
                right[i, :k] = np.where(leaf, np.arange(k), rc)
                default_left[i, :k] = np.asarray(t["default_left"], dtype=bool)
                value[i, :k] = np.where(leaf, cond, 0.0)
                is_leaf[i, :k] = leaf
                d = np.zeros(k, dtype=np.int64)
                for node in range(k):  # XGBoost numbers parents before children
                    if not leaf[node]:
                        d[lc[node]] = d[rc[node]] = d[node] + 1
                depth = max(depth, int(d.max()))
            if np.any(left >= width) or np.any(right >= width) or np.any(left < 0) or np.any(right < 0):
                raise ValueError("a child index points outside its tree")
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ApproxDSEError(f"the embedded XGBoost model is corrupt or unsupported ({exc})") from None
        return cls(base, feature, threshold, left, right, default_left, value, is_leaf, depth)

    def predict(self, X: Any) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ApproxDSEError(f"tree ensemble input must be 2-D, got shape {X.shape}")
        n, trees = X.shape[0], self.feature.shape[0]
        if n == 0 or trees == 0:
            return np.full(n, self.base_score)
        if n > NUMBA_ROWS:
            return _xgb_numba(X, self.base_score, self.feature, self.threshold, self.left, self.right,
                              self.default_left, self.value, self.is_leaf)
        tree = np.arange(trees)[None, :]
        rows = np.arange(n)[:, None]
        node = np.zeros((n, trees), dtype=np.int64)
        for _ in range(self.depth):
            x = X[rows, self.feature[tree, node]]
            go_left = np.where(np.isnan(x), self.default_left[tree, node], x < self.threshold[tree, node])
            node = np.where(go_left, self.left[tree, node], self.right[tree, node])
        return self.base_score + self.value[tree, node].sum(axis=1)


# --------------------------------------------------------------------------- HistGradientBoosting
@dataclass
class TreeEnsemble:
    """Additive regression trees: ``baseline + sum_t tree_t(x)``, with NaN routed per node."""

    baseline: float
    trees: list[dict]  # each: feature, threshold, left, right, is_leaf, missing_left, value (lists)

    @classmethod
    def from_hgb(cls, model) -> "TreeEnsemble":
        """Read a fitted ``HistGradientBoostingRegressor`` (numeric features only)."""
        if getattr(model, "is_categorical_", None) is not None and np.any(model.is_categorical_):
            raise ApproxDSEError("categorical features are not supported in saved HistGradientBoosting models")
        trees = []
        for iteration in model._predictors:
            for pred in iteration:  # one tree per iteration for regression
                nodes = pred.nodes
                trees.append({
                    "feature": nodes["feature_idx"].astype(int).tolist(),
                    "threshold": nodes["num_threshold"].astype(float).tolist(),
                    "left": nodes["left"].astype(int).tolist(),
                    "right": nodes["right"].astype(int).tolist(),
                    "is_leaf": nodes["is_leaf"].astype(bool).tolist(),
                    "missing_left": nodes["missing_go_to_left"].astype(bool).tolist(),
                    "value": nodes["value"].astype(float).tolist(),
                })
        baseline = float(np.ravel(model._baseline_prediction)[0])
        return cls(baseline, trees)

    def to_dict(self) -> dict:
        return {"baseline": self.baseline, "trees": self.trees}

    @classmethod
    def from_dict(cls, data: dict) -> "TreeEnsemble":
        try:
            ens = cls(float(data["baseline"]), list(data["trees"]))
            ens._arrays()
        except (KeyError, TypeError, ValueError) as exc:
            raise ApproxDSEError(f"the saved tree ensemble is corrupt ({exc})") from None
        return ens

    def _arrays(self) -> tuple[np.ndarray, ...]:
        """All trees flattened into one set of node arrays (children re-indexed), plus tree roots."""
        if not hasattr(self, "_cache"):
            feature, threshold, left, right, leaf, missing, value, roots = [], [], [], [], [], [], [], []
            offset = 0
            for t in self.trees:
                n = len(t["feature"])
                roots.append(offset)
                feature.append(np.asarray(t["feature"], dtype=np.int64))
                threshold.append(np.asarray(t["threshold"], dtype=np.float64))
                left.append(np.asarray(t["left"], dtype=np.int64) + offset)
                right.append(np.asarray(t["right"], dtype=np.int64) + offset)
                leaf.append(np.asarray(t["is_leaf"], dtype=np.bool_))
                missing.append(np.asarray(t["missing_left"], dtype=np.bool_))
                value.append(np.asarray(t["value"], dtype=np.float64))
                if not (len(t["threshold"]) == len(t["left"]) == len(t["right"]) == len(t["is_leaf"])
                        == len(t["missing_left"]) == len(t["value"]) == n):
                    raise ValueError("node arrays of different lengths")
                offset += n

            def cat(xs, dt):
                return np.concatenate(xs) if xs else np.zeros(0, dtype=dt)

            arrays = (cat(feature, np.int64), cat(threshold, np.float64), cat(left, np.int64),
                      cat(right, np.int64), cat(leaf, np.bool_), cat(missing, np.bool_), cat(value, np.float64),
                      np.asarray(roots, dtype=np.int64))
            internal = ~arrays[4]
            if offset and (np.any(arrays[2][internal] >= offset) or np.any(arrays[3][internal] >= offset)
                           or np.any(arrays[2][internal] < 0)):
                raise ValueError("a child index points outside its tree")
            self._cache = arrays
        return self._cache

    def predict(self, X: Any) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ApproxDSEError(f"tree ensemble input must be 2-D, got shape {X.shape}")
        return _predict_numba(X, self.baseline, *self._arrays())


def _predict_python(X, baseline, feature, threshold, left, right, leaf, missing, value, roots):
    out = np.full(X.shape[0], baseline)
    for i in range(X.shape[0]):
        total = 0.0
        for root in roots:
            node = root
            while not leaf[node]:
                x = X[i, feature[node]]
                if x != x:
                    node = left[node] if missing[node] else right[node]
                elif x <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            total += value[node]
        out[i] += total
    return out


_COMPILED: list = []


def _predict_numba(*args):
    """:func:`_predict_python` compiled by numba on first use.

    numba is imported here, not at module top, so that importing the predictors
    (and with them ``approxdse --help``) does not pay numba's import time.
    """
    if not _COMPILED:
        try:
            from numba import njit

            _COMPILED.append(njit(cache=True, nogil=True)(_predict_python))
        except ImportError:  # pragma: no cover - numba is a dependency; pure Python gives the same numbers
            _COMPILED.append(_predict_python)
    return _COMPILED[0](*args)
