"""Float training: AdamW with a cosine learning-rate schedule, seeded shuffling, the
weights of the best validation epoch kept; with a ``checkpoint_dir`` every epoch is
checkpointed and an interrupted run resumes."""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from approxdse.emulator.checkpoints import save_checkpoint
from approxdse.emulator.epochs import EpochRecord, TrainResult, resume_run, run_epochs, training_setup
from approxdse.emulator.evaluation import evaluate_accuracy

__all__ = ["train_float"]


def train_float(
    model: nn.Module,
    data: Any,
    *,
    epochs: int = 30,
    lr: float = 2e-3,
    batch_size: int = 64,
    weight_decay: float = 5e-4,
    seed: int = 0,
    augment: bool | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``model`` (in place) on ``data`` with AdamW and a cosine learning-rate schedule.

    ``data`` is a :class:`DatasetSplits` or a ``(train, val[, test])`` tuple of
    TensorDatasets. The weights of the epoch with the best validation accuracy are
    loaded into ``model`` at the end. ``augment`` (random crop + flip) defaults to
    on for 32x32 colour images. With ``checkpoint_dir`` the run writes
    ``last.pt`` after each epoch and resumes from it; the final weights go to
    ``model.pt`` (a plain state_dict). Deterministic for a given ``seed``.
    """
    train, val, augment, generator = training_setup(data, "train_float", "epochs", epochs, lr, augment, seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    ckpt = Path(checkpoint_dir) / "last.pt" if checkpoint_dir is not None else None
    t0 = time.perf_counter()
    state = resume_run(ckpt, epochs, model, optimizer, scheduler, generator)
    if state is not None:
        start, best_state, best_val, best_epoch = state["epoch"], state["best"], state["best_val"], state["best_epoch"]
        history = [EpochRecord(**r) for r in state["history"]]
    else:
        start, best_state, best_val, best_epoch, history = 0, copy.deepcopy(model.state_dict()), -1.0, 0, []
    best_state, best_val, best_epoch = run_epochs(
        model, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, batch_size=batch_size,
        generator=generator, augment=augment, freeze_bn=False, checkpoint=ckpt, start_epoch=start,
        best_state=best_state, best_val=best_val, best_epoch=best_epoch, history=history, initial_val=None,
        progress=progress, desc="train",
    )
    model.load_state_dict(best_state)
    if best_val < 0:  # zero epochs
        best_val = evaluate_accuracy(model, val)
    if checkpoint_dir is not None:
        save_checkpoint(model.state_dict(), Path(checkpoint_dir) / "model.pt")
    model.eval()
    return TrainResult(model, history, best_epoch, best_val, None, time.perf_counter() - t0, start)

