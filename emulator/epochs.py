"""The epoch loop shared by float training and fine-tuning: what one epoch records, what a
run returns, the per-epoch checkpoint and resuming from it, and the common set-up
(splits, augmentation default, seeds).

:func:`approxdse.emulator.float_training.train_float` and
:func:`approxdse.emulator.fine_tuning.fine_tune` are the entry points; this module
holds what they share.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.batches import augment_batch, iterate_batches
from approxdse.emulator.checkpoints import load_checkpoint, save_checkpoint
from approxdse.emulator.datasets import DatasetSplits
from approxdse.emulator.evaluation import evaluate_accuracy

__all__ = ["EpochRecord", "TrainResult", "resume_run", "run_epochs", "training_setup"]


@dataclass
class EpochRecord:
    """One epoch of training: mean loss and accuracy on the training batches, validation accuracy."""

    epoch: int
    loss: float
    train_accuracy: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass
class TrainResult:
    """What :func:`train_float` or :func:`fine_tune` returns. ``model`` holds the weights of
    ``best_epoch`` (0 = the starting weights, for fine-tuning)."""

    model: nn.Module
    history: list[EpochRecord]
    best_epoch: int
    best_val_accuracy: float
    initial_val_accuracy: float | None
    seconds: float
    resumed_from_epoch: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "history": [asdict(r) for r in self.history],
            "best_epoch": self.best_epoch,
            "best_val_accuracy": self.best_val_accuracy,
            "initial_val_accuracy": self.initial_val_accuracy,
            "seconds": self.seconds,
            "resumed_from_epoch": self.resumed_from_epoch,
        }


def _splits(data: Any, what: str) -> tuple[Any, Any]:
    if isinstance(data, DatasetSplits):
        return data.train, data.val
    try:
        train, val = data[0], data[1]
    except (TypeError, IndexError, KeyError):
        raise ApproxDSEError(f"{what} needs a DatasetSplits or a (train, val[, test]) tuple of datasets") from None
    return train, val


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def run_epochs(
    model: nn.Module,
    train: Any,
    val: Any,
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    batch_size: int,
    generator: torch.Generator,
    augment: bool,
    freeze_bn: bool,
    checkpoint: Path | None,
    start_epoch: int,
    best_state: dict,
    best_val: float,
    best_epoch: int,
    history: list[EpochRecord],
    initial_val: float | None,
    progress: bool,
    desc: str,
) -> tuple[dict, float, int]:
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(range(start_epoch, epochs), desc=desc, disable=not progress, leave=False,
               initial=start_epoch, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        if freeze_bn:
            _freeze_batchnorm(model)
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in iterate_batches(train, batch_size, shuffle=True, generator=generator):
            if augment:
                x = augment_batch(x, generator)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss.detach()):
                raise ApproxDSEError(f"training diverged at epoch {epoch + 1} (loss {loss.item()}); lower the learning rate")
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(y)
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += len(y)
        lr = optimizer.param_groups[0]["lr"]
        if scheduler is not None:
            scheduler.step()
        val_acc = evaluate_accuracy(model, val)
        history.append(EpochRecord(epoch + 1, total_loss / max(seen, 1), correct / max(seen, 1), val_acc, lr,
                                   time.perf_counter() - t0))
        if val_acc > best_val:
            best_val, best_epoch = val_acc, epoch + 1
            best_state = copy.deepcopy(model.state_dict())
        bar.set_postfix(loss=f"{history[-1].loss:.3f}", val=f"{val_acc:.3f}")
        if checkpoint is not None:
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else {},
                    "generator": generator.get_state(),
                    "epoch": epoch + 1,
                    "epochs": epochs,
                    "best": best_state,
                    "best_val": best_val,
                    "best_epoch": best_epoch,
                    "initial_val": initial_val if initial_val is not None else -1.0,
                    "history": [asdict(r) for r in history],
                },
                checkpoint,
            )
    return best_state, best_val, best_epoch


def resume_run(checkpoint: Path | None, epochs: int, model, optimizer, scheduler, generator):
    """Restore a run from ``checkpoint`` if it is a compatible, unfinished-or-finished run."""
    if checkpoint is None or not checkpoint.is_file():
        return None
    state = load_checkpoint(checkpoint)
    if not isinstance(state, dict) or state.get("epochs") != epochs or "model" not in state:
        warnings.warn(f"ignoring checkpoint {str(checkpoint)!r}: it belongs to a different run", stacklevel=3)
        return None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state.get("scheduler"):
        scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    return state


def training_setup(data: Any, caller: str, epochs_label: str, epochs: int, lr: float,
                    augment: bool | None, seed: int):
    """Checks and set-up shared by :func:`train_float` and :func:`fine_tune`: the train and
    validation splits, the augmentation default (on for 32x32 colour images), the seeds."""
    if epochs < 0:
        raise ApproxDSEError(f"{epochs_label} must be zero or more, got {epochs}")
    if not lr > 0:
        raise ApproxDSEError(f"learning rate must be positive, got {lr}")
    train, val = _splits(data, caller)
    if augment is None:
        shape = tuple(train.tensors[0].shape[1:]) if hasattr(train, "tensors") else ()
        augment = len(shape) == 3 and shape[0] == 3 and shape[1] >= 32
    torch.manual_seed(seed)
    return train, val, augment, torch.Generator().manual_seed(seed)

