"""Approximate 8-bit multipliers: look-up tables, error metrics, energy, catalog, emulator.

>>> import multipliers
>>> m = multipliers.get("u8_exact")
>>> m.metrics.mae_pct
0.0
>>> multipliers.get("u8_mitchell").metrics.wcre_pct > 11
True

Main entry points: :func:`get`, :func:`names`, :func:`catalog` (built-in and user
multipliers by name); :func:`error_metrics`, :func:`weighted_error_metrics`;
:func:`generate_lut` (the families); :func:`load` (``.c`` models and LUT files),
:func:`from_callable`, :func:`import_multiplier` (into the user catalog) and
:func:`export` (``.npy``, TFApprox ``.bin``, ``.txt``); :func:`resolve_multiplier`
(a name, file or Multiplier) and :func:`relative_energy_of` (the energy, or one
error for a multiplier without one).
"""
from approxdse.multipliers.multiplier import (
    BITS,
    SIZE,
    InvalidLUTError,
    Multiplier,
    exact_lut,
    operand_values,
    validate_lut,
)
from approxdse.multipliers.catalog import catalog, get, names
from approxdse.multipliers.families import FAMILIES, generate_lut
from approxdse.multipliers.importing import import_multiplier, load
from approxdse.multipliers.lut_io import from_callable, read_lut
from approxdse.multipliers.lut_io import write_lut as export
from approxdse.multipliers.metrics import ErrorMetrics, error_metrics, weighted_error_metrics
from approxdse.multipliers.resolve import (
    MissingEnergyError,
    MultiplierLike,
    relative_energy_of,
    resolve_multiplier,
)

__all__ = [
    "BITS",
    "SIZE",
    "ErrorMetrics",
    "FAMILIES",
    "InvalidLUTError",
    "MissingEnergyError",
    "Multiplier",
    "MultiplierLike",
    "catalog",
    "error_metrics",
    "exact_lut",
    "export",
    "from_callable",
    "generate_lut",
    "get",
    "import_multiplier",
    "load",
    "names",
    "operand_values",
    "read_lut",
    "relative_energy_of",
    "resolve_multiplier",
    "validate_lut",
    "weighted_error_metrics",
]
