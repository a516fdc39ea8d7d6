"""Candidate evaluation: energy from the energy objective, error from the emulator.

For one architecture (a :class:`~approxdse.networks.genome.Genome`) and any number of
multiplier choices for it, :func:`evaluate_group`:

1. computes each candidate's energy (:class:`~dse.energy_objective.EnergyObjective`)
   and parameter count, and checks the constraints that need no training
   (``max_params``, ``max_energy``, the generator's bounds): a candidate that
   breaks one is recorded as ``infeasible`` without training;
2. trains the float model for ``training.epochs`` epochs on the training split
   (:func:`approxdse.emulator.training.train_float`: AdamW, cosine learning
   rate, the best validation epoch kept; seed = ``training.seed`` mixed with the
   genome's key, so one genome trains to the same weights in every run and process);
3. **weight sharing**: the float weights are cached per genome in the run's
   ``weights/`` folder (``<genome key>_<training hash>.pt``), so the
   multiplier variants of one architecture, in this generation or a later one,
   and a resumed run, reuse them instead of retraining;
4. for each candidate, quantises a copy of the model to 8 bits and swaps in its
   multiplier(s) (:func:`approxdse.emulator.approximate`, one multiplier or a
   ``{layer: multiplier}`` dict), calibrates the activation scales on a few
   training batches, optionally fine-tunes it (``training.fine_tune_epochs``,
   straight-through gradients, :func:`~approxdse.emulator.training.fine_tune`), and measures the accuracy on the held-out
   validation split (never the test split).

A candidate whose training or evaluation fails (NaN loss, an error in the
emulator or the energy model) is returned with ``status="failed"`` and the
message; the search records it and goes on.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from approxdse.core.atomic_files import atomic_path
from approxdse.dse.config import ConstraintConfig, DatasetConfig, ScreeningConfig, TrainingConfig
from approxdse.dse.energy_objective import EnergyObjective
from approxdse.dse.search_space import Candidate
from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.calibration import calibrate
from approxdse.emulator.convert import approximate
from approxdse.emulator.datasets import load_dataset
from approxdse.emulator.assignment import exact_counterpart, layer_assignment
from approxdse.emulator.error_model import NetworkErrorModel
from approxdse.emulator.kernelwise import assign_by_resilience
from approxdse.multipliers.resolve import resolve_multiplier
from approxdse.emulator.training import (
    calibration_batches, evaluate_accuracy, fine_tune, iterate_batches, train_float,
)

STATUSES = ("ok", "failed", "infeasible")
#: The status of a logged candidate whose evaluation the screening skipped (:mod:`dse.screening`).
SCREENED = "screened"


@dataclass(frozen=True)
class EvaluationSettings:
    """Everything a worker process needs to evaluate candidates (picklable, no open resources)."""

    dataset: DatasetConfig
    training: TrainingConfig
    energy: str = "summing"
    accelerator: str = "eyeriss"
    constraints: ConstraintConfig = field(default_factory=ConstraintConfig)
    weights_dir: str | None = None
    screening: ScreeningConfig = field(default_factory=ScreeningConfig)
    recheck: bool = True
    recheck_width: float = 0.25

    def training_hash(self) -> str:
        """Hash of what determines a genome's float weights (dataset and training settings)."""
        payload = {"dataset": asdict(self.dataset), "training": asdict(self.training)}
        payload["training"].pop("fine_tune_epochs")
        payload["training"].pop("fine_tune_learning_rate")
        payload["training"].pop("calibration_batches")
        payload["training"].pop("threads")
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:10]


@dataclass
class EvaluationResult:
    """The outcome of evaluating one candidate.

    ``accuracy`` is the approximate (quantised, multiplier-swapped) model's
    top-1 accuracy on the validation split, a fraction in [0, 1];
    ``float_accuracy`` that of the float model; ``energy`` is in the energy
    objective's unit. Times are seconds (``train_s`` is 0 when the float weights
    came from the cache).
    """

    key: str
    status: str
    accuracy: float = math.nan
    float_accuracy: float = math.nan
    energy: float = math.nan
    params: int = 0
    macs: int = 0
    train_s: float = 0.0
    eval_s: float = 0.0
    time_s: float = 0.0
    weights_cached: bool = False
    message: str = ""
    #: Why the reference priced this candidate instead of the predictor (empty: it did not).
    energy_recheck: str = ""

    @property
    def error(self) -> float:
        return 1.0 - self.accuracy if self.status == "ok" else math.nan

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------------- per-process state
_DATA: dict[str, Any] = {}
_ENERGY: dict[tuple, EnergyObjective] = {}


