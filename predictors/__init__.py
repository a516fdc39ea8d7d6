"""Energy predictors: reference datasets, the summing and learned predictors, comparison.

>>> from predictors import SummingPredictor, LearnedPredictor, load_predictor   # doctest: +SKIP
>>> p = load_predictor("eyeriss_xgb.json")                                      # doctest: +SKIP
>>> p.predict([genome1, genome2], "u8_bam_h2_v4", "eyeriss")                    # doctest: +SKIP

Names are imported lazily so ``import predictors`` stays cheap.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "SummingPredictor": "approxdse.predictors.summing",
    "LearnedPredictor": "approxdse.predictors.learned",
    "EnergyPredictor": "approxdse.predictors.base",
    "load_predictor": "approxdse.predictors.io",
    "save_predictor": "approxdse.predictors.io",
    "Dataset": "approxdse.predictors.dataset",
    "generate_dataset": "approxdse.predictors.dataset",
    "compare_predictor": "approxdse.predictors.compare",
    "error_metrics": "approxdse.predictors.compare",
    "default_predictor": "approxdse.predictors.defaults",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'predictors' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
