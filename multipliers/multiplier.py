"""The :class:`Multiplier` object: an 8-bit multiplier given by its look-up table.

The table follows the index convention of :mod:`approxdse.multipliers.lut`
(row = first operand, column = second; signed indices are value + 128).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.lut import (  # noqa: F401  (re-exported: the LUT convention)
    BITS,
    LUT_MAX,
    LUT_MIN,
    SIZE,
    InvalidLUTError,
    exact_lut,
    operand_values,
    validate_lut,
)
from approxdse.multipliers.metrics import ErrorMetrics, error_metrics


@dataclass(frozen=True, eq=False)
class Multiplier:
    """An 8x8 approximate (or exact) multiplier.

    Parameters
    ----------
    name: unique name, used wherever a multiplier is named (CLI, configs, reports).
    signed: two's-complement operands (-128..127) if True, else 0..255.
    lut: int32 [256, 256] products, in the index convention of this module.
    family: generator family (``exact``, ``bam``, ``truncated``, ``drum`` ...) or
        ``custom`` / ``c-model`` / ``lut-file`` for imported circuits.
    params: the family's parameters (e.g. ``{"h": 2, "v": 6}``).
    relative_energy: energy per multiplication relative to the exact multiplier
        of the same signedness (exact = 1.0). The accelerator's energy table
        supplies the absolute pJ.
    power_mw, area_um2, delay_ns: synthesis figures where known (45 nm).
    provenance: where the circuit and its figures come from.

    Examples
    --------
    >>> from approxdse.multipliers import Multiplier, exact_lut
    >>> m = Multiplier("my_exact", signed=False, lut=exact_lut(False))
    >>> int(m(200, 3))
    600
    """

    name: str
    signed: bool
    lut: np.ndarray
    family: str = "custom"
    params: Mapping[str, Any] = field(default_factory=dict)
    relative_energy: float | None = 1.0
    power_mw: float | None = None
    area_um2: float | None = None
    delay_ns: float | None = None
    provenance: str = ""
    bits: int = BITS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ApproxDSEError("a multiplier needs a non-empty name")
        if self.bits != BITS:
            raise ApproxDSEError(f"only 8-bit multipliers are supported (got bits={self.bits})")
        object.__setattr__(self, "signed", bool(self.signed))
        object.__setattr__(self, "lut", validate_lut(self.lut, signed=self.signed, name=f"LUT of {self.name!r}"))
        object.__setattr__(self, "params", dict(self.params))
        for label, value in (("power (mW)", self.power_mw), ("area (um2)", self.area_um2),
                             ("delay (ns)", self.delay_ns)):
            if value is not None and not (value >= 0):
                raise ApproxDSEError(f"{label} of {self.name!r} must be a non-negative number, got {value}")
        if self.relative_energy is not None and not (self.relative_energy >= 0):
            raise ApproxDSEError(
                f"relative energy of {self.name!r} must be a non-negative number, got {self.relative_energy}"
            )

    @property
    def operands(self) -> np.ndarray:
        """Operand value of each LUT index."""
        return operand_values(self.signed)

    @cached_property
    def exact(self) -> np.ndarray:
        """The exact product table with this multiplier's signedness."""
        return exact_lut(self.signed)

    @cached_property
    def error_matrix(self) -> np.ndarray:
        """``lut - exact`` (int32 [256, 256])."""
        err = self.lut.astype(np.int32) - self.exact
        err.setflags(write=False)
        return err

    @property
    def is_exact(self) -> bool:
        return not np.any(self.error_matrix)

    @cached_property
    def metrics(self) -> ErrorMetrics:
        """Error metrics over all 65,536 operand pairs (uniform operands)."""
        return error_metrics(self)

    def __call__(self, a: Any, b: Any) -> np.ndarray:
        """Multiply operand values (not indices) elementwise through the LUT."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        offset = SIZE // 2 if self.signed else 0
        lo, hi = -offset, SIZE - 1 - offset
        if a.size and (a.min() < lo or a.max() > hi) or b.size and (b.min() < lo or b.max() > hi):
            raise ApproxDSEError(f"operands of {self.name!r} must lie in [{lo}, {hi}]")
        return self.lut[a + offset, b + offset]

    def __repr__(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return (
            f"Multiplier(name={self.name!r}, {kind}, family={self.family!r}, "
            f"params={dict(self.params)!r}, relative_energy={self.relative_energy})"
        )
