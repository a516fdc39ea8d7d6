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
    "Layer": "approxdse.networks.workload",
    "Workload": "approxdse.networks.workload",
    "workload_from_module": "approxdse.networks.tracing",
    "trace_module": "approxdse.networks.tracing",
    "Trace": "approxdse.networks.tracing",
    "load_problem": "approxdse.networks.problem_files",
    "load_problems": "approxdse.networks.problem_files",
    "write_problem": "approxdse.networks.problem_files",
    "ProblemFileWarning": "approxdse.networks.problem_files",
    "estimate_energy": "approxdse.accelerators.estimate",
    "compare_multipliers": "approxdse.accelerators.estimate",
    "resolve_network": "approxdse.accelerators.estimate",
    "EnergyReport": "approxdse.accelerators.report",
    "LayerReport": "approxdse.accelerators.report",
    "MultiplierComparison": "approxdse.accelerators.report",
    # architectures, mapper and model (part 1)
    "Architecture": "approxdse.accelerators.architecture",
    "load_architecture": "approxdse.accelerators.architecture",
    "available_architectures": "approxdse.accelerators.architecture",
    "map_layer": "approxdse.accelerators.mapper",
    "Mapping": "approxdse.accelerators.mapping",
    "load_timeloop_mapping": "approxdse.accelerators.mapping",
    "evaluate": "approxdse.accelerators.model",
    "LayerEnergy": "approxdse.accelerators.model",
    # the reference's identity (dataset manifests, predictor models)
    "reference_code_hash": "approxdse.accelerators.reference_version",
    "reference_version": "approxdse.accelerators.reference_version",
    "model_version": "approxdse.accelerators.reference_version",
}
_RENAMED = {"zoo_workload": ("approxdse.networks.zoo", "workload"), "zoo_module": ("approxdse.networks.zoo", "module"),
            "zoo_names": ("approxdse.networks.zoo", "names")}

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
        value = importlib.import_module(f"approxdse.accelerators.{name}")
    else:
        raise AttributeError(f"module 'accelerators' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