def _energy_model(settings: EvaluationSettings) -> EnergyObjective:
    key = (settings.energy, settings.accelerator, settings.recheck, settings.recheck_width)
    if key not in _ENERGY:
        _ENERGY[key] = EnergyObjective(settings.energy, settings.accelerator, settings.recheck,
                                       settings.recheck_width)
    return _ENERGY[key]


def load_splits(dataset: DatasetConfig, device: str = "cpu"):
    """``(train, val)`` TensorDatasets of the config's dataset on ``device`` (cached per process)."""
    key = json.dumps([asdict(dataset), device], sort_keys=True, default=str)
    if key in _DATA:
        return _DATA[key]
    import torch
    from torch.utils.data import TensorDataset

    splits = load_dataset(dataset.name, val_fraction=dataset.validation_fraction, **dict(dataset.options))
    train, val = splits.train, splits.val

    def cap(ds, n, seed):
        if n is None or len(ds) <= n:
            return ds
        idx = torch.from_numpy(np.random.default_rng(seed).permutation(len(ds))[:n])
        return TensorDataset(*(t[idx] for t in ds.tensors))

    out = (cap(train, dataset.max_train_samples, 1), cap(val, dataset.max_validation_samples, 2))
    if device != "cpu":
        out = tuple(TensorDataset(*(t.to(device) for t in ds.tensors)) for ds in out)
    _DATA[key] = out
    return out


def genome_seed(base_seed: int, genome_key: str) -> int:
    """The training seed of a genome: ``base_seed`` mixed with its key (same in every process)."""
    return (int(genome_key, 16) ^ (base_seed * 0x9E3779B97F4A7C15)) % (2**31 - 1)


# ---------------------------------------------------------------------- training
def _float_model(genome, settings: EvaluationSettings, train, val):
    """The trained float model of ``genome`` (from the weights cache when there), accuracy, time, cached?"""
    import torch

    device = settings.training.device
    model = genome.to_module().to(device)
    path = None
    if settings.weights_dir:
        path = Path(settings.weights_dir) / f"{genome.key()}_{settings.training_hash()}.pt"
        if path.is_file():
            try:
                blob = torch.load(path, map_location=device, weights_only=True)
                model.load_state_dict(blob["state_dict"])
                model.eval()
                return model, float(blob["float_accuracy"]), 0.0, True
            except Exception:  # a torn or stale file: retrain and overwrite
                model = genome.to_module().to(device)

    t0 = time.perf_counter()
    seed = genome_seed(settings.training.seed, genome.key())
    torch.manual_seed(seed)
    model = genome.to_module().to(device)
    t = settings.training
    train_float(model, (train, val), epochs=t.epochs, lr=t.learning_rate, weight_decay=t.weight_decay,
                batch_size=t.batch_size, seed=seed)
    float_acc = evaluate_accuracy(model, val)
    elapsed = time.perf_counter() - t0
    if path is not None:
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        with atomic_path(path) as tmp:
            torch.save({"state_dict": state, "float_accuracy": float_acc}, tmp)
    return model, float_acc, elapsed, False


def _approximate_accuracy(model, candidate: Candidate, settings: EvaluationSettings, train, val) -> float:
    """Quantise, swap in the candidate's multiplier(s), calibrate, optionally fine-tune, evaluate."""
    t = settings.training
    if candidate.channel_groups > 1:  # channel groups: each layer's channels ranked by resilience
        ranked = candidate.layer_multipliers()
        qmodel = approximate(model, {n: names[0] for n, names in ranked.items()})
        calibrate(qmodel, calibration_batches(train, t.calibration_batches, t.batch_size))
        assign_by_resilience(qmodel, list(iterate_batches(train, t.batch_size, limit=t.calibration_batches)), ranked)
    else:
        spec = candidate.multipliers[0] if not candidate.per_layer else candidate.layer_multipliers()
        qmodel = approximate(model, spec)
        calibrate(qmodel, calibration_batches(train, t.calibration_batches, t.batch_size))
    if t.fine_tune_epochs:
        seed = genome_seed(t.seed + 1, candidate.genome.key())
        fine_tune(qmodel, (train, val), epochs=t.fine_tune_epochs, lr=t.fine_tune_learning_rate,
                  batch_size=t.batch_size, seed=seed)
    return evaluate_accuracy(qmodel, val)


