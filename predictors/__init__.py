"""Energy predictors: reference datasets, the summing and learned predictors, comparison.

>>> from approxdse.predictors import SummingPredictor, LearnedPredictor, load_predictor  # doctest: +SKIP
>>> p = load_predictor("eyeriss_xgb.json")                                              # doctest: +SKIP
>>> p.predict([genome1, genome2], "u8_bam_h2_v4", "eyeriss")                            # doctest: +SKIP

Importing the package is cheap (numpy only; scikit-learn, XGBoost, numba and
pandas load inside the functions that need them), so the names are plain imports.
"""
from __future__ import annotations

from approxdse.predictors.base import EnergyPredictor
from approxdse.predictors.compare import compare_predictor, error_metrics
from approxdse.predictors.dataset import Dataset, generate_dataset
from approxdse.predictors.defaults import default_predictor
from approxdse.predictors.io import load_predictor, save_predictor
from approxdse.predictors.learned import LearnedPredictor
from approxdse.predictors.summing import SummingPredictor

__all__ = [
    "Dataset",
    "EnergyPredictor",
    "LearnedPredictor",
    "SummingPredictor",
    "compare_predictor",
    "default_predictor",
    "error_metrics",
    "generate_dataset",
    "load_predictor",
    "save_predictor",
]
