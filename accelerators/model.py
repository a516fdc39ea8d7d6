"""The Timeloop-style analytical energy model of one layer on one architecture.

:func:`evaluate` counts, for a given mapping, the reads, fills (writes from the
parent) and updates (partial sums written back) of every tensor at every
storage level, with multicast and spatial reduction, following Timeloop v3's
conventions (see :mod:`accelerators.nest_analysis`), multiplies them by the
architecture's energy per access, and adds the MACs.

The MAC is split into ``multiplier`` and ``adder``. ``multiplier_energy`` is the
chosen multiplier's energy per operation *relative to the exact multiplier*
(``Multiplier.relative_energy``: exact = 1.0), so the multiplier component is
``macs * multiplier_energy * E_mult(exact)``.

Because the multiplier's energy is paid once per MAC, it is the same for every
mapping of a layer: it adds a constant to every candidate's energy and cannot
change which mapping has the least energy. The mapper therefore searches once
per (layer shape, architecture, objective) and swapping the multiplier only
rescales one component. (Under the ``edp`` objective a constant also cannot
change the order of ``energy * cycles`` among mappings with equal cycles, but it
can between mappings with different cycles: ``edp`` searches are keyed by the
multiplier energy too; see :func:`accelerators.mapper.map_layer`.)

Example::

    >>> from accelerators.architecture import load_architecture
    >>> from accelerators.mapper import map_layer
    >>> from accelerators.model import evaluate
    >>> from approxdse.networks.workload import Layer
    >>> arch = load_architecture("eyeriss")
    >>> layer = Layer("conv", C=64, M=64, P=56, Q=56, R=3, S=3, pad_h=1, pad_w=1)
    >>> res = evaluate(layer, arch, map_layer(layer, arch), multiplier_energy=0.5)
    >>> round(res.components["multiplier"] / layer.macs, 4)
    0.622
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from approxdse.accelerators.architecture import Architecture
from approxdse.accelerators.mapping import Mapping, check_mapping
from approxdse.accelerators.nest_analysis import Problem, analyze
from approxdse.core.errors import ApproxDSEError

if TYPE_CHECKING:
    import pandas as pd

    from approxdse.networks.workload import Layer


@dataclass(frozen=True)
class LayerEnergy:
    """The cost of one layer under one mapping.

    ``components`` are pJ per component, keyed by the architecture's storage
    level names plus ``multiplier`` and ``adder``; ``accesses`` maps
    ``(level, tensor)`` to per-instance ``reads``, ``fills``, ``updates`` and
    the number of utilised ``instances`` (with an imperfect factorisation, means over
    the instances: partial tiles give some instances less work).
    """

    name: str
    energy_pJ: float
    components: dict[str, float]
    macs: int
    cycles: int
    utilization: float
    mapping: Mapping
    accesses: dict[tuple[str, str], dict[str, int | float]] = field(default_factory=dict)
    multiplier_energy: float = 1.0

    @property
    def pj_per_mac(self) -> float:
        return self.energy_pJ / self.macs

    def accesses_frame(self) -> "pd.DataFrame":
        """The access counts as a DataFrame (one row per level and tensor)."""
        import pandas as pd

        rows = [{"level": lv, "tensor": ds, **vals} for (lv, ds), vals in self.accesses.items()]
        return pd.DataFrame(rows)

    def with_multiplier(self, multiplier_energy: float, arch: Architecture) -> "LayerEnergy":
        """The same layer and mapping with another multiplier (relative energy per op)."""
        comps = dict(self.components)
        comps["multiplier"] = self.macs * arch.compute.energy.multiplier * multiplier_energy
        return LayerEnergy(self.name, float(sum(comps.values())), comps, self.macs, self.cycles,
                           self.utilization, self.mapping, self.accesses, multiplier_energy)


def _check_multiplier_energy(value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ApproxDSEError(f"multiplier_energy must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ApproxDSEError(f"multiplier_energy must be a non-negative relative energy, got {value!r}")
    return v


def _count(x) -> int | float:
    """A count as an int; a mean over instances (imperfect factorisation) may be fractional."""
    v = float(x)
    return int(v) if v.is_integer() else v


def evaluate(layer: "Layer", arch: Architecture, mapping: Mapping, multiplier_energy: float = 1.0) -> LayerEnergy:
    """Energy, cycles and access counts of ``layer`` on ``arch`` under ``mapping``."""
    rel = _check_multiplier_energy(multiplier_energy)
    check_mapping(layer, arch, mapping)
    bounds, rank = mapping.to_arrays(arch)
    res = analyze(Problem.from_layer(layer), arch, bounds[None], rank[None], mapping.keep_of(arch), detail=True)
    comps = {k: float(v[0]) for k, v in res.components.items()}
    comps["multiplier"] *= rel
    accesses = {key: {k: _count(v[0]) for k, v in vals.items()} for key, vals in res.accesses.items()}
    return LayerEnergy(
        name=layer.name,
        energy_pJ=float(sum(comps.values())),
        components=comps,
        macs=int(res.macs),
        cycles=int(res.cycles[0]),
        utilization=float(res.utilization[0]),
        mapping=mapping,
        accesses=accesses,
        multiplier_energy=rel,
    )