# ---------------------------------------------------------------------- the task
def param_count(genome) -> int:
    """Trainable parameters of the genome's float module (weights, biases, BN affine)."""
    return int(sum(p.numel() for p in genome.to_module().parameters()))


class _BuildError(Exception):
    pass


def _checked(settings: EvaluationSettings, cands: Sequence[Candidate], genome) -> list[EvaluationResult]:
    """Each candidate's energy, parameters and MACs, and the checks that need no training
    (``infeasible``: outside the bounds, ``max_params``, ``max_energy``; ``failed``: the energy model)."""
    try:
        params = param_count(genome)
    except Exception as exc:  # a genome the module builder rejects
        raise _BuildError(str(exc)) from exc
    macs = genome.to_workload().macs
    cons = settings.constraints
    results = []
    for c in cands:
        r = EvaluationResult(c.key(), "ok", params=params, macs=macs)
        t0 = time.perf_counter()
        try:
            priced = _energy_model(settings).evaluate(c)
            r.energy, r.energy_recheck = priced.energy, priced.recheck
        except Exception as exc:
            r.status, r.message = "failed", f"energy: {type(exc).__name__}: {exc}"
        r.time_s = time.perf_counter() - t0
        if r.status == "ok":
            if not c.in_space:
                r.status, r.message = "infeasible", "outside the generator's bounds"
            elif cons.max_params is not None and params > cons.max_params:
                r.status, r.message = "infeasible", f"{params} parameters > max_params {cons.max_params}"
            elif cons.max_energy is not None and r.energy > cons.max_energy:
                r.status, r.message = "infeasible", f"energy {r.energy:.4g} > max_energy {cons.max_energy:.4g}"
        results.append(r)
    return results


def _group(settings: EvaluationSettings, candidates: Sequence[dict], caller: str):
    """(candidates, their one genome, :func:`_checked` results; or instead of them the build error)."""
    import torch

    torch.set_num_threads(settings.training.threads)
    cands = [Candidate.from_dict(c) for c in candidates]
    genome = cands[0].genome
    if any(c.genome.key() != genome.key() for c in cands):
        raise ValueError(f"{caller} needs candidates of one genome")
    try:
        return cands, genome, _checked(settings, cands, genome)
    except _BuildError as exc:
        return cands, genome, exc


def _build_failed(cands: list, exc: Exception) -> list:
    return [EvaluationResult(c.key(), "failed", message=f"building the network failed: {exc}") for c in cands]


def evaluate_group(settings: EvaluationSettings, candidates: Sequence[dict]) -> list[dict]:
    """Evaluate candidates sharing one genome (as :meth:`Candidate.to_dict` dicts); returns result dicts.

    This is the unit of work sent to a worker process or a Dask worker.
    """
    cands, genome, results = _group(settings, candidates, "evaluate_group")
    if isinstance(results, _BuildError):
        return [r.to_dict() for r in _build_failed(cands, results)]
    pending = [(c, r) for c, r in zip(cands, results) if r.status == "ok"]
    if not pending:
        return [r.to_dict() for r in results]
    try:
        train, val = load_splits(settings.dataset, settings.training.device)
        model, float_acc, train_s, cached = _float_model(genome, settings, train, val)
    except Exception as exc:
        msg = _describe(exc)
        for _, r in pending:
            r.status, r.message = "failed", f"training: {msg}"
        return [r.to_dict() for r in results]
    for i, (c, r) in enumerate(pending):
        t0 = time.perf_counter()
        r.float_accuracy, r.weights_cached = float_acc, cached
        r.train_s = train_s if i == 0 else 0.0
        try:
            r.accuracy = _approximate_accuracy(model, c, settings, train, val)
        except Exception as exc:
            r.status, r.message = "failed", f"approximate evaluation: {_describe(exc)}"
        r.eval_s = time.perf_counter() - t0
        r.time_s += r.eval_s + r.train_s
    return [r.to_dict() for r in results]


