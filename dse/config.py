"""The search configuration: a YAML file read into typed, validated dataclasses.

A config has these sections (every key is optional except ``dataset.name``;
the defaults are the dataclass defaults below)::

    name: search_digits
    seed: 0
    dataset:      {name: digits, options: {}, validation_fraction: 0.25}
    space:
      network:     {...}            # GeneratorSpace bounds (approxdse.networks.generator), validated there
      multipliers: {names: [...], families: [...], signed: false, max_relative_energy: 1.0}
      assignment:  network           # or "layer": one multiplier per conv / linear layer
      granularity: layer             # or "channel": one multiplier per channel group of a layer
      channel_groups: 4              # with granularity channel: resilience-ranked groups per layer
    training:     {epochs: 4, batch_size: 64, learning_rate: 0.01, fine_tune_epochs: 0, ...}
    energy:       {predictor: summing, accelerator: eyeriss, reference_front: true}
    algorithm:    {name: nsga2, population: 16, generations: 10}
    constraints:  {max_params: null, max_energy: null, min_accuracy: null}
    parallel:     {workers: 1, scheduler: null}
    hypervolume:  {reference_point: null}
    screening:    {mode: off, margin: 2.0, noise_floor: 0.1, max_predicted_error: null, batches: 2}

Anything a user can get wrong (an unknown key, a bound below zero, a
constraint no network can meet, a predictor file that does not exist) raises
:class:`approxdse.core.errors.ApproxDSEError` with one sentence naming it; the CLI
prints it and exits with status 2.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from approxdse.core.errors import ApproxDSEError
from approxdse.multipliers.resolve import relative_energy_of
from approxdse import multipliers
from approxdse.core.yaml_files import load_yaml_file
from approxdse.dse.search_space import SearchSpace

ALGORITHMS = ("nsga2", "random")
ASSIGNMENTS = ("network", "layer")
GRANULARITIES = ("layer", "channel")
#: ``off``: no screening; ``skip``: screened candidates are not evaluated; ``audit``: they are
#: flagged but evaluated anyway (to measure what skipping them would have cost or saved).
SCREEN_MODES = ("off", "skip", "audit")
#: Energy models that need no file: the default summing and learned predictors, the
#: reference model, and the multiplication energy alone (sum over layers of MACs x relative energy).
BUILTIN_ENERGY_MODELS = ("summing", "learned", "reference", "multiplications")


def _check_keys(section: str, data: Mapping[str, Any], cls: type) -> None:
    known = [f.name for f in fields(cls)]
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ApproxDSEError(
            f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(str(k)) for k in unknown)} "
            f"in section {section!r} of the search config (known: {', '.join(known)})"
        )


def _mapping(section: str, value: Any) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ApproxDSEError(f"section {section!r} of the search config must be a mapping, got {value!r}")
    return value


def _build(section: str, cls: type, data: Any):
    data = _mapping(section, data)
    _check_keys(section, data, cls)
    try:
        return cls(**dict(data))
    except TypeError as exc:  # pragma: no cover - keys are checked above
        raise ApproxDSEError(f"section {section!r}: {exc}") from None


def _number(section: str, key: str, value: Any, *, integer: bool = False, minimum: float | None = None,
            exclusive: bool = False, maximum: float | None = None, optional: bool = False) -> None:
    if value is None and optional:
        return
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (not integer and not math.isfinite(value)):
        kind = "an integer" if integer else "a number"
        raise ApproxDSEError(f"{section}.{key} must be {kind}, got {value!r}")
    if minimum is not None and (value <= minimum if exclusive else value < minimum):
        raise ApproxDSEError(f"{section}.{key} must be {'>' if exclusive else '>='} {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ApproxDSEError(f"{section}.{key} must be <= {maximum}, got {value!r}")


@dataclass(frozen=True)
class DatasetConfig:
    """Which dataset, and how much of its training split is held out for the error objective."""

    name: str = "digits"
    options: Mapping[str, Any] = field(default_factory=dict)
    validation_fraction: float = 0.25
    #: Use at most this many training / validation samples (None: all); keeps big datasets affordable.
    max_train_samples: int | None = None
    max_validation_samples: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ApproxDSEError(f"dataset.name must be a dataset name, got {self.name!r}")
        if not isinstance(self.options, Mapping):
            raise ApproxDSEError(f"dataset.options must be a mapping, got {self.options!r}")
        object.__setattr__(self, "options", dict(self.options))
        _number("dataset", "validation_fraction", self.validation_fraction, minimum=0.0, exclusive=True, maximum=0.9)
        _number("dataset", "max_train_samples", self.max_train_samples, integer=True, minimum=1, optional=True)
        _number("dataset", "max_validation_samples", self.max_validation_samples, integer=True, minimum=1,
                optional=True)


@dataclass(frozen=True)
class MultiplierSpace:
    """The multipliers a candidate may use: named ones, or the catalog filtered (sorted by falling energy).

    ``names`` lists multipliers explicitly; otherwise every catalog multiplier
    whose family is in ``families`` (all when empty), whose signedness matches
    ``signed`` (either when None) and whose relative energy is at most
    ``max_relative_energy``. The exact multiplier of the chosen signedness is
    always included (the baseline every saving is measured against). The search
    prices every choice, so a multiplier without an energy figure is refused when
    named and left out of a filtered selection.
    """

    names: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    signed: bool | None = False
    max_relative_energy: float = 1.0
    #: Keep at most this many (the lowest-error ones at spread energies); None: all.
    max_count: int | None = None

    def __post_init__(self) -> None:
        for key in ("names", "families"):
            value = getattr(self, key)
            if isinstance(value, str):
                value = (value,)
            if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
                raise ApproxDSEError(f"space.multipliers.{key} must be a list of names, got {value!r}")
            object.__setattr__(self, key, tuple(value))
        if self.signed not in (None, True, False):
            raise ApproxDSEError(f"space.multipliers.signed must be true, false or null, got {self.signed!r}")
        _number("space.multipliers", "max_relative_energy", self.max_relative_energy, minimum=0.0, exclusive=True)
        _number("space.multipliers", "max_count", self.max_count, integer=True, minimum=1, optional=True)

    def resolve(self) -> tuple[str, ...]:
        """The multiplier names, checked against the library (unknown names raise)."""
        if self.names:
            out = []
            for name in self.names:
                m = multipliers.get(name)  # raises UnknownNameError with the known names
                relative_energy_of(m)  # the energy objective prices every choice: refuse one without energy
                if m.name not in out:
                    out.append(m.name)
            if len({multipliers.get(n).signed for n in out}) > 1:
                raise ApproxDSEError("space.multipliers.names mixes signed and unsigned multipliers; "
                                     "one network runs one number format")
            if len(out) < 2:
                raise ApproxDSEError("space.multipliers.names needs at least two multipliers to choose from")
            return tuple(sorted(out, key=lambda n: (-_energy(multipliers.get(n)), n)))
        chosen = []
        known_families = set()
        for name in multipliers.names():
            m = multipliers.get(name)
            known_families.add(m.family)
            if self.signed is not None and m.signed != self.signed:
                continue
            if self.families and m.family not in self.families and not m.is_exact:
                continue
            if m.relative_energy is None:  # cannot be priced (relative_energy_of refuses it): not a choice
                continue
            energy = m.relative_energy
            if energy > self.max_relative_energy and not m.is_exact:
                continue
            chosen.append(m)
        bad = [f for f in self.families if f not in known_families]
        if bad:
            raise ApproxDSEError(f"space.multipliers.families names unknown famil{'ies' if len(bad) > 1 else 'y'} "
                                 f"{', '.join(map(repr, bad))} (known: {', '.join(sorted(known_families))})")
        if self.signed is None and len({m.signed for m in chosen}) > 1:
            raise ApproxDSEError("space.multipliers selects both signed and unsigned multipliers; "
                                 "set space.multipliers.signed to true or false")
        if self.max_count is not None and len(chosen) > self.max_count:
            chosen = _spread_by_energy(chosen, self.max_count)
        if not any(m.is_exact for m in chosen):
            signed = chosen[0].signed if chosen else bool(self.signed)
            chosen.insert(0, multipliers.get("s8_exact" if signed else "u8_exact"))
        if len(chosen) < 2:
            raise ApproxDSEError("space.multipliers selects no approximate multiplier; widen the filters")
        chosen.sort(key=lambda m: (-_energy(m), m.name))
        return tuple(m.name for m in chosen)


def _energy(m) -> float:
    return 1.0 if m.relative_energy is None else float(m.relative_energy)


def _spread_by_energy(chosen: list, count: int) -> list:
    """Keep ``count`` multipliers: the exact one, then the least-error one per energy bin."""
    import numpy as np

    exact = [m for m in chosen if m.is_exact][:1]
    rest = [m for m in chosen if not m.is_exact]
    slots = max(count - len(exact), 1)
    energies = np.array([1.0 if m.relative_energy is None else m.relative_energy for m in rest])
    edges = np.quantile(energies, np.linspace(0, 1, slots + 1))
    keep = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = [m for m, e in zip(rest, energies) if lo <= e <= hi and m not in keep]
        if in_bin:
            keep.append(min(in_bin, key=lambda m: (float(m.metrics.mae_pct), m.name)))
    return exact + keep[:slots]


@dataclass(frozen=True)
class SpaceConfig:
    """The search space: network bounds (a ``GeneratorSpace``), multipliers, and their assignment."""

    network: Mapping[str, Any] = field(default_factory=dict)
    multipliers: MultiplierSpace = field(default_factory=MultiplierSpace)
    assignment: str = "network"
    granularity: str = "layer"
    channel_groups: int = 4

    def __post_init__(self) -> None:
        if self.granularity not in GRANULARITIES:
            raise ApproxDSEError(f"space.granularity must be one of {', '.join(GRANULARITIES)}, "
                                 f"got {self.granularity!r}")
        if isinstance(self.channel_groups, bool) or not isinstance(self.channel_groups, int) \
                or not 1 <= self.channel_groups <= 64:
            raise ApproxDSEError(f"space.channel_groups must be an integer from 1 to 64, got {self.channel_groups!r}")
        if not isinstance(self.network, Mapping):
            raise ApproxDSEError(f"space.network must be a mapping of generator bounds, got {self.network!r}")
        object.__setattr__(self, "network", dict(self.network))
        if not isinstance(self.multipliers, MultiplierSpace):
            value = self.multipliers
            if isinstance(value, (list, tuple, str)):
                value = {"names": value}
            object.__setattr__(self, "multipliers", _build("space.multipliers", MultiplierSpace, value))
        if self.assignment not in ASSIGNMENTS:
            raise ApproxDSEError(f"space.assignment must be one of {', '.join(ASSIGNMENTS)}, got {self.assignment!r}")


@dataclass(frozen=True)
class TrainingConfig:
    """How a candidate's error is measured (train float, quantise, swap multipliers, fine-tune, evaluate)."""

    epochs: int = 4
    batch_size: int = 64
    learning_rate: float = 0.01
    weight_decay: float = 5e-4
    #: Epochs of approximate-aware fine-tuning after the multiplier swap (0: none).
    fine_tune_epochs: int = 0
    fine_tune_learning_rate: float = 0.002
    calibration_batches: int = 4
    #: Seed of weight initialisation and data order; one genome trains the same in every run.
    seed: int = 0
    device: str = "cpu"
    #: Torch threads per evaluating process.
    threads: int = 1

    def __post_init__(self) -> None:
        _number("training", "epochs", self.epochs, integer=True, minimum=1)
        _number("training", "batch_size", self.batch_size, integer=True, minimum=1)
        _number("training", "learning_rate", self.learning_rate, minimum=0.0, exclusive=True)
        _number("training", "weight_decay", self.weight_decay, minimum=0.0)
        _number("training", "fine_tune_epochs", self.fine_tune_epochs, integer=True, minimum=0)
        _number("training", "fine_tune_learning_rate", self.fine_tune_learning_rate, minimum=0.0, exclusive=True)
        _number("training", "calibration_batches", self.calibration_batches, integer=True, minimum=1)
        _number("training", "seed", self.seed, integer=True, minimum=0)
        _number("training", "threads", self.threads, integer=True, minimum=1)
        if not isinstance(self.device, str) or not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ApproxDSEError(f"training.device must be 'cpu' or 'cuda[:N]', got {self.device!r}")


