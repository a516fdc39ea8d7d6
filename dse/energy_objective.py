"""The energy objective of a candidate: a predictor, the reference model, or the multiplication energy.

Five models, picked by ``energy.predictor`` in the search config:

* ``summing`` (default): the default summing predictor of :mod:`predictors`
  (:func:`predictors.defaults.default_predictor`; energy = a + b x sum over
  layers of MACs x multiplier energy per op on networks it was not fitted on)
  for the configured accelerator;
* ``learned``: the default learned (gradient-boosted, layer-level) predictor,
  far closer to the reference on networks it has not seen;
* a path to a predictor file saved by ``approxdse train-predictor``
  (:func:`predictors.load_predictor`);
* ``reference``: the reference energy model (:func:`accelerators.estimate.estimate_energy`),
  slower but what the predictors approximate;
* ``multiplications``: the multiplication energy alone, in units of one exact
  multiplication (sum over layers of MACs x the multiplier's relative energy),
  the quantity ALWANN reports. Needs no other package.

Every model answers :meth:`EnergyObjective.energy` for one candidate, with
per-layer multipliers honoured.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.resolve import relative_energy_of
from approxdse.dse.search_space import Candidate

#: Predictors :func:`predictors.defaults.default_predictor` provides (shipped, cached, or fitted once).
DEFAULT_PREDICTORS = ("summing", "learned")
BUILTIN = DEFAULT_PREDICTORS + ("reference", "multiplications")


def _number(value: Any) -> float:
    """A float from a scalar, a one-element array / Series, or an EnergyReport-like object."""
    for attr in ("energy_pJ", "total_energy_pJ", "total_pJ"):
        if hasattr(value, attr) and not callable(getattr(value, attr)):
            return _number(getattr(value, attr))
    try:
        import numpy as np

        arr = np.asarray(value, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ApproxDSEError(f"the energy model returned {value!r}, not a number") from None
    if arr.size != 1:
        raise ApproxDSEError(f"the energy model returned {arr.size} values for one network")
    return float(arr[0])


@dataclass
class EnergyObjective:
    """Energy of candidates under one model (see the module docstring).

    ``spec`` is ``summing``, ``learned``, ``reference``, ``multiplications`` or a predictor file path.
    """

    spec: str = "summing"
    accelerator: str = "eyeriss"

    def __post_init__(self) -> None:
        self._predictor = None

    @property
    def unit(self) -> str:
        return "exact multiplications" if self.spec == "multiplications" else "pJ"

    @property
    def name(self) -> str:
        return self.spec if self.spec in BUILTIN else Path(self.spec).name

    def prepare(self, progress: bool = False) -> "EnergyObjective":
        """Load (or fit and cache, the first time) the predictor now, e.g. once before workers start."""
        if self.spec not in ("reference", "multiplications"):
            self._load(progress)
        return self

    def _load(self, progress: bool = False):
        if self._predictor is not None:
            return self._predictor
        from approxdse import predictors
        if self.spec in DEFAULT_PREDICTORS:
            from approxdse.predictors.defaults import default_predictor

            self._predictor = default_predictor(self.accelerator, kind=self.spec, progress=progress)
        else:
            path = Path(self.spec)
            if not path.is_file():
                raise ApproxDSEError(f"energy.predictor file {str(path)!r} does not exist")
            self._predictor = predictors.load_predictor(path)
        return self._predictor

    def energy(self, candidate: Candidate) -> float:
        """The candidate's energy in :attr:`unit` (float; raises for a network the model cannot map)."""
        workload = candidate.genome.to_workload()
        per_layer = candidate.layer_multipliers()
        if self.spec == "multiplications":
            return float(sum(layer.macs * relative_energy_of(per_layer[layer.name]) for layer in workload.layers))
        if self.spec == "reference":
            return reference_energy(candidate, self.accelerator)
        predictor = self._load()
        mults = [per_layer[layer.name] for layer in workload.layers]
        arg = mults if candidate.per_layer else candidate.multipliers[0]
        value = _number(predictor.predict([workload], [arg], self.accelerator))
        if not math.isfinite(value):
            raise ApproxDSEError(f"the {self.name} predictor returned {value} for {workload.name}")
        return value


def reference_energy(candidate: Candidate, accelerator: str) -> float:
    """The reference model's total energy (pJ) of a candidate, per-layer multipliers honoured."""
    from approxdse.accelerators.estimate import estimate_energy

    workload = candidate.genome.to_workload()
    if candidate.per_layer:
        report = estimate_energy(workload, accelerator=accelerator, multiplier=candidate.multipliers[0],
                                 layer_multipliers=candidate.layer_multipliers())
    else:
        report = estimate_energy(workload, accelerator=accelerator, multiplier=candidate.multipliers[0])
    return _number(report)
