"""What every energy predictor shares: input normalisation, scoring, the accelerator check.

``predict(networks, multipliers, accelerator)``:

* ``networks``: one network or a list of them; a network is a
  :class:`~approxdse.networks.workload.Workload`, a :class:`~approxdse.networks.genome.Genome`, a zoo
  name, or a genome/workload mapping;
* ``multipliers``: one multiplier for every network (a name, a
  :class:`~multipliers.Multiplier`, or a relative energy as a float), or a list
  with one entry per network, where an entry may itself be a *per-layer
  assignment* (a list with one multiplier per workload layer, or a mapping
  layer name -> multiplier with ``"*"`` as the default); with a single network,
  a list of multipliers gives one prediction per multiplier, so wrap a
  per-layer list for one network: ``predict(net, [[m1, m2, ...]])``;
* ``accelerator``: must be the one the predictor was fitted for.

It returns a ``numpy`` array of energies in pJ, one per network.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import numpy as np

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.multiplier import Multiplier
from approxdse.networks.genome import Genome
from approxdse.networks.resolve import as_workload
from approxdse.networks.workload import Workload
from approxdse.predictors.dataset import Dataset
from approxdse.predictors.features import layer_macs, per_layer_relative_energy
from approxdse.predictors.model_files import save_predictor
from approxdse.predictors.reference import REFERENCE_FACTORIZATION, REFERENCE_MAPPER

#: A network ``predict`` accepts: a Workload, a Genome, a zoo name, or a genome/workload mapping.
NetworkLike = Union[Workload, Genome, str, Mapping[str, Any]]
#: One multiplier: a name, a :class:`~approxdse.multipliers.Multiplier`, or a bare relative energy.
MultiplierSpec = Union[Multiplier, str, float]
#: The multipliers of one network: one for every layer, one per layer (in order), or
#: ``{layer name: multiplier}`` with ``"*"`` as the default.
Assignment = Union[MultiplierSpec, Sequence[MultiplierSpec], Mapping[str, MultiplierSpec]]


@dataclass(frozen=True)
class Query:
    """One normalised prediction request: a workload and its per-layer relative energies."""

    workload: Workload
    rel: np.ndarray  # relative energy per layer
    multiplier: Assignment  # the original multiplier spec (name/object/float or per-layer assignment)

    @property
    def layer_macs(self) -> np.ndarray:
        return layer_macs(self.workload)


def _is_network(x: Any) -> bool:
    return isinstance(x, (Workload, Genome, str)) or (isinstance(x, dict) and ("layers" in x or "stages" in x))


def normalise(networks: NetworkLike | Sequence[NetworkLike],
              multipliers: Assignment | Sequence[Assignment]) -> list[Query]:
    """Turn ``predict``'s arguments into :class:`Query` objects (see the module docstring)."""
    nets = [networks] if _is_network(networks) else list(networks)
    if not nets:
        return []
    workloads = [as_workload(n) for n in nets]
    if isinstance(multipliers, (list, tuple)) and not _is_network(networks):
        if len(multipliers) != len(workloads):
            raise ApproxDSEError(
                f"got {len(workloads)} networks but {len(multipliers)} multipliers; pass one per network or one for all"
            )
        specs = list(multipliers)
    elif isinstance(multipliers, (list, tuple)):
        # One network, several multipliers: one prediction per entry (wrap a
        # per-layer assignment in a list: predict(net, [[m1, m2, ...]])).
        specs = list(multipliers)
        workloads = workloads * len(specs)
    else:
        specs = [multipliers] * len(workloads)
    return [Query(w, per_layer_relative_energy(w, s), s) for w, s in zip(workloads, specs)]


