"""The 8-bit look-up-table convention: operand values, the exact table, LUT validation.

Index convention, used everywhere in approxdse (exported files included):

* row = first operand (the activation, or the C function's first parameter),
  column = second operand (the weight);
* unsigned multipliers: index = operand value, 0..255;
* signed multipliers: index = operand value + 128, for values -128..127.

``lut[i, j]`` is the product the circuit computes for those two operands.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from approxdse.core.errors import ApproxDSEError

BITS = 8
SIZE = 1 << BITS

#: Products outside this range cannot come from an 8x8 circuit with a 17-bit
#: signed result; a LUT holding them is almost certainly mis-read.
LUT_MIN, LUT_MAX = -(1 << 16), (1 << 17) - 1


class InvalidLUTError(ApproxDSEError):
    """A look-up table of the wrong shape, dtype or value range."""


def operand_values(signed: bool) -> np.ndarray:
    """The operand value of each LUT index (0..255, or -128..127)."""
    values = np.arange(SIZE, dtype=np.int64)
    return values - SIZE // 2 if signed else values


def exact_lut(signed: bool) -> np.ndarray:
    """The exact product table in the index convention above (int32 [256, 256])."""
    v = operand_values(signed)
    return np.multiply.outer(v, v).astype(np.int32)


def validate_lut(lut: Any, *, signed: bool, name: str = "LUT") -> np.ndarray:
    """Return ``lut`` as a read-only int32 [256, 256] array, or raise :class:`InvalidLUTError`."""
    arr = np.asarray(lut)
    if arr.shape != (SIZE, SIZE):
        raise InvalidLUTError(
            f"{name} has shape {arr.shape}; an 8-bit multiplier needs a {SIZE}x{SIZE} table"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise InvalidLUTError(f"{name} holds NaN or infinite values")
        if not np.array_equal(arr, np.round(arr)):
            raise InvalidLUTError(f"{name} holds non-integer values; products must be integers")
    elif arr.dtype.kind not in "iub":
        raise InvalidLUTError(f"{name} has dtype {arr.dtype}; expected integers")
    lo, hi = arr.min(), arr.max()
    if lo < LUT_MIN or hi > LUT_MAX:
        raise InvalidLUTError(
            f"{name} values span [{lo}, {hi}], outside the range of an 8x8 product "
            f"([{LUT_MIN}, {LUT_MAX}])"
        )
    if not signed and lo < 0:
        raise InvalidLUTError(
            f"{name} holds negative products ({lo}) but the multiplier is unsigned; "
            "pass signed=True for a signed circuit"
        )
    out = np.ascontiguousarray(arr, dtype=np.int32).copy()
    out.setflags(write=False)
    return out
