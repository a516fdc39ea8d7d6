"""The one-call accuracy report: float, 8-bit exact and approximate top-1 accuracy of a
network with one multiplier or a per-layer assignment (optionally after fine-tuning),
with timings and the multiplication energy relative to exact multipliers.

>>> from approxdse.emulator.reports import accuracy_report
>>> report = accuracy_report("lenet5", "digits", "u8_exact")   # doctest: +SKIP
>>> report.float_accuracy, report.exact_8bit_accuracy, report.approx_accuracy  # doctest: +SKIP
(0.9638888888888889, 0.9583333333333334, 0.9583333333333334)
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.backends import get_backend
from approxdse.emulator.assignment import approximable_layers, exact_of, layer_assignment, resolve_multiplier
from approxdse.emulator.datasets import DatasetSplits, load_dataset
from approxdse.emulator.emulation import emulate
from approxdse.emulator.evaluation import evaluate_accuracy, layer_macs, timed_accuracy
from approxdse.emulator.fine_tuning import fine_tune
from approxdse.emulator.model_cache import TrainedModel, float_model_for
from approxdse.multipliers.multiplier import Multiplier

__all__ = ["AccuracyReport", "accuracy_report", "mac_weighted_relative_energy"]


@dataclass
class AccuracyReport:
    """Float, 8-bit exact and approximate top-1 accuracy of one network with one multiplier
    (or per-layer assignment), all in [0, 1], on the test split, with timings in seconds.

    ``exact_8bit_accuracy`` uses the exact multiplier of the same signedness (the same
    quantisation), so ``exact_8bit_accuracy - approx_accuracy`` is the multiplier's cost.
    ``fine_tuned_accuracy`` is None unless fine-tuning ran.
    """

    network: str
    dataset: str
    multiplier: str
    multipliers: dict[str, str]
    signed: bool
    relative_energy: float | None
    backend: str
    mode: str
    float_accuracy: float
    exact_8bit_accuracy: float
    approx_accuracy: float
    fine_tuned_accuracy: float | None
    fine_tune_epochs: int
    float_time_s: float
    exact_8bit_time_s: float
    approx_time_s: float
    fine_tune_time_s: float | None
    train_time_s: float
    float_model_cached: bool
    test_samples: int
    seed: int
    epochs: int
    extra: dict[str, Any] = field(default_factory=dict)
    #: The LUT GEMM kernel the CPU backend ran (``avx2``, ``portable``, ``numba``, ...; see
    #: :mod:`approxdse.emulator.backends.native_kernel`), None when another backend ran.
    cpu_kernel: str | None = None

    @property
    def accuracy_drop(self) -> float:
        """8-bit exact minus approximate accuracy (positive = the multiplier costs accuracy)."""
        return self.exact_8bit_accuracy - self.approx_accuracy

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["accuracy_drop"] = self.accuracy_drop
        out["approx_slowdown"] = self.approx_time_s / self.float_time_s if self.float_time_s > 0 else None
        return out



def mac_weighted_relative_energy(model: nn.Module, per_layer: Mapping[str, Multiplier], data: Any) -> float | None:
    """Multiplication energy relative to exact multipliers: the MAC-weighted mean of the
    layers' multipliers' relative energies (None if one of them has no energy figure)."""
    energies = {m.relative_energy for m in per_layer.values()}
    if None in energies:
        return None
    if len(energies) == 1:
        return float(energies.pop())
    sample = data.test.tensors[0] if isinstance(data, DatasetSplits) else data
    macs = layer_macs(model, sample)
    total = sum(macs.get(n, 0) for n in per_layer)
    if total == 0:
        return None
    return float(sum(macs.get(n, 0) * float(m.relative_energy) for n, m in per_layer.items()) / total)


def accuracy_report(
    network: str | nn.Module | TrainedModel = "lenet5",
    dataset: str = "digits",
    multiplier: Any = "u8_exact",
    *,
    layers: Mapping[str, Any] | None = None,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    fine_tune_epochs: int = 0,
    fine_tune_lr: float = 1e-3,
    backend: str = "auto",
    mode: str = "lut",
    calibration: str = "minmax",
    batch_size: int = 256,
    float_model: TrainedModel | None = None,
    exact_8bit_accuracy: float | None = None,
    exact_8bit_time_s: float | None = None,
    progress: bool | str = False,
    **options: Any,
) -> AccuracyReport:
    """Train (or load from the cache) the float ``network`` on ``dataset``, then measure
    its top-1 test accuracy in float, with 8-bit exact multipliers and with ``multiplier``
    (a catalog name or Multiplier; ``layers`` maps layer names to multipliers that
    override it per layer), optionally after ``fine_tune_epochs`` of fine-tuning.

    ``network`` is a registry name (trained once and cached), a float ``nn.Module``
    (trained in place, not cached) or a :class:`TrainedModel`.
    ``float_model`` and ``exact_8bit_accuracy`` / ``exact_8bit_time_s`` let a caller
    that evaluates many multipliers (see :func:`accuracy_sweep`) reuse what does not
    depend on the multiplier. Extra ``options`` go to
    :func:`approxdse.emulator.approximate` (e.g. ``rank`` for low-rank mode).
    """
    if fine_tune_epochs < 0:
        raise ApproxDSEError(f"fine-tuning epochs must be zero or more, got {fine_tune_epochs}")
    if data is None:
        data = load_dataset(dataset, data_dir)
    if float_model is None:
        float_model = float_model_for(network, data, seed, epochs, progress)
    model = float_model.model
    float_acc, float_time = timed_accuracy(model, data.test, batch_size)

    if layers:
        assignment: Any = layer_assignment(model, multiplier, layers)
    else:
        assignment = resolve_multiplier(multiplier)
    per_layer = assignment if isinstance(assignment, dict) else {n: assignment for n in approximable_layers(model)}

    if exact_8bit_accuracy is None:
        qexact = emulate(model, exact_of(assignment), data, backend=backend, mode="lut", calibration=calibration)
        exact_8bit_accuracy, exact_8bit_time_s = timed_accuracy(qexact, data.test, batch_size)
        del qexact

    torch.manual_seed(seed)  # the noise mode draws random errors
    options.setdefault("seed", seed)
    qmodel = emulate(model, assignment, data, backend=backend, mode=mode, calibration=calibration, **options)
    approx_acc, approx_time = timed_accuracy(qmodel, data.test, batch_size)

    tuned_acc = tune_time = None
    extra: dict[str, Any] = {}
    if fine_tune_epochs > 0:
        result = fine_tune(qmodel, data, epochs=fine_tune_epochs, lr=fine_tune_lr, seed=seed, progress=progress)
        torch.manual_seed(seed)
        tuned_acc = evaluate_accuracy(qmodel, data.test, batch_size)
        tune_time = result.seconds
        extra["fine_tune"] = result.to_dict()

    signed = {m.signed for m in per_layer.values()}
    names = {n: m.name for n, m in per_layer.items()}
    energy = mac_weighted_relative_energy(model, per_layer, data)
    label = assignment.name if not isinstance(assignment, dict) else (
        multiplier if isinstance(multiplier, str) else getattr(multiplier, "name", "per-layer")) + " (per-layer)"
    return AccuracyReport(
        network=float_model.network, dataset=data.name, multiplier=label, multipliers=names,
        signed=signed == {True}, relative_energy=energy, backend=backend, mode=mode,
        float_accuracy=float_acc, exact_8bit_accuracy=float(exact_8bit_accuracy), approx_accuracy=approx_acc,
        fine_tuned_accuracy=tuned_acc, fine_tune_epochs=fine_tune_epochs, float_time_s=float_time,
        exact_8bit_time_s=float(exact_8bit_time_s or 0.0), approx_time_s=approx_time, fine_tune_time_s=tune_time,
        train_time_s=float_model.train_seconds, float_model_cached=float_model.from_cache,
        test_samples=len(data.test), seed=seed, epochs=float_model.epochs, extra=extra,
        cpu_kernel=cpu_kernel_of(backend),
    )


def cpu_kernel_of(backend: str) -> str | None:
    """The LUT GEMM kernel that ``backend`` (as the report's evaluations name it) runs on CPU
    tensors here: the CPU backend's :attr:`~approxdse.emulator.backends.cpu.CPUBackend.kernel`
    (``$APPROXDSE_CPU_KERNEL`` or the fastest that builds), None for the other backends."""
    if backend not in ("auto", "cpu"):
        return None
    return getattr(get_backend(backend, "cpu"), "kernel", None)