def predict_group(settings: EvaluationSettings, candidates: Sequence[dict]) -> list[dict]:
    """Score candidates sharing one genome with the layer error model (the screening step,
    :mod:`approxdse.dse.screening`); returns one dict per candidate.

    Each dict has the keys of :class:`EvaluationResult` that need no emulation (``status`` after the
    checks that need no training, ``energy``, ``params``, ``macs``, ``float_accuracy``, ``train_s``,
    ``weights_cached``, ``message``) plus ``predicted_output_error`` (NaN: not scored; 0 for the
    exact multiplier) and ``screen_s`` (the error model's time: the exact model's quantisation,
    calibration and layer statistics shared out over the group, plus the candidate's own
    prediction); if the error model fails, ``predicted_output_error`` stays NaN (the candidate is
    evaluated as without screening) and ``screen_note`` says why. The float model is trained as
    :func:`evaluate_group` trains it and left in the weights cache, so the evaluation that
    follows reads it back.
    """
    cands, genome, results = _group(settings, candidates, "predict_group")
    if isinstance(results, _BuildError):
        return [r.to_dict() | {"predicted_output_error": math.nan, "screen_s": 0.0}
                for r in _build_failed(cands, results)]
    out = [r.to_dict() | {"predicted_output_error": math.nan, "screen_s": 0.0} for r in results]
    scored = [i for i, (c, r) in enumerate(zip(cands, results)) if r.status == "ok" and c.channel_groups == 1]
    if not scored:
        return out
    try:
        train, val = load_splits(settings.dataset, settings.training.device)
        model, float_acc, train_s, cached = _float_model(genome, settings, train, val)
    except Exception as exc:
        msg = _describe(exc)
        for i, r in enumerate(results):
            if r.status == "ok":
                out[i].update(status="failed", message=f"training: {msg}")
        return out
    for n, i in enumerate(i for i, r in enumerate(results) if r.status == "ok"):
        out[i].update(float_accuracy=float_acc, weights_cached=cached, train_s=train_s if n == 0 else 0.0)
    t = settings.training
    t0 = time.perf_counter()
    try:
        exact = exact_counterpart(resolve_multiplier(cands[scored[0]].multipliers[0]))
        qmodel = approximate(model, exact)
        calibrate(qmodel, calibration_batches(train, t.calibration_batches, t.batch_size))
        net = NetworkErrorModel.measure(qmodel, calibration_batches(train, settings.screening.batches, t.batch_size),
                                        seed=t.seed)
    except Exception as exc:  # not scored (so not screened): the evaluation decides, and reports any real fault
        spent = (time.perf_counter() - t0) / len(scored)
        for i in scored:
            out[i].update(screen_s=spent, screen_note=f"error model: {_describe(exc)}")
        return out
    shared = (time.perf_counter() - t0) / len(scored)
    for i in scored:
        t1 = time.perf_counter()
        c = cands[i]
        spec = c.multipliers[0] if not c.per_layer else c.layer_multipliers()
        try:
            assignment = (layer_assignment(model, spec) if isinstance(spec, str)
                          else layer_assignment(model, None, spec))
            out[i]["predicted_output_error"] = net.relative_error(assignment)
        except Exception as exc:
            out[i]["screen_note"] = f"error model: {_describe(exc)}"
        out[i]["screen_s"] = shared + time.perf_counter() - t1
    return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ApproxDSEError):  # e.g. "training diverged at epoch 3 (loss nan)"
        return str(exc)
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}{where}"


def group_by_genome(candidates: Iterable[Candidate]) -> list[list[Candidate]]:
    """Candidates grouped by genome, in order of first appearance (duplicates kept once)."""
    groups: dict[str, list[Candidate]] = {}
    seen: set[str] = set()
    for c in candidates:
        if c.key() in seen:
            continue
        seen.add(c.key())
        groups.setdefault(c.genome.key(), []).append(c)
    return list(groups.values())
