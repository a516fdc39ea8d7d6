"""Training, evaluation and accuracy through approximate multipliers: one import for the
names that used to live in this module, which is now split by job.

=========================================  =============================================
module                                     what it holds
=========================================  =============================================
:mod:`approxdse.emulator.checkpoints`      atomic ``torch.save``, weights-only loading
:mod:`approxdse.emulator.batches`          tensor-slicing batches, augmentation, the
                                           calibration sample
:mod:`approxdse.emulator.evaluation`       top-1 accuracy (plain, timed), MACs per layer
:mod:`approxdse.emulator.epochs`           the epoch loop, checkpoint/resume, results
:mod:`approxdse.emulator.float_training`   :func:`train_float` (AdamW, cosine schedule)
:mod:`approxdse.emulator.fine_tuning`      :func:`fine_tune` through the multiplier
:mod:`approxdse.emulator.model_cache`      :func:`trained_float_model`, the model cache
:mod:`approxdse.emulator.assignment`       multiplier resolution, per-layer assignment
:mod:`approxdse.emulator.emulation`        :func:`emulate`: approximate + calibrate
:mod:`approxdse.emulator.reports`          :func:`accuracy_report`, :class:`AccuracyReport`
:mod:`approxdse.emulator.sweep`            :func:`accuracy_sweep` over many multipliers
:mod:`approxdse.emulator.plots`            :func:`plot_accuracy_vs_energy` (a Figure)
=========================================  =============================================

Every public name below stays importable from here (``from approxdse.emulator.training
import accuracy_report`` keeps working); new code may import from the module that holds
it. To replace a function for a test (``monkeypatch``), patch it where it is used, e.g.
``approxdse.emulator.sweep.accuracy_report``.

>>> from approxdse.emulator.training import accuracy_report
>>> report = accuracy_report("lenet5", "digits", "u8_exact")   # doctest: +SKIP
>>> report.float_accuracy, report.exact_8bit_accuracy, report.approx_accuracy  # doctest: +SKIP
(0.9638888888888889, 0.9583333333333334, 0.9583333333333334)
"""
from __future__ import annotations

from approxdse.emulator.assignment import (
    approximable_layers,
    exact_counterpart,
    layer_assignment,
    resolve_multiplier,
)
from approxdse.emulator.batches import augment_batch, calibration_batches, iterate_batches
from approxdse.emulator.checkpoints import load_checkpoint, save_checkpoint
from approxdse.emulator.emulation import emulate
from approxdse.emulator.epochs import EpochRecord, TrainResult
from approxdse.emulator.evaluation import evaluate_accuracy, layer_macs
from approxdse.emulator.fine_tuning import fine_tune
from approxdse.emulator.float_training import train_float
from approxdse.emulator.model_cache import TrainedModel, home_dir, train_module, trained_float_model
from approxdse.emulator.plots import plot_accuracy_vs_energy
from approxdse.emulator.reports import AccuracyReport, accuracy_report
from approxdse.emulator.sweep import SWEEP_CSV, SWEEP_PNG, accuracy_sweep

__all__ = [
    "SWEEP_CSV",
    "SWEEP_PNG",
    "AccuracyReport",
    "EpochRecord",
    "TrainResult",
    "TrainedModel",
    "accuracy_report",
    "accuracy_sweep",
    "approximable_layers",
    "augment_batch",
    "calibration_batches",
    "emulate",
    "evaluate_accuracy",
    "exact_counterpart",
    "fine_tune",
    "home_dir",
    "iterate_batches",
    "layer_assignment",
    "layer_macs",
    "load_checkpoint",
    "plot_accuracy_vs_energy",
    "resolve_multiplier",
    "save_checkpoint",
    "train_float",
    "train_module",
    "trained_float_model",
]
