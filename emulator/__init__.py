"""Bit-exact emulation of approximate 8-bit multipliers inside PyTorch networks.

>>> import torch
>>> from approxdse.emulator import approximate, calibrate
>>> model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
>>> qmodel = approximate(model, "u8_exact")          # a converted copy
>>> _ = calibrate(qmodel, [torch.rand(4, 3, 16, 16)])   # activation scales
>>> qmodel(torch.rand(2, 3, 16, 16)).shape
torch.Size([2, 8, 14, 14])

The public names are imported lazily, so that ``approxdse --help`` (which
imports :mod:`approxdse.emulator.cli`) does not pay for torch and numba.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "approximate": "approxdse.emulator.convert",
    "approximated_layers": "approxdse.emulator.convert",
    "calibrate": "approxdse.emulator.calibration",
    "ApproxConv2d": "approxdse.emulator.layers",
    "ApproxLinear": "approxdse.emulator.layers",
    "EmulationConfig": "approxdse.emulator.config",
    "available_backends": "approxdse.emulator.backends",
    "get_backend": "approxdse.emulator.backends",
    "register_backend": "approxdse.emulator.backends",
    "Backend": "approxdse.emulator.backends",
    "MODES": "approxdse.emulator.modes",
    "Mode": "approxdse.emulator.modes",
    "decompose": "approxdse.emulator.decomposition",
    "Decomposition": "approxdse.emulator.decomposition",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'approxdse.emulator' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
