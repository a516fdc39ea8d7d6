"""approxdse: energy-efficient CNN accelerators built from approximate multipliers.

One import name holds everything, in layers that import only downward:

``approxdse.core`` (errors, atomic files, YAML, paths, executors)
<- ``approxdse.multipliers`` (approximate multiplier library)
<- ``approxdse.networks`` (layers, workloads, zoo, torch models, genomes)
<- ``approxdse.accelerators`` (reference energy model and mapper)
<- ``approxdse.predictors`` (fast energy predictors)
<- ``approxdse.emulator`` (LUT emulation of conv/linear layers, accuracy)
<- ``approxdse.dse`` (the NAS-style search) <- ``approxdse.cli``.

In the repository the packages are the top-level folders ``multipliers/``,
``networks/``, ``accelerators/``, ``predictors/``, ``emulator/`` and ``dse/``;
``pyproject.toml`` maps them into this namespace.
"""
from approxdse.core.errors import ApproxDSEError

__version__ = "0.1.0"

__all__ = ["ApproxDSEError", "__version__"]
