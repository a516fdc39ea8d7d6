"""The one interface every energy model answers: :class:`EnergyModel`.

Four implementations, one contract (``energy(workload, multipliers) -> float``):

* :class:`ReferenceModel`: the reference (``accelerators.estimate.estimate_energy``), pJ;
* :class:`~approxdse.predictors.summing.SummingPredictor` and
  :class:`~approxdse.predictors.learned.LearnedPredictor` (through
  :meth:`EnergyPredictor.energy <approxdse.predictors.base.EnergyPredictor.energy>`), pJ;
* :class:`MultiplicationCount`: the multiplication energy alone, in units of one
  exact multiplication (sum over layers of MACs x relative energy), the quantity
  ALWANN reports.

``multipliers`` is one multiplier for every layer (a name, a file, a
:class:`~approxdse.multipliers.Multiplier`) or a sequence with one per layer of
``workload``, in layer order. Every model refuses a multiplier without an energy
figure the same way (:func:`approxdse.multipliers.relative_energy_of`).

A model that knows its uncertainty (the learned predictor) also has
``estimate(workload, multipliers) -> EnergyEstimate``: the energy, a 90%
interval and the layers outside its training domain (:class:`UncertainEnergyModel`).

>>> from approxdse.networks import zoo
>>> MultiplicationCount().energy(zoo.workload("lenet5"), "u8_exact") == zoo.workload("lenet5").macs
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, Union, runtime_checkable

from approxdse.accelerators.estimate import estimate_energy
from approxdse.predictors.reference import REFERENCE_FACTORIZATION
from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.resolve import MultiplierLike, relative_energy_of
from approxdse.networks.workload import Workload

#: One multiplier for the whole network, or one per layer (in layer order).
LayerMultipliers = Union[MultiplierLike, Sequence[MultiplierLike]]

PJ = "pJ"
EXACT_MULTIPLICATIONS = "exact multiplications"


@dataclass(frozen=True)
class EnergyEstimate:
    """An energy (pJ) with what a model knows of its uncertainty.

    ``low``/``high``: a central ``level`` interval (None when the model gives none);
    ``out_of_domain_layers``: names of the layers outside the model's training domain.
    """

    energy: float
    low: float | None = None
    high: float | None = None
    level: float | None = None
    out_of_domain_layers: tuple[str, ...] = ()

    @property
    def out_of_domain(self) -> bool:
        return bool(self.out_of_domain_layers)

    @property
    def relative_width(self) -> float | None:
        """``(high - low) / energy``, or None without an interval."""
        if self.low is None or self.high is None or not self.energy:
            return None
        return (self.high - self.low) / self.energy


@runtime_checkable
class EnergyModel(Protocol):
    """What an energy objective needs from a model: a name, a unit, and the energy of one network."""

    @property
    def name(self) -> str:
        """A short label (``reference``, ``summing``, ``learned``, ``multiplications``, a file name)."""

    @property
    def unit(self) -> str:
        """The unit of :meth:`energy`: ``"pJ"`` or ``"exact multiplications"``."""

    def energy(self, workload: Workload, multipliers: LayerMultipliers) -> float:
        """The inference energy of ``workload`` with ``multipliers`` (one, or one per layer)."""


@runtime_checkable
class UncertainEnergyModel(EnergyModel, Protocol):
    """An :class:`EnergyModel` that also gives an interval and an out-of-domain flag."""

    def estimate(self, workload: Workload, multipliers: LayerMultipliers) -> EnergyEstimate:
        """The energy of ``workload`` with an interval and the layers outside the training domain."""


def per_layer(workload: Workload, multipliers: LayerMultipliers) -> list[MultiplierLike]:
    """``multipliers`` as one entry per layer of ``workload`` (a single multiplier is repeated)."""
    if isinstance(multipliers, (list, tuple)):
        if len(multipliers) != len(workload.layers):
            raise ApproxDSEError(f"{workload.name!r} has {len(workload.layers)} layers but "
                                 f"{len(multipliers)} multipliers were given; give one, or one per layer")
        return list(multipliers)
    return [multipliers] * len(workload.layers)


@dataclass(frozen=True)
class MultiplicationCount:
    """Sum over layers of MACs x the layer's multiplier energy, in exact multiplications."""

    name: str = "multiplications"
    unit: str = EXACT_MULTIPLICATIONS

    def energy(self, workload: Workload, multipliers: LayerMultipliers) -> float:
        return float(sum(layer.macs * _mean_relative_energy(m)
                         for layer, m in zip(workload.layers, per_layer(workload, multipliers))))


def _mean_relative_energy(spec) -> float:
    """A multiplier's relative energy, or the channel-weighted mean of a per-channel list."""
    if isinstance(spec, (list, tuple)):
        return float(sum(relative_energy_of(m) for m in spec) / len(spec))
    return relative_energy_of(spec)


@dataclass(frozen=True)
class ReferenceModel:
    """The reference energy model on one accelerator (pJ), per-layer multipliers honoured."""

    accelerator: str = "eyeriss"
    name: str = "reference"
    unit: str = PJ

    def energy(self, workload: Workload, multipliers: LayerMultipliers) -> float:
        if isinstance(multipliers, (list, tuple)):
            layers = per_layer(workload, multipliers)
            first = layers[0][0] if isinstance(layers[0], (list, tuple)) else layers[0]
            report = estimate_energy(workload, accelerator=self.accelerator, multiplier=first,
                                     layer_multipliers=layers, factorization=REFERENCE_FACTORIZATION)
        else:
            report = estimate_energy(workload, accelerator=self.accelerator, multiplier=multipliers,
                                     factorization=REFERENCE_FACTORIZATION)
        return float(report.energy_pJ)
