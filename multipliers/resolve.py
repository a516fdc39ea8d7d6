"""One way to turn what a user wrote into a :class:`Multiplier`, and one policy for its energy.

:func:`resolve_multiplier` accepts a :class:`Multiplier`, a catalog name
(built-in, generated family name, or imported into the user catalog) or the
path of a multiplier file (``.c`` model, ``.npy``/``.bin``/``.txt`` LUT). Every
part of approxdse that takes a multiplier (reference energy, predictors,
emulator, search) resolves it here.

:func:`relative_energy_of` is the single policy for pricing: a multiplier
without an energy figure (``relative_energy`` None, e.g. a LUT imported
without ``--relative-energy`` or ``--power-mw``) is refused with
:class:`MissingEnergyError`, which names the multiplier and how to give it an
energy. Nothing prices such a multiplier as exact behind the user's back.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.catalog import get
from approxdse.multipliers.importing import SUFFIXES, load
from approxdse.multipliers.multiplier import Multiplier

#: What :func:`resolve_multiplier` accepts.
MultiplierLike = Union[Multiplier, str, os.PathLike]


class MissingEnergyError(ApproxDSEError):
    """A multiplier without an energy figure was asked for its energy."""


def resolve_multiplier(spec: MultiplierLike) -> Multiplier:
    """A :class:`Multiplier` from a Multiplier, a catalog name or a multiplier file path."""
    if isinstance(spec, Multiplier):
        return spec
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise ApproxDSEError(f"a multiplier is given by a name, a file or a Multiplier, got {spec!r}")
    spec = spec.strip()
    path = Path(spec)
    if path.suffix.lower() in SUFFIXES and (path.is_file() or os.sep in spec or "/" in spec):
        return load(path)
    return get(spec)


def missing_energy_message(name: str) -> str:
    """The one sentence every command gives for a multiplier without an energy."""
    return (f"multiplier {name!r} has no energy figure, so its energy cannot be priced; give it one: "
            f"re-import it with `approxdse multipliers import FILE --name {name} --force --relative-energy E` "
            f"(or --power-mw P), or pass relative_energy=/power_mw= when loading it in Python")


def relative_energy_of(spec: MultiplierLike) -> float:
    """Energy per multiplication relative to the exact multiplier; refuses a multiplier without one."""
    m = resolve_multiplier(spec)
    if m.relative_energy is None:
        raise MissingEnergyError(missing_energy_message(m.name))
    return float(m.relative_energy)


def has_energy(spec: MultiplierLike) -> bool:
    """Whether :func:`relative_energy_of` would price this multiplier."""
    return resolve_multiplier(spec).relative_energy is not None