@dataclass(frozen=True)
class EnergyConfig:
    """The energy objective.

    ``predictor``: ``summing`` (the default summing predictor), ``learned`` (the
    default learned predictor), ``reference``
    (the reference energy model, slow but exact), ``multiplications`` (the
    multiplication energy alone, in exact-MAC units, as ALWANN reports it), or a
    path to a predictor file saved by ``approxdse train-predictor``.
    """

    predictor: str = "summing"
    accelerator: str = "eyeriss"
    #: Re-evaluate the final front with the reference model and report the predictor's error.
    reference_front: bool = True
    #: With a predictor that knows its uncertainty (``learned``, a learned model file): price a
    #: candidate with the reference instead when one of its layers lies outside the predictor's
    #: training domain or its 90% interval is wider than ``recheck_width`` (relative to the energy).
    recheck: bool = True
    recheck_width: float = 0.25

    def __post_init__(self) -> None:
        if not isinstance(self.recheck, bool):
            raise ApproxDSEError(f"energy.recheck must be true or false, got {self.recheck!r}")
        _number("energy", "recheck_width", self.recheck_width, minimum=0.0, exclusive=True)
        if not isinstance(self.predictor, str) or not self.predictor:
            raise ApproxDSEError(f"energy.predictor must be a name or a file path, got {self.predictor!r}")
        if not isinstance(self.accelerator, str) or not self.accelerator:
            raise ApproxDSEError(f"energy.accelerator must be an accelerator name, got {self.accelerator!r}")
        if not isinstance(self.reference_front, bool):
            raise ApproxDSEError(f"energy.reference_front must be true or false, got {self.reference_front!r}")

    @property
    def is_file(self) -> bool:
        return self.predictor not in BUILTIN_ENERGY_MODELS


