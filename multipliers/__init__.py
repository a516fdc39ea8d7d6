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

__all__ = [
    "BITS",
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
