"""Reference energy of CNN inference on accelerators (Timeloop/Accelergy-style).

Public names are imported lazily (on first attribute access), so ``import
accelerators`` is cheap and a module that fails to import only affects the
names that come from it.

>>> import accelerators
>>> accelerators.zoo_workload("resnet18").macs
1814073344
>>> report = accelerators.estimate_energy("resnet18", "eyeriss", "exact")   # doctest: +SKIP
>>> print(report.table())                                                   # doctest: +SKIP
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    # workloads (part 2)
    "Layer": "accelerators.workload",
    "Workload": "accelerators.workload",
    "workload_from_module": "accelerators.tracing",
    "trace_module": "accelerators.tracing",
    "Trace": "accelerators.tracing",
    "load_problem": "accelerators.problem_files",
    "load_problems": "accelerators.problem_files",
    "write_problem": "accelerators.problem_files",
    "ProblemFileWarning": "accelerators.problem_files",
    "estimate_energy": "accelerators.estimate",
    "compare_multipliers": "accelerators.estimate",
    "resolve_network": "accelerators.estimate",
    "EnergyReport": "accelerators.report",
    "LayerReport": "accelerators.report",
    "MultiplierComparison": "accelerators.report",
    # architectures, mapper and model (part 1)
    "Architecture": "accelerators.architecture",
    "load_architecture": "accelerators.architecture",
    "available_architectures": "accelerators.architecture",
    "map_layer": "accelerators.mapper",
    "Mapping": "accelerators.mapping",
    "load_timeloop_mapping": "accelerators.mapping",
    "evaluate": "accelerators.model",
    "LayerEnergy": "accelerators.model",
}
_RENAMED = {"zoo_workload": ("accelerators.zoo", "workload"), "zoo_module": ("accelerators.zoo", "module"),
            "zoo_names": ("accelerators.zoo", "names")}

_SUBMODULES = ("workload", "zoo", "tracing", "problem_files", "estimate", "report", "cli",
               "architecture", "mapper", "mapping", "model")

__all__ = sorted([*_EXPORTS, *_RENAMED])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _RENAMED:
        module, attr = _RENAMED[name]
        value = getattr(importlib.import_module(module), attr)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"accelerators.{name}")
    else:
        raise AttributeError(f"module 'accelerators' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
