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

Each is an :class:`~approxdse.predictors.energy_model.EnergyModel`
(``energy(workload, multipliers)``, a ``name`` and a ``unit``);
:class:`EnergyObjective` builds the one the config names (:data:`MODELS`) and
asks it for each candidate's energy, per-layer multipliers honoured.

**Re-checks** (``recheck=True``, the search's ``energy.recheck``, default on): a
model that knows its uncertainty (an
:class:`~approxdse.predictors.energy_model.UncertainEnergyModel`: the learned
predictor) is asked for an estimate; when a layer of the candidate lies
outside its training domain, or its 90% interval is wider than
``recheck_width`` times the energy, the candidate is priced by the reference
instead, and :meth:`EnergyObjective.evaluate` says so (``recheck``:
``out-of-domain: N layers`` or ``wide interval: W%``; empty when the
predictor's answer was kept). Models without intervals are never re-checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from approxdse.core.errors import ApproxDSEError
from approxdse.dse.search_space import Candidate
from approxdse.predictors.defaults import default_predictor
from approxdse.predictors.energy_model import (
    EXACT_MULTIPLICATIONS,
    PJ,
    EnergyModel,
    LayerMultipliers,
    MultiplicationCount,
    ReferenceModel,
    UncertainEnergyModel,
)
from approxdse.predictors.io import load_predictor

#: Predictors :func:`predictors.defaults.default_predictor` provides (shipped, cached, or fitted once).
DEFAULT_PREDICTORS = ("summing", "learned")


@dataclass(frozen=True)
class ModelEntry:
    """A built-in energy model: its unit (known without building it) and how to build it."""

    unit: str
    build: Callable[[str, bool], EnergyModel]  # (accelerator, progress) -> model


#: The built-in energy models by their config name; anything else is a predictor file.
MODELS: dict[str, ModelEntry] = {
    "summing": ModelEntry(PJ, lambda acc, progress: default_predictor(acc, kind="summing", progress=progress)),
    "learned": ModelEntry(PJ, lambda acc, progress: default_predictor(acc, kind="learned", progress=progress)),
    "reference": ModelEntry(PJ, lambda acc, progress: ReferenceModel(acc)),
    "multiplications": ModelEntry(EXACT_MULTIPLICATIONS, lambda acc, progress: MultiplicationCount()),
}
BUILTIN = tuple(MODELS)


def _predictor_file(path: str) -> EnergyModel:
    if not Path(path).is_file():
        raise ApproxDSEError(f"energy.predictor file {path!r} does not exist")
    return load_predictor(path)


def candidate_multipliers(candidate: Candidate, workload) -> LayerMultipliers:
    """The candidate's multipliers as an :class:`EnergyModel` takes them: one, or one per layer."""
    if not candidate.per_layer:
        return candidate.multipliers[0]
    per_layer = candidate.layer_multipliers()
    return [per_layer[layer.name] for layer in workload.layers]


@dataclass(frozen=True)
class CandidateEnergy:
    """A candidate's energy and, when the reference re-checked it, why (empty otherwise)."""

    energy: float
    recheck: str = ""


@dataclass
class EnergyObjective:
    """Energy of candidates under one model (see the module docstring).

    ``spec`` is ``summing``, ``learned``, ``reference``, ``multiplications`` or a predictor file path;
    ``recheck``/``recheck_width``: re-check out-of-domain or wide-interval predictions with the reference.
    """

    spec: str = "summing"
    accelerator: str = "eyeriss"
    recheck: bool = False
    recheck_width: float = 0.25
    _model: EnergyModel | None = field(default=None, init=False, repr=False)

    @property
    def unit(self) -> str:
        if self._model is not None:
            return self._model.unit
        return MODELS[self.spec].unit if self.spec in MODELS else PJ

    @property
    def name(self) -> str:
        return self.spec if self.spec in MODELS else Path(self.spec).name

    def prepare(self, progress: bool = False) -> "EnergyObjective":
        """Build the model now (a default predictor is loaded, or fitted and cached the first
        time), e.g. once in the main process before workers start."""
        self.model(progress)
        return self

    def model(self, progress: bool = False) -> EnergyModel:
        """The :class:`EnergyModel` behind this objective (built on first use)."""
        if self._model is None:
            if self.spec in MODELS:
                self._model = MODELS[self.spec].build(self.accelerator, progress)
            else:
                self._model = _predictor_file(self.spec)
        return self._model

    def energy(self, candidate: Candidate) -> float:
        """The candidate's energy in :attr:`unit` (float; raises for a network the model cannot map)."""
        return self.evaluate(candidate).energy

    def evaluate(self, candidate: Candidate) -> CandidateEnergy:
        """The candidate's energy, re-checked with the reference where the module docstring says."""
        workload = candidate.genome.to_workload()
        multipliers = candidate_multipliers(candidate, workload)
        model = self.model()
        if not (self.recheck and isinstance(model, UncertainEnergyModel)):
            return CandidateEnergy(model.energy(workload, multipliers))
        est = model.estimate(workload, multipliers)
        width = est.relative_width
        if est.out_of_domain:
            reason = f"out-of-domain: {len(est.out_of_domain_layers)} layers"
        elif width is not None and width > self.recheck_width:
            reason = f"wide interval: {width * 100:.1f}%"
        else:
            return CandidateEnergy(est.energy)
        return CandidateEnergy(ReferenceModel(self.accelerator).energy(workload, multipliers), reason)


def reference_energy(candidate: Candidate, accelerator: str) -> float:
    """The reference model's total energy (pJ) of a candidate, per-layer multipliers honoured."""
    workload = candidate.genome.to_workload()
    return ReferenceModel(accelerator).energy(workload, candidate_multipliers(candidate, workload))
