"""Fine-tuning an emulated (approximated) model through its straight-through gradients:
a few epochs at a low learning rate, batch-norm statistics frozen, the best validation
checkpoint kept (never worse than where it started, on validation)."""
from __future__ import annotations

import copy
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from approxdse.core.errors import ApproxDSEError
from approxdse.emulator.epochs import EpochRecord, TrainResult, resume_run, run_epochs, training_setup
from approxdse.emulator.evaluation import evaluate_accuracy

__all__ = ["fine_tune"]


def fine_tune(
    qmodel: nn.Module,
    data: Any,
    *,
    epochs: int = 3,
    lr: float = 1e-3,
    batch_size: int = 64,
    weight_decay: float = 0.0,
    seed: int = 0,
    freeze_bn: bool = True,
    augment: bool | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> TrainResult:
    """Recover accuracy lost to an approximate multiplier by training through it.

    The recipe: Adam at a modest learning rate (default 1e-3, cosine-decayed to 0) for a
    few epochs, gradients through the emulated layers' straight-through estimator,
    batch-norm running statistics frozen (the calibrated activation ranges stay
    valid), and the best validation checkpoint kept, where epoch 0 (the weights as
    given) competes too, so the result is never worse on validation than the start.
    ``qmodel`` is modified in place and returned in ``TrainResult.model``.
    """
    train, val, augment, generator = training_setup(data, "fine_tune", "fine-tuning epochs", epochs, lr, augment,
                                                     seed)
    params = [p for p in qmodel.parameters() if p.requires_grad]
    if not params:
        raise ApproxDSEError("the model has no trainable parameters to fine-tune")
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    ckpt = Path(checkpoint_dir) / "fine_tune_last.pt" if checkpoint_dir is not None else None
    t0 = time.perf_counter()
    state = resume_run(ckpt, epochs, qmodel, optimizer, scheduler, generator)
    if state is not None:
        start, best_state, best_val, best_epoch = state["epoch"], state["best"], state["best_val"], state["best_epoch"]
        initial_val = state["initial_val"]
        history = [EpochRecord(**r) for r in state["history"]]
    else:
        initial_val = evaluate_accuracy(qmodel, val)
        start, best_state, best_val, best_epoch, history = 0, copy.deepcopy(qmodel.state_dict()), initial_val, 0, []
    best_state, best_val, best_epoch = run_epochs(
        qmodel, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, batch_size=batch_size,
        generator=generator, augment=augment, freeze_bn=freeze_bn, checkpoint=ckpt, start_epoch=start,
        best_state=best_state, best_val=best_val, best_epoch=best_epoch, history=history,
        initial_val=initial_val, progress=progress, desc="fine-tune",
    )
    qmodel.load_state_dict(best_state)
    qmodel.eval()
    return TrainResult(qmodel, history, best_epoch, best_val, initial_val, time.perf_counter() - t0, start)

