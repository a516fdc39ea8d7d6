"""Which multiplier each layer of a network uses: resolving a multiplier from a name, a
file or an object, the layers the emulator replaces, per-layer assignments (names or
shell patterns), and the exact 8-bit counterpart of an assignment."""
from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from torch import nn

from approxdse import multipliers
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import Multiplier
from approxdse.multipliers.resolve import resolve_multiplier

__all__ = [
    "approximable_layers",
    "assignment_of",
    "exact_counterpart",
    "exact_of",
    "layer_assignment",
    "resolve_multiplier",
]


def approximable_layers(model: nn.Module) -> list[str]:
    """Names of the layers that :func:`~approxdse.emulator.approximate` replaces
    (``Conv2d`` and ``Linear``), in module order."""
    return [name for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def layer_assignment(
    model: nn.Module, default: Any, overrides: Mapping[str, Any] | None = None
) -> dict[str, Multiplier]:
    """A multiplier for every approximable layer of ``model``: the last entry of ``overrides``
    whose key is the layer's name or a shell pattern matching it (``"layers.0.*"``), else
    ``default``. A key that matches no layer is an error that lists the model's layers."""
    layers = approximable_layers(model)
    overrides = dict(overrides or {})
    unknown = [key for key in overrides if not any(n == key or fnmatch.fnmatchcase(n, key) for n in layers)]
    if unknown:
        raise ApproxDSEError(
            f"layer(s) {', '.join(map(repr, unknown))} not in the network; its layers are {', '.join(layers)}"
        )
    resolved = {key: resolve_multiplier(m) for key, m in overrides.items()}
    resolved_default = resolve_multiplier(default) if default is not None else None
    out: dict[str, Multiplier] = {}
    for name in layers:
        chosen = resolved_default
        for key, m in resolved.items():
            if name == key or fnmatch.fnmatchcase(name, key):
                chosen = m
        if chosen is None:
            raise ApproxDSEError(f"no multiplier given for layer {name!r} (name a default multiplier)")
        out[name] = chosen
    return out


def exact_counterpart(multiplier: Multiplier) -> Multiplier:
    """The exact 8-bit multiplier with the same signedness (so the same quantisation)."""
    return resolve_multiplier("s8_exact" if multiplier.signed else "u8_exact")


def assignment_of(spec: Any) -> Multiplier | dict[str, Multiplier]:
    if isinstance(spec, Mapping):
        return {name: resolve_multiplier(m) for name, m in spec.items()}
    return resolve_multiplier(spec)


def exact_of(assignment: Multiplier | dict[str, Multiplier]) -> Multiplier | dict[str, Multiplier]:
    if isinstance(assignment, dict):
        return {name: exact_counterpart(m) for name, m in assignment.items()}
    return exact_counterpart(assignment)