@dataclass(frozen=True)
class AlgorithmConfig:
    """NSGA-II or random search; the budget is ``population x generations`` evaluations for both."""

    name: str = "nsga2"
    population: int = 16
    generations: int = 10
    #: After the search, evaluate each front design's network with the exact multiplier too
    #: (outside the budget): the baseline its multiplier saving is measured against.
    exact_twins: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.exact_twins, bool):
            raise ApproxDSEError(f"algorithm.exact_twins must be true or false, got {self.exact_twins!r}")
        if self.name not in ALGORITHMS:
            raise ApproxDSEError(f"algorithm.name must be one of {', '.join(ALGORITHMS)}, got {self.name!r}")
        _number("algorithm", "population", self.population, integer=True, minimum=2)
        _number("algorithm", "generations", self.generations, integer=True, minimum=1)

    @property
    def budget(self) -> int:
        return self.population * self.generations


@dataclass(frozen=True)
class ConstraintConfig:
    """Optional constraints on every design (None: unconstrained)."""

    max_params: int | None = None
    max_energy: float | None = None
    min_accuracy: float | None = None

    def __post_init__(self) -> None:
        _number("constraints", "max_params", self.max_params, integer=True, minimum=1, optional=True)
        _number("constraints", "max_energy", self.max_energy, minimum=0.0, exclusive=True, optional=True)
        _number("constraints", "min_accuracy", self.min_accuracy, minimum=0.0, maximum=1.0, optional=True)
        if self.min_accuracy is not None and self.min_accuracy >= 1.0:
            raise ApproxDSEError("constraints.min_accuracy is a fraction below 1 (e.g. 0.9 for 90%), "
                                 f"got {self.min_accuracy!r}")

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(f.name for f in fields(self) if getattr(self, f.name) is not None)


