"""Approximate 8-bit multipliers: look-up tables, error metrics, energy, catalog, emulator.

>>> import multipliers
>>> m = multipliers.get("u8_exact")
>>> m.metrics.mae_pct
0.0
"""
from multipliers.multiplier import (
    BITS,
    SIZE,
    InvalidLUTError,
    Multiplier,
    exact_lut,
    operand_values,
    validate_lut,
)
from multipliers.catalog import catalog, get, names
from multipliers.metrics import ErrorMetrics, error_metrics, weighted_error_metrics
from multipliers.families import FAMILIES, generate_lut

__all__ = [
    "BITS",
    "ErrorMetrics",
    "FAMILIES",
    "error_metrics",
    "generate_lut",
    "weighted_error_metrics",
    "SIZE",
    "InvalidLUTError",
    "Multiplier",
    "catalog",
    "exact_lut",
    "get",
    "names",
    "operand_values",
    "validate_lut",
]
