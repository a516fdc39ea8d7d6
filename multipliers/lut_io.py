"""Reading and writing LUT files, and building multipliers from Python callables.

Formats (all in the index convention of :mod:`multipliers.multiplier`: row = first
operand, column = second; unsigned index = value, signed index = value + 128):

* ``.npy``: a 256x256 integer array (written as int32);
* ``.bin``: TFApprox's binary layout, 65,536 little-endian uint16 values, row-major
  (signed products stored as their 16-bit two's-complement pattern);
* ``.txt``: 256 lines of 256 whitespace-separated integers.

Signedness of a LUT file: a ``.npy``/``.txt`` LUT holding negative values is
signed. Otherwise the caller says (``signed=``), else a name starting with
``mul8s``/``s8_`` is taken as signed, else unsigned.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.core.atomic_files import atomic_write as _atomic_write
from approxdse.multipliers.multiplier import SIZE, InvalidLUTError, Multiplier, operand_values, validate_lut

LUT_SUFFIXES = (".npy", ".bin", ".txt")


def _guess_signed(name: str) -> bool:
    base = name.lower()
    return base.startswith("mul8s") or base.startswith("s8_")


def _resolve_signed(lut: np.ndarray | None, signed: bool | None, name: str, path: Path) -> bool:
    negative = lut is not None and lut.size and lut.min() < 0
    if signed is False and negative:
        raise InvalidLUTError(f"{path} holds negative products but was given as unsigned")
    if signed is not None:
        return bool(signed)
    return bool(negative) or _guess_signed(name)


def read_lut(path: str | os.PathLike, *, signed: bool | None = None) -> tuple[np.ndarray, bool]:
    """Read a LUT file; return the validated int32 [256, 256] table and its signedness."""
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise ApproxDSEError(f"{path} is a folder, not a LUT file")
    if not path.is_file():
        raise ApproxDSEError(f"no such file: {path}")
    if suffix == ".npy":
        try:
            raw = np.load(path, allow_pickle=False)
        except EOFError:
            raise InvalidLUTError(f"{path} is not a readable .npy array (the file is empty or cut short)") from None
        except (ValueError, OSError) as exc:
            raise InvalidLUTError(f"{path} is not a readable .npy array ({exc})") from None
        s = _resolve_signed(np.asarray(raw) if np.asarray(raw).dtype.kind in "iuf" else None, signed, path.stem, path)
        return validate_lut(raw, signed=s, name=str(path)), s
    if suffix == ".bin":
        size = path.stat().st_size
        if size != SIZE * SIZE * 2:
            raise InvalidLUTError(
                f"{path} has {size} bytes; a TFApprox LUT holds 65536 uint16 values ({SIZE * SIZE * 2} bytes)"
            )
        raw = np.fromfile(path, dtype="<u2").reshape(SIZE, SIZE)
        s = _resolve_signed(None, signed, path.stem, path)
        if s:
            raw = raw.view("<i2")
        return validate_lut(raw, signed=s, name=str(path)), s
    if suffix == ".txt":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "input contained no data": the shape check says it
                raw = np.loadtxt(path, dtype=np.float64, ndmin=2)
        except ValueError as exc:
            raise InvalidLUTError(f"{path} is not a table of numbers ({exc})") from None
        s = _resolve_signed(raw, signed, path.stem, path)
        return validate_lut(raw, signed=s, name=str(path)), s
    raise ApproxDSEError(f"unsupported LUT file type {suffix!r} for {path}; use .npy, .bin, .txt or a .c model")


def write_lut(m: Multiplier, path: str | os.PathLike) -> Path:
    """Export the LUT of ``m`` to ``path`` (format from the suffix: .npy, .bin, .txt)."""
    path = Path(path)
    suffix = path.suffix.lower()
    lut = np.asarray(m.lut, dtype=np.int32)
    if suffix == ".npy":
        _atomic_write(path, lambda fh: np.save(fh, lut))
    elif suffix == ".bin":
        lo, hi = (-(1 << 15), (1 << 15) - 1) if m.signed else (0, (1 << 16) - 1)
        if lut.min() < lo or lut.max() > hi:
            raise ApproxDSEError(
                f"products of {m.name!r} span [{lut.min()}, {lut.max()}], which does not fit TFApprox's 16-bit layout"
            )
        data = lut.astype("<i2" if m.signed else "<u2")
        _atomic_write(path, lambda fh: fh.write(data.tobytes()))
    elif suffix == ".txt":
        def write(fh):
            np.savetxt(fh, lut, fmt="%d")

        _atomic_write(path, write)
    else:
        raise ApproxDSEError(f"cannot export to {suffix or 'a file without suffix'!r}; use .npy, .bin (TFApprox) or .txt")
    return path


def lut_from_callable(fn: Callable[[Any, Any], Any], *, signed: bool, name: str = "callable") -> np.ndarray:
    """The LUT of a Python function ``fn(a, b)`` of operand values.

    ``fn`` is first called once on the two 256x256 operand grids (numpy
    broadcasting); if that fails or returns the wrong shape, it is called on
    each of the 65,536 pairs.
    """
    v = operand_values(signed)
    a, b = np.meshgrid(v, v, indexing="ij")
    out = None
    try:
        res = np.asarray(fn(a, b))
        if res.shape == (SIZE, SIZE):
            out = res
    except Exception:  # scalar-only functions raise on arrays: fall back below
        out = None
    if out is None:
        try:
            out = np.array([[fn(int(x), int(y)) for y in v] for x in v])
        except Exception as exc:
            raise ApproxDSEError(f"{name} raised {type(exc).__name__}: {exc}") from None
    return validate_lut(out, signed=signed, name=f"LUT of {name}")


def from_callable(fn: Callable[[Any, Any], Any], name: str, *, signed: bool, **figures: Any) -> Multiplier:
    """A :class:`Multiplier` from a Python function of two operand values.

    ``figures`` are further :class:`Multiplier` fields (``relative_energy``,
    ``power_mw``, ``area_um2``, ``delay_ns``, ``provenance``, ``family``, ``params``).
    """
    figures.setdefault("family", "custom")
    figures.setdefault("relative_energy", None)
    figures.setdefault("provenance", f"Python callable {getattr(fn, '__qualname__', repr(fn))}")
    return Multiplier(name=name, signed=signed, lut=lut_from_callable(fn, signed=signed, name=name), **figures)
