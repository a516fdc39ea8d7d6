"""Bit-exact emulation of approximate 8-bit multipliers inside PyTorch networks.

>>> import torch, multipliers
>>> from multipliers.emulator import approximate, calibrate
>>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
>>> qmodel = approximate(model, "u8_exact")          # a converted copy
>>> _ = calibrate(qmodel, [torch.rand(4, 3, 16, 16)])   # activation scales
>>> qmodel(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 8, 14, 14])

The public names are imported lazily, so that ``approxdse --help`` (which
imports :mod:`multipliers.emulator.cli`) does not pay for torch and numba.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "approximate": "multipliers.emulator.convert",
    "approximated_layers": "multipliers.emulator.convert",
    "calibrate": "multipliers.emulator.calibration",
    "ApproxConv2d": "multipliers.emulator.layers",
    "ApproxLinear": "multipliers.emulator.layers",
    "EmulationConfig": "multipliers.emulator.config",
    "available_backends": "multipliers.emulator.backends",
    "get_backend": "multipliers.emulator.backends",
    "register_backend": "multipliers.emulator.backends",
    "Backend": "multipliers.emulator.backends",
    "MODES": "multipliers.emulator.modes",
    "Mode": "multipliers.emulator.modes",
    "decompose": "multipliers.emulator.decomposition",
    "Decomposition": "multipliers.emulator.decomposition",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'multipliers.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
