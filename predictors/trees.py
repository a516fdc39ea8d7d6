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

from approxdse.errors import ApproxDSEError


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

    def _arrays(self) -> list[tuple[np.ndarray, ...]]:
        if not hasattr(self, "_cache"):
            self._cache = [
                (np.asarray(t["feature"], dtype=np.int64), np.asarray(t["threshold"], dtype=np.float64),
                 np.asarray(t["left"], dtype=np.int64), np.asarray(t["right"], dtype=np.int64),
                 np.asarray(t["is_leaf"], dtype=bool), np.asarray(t["missing_left"], dtype=bool),
                 np.asarray(t["value"], dtype=np.float64))
                for t in self.trees
            ]
        return self._cache

    def predict(self, X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        out = np.full(X.shape[0], self.baseline)
        rows = np.arange(X.shape[0])
        for feature, threshold, left, right, is_leaf, missing_left, value in self._arrays():
            node = np.zeros(X.shape[0], dtype=np.int64)
            active = ~is_leaf[node]
            while active.any():
                n = node[active]
                x = X[rows[active], feature[n]]
                go_left = np.where(np.isnan(x), missing_left[n], x <= threshold[n])
                node[active] = np.where(go_left, left[n], right[n])
                active = ~is_leaf[node]
            out += value[node]
        return out
