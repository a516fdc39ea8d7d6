"""Gradient-boosted tree ensembles as JSON: XGBoost boosters and scikit-learn HistGradientBoosting.

Never pickle: an XGBoost booster is kept in XGBoost's own JSON model format
(embedded as a JSON object); a fitted ``HistGradientBoostingRegressor`` is
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
