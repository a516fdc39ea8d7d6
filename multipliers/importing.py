"""Load a multiplier from any supported file, and import it into the user catalog.

>>> m = load("mul8u_XYZ.c", power_mw=0.30)          # doctest: +SKIP
>>> import_multiplier("lut.npy", "my_mult", relative_energy=0.6)   # doctest: +SKIP
>>> multipliers.get("my_mult")                      # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.cost_model import EXACT_POWER_MW
from approxdse.multipliers.lut_io import LUT_SUFFIXES, read_lut
from approxdse.multipliers.multiplier import Multiplier
from approxdse.multipliers import user_catalog
from approxdse.multipliers.c_model import load_c_model
from approxdse.multipliers.catalog import is_reserved, is_reserved_exactly

SUFFIXES = (".c", *LUT_SUFFIXES)


def load(
    path: str | os.PathLike,
    name: str | None = None,
    *,
    signed: bool | None = None,
    function: str | None = None,
    power_mw: float | None = None,
    area_um2: float | None = None,
    delay_ns: float | None = None,
    relative_energy: float | None = None,
    timeout: float | None = None,
) -> Multiplier:
    """A :class:`Multiplier` from a ``.c`` model or a ``.npy``/``.bin``/``.txt`` LUT.

    Without ``relative_energy``, it is derived from ``power_mw`` (relative to
    EvoApproxLib's exact multiplier of the same signedness at 45 nm) when a power
    is known, else left as None. ``timeout``: seconds a C model may run (see
    :func:`approxdse.multipliers.c_model.c_model_lut`).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ApproxDSEError(f"unsupported file type {suffix or '(none)'!r} for {path}; use .c, .npy, .bin or .txt")
    if path.is_dir():
        raise ApproxDSEError(f"{path} is a folder, not a multiplier file")
    if not path.is_file():
        raise ApproxDSEError(f"no such file: {path}")
    if suffix == ".c":
        return load_c_model(
            path, name, signed=signed, function=function, power_mw=power_mw,
            area_um2=area_um2, delay_ns=delay_ns, relative_energy=relative_energy, timeout=timeout,
        )
    if function is not None:
        raise ApproxDSEError("function= applies to C models only")
    if timeout is not None:
        raise ApproxDSEError("timeout= applies to C models only")
    lut, is_signed = read_lut(path, signed=signed)
    if relative_energy is None and power_mw is not None:
        relative_energy = float(power_mw) / EXACT_POWER_MW[is_signed]
    return Multiplier(
        name=name or path.stem,
        signed=is_signed,
        lut=lut,
        family="lut-file",
        params={},
        relative_energy=relative_energy,
        power_mw=power_mw,
        area_um2=area_um2,
        delay_ns=delay_ns,
        provenance=f"LUT file {path.name}",
    )


def import_multiplier(path: str | os.PathLike, name: str, *, force: bool = False, **options: Any) -> Multiplier:
    """Load ``path`` and store it in the user catalog as ``name``.

    Raises :class:`ApproxDSEError` (nothing written) if the name is taken by a
    built-in, or by a user multiplier and ``force`` is False.
    """
    user_catalog.check_name(name)
    if is_reserved(name):
        if is_reserved(name.lower()) and not is_reserved_exactly(name):
            raise ApproxDSEError(f"{name!r} differs from the built-in multiplier {name.lower()!r} only in case "
                                 "(names are unique ignoring case); choose another name")
        raise ApproxDSEError(f"{name!r} is a built-in multiplier name; choose another name")
    if name in user_catalog.entries_with_yaml() and not force:
        raise ApproxDSEError(f"a user multiplier named {name!r} already exists; pass --force to replace it")
    other = user_catalog.name_clash(name, [n for n in user_catalog.entries_with_yaml() if n != name])
    if other is not None:
        raise ApproxDSEError(f"a user multiplier named {other!r} already exists and names are unique ignoring case; "
                             f"choose another name or remove {other!r} first")
    m = load(path, name, **options)
    _ = m.metrics  # computed before anything is written
    user_catalog.save(m)
    return m