class EnergyPredictor:
    """Base class: scikit-learn-style ``fit`` / ``predict`` / ``score`` for one accelerator.

    Every predictor is also an :class:`~approxdse.predictors.energy_model.EnergyModel`
    (:attr:`name`, :attr:`unit`, :meth:`energy`).
    """

    kind: str = "base"
    #: The unit of every prediction.
    unit: str = "pJ"

    def __init__(self, accelerator: str | None = None) -> None:
        self.accelerator = accelerator
        self.reference_info: dict = {}
        self.fit_seconds: float | None = None
        self.training_networks: list[str] = []

    # ---------------------------------------------------------------- checks
    def _check_accelerator(self, accelerator: str | None) -> str:
        if self.accelerator is None:
            raise ApproxDSEError(f"this {self.kind} predictor is not fitted yet; call fit() or load a model")
        if accelerator is not None and accelerator != self.accelerator:
            raise ApproxDSEError(
                f"this predictor was trained for accelerator {self.accelerator!r}, not {accelerator!r}"
            )
        return self.accelerator

    @staticmethod
    def _dataset_for(dataset: Any, accelerator: str | None):
        if not isinstance(dataset, Dataset):
            dataset = Dataset.load(dataset)
        accs = dataset.accelerators
        if accelerator is None:
            if len(accs) != 1:
                raise ApproxDSEError(
                    f"the dataset holds several accelerators ({', '.join(accs)}); name one with accelerator="
                )
            accelerator = accs[0]
        return dataset.for_accelerator(accelerator), accelerator

    def _record_reference(self, dataset) -> None:
        self.reference_info = {
            "reference": dataset.manifest.get("reference"),
            "reference_code_sha256": dataset.manifest.get("reference_code_sha256"),
            "architecture_sha256": dataset.architecture_hash(self.accelerator),
            "mapper": dataset.mapper,
            "factorization": dataset.factorization,
        }
        self.training_networks = sorted(set(dataset.energy["network"]))

    def check_dataset(self, dataset) -> None:
        """Refuse a dataset made by another reference version or architecture."""
        want = self.reference_info.get("architecture_sha256")
        got = dataset.architecture_hash(self.accelerator)
        if want and got and want != got:
            raise ApproxDSEError(
                f"dataset {dataset.directory!r} was made from different {self.accelerator!r} architecture files "
                "than this predictor's training data"
            )
        want_code = self.reference_info.get("reference_code_sha256")
        got_code = dataset.manifest.get("reference_code_sha256")
        if want_code and got_code and want_code != got_code:
            raise ApproxDSEError(
                f"dataset {dataset.directory!r} was made by a different version of the reference model "
                "than this predictor's training data; regenerate one of them"
            )
        # models saved before datasets recorded their mapper learned ``auto``'s reference
        want_mapper = self.reference_info.get("mapper", REFERENCE_MAPPER)
        if dataset.mapper != want_mapper:
            raise ApproxDSEError(
                f"dataset {dataset.directory!r} was made with --mapper {dataset.mapper}, but this predictor was "
                f"trained on a --mapper {want_mapper} dataset: their reference energies differ"
            )
        want_fact = self.factorization
        if dataset.factorization != want_fact:
            raise ApproxDSEError(
                f"dataset {dataset.directory!r} was made with --factorization {dataset.factorization}, but this "
                f"predictor was trained on a --factorization {want_fact} dataset: their reference energies differ"
            )
        if self.reference_info.get("reference") and dataset.manifest.get("reference") != self.reference_info["reference"]:
            raise ApproxDSEError(
                f"dataset {dataset.directory!r} comes from reference {dataset.manifest.get('reference')!r}, "
                f"but this predictor was trained on {self.reference_info['reference']!r}"
            )

    @property
    def factorization(self) -> str:
        """The map space of the reference this predictor learned (``exact`` for models saved before
        datasets recorded it, and for the shipped models)."""
        return str(self.reference_info.get("factorization", REFERENCE_FACTORIZATION))

    # ---------------------------------------------------------------- API
    @property
    def name(self) -> str:
        """The predictor's kind (``summing``, ``learned``)."""
        return self.kind

    def energy(self, workload: Workload, multipliers: MultiplierSpec | Sequence[MultiplierSpec]) -> float:
        """The :class:`~approxdse.predictors.energy_model.EnergyModel` call: the predicted energy (pJ)
        of one network with one multiplier, or one per layer (a sequence in layer order)."""
        spec = list(multipliers) if isinstance(multipliers, (list, tuple)) else multipliers
        values = np.asarray(self.predict([workload], [spec], self.accelerator), dtype=float).ravel()
        if values.size != 1 or not np.isfinite(values[0]):
            raise ApproxDSEError(f"the {self.name} predictor returned {values.tolist()} for {workload.name!r}")
        return float(values[0])

    def predict(self, networks: NetworkLike | Sequence[NetworkLike],
                multipliers: Assignment | Sequence[Assignment] = "u8_exact",
                accelerator: str | None = None) -> np.ndarray:
        """Predicted energies (pJ), one per network (see the module docstring for the argument forms)."""
        acc = self._check_accelerator(accelerator)
        return self._predict_queries(normalise(networks, multipliers), acc)

    def _predict_queries(self, queries: Sequence[Query], accelerator: str) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def predict_dataset(self, dataset) -> np.ndarray:
        """Predictions for every energy row of a (loaded, single-accelerator) dataset, in row order."""
        self.check_dataset(dataset)
        queries = [Query(dataset.workload(n), None, m) for n, m in zip(dataset.energy["network"], dataset.energy["multiplier"])]

        queries = [Query(q.workload, per_layer_relative_energy(q.workload, q.multiplier), q.multiplier) for q in queries]
        return self._predict_queries(queries, self.accelerator)

    def score(self, dataset) -> float:
        """R^2 of the predicted vs reference energies of a dataset (scikit-learn convention)."""
        from sklearn.metrics import r2_score

        ds, _ = self._dataset_for(dataset, self.accelerator)
        return float(r2_score(ds.energy["total_energy_pJ"].to_numpy(), self.predict_dataset(ds)))

    def save(self, path: str) -> None:
        save_predictor(self, path)

    # subclasses implement to_dict / from_dict
    def _base_dict(self) -> dict:
        return {"kind": self.kind, "accelerator": self.accelerator, "reference_info": self.reference_info,
                "fit_seconds": self.fit_seconds, "training_networks": list(self.training_networks)}

    def _load_base(self, data: dict) -> None:
        self.accelerator = data["accelerator"]
        self.reference_info = dict(data.get("reference_info") or {})
        self.fit_seconds = data.get("fit_seconds")
        self.training_networks = list(data.get("training_networks") or [])


class Timer:
    """``with Timer() as t: ...; t.seconds``."""

    def __enter__(self) -> "Timer":
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start
