"""The trained-model cache: a float network trained once per (network, dataset, seed,
epochs, data fingerprint) and kept under ``<APPROXDSE_HOME>/cache/models/float`` as a
``state_dict`` plus a JSON sidecar with its accuracies, so repeated calls don't retrain.
Any other float module is trained in place (not cached) and wrapped the same way."""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from approxdse.core.atomic_files import atomic_write_text
from approxdse.core.errors import ApproxDSEError
from approxdse.core.paths import cache_dir
from approxdse.emulator.checkpoints import load_checkpoint, save_checkpoint
from approxdse.emulator.datasets import DatasetSplits, load_dataset
from approxdse.emulator.evaluation import evaluate_accuracy
from approxdse.emulator.float_training import train_float
from approxdse.networks.torch_models import get_model, model_spec

__all__ = ["TrainedModel", "float_model_for", "home_dir", "models_dir", "train_module", "trained_float_model"]


def models_dir() -> Path:
    """Where trained models are cached: ``approxdse.core.paths.cache_dir("models")``."""
    return cache_dir("models")


def home_dir() -> Path:
    """The cache root, ``<APPROXDSE_HOME>/cache`` (the parent of :func:`models_dir`); kept
    for callers of ``approxdse.emulator.training.home_dir``."""
    return models_dir().parent


@dataclass
class TrainedModel:
    """A float model from :func:`trained_float_model` with its test and validation accuracy."""

    model: nn.Module
    network: str
    dataset: str
    seed: int
    epochs: int
    float_accuracy: float
    val_accuracy: float
    train_seconds: float
    from_cache: bool
    path: Path | None


def _cache_paths(network: str, dataset: str, seed: int, epochs: int, fingerprint: str) -> tuple[Path, Path]:
    stem = f"{network}_{dataset}_seed{seed}_ep{epochs}_{fingerprint}"
    base = models_dir() / "float"
    return base / f"{stem}.pt", base / f"{stem}.json"


def trained_float_model(
    network: str,
    dataset: str = "digits",
    *,
    data: DatasetSplits | None = None,
    data_dir: str | os.PathLike | None = None,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    batch_size: int | None = None,
    cache: bool = True,
    progress: bool = False,
) -> TrainedModel:
    """The float ``network`` trained on ``dataset``: loaded from the cache when this
    (network, dataset, seed, epochs, data) was trained before, else trained and cached.

    The cache lives in ``models_dir()/float`` as a ``state_dict`` (``.pt``) plus a
    JSON sidecar with the accuracies; the data's fingerprint is part of the key, so a
    different MNIST/CIFAR directory content never reuses a stale model.
    """
    spec = model_spec(network)
    if data is None:
        data = load_dataset(dataset, data_dir)
    epochs = spec.default_epochs if epochs is None else int(epochs)
    if epochs < 1:
        raise ApproxDSEError(f"float training needs at least 1 epoch, got {epochs}")
    model = get_model(spec.name, data.name, seed=seed)
    pt, meta = _cache_paths(spec.name, data.name, seed, epochs, data.fingerprint())
    if cache and pt.is_file() and meta.is_file():
        try:
            info = json.loads(meta.read_text())
            model.load_state_dict(load_checkpoint(pt))
            model.eval()
            return TrainedModel(model, spec.name, data.name, seed, epochs, info["float_accuracy"],
                                info["val_accuracy"], info["train_seconds"], True, pt)
        except (ApproxDSEError, KeyError, ValueError, RuntimeError) as exc:
            warnings.warn(f"retraining: the cached model {str(pt)!r} is unusable ({exc})", stacklevel=2)
    result = train_float(model, data, epochs=epochs, lr=lr or spec.lr, batch_size=batch_size or spec.batch_size,
                         seed=seed, progress=progress)
    float_acc = evaluate_accuracy(model, data.test)
    if cache:
        save_checkpoint(model.state_dict(), pt)
        atomic_write_text(meta, json.dumps({
            "network": spec.name, "dataset": data.name, "seed": seed, "epochs": epochs,
            "fingerprint": data.fingerprint(), "float_accuracy": float_acc,
            "val_accuracy": result.best_val_accuracy, "best_epoch": result.best_epoch,
            "train_seconds": result.seconds, "torch": torch.__version__,
        }, indent=2))
    return TrainedModel(model, spec.name, data.name, seed, epochs, float_acc, result.best_val_accuracy,
                        result.seconds, False, pt if cache else None)


def train_module(
    module: nn.Module,
    data: DatasetSplits,
    *,
    seed: int = 0,
    epochs: int | None = None,
    lr: float = 2e-3,
    batch_size: int = 64,
    progress: bool = False,
) -> TrainedModel:
    """Train any float ``module`` (in place, not cached) on ``data`` and wrap it as a
    :class:`TrainedModel`, for networks outside the registry (e.g. a search candidate)."""
    epochs = 30 if epochs is None else int(epochs)
    if epochs < 0:
        raise ApproxDSEError(f"epochs must be zero or more, got {epochs}")
    result = train_float(module, data, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, progress=progress)
    return TrainedModel(module, type(module).__name__, data.name, seed, epochs,
                        evaluate_accuracy(module, data.test), result.best_val_accuracy, result.seconds, False, None)


def float_model_for(network: Any, data: DatasetSplits, seed: int, epochs: int | None,
                     progress: bool) -> TrainedModel:
    if isinstance(network, TrainedModel):
        return network
    if isinstance(network, nn.Module):
        return train_module(network, data, seed=seed, epochs=epochs, progress=progress)
    return trained_float_model(network, data.name, data=data, seed=seed, epochs=epochs, progress=progress)