@dataclass(frozen=True)
class ParallelConfig:
    """Where candidates are evaluated: ``workers`` local processes (1: in this process) or a Dask scheduler."""

    workers: int = 1
    scheduler: str | None = None

    def __post_init__(self) -> None:
        _number("parallel", "workers", self.workers, integer=True, minimum=1)
        if self.scheduler is not None and (not isinstance(self.scheduler, str) or "://" not in self.scheduler):
            raise ApproxDSEError(f"parallel.scheduler must be an address like tcp://host:8786, got {self.scheduler!r}")


@dataclass(frozen=True)
class HypervolumeConfig:
    """Reference point ``[energy, error]`` of the hypervolume (None: 1.1 x the worst energy seen, error 1)."""

    reference_point: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.reference_point is None:
            return
        p = self.reference_point
        if (not isinstance(p, (list, tuple)) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in p)):
            raise ApproxDSEError(f"hypervolume.reference_point must be two positive numbers [energy, error], got {p!r}")
        object.__setattr__(self, "reference_point", (float(p[0]), float(p[1])))


@dataclass(frozen=True)
class ScreeningConfig:
    """Screening candidates with the layer error model before their accuracy evaluation
    (:mod:`approxdse.dse.screening`; off by default).

    A candidate is screened when its predicted relative output error is at least ``noise_floor``
    and (a) above ``max_predicted_error``, or (b) at least ``margin`` times that of an evaluated
    design of the same network while a design of no more energy is at least as accurate as that
    one, or (c) at least ``margin`` times that of a design of the same network, in the same
    generation, of no more energy, or (d) with ``constraints.min_accuracy``, the accuracy drops of
    the evaluated designs with at least ``1 / margin`` of its predicted error say it falls below.
    ``batches`` training batches give the layer statistics.
    """

    mode: str = "off"
    margin: float = 2.0
    noise_floor: float = 0.1
    max_predicted_error: float | None = None
    batches: int = 2

    def __post_init__(self) -> None:
        if self.mode is False:  # YAML reads a bare ``off`` as false
            object.__setattr__(self, "mode", "off")
        if self.mode not in SCREEN_MODES:
            raise ApproxDSEError(f"screening.mode must be one of {', '.join(SCREEN_MODES)}, got {self.mode!r}")
        _number("screening", "margin", self.margin, minimum=1.0, exclusive=True)
        _number("screening", "noise_floor", self.noise_floor, minimum=0.0)
        _number("screening", "max_predicted_error", self.max_predicted_error, minimum=0.0, exclusive=True,
                optional=True)
        _number("screening", "batches", self.batches, integer=True, minimum=1)

    @property
    def active(self) -> bool:
        return self.mode != "off"


