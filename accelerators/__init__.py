"""Reference energy of CNN inference on accelerators (Timeloop/Accelergy-style).

Everything here is cheap to import (numpy and PyYAML; torch only when a torch
module is traced), so the public names are plain imports.

>>> from approxdse import accelerators
>>> accelerators.zoo_workload("resnet18").macs
1814073344
>>> report = accelerators.estimate_energy("resnet18", "eyeriss", "exact")   # doctest: +SKIP
>>> print(report.table())                                                   # doctest: +SKIP
"""
from __future__ import annotations

from approxdse.accelerators.architecture import Architecture, available_architectures, load_architecture
from approxdse.accelerators.estimate import compare_multipliers, estimate_energy, resolve_network
from approxdse.accelerators.mapper import map_layer
from approxdse.accelerators.mapping import Mapping, load_timeloop_mapping
from approxdse.accelerators.model import LayerEnergy, evaluate
from approxdse.accelerators.reference_version import model_version, reference_code_hash, reference_version
from approxdse.accelerators.report import EnergyReport, LayerReport, MultiplierComparison
from approxdse.networks.problem_files import ProblemFileWarning, load_problem, load_problems, write_problem
from approxdse.networks.tracing import Trace, trace_module, workload_from_module
from approxdse.networks.workload import Layer, Workload
from approxdse.networks.zoo import module as zoo_module
from approxdse.networks.zoo import names as zoo_names
from approxdse.networks.zoo import workload as zoo_workload

__all__ = [
    "Architecture",
    "EnergyReport",
    "Layer",
    "LayerEnergy",
    "LayerReport",
    "Mapping",
    "MultiplierComparison",
    "ProblemFileWarning",
    "Trace",
    "Workload",
    "available_architectures",
    "compare_multipliers",
    "estimate_energy",
    "evaluate",
    "load_architecture",
    "load_problem",
    "load_problems",
    "load_timeloop_mapping",
    "map_layer",
    "model_version",
    "reference_code_hash",
    "reference_version",
    "resolve_network",
    "trace_module",
    "workload_from_module",
    "write_problem",
    "zoo_module",
    "zoo_names",
    "zoo_workload",
]