@dataclass(frozen=True)
class SearchConfig:
    """A whole search: see the module docstring for the YAML layout."""

    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    name: str = "search"
    seed: int = 0
    space: SpaceConfig = field(default_factory=SpaceConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    constraints: ConstraintConfig = field(default_factory=ConstraintConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    hypervolume: HypervolumeConfig = field(default_factory=HypervolumeConfig)
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    #: Where the file behind ``energy.predictor`` is looked up relative to (the config's folder).
    base_dir: str = "."

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ApproxDSEError(f"name must be a non-empty string, got {self.name!r}")
        _number("config", "seed", self.seed, integer=True, minimum=0)

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_dict(cls, data: Any, base_dir: str | Path = ".") -> "SearchConfig":
        """Build and validate a config from a parsed YAML mapping."""
        data = _mapping("(top level)", data)
        sections = {
            "dataset": DatasetConfig, "space": SpaceConfig, "training": TrainingConfig, "energy": EnergyConfig,
            "algorithm": AlgorithmConfig, "constraints": ConstraintConfig, "parallel": ParallelConfig,
            "hypervolume": HypervolumeConfig, "screening": ScreeningConfig,
        }
        known = set(sections) | {"name", "seed"}
        unknown = [k for k in data if k not in known]
        if unknown:
            raise ApproxDSEError(
                f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(repr(str(k)) for k in unknown)} "
                f"at the top level of the search config (known: {', '.join(sorted(known))})"
            )
        kwargs: dict[str, Any] = {k: data[k] for k in ("name", "seed") if k in data}
        for key, section_cls in sections.items():
            kwargs[key] = _build(key, section_cls, data.get(key))
        return cls(base_dir=str(base_dir), **kwargs)

    @classmethod
    def load(cls, path: str | Path) -> "SearchConfig":
        """Read a YAML config file (errors name the file and the problem)."""
        data = load_yaml_file(path, "search config")
        if data is None or data == {}:
            raise ApproxDSEError(
                f"search config {str(path)!r} is empty; write at least the sections you mean to set "
                "(e.g. copy examples/search_digits.yaml) rather than run a full default search by accident"
            )
        return cls.from_dict(data, base_dir=Path(path).resolve().parent)

    def to_dict(self) -> dict:
        """A plain dict that :meth:`from_dict` reads back (the run directory keeps it as YAML)."""
        out = dataclasses.asdict(self)
        out.pop("base_dir")
        for key in ("names", "families"):
            out["space"]["multipliers"][key] = list(out["space"]["multipliers"][key])
        if out["hypervolume"]["reference_point"] is not None:
            out["hypervolume"]["reference_point"] = list(out["hypervolume"]["reference_point"])
        if self.energy.is_file:
            out["energy"]["predictor"] = str(self.predictor_path())
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def replace(self, **changes: Any) -> "SearchConfig":
        return dataclasses.replace(self, **changes)

    def with_overrides(self, *, seed: int | None = None, workers: int | None = None,
                       scheduler: str | None = None, screen: str | None = None) -> "SearchConfig":
        """The config with the CLI's ``--seed``, ``--workers``, ``--scheduler`` and ``--screen`` applied."""
        cfg = self
        if seed is not None:
            cfg = cfg.replace(seed=seed)
        if screen is not None:
            cfg = cfg.replace(screening=dataclasses.replace(cfg.screening, mode=screen))
        if workers is not None or scheduler is not None:
            par = cfg.parallel
            cfg = cfg.replace(parallel=ParallelConfig(
                workers=par.workers if workers is None else workers,
                scheduler=par.scheduler if scheduler is None else scheduler))
        return cfg

    # ------------------------------------------------------------------ checks
    def predictor_path(self) -> Path:
        p = Path(self.energy.predictor).expanduser()
        return p if p.is_absolute() else (Path(self.base_dir) / p)

    def validate(self) -> None:
        """The checks that need other packages: multipliers, generator bounds, predictor file, constraints.

        Raises :class:`ApproxDSEError` naming the first problem found.
        """
        if self.energy.is_file and not self.predictor_path().is_file():
            raise ApproxDSEError(f"energy.predictor file {str(self.predictor_path())!r} does not exist "
                                 f"(or use one of {', '.join(BUILTIN_ENERGY_MODELS)})")
        space = SearchSpace.from_config(self)
        if self.training.device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ApproxDSEError(f"training.device is {self.training.device!r} but no CUDA GPU is available "
                                     "here; set it to cpu")
        c = self.constraints
        if c.max_params is not None:
            smallest = space.min_params()
            if smallest > c.max_params:
                raise ApproxDSEError(
                    f"constraints.max_params={c.max_params} is infeasible: the smallest network in the space "
                    f"has {smallest} parameters")
